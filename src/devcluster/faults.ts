/**
 * Failure injection switches shared by every master of a cluster.
 *
 * @module
 */

/** Switches shared by every master of a cluster, flipped by failure injection. */
export interface Faults {
  /** Heartbeats are not sent while true (all frameworks). */
  heartbeatsStopped: boolean;
  /** Frameworks whose heartbeats are not sent. */
  heartbeatsStoppedFor: Set<string>;
  /** Number of upcoming ACKNOWLEDGE calls to drop (Infinity = all). */
  dropAcks: number;
  /** Delay before an ACKNOWLEDGE reaches the agent. */
  delayAcksMs: number;
  /** Split each RecordIO record into chunks of at most this many bytes (0 = one chunk per record). */
  splitChunksBytes: number;
  /**
   * Frameworks whose stream stays open but carries no more bytes (a half-open connection),
   * each with the serial of the last subscription it covers: a subscription opened later
   * is a new connection and is not stalled.
   */
  stalled: Map<string, number>;
  /**
   * Number of upcoming ACCEPT calls whose framework's offers are rescinded just before
   * the master reads them (a RESCIND crossing the ACCEPT on the wire).
   */
  rescindBeforeAccept: number;
}

/** Fresh fault switches, all off. */
export function noFaults(): Faults {
  return {
    heartbeatsStopped: false,
    heartbeatsStoppedFor: new Set(),
    dropAcks: 0,
    delayAcksMs: 0,
    splitChunksBytes: 0,
    stalled: new Map(),
    rescindBeforeAccept: 0,
  };
}
