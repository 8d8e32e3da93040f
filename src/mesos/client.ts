/**
 * The HTTP side of the scheduler API: one long-lived SUBSCRIBE stream and calls on other
 * connections (reference §1, §11).
 *
 * - SUBSCRIBE resolves once the SUBSCRIBED event has arrived; the stream is decoded
 *   incrementally and read eagerly, so the heartbeat watchdog measures the network, not the
 *   consumer.
 * - Calls carry the current `Mesos-Stream-Id` and `framework_id`, go out one at a time in
 *   the order they were made, and are retried on 503/429 and connection errors with capped
 *   exponential back-off and jitter. ACCEPT is retried only when the master surely did not
 *   process it (503, 429, connection refused): a second ACCEPT of the same offers would turn
 *   launched tasks into `TASK_LOST`/`TASK_DROPPED` updates.
 * - A 307 from a non-leader carries a scheme-less `Location`
 *   (`//host:port/master/api/v1/scheduler`); the client keeps its scheme, switches to that
 *   leader and tries again (redirects are followed here, not by `fetch`, so the client learns
 *   the leader and keeps the `Authorization` header).
 *
 * @module
 */
import { type Clock, type Logger, silentLogger, systemClock } from "../runtime.ts";
import { basicAuthorization, type Credential } from "./auth.ts";
import { backoffDelay, type BackoffOptions } from "./backoff.ts";
import { type Call, encodeCall, type SubscribeCall, withFrameworkId } from "./calls.ts";
import { detectorFor, type MasterDetector } from "./detector.ts";
import {
  FrameworkError,
  MesosApiError,
  MesosConnectionError,
  MesosProtocolError,
  SubscriptionLostError,
} from "./errors.ts";
import { type Event, parseEvent, type SubscribedEvent } from "./events.ts";
import { RecordIODecoder } from "./recordio.ts";
import type { FrameworkID } from "./types.ts";
import { AsyncQueue } from "./_queue.ts";

/** Per-attempt timeout of a non-SUBSCRIBE call. */
export const DEFAULT_CALL_TIMEOUT_MS = 30_000;
/** Time allowed from sending SUBSCRIBE to receiving SUBSCRIBED. */
export const DEFAULT_SUBSCRIBE_TIMEOUT_MS = 30_000;
/** Attempts of one call before its last error is thrown. */
export const DEFAULT_CALL_ATTEMPTS = 6;
/** Redirects followed for one request (mesos-go allows 9). */
export const DEFAULT_MAX_REDIRECTS = 9;
/** Concurrent unordered calls (each on its own connection). */
export const DEFAULT_MAX_UNORDERED_IN_FLIGHT = 8;
/** Missed heartbeats before the stream counts as dead (docs: ~5 × 15 s). */
export const DEFAULT_MISSED_HEARTBEATS = 5;
/** Heartbeat interval assumed when SUBSCRIBED does not say (the master's fixed 15 s). */
export const DEFAULT_HEARTBEAT_INTERVAL_SECONDS = 15;

/** Options of {@linkcode MesosClient}. */
export interface MesosClientOptions {
  /** `http(s)://host:port`, `host:port`, or a detector. */
  master: string | MasterDetector;
  /** HTTP Basic credential sent on every request. */
  credential?: Credential;
  fetch?: typeof fetch;
  clock?: Clock;
  /** Source of jitter, in [0, 1). */
  random?: () => number;
  logger?: Logger;
  /** Per-attempt timeout of a call. */
  callTimeoutMs?: number;
  /** Attempts of a call (1 = no retry). */
  callAttempts?: number;
  /** Back-off between call attempts. */
  callBackoff?: BackoffOptions;
  /** Redirects followed per request. */
  maxRedirects?: number;
  /** Concurrent `{ ordered: false }` calls. */
  maxUnorderedInFlight?: number;
}

/** Options of {@linkcode MesosClient.call}. */
export interface CallOptions {
  signal?: AbortSignal;
  /** Keep the order of calls (default true); false for order-free calls such as ACKNOWLEDGE. */
  ordered?: boolean;
}

/** Options of {@linkcode MesosClient.subscribe}. */
export interface SubscribeRequestOptions {
  signal?: AbortSignal;
  /** Time allowed until SUBSCRIBED arrives. */
  timeoutMs?: number;
  /** The stream counts as dead after this many heartbeat intervals without a byte. */
  missedHeartbeats?: number;
  /** Fixed watchdog timeout in ms, overriding interval × missedHeartbeats. */
  heartbeatTimeoutMs?: number;
  /** Largest accepted event, in bytes. */
  maxRecordBytes?: number;
}

