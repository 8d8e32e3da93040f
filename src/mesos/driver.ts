/**
 * The subscribe loop: keeps one subscription alive for as long as the driver runs.
 * Subscribes, forwards every event, and after a drop (stream closed, heartbeat watchdog,
 * rejected call, leader change, temporary HTTP or connection error) subscribes again with
 * the framework id, after a capped exponential back-off with jitter. Permanent refusals
 * (401, 400, an ERROR event such as `Framework has been removed` or `Framework failed
 * over`) end the driver with that error rather than spin (reference §11); an ERROR event
 * ends it with a {@linkcode FrameworkError} whose `kind` says which.
 *
 * @module
 */
import { type Clock, type Logger, silentLogger, systemClock } from "../runtime.ts";
import type { Credential } from "./auth.ts";
import { backoffDelay, type BackoffOptions } from "./backoff.ts";
import { type Call, subscribe } from "./calls.ts";
import { type CallOptions, MesosClient, type Subscription } from "./client.ts";
import { detectorFor, type MasterDetector } from "./detector.ts";
import { FrameworkError, isTemporary, SubscriptionLostError } from "./errors.ts";
import type { Event } from "./events.ts";
import type { FrameworkInfo } from "./types.ts";
import { AsyncQueue } from "./_queue.ts";

/** Where the driver stands. */
export type ConnectionState = "connecting" | "subscribed" | "disconnected" | "closed";

/** A connection status change. */
export interface ConnectionStatus {
  state: ConnectionState;
  /** The framework id, once known. */
  frameworkId?: string;
  /** The current `Mesos-Stream-Id` (subscribed only). */
  streamId?: string;
  /** `host:port` of the master serving the subscription (subscribed only). */
  master?: string;
  /** Why the driver is disconnected or closed (absent after a deliberate close). */
  error?: Error;
  /** Failed subscription attempts since the last success. */
  attempt: number;
  /** When disconnected: delay before the next attempt. */
  retryInMs?: number;
}

/** Options of {@linkcode startDriver}. */
export interface DriverOptions {
  /** `http(s)://host:port`, `host:port`, or a detector. */
  master: string | MasterDetector;
  /** The framework to subscribe as; its `id`, if any, seeds the framework id. */
  frameworkInfo: FrameworkInfo;
  /** Subscribe first as this framework (the persisted id); otherwise the master assigns one. */
  frameworkId?: string;
  /** Roles to subscribe suppressed; a function is asked on every (re)subscription. */
  suppressedRoles?: string[] | (() => string[]);
  /** HTTP Basic credential; its principal becomes `FrameworkInfo.principal`. */
  credential?: Credential;
  fetch?: typeof fetch;
  clock?: Clock;
  random?: () => number;
  logger?: Logger;
  /** Back-off between subscription attempts (default 250 ms doubling to 15 s, jittered). */
  backoff?: BackoffOptions;
  /** Heartbeat intervals without a byte before the stream counts as dead (default 5). */
  missedHeartbeats?: number;
  /** Fixed watchdog timeout in ms, overriding the heartbeat interval rule. */
  heartbeatTimeoutMs?: number;
  /** Time allowed from SUBSCRIBE to SUBSCRIBED. */
  subscribeTimeoutMs?: number;
  /** Per-attempt timeout of calls. */
  callTimeoutMs?: number;
  /** Attempts of each call. */
  callAttempts?: number;
  /** Back-off between call attempts. */
  callBackoff?: BackoffOptions;
  /** `{ ordered: false }` calls written and not yet answered (the pipeline's depth). */
  maxUnorderedInFlight?: number;
  /** Called on every status change, synchronously, in order. */
  onStatus?: (status: ConnectionStatus) => void;
  /** Closes the driver when aborted. */
  signal?: AbortSignal;
}

/**
 * Starts the subscribe loop.
 *
 * ```ts
 * await using driver = startDriver({ master: "127.0.0.1:5050", frameworkInfo: { user: "root", name: "demo" } });
 * for await (const event of driver.events) {
 *   if (event.type === "UPDATE") {
 *     const ack = acknowledgeStatus(event.update.status);
 *     if (ack) await driver.call(ack);
 *   }
 * }
 * ```
 */
export function startDriver(options: DriverOptions): Driver {
  return new Driver(options);
}

/** A running subscribe loop. See {@linkcode startDriver}. */
export class Driver implements AsyncDisposable {
  /**
   * Events of every subscription in order, each subscription starting with SUBSCRIBED
   * (the moment to forget outstanding offers and reconcile). Single consumer; ends when the
   * driver closes; stopping the iteration early closes the driver.
   */
  readonly events: AsyncIterable<Event>;
  /** Resolves when the driver stops: `undefined` after `close()`, else the permanent error. */
  readonly closed: Promise<void | Error>;

