/**
 * The few names only the development cluster uses; every Mesos message shape
 * comes from `src/mesos/types.ts`, and the scheduler events it sends are
 * `src/mesos/events.ts`'s `Event` union, both shared with the scheduler client.
 *
 * @module
 */

export type { Event } from "../mesos/events.ts";

/** The version string the devcluster reports, as a Mesos 1.11 master would. */
export const MESOS_VERSION = "1.11.0";