const JSON_TYPE = "application/json";

/** Clears a timer made of `clock.sleep` when the work finishes first. */
function timeout(
  clock: Clock,
  ms: number,
  onTimeout: () => void,
): { cancel(): void } {
  if (clock === systemClock) {
    // The common case, on every call: a plain timer is far cheaper than an aborted sleep.
    const id = setTimeout(onTimeout, ms);
    return { cancel: () => clearTimeout(id) };
  }
  const ac = new AbortController();
  clock.sleep(ms, ac.signal).then(onTimeout, () => {});
  return { cancel: () => ac.abort() };
}

/** Aborts `target` when `source` aborts; returns the unlink function. */
function link(source: AbortSignal | undefined, target: AbortController): () => void {
  if (!source) return () => {};
  if (source.aborted) {
    target.abort(source.reason);
    return () => {};
  }
  const onAbort = () => target.abort(source.reason);
  source.addEventListener("abort", onAbort, { once: true });
  return () => source.removeEventListener("abort", onAbort);
}

/** Whether a fetch error means the connection was never opened (the request surely not seen). */
function neverConnected(err: unknown): boolean {
  const text = err instanceof Error ? `${err.message} ${String(err.cause ?? "")}` : String(err);
  return /connection refused|tcp connect error|dns error|failed to lookup|no route to host/i.test(
    text,
  );
}

/** Resolves a redirect `Location`, scheme-less (`//host:port/path`) as the master sends it. */
export function resolveLocation(location: string, current: URL): URL {
  let text = location.trim();
  // The docs' erratum form `host:port` (no slashes) would parse as a scheme.
  if (/^[a-z0-9.-]+:\d+(\/.*)?$/i.test(text)) text = `//${text}`;
  const url = new URL(text, current);
  // A Location without a path (`//host:port`) keeps the path we were using.
  if (url.pathname === "/" && !/^(?:[a-z]+:)?\/\/[^/]+\/./i.test(text)) {
    url.pathname = current.pathname;
  }
  return url;
}

/** A live SUBSCRIBE stream. Obtained from {@linkcode MesosClient.subscribe}. */
export class Subscription implements AsyncDisposable {
  /** The `Mesos-Stream-Id` every call on this subscription carries. */
  readonly streamId: string;
  /** The scheduler endpoint of the master serving this stream. */
  readonly master: URL;
  /**
   * Every event of this subscription, SUBSCRIBED first, in order. Single consumer. Ends when
   * the subscription ends (see {@linkcode closed} for why); stopping the iteration early
   * closes the subscription.
   */
  readonly events: AsyncIterable<Event>;
  /** Resolves when the subscription is over: `undefined` after `close()`, else the error. */
  readonly closed: Promise<void | Error>;

  #subscribed: SubscribedEvent["subscribed"] | null = null;
  #queue: AsyncQueue<Event>;
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #clock: Clock;
  #logger: Logger;
  #decoder: RecordIODecoder;
  #lastByteAt: number;
  #watchdog = new AbortController();
  #ending = false;
  #resolveClosed!: (result: void | Error) => void;
  #ready: PromiseWithResolvers<void> = Promise.withResolvers();
  #heartbeatTimeoutMs: number | undefined;
  #missedHeartbeats: number;
  #onEnd: (sub: Subscription) => void;

