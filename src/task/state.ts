/**
 * Task states, their classes and the pure transitions of the task state machine.
 *
 * @module
 */

/** States set by Eremetic itself (never by Mesos). */
export const EREMETIC_STATES = ["TASK_QUEUED", "TASK_TERMINATING"] as const;

/** Every Mesos task state (mesos.proto `TaskState`). */
export const MESOS_STATES = [
  "TASK_STAGING",
  "TASK_STARTING",
  "TASK_RUNNING",
  "TASK_KILLING",
  "TASK_FINISHED",
  "TASK_FAILED",
  "TASK_KILLED",
  "TASK_ERROR",
  "TASK_LOST",
  "TASK_DROPPED",
  "TASK_UNREACHABLE",
  "TASK_GONE",
  "TASK_GONE_BY_OPERATOR",
  "TASK_UNKNOWN",
] as const;

export type TaskState = typeof EREMETIC_STATES[number] | typeof MESOS_STATES[number];

/** The list-filter classes of reference §4.2. */
export type StateClass = "queued" | "active" | "terminated";
export const STATE_CLASSES: readonly StateClass[] = ["queued", "active", "terminated"];

/**
 * Terminal states. Unlike the original (defect D8), `TASK_ERROR`, `TASK_DROPPED`,
 * `TASK_GONE*` and `TASK_UNKNOWN` are terminal: Mesos will never send another
 * update for such a task.
 */
const TERMINAL = new Set<string>([
  "TASK_FINISHED",
  "TASK_FAILED",
  "TASK_KILLED",
  "TASK_LOST",
  "TASK_ERROR",
  "TASK_DROPPED",
  "TASK_GONE",
  "TASK_GONE_BY_OPERATOR",
  "TASK_UNKNOWN",
]);

/**
 * States that mean the infrastructure, not the task, failed: the task may be
 * launched again (within `max_retries`) even if it was running.
 */
const INFRASTRUCTURE_FAILURES = new Set<string>([
  "TASK_LOST",
  "TASK_DROPPED",
  "TASK_GONE",
  "TASK_GONE_BY_OPERATOR",
  // Reconciliation's answer for a task the master never saw (staged, then a crash
  // before the ACCEPT left): launching it again is the only way it ever runs.
  "TASK_UNKNOWN",
]);

/** Whether `state` is final. */
export function isTerminal(state: string | undefined): boolean {
  return state === undefined || TERMINAL.has(state);
}

/** The list-filter class of a current state (`undefined` = empty history = terminated). */
export function classOf(state: string | undefined): StateClass {
  if (state === "TASK_QUEUED") return "queued";
  return isTerminal(state) ? "terminated" : "active";
}

/** Whether `s` is a state name this program knows. */
export function isTaskState(s: string): s is TaskState {
  return (EREMETIC_STATES as readonly string[]).includes(s) ||
    (MESOS_STATES as readonly string[]).includes(s);
}

/** One entry of a task's status history: epoch seconds and a state. */
export interface StatusEntry {
  time: number;
  status: TaskState;
}

/** The part of a task record the state machine reads and writes. */
export interface Lifecycle {
  status: StatusEntry[];
  retry: number;
  max_retries: number;
}

/** The current (last) state, or `undefined` for an empty history. */
export function currentState(task: { status: StatusEntry[] }): TaskState | undefined {
  return task.status.at(-1)?.status;
}

/** Whether the task ever reached `TASK_RUNNING` in its current attempt. */
export function wasRunning(task: { status: StatusEntry[] }): boolean {
  for (let i = task.status.length - 1; i >= 0; i--) {
    const s = task.status[i].status;
    if (s === "TASK_RUNNING") return true;
    if (s === "TASK_QUEUED") return false;
  }
  return false;
}

/**
 * Appends `state` unless it is already the current state (no duplicate entries
 * for repeated identical updates, fixing D15). Returns a new history.
 */
export function appendStatus(history: StatusEntry[], state: TaskState, timeSec: number) {
  if (history.at(-1)?.status === state) return history;
  return [...history, { time: timeSec, status: state }];
}

