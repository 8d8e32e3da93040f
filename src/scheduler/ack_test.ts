import assert from "node:assert/strict";
import type { TaskStatus } from "../mesos/mod.ts";
import { memoryStore } from "../store/mod.ts";
import { task } from "./_testdata.ts";
import { acknowledgements } from "./ack.ts";
import { commitRecords } from "./commit.ts";
import { notifyEffects } from "./notify.ts";
import { planUpdates } from "./update.ts";

const st = (id: string, state: string, uuid = true): TaskStatus =>
  ({
    task_id: { value: id },
    state,
    agent_id: { value: "a1" },
    ...(uuid ? { uuid: "AAAAAAAAAAAAAAAAAAAAAA==" } : {}),
  }) as TaskStatus;

Deno.test("commitRecords() then acknowledgements(): only what was written is acknowledged", async () => {
  const store = memoryStore();
  const kept = (await store.createTask(task())).task;
  const lost = task(); // not stored: its write fails
  const staging = (t: typeof kept) => ({
    ...t,
    agent_id: "a1",
    status: [...t.status, { time: 1, status: "TASK_STAGING" as const }],
  });
  const plan = planUpdates(
    [st(kept.id, "TASK_RUNNING"), st(lost.id, "TASK_RUNNING"), st("x", "TASK_LOST", false)],
    new Map([[kept.id, staging(kept)], [lost.id, staging(lost)], ["x", null]]),
    { now: 0 },
  );
  const failed = await commitRecords(store, plan.writes);
  assert.deepEqual([...failed.keys()], [lost.id]);
  const acks = acknowledgements(plan.effects, failed);
  // The lost write is not acknowledged; an update without uuid needs none.
  assert.deepEqual(acks.map((c) => c.type === "ACKNOWLEDGE" && c.acknowledge.task_id.value), [
    kept.id,
  ]);
});

Deno.test("notifyEffects() tells a retried task's failure, then its new TASK_QUEUED", async () => {
  const t = task({ max_retries: 1 });
  const staged = {
    ...t,
    agent_id: "a1",
    status: [...t.status, { time: 1, status: "TASK_STAGING" as const }],
  };
  const plan = planUpdates([st(t.id, "TASK_FAILED")], new Map([[t.id, staged]]), { now: 0 });
  const heard: string[] = [];
  await notifyEffects(
    {
      taskChanged(task, state, _time, terminal) {
        heard.push(`${state}:${task.status.at(-1)!.status}:${terminal}`);
      },
    },
    plan.effects,
    0,
  );
  assert.deepEqual(heard, ["TASK_FAILED:TASK_FAILED:false", "TASK_QUEUED:TASK_QUEUED:false"]);
});
