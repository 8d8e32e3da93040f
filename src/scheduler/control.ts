/**
 * What the API may ask of the scheduler, and a queue-only implementation used
 * when no Mesos master is configured.
 *
 * @module
 */
import type { Metrics } from "../metrics/mod.ts";
import type { Clock } from "../runtime.ts";
import type { TaskStore } from "../store/mod.ts";
import { applyKillRequest, type TaskRecord } from "../task/mod.ts";

/** The connection to Mesos as the health endpoint reports it. */
export interface SchedulerStatus {
  /** The configured master, `null` when none is. */
  master: string | null;
  /** `standby`: a high-availability follower; the leader subscribes (src/ha). */
  state: "no-master" | "connecting" | "subscribed" | "disconnected" | "standby";
  frameworkId: string | null;
  /** Why the last attempt failed, if it did. */
  detail?: string;
}

/** How a kill request ended. */
export type KillOutcome = "not_found" | "terminal" | "killed" | "killing";

/** Called after a state change is stored (callbacks, metrics). */
export type TransitionHook = (task: TaskRecord, terminal: boolean) => void | Promise<void>;

/** The scheduler as the API sees it. */
export interface TaskControl {
  /** A task was stored in `TASK_QUEUED`: consider launching it now. */
  taskCreated(task: TaskRecord): void;
  /** Kills a task: a queued one at once, a launched one through Mesos. */
  killTask(id: string): Promise<KillOutcome>;
  status(): SchedulerStatus;
}

export interface QueueOnlyOptions {
  store: TaskStore;
  clock: Clock;
  metrics?: Metrics;
  onTransition?: TransitionHook;
}

/**
 * Applies a kill request to the stored task. Shared by every `TaskControl`:
 * a queued task ends `TASK_KILLED` at once (D9); a launched one becomes
 * `TASK_TERMINATING` and the caller asks Mesos.
 */
export async function recordKillRequest(
  id: string,
  { store, clock, metrics, onTransition }: QueueOnlyOptions,
): Promise<{ outcome: KillOutcome; task: TaskRecord | null }> {
  const task = await store.getTask(id);
  if (!task) return { outcome: "not_found", task: null };
  const result = applyKillRequest(task, Math.floor(clock.now() / 1000));
  if (result === "terminal") return { outcome: "terminal", task };
  if (result.changed) await store.updateTask(result.task);
  if (result.terminal) {
    metrics?.queueSize.dec();
    metrics?.tasksTerminated.inc({ status: "TASK_KILLED", sequence: "final" });
  }
  // Awaited: what the hook stores (a callback delivery) is durable before the answer.
  if (result.changed) await onTransition?.(result.task, result.terminal);
  return { outcome: result.terminal ? "killed" : "killing", task: result.task };
}

/** A `TaskControl` for running without a Mesos master: tasks wait in the queue. */
export function queueOnlyControl(options: QueueOnlyOptions): TaskControl {
  // One kill at a time, so concurrent kills of one task are applied once.
  let chain: Promise<unknown> = Promise.resolve();
  return {
    taskCreated() {},
    killTask(id) {
      const next = chain.then(async () => (await recordKillRequest(id, options)).outcome);
      chain = next.catch(() => {});
      return next;
    },
    status: () => ({ master: null, state: "no-master", frameworkId: null }),
  };
}
