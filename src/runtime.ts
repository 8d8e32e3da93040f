/**
 * The seams of the program: time, logging and ids. Real implementations are the
 * defaults; tests pass fakes (`FakeClock`, `collectingLogger()`).
 *
 * @module
 */

/** A source of time that tests can drive. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Resolves after `ms` milliseconds, or rejects with the signal's reason when aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The longest delay `setTimeout` honours. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep(ms, signal) {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      let timer: ReturnType<typeof setTimeout>;
      // setTimeout fires at once beyond 2^31-1 ms: wait in steps.
      const arm = (left: number) => {
        timer = setTimeout(() => {
          if (left > MAX_TIMEOUT_MS) return arm(left - MAX_TIMEOUT_MS);
          signal?.removeEventListener("abort", onAbort);
          resolve();
        }, Math.min(Math.max(0, left), MAX_TIMEOUT_MS));
      };
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal!.reason);
      };
      arm(ms);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  },
};

/** A clock whose time only moves when `tick()` is called. */
export class FakeClock implements Clock {
  #now: number;
  #sleepers: { at: number; resolve: () => void }[] = [];
  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }
  now(): number {
    return this.#now;
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const sleeper = { at: this.#now + ms, resolve };
      this.#sleepers.push(sleeper);
      signal?.addEventListener("abort", () => {
        this.#sleepers = this.#sleepers.filter((s) => s !== sleeper);
        reject(signal.reason);
      }, { once: true });
    });
  }
  /** Advances time by `ms` and wakes every sleeper whose time has come. */
  async tick(ms: number): Promise<void> {
    this.#now += ms;
    const due = this.#sleepers.filter((s) => s.at <= this.#now);
    this.#sleepers = this.#sleepers.filter((s) => s.at > this.#now);
    for (const s of due) s.resolve();
    // Let the woken tasks run before returning.
    for (let i = 0; i < 5; i++) await Promise.resolve();
  }
}

/** Coarse timers are rounded up to buckets of this many milliseconds. */
const COARSE_MS = 10;

/** The host's timer functions; tests pass fakes to see how long delays are chained. */
export interface TimerHost {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

const GLOBAL_TIMER_HOST: TimerHost = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id as ReturnType<typeof setTimeout>),
};

/**
 * Resolves after the host has had a turn of its event loop (pending socket writes and
 * reads run meanwhile). Not a measure of time, so not on a `Clock`: a fake clock must
 * not hold back I/O that is already under way.
 */
export function nextHostTurn(host: TimerHost = GLOBAL_TIMER_HOST): Promise<void> {
  return new Promise((resolve) => host.setTimeout(resolve, 1));
}

/** A scheduled callback. */
export interface Timer {
  cancel(): void;
}

/**
 * Cancellable timers over a `Clock`, all cleared at once by `close()` (so tests'
 * sanitizers see nothing left behind). On the real clock they use the host's
 * `setTimeout` directly, which is cheaper than `Clock.sleep` for the hundred thousand
 * timers of a scale run, and chain delays beyond 2^31-1 ms (which `setTimeout` would
 * fire at once); any other clock (a `FakeClock`) is driven through `sleep`.
 *
 * ```ts
 * const timers = new Timers();
 * const t = timers.after(1_000, () => {});
 * t.cancel();
 * timers.close();
 * ```
 */
export class Timers {
  readonly clock: Clock;
  #host: TimerHost;
  #live = new Set<Timer>();
  #closed = false;
  #buckets = new Map<number, Set<{ fn: () => void }>>();
  #wheel: Timer | null = null;
  #wheelAt = Infinity;

  constructor(clock: Clock = systemClock, host: TimerHost = GLOBAL_TIMER_HOST) {
    this.clock = clock;
    this.#host = host;
  }

  /** Pending timers (`after` and `every`; coarse ones share one). */
  get size(): number {
    return this.#live.size;
  }

