/**
 * Cancellable timers over a `Clock`, all cleared at once on close (so tests'
 * sanitizers see nothing left behind). Real time uses `setTimeout` directly,
 * which is cheaper than `Clock.sleep` for the hundred thousand timers of a
 * scale run; any other clock (a `FakeClock`) is driven through `sleep`.
 *
 * @module
 */
import { type Clock, systemClock } from "../runtime.ts";

/** A scheduled callback. */
export interface Timer {
  cancel(): void;
}

/** A group of timers that can be cleared together. */
export class Timers {
  readonly clock: Clock;
  #live = new Set<Timer>();
  #closed = false;

  constructor(clock: Clock = systemClock) {
    this.clock = clock;
  }

  /** Calls `fn` once after `ms` milliseconds. */
  after(ms: number, fn: () => void): Timer {
    if (this.#closed) return { cancel() {} };
    const live = this.#live;
    if (this.clock === systemClock) {
      const timer: Timer = {
        cancel() {
          clearTimeout(id);
          live.delete(timer);
        },
      };
      const id = setTimeout(() => {
        live.delete(timer);
        fn();
      }, Math.max(0, ms));
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
    for (const t of [...this.#live]) t.cancel();
  }
}
