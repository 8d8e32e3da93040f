/**
 * The scheduler's view of the queue: a bounded window on its head, in submission order,
 * refilled from the store page by page. The store holds the whole queue (a million tasks
 * is fine there); memory holds only the few thousand records matching can use next.
 *
 * @module
 */
import type { TaskPage } from "../store/mod.ts";
import type { TaskRecord } from "../task/mod.ts";

/** Queued records held in memory at most. */
export const DEFAULT_QUEUE_WINDOW = 10_000;

interface Entry {
  task: TaskRecord;
  /** Removed: skipped until compaction drops it (a task added again has a new entry). */
  gone: boolean;
}

/** Options of {@linkcode TaskQueue}. */
export interface TaskQueueOptions {
  /** Records held at most. */
  window?: number;
}

/**
 * Queued tasks: `size` counts all of them, the window holds the first ones (by `seq`).
 * Membership and removal are O(1); adding keeps `seq` order.
 */
export class TaskQueue {
  readonly window: number;
  /**
   * Held records sorted by `seq`, each in an entry of its own: removed ones stay until
   * compaction, and only the entry `#index` points to is live (a task removed and added
   * again has a new entry).
   */
  #order: Entry[] = [];
  /** Entries of `#order` before this index are all gone (placements remove from the head). */
  #start = 0;
  #index = new Map<string, Entry>();
  #total = 0;
  /** The window holds every queued task (nothing more in the store). */
  #complete = false;
  /** Where the next page starts (`null`: from the beginning). */
  #cursor: string | null = null;
  /** Tasks added while a page was being read: applied after it. */
  #arrivals: TaskRecord[] | null = null;
  #wake: { at: number; next: number } | null = null;
  /** The least cpus and mem held, and how many held tasks need exactly that much. */
  #smallest: { cpus: number; mem: number } | null = null;
  #atSmallest = { cpus: 0, mem: 0 };

  constructor({ window = DEFAULT_QUEUE_WINDOW }: TaskQueueOptions = {}) {
    if (!(window > 0)) throw new RangeError(`Cannot hold a queue window of ${window} tasks`);
    this.window = window;
  }

  /** Queued tasks, held or not. */
  get size(): number {
    return this.#total;
  }

  /** Records held in memory. */
  get held(): number {
    return this.#index.size;
  }

  /** Whether every queued task is held. */
  get complete(): boolean {
    return this.#complete;
  }

  /** Sets the count of queued tasks (from the store, at start). */
  setTotal(n: number): void {
    this.#total = Math.max(0, n);
  }

  has(id: string): boolean {
    return this.#index.has(id);
  }