  /** Calls `fn` once after `ms` milliseconds. */
  after(ms: number, fn: () => void): Timer {
    if (this.#closed) return { cancel() {} };
    const live = this.#live;
    if (this.clock === systemClock) {
      const host = this.#host;
      let id: unknown;
      const timer: Timer = {
        cancel() {
          host.clearTimeout(id);
          live.delete(timer);
        },
      };
      // setTimeout fires at once beyond 2^31-1 ms (a 30-day failover timeout): re-arm in steps.
      const arm = (left: number) => {
        const step = Math.min(Math.max(0, left), MAX_TIMEOUT_MS);
        id = host.setTimeout(() => {
          if (left > MAX_TIMEOUT_MS) return arm(left - MAX_TIMEOUT_MS);
          live.delete(timer);
          fn();
        }, step);
      };
      arm(ms);
      live.add(timer);
      return timer;
    }
    const abort = new AbortController();
    const timer: Timer = {
      cancel() {
        abort.abort();
        live.delete(timer);
      },
    };
    live.add(timer);
    this.clock.sleep(Math.max(0, ms), abort.signal).then(() => {
      live.delete(timer);
      fn();
    }, () => {});
    return timer;
  }

  /**
   * Calls `fn` once after about `ms` milliseconds (rounded up to 10 ms buckets).
   * Many coarse timers share one real timer, which keeps a hundred thousand
   * pending status-update retries cheap.
   */
  coarse(ms: number, fn: () => void): Timer {
    if (this.#closed) return { cancel() {} };
    const due = Math.ceil((this.clock.now() + Math.max(0, ms)) / COARSE_MS) * COARSE_MS;
    let bucket = this.#buckets.get(due);
    if (!bucket) {
      bucket = new Set();
      this.#buckets.set(due, bucket);
      this.#armAt(due);
    }
    const entry = { fn };
    bucket.add(entry);
    const buckets = this.#buckets;
    return {
      cancel() {
        bucket!.delete(entry);
        if (!bucket!.size) buckets.delete(due);
      },
    };
  }

  #armWheel(): void {
    if (this.#closed || !this.#buckets.size) return;
    let first = Infinity;
    for (const k of this.#buckets.keys()) if (k < first) first = k;
    this.#armAt(first);
  }

  #armAt(due: number): void {
    if (this.#wheel && this.#wheelAt <= due) return;
    this.#wheel?.cancel();
    this.#wheelAt = due;
    this.#wheel = this.after(due - this.clock.now(), () => {
      this.#wheel = null;
      this.#wheelAt = Infinity;
      const now = this.clock.now();
      const due: number[] = [];
      for (const k of this.#buckets.keys()) if (k <= now) due.push(k);
      for (const k of due.sort((a, b) => a - b)) {
        const bucket = this.#buckets.get(k)!;
        this.#buckets.delete(k);
        for (const e of bucket) e.fn();
      }
      this.#armWheel();
    });
  }

  /** Calls `fn` every `ms` milliseconds until cancelled. */
  every(ms: number, fn: () => void): Timer {
    let current: Timer | null = null;
    let cancelled = false;
    const loop = () => {
      current = this.after(ms, () => {
        if (cancelled) return;
        fn();
        if (!cancelled) loop();
      });
    };
    loop();
    return {
      cancel() {
        cancelled = true;
        current?.cancel();
      },
    };
  }

  /** Cancels every pending timer; later `after` calls do nothing. */
  close(): void {
    this.#closed = true;
    this.#buckets.clear();
    for (const t of [...this.#live]) t.cancel();
  }
}

/** Log levels, lowest first. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = typeof LOG_LEVELS[number];
export type LogFields = Record<string, unknown>;

/** A tiny structured logger. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /**
   * Whether a line of `level` would be written, so that a hot path can skip building
   * its fields; absent means every level is.
   */
  enabled?(level: LogLevel): boolean;
}

/** Field names whose values are never written to a log line. */
const SECRET_FIELDS = new Set([
  "masked_env",
  "password",
  "secret",
  "authorization",
  "http_credentials",
  "callback_secret",
  "credential",
]);

/** Replaces the values of secret fields (at any depth) with `*******`. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== "object") return value;
  if (value instanceof Error) return value.message;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_FIELDS.has(k.toLowerCase()) ? "*******" : redact(v, depth + 1);
  }
  return out;
}

export interface ConsoleLoggerOptions {
  level?: LogLevel;
  format?: "text" | "json";
  /** Where lines go; stderr by default. */
  write?: (line: string) => void;
  clock?: Clock;
}

const encoder = new TextEncoder();
function writeStderr(line: string): void {
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
}

/** A logger writing text or JSON lines, secrets redacted. */
export function consoleLogger(
  { level = "info", format = "text", write = writeStderr, clock = systemClock }:
    ConsoleLoggerOptions = {},
): Logger {
  const min = LOG_LEVELS.indexOf(level);
  const emit = (lvl: LogLevel, message: string, fields?: LogFields) => {
    if (LOG_LEVELS.indexOf(lvl) < min) return;
    const time = new Date(clock.now()).toISOString();
    const safe = fields ? redact(fields) as LogFields : undefined;
    if (format === "json") {
      write(JSON.stringify({ time, level: lvl, msg: message, ...safe }));
    } else {
      const extra = safe
        ? Object.entries(safe).map(([k, v]) =>
          ` ${k}=${typeof v === "string" ? JSON.stringify(v) : JSON.stringify(v)}`
        ).join("")
        : "";
      write(`${time} ${lvl.toUpperCase().padEnd(5)} ${message}${extra}`);
    }
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    enabled: (lvl) => LOG_LEVELS.indexOf(lvl) >= min,
  };
}

export interface LogEntry {
  level: LogLevel;
  message: string;
  fields?: LogFields;
}

/** A logger that keeps every entry (redacted) for assertions in tests. */
export function collectingLogger(): Logger & { entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const push = (level: LogLevel) => (message: string, fields?: LogFields) =>
    entries.push({ level, message, fields: fields ? redact(fields) as LogFields : undefined });
  return {
    entries,
    debug: push("debug"),
    info: push("info"),
    warn: push("warn"),
    error: push("error"),
  };
}

/** A logger that drops everything. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
/** Random bytes of the next 256 ids (`newId`); `idPoolAt` is the next unused one. */
const ID_POOL = new Uint8Array(16 * 256);
let idPoolAt = ID_POOL.length;

/** The start of the order numbers `uuidSeq` reads from ids (2025-01-01T00:00:00Z). */
export const ID_EPOCH_MS = Date.UTC(2025, 0, 1);
/** Ids made within one millisecond are numbered by a 12-bit counter. */
const IDS_PER_MS = 4096;
/** The millisecond of the last id made, and the counter within it. */
let lastIdMs = -1;
let idCounter = 0;
/** A clock stepped back by less than this still gets ids after the last one. */
const MONOTONIC_WINDOW_MS = 1_000;

/**
 * A time-ordered UUID (RFC 9562 version 7: 48 bits of Unix milliseconds, a 12-bit
 * counter, then 62 random bits). Ids made one after the other sort together, so a store
 * keyed by them appends instead of inserting at random places, and ids sort by creation:
 * within a millisecond the counter orders them (RFC 9562 §6.2, method 1; past 4,096 ids
 * in one millisecond the next one borrows the following millisecond). An id asked for a
 * time more than a second before the last one (a clock stepped back, a caller's own
 * time) gets that time and a random counter instead.
 */
export function newId(now: number = Date.now()): string {
  // Random bytes are drawn from a pool refilled 256 ids at a time: one call into the
  // runtime per id cost more than building the id.
  if (idPoolAt === ID_POOL.length) {
    crypto.getRandomValues(ID_POOL);
    idPoolAt = 0;
  }
  const b = ID_POOL;
  const at = idPoolAt;
  idPoolAt += 16;
  let ms = Math.max(0, Math.floor(now));
  let counter: number;
  if (ms > lastIdMs) {
    lastIdMs = ms;
    counter = idCounter = 0;
  } else if (lastIdMs - ms < MONOTONIC_WINDOW_MS) {
    // The same millisecond, one borrowed after 4,096 ids, or a clock stepped back a little.
    if (++idCounter === IDS_PER_MS) {
      lastIdMs++;
      idCounter = 0;
    }
    ms = lastIdMs;
    counter = idCounter;
  } else counter = ((b[at + 6] & 0x0f) << 8) | b[at + 7];
  for (let i = 5; i >= 0; i--) {
    b[at + i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  b[at + 6] = 0x70 | (counter >> 8); // version 7, the counter's high 4 bits
  b[at + 7] = counter & 0xff;
  b[at + 8] = (b[at + 8] & 0x3f) | 0x80; // RFC 4122 variant
  let out = "";
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) out += "-";
    out += HEX[b[at + i]];
  }
  return out;
}

const V7 = /^([0-9a-f]{8})-([0-9a-f]{4})-7([0-9a-f]{3})-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/**
 * The order number a `newId` UUID carries: milliseconds since `ID_EPOCH_MS` times 4,096
 * plus its counter (below 2^53 until 2094), or 0 for any other string. Ids made one after
 * the other by one process have increasing numbers; ids made elsewhere may share one, so
 * a reader of a number must check the id it finds under it.
 */
export function uuidSeq(uuid: string): number {
  const m = V7.exec(uuid);
  if (!m) return 0;
  const ms = parseInt(m[1] + m[2], 16) - ID_EPOCH_MS;
  const seq = ms * IDS_PER_MS + parseInt(m[3], 16);
  return ms >= 0 && seq <= Number.MAX_SAFE_INTEGER ? seq : 0;
}
