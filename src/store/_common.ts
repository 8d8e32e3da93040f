/**
 * Helpers shared by the store implementations.
 *
 * @module
 */
import { classOf, currentState, type StateClass, type TaskRecord } from "../task/mod.ts";
import { DEFAULT_PAGE_SIZE, type LabelFilter, type ListFilter, MAX_PAGE_SIZE } from "./types.ts";

/** The list class of a record's current state. */
export function classOfTask(task: TaskRecord): StateClass {
  return classOf(currentState(task));
}

/** Whether a task matches the label filter. */
export function matchesLabel(task: TaskRecord, label: LabelFilter | undefined): boolean {
  if (!label) return true;
  const v = task.labels?.[label.key];
  return v !== undefined && (label.value === undefined || v === label.value);
}

/** Whether a task matches a filter's name and label conditions. */
export function matchesFilter(task: TaskRecord, filter: ListFilter): boolean {
  return (filter.name === undefined || task.name === filter.name) &&
    matchesLabel(task, filter.label);
}

/** The page size a filter asks for, clamped to 1..MAX_PAGE_SIZE. */
export function pageSize(filter: ListFilter): number {
  const n = filter.limit ?? DEFAULT_PAGE_SIZE;
  return Math.max(1, Math.min(MAX_PAGE_SIZE, Math.floor(n)));
}

/** Cursors are the last returned `seq`, written in base 36 so nobody mistakes them for ids. */
export function encodeCursor(seq: number): string {
  return `s${seq.toString(36)}`;
}

/** The `seq` after which the next page starts; throws `RangeError` on a malformed cursor. */
export function decodeCursor(cursor: string | null | undefined): number {
  if (!cursor) return 0;
  const m = /^s([0-9a-z]{1,11})$/.exec(cursor);
  const seq = m ? parseInt(m[1], 36) : NaN;
  // Eleven base-36 digits reach past 2^53; no stored seq is that large, and a KV range
  // starting beyond its end throws.
  if (!(seq < Number.MAX_SAFE_INTEGER)) {
    throw new RangeError(`Cannot use cursor "${cursor}": it was not returned by this server`);
  }
  return seq;
}
