/**
 * The HTTP side of the scheduler API: one long-lived SUBSCRIBE stream and calls on other
 * connections (reference §1, §11).
 *
 * - SUBSCRIBE resolves once the SUBSCRIBED event has arrived; the stream is decoded
 *   incrementally and read eagerly, so the heartbeat watchdog measures the network, not the
 *   consumer.
 * - Calls carry the current `Mesos-Stream-Id` and `framework_id` and travel on the client's
 *   own keep-alive HTTP/1.1 connections to the leader (`connection.ts`), not `fetch`: ordered
 *   calls on one connection, one at a time in the order they were made; `{ ordered: false }`
 *   calls (ACKNOWLEDGE) pipelined on another, several per write, answered in order, with one
 *   watchdog per connection instead of a timer per call. Calls are retried on 503/429 and
 *   connection errors with capped exponential back-off and jitter. ACCEPT is retried only
 *   when the master surely did not process it (503, 429, never written): a second ACCEPT of
 *   the same offers would turn launched tasks into `TASK_LOST`/`TASK_DROPPED` updates.
 * - A 307 from a non-leader carries a scheme-less `Location`
 *   (`//host:port/master/api/v1/scheduler`); the client keeps its scheme, switches to that
 *   leader and tries again (redirects are followed here, so the client learns the leader and
 *   keeps the `Authorization` header).
 * - SUBSCRIBE, one long chunked response, has a connection of its own too (`openStream`):
 *   its bytes go from the socket to the RecordIO decoder and the event parser, and each
 *   event straight into the consumer's queue (a `sink`, e.g. the driver's), with no
 *   `ReadableStream` or second queue in between. A connection that cannot be opened is
 *   told apart by the error of the connect, not by its text.
 *
 * @module
 */
import { type Clock, type Logger, silentLogger, systemClock } from "../runtime.ts";
import { basicAuthorization, type Credential } from "./auth.ts";
import { backoffDelay, type BackoffOptions } from "./backoff.ts";
import { type Call, encodeCall, type SubscribeCall, withFrameworkId } from "./calls.ts";
import {
  type ByteSource,
  CallConnection,
  type Connect,
  openStream,
  type StreamResponse,
} from "./connection.ts";
import { detectorFor, type MasterDetector } from "./detector.ts";
import {
  CallQueueFullError,
  FrameworkError,
  MesosApiError,
  MesosConnectionError,
  MesosProtocolError,
  SubscriptionLostError,
} from "./errors.ts";
import { type Event, parseEvent, type SubscribedEvent } from "./events.ts";
import { encodePost, encodePosts, type HttpResponse } from "./http1.ts";
import { RecordIODecoder } from "./recordio.ts";
import type { FrameworkID } from "./types.ts";
import { AsyncQueue } from "./_queue.ts";

/** A call connection with calls outstanding fails after this long without a byte. */
export const DEFAULT_CALL_TIMEOUT_MS = 30_000;
/** Time allowed from sending SUBSCRIBE to receiving SUBSCRIBED. */
export const DEFAULT_SUBSCRIBE_TIMEOUT_MS = 30_000;
/** Attempts of one call before its last error is thrown. */
export const DEFAULT_CALL_ATTEMPTS = 6;
/** Redirects followed for one request (mesos-go allows 9). */
export const DEFAULT_MAX_REDIRECTS = 9;
/** Unordered calls written and not yet answered on their pipelined connection. */
export const DEFAULT_MAX_UNORDERED_IN_FLIGHT = 512;
/** Unordered calls waiting for room in the pipeline before `call()` refuses more. */
export const DEFAULT_MAX_QUEUED_CALLS = 50_000;
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
  /**
   * Sends SUBSCRIBE with this `fetch` instead of the client's own connection (tests); calls
   * never use it.
   */
  fetch?: typeof fetch;
  /** Opens the connections calls travel on (TCP, or TLS for `https:`). */
  connect?: Connect;
  clock?: Clock;
  /** Source of jitter, in [0, 1). */
  random?: () => number;
  logger?: Logger;
  /** A call connection with calls outstanding fails after this long without an answer. */
  callTimeoutMs?: number;
  /** Attempts of a call (1 = no retry). */
  callAttempts?: number;
  /** Back-off between call attempts. */
  callBackoff?: BackoffOptions;
  /** Redirects followed per request. */
  maxRedirects?: number;
  /** `{ ordered: false }` calls written and not yet answered (the pipeline's depth). */
  maxUnorderedInFlight?: number;
  /** `{ ordered: false }` calls waiting beyond those; more are refused. */
  maxQueuedCalls?: number;
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
  /**
   * Where the events go instead of {@linkcode Subscription.events} (which then yields
   * nothing): each event, SUBSCRIBED first, is pushed as it is decoded, with no queue of the
   * subscription's own in between. The driver passes its event queue here.
   */
  sink?: EventSink;
}

