/**
 * An unbounded single-consumer async queue, the buffer between a network reader and a
 * `for await` consumer.
 *
 * @module
 */

/** Items pushed by a producer, pulled by one `for await` consumer; ends after `close()`. */
export class AsyncQueue<T> implements AsyncIterable<T> {
  #items: T[] = [];
  #head = 0;
  #waiter: ((r: IteratorResult<T, undefined>) => void) | null = null;
  #closed = false;
  #onReturn: (() => void) | undefined;

  /** @param onReturn called when the consumer stops iterating early */
  constructor(onReturn?: () => void) {
    this.#onReturn = onReturn;
  }

  /** Items waiting for the consumer. */
  get size(): number {
    return this.#items.length - this.#head;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Adds an item; returns false (and drops it) once closed. */
  push(item: T): boolean {
    if (this.#closed) return false;
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = null;
      w({ done: false, value: item });
    } else {
      this.#items.push(item);
    }
    return true;
  }

  /** No more items; the consumer still receives those already queued. */
  close(): void {
    this.#closed = true;
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = null;
      w({ done: true, value: undefined });
    }
  }

  /**
   * Up to `max` items already waiting, oldest first, without waiting or a promise (a
   * consumer that took one with `next()` takes what arrived with it in one go).
   */
  takeAll(max = Infinity): T[] {
    const end = Math.min(this.#items.length, this.#head + Math.max(0, max));
    const out = this.#items.slice(this.#head, end);
    if (end === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else this.#head = end;
    return out;
  }

  /** The next item, waiting for one if needed. */
  next(): Promise<IteratorResult<T, undefined>> {
    if (this.#head < this.#items.length) {
      const value = this.#items[this.#head++];
      if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
        this.#items = this.#items.slice(this.#head);
        this.#head = 0;
      }
      return Promise.resolve({ done: false, value });
    }
    if (this.#closed) return Promise.resolve({ done: true, value: undefined });
    if (this.#waiter) throw new Error("AsyncQueue supports a single consumer");
    return new Promise((resolve) => this.#waiter = resolve);
  }

  [Symbol.asyncIterator](): AsyncIterator<T, undefined> {
    return {
      next: () => this.next(),
      return: () => {
        this.#onReturn?.();
        return Promise.resolve({ done: true, value: undefined });
      },
    };
  }
}
