/**
 * Durable, at-least-once delivery of task state callbacks: each delivery is
 * written to the store's outbox (kind `"callback"`) before it is attempted, so a
 * restart resumes the pending ones; attempts time out, failed ones are retried
 * with exponential back-off and jitter until `maxAgeMs` after the first attempt.
 *
 * @module
 */
import type { Metrics } from "../metrics/mod.ts";
import { type Clock, type Logger, systemClock } from "../runtime.ts";
import type { TaskStore } from "../store/mod.ts";
import type { TaskRecord } from "../task/mod.ts";

/** The store outbox kind that holds pending deliveries. */
export const CALLBACK_OUTBOX_KIND = "callback";
export const DEFAULT_CALLBACK_TIMEOUT_MS = 10_000;
export const DEFAULT_CALLBACK_MAX_AGE_MS = 3_600_000;
export const DEFAULT_CALLBACK_INITIAL_DELAY_MS = 1_000;
export const DEFAULT_CALLBACK_MAX_DELAY_MS = 300_000;
/** At most this many attempts are in flight at once (a burst of terminal states must not open thousands of sockets). */
export const DEFAULT_CALLBACK_CONCURRENCY = 32;
/** How many delivered ids are remembered to drop re-enqueued duplicates. */
const REMEMBERED_DELIVERED = 10_000;

/** The header carrying the body's HMAC when a secret is configured. */
export const SIGNATURE_HEADER = "X-Eremetic-Signature";
/** The header carrying the delivery id, so receivers can drop repeats (delivery is at least once). */
export const DELIVERY_HEADER = "X-Eremetic-Delivery";

export interface CallbackOptions {
  store: TaskStore;
  logger: Logger;
  clock?: Clock;
  fetch?: typeof fetch;
  /** Signs each body with HMAC-SHA256 when set (`callback_secret`). */
  secret?: string;
  metrics?: Pick<Metrics, "callbacksSent">;
  /** Per attempt; default 10 s. */
  timeoutMs?: number;
  /** Give up this long after the first attempt; default 1 h. */
  maxAgeMs?: number;
  /** First back-off delay; default 1 s, doubling per attempt. */
  initialDelayMs?: number;
  /** Largest back-off delay; default 5 min. */
  maxDelayMs?: number;
  /** Attempts in flight at once; default 32. */
  concurrency?: number;
  random?: () => number;
}

/** Outbound state callbacks of tasks. */
export interface Callbacks extends AsyncDisposable {
  /** Persists a delivery (store outbox kind "callback") and delivers it in the background. Resolves once stored. */
  enqueue(task: TaskRecord, state: string, timeSec: number): Promise<void>;
  /** Loads pending deliveries from the store and starts delivering them (call once at start). */
  start(): Promise<void>;
  /** Stops delivering (pending ones stay stored for the next start). */
  close(): Promise<void>;
}

/** One pending delivery as stored in the outbox. */
export interface CallbackDelivery {
  uri: string;
  /** The exact bytes sent (and signed). */
  body: string;
  task_id: string;
  state: string;
  /** Milliseconds since the epoch. */
  enqueued_at: number;
  /** When the first attempt was made; `null` before it (the give-up deadline counts from it). */
  first_attempt_at: number | null;
}

/** The original payload, keys in the original order: `{"time":…,"status":…,"task_id":…}`. */
export function callbackBody(taskId: string, state: string, timeSec: number): string {
  return JSON.stringify({ time: timeSec, status: state, task_id: taskId });
}

/**
 * The outbox id of a delivery: one per task, state and position in the status
 * history, so the same transition enqueued twice is one delivery.
 */
export function callbackDeliveryId(task: TaskRecord, state: string): string {
  let index = task.status.length;
  for (let i = task.status.length - 1; i >= 0; i--) {
    if (task.status[i].status === state) {
      index = i;
      break;
    }
  }
  return `${task.id}/${index}/${state}`;
}

const encoder = new TextEncoder();

function hex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** `sha256=<hex HMAC-SHA256 of body>`, the value of `X-Eremetic-Signature`. */
export async function signCallback(secret: string, body: string): Promise<string> {
  const key = await hmacKey(secret);
  return `sha256=${hex(await crypto.subtle.sign("HMAC", key, encoder.encode(body)))}`;
}

function hmacKey(secret: string): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
}