/** A consumer of events fed synchronously, such as an `AsyncQueue`. */
export interface EventSink {
  push(event: Event): unknown;
}

const JSON_TYPE = "application/json";

/** Calls `onTimeout` after `ms` of the clock unless cancelled first. */
function timeout(
  clock: Clock,
  ms: number,
  onTimeout: () => void,
): { cancel(): void } {
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

/** A URL's parts a call needs, read once per URL object (its getters cost a few µs a call). */
const urlParts = new WeakMap<URL, { origin: string; host: string; path: string; href: string }>();

function partsOf(url: URL): { origin: string; host: string; path: string } {
  const href = url.href;
  let parts = urlParts.get(url);
  if (parts === undefined || parts.href !== href) {
    parts = { origin: url.origin, host: url.host, path: url.pathname + url.search, href };
    urlParts.set(url, parts);
  }
  return parts;
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
   * closes the subscription. Empty when the events go to a `sink` (see
   * {@linkcode SubscribeRequestOptions.sink}).
   */
  readonly events: AsyncIterable<Event>;
  /** Resolves when the subscription is over: `undefined` after `close()`, else the error. */
  readonly closed: Promise<void | Error>;

  #subscribed: SubscribedEvent["subscribed"] | null = null;
  #queue: AsyncQueue<Event>;
  #sink: EventSink;
  #source: ByteSource;
  #clock: Clock;
  #logger: Logger;
  #decoder: RecordIODecoder;
  #lastByteAt: number;
  #watchdog = new AbortController();
  /** Wakes the watchdog's current wait early, to measure again (SUBSCRIBED changes the rule). */
  #rearm: AbortController | null = null;
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
    body: ByteSource;
    clock: Clock;
    logger: Logger;
    maxRecordBytes?: number;
    heartbeatTimeoutMs?: number;
    missedHeartbeats: number;
    firstEventTimeoutMs: number;
    onEnd: (sub: Subscription) => void;
    sink?: EventSink;
  }) {
    this.streamId = init.streamId;
    this.master = init.master;
    this.#clock = init.clock;
    this.#logger = init.logger;
    this.#source = init.body;
    // The source hands out a new buffer per read: records can be views of it.
    this.#decoder = new RecordIODecoder({ maxRecordBytes: init.maxRecordBytes, views: true });
    this.#heartbeatTimeoutMs = init.heartbeatTimeoutMs;
    this.#missedHeartbeats = init.missedHeartbeats;
    this.#onEnd = init.onEnd;
    this.#lastByteAt = init.clock.now();
    this.#queue = new AsyncQueue<Event>(() => void this.close());
    this.#sink = init.sink ?? this.#queue;
    if (init.sink) this.#queue.close();
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

  /** Events received but not yet consumed (0 when they go to a sink). */
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
    this.#source.cancel().catch(() => {});
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
        const bytes = await this.#source.read();
        if (this.#ending) return;
        if (bytes === null) {
          error = new SubscriptionLostError(
            "stream_ended",
            `Subscription to "${this.master.host}" ended: the master closed the stream`,
          );
          break;
        }
        this.#lastByteAt = this.#clock.now();
        for (const record of this.#decoder.decode(bytes)) {
          if (record.length === 0) continue;
          const event = parseEvent(record);
          if (!this.#subscribed && event.type === "SUBSCRIBED") {
            this.#subscribed = event.subscribed;
            this.#ready.resolve();
            // The allowed silence is now the heartbeats' rule, not the SUBSCRIBED deadline.
            this.#rearm?.abort();
          }
          // A sink sees only events of an established subscription (a refusal's ERROR
          // rejects `subscribe()` instead).
          if (this.#subscribed || this.#sink === this.#queue) this.#sink.push(event);
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
        const rearm = this.#rearm = new AbortController();
        try {
          await this.#clock.sleep(wait, AbortSignal.any([signal, rearm.signal]));
        } catch {
          // Re-armed: measure again (or the loop ends, when the subscription did).
        }
      }
    } finally {
      this.#rearm = null;
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
  #fetch: typeof fetch | undefined;
  #connect: Connect | undefined;
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
  /** The connections calls travel on, by origin and lane (ordered or not). */
  #connections = new Map<string, CallConnection>();
  #maxUnorderedInFlight: number;
  #maxQueuedCalls: number;
  #inFlight = 0;
  /** Unordered calls waiting for room in the pipeline, oldest first from `#waitingHead`. */
  #waiting: (() => void)[] = [];
  #waitingHead = 0;
  #unorderedPending = new Set<Promise<void>>();

  constructor(options: MesosClientOptions) {
    const {
      master,
      credential,
      fetch: fetchFn,
      connect,
      clock = systemClock,
      random = Math.random,
      logger = silentLogger,
      callTimeoutMs = DEFAULT_CALL_TIMEOUT_MS,
      callAttempts = DEFAULT_CALL_ATTEMPTS,
      callBackoff = {},
      maxRedirects = DEFAULT_MAX_REDIRECTS,
      maxUnorderedInFlight = DEFAULT_MAX_UNORDERED_IN_FLIGHT,
      maxQueuedCalls = DEFAULT_MAX_QUEUED_CALLS,
    } = options;
    this.#maxUnorderedInFlight = Math.max(1, maxUnorderedInFlight);
    this.#maxQueuedCalls = Math.max(0, maxQueuedCalls);
    this.#detector = typeof master === "string" ? detectorFor(master) : master;
    this.#authorization = credential ? basicAuthorization(credential) : undefined;
    this.#fetch = fetchFn;
    this.#connect = connect;
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
      sink,
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
      const { response, url } = await this.#request("SUBSCRIBE", body, ac.signal);
      if (response.status !== 200) {
        const text = await readText(response.body).catch(() => "");
        throw new MesosApiError("SUBSCRIBE", response.status, text);
      }
      const streamId = response.headers.get("mesos-stream-id");
      if (!streamId) {
        await response.body.cancel().catch(() => {});
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
        sink,
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
   * {@linkcode MesosApiError}, {@linkcode MesosConnectionError} (after the retries),
   * {@linkcode SubscriptionLostError} (no subscription, or it ended meanwhile) or
   * {@linkcode CallQueueFullError}. A call answered by "not subscribed" / "stream id
   * mismatch" ends the subscription too.
   *
   * Ordered calls (the default) go out one at a time, each after every ordered call made
   * before it, because the master only keeps the order of calls on one connection (ACCEPT
   * then KILL, SUPPRESS then REVIVE). `{ ordered: false }` calls are pipelined on their own
   * connection, up to `maxUnorderedInFlight` unanswered, `maxQueuedCalls` more waiting,
   * possibly overtaking ordered calls: for calls whose relative order does not matter, such
   * as ACKNOWLEDGE.
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
        return this.#send(call, signal, true);
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

  /**
   * Sends order-free calls (as `call(c, { ordered: false })` each, e.g. the ACKNOWLEDGEs of
   * a batch of status updates) and resolves, once every one is answered or failed, with
   * each call's error (`undefined` when it succeeded); never rejects. As many as the
   * pipeline has room for are written as one batch, with one promise for all of them;
   * the rest, and any call of the batch not answered with a 2xx (a redirect, an error, a
   * connection lost), go through `call()` one by one (its retries, redirects and
   * subscription checks): only calls that are safe to repeat belong here.
   */
  async callMany(calls: readonly Call[]): Promise<(Error | undefined)[]> {
    const results: (Error | undefined)[] = new Array(calls.length).fill(undefined);
    const sub = this.#current;
    let url: URL | null = this.#leader;
    if (!url && sub && !sub.isClosed) url = await this.#detector.leader().catch(() => null);
    const room = this.#maxUnorderedInFlight - this.#inFlight;
    const batched = Math.min(calls.length, room);
    const one = (i: number) =>
      this.call(calls[i], { ordered: false }).then(
        () => {},
        (e) => void (results[i] = e as Error),
      );
    if (
      batched < 2 || this.#closed || !sub || sub.isClosed || url === null ||
      calls.some((c) => c.type === "SUBSCRIBE")
    ) {
      await Promise.all(calls.map((_, i) => one(i)));
      return results;
    }
    const rest: Promise<void>[] = [];
    for (let i = batched; i < calls.length; i++) rest.push(one(i));
    await this.#track(batched, () => this.#sendBatch(calls, batched, sub, url, results));
    await Promise.all(rest);
    return results;
  }

  /** The first `count` calls of `calls` as one pipelined batch (see `callMany`). */
  async #sendBatch(
    calls: readonly Call[],
    count: number,
    sub: Subscription,
    url: URL,
    results: (Error | undefined)[],
  ): Promise<void> {
    const bodies: string[] = [];
    for (let i = 0; i < count; i++) {
      const c = calls[i];
      bodies.push(encodeCall(c.framework_id ? c : withFrameworkId(c, sub.frameworkId)));
    }
    const headers: Record<string, string> = { "Mesos-Stream-Id": sub.streamId };
    if (this.#authorization) headers["Authorization"] = this.#authorization;
    const { host, path } = partsOf(url);
    let responses: HttpResponse[] | null = null;
    try {
      const conn = this.#connectionTo(url, false);
      responses = await conn.sendMany(
        calls[0].type,
        encodePosts(host, path, headers, bodies),
        count,
      );
    } catch {
      // Each call is tried again on its own (and asks the detector again).
      this.#leader = null;
    }
    const again: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      const status = responses?.[i].status ?? 0;
      if (status >= 200 && status < 300) continue;
      again.push(
        this.#send(calls[i], undefined, false).then(
          () => {},
          (e) => void (results[i] = e as Error),
        ),
      );
    }
    await Promise.all(again);
  }

  #unordered(call: Call, signal: AbortSignal | undefined): Promise<void> {
    if (this.#inFlight < this.#maxUnorderedInFlight) return this.#sendUnordered(call, signal);
    if (this.#waiting.length - this.#waitingHead >= this.#maxQueuedCalls) {
      return Promise.reject(new CallQueueFullError(call.type, this.#maxQueuedCalls));
    }
    return new Promise<void>((resolve) => this.#waiting.push(resolve)).then(() => {
      if (signal?.aborted) {
        this.#wakeWaiter();
        throw signal.reason;
      }
      return this.#sendUnordered(call, signal);
    });
  }

  #wakeWaiter(): void {
    if (this.#waitingHead >= this.#waiting.length) return;
    const wake = this.#waiting[this.#waitingHead];
    this.#waiting[this.#waitingHead++] = undefined as unknown as () => void;
    if (this.#waitingHead === this.#waiting.length) {
      this.#waiting = [];
      this.#waitingHead = 0;
    } else if (this.#waitingHead > 1024 && this.#waitingHead * 2 > this.#waiting.length) {
      this.#waiting = this.#waiting.slice(this.#waitingHead);
      this.#waitingHead = 0;
    }
    wake();
  }

  #sendUnordered(call: Call, signal: AbortSignal | undefined): Promise<void> {
    return this.#track(1, () => this.#send(call, signal, false));
  }

  /**
   * Runs `send`, counted as `n` unordered calls in flight (each wakes a waiting call when
   * done) and awaited by `close()`.
   */
  async #track(n: number, send: () => Promise<void>): Promise<void> {
    this.#inFlight += n;
    const sending = send();
    const tracked = sending.then(() => {}, () => {});
    this.#unorderedPending.add(tracked);
    try {
      await sending;
    } finally {
      this.#unorderedPending.delete(tracked);
      this.#inFlight -= n;
      for (let i = 0; i < n; i++) this.#wakeWaiter();
    }
  }

  /** Closes the subscription (no TEARDOWN) and refuses further use. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#current?.close();
    await this.#chain;
    await Promise.all(this.#unorderedPending);
    for (const conn of this.#connections.values()) conn.close();
    this.#connections.clear();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #send(call: Call, signal: AbortSignal | undefined, ordered: boolean): Promise<void> {
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
        const { response } = await this.#call(type, body, sub.streamId, ordered, signal);
        if (response.status >= 200 && response.status < 300) return;
        error = new MesosApiError(type, response.status, response.body);
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

  /** The connection of `lane` to the origin of `url`, opened when needed. */
  #connectionTo(url: URL, ordered: boolean): CallConnection {
    const key = `${ordered ? "ordered" : "unordered"} ${partsOf(url).origin}`;
    let conn = this.#connections.get(key);
    if (conn?.alive) return conn;
    conn = new CallConnection(url, {
      clock: this.#clock,
      timeoutMs: this.#callTimeoutMs,
      connect: this.#connect,
    });
    this.#connections.set(key, conn);
    // Connections to a former leader go once their calls are answered.
    for (const [k, other] of this.#connections) {
      if (other.url.origin !== url.origin) {
        other.closeWhenIdle();
        this.#connections.delete(k);
      }
    }
    return conn;
  }

  /** One call attempt on a call connection, following 307 redirects. */
  async #call(
    type: string,
    body: string,
    streamId: string,
    ordered: boolean,
    signal: AbortSignal | undefined,
  ): Promise<{ response: HttpResponse; url: URL }> {
    const headers: Record<string, string> = { "Mesos-Stream-Id": streamId };
    if (this.#authorization) headers["Authorization"] = this.#authorization;
    for (let redirects = 0;; redirects++) {
      const url = this.#leader ?? await this.#detector.leader(signal);
      let response: HttpResponse;
      try {
        const conn = this.#connectionTo(url, ordered);
        const { host, path } = partsOf(url);
        response = await conn.send(type, encodePost(host, path, headers, body));
      } catch (err) {
        // Ask the detector again next time: the redirected leader may be gone.
        this.#leader = null;
        throw err;
      }
      if (response.status !== 307) {
        // "No leader elected" / recovering: the leader we were sent to may be stale.
        if (response.status === 503) this.#leader = null;
        return { response, url };
      }
      this.#redirect(type, response.headers.get("location") ?? null, url, redirects);
    }
  }

  /** Follows a 307: learns the leader, or throws after too many redirects. */
  #redirect(type: string, location: string | null, url: URL, redirects: number): void {
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

  /**
   * POSTs SUBSCRIBE to the leader, following 307 redirects: on a connection of its own
   * (`openStream`), or with `fetch` when one was given.
   */
  async #request(
    type: string,
    body: string,
    signal: AbortSignal,
  ): Promise<{ response: StreamResponse; url: URL }> {
    const headers: Record<string, string> = {};
    if (this.#authorization) headers["Authorization"] = this.#authorization;
    for (let redirects = 0;; redirects++) {
      const url = this.#leader ?? await this.#detector.leader(signal);
      let response: StreamResponse;
      try {
        response = this.#fetch
          ? await this.#fetchStream(type, url, headers, body, signal)
          : await openStream(
            type,
            url,
            encodePost(url.host, url.pathname + url.search, headers, body),
            {
              connect: this.#connect,
              signal,
            },
          );
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        // Ask the detector again next time: the redirected leader may be gone.
        this.#leader = null;
        throw err;
      }
      if (response.status !== 307) {
        // "No leader elected" / recovering: the leader we were sent to may be stale.
        if (response.status === 503) this.#leader = null;
        return { response, url };
      }
      const location = response.headers.get("location") ?? null;
      await response.body.cancel().catch(() => {});
      this.#redirect(type, location, url, redirects);
    }
  }

  /** The `fetch` variant of `openStream` (a `fetch` given in the options). */
  async #fetchStream(
    type: string,
    url: URL,
    headers: Record<string, string>,
    body: string,
    signal: AbortSignal,
  ): Promise<StreamResponse> {
    let response: Response;
    try {
      response = await this.#fetch!(url, {
        method: "POST",
        headers: { "Content-Type": JSON_TYPE, "Accept": JSON_TYPE, ...headers },
        body,
        redirect: "manual",
        signal,
      });
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      throw new MesosConnectionError(type, url.href, { cause: err });
    }
    const headerMap = new Map<string, string>();
    response.headers.forEach((value, name) => headerMap.set(name, value));
    const reader = response.body?.getReader();
    return {
      status: response.status,
      headers: headerMap,
      body: {
        async read() {
          if (!reader) return null;
          const r = await reader.read();
          return r.done ? null : r.value;
        },
        cancel: () => reader?.cancel().catch(() => {}) ?? Promise.resolve(),
      },
    };
  }
}

/** The whole body of a (short) response as text. */
async function readText(body: ByteSource): Promise<string> {
  const parts: Uint8Array[] = [];
  for (let b = await body.read(); b !== null; b = await body.read()) parts.push(b);
  let n = 0;
  for (const p of parts) n += p.length;
  const all = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return new TextDecoder().decode(all);
}
