/**
 * Crash durability (issue 13, point 1): rounds that submit at a high rate to `eremetic
 * serve` running as a child process, SIGKILL it at a chosen moment, and restart it on the
 * same database (a Deno KV file; then ZooKeeper). The development cluster runs in this
 * process, so it outlives every kill and records each call it receives.
 *
 * The kill moments rotate through three kinds:
 * - `random`: after a random delay while six submitters keep posting (group commits are
 *   in flight nearly all the time);
 * - `launch`: the instant the master receives an ACCEPT (a launch round in progress);
 * - `burst`: a burst of submissions, then a random pause of 0-150 ms while the scheduler
 *   is placing and staging what it just queued.
 *
 * After the last round a fresh server on the same database must hold every task that was
 * answered 202, each launched exactly once (the cluster's record), all finished.
 * `CRASH_SEED` replays a run's random choices.
 */
import assert from "node:assert/strict";
import { fileRecorder, type Recorder, startDevCluster } from "../../src/devcluster/mod.ts";
import { launchedTaskIds, launchesPerTask, small, waitFor } from "../_e2e.ts";
import { postJson, request, type SpawnedServer, spawnServer, tempDir } from "../_helpers.ts";
import { type TestZooKeeper, zkSuite } from "../_zookeeper.ts";
import { FULL, scale } from "./_mode.ts";

const KV_ROUNDS = scale(3, 20);
const ZK_ROUNDS = scale(2, 20);
const SUBMITTERS = 6;
const KILL_MOMENTS = ["random", "launch", "burst"] as const;
type KillMoment = typeof KILL_MOMENTS[number];

/** A small seeded generator (mulberry32), so a failing run can be replayed. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The record file, plus a hook called (once) when the next ACCEPT arrives. */
function acceptWatchingRecorder(path: string) {
  const file = fileRecorder(path);
  let next: (() => void) | null = null;
  const recorder: Recorder = {
    call(body) {
      file.call(body);
      if (next && body.includes('"type":"ACCEPT"')) {
        const fn = next;
        next = null;
        fn();
      }
    },
    event: (body) => file.event(body),
    close: () => file.close(),
  };
  return {
    recorder,
    /** Runs `fn` in the call that records the next ACCEPT; resolves then, or after `ms`. */
    onNextAccept(fn: () => void, ms: number): Promise<boolean> {
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          next = null;
          resolve(false);
        }, ms);
        next = () => {
          clearTimeout(timer);
          fn();
          resolve(true);
        };
      });
    },
  };
}

interface RoundStats {
  moment: KillMoment;
  accepted: number;
  /** Answers other than 202 (none expected). */
  refused: number;
  /** Requests cut by the kill (no answer). */
  cut: number;
  /** Whether a `launch` round caught an ACCEPT. */
  caughtAccept?: boolean;
}

interface CrashRun {
  rounds: RoundStats[];
  accepted: string[];
  /** Tasks stored at the end (the accepted ones and some whose answer the kill cut). */
  stored: number;
  launches: number;
  /** From the final restart (process start included) to every task finished. */
  drainMs: number;
  elapsedMs: number;
}

interface Health {
  tasks: Record<string, number>;
  mesos: { state: string };
  ha: { role: string };
}

async function health(url: string): Promise<Health> {
  const res = await request(`${url}/api/v1/health`);
  return res.body as Health;
}

/** Every stored task's id and current state, following the list's `Link` pages. */
async function allTasks(url: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let next: string | null = `${url}/api/v1/task?state=&limit=10000`;
  while (next) {
    const res = await request(next);
    assert.equal(res.status, 200, res.text);
    for (const t of res.body as { id: string; status: { status: string }[] }[]) {
      out.set(t.id, t.status.at(-1)!.status);
    }
    const link = res.headers.get("link");
    next = link ? url + /^<([^>]+)>/.exec(link)![1] : null;
  }
  return out;
}

/**
 * Runs `rounds` kill rounds against servers started by `spawn` on one database, then
 * checks the database with a last server.
 */
