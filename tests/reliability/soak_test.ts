/**
 * Load soak (issue 13, point 7): the real server (`main.ts serve`, KV store) and the
 * development cluster (`main.ts devcluster`, simulated executor, short tasks), each its own
 * process on loopback, under a steady submission rate: 30 s in `deno task test`, 10 minutes
 * under `deno task test:reliability`. The server's RSS is sampled throughout and must stay
 * flat (see `_soak.ts` for the criterion); every submission must get its 202 and every task
 * must reach `TASK_FINISHED`. Submit latency is measured and printed, never asserted
 * (docs/reliability.md, "Load", compares a run with docs/benchmarks.md).
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  cpuMsOf,
  freePort,
  machineBusyMs,
  memoryOf,
  type RunningProcess,
  serveArgs,
  startProcess,
} from "../../bench/_lib.ts";
import { tempDir } from "../_helpers.ts";
import { judgeFlatness, type MemorySample, percentile } from "./_soak.ts";
import { FULL, scale } from "./_mode.ts";

const DURATION_MS = scale(30_000, 600_000);
/** Submissions per second, steady. */
const RATE = scale(50, 100);
/**
 * RSS samples before this are warm-up: module loading, the heap growing to its working
 * size, and the store's read cache (16 MB of records, bounded) filling.
 */
const WARMUP_MS = scale(10_000, 300_000);
const SAMPLE_EVERY_MS = scale(250, 2_000);
/** Submissions in flight at most: beyond, the schedule slips (and the slip is reported). */
const MAX_IN_FLIGHT = 32;
/**
 * Growth allowed between the first and last thirds' medians (after warm-up). The short run
 * is a smoke test: 1,000 tasks apart, it catches leaks of tens of KB per task. The full run
 * judges 20,000 tasks apart: 24 MB is about 1.2 KB per task.
 */
