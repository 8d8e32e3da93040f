import assert from "node:assert/strict";
import { sampleTask } from "./_contract.ts";
import { memoryStore } from "./memory.ts";
import { pruneFinishedTasks } from "./retention.ts";

Deno.test("pruneFinishedTasks() deletes only tasks that ended before the cutoff", async () => {
  await using store = memoryStore();
  const old = (await store.createTask(sampleTask())).task;
  const recent = (await store.createTask(sampleTask())).task;
  const queued = (await store.createTask(sampleTask())).task;
  await store.updateTask({
    ...old,
    status: [...old.status, { time: 100, status: "TASK_FINISHED" }],
  });
  await store.updateTask({
    ...recent,
    status: [...recent.status, { time: 5000, status: "TASK_FAILED" }],
  });
  assert.deepStrictEqual(await pruneFinishedTasks(store, 1000), 1);
  assert.deepStrictEqual(await store.getTask(old.id), null);
  assert.deepStrictEqual((await store.getTask(recent.id))?.id, recent.id);
  assert.deepStrictEqual((await store.getTask(queued.id))?.id, queued.id);
});
