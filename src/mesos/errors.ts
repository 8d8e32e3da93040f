/**
 * Errors of the Mesos client. Each knows whether it is `temporary` (worth retrying after a
 * back-off) so loops only ask `err.temporary` (mesos-go `apierrors.go`).
 *
 * @module
 */

/** Longest part of a response body kept in an error message. */
const MAX_BODY_IN_MESSAGE_CHARS = 200;

/**
 * Whether an HTTP status from the master is worth retrying: 429, 503 (no leader elected,
 * master still recovering) and the other 5xx. For SUBSCRIBE a 404 is temporary too: a
 * starting master answers 404 until its routes are installed (reference §11).
 */
export function isTemporaryStatus(status: number, callType?: string): boolean {
  if (status === 429 || status >= 500) return true;
  return status === 404 && callType === "SUBSCRIBE";
}

/**
 * Whether a failed non-SUBSCRIBE call means the subscription it belongs to is over
 * (reference §1.3 steps 13–18): the framework is unknown or removed, no longer subscribed,
 * or the stream id is missing or stale. The only cure is to subscribe again.
 */
export function losesSubscription(status: number, body: string, callType?: string): boolean {
  if (callType === "SUBSCRIBE") return false;
  if (status === 403) return /not subscribed|not connected via HTTP/i.test(body);
  if (status !== 400) return false;
  return /Framework cannot be found/i.test(body) ||
    /Mesos-Stream-Id/i.test(body) ||
    /didn't match the stream ID/i.test(body);
}

/** The master answered a call with an unexpected HTTP status. */
export class MesosApiError extends Error {
  override name = "MesosApiError";
  /** HTTP status code. */
  readonly status: number;
  /** Response body (the master's plain-text explanation). */
  readonly body: string;
  /** The call type, e.g. `"ACCEPT"`. */
  readonly callType: string;
  /** Worth retrying after a back-off. */
  readonly temporary: boolean;
  /** The subscription is gone; subscribe again before sending more calls. */
  readonly subscriptionLost: boolean;

  constructor(
    callType: string,
    status: number,
    body: string,
    options?: ErrorOptions & { temporary?: boolean },
  ) {
    const shown = body.trim().slice(0, MAX_BODY_IN_MESSAGE_CHARS);
    super(
      `Cannot ${callType}: master answered ${status}${shown ? ` "${shown}"` : ""}`,
      options,
    );
    this.status = status;
    this.body = body;
    this.callType = callType;
    this.temporary = options?.temporary ?? isTemporaryStatus(status, callType);
    this.subscriptionLost = losesSubscription(status, body, callType);
  }
}

/** The master could not be reached, or did not answer in time. Always temporary. */
export class MesosConnectionError extends Error {
  override name = "MesosConnectionError";
  readonly temporary = true;
  /** The call type, e.g. `"SUBSCRIBE"`. */
  readonly callType: string;
  /** The endpoint that failed. */
  readonly url: string;
  /**
   * Whether the master may have received and processed the request: false only when the
   * connection could not even be opened. Decides whether a non-idempotent call (ACCEPT) may
   * be retried.
   */
  readonly maybeProcessed: boolean;

  constructor(
    callType: string,
    url: string,
    options?: ErrorOptions & { maybeProcessed?: boolean; detail?: string },
  ) {
    const cause = options?.cause;
    const detail = options?.detail ?? (cause instanceof Error ? cause.message : "");
    super(
      `Cannot ${callType}: no answer from master "${url}"${detail ? `: ${detail}` : ""}`,
      options,
    );
    this.callType = callType;
    this.url = url;
    this.maybeProcessed = options?.maybeProcessed ?? true;
  }
}

/** Why a subscription ended. */
export type SubscriptionLostReason =
  /** The master closed the stream (or the connection broke). */
  | "stream_ended"
  /** No bytes for several heartbeat intervals. */
  | "heartbeat_timeout"
  /** The master sent an ERROR event (subscription refused, or `Framework failed over`). */
  | "error_event"
  /** A call was refused because the framework is no longer subscribed. */
  | "call_rejected"
  /** The stream could not be decoded. */
  | "protocol_error"
  /** The leading master changed. */
  | "leader_changed"
  /** A call was attempted while no subscription was open. */
  | "not_subscribed"
  /** Closed on purpose by this process. */
  | "closed";

/** The subscription ended, or there is none to send a call on. */
export class SubscriptionLostError extends Error {
  override name = "SubscriptionLostError";
  readonly reason: SubscriptionLostReason;
  /**
   * Worth subscribing again after a back-off. False for an ERROR event (the master refused
   * the framework, or another instance took over) and for a deliberate close.
   */
  readonly temporary: boolean;

  constructor(reason: SubscriptionLostReason, message: string, options?: ErrorOptions) {
    super(message, options);
    this.reason = reason;
    this.temporary = reason !== "error_event" && reason !== "closed";
  }
}

/** What a master's ERROR event (Mesos's `FrameworkErrorMessage`) says about this framework. */
export type FrameworkErrorKind =
  /**
   * Another scheduler subscribed with this framework id and owns it now: stop scheduling
   * (two instances would keep evicting each other), but the id stays valid.
   */
  | "failed_over"
  /** The framework was torn down, or its failover timeout expired: the id is dead for good. */
  | "removed"
  /** Any other refusal of the subscription (authorization, invalid `FrameworkInfo`, ...). */
  | "refused";

/**
 * The kind of an ERROR event's message. Mesos sends only text here, so this is the one
 * place that reads it (reference `mesos-v1.md`: `Framework failed over`, `Framework has
 * been removed`); everything above asks `FrameworkError.kind`.
 */
export function frameworkErrorKind(message: string): FrameworkErrorKind {
  if (/^Framework failed over/i.test(message)) return "failed_over";
  if (/^Framework (has been )?removed|torn down/i.test(message)) return "removed";
  return "refused";
}

/**
 * The master sent an ERROR event: the subscription is over and re-subscribing as is will
 * not help (`temporary` is false). `kind` says what to do instead.
 */
export class FrameworkError extends SubscriptionLostError {
  override name = "FrameworkError";
  readonly kind: FrameworkErrorKind;
  /** The master's own words. */
  readonly masterMessage: string;

  constructor(masterMessage: string, options?: ErrorOptions) {
    super(
      "error_event",
      `Subscription refused or ended by the master: ${masterMessage}`,
      options,
    );
    this.masterMessage = masterMessage;
    this.kind = frameworkErrorKind(masterMessage);
  }
}

/** The stream broke the RecordIO or event framing. */
export class MesosProtocolError extends Error {
  override name = "MesosProtocolError";
  readonly temporary = true;
}

/** Whether `err` says it is worth retrying. */
export function isTemporary(err: unknown): boolean {
  return typeof err === "object" && err !== null &&
    (err as { temporary?: unknown }).temporary === true;
}

/**
 * Too many `{ ordered: false }` calls are already waiting for the pipeline: this one was
 * not sent. Temporary; for an ACKNOWLEDGE the agent resends its update later anyway.
 */
export class CallQueueFullError extends Error {
  override name = "CallQueueFullError";
  readonly temporary = true;
  /** The call type, e.g. `"ACKNOWLEDGE"`. */
  readonly callType: string;
  /** The limit that was reached. */
  readonly limit: number;

  constructor(callType: string, limit: number) {
    super(`Cannot ${callType}: ${limit} calls are already waiting to be sent`);
    this.callType = callType;
    this.limit = limit;
  }
}
