/**
 * Capped exponential back-off with jitter, shared by call retries and resubscription.
 *
 * @module
 */

/** How long to wait between attempts. */
export interface BackoffOptions {
  /** Delay before the second attempt (before jitter). */
  initialMs?: number;
  /** Upper bound of any delay. */
  maxMs?: number;
}

/** First retry delay of calls and resubscriptions. */
export const DEFAULT_BACKOFF_INITIAL_MS = 250;
/** Cap of the back-off: about what the Mesos docs recommend for reconnects (15 s). */
export const DEFAULT_BACKOFF_MAX_MS = 15_000;

/**
 * The delay before retry number `attempt` (0-based): `min(max, initial·2^attempt)`, then
 * "equal jitter" — uniformly between half of it and all of it, so many clients restarted
 * together spread out, yet never retry in a tight loop.
 */
export function backoffDelay(
  attempt: number,
  { initialMs = DEFAULT_BACKOFF_INITIAL_MS, maxMs = DEFAULT_BACKOFF_MAX_MS }: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  const exp = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(exp / 2 + random() * (exp / 2));
}
