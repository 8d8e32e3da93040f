/**
 * The scheduler: turns queued tasks into Mesos launches and Mesos updates into
 * task states. One state object and small stages: match (`match.ts`, pure) → stage
 * (`stage.ts`) → accept (`accept.ts`); update (`update.ts`, pure) → store (`commit.ts`)
 * → notify (`notify.ts`) → ack (`ack.ts`). `startScheduler` (`loop.ts`) runs them over
 * one `SchedulerState` (`state.ts`), events read in turns (`turns.ts`), per-task ordering
 * (`chains.ts`); the queue is a bounded window on the store's (`queue.ts`).
 *
 * ```ts
 * import { queueOnlyControl } from "./mod.ts";
 * ```
 *
 * @module
 */
export * from "./control.ts";
export * from "./framework_info.ts";
export * from "./match.ts";
export * from "./task_info.ts";
export * from "./loop.ts";
export { SchedulerState } from "./state.ts";
