/**
 * The tasks that finished most recently, remembered from the state changes this
 * server saw (the store lists in submission order only, oldest first).
 *
 * @module
 */

/** The part of a state change this needs. */
export interface FinishedChange {
  task_id: string;
  terminal: boolean;
}

/** The last `size` distinct tasks that reached a final state, newest first. */
export class RecentlyFinished {
  #ids: string[] = [];
  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(`size must be a positive integer, got ${size}`);
    }
  }

  /** Takes note of a state change; only final ones count. */
  note(change: FinishedChange): void {
    if (!change.terminal) return;
    const at = this.#ids.indexOf(change.task_id);
    if (at >= 0) this.#ids.splice(at, 1);
    this.#ids.unshift(change.task_id);
    if (this.#ids.length > this.size) this.#ids.length = this.size;
  }

  /** Newest first. */
  ids(): readonly string[] {
    return this.#ids;
  }
}
