import assert from "node:assert/strict";
import { fromOriginalTask, isOriginalTask } from "./_original.ts";

Deno.test("isOriginalTask() tells the original's Go field names from our records", () => {
  assert.equal(isOriginalTask({ ID: "eremetic-task.x", TaskCPUs: 1 }), true);
  assert.equal(isOriginalTask({ id: "eremetic-task.x", cpu: 1 }), false);
  assert.equal(isOriginalTask(null), false);
  assert.equal(isOriginalTask("text"), false);
});

Deno.test("fromOriginalTask() keeps what the original accepted but we would refuse", () => {
  // A legacy body the original took with empty image and no resources (reference E3-E6).
  const task = fromOriginalTask({
    ID: "eremetic-task.1",
    TaskCPUs: 0,
    TaskMem: 0,
    Image: "",
    Status: [{ time: 10, status: "TASK_QUEUED" }, { time: "bad", status: 3 }],
    Retry: 2,
    AgentPort: "x",
  }, 7);
  assert.equal(task.id, "eremetic-task.1");
  assert.equal(task.seq, 7);
  assert.equal(task.cpu, 0);
  assert.equal(task.image, "");
  assert.deepEqual(task.status, [{ time: 10, status: "TASK_QUEUED" }]);
  assert.equal(task.retry, 2);
  assert.equal(task.agent_port, 0);
  assert.equal(task.user, "root");
  assert.equal(task.mesos_task_id, "eremetic-task.1");
  assert.equal(task.submitted_at, 10_000);
});
