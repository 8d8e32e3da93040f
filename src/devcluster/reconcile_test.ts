import assert from "node:assert/strict";
import type { Framework, MasterTask } from "./model.ts";
import { reconcileStatuses } from "./reconcile.ts";

function framework(partitionAware: boolean, tasks: MasterTask[] = []): Framework {
  return {
    caps: new Set(partitionAware ? ["PARTITION_AWARE"] : []),
    tasks: new Map(tasks.map((t) => [t.info.task_id.value, t])),
    unreachable: new Map(),
  } as unknown as Framework;
}

const running = {
  info: { task_id: { value: "t1" } },
  agentId: "a1",
  state: "TASK_RUNNING",
} as unknown as MasterTask;

const ctx = (
  states: Record<string, "active" | "unreachable" | "gone">,
  recovering: string[] = [],
) => ({
  recovering: new Set<string>(recovering),
  agentState: (id: string) => states[id],
  nowSeconds: 12.5,
});

Deno.test("reconcileStatuses(): implicit reconciliation answers every known task", () => {
  const out = reconcileStatuses(framework(true, [running]), [], ctx({}));
  assert.deepEqual(out.map((s) => [s.task_id.value, s.state, s.agent_id?.value, s.timestamp]), [
    ["t1", "TASK_RUNNING", "a1", 12.5],
  ]);
});

Deno.test("reconcileStatuses(): unknown tasks by agent state, per PARTITION_AWARE", () => {
  const asked = ["a1", "a2", "a3", "a4"].map((a, i) => ({
    task_id: { value: `x${i}` },
    agent_id: { value: a },
  }));
  const states = { a1: "active", a2: "unreachable", a3: "gone" } as const;
  assert.deepEqual(reconcileStatuses(framework(true), asked, ctx(states)).map((s) => s.state), [
    "TASK_GONE",
    "TASK_UNREACHABLE",
    "TASK_GONE_BY_OPERATOR",
    "TASK_UNKNOWN",
  ]);
  assert.deepEqual(
    reconcileStatuses(framework(false), asked, ctx(states)).map((s) => s.state),
    ["TASK_LOST", "TASK_LOST", "TASK_LOST", "TASK_LOST"],
  );
});

Deno.test("reconcileStatuses(): no answer while the named agent is still recovering", () => {
  const asked = [{ task_id: { value: "x" }, agent_id: { value: "a9" } }];
  assert.deepEqual(reconcileStatuses(framework(true), asked, ctx({}, ["a9"])), []);
});
