import { assert, assertEquals, assertStringIncludes } from "../src/testing/asserts.ts";
import { startDevCluster } from "../src/devcluster/mod.ts";
import { getTask, launchedTaskIds, small, states, submit, waitFor, waitForState } from "./_e2e.ts";
import { spawnServer, tempDir } from "./_helpers.ts";

async function frameworkIdOf(url: string): Promise<string> {
  const health = await (await fetch(`${url}/api/v1/health`)).json();
  return health.mesos.framework_id;
}

Deno.test("e2e: Eremetic SIGKILLed mid-run re-subscribes as the same framework and the task finishes", async () => {
  await using dir = await tempDir();
  await using cluster = await startDevCluster({ allocationIntervalMs: 100 });
  const flags = ["--master", cluster.url, "--refuse-seconds", "1"];
  const dbPath = `${dir.path}/eremetic.kv`;
  const first = await spawnServer({ dbPath, flags });
  let id: string;
  let frameworkId: string;
  try {
    id = await submit(first.url, small("sleep 2; echo survived"));
    await waitForState(first.url, id, "TASK_RUNNING");
    frameworkId = await frameworkIdOf(first.url);
    assert(frameworkId, "subscribed with a framework id");
  } finally {
    await first.kill("SIGKILL");
  }
  await using second = await spawnServer({ dbPath, flags });
  const task = await waitForState(second.url, id, "TASK_FINISHED", 30_000);
  assertEquals(await frameworkIdOf(second.url), frameworkId);
  assertEquals(task.retry, 0);
  assertEquals(states(task).filter((s) => s === "TASK_RUNNING").length, 1);
  const out = await (await fetch(`${second.url}/api/v1/task/${id}/stdout`)).text();
  assertStringIncludes(out, "survived");
});

Deno.test("e2e: tasks acknowledged just before a SIGKILL are each launched exactly once", async () => {
  await using dir = await tempDir();
  const record = `${dir.path}/record.jsonl`;
  await using cluster = await startDevCluster({ allocationIntervalMs: 50, record });
  const flags = ["--master", cluster.url, "--refuse-seconds", "1"];
  const dbPath = `${dir.path}/eremetic.kv`;
  const first = await spawnServer({ dbPath, flags });
  let ids: string[];
  try {
    await waitFor("the subscription", async () => await frameworkIdOf(first.url));
    ids = await Promise.all(
      Array.from(
        { length: 20 },
        (_, i) => submit(first.url, small(`echo task-${i}`)),
      ),
    );
  } finally {
    // Right after the last 202: some tasks are queued, some staged, some launched.
    await first.kill("SIGKILL");
  }
  await using second = await spawnServer({ dbPath, flags });
  await waitFor("every task to finish", async () => {
    const tasks = await Promise.all(ids.map((id) => getTask(second.url, id)));
    return tasks.every((t) => t.status.at(-1)?.status === "TASK_FINISHED");
  }, { timeoutMs: 45_000 });
  const launched = await launchedTaskIds(record);
  for (const id of ids) {
    const attempts = launched.filter((m) => m === id || m.startsWith(`${id}.retry-`));
    assertEquals(attempts.length, 1, `${id} was launched ${attempts.length} times`);
  }
});
