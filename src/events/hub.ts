/**
 * The in-memory hub of task state changes: fed by the scheduler's state listener
 * (and task creation), read by the live streams. Publishing is synchronous and
 * O(subscribers of that task + global subscribers); subscribers must not block.
 *
 * @module
 */
import type { Clock } from "../runtime.ts";
import type { StatusEntry, TaskRecord, TaskState } from "../task/mod.ts";

/** Default number of recent changes kept for `Last-Event-ID` resumption of the global stream. */
export const DEFAULT_HUB_BUFFER = 1024;

/** One state change on the global stream. */
export interface StateEvent {
  /** Position in this server's sequence of changes. */
  seq: number;
  task_id: string;
  name: string;
  state: TaskState;
  /** Unix seconds of the status entry. */
  time: number;
  terminal: boolean;
}

/** One state change for the subscribers of a task: its whole stored history after the change. */
export interface TaskUpdate {
  history: readonly StatusEntry[];
  /** Whether the last entry of `history` is final (no retry follows). */
  terminal: boolean;
}

export interface EventHubOptions {
  clock: Clock;
  /** Recent changes kept for resumption; default 1024. */
  bufferSize?: number;
}

/**
 * Task state changes, fanned out to subscribers. The global sequence starts at the
 * server's start time in milliseconds, so an id from an earlier run of the server
 * falls outside the buffer and its client is told to reload rather than missing
 * changes silently.
 */
export class EventHub {
  #ring: (StateEvent | undefined)[];
  #head: number;
  #all = new Set<(e: StateEvent) => void>();
  #tasks = new Map<string, Set<(u: TaskUpdate) => void>>();
  #onClose = new Set<() => void>();
  #closed = false;

  constructor({ clock, bufferSize = DEFAULT_HUB_BUFFER }: EventHubOptions) {
    if (!Number.isInteger(bufferSize) || bufferSize < 1) {
      throw new RangeError(`bufferSize must be a positive integer, got ${bufferSize}`);
    }
    this.#ring = new Array(bufferSize);
    this.#head = Math.floor(clock.now());
  }

  /** The id of the latest change (or the starting point when none happened yet). */
  get head(): number {
    return this.#head;
  }

  /** How many streams listen, for metrics and tests. */
  get subscribers(): { all: number; tasks: number } {
    let tasks = 0;
    for (const s of this.#tasks.values()) tasks += s.size;
    return { all: this.#all.size, tasks };
  }

  /**
   * A stored state change: `task` as stored (its last status entry is the new
   * state), `terminal` as the scheduler decided (a failure followed by a retry is not).
   */
  publish(task: TaskRecord, terminal: boolean): void {
    if (this.#closed) return;
    const last = task.status.at(-1);
    if (!last) return;
    const event: StateEvent = {
      seq: ++this.#head,
      task_id: task.id,
      name: task.name,
      state: last.status,
      time: last.time,
      terminal,
    };
    this.#ring[event.seq % this.#ring.length] = event;
    for (const fn of this.#all) call(fn, event);
    const subs = this.#tasks.get(task.id);
    if (subs) {
      const update: TaskUpdate = { history: task.status, terminal };
      for (const fn of subs) call(fn, update);
    }
  }

  /**
   * The changes after `seq`, oldest first; `null` when `seq` is not within the
   * buffer (too old, or from another run of the server).
   */
  since(seq: number): StateEvent[] | null {
    if (!Number.isInteger(seq) || seq > this.#head) return null;
    const oldest = Math.max(this.#head - this.#ring.length + 1, 0);
    if (seq < oldest - 1) return null;
    const out: StateEvent[] = [];
    for (let s = seq + 1; s <= this.#head; s++) {
      const e = this.#ring[s % this.#ring.length];
      // Before the first change the slots are empty: only a start-time id is valid then.
      if (!e || e.seq !== s) return null;
      out.push(e);
    }
    return out;
  }

  /** Calls `fn` for every change from now on; returns the unsubscribe function. */
  subscribeAll(fn: (e: StateEvent) => void): () => void {
    this.#all.add(fn);
    return () => this.#all.delete(fn);
  }

  /** Calls `fn` for every change of task `id` from now on; returns the unsubscribe function. */
  subscribeTask(id: string, fn: (u: TaskUpdate) => void): () => void {
    let subs = this.#tasks.get(id);
    if (!subs) this.#tasks.set(id, subs = new Set());
    subs.add(fn);
    return () => {
      subs.delete(fn);
      if (subs.size === 0 && this.#tasks.get(id) === subs) this.#tasks.delete(id);
    };
  }

  /** Calls `fn` once when the hub closes (server shutdown); returns the unsubscribe function. */
  onClose(fn: () => void): () => void {
    if (this.#closed) {
      call(fn, undefined);
      return () => {};
    }
    this.#onClose.add(fn);
    return () => this.#onClose.delete(fn);
  }

  /** Stops publishing and tells every stream to end. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const fn of this.#onClose) call(fn, undefined);
    this.#onClose.clear();
    this.#all.clear();
    this.#tasks.clear();
  }
}

/** A subscriber's failure stays with the subscriber: the publisher (the scheduler) goes on. */
function call<T>(fn: (v: T) => void, v: T): void {
  try {
    fn(v);
  } catch {
    // Subscribers only queue frames; nothing here may reach the scheduler.
  }
}
