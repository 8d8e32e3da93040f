/**
 * Retention: deletes finished tasks some time after they ended.
 *
 * @module
 */
import type { TaskStore } from "./types.ts";

/** How many finished tasks one pass looks at, at most. */
export const RETENTION_SCAN_LIMIT = 100_000;

/**
 * Deletes terminated tasks whose last status is older than `cutoffSec` (epoch
 * seconds). Returns how many were deleted. Pages through the terminated class, so
 * memory stays bounded whatever the number of stored tasks.
 */
export async function pruneFinishedTasks(
  store: TaskStore,
  cutoffSec: number,
  { scanLimit = RETENTION_SCAN_LIMIT }: { scanLimit?: number } = {},
): Promise<number> {
  let deleted = 0;
  let scanned = 0;
  let cursor: string | null = null;
  do {
    const page: Awaited<ReturnType<TaskStore["listTasks"]>> = await store.listTasks({
      states: ["terminated"],
      limit: 1000,
      cursor,
    });
    const old = page.tasks.filter((t) => (t.status.at(-1)?.time ?? 0) < cutoffSec);
    const results = await Promise.all(old.map((t) => store.deleteTask(t.id)));
    deleted += results.filter(Boolean).length;
    scanned += page.tasks.length;
    cursor = page.cursor;
  } while (cursor && scanned < scanLimit);
  return deleted;
}