  /** @internal Built by the client. */
  constructor(init: {
    streamId: string;
    master: URL;
    body: ReadableStream<Uint8Array>;
    clock: Clock;
    logger: Logger;
    maxRecordBytes?: number;
    heartbeatTimeoutMs?: number;
    missedHeartbeats: number;
    firstEventTimeoutMs: number;
    onEnd: (sub: Subscription) => void;
  }) {
    this.streamId = init.streamId;
    this.master = init.master;
    this.#clock = init.clock;
    this.#logger = init.logger;
    this.#reader = init.body.getReader();
    this.#decoder = new RecordIODecoder({ maxRecordBytes: init.maxRecordBytes });
    this.#heartbeatTimeoutMs = init.heartbeatTimeoutMs;
    this.#missedHeartbeats = init.missedHeartbeats;
    this.#onEnd = init.onEnd;
    this.#lastByteAt = init.clock.now();
    this.#queue = new AsyncQueue<Event>(() => void this.close());
    this.events = this.#queue;
    this.closed = new Promise((resolve) => this.#resolveClosed = resolve);
    this.#ready.promise.catch(() => {});
    this.#pump();
    this.#watch(init.firstEventTimeoutMs);
  }

  /** The framework id the master confirmed. */
  get frameworkId(): FrameworkID {
    if (!this.#subscribed) throw new Error("Subscription is not established yet");
    return this.#subscribed.framework_id;
  }

  /** The SUBSCRIBED payload: framework id, heartbeat interval, master info. */
  get subscribed(): SubscribedEvent["subscribed"] {
    if (!this.#subscribed) throw new Error("Subscription is not established yet");
    return this.#subscribed;
  }

  /** Whether the subscription has ended. */
  get isClosed(): boolean {
    return this.#ending;
  }

  /** Events received but not yet consumed. */
  get backlog(): number {
    return this.#queue.size;
  }

  /** @internal Resolves when SUBSCRIBED arrived; rejects if the stream ended before. */
  get ready(): Promise<void> {
    return this.#ready.promise;
  }

  /** Closes the stream without TEARDOWN: the framework's tasks keep running. */
  close(): Promise<void> {
    this.#end(undefined);
    return this.closed.then(() => {});
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** @internal Ends the subscription because a call showed it is gone. */
  lose(error: SubscriptionLostError): void {
    this.#end(error);
  }

  #end(error: Error | undefined): void {
    if (this.#ending) return;
    this.#ending = true;
    this.#watchdog.abort();
    this.#reader.cancel().catch(() => {});
    this.#queue.close();
    if (!this.#subscribed) {
      this.#ready.reject(
        error ??
          new SubscriptionLostError("closed", "Cannot subscribe: closed before SUBSCRIBED"),
      );
    }
    if (error) {
      this.#logger.warn("Mesos subscription ended", {
        master: this.master.host,
        stream_id: this.streamId,
        error: error.message,
      });
    }
    this.#onEnd(this);
    this.#resolveClosed(error);
  }

  async #pump(): Promise<void> {
    let error: Error | undefined;
    try {
      read: while (true) {
        const r = await this.#reader.read();
        if (this.#ending) return;
        if (r.done) {
          error = new SubscriptionLostError(
            "stream_ended",
            `Subscription to "${this.master.host}" ended: the master closed the stream`,
          );
          break;
        }
        this.#lastByteAt = this.#clock.now();
        for (const record of this.#decoder.decode(r.value)) {
          if (record.length === 0) continue;
          const event = parseEvent(record);
          if (!this.#subscribed && event.type === "SUBSCRIBED") {
            this.#subscribed = event.subscribed;
            this.#ready.resolve();
          }
          this.#queue.push(event);
          if (event.type === "ERROR") {
            error = new FrameworkError(event.error.message);
            break read;
          }
        }
      }
    } catch (err) {
      if (this.#ending) return;
      error = err instanceof MesosProtocolError
        ? new SubscriptionLostError("protocol_error", `Subscription broke: ${err.message}`, {
          cause: err,
        })
        : new SubscriptionLostError(
          "stream_ended",
          `Subscription to "${this.master.host}" broke: ${(err as Error)?.message ?? err}`,
          { cause: err },
        );
    }
    this.#end(error);
  }

  /** The watchdog: no byte for the allowed time → the stream is dead. */
  async #watch(firstEventTimeoutMs: number): Promise<void> {
    const signal = this.#watchdog.signal;
    try {
      while (!signal.aborted) {
        const allowed = this.#allowedSilenceMs(firstEventTimeoutMs);
        const wait = this.#lastByteAt + allowed - this.#clock.now();
        if (wait <= 0) {
          const what = this.#subscribed ? "no heartbeat" : "no SUBSCRIBED event";
          this.#end(
            new SubscriptionLostError(
              "heartbeat_timeout",
              `Subscription to "${this.master.host}" lost: ${what} for ${allowed} ms`,
            ),
          );
          return;
        }
        await this.#clock.sleep(wait, signal);
      }
    } catch {
      // Aborted: the subscription ended.
    }
  }