  /**
   * A task entered the queue (submitted, or queued again for a retry). Held if it belongs
   * to the window; otherwise a later page brings it.
   */
  add(task: TaskRecord): void {
    if (this.#index.has(task.id)) return;
    this.#total++;
    this.#hold(task);
  }

  #hold(task: TaskRecord): void {
    if (this.#index.has(task.id)) return;
    if (this.#arrivals) {
      this.#arrivals.push(task);
      return;
    }
    const last = this.#last();
    const inside = last !== undefined && task.seq < last.seq;
    if (!inside && !this.#complete) return; // beyond the window: a page brings it
    if (!inside && this.#index.size >= this.window) {
      // The window is full: the rest is read from the store again, from the start.
      this.#complete = false;
      this.#cursor = null;
      return;
    }
    this.#insert(task);
  }

  /** Removes a held task and returns its record (`undefined` if not held). */
  take(id: string): TaskRecord | undefined {
    const entry = this.#index.get(id);
    if (entry) this.remove(id);
    return entry?.task;
  }

  /** The task left the queue (placed or killed). Returns whether it was held. */
  remove(id: string): boolean {
    this.#total = Math.max(0, this.#total - 1);
    const entry = this.#index.get(id);
    if (!entry) return false;
    this.#index.delete(id);
    entry.gone = true;
    // Not recomputed over the window after every placement: what `nextNotBefore`
    // remembers stays a safe bound, and `smallestDemand` only changes when the last task
    // needing that little leaves.
    const least = this.#smallest;
    const at = this.#atSmallest;
    if (least && entry.task.cpu === least.cpus && --at.cpus === 0) this.#smallest = null;
    if (least && entry.task.mem === least.mem && --at.mem === 0) this.#smallest = null;
    if (this.#order.length > 64 && this.#order.length > 2 * this.#index.size) this.#compact();
    return true;
  }

  /**
   * Held tasks that may launch at `now` (back-off over), in queue order, read lazily: a
   * round that stops early (offers full, or the placed limit) does not walk the window.
   * Not to be iterated across a change of the queue.
   */
  *eligible(now: number): Generator<TaskRecord> {
    const order = this.#order;
    while (this.#start < order.length && order[this.#start].gone) this.#start++;
    for (let i = this.#start; i < order.length; i++) {
      const e = order[i];
      if (!e.gone && e.task.not_before <= now) yield e.task;
    }
  }

  /**
   * The earliest `not_before` after `now` among held tasks, or `Infinity`. Remembered
   * until a task is added, so a round does not walk the window for it; after a removal it
   * may be earlier than the truth (a wake-up with nothing due is harmless).
   */
  nextNotBefore(now: number): number {
    const w = this.#wake;
    // Still right if nothing was due between the time it was computed and now.
    if (w && w.at <= now && w.next > now) return w.next;
    let next = Infinity;
    for (const { task } of this.#index.values()) {
      if (task.not_before > now && task.not_before < next) next = task.not_before;
    }
    this.#wake = { at: now, next };
    return next;
  }

  /**
   * The least cpus and mem any held task needs: an offer with less fits none of them, so
   * a round can decline it without matching. Remembered until a task is added or the last
   * one needing that little leaves.
   */
  smallestDemand(): { cpus: number; mem: number } {
    if (this.#smallest) return this.#smallest;
    let cpus = Infinity;
    let mem = Infinity;
    let atCpus = 0;
    let atMem = 0;
    for (const { task } of this.#index.values()) {
      if (task.cpu < cpus) [cpus, atCpus] = [task.cpu, 0];
      if (task.cpu === cpus) atCpus++;
      if (task.mem < mem) [mem, atMem] = [task.mem, 0];
      if (task.mem === mem) atMem++;
    }
    this.#atSmallest = { cpus: atCpus, mem: atMem };
    return this.#smallest = { cpus, mem };
  }

  /** Whether a page should be read: the window is less than half full and more is stored. */
  needsRefill(): boolean {
    return !this.#complete && this.#index.size < this.window / 2;
  }

  /**
   * Reads the next page through `list` and holds its tasks, skipping those `skip` names
   * (placed, not yet written). Tasks added meanwhile are held after it. `max` bounds the
   * tasks read (a small first page lets start-up subscribe sooner).
   */
  async refill(
    list: (cursor: string | null, limit: number) => Promise<TaskPage>,
    skip: (id: string) => boolean = () => false,
    { max = Infinity }: { max?: number } = {},
  ): Promise<void> {
    if (this.#complete || this.#arrivals) return;
    this.#arrivals = [];
    let page: TaskPage;
    try {
      // From the start, the held tasks come first again: ask for enough to pass them.
      const limit = Math.min(max, this.window - this.#index.size) +
        (this.#cursor === null ? this.#index.size : 0);
      page = await list(this.#cursor, Math.max(1, limit));
    } catch (e) {
      this.#flushArrivals();
      throw e;
    }
    const arrivals = this.#arrivals;
    this.#arrivals = null;
    let read = 0;
    for (const t of page.tasks) {
      if (this.#index.size >= this.window) break;
      read++;
      if (!this.#index.has(t.id) && !skip(t.id)) this.#insert(t);
    }
    if (read < page.tasks.length) {
      // The window filled up inside the page: continue from the start next time.
      this.#cursor = null;
      this.#complete = false;
    } else {
      this.#cursor = page.cursor;
      this.#complete = page.cursor === null;
    }
    for (const t of arrivals) this.#hold(t);
    // The count read at start may predate creates the page brought: a complete window
    // is the exact count, and never fewer are queued than held.
    this.#total = this.#complete ? this.#index.size : Math.max(this.#total, this.#index.size);
  }

  #flushArrivals(): void {
    const arrivals = this.#arrivals ?? [];
    this.#arrivals = null;
    for (const t of arrivals) this.#hold(t);
  }

  #last(): TaskRecord | undefined {
    for (let i = this.#order.length - 1; i >= 0; i--) {
      const e = this.#order[i];
      if (!e.gone) return e.task;
    }
    return undefined;
  }

  #changed(): void {
    this.#wake = null;
    this.#smallest = null;
  }

  #insert(task: TaskRecord): void {
    this.#changed();
    const entry = { task, gone: false };
    this.#index.set(task.id, entry);
    const order = this.#order;
    if (order.length === 0 || order[order.length - 1].task.seq <= task.seq) {
      order.push(entry);
      return;
    }
    let lo = 0;
    let hi = order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (order[mid].task.seq <= task.seq) lo = mid + 1;
      else hi = mid;
    }
    order.splice(lo, 0, entry);
    if (lo < this.#start) this.#start = lo;
  }

  #compact(): void {
    this.#order = this.#order.filter((e) => !e.gone);
    this.#start = 0;
  }
}
