/**
 * Persistence of tasks: the `TaskStore` interface and its implementations
 * (Deno KV by default, ZooKeeper for `database_driver: zk`, memory for tests).
 *
 * ```ts
 * import { openStore } from "./mod.ts";
 * await using store = await openStore({ driver: "memory" });
 * const page = await store.listTasks({ states: ["queued"] });
 * ```
 *
 * @module
 */
import type { Logger } from "../runtime.ts";
import type { TaskStore } from "./types.ts";
export { memoryStore } from "./memory.ts";
export { type KvStoreOptions, openKvStore } from "./kv.ts";
export { openZkStore, type ZkStoreOptions } from "./zk.ts";
export { type MirrorListener, openZkMirror, type ZkMirror } from "./zk_mirror.ts";
export { pruneFinishedTasks } from "./retention.ts";

export * from "./types.ts";

export interface OpenStoreOptions {
  driver: "kv" | "memory" | "zk";
  /** KV path (or `:memory:`), or ZooKeeper URL. */
  database?: string;
  /** ZooKeeper session timeout (ms); default 10 s. */
  zkSessionTimeoutMs?: number;
  /** Where the ZooKeeper store reports refused (fenced) writes. */
  logger?: Logger;
}

/** Opens the store the configuration names. */
export async function openStore(
  { driver, database = "db/eremetic.kv", zkSessionTimeoutMs, logger }: OpenStoreOptions,
): Promise<TaskStore> {
  switch (driver) {
    case "memory":
      return (await import("./memory.ts")).memoryStore();
    case "kv":
      return await (await import("./kv.ts")).openKvStore(database);
    case "zk":
      return await (await import("./zk.ts")).openZkStore(database, {
        sessionTimeoutMs: zkSessionTimeoutMs,
        logger,
      });
  }
}
