/**
 * What the reliability tests check after a fault: through a running server, every task
 * answered 202 is stored, all finish once the development cluster has run them, and each
 * was launched exactly once according to the cluster's `--record` file (no launch of a
 * task that is not stored). Also the small pieces those checks and the fault tests share:
 * a simulated-executor cluster that records, and a pool of submitters.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type DevCluster, type Recorder, startDevCluster } from "../../src/devcluster/mod.ts";
import { launchedTaskIds, launchesPerTask, small, waitFor } from "../_e2e.ts";
import { postJson, request } from "../_helpers.ts";

/** The parts of `/api/v1/health` the checks read. */
export interface Health {
  status: string;
  store: { ok: boolean };
  tasks: { queued: number; active: number; terminated: number };
  mesos: { state: string };
  ha: { role: string };
}

/** The health document (whatever the status code). */
export async function health(url: string): Promise<Health> {
  return (await request(`${url}/api/v1/health`)).body as Health;
}

/** Every stored task's id and current state, following the list's `Link` pages. */
export async function allTasks(url: string): Promise<Map<string, string>> {
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
 * A development cluster in this process (it outlives any Eremetic it serves) with the
 * simulated executor: tasks run `durationMs`, agents have room for hundreds at once.
 */
export function recordingCluster(
  record: string | Recorder,
  durationMs = 100,
): Promise<DevCluster> {
  return startDevCluster({
    allocationIntervalMs: 50,
    executor: "simulated",
    simulateDurationMs: durationMs,
    agentResources: "cpus:64;mem:65536;disk:20000;ports:[31000-32000]",
    statusUpdateRetryMs: 1000,
    record,
  });
}

export interface DurabilityReport {
  /** Tasks stored (the accepted ones, and some whose answer a fault cut off). */
  stored: number;
  /** Launches in the cluster's record. */
  launches: number;
  /** From the call until every task had finished. */
  drainMs: number;
}

/**
 * Waits until the server at `url` has no queued or active task, then checks that every
 * id in `accepted` is stored, every stored task finished and was launched exactly once
 * (from the record at `recordPath`), and nothing was launched that is not stored.
 */
export async function assertDurable(
  url: string,
  accepted: readonly string[],
  recordPath: string,
  context: string,
  timeoutMs = 40_000,
): Promise<DurabilityReport> {
  const start = performance.now();
  assert.equal(new Set(accepted).size, accepted.length, `${context}: ids are unique`);
  await waitFor(`${context}: every task to finish`, async () => {
    const h = await health(url);
    return h.mesos.state === "subscribed" && h.tasks.queued + h.tasks.active === 0;
  }, { timeoutMs, intervalMs: 200 });
  const drainMs = performance.now() - start;
  const stored = await allTasks(url);
  const missing = accepted.filter((id) => !stored.has(id));
  assert.deepEqual(missing, [], `${context}: tasks answered 202 but not stored`);
  const notFinished = [...stored].filter(([, state]) => state !== "TASK_FINISHED")
    .map(([id, state]) => `${id}: ${state}`);
  assert.deepEqual(notFinished, [], `${context}: tasks not finished`);
  const launched = await launchedTaskIds(recordPath);
  const perTask = launchesPerTask(launched);
  const wrong = [...stored.keys()].filter((id) => perTask.get(id) !== 1)
    .map((id) => `${id} launched ${perTask.get(id) ?? 0} times`);
  assert.deepEqual(wrong, [], `${context}: launches`);
  const ghosts = [...perTask.keys()].filter((id) => !stored.has(id));
  assert.deepEqual(ghosts, [], `${context}: launched but not stored`);
  return { stored: stored.size, launches: launched.length, drainMs };
}

/** What a pool of submitters saw. */
export interface LoadStats {
  /** Ids answered 202, in the order the answers arrived. */
  accepted: string[];
  /** 503 answers (each checked: JSON error document and `Retry-After`). */
  refused: number;
  /** Requests that got no answer (the server was gone). */
  cut: number;
  /** `performance.now()` of the latest 202 and 503. */
  lastAccepted: number;
  lastRefused: number;
}

/**
 * `workers` submitters posting small tasks to `url()` until `stop()`; a 503 must carry a
 * JSON error and `Retry-After`, and its submitter waits `backoffMs`. With `untilCut`, a
 * submitter ends at its first unanswered request (the server was killed); with
 * `perWorker`, after that many requests.
 */
export function submitLoad(
  url: () => string,
  {
    workers = 4,
    perWorker = Infinity,
    backoffMs = 20,
    untilCut = false,
    name = "load",
    context = "",
  } = {},
) {
  const stats: LoadStats = { accepted: [], refused: 0, cut: 0, lastAccepted: 0, lastRefused: 0 };
  let stopped = false;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const done = Promise.all(Array.from({ length: workers }, async (_, w) => {
    for (let i = 0; !stopped && i < perWorker; i++) {
      let res;
      try {
        res = await postJson(url(), "/api/v1/task", small("true", { name: `${name}-${w}-${i}` }));
      } catch {
        stats.cut++;
        if (untilCut) return;
        await sleep(backoffMs);
        continue;
      }
      if (res.status === 202) {
        stats.accepted.push(res.body as string);
        stats.lastAccepted = performance.now();
        continue;
      }
      assert.equal(res.status, 503, `${context}: ${res.text}`);
      assert.equal(typeof (res.body as { error?: unknown })?.error, "string", res.text);
      assert.ok(res.headers.get("retry-after"), `${context}: a 503 without Retry-After`);
      stats.refused++;
      stats.lastRefused = performance.now();
      await sleep(backoffMs);
    }
  }));
  return {
    stats,
    /** Resolves when every submitter has ended. */
    done,
    /** Stops the submitters and waits for them. */
    async stop(): Promise<LoadStats> {
      stopped = true;
      await done;
      return stats;
    },
  };
}
