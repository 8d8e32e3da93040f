/**
 * An in-memory `TaskStore` for tests and `database_driver: memory`.
 *
 * @module
 */
import type { StateClass, TaskRecord } from "../task/mod.ts";
import { decodeStored, encodeStored } from "./_codec.ts";
import { classOfTask, decodeCursor, encodeCursor, matchesFilter, pageSize } from "./_common.ts";
import {
  type ClassCounts,
  ConflictError,
  type CreateOptions,
  type CreateResult,
  type ListFilter,
  NotFoundError,
  type OutboxItem,
  type TaskPage,
  type TaskRenderer,
  type TaskStore,
} from "./types.ts";

/** A store that keeps everything in this process; records are copied in and out. */
export function memoryStore(): TaskStore {
  // Encoded copies (the KV store's encoding), so callers can never mutate what is stored.
  const records = new Map<string, { bytes: Uint8Array; seq: number }>();
  const bySeq = new Map<number, string>();
  const idempotency = new Map<string, { id: string; fingerprint: string }>();
  const outbox = new Map<string, Map<string, unknown>>();
  let seq = 0;
  let frameworkId: string | null = null;
  const read = (id: string) => {
    const r = records.get(id);
    return r ? decodeStored(r.bytes, r.seq) : null;
  };

  return {
    description: "memory",
    // deno-lint-ignore require-await
    async createTask(task: TaskRecord, options: CreateOptions = {}): Promise<CreateResult> {
      const key = options.idempotencyKey;
      if (key !== undefined) {
        const prior = idempotency.get(key);
        const existing = prior && read(prior.id);
        if (prior && existing) {
          if (prior.fingerprint !== (options.fingerprint ?? "")) {
            throw new ConflictError(
              `Cannot reuse idempotency key "${key}": it was used with a different body`,
            );
          }
          return { task: existing, created: false };
        }
      }
      const bytes = encodeStored(task); // throws TooLargeError before a seq is used
      const stored = { ...task, seq: ++seq };
      records.set(stored.id, { bytes, seq: stored.seq });
      bySeq.set(stored.seq, stored.id);
      if (key !== undefined) {
        idempotency.set(key, { id: stored.id, fingerprint: options.fingerprint ?? "" });
      }
      return { task: decodeStored(bytes, stored.seq), created: true };
    },
    getTask(id: string) {
      return Promise.resolve(read(id));
    },
    getTaskView(id: string, render: TaskRenderer) {
      const t = read(id);
      return Promise.resolve(t ? render(t) : null);
    },
    // deno-lint-ignore require-await
    async listTasks(filter: ListFilter = {}): Promise<TaskPage> {
      const after = decodeCursor(filter.cursor);
      const limit = pageSize(filter);
      const states = filter.states ? new Set<StateClass>(filter.states) : null;
      const seqs = [...bySeq.keys()].filter((s) => s > after).sort((a, b) => a - b);
      const tasks: TaskRecord[] = [];
      for (const s of seqs) {
        const t = read(bySeq.get(s)!)!;
        if (states && !states.has(classOfTask(t))) continue;
        if (!matchesFilter(t, filter)) continue;
        tasks.push(t);
        if (tasks.length === limit) break;
      }
      const more = tasks.length === limit &&
        seqs.some((s) => s > tasks[tasks.length - 1].seq);
      return { tasks, cursor: more ? encodeCursor(tasks.at(-1)!.seq) : null };
    },
    // deno-lint-ignore require-await
    async updateTask(task: TaskRecord) {
      const prior = read(task.id);
      if (!prior) throw new NotFoundError(`Cannot update task "${task.id}": it does not exist`);
      // Name and seq are fixed at creation (the KV store indexes both).
      const bytes = encodeStored({ ...task, name: prior.name });
      records.set(task.id, { bytes, seq: prior.seq });
    },
    deleteTask(id: string) {
      const prior = read(id);
      if (!prior) return Promise.resolve(false);
      records.delete(id);
      bySeq.delete(prior.seq);
      return Promise.resolve(true);
    },
    countTasks(): Promise<ClassCounts> {
      const counts: ClassCounts = { queued: 0, active: 0, terminated: 0 };
      for (const id of bySeq.values()) counts[classOfTask(read(id)!)]++;
      return Promise.resolve(counts);
    },
    getFrameworkId: () => Promise.resolve(frameworkId),
    setFrameworkId(id: string | null) {
      frameworkId = id;
      return Promise.resolve();
    },
    putOutbox<T>(kind: string, item: OutboxItem<T>) {
      if (!outbox.has(kind)) outbox.set(kind, new Map());
      outbox.get(kind)!.set(item.id, structuredClone(item.value));
      return Promise.resolve();
    },
    deleteOutbox(kind: string, id: string) {
      outbox.get(kind)?.delete(id);
      return Promise.resolve();
    },
    listOutbox<T>(kind: string): Promise<OutboxItem<T>[]> {
      const items = [...(outbox.get(kind) ?? new Map()).entries()].map(([id, value]) => ({
        id,
        value: structuredClone(value) as T,
      }));
      return Promise.resolve(items);
    },
    ping: () => Promise.resolve(),
    close: () => Promise.resolve(),
    [Symbol.asyncDispose]: () => Promise.resolve(),
  };
}