async function crashRounds(
  label: string,
  { rounds, spawn }: { rounds: number; spawn: (flags: string[]) => Promise<SpawnedServer> },
): Promise<CrashRun> {
  // With ZooKeeper, a restarted instance leads once the killed one's session has expired.
  const leading = async (flags: string[]): Promise<SpawnedServer> => {
    const server = await spawn(flags);
    await waitFor("leadership", async () => (await health(server.url)).ha.role !== "follower", {
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    return server;
  };
  const seed = Number(Deno.env.get("CRASH_SEED") ?? Date.now() % 1_000_000);
  const random = seededRandom(seed);
  const context = `${label}, CRASH_SEED=${seed}`;
  await using dir = await tempDir();
  const recordPath = `${dir.path}/record.jsonl`;
  const watch = acceptWatchingRecorder(recordPath);
  await using cluster = await startDevCluster({
    allocationIntervalMs: 50,
    executor: "simulated",
    simulateDurationMs: 100,
    agentResources: "cpus:64;mem:65536;disk:20000;ports:[31000-32000]",
    statusUpdateRetryMs: 1000,
    record: watch.recorder,
  });
  const flags = ["--master", cluster.url, "--refuse-seconds", "1"];
  const started = performance.now();
  const accepted: string[] = [];
  const stats: RoundStats[] = [];

  for (let round = 0; round < rounds; round++) {
    const moment = KILL_MOMENTS[round % KILL_MOMENTS.length];
    const server = await leading(flags);
    const s: RoundStats = { moment, accepted: 0, refused: 0, cut: 0 };
    let stop = false;
    const post = async (name: string) => {
      try {
        const res = await postJson(server.url, "/api/v1/task", small("true", { name }));
        if (res.status === 202) {
          accepted.push(res.body as string);
          s.accepted++;
        } else {
          assert.equal(res.status, 503, `${context}: ${res.text}`);
          s.refused++;
          await sleep(20);
        }
        return true;
      } catch {
        s.cut++; // the server is gone: no answer, nothing promised
        return false;
      }
    };
    if (moment === "burst") {
      const each = 20 + Math.floor(random() * 40);
      await Promise.all(
        Array.from({ length: SUBMITTERS }, async (_, w) => {
          for (let i = 0; i < each; i++) await post(`r${round}-w${w}-${i}`);
        }),
      );
      await sleep(random() * 150);
      await server.kill("SIGKILL");
    } else {
      const submitters = Array.from({ length: SUBMITTERS }, async (_, w) => {
        for (let i = 0; !stop; i++) if (!await post(`r${round}-w${w}-${i}`)) break;
      });
      if (moment === "random") {
        await sleep(30 + random() * 800);
        await server.kill("SIGKILL");
      } else {
        // Past a random number of 202s, kill in the very call that records an ACCEPT.
        const target = s.accepted + 10 + Math.floor(random() * 150);
        await waitFor(
          "submissions before the launch kill",
          () => Promise.resolve(s.accepted >= target),
          {
            intervalMs: 5,
          },
        );
        s.caughtAccept = await watch.onNextAccept(() => void server.kill("SIGKILL"), 5_000);
        await server.kill("SIGKILL");
      }
      stop = true;
      await Promise.all(submitters);
    }
    const status = await server.kill("SIGKILL");
    assert.equal(status.signal, "SIGKILL", `${context}: round ${round} died by SIGKILL`);
    stats.push(s);
  }

  // A last server on the same database: everything answered 202 is there and finishes.
  const restarted = performance.now();
  await using last = await leading(flags);
  assert.equal(new Set(accepted).size, accepted.length, `${context}: ids are unique`);
  await waitFor(`${context}: every task to finish`, async () => {
    const h = await health(last.url);
    return h.mesos.state === "subscribed" && h.tasks.queued + h.tasks.active === 0;
  }, { timeoutMs: scale(40_000, 120_000), intervalMs: 200 });
  const drainMs = performance.now() - restarted;
  const stored = await allTasks(last.url);
  const missing = accepted.filter((id) => !stored.has(id));
  assert.deepEqual(missing, [], `${context}: tasks answered 202 but not stored`);
  const notFinished = [...stored.keys()].filter((id) => stored.get(id) !== "TASK_FINISHED")
    .map((id) => `${id}: ${stored.get(id)}`);
  assert.deepEqual(notFinished, [], `${context}: tasks not finished`);

  const launched = await launchedTaskIds(recordPath);
  const perTask = launchesPerTask(launched);
  // Tasks whose 202 the kill cut off may be stored too: they count like the others.
  const wrong = [...stored.keys()].filter((id) => perTask.get(id) !== 1)
    .map((id) => `${id} launched ${perTask.get(id) ?? 0} times`);
  assert.deepEqual(wrong, [], `${context}: launches`);
  const ghosts = [...perTask.keys()].filter((id) => !stored.has(id));
  assert.deepEqual(ghosts, [], `${context}: launched but not stored`);
  return {
    rounds: stats,
    accepted,
    stored: stored.size,
    launches: launched.length,
    drainMs,
    elapsedMs: performance.now() - started,
  };
}

function report(label: string, run: CrashRun): void {
  const by = (m: KillMoment) => run.rounds.filter((r) => r.moment === m).length;
  const caught = run.rounds.filter((r) => r.caughtAccept).length;
  // deno-lint-ignore no-console
  console.log(
    `${label}${FULL ? "" : " (short)"}: ${run.rounds.length} rounds ` +
      `(random ${by("random")}, launch ${by("launch")} [ACCEPT caught ${caught}], ` +
      `burst ${by("burst")}), ${run.accepted.length} accepted, ${run.stored} stored, ` +
      `${run.rounds.reduce((n, r) => n + r.cut, 0)} cut by the kill, ` +
      `${run.rounds.reduce((n, r) => n + r.refused, 0)} refused, ` +
      `${run.launches} launches, drained in ${Math.round(run.drainMs)} ms, ` +
      `${(run.elapsedMs / 1000).toFixed(1)} s in all`,
  );
}

Deno.test(`crash: ${KV_ROUNDS} SIGKILL rounds on a KV file lose no 202 and launch each task once`, async () => {
  await using dir = await tempDir();
  const dbPath = `${dir.path}/eremetic.kv`;
  const run = await crashRounds("KV", {
    rounds: KV_ROUNDS,
    spawn: (flags) => spawnServer({ dbPath, flags }),
  });
  report("KV", run);
});

zkSuite(
  `crash: ${ZK_ROUNDS} SIGKILL rounds on ZooKeeper lose no 202 and launch each task once`,
  async (zk: TestZooKeeper) => {
    await using dir = await tempDir();
    const database = zk.url("/crash/eremetic");
    const run = await crashRounds("ZooKeeper", {
      rounds: ZK_ROUNDS,
      spawn: (flags) =>
        spawnServer({
          dbPath: `${dir.path}/unused.kv`,
          flags: [
            ...flags,
            "--database-driver",
            "zk",
            "--database",
            database,
            "--zk-session-timeout-seconds",
            "2",
          ],
        }),
    });
    report("ZooKeeper", run);
  },
);