/** A URI fit for logs: user info (`user:pass@`) replaced by `***@`. */
export function redactUri(uri: string): string {
  try {
    const url = new URL(uri);
    if (!url.username && !url.password) return url.href;
    url.username = "***";
    url.password = "";
    return url.href;
  } catch {
    // Not a URL: still hide anything that looks like user info.
    return uri.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, "$1***@");
  }
}

function isHttpUri(uri: string): boolean {
  try {
    const { protocol } = new URL(uri);
    return protocol === "http:" || protocol === "https:";
  } catch {
    return false;
  }
}

class AttemptTimeoutError extends Error {
  override name = "AttemptTimeoutError";
}

/** Creates the callback deliverer. Call `start()` once, `close()` on shutdown. */
export function createCallbacks(options: CallbackOptions): Callbacks {
  const {
    store,
    logger,
    clock = systemClock,
    fetch: fetchFn = fetch,
    secret,
    metrics,
    timeoutMs = DEFAULT_CALLBACK_TIMEOUT_MS,
    maxAgeMs = DEFAULT_CALLBACK_MAX_AGE_MS,
    initialDelayMs = DEFAULT_CALLBACK_INITIAL_DELAY_MS,
    maxDelayMs = DEFAULT_CALLBACK_MAX_DELAY_MS,
    concurrency = DEFAULT_CALLBACK_CONCURRENCY,
    random = Math.random,
  } = options;
  if (!(concurrency >= 1)) {
    throw new RangeError(`Cannot deliver callbacks: concurrency ${concurrency} is below 1`);
  }

  const stopping = new AbortController();
  const { signal } = stopping;
  /** Deliveries being worked on (or being stored), by id. */
  const active = new Map<string, Promise<void>>();
  const delivered = new Set<string>();
  let started = false;
  let closed = false;

  // A counting semaphore bounding attempts in flight; released waiters re-check `signal`.
  let free = concurrency;
  const waiters: (() => void)[] = [];
  const acquire = (): Promise<void> => {
    if (free > 0) {
      free--;
      return Promise.resolve();
    }
    return new Promise((resolve) => waiters.push(resolve));
  };
  const release = () => {
    const next = waiters.shift();
    if (next) next();
    else free++;
  };
  signal.addEventListener("abort", () => {
    for (const w of waiters.splice(0)) w();
  });

  let key: Promise<CryptoKey> | null = null;
  const signatureOf = async (body: string) => {
    key ??= hmacKey(secret!);
    return `sha256=${hex(await crypto.subtle.sign("HMAC", await key, encoder.encode(body)))}`;
  };

  const backoff = (failures: number): number => {
    const base = Math.min(maxDelayMs, initialDelayMs * 2 ** Math.min(failures - 1, 30));
    // Equal jitter: half fixed, half random, so receivers coming back see spread retries.
    return base / 2 + random() * base / 2;
  };

  const remember = (id: string) => {
    delivered.add(id);
    if (delivered.size > REMEMBERED_DELIVERED) {
      delivered.delete(delivered.values().next().value!);
    }
  };

  /** One POST; resolves with `null` on a 2xx, else the reason it failed. */
  async function attempt(id: string, d: CallbackDelivery): Promise<string | null> {
    const headers: Record<string, string> = {
      "content-type": "application/json",
      [DELIVERY_HEADER]: id,
    };
    if (secret) headers[SIGNATURE_HEADER] = await signatureOf(d.body);
    const ctrl = new AbortController();
    const onStop = () => ctrl.abort(signal.reason);
    signal.addEventListener("abort", onStop, { once: true });
    let timedOut = false;
    clock.sleep(timeoutMs, ctrl.signal).then(() => {
      timedOut = true;
      ctrl.abort(new AttemptTimeoutError(`no answer within ${timeoutMs} ms`));
    }, () => {});
    try {
      const res = await fetchFn(d.uri, {
        method: "POST",
        headers,
        body: d.body,
        signal: ctrl.signal,
      });
      await res.body?.cancel().catch(() => {});
      if (res.status >= 200 && res.status < 300) return null;
      return `receiver answered ${res.status}`;
    } catch (err) {
      if (timedOut) return `no answer within ${timeoutMs} ms`;
      return err instanceof Error ? err.message : String(err);
    } finally {
      signal.removeEventListener("abort", onStop);
      ctrl.abort();
    }
  }

  async function deliver(id: string, d: CallbackDelivery): Promise<void> {
    const fields = { task_id: d.task_id, state: d.state, uri: redactUri(d.uri) };
    let failures = 0;
    while (!signal.aborted) {
      await acquire();
      if (signal.aborted) return;
      d.first_attempt_at ??= clock.now();
      let reason: string | null;
      try {
        reason = await attempt(id, d);
      } finally {
        release();
      }
      if (signal.aborted) return; // Closing: the delivery stays stored for the next start.
      if (reason === null) {
        metrics?.callbacksSent.inc({ outcome: "delivered" });
        remember(id);
        logger.debug("Callback delivered", { ...fields, attempts: failures + 1 });
        try {
          await store.deleteOutbox(CALLBACK_OUTBOX_KIND, id);
        } catch (err) {
          logger.warn("Cannot remove a delivered callback from the outbox; it may be sent again", {
            ...fields,
            error: err instanceof Error ? err.message : String(err),
          });
        }
        return;
      }
      failures++;
      metrics?.callbacksSent.inc({ outcome: "failed" });
      if (failures === 1) {
        // Persist when the clock started, so a restart does not extend the hour.
        try {
          await store.putOutbox(CALLBACK_OUTBOX_KIND, { id, value: d });
        } catch { /* the deadline then restarts after a restart: harmless */ }
      }
      const now = clock.now();
      const deadline = d.first_attempt_at + maxAgeMs;
      if (now >= deadline) {
        metrics?.callbacksSent.inc({ outcome: "gave_up" });
        remember(id); // a re-enqueued duplicate must not start another hour
        logger.warn(`Cannot deliver callback of task "${d.task_id}": giving up`, {
          ...fields,
          attempts: failures,
          reason,
        });
        try {
          await store.deleteOutbox(CALLBACK_OUTBOX_KIND, id);
        } catch { /* retried (once more) after a restart */ }
        return;
      }
      const delay = Math.min(backoff(failures), deadline - now);
      logger.info("Callback failed, will retry", {
        ...fields,
        attempt: failures,
        reason,
        retry_in_ms: Math.round(delay),
      });
      try {
        await clock.sleep(delay, signal);
      } catch {
        return;
      }
    }
  }

  function spawn(id: string, d: CallbackDelivery): void {
    const run = deliver(id, d).catch((err) => {
      logger.error("Callback delivery failed unexpectedly", {
        task_id: d.task_id,
        state: d.state,
        error: err instanceof Error ? err.message : String(err),
      });
    }).finally(() => active.delete(id));
    active.set(id, run);
  }

  async function enqueue(task: TaskRecord, state: string, timeSec: number): Promise<void> {
    const uri = task.callback_uri;
    if (!uri) return;
    if (!isHttpUri(uri)) {
      metrics?.callbacksSent.inc({ outcome: "invalid" });
      logger.warn(`Cannot send callback of task "${task.id}": callback_uri is not an http(s) URL`, {
        task_id: task.id,
        state,
        uri: redactUri(uri),
      });
      return;
    }
    const id = callbackDeliveryId(task, state);
    if (active.has(id) || delivered.has(id)) return;
    const d: CallbackDelivery = {
      uri,
      body: callbackBody(task.id, state, timeSec),
      task_id: task.id,
      state,
      enqueued_at: clock.now(),
      first_attempt_at: null,
    };
    // Reserve the id while storing, so a concurrent duplicate is dropped too.
    let stored!: () => void;
    active.set(id, new Promise<void>((resolve) => stored = resolve));
    try {
      await store.putOutbox(CALLBACK_OUTBOX_KIND, { id, value: d });
    } catch (err) {
      active.delete(id);
      throw err;
    } finally {
      stored();
    }
    if (closed) {
      active.delete(id);
      return;
    }
    spawn(id, d);
  }

  async function start(): Promise<void> {
    if (started || closed) return;
    started = true;
    const items = await store.listOutbox<CallbackDelivery>(CALLBACK_OUTBOX_KIND);
    if (items.length > 0) logger.info("Resuming pending callbacks", { count: items.length });
    for (const { id, value } of items) {
      if (closed) return;
      if (active.has(id) || delivered.has(id)) continue;
      spawn(id, value);
    }
  }

  async function close(): Promise<void> {
    if (closed) {
      await Promise.all(active.values());
      return;
    }
    closed = true;
    stopping.abort(new Error("callbacks closed"));
    await Promise.all(active.values());
  }

  return { enqueue, start, close, [Symbol.asyncDispose]: close };
}