  #allowedSilenceMs(firstEventTimeoutMs: number): number {
    if (!this.#subscribed) return firstEventTimeoutMs;
    if (this.#heartbeatTimeoutMs !== undefined) return this.#heartbeatTimeoutMs;
    const interval = this.#subscribed.heartbeat_interval_seconds ??
      DEFAULT_HEARTBEAT_INTERVAL_SECONDS;
    return Math.round(interval * 1000 * this.#missedHeartbeats);
  }
}

/**
 * A Mesos v1 scheduler API client.
 *
 * ```ts
 * const client = new MesosClient({ master: "127.0.0.1:5050" });
 * const sub = await client.subscribe(subscribe({ user: "root", name: "demo" }));
 * for await (const event of sub.events) {
 *   if (event.type === "OFFERS") await client.call(decline(event.offers.offers!.map((o) => o.id)));
 * }
 * ```
 */
export class MesosClient implements AsyncDisposable {
  #detector: MasterDetector;
  #authorization: string | undefined;
  #fetch: typeof fetch;
  #clock: Clock;
  #random: () => number;
  #logger: Logger;
  #callTimeoutMs: number;
  #callAttempts: number;
  #callBackoff: BackoffOptions;
  #maxRedirects: number;
  /** The leader learned from a redirect, ahead of the detector. */
  #leader: URL | null = null;
  #current: Subscription | null = null;
  #chain: Promise<void> = Promise.resolve();
  #closed = false;
  #maxUnorderedInFlight: number;
  #inFlight = 0;
  /** Unordered calls waiting for a slot, first in first out (an array's `shift` is O(n)). */
  #slotWaiters = new Set<() => void>();
  #unorderedPending = new Set<Promise<void>>();

  constructor(options: MesosClientOptions) {
    const {
      master,
      credential,
      fetch: fetchFn = globalThis.fetch,
      clock = systemClock,
      random = Math.random,
      logger = silentLogger,
      callTimeoutMs = DEFAULT_CALL_TIMEOUT_MS,
      callAttempts = DEFAULT_CALL_ATTEMPTS,
      callBackoff = {},
      maxRedirects = DEFAULT_MAX_REDIRECTS,
      maxUnorderedInFlight = DEFAULT_MAX_UNORDERED_IN_FLIGHT,
    } = options;
    this.#maxUnorderedInFlight = Math.max(1, maxUnorderedInFlight);
    this.#detector = typeof master === "string" ? detectorFor(master) : master;
    this.#authorization = credential ? basicAuthorization(credential) : undefined;
    this.#fetch = fetchFn;
    this.#clock = clock;
    this.#random = random;
    this.#logger = logger;
    this.#callTimeoutMs = callTimeoutMs;
    this.#callAttempts = Math.max(1, callAttempts);
    this.#callBackoff = callBackoff;
    this.#maxRedirects = maxRedirects;
  }

  /** The detector in use. */
  get detector(): MasterDetector {
    return this.#detector;
  }

  /** The open subscription, if any. */
  get subscription(): Subscription | null {
    return this.#current;
  }

  /** The leader learned from the last redirect, or null when the detector decides. */
  get redirectedLeader(): URL | null {
    return this.#leader ? new URL(this.#leader) : null;
  }

  /**
   * Sends SUBSCRIBE and resolves once SUBSCRIBED has arrived. Any earlier subscription of
   * this client is closed first. Rejects with {@linkcode MesosApiError} (HTTP error),
   * {@linkcode MesosConnectionError}, or {@linkcode SubscriptionLostError} (ERROR event:
   * not temporary; stream ended or timed out: temporary). Does not retry: a blind retry of
   * a first SUBSCRIBE can create a second framework.
   */
  async subscribe(
    call: SubscribeCall,
    options: SubscribeRequestOptions = {},
  ): Promise<Subscription> {
    if (this.#closed) {
      throw new SubscriptionLostError("closed", "Cannot SUBSCRIBE: client is closed");
    }
    if (call.type !== "SUBSCRIBE") throw new TypeError(`Cannot subscribe with a ${call.type} call`);
    const {
      signal,
      timeoutMs = DEFAULT_SUBSCRIBE_TIMEOUT_MS,
      missedHeartbeats = DEFAULT_MISSED_HEARTBEATS,
      heartbeatTimeoutMs,
      maxRecordBytes,
    } = options;
    await this.#current?.close();
    const body = encodeCall(call);
    const ac = new AbortController();
    const unlink = link(signal, ac);
    const started = this.#clock.now();
    const timer = timeout(this.#clock, timeoutMs, () => {
      ac.abort(
        new MesosConnectionError("SUBSCRIBE", this.#leader?.href ?? this.#detector.description, {
          detail: `no answer within ${timeoutMs} ms`,
        }),
      );
    });
    let sub: Subscription;
    try {
      const { response, url } = await this.#request("SUBSCRIBE", body, undefined, ac.signal);
      if (response.status !== 200) {
        const text = await response.text().catch(() => "");
        throw new MesosApiError("SUBSCRIBE", response.status, text);
      }
      const streamId = response.headers.get("Mesos-Stream-Id");
      if (!response.body || !streamId) {
        await response.body?.cancel().catch(() => {});
        throw new MesosApiError("SUBSCRIBE", response.status, "", {
          temporary: true,
          cause: new MesosProtocolError("SUBSCRIBE answer lacks a Mesos-Stream-Id or a body"),
        });
      }
      sub = new Subscription({
        streamId,
        master: url,
        body: response.body,
        clock: this.#clock,
        logger: this.#logger,
        maxRecordBytes,
        heartbeatTimeoutMs,
        missedHeartbeats,
        firstEventTimeoutMs: Math.max(1, timeoutMs - (this.#clock.now() - started)),
        onEnd: (s) => {
          if (this.#current === s) this.#current = null;
        },
      });
      this.#current = sub;
      timer.cancel();
      // The caller's signal stays linked for the life of the subscription: aborting it closes.
      const onAbort = () => sub.close();
      ac.signal.addEventListener("abort", onAbort, { once: true });
      sub.closed.then(() => {
        ac.signal.removeEventListener("abort", onAbort);
        unlink();
      });
      await sub.ready;
    } catch (err) {
      unlink();
      if (signal?.aborted) throw signal.reason;
      if (ac.signal.aborted && ac.signal.reason instanceof MesosConnectionError) {
        throw ac.signal.reason;
      }
      throw err;
    } finally {
      timer.cancel();
    }
    this.#logger.info("Subscribed to Mesos master", {
      master: sub.master.host,
      framework_id: sub.frameworkId.value,
      stream_id: sub.streamId,
    });
    return sub;
  }

  /**
   * Sends a non-SUBSCRIBE call on the current subscription. Sets `framework_id` when
   * absent. Resolves on 202 (200 for UPDATE_FRAMEWORK). Rejects with
   * {@linkcode MesosApiError}, {@linkcode MesosConnectionError} (after the retries) or
   * {@linkcode SubscriptionLostError} (no subscription, or it ended meanwhile). A call
   * answered by "not subscribed" / "stream id mismatch" ends the subscription too.
   *
   * Ordered calls (the default) go out one at a time, each after every ordered call made
   * before it, because the master only keeps the order of calls on one connection (ACCEPT
   * then KILL, SUPPRESS then REVIVE). `{ ordered: false }` sends at once, up to
   * `maxUnorderedInFlight` concurrently, possibly overtaking ordered calls: for calls whose
   * relative order does not matter, such as ACKNOWLEDGE.
   */
  call(call: Call, options?: AbortSignal | CallOptions): Promise<void> {
    const { signal, ordered = true } = options instanceof AbortSignal
      ? { signal: options }
      : options ?? {};
    if (call.type === "SUBSCRIBE") {
      return Promise.reject(new TypeError("Cannot send SUBSCRIBE with call(), use subscribe()"));
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    let turn: Promise<void>;
    if (ordered) {
      turn = this.#chain.then(() => {
        if (signal?.aborted) throw signal.reason;
        return this.#send(call, signal);
      });
      this.#chain = turn.then(() => {}, () => {});
    } else {
      turn = this.#unordered(call, signal);
    }
    if (!signal) return turn;
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      turn.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
    });
  }

  #wakeSlotWaiter(): void {
    for (const wake of this.#slotWaiters) {
      this.#slotWaiters.delete(wake);
      wake();
      return;
    }
  }

  async #unordered(call: Call, signal: AbortSignal | undefined): Promise<void> {
    while (this.#inFlight >= this.#maxUnorderedInFlight) {
      const slot = Promise.withResolvers<void>();
      this.#slotWaiters.add(slot.resolve);
      await slot.promise;
    }
    if (signal?.aborted) {
      this.#wakeSlotWaiter();
      throw signal.reason;
    }
    this.#inFlight++;
    const sending = this.#send(call, signal);
    const tracked = sending.then(() => {}, () => {});
    this.#unorderedPending.add(tracked);
    try {
      await sending;
    } finally {
      this.#unorderedPending.delete(tracked);
      this.#inFlight--;
      this.#wakeSlotWaiter();
    }
  }

  /** Closes the subscription (no TEARDOWN) and refuses further use. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#current?.close();
    await this.#chain;
    await Promise.all(this.#unorderedPending);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #send(call: Call, signal: AbortSignal | undefined): Promise<void> {
    const type = call.type;
    const sub = this.#current;
    if (this.#closed || !sub || sub.isClosed) {
      throw new SubscriptionLostError(
        this.#closed ? "closed" : "not_subscribed",
        `Cannot ${type}: not subscribed`,
      );
    }
    const body = encodeCall(call.framework_id ? call : withFrameworkId(call, sub.frameworkId));
    for (let attempt = 0;; attempt++) {
      if (this.#current !== sub || sub.isClosed) {
        throw new SubscriptionLostError(
          "not_subscribed",
          `Cannot ${type}: the subscription ended before the call could be sent`,
        );
      }
      let error: unknown;
      try {
        await this.#attempt(type, body, sub.streamId, signal);
        return;
      } catch (err) {
        error = err;
      }
      if (signal?.aborted) throw signal.reason;
      if (error instanceof MesosApiError && error.subscriptionLost) {
        sub.lose(
          new SubscriptionLostError(
            "call_rejected",
            `Subscription lost: ${error.message}`,
            { cause: error },
          ),
        );
        throw error;
      }
      if (!this.#retryable(type, error) || attempt + 1 >= this.#callAttempts) throw error;
      const delay = backoffDelay(attempt, this.#callBackoff, this.#random);
      this.#logger.debug("Retrying Mesos call", {
        call: type,
        attempt: attempt + 1,
        delay_ms: delay,
        error: (error as Error).message,
      });
      await this.#clock.sleep(delay, signal);
    }
  }

  #retryable(type: string, error: unknown): boolean {
    // A repeated ACCEPT would make the master report the launched tasks as lost.
    const idempotent = type !== "ACCEPT";
    if (error instanceof MesosApiError) {
      if (!error.temporary) return false;
      return idempotent || error.status === 503 || error.status === 429;
    }
    if (error instanceof MesosConnectionError) return idempotent || !error.maybeProcessed;
    return false;
  }

  /** One call attempt (with its redirects) under the per-call timeout. */
  async #attempt(
    type: string,
    body: string,
    streamId: string,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const ac = new AbortController();
    const unlink = link(signal, ac);
    const timer = timeout(this.#clock, this.#callTimeoutMs, () => {
      ac.abort(
        new MesosConnectionError(type, this.#leader?.href ?? this.#detector.description, {
          detail: `no answer within ${this.#callTimeoutMs} ms`,
        }),
      );
    });
    try {
      const { response } = await this.#request(type, body, streamId, ac.signal);
      const text = await response.text();
      if (response.status >= 200 && response.status < 300) return;
      throw new MesosApiError(type, response.status, text);
    } catch (err) {
      if (ac.signal.aborted && !signal?.aborted && ac.signal.reason instanceof Error) {
        throw ac.signal.reason;
      }
      throw err;
    } finally {
      timer.cancel();
      unlink();
    }
  }

  /** POSTs to the leader, following 307 redirects. The caller consumes the response. */
  async #request(
    type: string,
    body: string,
    streamId: string | undefined,
    signal: AbortSignal,
  ): Promise<{ response: Response; url: URL }> {
    const headers: Record<string, string> = {
      "Content-Type": JSON_TYPE,
      "Accept": JSON_TYPE,
    };
    if (streamId) headers["Mesos-Stream-Id"] = streamId;
    if (this.#authorization) headers["Authorization"] = this.#authorization;
    for (let redirects = 0;; redirects++) {
      const url = this.#leader ?? await this.#detector.leader(signal);
      let response: Response;
      try {
        response = await this.#fetch(url, {
          method: "POST",
          headers,
          body,
          redirect: "manual",
          signal,
        });
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        // Ask the detector again next time: the redirected leader may be gone.
        this.#leader = null;
        throw new MesosConnectionError(type, url.href, {
          cause: err,
          maybeProcessed: !neverConnected(err),
        });
      }
      if (response.status !== 307) {
        // "No leader elected" / recovering: the leader we were sent to may be stale.
        if (response.status === 503) this.#leader = null;
        return { response, url };
      }
      const location = response.headers.get("Location");
      await response.body?.cancel().catch(() => {});
      if (!location) {
        throw new MesosApiError(type, 307, "redirect without a Location header", {
          temporary: true,
        });
      }
      if (redirects >= this.#maxRedirects) {
        this.#leader = null;
        throw new MesosApiError(type, 307, `more than ${this.#maxRedirects} redirects`, {
          temporary: true,
        });
      }
      const next = resolveLocation(location, url);
      this.#logger.info("Mesos master redirected to the leader", {
        from: url.host,
        to: next.host,
        call: type,
      });
      this.#leader = next;
    }
  }
}
