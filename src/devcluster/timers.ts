/**
 * Cancellable timers over a `Clock`, all cleared at once on close (so tests'
 * sanitizers see nothing left behind). Real time uses `setTimeout` directly,
 * which is cheaper than `Clock.sleep` for the hundred thousand timers of a
 * scale run; any other clock (a `FakeClock`) is driven through `sleep`.
 *
 * @module
 */
import { type Clock, systemClock } from "../runtime.ts";

/** The longest delay `setTimeout` honours. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

const COARSE_MS = 10;

/** A scheduled callback. */
export interface Timer {
  cancel(): void;
}

/** A group of timers that can be cleared together. */
export class Timers {
  readonly clock: Clock;
  #live = new Set<Timer>();
  #closed = false;
  #buckets = new Map<number, Set<{ fn: () => void }>>();
  #wheel: Timer | null = null;
  #wheelAt = Infinity;

  constructor(clock: Clock = systemClock) {
    this.clock = clock;
  }

  /** Calls `fn` once after `ms` milliseconds. */
  after(ms: number, fn: () => void): Timer {
    if (this.#closed) return { cancel() {} };
    const live = this.#live;
    if (this.clock === systemClock) {
      let id: ReturnType<typeof setTimeout>;
      const timer: Timer = {
        cancel() {
          clearTimeout(id);
          live.delete(timer);
        },
      };
      // setTimeout fires at once beyond 2^31-1 ms (a 30-day failover timeout): re-arm in steps.
      const arm = (left: number) => {
        const step = Math.min(Math.max(0, left), MAX_TIMEOUT_MS);
        id = setTimeout(() => {
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
