/**
 * The store step of a batch of status updates: every changed record written at once, so
 * the store's group commit makes them one commit. Nothing is acknowledged before this
 * resolves.
 *
 * @module
 */
import type { TaskStore } from "../store/mod.ts";
import type { TaskRecord } from "../task/mod.ts";

/** Writes `records` together; resolves with the ids whose write failed, and why. */
export async function commitRecords(
  store: Pick<TaskStore, "updateTask">,
  records: ReadonlyMap<string, TaskRecord>,
): Promise<Map<string, Error>> {
  const ids = [...records.keys()];
  const settled = await Promise.allSettled(ids.map((id) => store.updateTask(records.get(id)!)));
  const failed = new Map<string, Error>();
  settled.forEach((s, i) => {
    if (s.status === "rejected") failed.set(ids[i], s.reason as Error);
  });
  return failed;
}
