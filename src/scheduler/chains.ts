/**
 * Per-task ordering: each task's operations (staging, a status update's write, a kill)
 * run one after the other, while different tasks' operations overlap and share the
 * store's group commits. One task's slow write never holds back another task.
 *
 * @module
 */

const noop = () => {};

/** A chain of pending operations per task id. */
export class TaskChains {
  #tails = new Map<string, Promise<void>>();

  /** Tasks with an operation in flight. */
  get size(): number {
    return this.#tails.size;
  }

  /** Whether `id` has an operation in flight. */
  busy(id: string): boolean {
    return this.#tails.has(id);
  }

  /** Resolves when the operations of `id` pending now have settled. */
  settled(id: string): Promise<void> {
    return this.#tails.get(id) ?? Promise.resolve();
  }

  /** Runs `fn` after the pending operations of `id`; its failure is the caller's. */
  run<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const result = this.settled(id).then(fn);
    this.#track(id, result);
    return result;
  }

  /** Records `op` (already started) as the latest operation of each of `ids`. */
  track(ids: Iterable<string>, op: Promise<unknown>): void {
    const settled = op.then(noop, noop);
    // Tasks with nothing pending share one promise (a turn's batch has thousands).
    const fresh: string[] = [];
    for (const id of ids) {
      if (this.#tails.has(id)) this.#track(id, settled);
      else {
        this.#tails.set(id, settled);
        fresh.push(id);
      }
    }
    void settled.then(() => {
      for (const id of fresh) if (this.#tails.get(id) === settled) this.#tails.delete(id);
    });
  }

  #track(id: string, op: Promise<unknown>): void {
    const previous = this.#tails.get(id);
    const tail: Promise<void> = (previous ? Promise.all([previous, op]) : op).then(noop, noop)
      .finally(() => {
        if (this.#tails.get(id) === tail) this.#tails.delete(id);
      });
    this.#tails.set(id, tail);
  }

  /** Resolves when every operation pending now has settled. */
  async all(): Promise<void> {
    while (this.#tails.size > 0) await Promise.all(this.#tails.values());
  }
}
