/**
 * Store faults (issue 13, point 3), each under a load of concurrent submissions to a
 * server that runs tasks on the development cluster (in this process, recording):
 *
 * - disk full: the spawned server's file size limit (RLIMIT_FSIZE, set from outside with
 *   `prlimit --pid`) drops to 0 for a while, so every write to the KV file fails as on a
 *   full disk (the process ignores SIGXFSZ, as a shell `trap` arranges). This works the
 *   same for root, which file permissions would not stop;
 * - a commit failing in the middle of a stream of group-committed batches (injected
 *   through the KV store's `commit` seam), over HTTP in this process;
 * - ZooKeeper's session expiring (the server frozen past the session timeout) and
 *   ZooKeeper restarting, with `database_driver: zk`.
 *
 * After each: no answer but 202 or 503 (a JSON error with `Retry-After`), the server
 * accepts again by itself (the time is reported), and every 202 is stored, finished and
 * launched exactly once.
 */
import assert from "node:assert/strict";
import { createApp } from "../../src/app.ts";
import { resolveConfig } from "../../src/config/mod.ts";
import { openKvStore } from "../../src/store/mod.ts";
import { collectingLogger } from "../../src/runtime.ts";
import { waitFor } from "../_e2e.ts";
import { type SpawnedServer, spawnServer, tempDir } from "../_helpers.ts";
import { type TestZooKeeper, zkServeFlags, zkSuite } from "../_zookeeper.ts";
import { FULL, scale } from "./_mode.ts";
import { assertDurable, health, recordingCluster, submitLoad } from "./_durability.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs the server under a shell that ignores SIGXFSZ: a write past the limit fails (EFBIG). */
const IGNORE_SIGXFSZ = ["sh", "-c", 'trap "" XFSZ; exec "$0" "$@"'];

