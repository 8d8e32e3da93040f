/**
 * The notify step: what the rest of Eremetic hears of stored state changes. The
 * listener's work (a callback delivery written to the outbox) is awaited before the
 * updates are acknowledged, so it survives a crash; metrics follow.
 *
 * @module
 */
import type { Metrics } from "../metrics/mod.ts";
import { currentState, type TaskRecord, type TaskState } from "../task/mod.ts";
import type { UpdateEffect } from "./update.ts";

/** What the scheduler tells the rest of Eremetic after a state change is stored. */
export interface StateListener {
  /**
   * Every stored state change (callbacks decide what to send). A status update is
   * acknowledged to Mesos only after the promise settles, so what it stores (a
   * callback delivery) survives a crash: otherwise Mesos would not resend the update.
   */
  taskChanged(
    task: TaskRecord,
    state: TaskState,
    timeSec: number,
    terminal: boolean,
  ): void | Promise<void>;
}

/** Tells the listener of `task`'s current state. */
export function notifyTask(
  listener: StateListener | undefined,
  task: TaskRecord,
  timeSec: number,
  terminal: boolean,
): void | Promise<void> {
  const state = currentState(task);
  return state ? listener?.taskChanged(task, state, timeSec, terminal) : undefined;
}

/**
 * Tells the listener of every stored change, in order; a retried task is heard failing,
 * then queued again. Resolves when all listener work has settled.
 */
export async function notifyEffects(
  listener: StateListener | undefined,
  effects: readonly UpdateEffect[],
  timeSec: number,
): Promise<void> {
  if (!listener) return;
  // Only listener work that returned a promise is waited for (most changes store none).
  const heard: Promise<void>[] = [];
  const keep = (r: void | Promise<void>) => {
    if (r) heard.push(r);
  };
  for (const e of effects) {
    if (e.kind !== "changed") continue;
    if (e.retried) {
      const failed = { ...e.after, status: e.after.status.slice(0, -1) };
      keep(listener.taskChanged(failed, e.state, timeSec, false));
      keep(notifyTask(listener, e.after, timeSec, false));
    } else {
      keep(notifyTask(listener, e.after, timeSec, e.terminal));
    }
  }
  if (heard.length > 0) await Promise.allSettled(heard);
}

/** Counts stored changes in the scheduler's metrics. */
export function countEffects(metrics: Metrics, effects: readonly UpdateEffect[], now: number) {
  for (const e of effects) {
    if (e.kind !== "changed") continue;
    if (e.started) {
      metrics.tasksRunning.inc();
      metrics.submitToRunning.observe((now - e.after.submitted_at) / 1000);
    } else if (e.stopped) {
      metrics.tasksRunning.dec();
    }
    if (e.terminal || e.retried) {
      metrics.tasksTerminated.inc({ status: e.state, sequence: e.retried ? "retry" : "final" });
    }
  }
}