  #client: MesosClient;
  #detector: MasterDetector;
  #ownsDetector: boolean;
  #info: FrameworkInfo;
  #frameworkId: string | undefined;
  #idFromMaster = false;
  #suppressedRoles: () => string[];
  #clock: Clock;
  #random: () => number;
  #logger: Logger;
  #backoff: BackoffOptions;
  #subscribeOptions: {
    missedHeartbeats?: number;
    heartbeatTimeoutMs?: number;
    timeoutMs?: number;
  };
  #onStatus: ((s: ConnectionStatus) => void) | undefined;
  #queue: AsyncQueue<Event>;
  #watchers = new Set<AsyncQueue<ConnectionStatus>>();
  #status: ConnectionStatus = { state: "connecting", attempt: 0 };
  #ac = new AbortController();
  #stopping = false;
  #resolveClosed!: (r: void | Error) => void;
  #loop: Promise<void>;

  constructor(options: DriverOptions) {
    const {
      master,
      frameworkInfo,
      frameworkId,
      suppressedRoles = [],
      credential,
      clock = systemClock,
      random = Math.random,
      logger = silentLogger,
      backoff = {},
      onStatus,
      signal,
    } = options;
    // A detector made here (from an address) is ours to close; a given one is the caller's.
    this.#ownsDetector = typeof master === "string";
    this.#detector = typeof master === "string" ? detectorFor(master, { logger, clock }) : master;
    const info: FrameworkInfo = { ...frameworkInfo };
    delete info.id;
    if (credential) {
      if (info.principal !== undefined && info.principal !== credential.principal) {
        throw new TypeError(
          `Cannot start driver: framework principal "${info.principal}" differs from the credential's "${credential.principal}"`,
        );
      }
      info.principal = credential.principal;
    }
    // Validates user/name (throws TypeError) before anything starts.
    subscribe(info);
    this.#info = info;
    this.#frameworkId = frameworkId || frameworkInfo.id?.value || undefined;
    this.#suppressedRoles = typeof suppressedRoles === "function"
      ? suppressedRoles
      : () => suppressedRoles;
    this.#clock = clock;
    this.#random = random;
    this.#logger = logger;
    this.#backoff = backoff;
    this.#onStatus = onStatus;
    this.#subscribeOptions = {
      missedHeartbeats: options.missedHeartbeats,
      heartbeatTimeoutMs: options.heartbeatTimeoutMs,
      timeoutMs: options.subscribeTimeoutMs,
    };
    this.#client = new MesosClient({
      master: this.#detector,
      credential,
      fetch: options.fetch,
      clock,
      random,
      logger,
      callTimeoutMs: options.callTimeoutMs,
      callAttempts: options.callAttempts,
      callBackoff: options.callBackoff,
      maxUnorderedInFlight: options.maxUnorderedInFlight,
    });
    this.#queue = new AsyncQueue<Event>(() => void this.close());
    this.events = this.#queue;
    this.closed = new Promise((resolve) => this.#resolveClosed = resolve);
    if (signal?.aborted) {
      this.#loop = Promise.resolve();
      this.close();
      return;
    }
    signal?.addEventListener("abort", () => void this.close(), { once: true });
    this.#loop = this.#run();
  }

  /** The framework id: the seeded one, then the one the master confirmed. */
  get frameworkId(): string | undefined {
    return this.#frameworkId;
  }

  /** The latest status. */
  get currentStatus(): ConnectionStatus {
    return { ...this.#status };
  }

  /** The current subscription, if subscribed. */
  get subscription(): Subscription | null {
    return this.#client.subscription;
  }

  /**
   * Status changes, starting with the current status. Each call gives an independent
   * iterator; it ends when the driver closes.
   */
  status(): AsyncIterable<ConnectionStatus> {
    const queue: AsyncQueue<ConnectionStatus> = new AsyncQueue(() => {
      this.#watchers.delete(queue);
      queue.close();
    });
    queue.push({ ...this.#status });
    if (this.#status.state === "closed") queue.close();
    else this.#watchers.add(queue);
    return queue;
  }

  /**
   * Resolves with the status once subscribed (at once if already); rejects when the driver
   * closes first (with its error, or a {@linkcode SubscriptionLostError} after `close()`),
   * or with the signal's reason.
   */
  async subscribed(signal?: AbortSignal): Promise<ConnectionStatus> {
    if (signal?.aborted) throw signal.reason;
    const it = this.status()[Symbol.asyncIterator]();
    const aborted = new Promise<never>((_, reject) => {
      signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
    });
    aborted.catch(() => {});
    try {
      while (true) {
        const r = await Promise.race([it.next(), aborted]);
        if (r.done) break;
        if (r.value.state === "subscribed") return r.value;
        if (r.value.state === "closed") break;
      }
    } finally {
      await it.return?.();
    }
    const result = await this.closed;
    throw result ?? new SubscriptionLostError("closed", "Driver closed before subscribing");
  }

  /**
   * Sends a call on the current subscription (see {@linkcode MesosClient.call}). Rejects
   * with a temporary {@linkcode SubscriptionLostError} while not subscribed.
   */
  call(call: Call, options?: AbortSignal | CallOptions): Promise<void> {
    return this.#client.call(call, options);
  }

  /**
   * Sends order-free calls together (see {@linkcode MesosClient.callMany}); resolves with
   * each call's error, `undefined` for those that succeeded.
   */
  callMany(calls: readonly Call[]): Promise<(Error | undefined)[]> {
    return this.#client.callMany(calls);
  }

  /** Stops the loop and closes the stream without TEARDOWN; tasks keep running. */
  async close(): Promise<void> {
    if (!this.#stopping) {
      this.#stopping = true;
      this.#ac.abort(new SubscriptionLostError("closed", "Driver closed"));
      await this.#client.close();
      await this.#loop;
      if (this.#ownsDetector) await this.#detector.close?.();
      this.#finish(undefined);
    }
    await this.closed;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #setStatus(status: ConnectionStatus): void {
    if (this.#status.state === "closed") return;
    this.#status = status;
    for (const w of this.#watchers) w.push({ ...status });
    try {
      this.#onStatus?.({ ...status });
    } catch (err) {
      this.#logger.error("Mesos status callback failed", { error: (err as Error).message });
    }
  }

  #finish(error: Error | undefined): void {
    if (this.#status.state === "closed") return;
    this.#setStatus({
      state: "closed",
      frameworkId: this.#frameworkId,
      attempt: this.#status.attempt,
      ...(error ? { error } : {}),
    });
    for (const w of this.#watchers) w.close();
    this.#watchers.clear();
    this.#queue.close();
    this.#resolveClosed(error);
  }

  async #run(): Promise<void> {
    const signal = this.#ac.signal;
    let attempt = 0;
    while (!this.#stopping) {
      this.#setStatus({ state: "connecting", frameworkId: this.#frameworkId, attempt });
      let error: Error | undefined;
      let sub: Subscription | undefined;
      try {
        const call = subscribe(this.#info, {
          frameworkId: this.#frameworkId,
          suppressedRoles: this.#suppressedRoles(),
        });
        sub = await this.#client.subscribe(call, {
          ...this.#subscribeOptions,
          signal,
          sink: this.#queue,
        });
      } catch (err) {
        error = err instanceof Error ? err : new Error(String(err));
      }
      if (sub) {
        attempt = 0;
        if (this.#frameworkId !== sub.frameworkId.value) this.#idFromMaster = true;
        this.#frameworkId = sub.frameworkId.value;
        this.#setStatus({
          state: "subscribed",
          frameworkId: this.#frameworkId,
          streamId: sub.streamId,
          master: sub.master.host,
          attempt: 0,
        });
        const stopWatching = this.#watchLeader(sub);
        // The subscription pushes its events straight into `events` (the sink below).
        error = (await sub.closed) ?? undefined;
        stopWatching();
        if (!error && !this.#stopping) {
          error = new SubscriptionLostError("stream_ended", "Subscription closed unexpectedly");
        }
      }
      if (this.#stopping) return;
      if (!isTemporary(error)) {
        this.#logger.error("Mesos subscription failed permanently", {
          error: error?.message,
          framework_id: this.#frameworkId,
          ...(error instanceof FrameworkError ? { kind: error.kind } : {}),
        });
        this.#finish(error);
        return;
      }
      // With failover_timeout 0 the master forgets a disconnected framework at once, so
      // the id it gave us is dead: subscribe as a new framework (as mesos-go does).
      if (this.#idFromMaster && !((this.#info.failover_timeout ?? 0) > 0)) {
        this.#frameworkId = undefined;
        this.#idFromMaster = false;
      }
      const delay = backoffDelay(attempt, this.#backoff, this.#random);
      this.#logger.warn("Mesos subscription lost, retrying", {
        error: error?.message,
        attempt: attempt + 1,
        retry_in_ms: delay,
      });
      this.#setStatus({
        state: "disconnected",
        frameworkId: this.#frameworkId,
        error,
        attempt: attempt + 1,
        retryInMs: delay,
      });
      attempt++;
      try {
        await this.#clock.sleep(delay, signal);
      } catch {
        return; // closed
      }
    }
  }

  /** Drops the subscription when the detector elects another leader. */
  #watchLeader(sub: Subscription): () => void {
    const changed = this.#detector.leaderChanged;
    if (!changed) return () => {};
    const ac = new AbortController();
    changed.call(this.#detector, sub.master, ac.signal).then(
      () =>
        sub.lose(
          new SubscriptionLostError(
            "leader_changed",
            "Subscription dropped: the leading master changed",
          ),
        ),
      () => {},
    );
    return () => ac.abort();
  }
}
