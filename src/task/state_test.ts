import { assert, assertEquals } from "../testing/asserts.ts";
import {
  applyKillRequest,
  applyMesosState,
  classOf,
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
  ) assert(isTerminal(s), s);
  for (const s of ["TASK_QUEUED", "TASK_STAGING", "TASK_RUNNING", "TASK_TERMINATING"]) {
    assert(!isTerminal(s), s);
  }
});

Deno.test("classOf() maps states to the list classes", () => {
  assertEquals(classOf("TASK_QUEUED"), "queued");
  assertEquals(classOf("TASK_RUNNING"), "active");
  assertEquals(classOf("TASK_ERROR"), "terminated");
  assertEquals(classOf(undefined), "terminated");
});

Deno.test("applyMesosState() does not append a repeated state (D15)", () => {
  const t = task(["TASK_QUEUED", "TASK_STAGING", "TASK_RUNNING"]);
  const r = applyMesosState(t, "TASK_RUNNING", 10);
  assert(!r.changed);
  assertEquals(r.task.status.length, 3);
});

Deno.test("applyMesosState() retries a failure before running while retry < max_retries", () => {
  const t = task(["TASK_QUEUED", "TASK_STAGING"]);
  const r = applyMesosState(t, "TASK_FAILED", 10);
  assert(r.retried && !r.terminal);
  assertEquals(r.task.retry, 1);
  assertEquals(r.task.status.map((s) => s.status).slice(-2), ["TASK_FAILED", "TASK_QUEUED"]);
  const exhausted = applyMesosState(task(["TASK_QUEUED", "TASK_STAGING"], 5), "TASK_FAILED", 10);
  assert(exhausted.terminal && !exhausted.retried);
});

Deno.test("applyMesosState() does not retry a failure after running", () => {
  const r = applyMesosState(task(["TASK_QUEUED", "TASK_RUNNING"]), "TASK_FAILED", 10);
  assert(r.terminal && !r.retried);
});

Deno.test("applyMesosState() retries a lost agent even after running", () => {
  const r = applyMesosState(task(["TASK_QUEUED", "TASK_RUNNING"]), "TASK_GONE", 10);
  assert(r.retried);
  const none = applyMesosState(task(["TASK_QUEUED", "TASK_RUNNING"], 0, 0), "TASK_LOST", 10);
  assert(none.terminal);
});

Deno.test("applyMesosState() never retries TASK_ERROR and ignores updates after the end", () => {
  const r = applyMesosState(task(["TASK_QUEUED", "TASK_STAGING"]), "TASK_ERROR", 10);
  assert(r.terminal && !r.retried);
  const late = applyMesosState(r.task, "TASK_RUNNING", 11);
  assert(!late.changed);
});

Deno.test("applyMesosState() does not retry a task that was being killed", () => {
  const r = applyMesosState(task(["TASK_QUEUED", "TASK_TERMINATING"]), "TASK_FAILED", 10);
  assert(r.terminal && !r.retried);
  const still = applyMesosState(task(["TASK_QUEUED", "TASK_TERMINATING"]), "TASK_RUNNING", 10);
  assert(!still.changed);
});

Deno.test("applyKillRequest() kills a queued task at once (D9)", () => {
  const r = applyKillRequest(task(["TASK_QUEUED"]), 5);
  assert(r !== "terminal" && r.terminal);
  assertEquals(r.task.status.at(-1)?.status, "TASK_KILLED");
});

Deno.test("applyKillRequest() marks a running task TERMINATING and refuses finished ones", () => {
  const r = applyKillRequest(task(["TASK_QUEUED", "TASK_RUNNING"]), 5);
  assert(r !== "terminal" && !r.terminal);
  assertEquals(r.task.status.at(-1)?.status, "TASK_TERMINATING");
  assertEquals(applyKillRequest(task(["TASK_QUEUED", "TASK_FINISHED"]), 5), "terminal");
});
