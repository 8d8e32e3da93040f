/**
 * End-to-end harness: the development Mesos cluster and the real Eremetic
 * server, both on loopback, plus polling helpers.
 *
 * @module
 */
import { type DevCluster, type DevClusterOptions, startDevCluster } from "../src/devcluster/mod.ts";
import type { TaskV1 } from "../src/task/mod.ts";
import { startTestServer, type TestServer } from "./_helpers.ts";

export interface Stack extends AsyncDisposable {
  cluster: DevCluster;
  server: TestServer;
  url: string;
}

/** A development cluster (fast allocation) and an in-process server subscribed to it. */
export async function startStack(
  { cluster: clusterOptions = {}, flags = [] }: {
    cluster?: DevClusterOptions;
    flags?: string[];
  } = {},
): Promise<Stack> {
  const cluster = await startDevCluster({
    allocationIntervalMs: 100,
    killGracePeriodMs: 500,
    ...clusterOptions,
  });
  let server: TestServer;
  try {
    server = await startTestServer({
      driver: "kv",
      flags: ["--master", cluster.url, "--refuse-seconds", "1", ...flags],
    });
  } catch (e) {
    await cluster.close();
    throw e;
  }
  const close = async () => {
    await server.shutdown();
    await cluster.close();
  };
  return { cluster, server, url: server.url, [Symbol.asyncDispose]: close };
}

/** Polls `fn` until it returns a truthy value, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | null | false>,
  { timeoutMs = 20_000, intervalMs = 50 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`Timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
}

/** A small task body (0.1 cpu, 16 MiB, busybox) running `command`, with more fields. */
export function small(command: string, fields: Record<string, unknown> = {}) {
  return { cpu: 0.1, mem: 16, image: "busybox", command, ...fields };
}

/** Submits a task and returns its id. */
export async function submit(url: string, body: Record<string, unknown>): Promise<string> {
  const res = await fetch(`${url}/api/v1/task`, { method: "POST", body: JSON.stringify(body) });
  const text = await res.text();
  if (res.status !== 202) throw new Error(`Submit answered ${res.status}: ${text}`);
  return JSON.parse(text);
}

/** The task as GET returns it. */
export async function getTask(url: string, id: string): Promise<TaskV1> {
  const res = await fetch(`${url}/api/v1/task/${id}`);
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new Error(`GET task answered ${res.status}`);
  }
  return await res.json();
}

/** The states of a task's history. */
export function states(task: TaskV1): string[] {
  return task.status.map((s) => s.status);
}

/** Waits until the task's current state is `state`. */
export function waitForState(url: string, id: string, state: string, timeoutMs = 20_000) {
  return waitFor(`${id} to reach ${state}`, async () => {
    const t = await getTask(url, id);
    return t.status.at(-1)?.status === state ? t : null;
  }, { timeoutMs });
}

/** Mesos task ids of every LAUNCH the master received, from its `--record` file. */
export async function launchedTaskIds(recordPath: string): Promise<string[]> {
  const ids: string[] = [];
  for (const line of (await Deno.readTextFile(recordPath)).split("\n")) {
    if (!line) continue;
    const { dir, body } = JSON.parse(line);
    if (dir !== "call" || body.type !== "ACCEPT") continue;
    for (const op of body.accept.operations ?? []) {
      for (const t of op.launch?.task_infos ?? []) ids.push(t.task_id.value);
    }
  }
  return ids;
}

/** How many launches each task had: its Mesos task id, or a retry of it (`<id>.retry-<n>`). */
export function launchesPerTask(launched: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const m of launched) {
    const at = m.indexOf(".retry-");
    const id = at < 0 ? m : m.slice(0, at);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}
