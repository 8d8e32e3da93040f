/**
 * The scheduler: turns queued tasks into Mesos launches and Mesos updates into
 * task states. `matchOffers` and `buildTaskInfo` are pure; `startScheduler` is
 * the loop around them.
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