const FLATNESS = { warmupMs: WARMUP_MS, absoluteMb: scale(32, 24), relative: 0.1 };
/** How long the tasks may take to finish once submissions stop. */
const DRAIN_BOUND_MS = scale(60_000, 180_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("soak criterion: a flat noisy series passes, a steady leak fails", () => {
  const series = (slopeMbPerS: number) =>
    Array.from({ length: 120 }, (_, i) => ({
      at: i * 500,
      rssMb: 80 + (i % 7 === 0 ? 12 : 0) + (i % 3) + slopeMbPerS * i * 0.5,
      submitted: i * 25,
    }));
  const options = { warmupMs: 5_000, absoluteMb: 16, relative: 0.1 };
  const flat = judgeFlatness(series(0), options);
  assert.equal(flat.flat, true);
  assert.ok(Math.abs(flat.growthMb) < 3);
  const leak = judgeFlatness(series(0.5), options);
  assert.equal(leak.flat, false);
  assert.ok(leak.growthKbPer1000Tasks! > 10_000);
  assert.throws(() => judgeFlatness(series(0).slice(0, 12), options), RangeError);
});

async function startCluster(): Promise<{ proc: RunningProcess; url: string }> {
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = await startProcess({
    args: [
      "run",
      "-A",
      "main.ts",
      "devcluster",
      "--port",
      String(port),
      "--agents",
      "4",
      "--executor",
      "simulated",
      "--simulate-duration",
      "100ms",
      "--allocation-interval",
      "100ms",
    ],
    healthUrl: `${url}/health`,
    quiet: true,
  });
  return { proc, url };
}

async function startServer(
  database: string,
  master: string,
): Promise<{ proc: RunningProcess; url: string }> {
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = await startProcess({
    args: [...serveArgs({ port, database, master, driver: "kv" }), "--refuse-seconds", "1"],
    healthUrl: `${url}/api/v1/health`,
    quiet: true,
  });
  return { proc, url };
}

/** Every task of a state class, page after page. */
async function listClass(url: string, state: string): Promise<{ id: string; state?: string }[]> {
  const out: { id: string; state?: string }[] = [];
  let cursor: string | null = null;
  do {
    const q: string = `state=${state}&limit=10000${cursor ? `&cursor=${cursor}` : ""}`;
    const res = await fetch(`${url}/api/v1/task?${q}`);
    assert.equal(res.status, 200);
    const page: { id: string; status: { status: string }[] }[] = await res.json();
    for (const t of page) out.push({ id: t.id, state: t.status.at(-1)?.status });
    cursor = res.headers.get("x-next-cursor");
  } while (cursor);
  return out;
}

Deno.test({
  name: `soak: ${RATE} submissions/s for ${DURATION_MS / 1000} s, memory flat, every task finished`,
  async fn() {
    await using dir = await tempDir();
    const cluster = await startCluster();
    await using _c = cluster.proc;
    const server = await startServer(`${dir.path}/eremetic.kv`, cluster.url);
    await using _s = server.proc;
    for (;;) {
      const h = await (await fetch(`${server.url}/api/v1/health`)).json();
      if (h.mesos?.state === "subscribed") break;
      await sleep(50);
    }
    const body = JSON.stringify({ cpu: 0.1, mem: 16, image: "busybox", command: "true" });
    const ids: string[] = [];
    const latencies: { at: number; ms: number }[] = [];
    const refused: string[] = [];
    const samples: MemorySample[] = [];
    let submitted = 0;
    let inFlight = 0;
    let maxSlipMs = 0;

    const submitOne = async () => {
      inFlight++;
      const t = performance.now();
      try {
        const res = await fetch(`${server.url}/api/v1/task`, { method: "POST", body });
        const text = await res.text();
        const ms = performance.now() - t;
        latencies.push({ at: t - start, ms });
        if (res.status === 202) ids.push(JSON.parse(text));
        else refused.push(`${res.status} ${text}`);
      } catch (e) {
        refused.push((e as Error).message);
      } finally {
        inFlight--;
      }
    };

    const cpuBefore = await cpuMsOf(server.proc.pid);
    const busyBefore = await machineBusyMs();
    const start = performance.now();
    const sampling = (async () => {
      while (performance.now() - start < DURATION_MS) {
        const { rssMb, anonMb, fileMb } = await memoryOf(server.proc.pid);
        samples.push({ at: performance.now() - start, rssMb, anonMb, fileMb, submitted });
        await sleep(SAMPLE_EVERY_MS);
      }
    })();
    const pending = new Set<Promise<void>>();
    for (;;) {
      const elapsed = performance.now() - start;
      if (elapsed >= DURATION_MS) break;
      const due = Math.floor((elapsed * RATE) / 1000) + 1;
      while (submitted < due && inFlight < MAX_IN_FLIGHT) {
        maxSlipMs = Math.max(maxSlipMs, elapsed - (submitted * 1000) / RATE);
        submitted++;
        const p = submitOne();
        pending.add(p);
        p.finally(() => pending.delete(p));
      }
      await sleep(Math.max(1, (submitted * 1000) / RATE - elapsed));
    }
    await Promise.all(pending);
    await sampling;
    const elapsedS = (performance.now() - start) / 1000;
    const cpuMs = (await cpuMsOf(server.proc.pid)) - cpuBefore;
    const otherCores = ((await machineBusyMs()) - busyBefore - cpuMs) / 1000 / elapsedS;

    // Every accepted task finishes.
    const drainStart = performance.now();
    for (;;) {
      const res = await fetch(`${server.url}/api/v1/task?state=active,queued&limit=1`);
      const open: unknown[] = await res.json();
      if (open.length === 0) break;
      assert.ok(
        performance.now() - drainStart < DRAIN_BOUND_MS,
        `tasks still open ${DRAIN_BOUND_MS} ms after the last submission`,
      );
      await sleep(200);
    }
    const drainS = (performance.now() - drainStart) / 1000;
    const ended = await listClass(server.url, "terminated");
    const finished = new Set(ended.filter((t) => t.state === "TASK_FINISHED").map((t) => t.id));
    const notFinished = ids.filter((id) => !finished.has(id));

    const memory = judgeFlatness(samples, FLATNESS);
    const all = latencies.map((l) => l.ms).sort((a, b) => a - b);
    const third = (i: number) =>
      latencies.filter((l) => l.at >= (i * DURATION_MS) / 3 && l.at < ((i + 1) * DURATION_MS) / 3)
        .map((l) => l.ms).sort((a, b) => a - b);
    const round = (n: number) => Math.round(n * 100) / 100;
    const report = {
      mode: FULL ? "full" : "short",
      seconds: round(elapsedS),
      rate: RATE,
      submitted,
      accepted: ids.length,
      refused: refused.length,
      finished: ids.length - notFinished.length,
      drainSeconds: round(drainS),
      maxSlipMs: round(maxSlipMs),
      latencyMs: {
        p50: round(percentile(all, 50)),
        p99: round(percentile(all, 99)),
        max: round(all.at(-1) ?? NaN),
        p99ByThird: [0, 1, 2].map((i) => round(percentile(third(i), 99))),
      },
      rssMb: {
        first: round(memory.firstMb),
        last: round(memory.lastMb),
        growth: round(memory.growthMb),
        allowed: round(memory.allowedMb),
        peak: round(Math.max(...samples.map((s) => s.rssMb))),
        anonymousLast: round(samples.at(-1)!.anonMb!),
        fileLast: round(samples.at(-1)!.fileMb!),
        kbPer1000Tasks: memory.growthKbPer1000Tasks === null
          ? null
          : round(memory.growthKbPer1000Tasks),
        samples: memory.samples,
      },
      serverCpuUsPerTask: round((cpuMs * 1000) / Math.max(1, submitted)),
      otherCoresBusy: round(otherCores),
    };
    // deno-lint-ignore no-console
    console.log(`soak: ${JSON.stringify(report)}`);
    const every = Math.max(1, Math.round(samples.length / 20));
    const trace = samples.filter((_, i) => i % every === 0)
      .map((s) => `${Math.round(s.at / 1000)}s ${Math.round(s.rssMb)}`).join(", ");
    // deno-lint-ignore no-console
    console.log(`soak RSS MB: ${trace}`);
    assert.deepEqual(refused, [], "every submission is accepted");
    assert.equal(ids.length, submitted);
    assert.deepEqual(notFinished, [], "every accepted task finished");
    assert.ok(
      memory.flat,
      `RSS grew ${round(memory.growthMb)} MB (allowed ${round(memory.allowedMb)} MB)`,
    );
  },
});
