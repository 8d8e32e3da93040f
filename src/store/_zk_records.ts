/**
 * The in-memory copy of a ZooKeeper root's task nodes, shared by the writing store
 * (`zk.ts`) and the followers' read-only mirror (`zk_mirror.ts`): records as their stored
 * JSON by id, with their `seq` and node version, and the reads every store answers.
 *
 * @module
 */
import type { StateClass, TaskRecord } from "../task/mod.ts";
import { classOfTask, decodeCursor, encodeCursor, matchesFilter, pageSize } from "./_common.ts";
import { isOriginalTask } from "./_original.ts";
import type { ClassCounts, ListFilter, TaskPage } from "./types.ts";

const decoder = new TextDecoder();

/** Children of the root that hold no task: our metadata and the election (src/ha). */
export function isTaskNodeName(name: string): boolean {
  return !name.startsWith("_") && name !== "leader";
}

/** What a node under the root holds. */
export type TaskNode =
  | { kind: "ours"; task: TaskRecord; text: string }
  | { kind: "original"; doc: Record<string, unknown> }
  | null;

/** Parses a task node's data: a record in our layout, one in the original's, or neither. */
export function parseTaskNode(data: Uint8Array): TaskNode {
  const text = decoder.decode(data);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return null;
  }
  if (isOriginalTask(doc)) return { kind: "original", doc };
  const t = doc as TaskRecord;
  if (typeof t?.id !== "string" || typeof t.seq !== "number") return null;
  return { kind: "ours", task: t, text };
}

/** One stored record: its JSON (copies are made by parsing), queue position and node version. */
export interface RecordEntry {
  text: string;
  seq: number;
  version: number;
}

/** Records by id and by `seq`. */
export class RecordIndex {
  #records = new Map<string, RecordEntry>();
  #bySeq = new Map<number, string>();

  /** The highest `seq` held (0 when empty). */
  maxSeq(): number {
    let max = 0;
    for (const s of this.#bySeq.keys()) if (s > max) max = s;
    return max;
  }

  get size(): number {
    return this.#records.size;
  }

  ids(): IterableIterator<string> {
    return this.#records.keys();
  }

  entry(id: string): RecordEntry | undefined {
    return this.#records.get(id);
  }

  set(id: string, entry: RecordEntry): void {
    const prior = this.#records.get(id);
    if (prior && prior.seq !== entry.seq && this.#bySeq.get(prior.seq) === id) {
      this.#bySeq.delete(prior.seq);
    }
    this.#records.set(id, entry);
    this.#bySeq.set(entry.seq, id);
  }

  delete(id: string): void {
    const prior = this.#records.get(id);
    if (!prior) return;
    this.#records.delete(id);
    if (this.#bySeq.get(prior.seq) === id) this.#bySeq.delete(prior.seq);
  }

  /** A fresh copy of the record, or null. */
  read(id: string): TaskRecord | null {
    const r = this.#records.get(id);
    return r ? JSON.parse(r.text) as TaskRecord : null;
  }

  list(filter: ListFilter = {}): TaskPage {
    const after = decodeCursor(filter.cursor);
    const limit = pageSize(filter);
    const states = filter.states ? new Set<StateClass>(filter.states) : null;
    const seqs = [...this.#bySeq.keys()].filter((s) => s > after).sort((a, b) => a - b);
    const tasks: TaskRecord[] = [];
    let last = 0;
    for (const s of seqs) {
      const t = this.read(this.#bySeq.get(s)!)!;
      if (states && !states.has(classOfTask(t))) continue;
      if (!matchesFilter(t, filter)) continue;
      tasks.push(t);
      last = s;
      if (tasks.length === limit) break;
    }
    const more = tasks.length === limit && seqs.some((s) => s > last);
    return { tasks, cursor: more ? encodeCursor(last) : null };
  }

  counts(): ClassCounts {
    const counts: ClassCounts = { queued: 0, active: 0, terminated: 0 };
    for (const id of this.#bySeq.values()) counts[classOfTask(this.read(id)!)]++;
    return counts;
  }
}
