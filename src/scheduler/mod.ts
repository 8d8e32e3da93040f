/**
 * The scheduler: turns queued tasks into Mesos launches and Mesos updates into
 * task states.
 *
 * ```ts
 * import { queueOnlyControl } from "./mod.ts";
 * ```
 *
 * @module
 */
export * from "./control.ts";
