import assert from "node:assert/strict";
import type { TaskStatus } from "../mesos/mod.ts";
import type { TaskRecord } from "../task/mod.ts";
import { task } from "./_testdata.ts";
import { mesosIdOf, planUpdates, publicIdOf, retryDelayMs } from "./update.ts";

function staged(fields: Record<string, unknown> = {}): TaskRecord {
  const t = task(fields);
  return { ...t, agent_id: "a1", status: [...t.status, { time: 1, status: "TASK_STAGING" }] };
}

const st = (id: string, state: string): TaskStatus =>
  ({
    task_id: { value: id },
    state,
    agent_id: { value: "a1" },
    uuid: "AAAAAAAAAAAAAAAAAAAAAA==",
  }) as TaskStatus;

Deno.test("publicIdOf() and mesosIdOf() map attempts to ids and back", () => {
  assert.equal(mesosIdOf("t", 0), "t");
  assert.equal(mesosIdOf("t", 2), "t.retry-2");
  assert.equal(publicIdOf("t.retry-2"), "t");
  assert.equal(publicIdOf("t.retry-x"), "t.retry-x");
  assert.equal(retryDelayMs(1), 1_000);
  assert.equal(retryDelayMs(20), 60_000);
});

Deno.test("planUpdates() applies one task's updates in order and writes it once", () => {
  const t = staged();
  const plan = planUpdates(
    [st(t.id, "TASK_STARTING"), st(t.id, "TASK_RUNNING"), st(t.id, "TASK_RUNNING")],
    new Map([[t.id, t]]),
    { now: 10_000 },
  );
  assert.equal(plan.writes.size, 1);
  assert.deepEqual(plan.writes.get(t.id)!.status.map((s) => s.status), [
    "TASK_QUEUED",
    "TASK_STAGING",
    "TASK_STARTING",
    "TASK_RUNNING",
  ]);
  assert.deepEqual(plan.effects.map((e) => e.kind), ["changed", "changed", "ignored"]);
  const running = plan.effects[1];
  assert.ok(running.kind === "changed" && running.started);
});

Deno.test("planUpdates() ignores unknown tasks, earlier attempts, unknown and stale states", () => {
  const t = staged();
  const running = planUpdates([st(t.id, "TASK_RUNNING")], new Map([[t.id, t]]), { now: 0 })
    .writes.get(t.id)!;
  const plan = planUpdates(
    [
      st("nobody", "TASK_RUNNING"),
      st(`${t.id}.retry-3`, "TASK_FAILED"),
      st(t.id, "TASK_BOGUS"),
      st(t.id, "TASK_STARTING"),
    ],
    new Map([[t.id, running], ["nobody", null]]),
    { now: 0 },
  );
  assert.equal(plan.writes.size, 0);
  assert.deepEqual(
    plan.effects.map((e) => e.kind === "ignored" && e.reason),
    ["unknown_task", "earlier_attempt", "unknown_state", "stale"],
  );
});

Deno.test("planUpdates() queues a failure before running again, with a new id and a back-off", () => {
  const t = staged({ max_retries: 1 });
  const plan = planUpdates([st(t.id, "TASK_FAILED")], new Map([[t.id, t]]), { now: 5_000 });
  const next = plan.writes.get(t.id)!;
  assert.equal(next.retry, 1);
  assert.equal(next.mesos_task_id, `${t.id}.retry-1`);
  assert.equal(next.not_before, 6_000);
  assert.equal(next.status.at(-1)!.status, "TASK_QUEUED");
  const e = plan.effects[0];
  assert.ok(e.kind === "changed" && e.retried && !e.terminal);
});

Deno.test("planUpdates() queues a dropped launch again without spending a retry; a dropped kill ends", () => {
  const t = staged({ max_retries: 0 });
  const plan = planUpdates([st(t.id, "TASK_DROPPED")], new Map([[t.id, t]]), { now: 10_000 });
  const after = plan.writes.get(t.id)!;
  assert.deepEqual(after.status.map((s) => s.status), [
    "TASK_QUEUED",
    "TASK_STAGING",
    "TASK_DROPPED",
    "TASK_QUEUED",
  ]);
  assert.equal(after.retry, 0);
  assert.equal(after.mesos_task_id, t.id);
  assert.equal(after.not_before, 10_000 + retryDelayMs(0));
  const e = plan.effects[0];
  assert.ok(e.kind === "changed" && e.retried && !e.terminal);
  // A kill requested while it was staging: the drop ends it.
  const killing = { ...t, status: [...t.status, { time: 2, status: "TASK_TERMINATING" as const }] };
  const ended = planUpdates([st(t.id, "TASK_DROPPED")], new Map([[t.id, killing]]), { now: 0 });
  assert.equal(ended.writes.get(t.id)!.status.at(-1)!.status, "TASK_DROPPED");
  const k = ended.effects[0];
  assert.ok(k.kind === "changed" && k.terminal && !k.retried);
});
