/**
 * Types, errors and limits shared by every store.
 *
 * @module
 */
import type { StateClass, TaskRecord } from "../task/mod.ts";

/** A task id that does not exist. */
export class NotFoundError extends Error {
  override name = "NotFoundError";
}

/** A write that conflicts with what is stored (e.g. an idempotency key reused with another body). */
export class ConflictError extends Error {
  override name = "ConflictError";
}

/** A record too large for the store's value limit. */
export class TooLargeError extends Error {
  override name = "TooLargeError";
  constructor(message: string, readonly bytes: number, readonly limit: number) {
    super(message);
  }
}

/** The store could not be reached or written. */
export class StoreUnavailableError extends Error {
  override name = "StoreUnavailableError";
}

/**
 * A write refused because another writer moved on (ZooKeeper, high availability):
 * `deposed` when another instance has opened the store since this one did (it leads
 * now, and this instance must stop writing); `version` when the node changed since this
 * instance read it. Nothing of the write was applied.
 */
export class FencedWriteError extends StoreUnavailableError {
  override name = "FencedWriteError";
  constructor(
    message: string,
    readonly reason: "deposed" | "version",
    readonly path: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A label filter: `key` alone matches any value. */
export interface LabelFilter {
  key: string;
  value?: string;
}

/** What to list. All given conditions must hold. */
export interface ListFilter {
  /** State classes to include; `null` or absent = all tasks. */
  states?: readonly StateClass[] | null;
  /** Exact, case-sensitive name. */
  name?: string;
  label?: LabelFilter;
  /** Page size; default `DEFAULT_PAGE_SIZE`. */
  limit?: number;
  /** Opaque position returned by the previous page. */
  cursor?: string | null;
  /**
   * The caller reads this page once (the scheduler walking the queue): a store that keeps
   * recent pages for repeated lists need not keep (nor freeze) this one.
   */
  readOnce?: boolean;
}

/** One page of tasks in submission order, and where the next page starts (`null` = no more). */
export interface TaskPage {
  tasks: TaskRecord[];
  cursor: string | null;
}

export interface CreateOptions {
  /** `Idempotency-Key` of the request; with `fingerprint`, makes the create repeatable. */
  idempotencyKey?: string;
  /** A digest of the request body. */
  fingerprint?: string;
}

export interface CreateResult {
  task: TaskRecord;
  /** `false` when an earlier create with the same idempotency key is returned. */
  created: boolean;
}

/** Counts of tasks per state class. */
export type ClassCounts = Record<StateClass, number>;

/** A durable item waiting to be processed (e.g. a callback delivery). */
export interface OutboxItem<T = unknown> {
  id: string;
  value: T;
}

/**
 * Renders a task (e.g. into the JSON of an API view). Stores may keep what it returns
 * with the record until the task changes, so it must depend on the record only, and be
 * one long-lived function per kind of view (its identity is the cache key).
 */
export type TaskRenderer = (task: TaskRecord) => string;

export const DEFAULT_PAGE_SIZE = 1000;
export const MAX_PAGE_SIZE = 10_000;

/**
 * Where tasks live. Every method resolves only after the write is durable.
 * Records are returned unmasked: masking happens at the API boundary.
 */
export interface TaskStore extends AsyncDisposable {
  /** Stores a new task, assigning its `seq` (submission order). */
  createTask(task: TaskRecord, options?: CreateOptions): Promise<CreateResult>;
  getTask(id: string): Promise<TaskRecord | null>;
  /**
   * `render(task)` of a committed task, or `null` if there is none: a cached task's view is
   * rendered once until the task changes (a read then costs little more than its bytes).
   */
  getTaskView(id: string, render: TaskRenderer): Promise<string | null>;
  listTasks(filter?: ListFilter): Promise<TaskPage>;
  /** Replaces a stored task. Throws `NotFoundError` if it was deleted. */
  updateTask(task: TaskRecord): Promise<void>;
  /** Removes a task; `false` if there was none. */
  deleteTask(id: string): Promise<boolean>;
  /** How many tasks are in each state class. */
  countTasks(): Promise<ClassCounts>;
  /** The framework id the master assigned, persisted across restarts (D6). */
  getFrameworkId(): Promise<string | null>;
  setFrameworkId(id: string | null): Promise<void>;
  /** Durable work items by kind (callbacks waiting for delivery, ...). */
  putOutbox<T>(kind: string, item: OutboxItem<T>): Promise<void>;
  deleteOutbox(kind: string, id: string): Promise<void>;
  listOutbox<T>(kind: string): Promise<OutboxItem<T>[]>;
  /** Throws `StoreUnavailableError` when the store cannot serve. */
  ping(): Promise<void>;
  /** Waits for pending writes and releases the store. */
  close(): Promise<void>;
  /** Name for health output, e.g. `kv:db/eremetic.kv`. */
  readonly description: string;
}

/** The largest encoded record a store accepts (Deno KV values are at most 64 KiB). */
export const MAX_RECORD_BYTES = 60_000;
