/**
 * The few names only the development cluster uses; every Mesos message shape
 * comes from `src/mesos/types.ts`, shared with the scheduler client.
 *
 * @module
 */

/** A scheduler `Event` as the cluster emits it (built field by field, then encoded). */
export interface Event {
  type: string;
  [key: string]: unknown;
}

/** The version string the devcluster reports, as a Mesos 1.11 master would. */
export const MESOS_VERSION = "1.11.0";