/** Sets the soft file size limit of a process (`null` = unlimited); the hard one stays. */
async function setFileSizeLimit(pid: number, bytes: number | null): Promise<void> {
  const out = await new Deno.Command("prlimit", {
    args: ["--pid", String(pid), `--fsize=${bytes ?? "unlimited"}:unlimited`],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
}

function report(line: string): void {
  // deno-lint-ignore no-console
  console.log(`${line}${FULL ? "" : " (short)"}`);
}

/**
 * Repeats `fault` while submitters post: waits until a fault has produced 503s and the
 * server accepts again after `heal`; returns each recovery time (heal → first 202).
 */
async function faultsUnderLoad(
  load: ReturnType<typeof submitLoad>,
  faults: number,
  { fault, heal, during = 600, minRefused = 5 }: {
    fault: () => Promise<void>;
    heal: () => Promise<void>;
    /** How long the fault lasts past the first 503s. */
    during?: number;
    /** 503s to see before healing. */
    minRefused?: number;
  },
  context: string,
): Promise<number[]> {
  const recoveries: number[] = [];
  for (let i = 0; i < faults; i++) {
    const before = load.stats.accepted.length;
    await waitFor(
      `${context}: 202s before fault ${i}`,
      () => Promise.resolve(load.stats.accepted.length >= before + 20),
    );
    const refusedBefore = load.stats.refused;
    await fault();
    await waitFor(
      `${context}: 503s during fault ${i}`,
      () => Promise.resolve(load.stats.refused >= refusedBefore + minRefused),
      { timeoutMs: 30_000 },
    );
    await sleep(during);
    await heal();
    const healed = performance.now();
    await waitFor(
      `${context}: 202s after fault ${i}`,
      () => Promise.resolve(load.stats.lastAccepted > healed),
      { timeoutMs: 30_000, intervalMs: 10 },
    );
    recoveries.push(load.stats.lastAccepted - healed);
  }
  return recoveries;
}

const ms = (xs: number[]) => `${Math.round(Math.max(...xs))} ms`;

Deno.test("store faults: a full disk answers 503 with Retry-After, loses no 202, recovers", async () => {
  await using dir = await tempDir();
  const recordPath = `${dir.path}/record.jsonl`;
  await using cluster = await recordingCluster(recordPath);
  const dbPath = `${dir.path}/eremetic.kv`;
  const flags = ["--master", cluster.url, "--refuse-seconds", "1"];
  const faults = scale(2, 10);
  const context = "disk full";
  let server: SpawnedServer = await spawnServer({ dbPath, flags, wrap: IGNORE_SIGXFSZ });
  try {
    const load = submitLoad(() => server.url, { workers: 4, name: "full", context });
    let healthDuringFault: number | null = null;
    const recoveries = await faultsUnderLoad(load, faults, {
      fault: () => setFileSizeLimit(server.pid, 0),
      heal: async () => {
        healthDuringFault ??= await fetch(`${server.url}/api/v1/health`).then(async (r) => {
          await r.body?.cancel();
          return r.status;
        });
        await setFileSizeLimit(server.pid, null);
      },
    }, context);
    const seen = await load.stop();
    assert.equal(healthDuringFault, 503, "health reports the store failing");
    const checked = await assertDurable(server.url, seen.accepted, recordPath, context);
    // And after a SIGKILL and a restart on the same file.
    await server.kill("SIGKILL");
    server = await spawnServer({ dbPath, flags });
    const again = await assertDurable(server.url, seen.accepted, recordPath, context);
    assert.equal(again.stored, checked.stored);
    report(
      `disk full: ${faults} faults under load, ${seen.accepted.length} accepted, ` +
        `${seen.refused} refused with 503, ${checked.stored} stored, ${checked.launches} launches, ` +
        `recovery after space returned <= ${ms(recoveries)}`,
    );
  } finally {
    await server.kill("SIGKILL");
  }
});

Deno.test("store faults: commits failing amid group-committed batches lose no 202 and reuse no id or seq", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/eremetic.kv`;
  const flags = ["--database-driver", "kv", "--database", path];
  const { config } = resolveConfig({ env: {}, flags });
  const submitters = 8;
  const each = scale(25, 250);
  // Batches of about four submissions; every seventh commit fails, and the first is
  // followed by others already sealed behind it.
  let commits = 0;
  const failing = (n: number) => n % 7 === 3;
  const store = await openKvStore(path, {
    maxBatchMutations: 12,
    commit: (op) => failing(++commits) ? Promise.reject(new Error("injected")) : op.commit(),
  });
  const app = await createApp(config, { logger: collectingLogger(), store });
  const accepted: string[] = [];
  let refused = 0;
  try {
    await Promise.all(Array.from({ length: submitters }, async (_, w) => {
      for (let i = 0; i < each; i++) {
        const res = await app.fetch(
          new Request("http://127.0.0.1/api/v1/task", {
            method: "POST",
            body: JSON.stringify({
              cpu: 0.1,
              mem: 16,
              image: "busybox",
              command: `echo ${w}-${i}`,
            }),
          }),
        );
        const body = await res.json();
        if (res.status === 202) {
          accepted.push(body);
          continue;
        }
        assert.equal(res.status, 503, JSON.stringify(body));
        assert.equal(body.error, "store unavailable");
        assert.equal(res.headers.get("retry-after"), "1");
        refused++;
      }
    }));
  } finally {
    await app.close();
  }
  assert.ok(refused > 0 && accepted.length > 0, `${accepted.length} accepted, ${refused} refused`);
  assert.equal(accepted.length + refused, submitters * each);
  assert.equal(new Set(accepted).size, accepted.length, "ids are unique");

  // Reopened: exactly the acknowledged tasks, in the order their seqs say; then more.
  const seqs: number[] = [];
  {
    await using again = await openKvStore(path, { cacheBytes: 0 });
    for (const id of accepted) {
      const task = await again.getTask(id);
      assert.ok(task, `${id} was answered 202 but is not stored`);
      seqs.push(task.seq);
    }
    assert.equal((await again.countTasks()).queued, accepted.length, "only acknowledged tasks");
    const template = (await again.getTask(accepted[0]))!;
    const more = await Promise.all(
      Array.from(
        { length: 20 },
        (_, i) => again.createTask({ ...template, id: `eremetic-task.after-${i}`, seq: 0 }),
      ),
    );
    seqs.push(...more.map((r) => r.task.seq));
  }
  assert.equal(new Set(seqs).size, seqs.length, `a seq was handed out twice: ${seqs}`);
  report(
    `failed commits: ${commits} commits, ${Math.floor((commits + 3) / 7)} failed, ` +
      `${accepted.length} accepted, ${refused} refused with 503, none lost, no seq reused`,
  );
});

zkSuite(
  "store faults: ZooKeeper's session expiring and ZooKeeper restarting under load lose no 202",
  async (zk: TestZooKeeper, t) => {
    await using dir = await tempDir();
    const recordPath = `${dir.path}/record.jsonl`;
    await using cluster = await recordingCluster(recordPath);
    const sessionS = 2;
    const flags = zkServeFlags(cluster.url, zk.url("/faults/eremetic"), sessionS);
    await using server = await spawnServer({ dbPath: `${dir.path}/unused.kv`, flags });
    const leading = () =>
      waitFor("leadership", async () => (await health(server.url)).ha.role === "leader", {
        timeoutMs: 30_000,
        intervalMs: 100,
      });
    await leading();
    const faults = scale(1, 5);
    const accepted: string[] = [];
    const run = async (label: string, fault: () => Promise<void>) => {
      const context = `ZooKeeper ${label}`;
      const load = submitLoad(() => server.url, { workers: 4, name: label, context });
      let faulted: Promise<void> = Promise.resolve();
      const recoveries = await faultsUnderLoad(load, faults, {
        fault: () => {
          faulted = fault();
          return Promise.resolve();
        },
        heal: () => faulted,
        during: 0,
        minRefused: 1,
      }, context);
      const seen = await load.stop();
      accepted.push(...seen.accepted);
      const checked = await assertDurable(server.url, accepted, recordPath, context);
      report(
        `ZooKeeper ${label}: ${faults} under load, ${seen.accepted.length} accepted, ` +
          `${seen.refused} refused with 503, ${seen.cut} unanswered, ${checked.stored} stored ` +
          `in all, ${checked.launches} launches, accepting again <= ${ms(recoveries)} after ` +
          "ZooKeeper was back",
      );
    };
    await t.step("session expiry", async () => {
      // Frozen past the session timeout: the session is expired when it wakes.
      await run("session expiry", () => zk.pause(sessionS * 1000 + 1500));
    });
    await t.step("restart", async () => {
      await run("restart", () => zk.restart());
    });
  },
);