/** What an update did to a task. */
export interface Transition<T extends Lifecycle> {
  task: T;
  /** The history changed. */
  changed: boolean;
  /** The task reached a final state (callback, metrics). */
  terminal: boolean;
  /** The task went back to `TASK_QUEUED` for another attempt. */
  retried: boolean;
}

/**
 * Applies a state reported by Mesos. A failure before running (or a loss of the
 * agent at any time) re-queues the task while `retry < max_retries`, as the
 * original does for failures before running (reference §4.5).
 */
export function applyMesosState<T extends Lifecycle>(
  task: T,
  state: TaskState,
  timeSec: number,
): Transition<T> {
  const before = currentState(task);
  if (isTerminal(before) && task.status.length > 0) {
    // A late or repeated update for a finished task changes nothing.
    return { task, changed: false, terminal: false, retried: false };
  }
  if (before === "TASK_QUEUED") {
    // Only reconciliation could say this of a task we have not launched; ignore.
    return { task, changed: false, terminal: false, retried: false };
  }
  // While a kill is pending, non-terminal updates keep TERMINATING as the visible state.
  if (before === "TASK_TERMINATING" && !isTerminal(state)) {
    return { task, changed: false, terminal: false, retried: false };
  }
  let status = appendStatus(task.status, state, timeSec);
  const changed = status !== task.status;
  if (!isTerminal(state)) {
    return { task: { ...task, status }, changed, terminal: false, retried: false };
  }
  const retryable = before !== "TASK_TERMINATING" &&
    ((state === "TASK_FAILED" && !wasRunning(task)) || INFRASTRUCTURE_FAILURES.has(state)) &&
    task.retry < task.max_retries;
  if (retryable) {
    status = appendStatus(status, "TASK_QUEUED", timeSec);
    return {
      task: { ...task, status, retry: task.retry + 1 },
      changed: true,
      terminal: false,
      retried: true,
    };
  }
  return { task: { ...task, status }, changed, terminal: true, retried: false };
}

/**
 * Whether a `TASK_DROPPED` update sends the task back to the queue without spending a
 * retry: Mesos drops a launch it refused before any agent saw it (its offer was rescinded
 * on the way, its agent went away meanwhile), so nothing ran and the next offer may take it.
 * Only a task still `TASK_STAGING` qualifies; a kill pending meanwhile ends it instead.
 */
export function isDroppedLaunch(task: { status: StatusEntry[] }, state: TaskState): boolean {
  return state === "TASK_DROPPED" && currentState(task) === "TASK_STAGING";
}

/**
 * A launch Mesos dropped ({@linkcode isDroppedLaunch}): `TASK_DROPPED` then `TASK_QUEUED`
 * in the history, the same attempt (`retry` unchanged) queued again.
 */
export function applyDroppedLaunch<T extends Lifecycle>(task: T, timeSec: number): Transition<T> {
  const status = appendStatus(
    appendStatus(task.status, "TASK_DROPPED", timeSec),
    "TASK_QUEUED",
    timeSec,
  );
  return { task: { ...task, status }, changed: true, terminal: false, retried: true };
}

/** Why a kill was refused. */
export type KillRefusal = "terminal";

/**
 * A kill request: a queued task becomes `TASK_KILLED` at once (D9); a launched
 * one becomes `TASK_TERMINATING` until Mesos confirms.
 */
export function applyKillRequest<T extends Lifecycle>(
  task: T,
  timeSec: number,
): Transition<T> | KillRefusal {
  const state = currentState(task);
  if (isTerminal(state)) return "terminal";
  if (state === "TASK_QUEUED") {
    const status = appendStatus(task.status, "TASK_KILLED", timeSec);
    return { task: { ...task, status }, changed: true, terminal: true, retried: false };
  }
  const status = appendStatus(task.status, "TASK_TERMINATING", timeSec);
  return {
    task: { ...task, status },
    changed: status !== task.status,
    terminal: false,
    retried: false,
  };
}
