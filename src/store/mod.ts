/**
 * Persistence of tasks: the `TaskStore` interface and its implementations
 * (Deno KV for production, memory for tests; ZooKeeper arrives with its issue).
 *
 * ```ts
 * import { openStore } from "./mod.ts";
 * await using store = await openStore({ driver: "memory" });
 * const page = await store.listTasks({ states: ["queued"] });
 * ```
 *
 * @module
 */
import { StoreUnavailableError, type TaskStore } from "./types.ts";
export { memoryStore } from "./memory.ts";
export { type KvStoreOptions, openKvStore } from "./kv.ts";
export { pruneFinishedTasks } from "./retention.ts";

export * from "./types.ts";

export interface OpenStoreOptions {
  driver: "kv" | "memory" | "zk";
  /** KV path (or `:memory:`), or ZooKeeper URL. */
  database?: string;
}

/** Opens the store the configuration names. */
export async function openStore(
  { driver, database = "db/eremetic.kv" }: OpenStoreOptions,
): Promise<TaskStore> {
  switch (driver) {
    case "memory":
      return (await import("./memory.ts")).memoryStore();
    case "kv":
      return await (await import("./kv.ts")).openKvStore(database);
    case "zk":
      throw new StoreUnavailableError(
        'Cannot open database driver "zk": ZooKeeper storage is not available yet in this version',
      );
  }
}
