import assert from "node:assert/strict";
import {
  applyDroppedLaunch,
  applyKillRequest,
  applyMesosState,
  classOf,
  isDroppedLaunch,
  isTerminal,
  type Lifecycle,
  type StatusEntry,
  type TaskState,
} from "./state.ts";

function task(states: TaskState[], retry = 0, max_retries = 5): Lifecycle {
  const status: StatusEntry[] = states.map((s, i) => ({ time: i, status: s }));
  return { status, retry, max_retries };
}

Deno.test("isTerminal() treats ERROR, DROPPED, GONE and UNKNOWN as final (D8)", () => {
  for (
    const s of [
      "TASK_FINISHED",
      "TASK_FAILED",
      "TASK_KILLED",
      "TASK_LOST",
      "TASK_ERROR",
      "TASK_DROPPED",
      "TASK_GONE",
      "TASK_GONE_BY_OPERATOR",
      "TASK_UNKNOWN",
    ]
  ) assert.ok(isTerminal(s), s);
  for (const s of ["TASK_QUEUED", "TASK_STAGING", "TASK_RUNNING", "TASK_TERMINATING"]) {
    assert.ok(!isTerminal(s), s);
  }
});

Deno.test("classOf() maps states to the list classes", () => {
  assert.deepEqual(classOf("TASK_QUEUED"), "queued");
  assert.deepEqual(classOf("TASK_RUNNING"), "active");
  assert.deepEqual(classOf("TASK_ERROR"), "terminated");
  assert.deepEqual(classOf(undefined), "terminated");
});

Deno.test("applyMesosState() does not append a repeated state (D15)", () => {
  const t = task(["TASK_QUEUED", "TASK_STAGING", "TASK_RUNNING"]);
  const r = applyMesosState(t, "TASK_RUNNING", 10);
  assert.ok(!r.changed);
  assert.deepEqual(r.task.status.length, 3);
});

Deno.test("applyMesosState() retries a failure before running while retry < max_retries", () => {
  const t = task(["TASK_QUEUED", "TASK_STAGING"]);
  const r = applyMesosState(t, "TASK_FAILED", 10);
  assert.ok(r.retried && !r.terminal);
  assert.deepEqual(r.task.retry, 1);
  assert.deepEqual(r.task.status.map((s) => s.status).slice(-2), ["TASK_FAILED", "TASK_QUEUED"]);
  const exhausted = applyMesosState(task(["TASK_QUEUED", "TASK_STAGING"], 5), "TASK_FAILED", 10);
  assert.ok(exhausted.terminal && !exhausted.retried);
});

Deno.test("applyMesosState() does not retry a failure after running", () => {
  const r = applyMesosState(task(["TASK_QUEUED", "TASK_RUNNING"]), "TASK_FAILED", 10);
  assert.ok(r.terminal && !r.retried);
});

Deno.test("applyMesosState() retries a lost agent even after running", () => {
  const r = applyMesosState(task(["TASK_QUEUED", "TASK_RUNNING"]), "TASK_GONE", 10);
  assert.ok(r.retried);
  const none = applyMesosState(task(["TASK_QUEUED", "TASK_RUNNING"], 0, 0), "TASK_LOST", 10);
  assert.ok(none.terminal);
});

Deno.test("applyMesosState() never retries TASK_ERROR and ignores updates after the end", () => {
  const r = applyMesosState(task(["TASK_QUEUED", "TASK_STAGING"]), "TASK_ERROR", 10);
  assert.ok(r.terminal && !r.retried);
  const late = applyMesosState(r.task, "TASK_RUNNING", 11);
  assert.ok(!late.changed);
});

Deno.test("applyMesosState() does not retry a task that was being killed", () => {
  const r = applyMesosState(task(["TASK_QUEUED", "TASK_TERMINATING"]), "TASK_FAILED", 10);
  assert.ok(r.terminal && !r.retried);
  const still = applyMesosState(task(["TASK_QUEUED", "TASK_TERMINATING"]), "TASK_RUNNING", 10);
  assert.ok(!still.changed);
});

Deno.test("applyKillRequest() kills a queued task at once (D9)", () => {
  const r = applyKillRequest(task(["TASK_QUEUED"]), 5);
  assert.ok(r !== "terminal" && r.terminal);
  assert.deepEqual(r.task.status.at(-1)?.status, "TASK_KILLED");
});

Deno.test("applyKillRequest() marks a running task TERMINATING and refuses finished ones", () => {
  const r = applyKillRequest(task(["TASK_QUEUED", "TASK_RUNNING"]), 5);
  assert.ok(r !== "terminal" && !r.terminal);
  assert.deepEqual(r.task.status.at(-1)?.status, "TASK_TERMINATING");
  assert.deepEqual(applyKillRequest(task(["TASK_QUEUED", "TASK_FINISHED"]), 5), "terminal");
});

Deno.test("isDroppedLaunch() holds for TASK_DROPPED of a staging task only", () => {
  const staging = {
    status: [{ time: 1, status: "TASK_QUEUED" as const }, {
      time: 2,
      status: "TASK_STAGING" as const,
    }],
  };
  assert.equal(isDroppedLaunch(staging, "TASK_DROPPED"), true);
  assert.equal(isDroppedLaunch(staging, "TASK_LOST"), false);
  const running = { status: [...staging.status, { time: 3, status: "TASK_RUNNING" as const }] };
  assert.equal(isDroppedLaunch(running, "TASK_DROPPED"), false);
  const again = applyDroppedLaunch({ ...staging, retry: 1, max_retries: 1 }, 4);
  assert.deepEqual(again.task.status.slice(2), [
    { time: 4, status: "TASK_DROPPED" },
    { time: 4, status: "TASK_QUEUED" },
  ]);
  assert.equal(again.task.retry, 1);
  assert.deepEqual([again.changed, again.terminal, again.retried], [true, false, true]);
});
