/**
 * RECONCILE: the statuses a master answers with, explicit (named tasks) or
 * implicit (every known task), honouring PARTITION_AWARE; and the status a
 * master writes on its own (`SOURCE_MASTER`).
 *
 * @module
 */
import type { TaskState, TaskStatus } from "../mesos/types.ts";
import type { AgentRecord, Framework, MasterTask } from "./model.ts";

/** What reconciliation reads of the master besides the framework. */
export interface ReconcileContext {
  /** Agent ids of the registry still expected to reregister. */
  readonly recovering: ReadonlySet<string>;
  /** The master's view of an agent, or undefined if unknown. */
  agentState(agentId: string): AgentRecord["state"] | undefined;
  /** The time, in seconds since the epoch. */
  readonly nowSeconds: number;
}

/** A status update the master itself sends. */
export function masterStatus(
  taskId: string,
  state: TaskState,
  reason: string,
  message: string,
  nowSeconds: number,
  agentId?: string,
  extra: Partial<TaskStatus> = {},
): TaskStatus {
  const status: TaskStatus = {
    task_id: { value: taskId },
    state,
    message,
    source: "SOURCE_MASTER",
    reason,
    timestamp: nowSeconds,
    ...extra,
  };
  if (agentId !== undefined) status.agent_id = { value: agentId };
  return status;
}

/** The answers to a RECONCILE call, in order. */
export function reconcileStatuses(
  fw: Framework,
  tasks: readonly { task_id: { value: string }; agent_id?: { value: string } }[],
  ctx: ReconcileContext,
): TaskStatus[] {
  const out: TaskStatus[] = [];
  const update = (
    taskId: string,
    state: TaskState,
    reason: string,
    message: string,
    agentId?: string,
    extra: Partial<TaskStatus> = {},
  ) => out.push(masterStatus(taskId, state, reason, message, ctx.nowSeconds, agentId, extra));
  const message = "Reconciliation: Latest task state";
  const pa = fw.caps.has("PARTITION_AWARE");
  const known = (t: MasterTask) => {
    const update: TaskStatus = {
      task_id: { value: t.info.task_id.value },
      state: t.statusUpdateState ?? t.state,
      message,
      source: "SOURCE_MASTER",
      reason: "REASON_RECONCILIATION",
      agent_id: { value: t.agentId },
      timestamp: ctx.nowSeconds,
    };
    out.push(update);
  };
  if (!tasks.length) {
    for (const t of fw.tasks.values()) known(t);
    return out;
  }
  for (const { task_id, agent_id } of tasks) {
    const t = fw.tasks.get(task_id.value);
    if (t) {
      known(t);
      continue;
    }
    const aid = agent_id?.value;
    const un = fw.unreachable.get(task_id.value);
    if (un) {
      update(
        task_id.value,
        pa ? "TASK_UNREACHABLE" : "TASK_LOST",
        "REASON_RECONCILIATION",
        "Reconciliation: Task is unreachable",
        un.agentId,
        pa && un.unreachableTime
          ? { unreachable_time: { nanoseconds: un.unreachableTime * 1e6 } }
          : {},
      );
      continue;
    }
    if (aid !== undefined ? ctx.recovering.has(aid) : ctx.recovering.size > 0) continue;
    const state = aid !== undefined ? ctx.agentState(aid) : undefined;
    if (state === "active") {
      update(
        task_id.value,
        pa ? "TASK_GONE" : "TASK_LOST",
        "REASON_RECONCILIATION",
        "Reconciliation: Task is unknown to the agent",
        aid,
      );
    } else if (state === "unreachable") {
      update(
        task_id.value,
        pa ? "TASK_UNREACHABLE" : "TASK_LOST",
        "REASON_RECONCILIATION",
        "Reconciliation: Task is unreachable",
        aid,
      );
    } else if (state === "gone") {
      update(
        task_id.value,
        pa ? "TASK_GONE_BY_OPERATOR" : "TASK_LOST",
        "REASON_RECONCILIATION",
        "Reconciliation: Task is gone",
        aid,
      );
    } else {
      update(
        task_id.value,
        pa ? "TASK_UNKNOWN" : "TASK_LOST",
        "REASON_RECONCILIATION",
        "Reconciliation: Task is unknown",
        aid,
      );
    }
  }
  return out;
}
