/**
 * The update step: what a batch of Mesos status updates does to the tasks they name.
 * Pure: given the current records, it returns the records to write and, per update,
 * what follows (acknowledge, notify, re-queue). Updates of one task in one batch are
 * applied in order to the same record, which is then written once.
 *
 * @module
 */
import type { TaskStatus } from "../mesos/mod.ts";
import { sandboxFromStatusData } from "../sandbox/mod.ts";
import {
  applyDroppedLaunch,
  applyMesosState,
  currentState,
  isDroppedLaunch,
  isTaskState,
  type TaskRecord,
  type TaskState,
  wasRunning,
} from "../task/mod.ts";

/** Back-off before a retry may launch: base × 2^(retry-1), capped. */
export const RETRY_BASE_MS = 1_000;
export const RETRY_MAX_MS = 60_000;

/** The Eremetic task id of a Mesos task id (`<id>` or `<id>.retry-<n>`). */
export function publicIdOf(mesosTaskId: string): string {
  return mesosTaskId.includes(".retry-") ? mesosTaskId.replace(/\.retry-\d+$/, "") : mesosTaskId;
}

/** The Mesos task id of attempt `retry` (0 = first). New ids per attempt, as Mesos advises (D26). */
export function mesosIdOf(id: string, retry: number): string {
  return retry === 0 ? id : `${id}.retry-${retry}`;
}

/** The back-off before a retry may launch. */
export function retryDelayMs(retry: number): number {
  return Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.max(0, retry - 1));
}

/** Why an update changes nothing. */
export type IgnoreReason =
  | "unknown_task"
  | "earlier_attempt"
  | "unknown_state"
  /** An earlier step of the launch arriving after a later one (a late resend). */
  | "stale"
  | "unchanged";

/** The steps of a launch, in the order Mesos reports them. */
const LAUNCH_STEP: Partial<Record<string, number>> = {
  TASK_STAGING: 1,
  TASK_STARTING: 2,
  TASK_RUNNING: 3,
};

/** What one status update does. */
export type UpdateEffect =
  | { kind: "ignored"; status: TaskStatus; reason: IgnoreReason }
  | {
    kind: "changed";
    status: TaskStatus;
    state: TaskState;
    /** The record before and after this update. */
    before: TaskRecord;
    after: TaskRecord;
    terminal: boolean;
    retried: boolean;
    /** Reached `TASK_RUNNING` for the first time in this attempt. */
    started: boolean;
    /** Was `TASK_RUNNING` and is not anymore. */
    stopped: boolean;
  };

/** Options of {@linkcode planUpdates}. */
export interface PlanOptions {
  /** Milliseconds since the epoch. */
  now: number;
}

/** The plan of a batch: records to write (by task id) and one effect per update, in order. */
export interface UpdatePlan {
  writes: Map<string, TaskRecord>;
  effects: UpdateEffect[];
}

/**
 * Applies `statuses` (in arrival order) to `records` (by public task id; `null` = not
 * stored).
 */
export function planUpdates(
  statuses: readonly TaskStatus[],
  records: ReadonlyMap<string, TaskRecord | null>,
  { now }: PlanOptions,
): UpdatePlan {
  const current = new Map(records);
  const writes = new Map<string, TaskRecord>();
  const effects: UpdateEffect[] = [];
  const timeSec = Math.floor(now / 1000);
  for (const status of statuses) {
    const mesosId = status.task_id.value;
    const id = publicIdOf(mesosId);
    const task = current.get(id) ?? null;
    if (!task) {
      effects.push({ kind: "ignored", status, reason: "unknown_task" });
      continue;
    }
    if (task.mesos_task_id !== mesosId) {
      effects.push({ kind: "ignored", status, reason: "earlier_attempt" });
      continue;
    }
    if (!isTaskState(status.state)) {
      effects.push({ kind: "ignored", status, reason: "unknown_state" });
      continue;
    }
    const step = LAUNCH_STEP[status.state];
    const reached = LAUNCH_STEP[currentState(task) ?? ""];
    if (step !== undefined && reached !== undefined && step < reached) {
      effects.push({ kind: "ignored", status, reason: "stale" });
      continue;
    }
    const t = isDroppedLaunch(task, status.state)
      ? applyDroppedLaunch(task, timeSec)
      : applyMesosState(task, status.state, timeSec);
    if (!t.changed) {
      effects.push({ kind: "ignored", status, reason: "unchanged" });
      continue;
    }
    let next = t.task;
    if (status.agent_id?.value && !next.agent_id) {
      next = { ...next, agent_id: status.agent_id.value };
    }
    if (status.state === "TASK_RUNNING" && !next.sandbox_path) {
      const path = sandboxFromStatusData(status.data);
      if (path) next = { ...next, sandbox_path: path };
    }
    if (t.retried) {
      next = {
        ...next,
        mesos_task_id: mesosIdOf(next.id, next.retry),
        not_before: now + retryDelayMs(next.retry),
      };
    }
    const ranBefore = currentState(task) === "TASK_RUNNING";
    effects.push({
      kind: "changed",
      status,
      state: status.state,
      before: task,
      after: next,
      terminal: t.terminal,
      retried: t.retried,
      started: status.state === "TASK_RUNNING" && !wasRunning(task),
      stopped: ranBefore && status.state !== "TASK_RUNNING",
    });
    current.set(id, next);
    writes.set(id, next);
  }
  return { writes, effects };
}
