/**
 * A read-only copy of the ZooKeeper store's tasks, kept fresh by ZooKeeper watches: what
 * a follower (src/ha) serves reads from while another instance leads and writes.
 *
 * It holds the task nodes under the root in memory, loaded on opening; a child watch on
 * the root tells it of created and deleted tasks, a data watch on each task node of
 * changed ones (ZooKeeper watches fire once: each is set again by the read that follows
 * it). ZooKeeper only ever shows committed transactions, and a multi all at once, so
 * the copy never holds a write the leader has not had acknowledged; it may lag the
 * leader by a watch's round trip. {@linkcode ZkMirror.refresh} closes that gap for one
 * task (a `sync`, then a read): the follower calls it after forwarding a write, and
 * `getTask` calls it before answering "not found", so a client that was answered 202
 * finds its task on any instance. Concurrent lookups share syncs (one per round trip at
 * most). After a session expiry (watches lost) it reloads.
 *
 * Every write method throws {@linkcode StoreUnavailableError}: only the leader writes.
 *
 * @module
 */
import type { Logger } from "../runtime.ts";
import type { TaskRecord } from "../task/mod.ts";
import { connectZk, parseZkUrl, type ZkClient } from "../zk/mod.ts";
import { isTaskNodeName, parseTaskNode, RecordIndex } from "./_zk_records.ts";
import {
  type ClassCounts,
  type CreateResult,
  type ListFilter,
  type OutboxItem,
  StoreUnavailableError,
  type TaskPage,
  type TaskRenderer,
  type TaskStore,
} from "./types.ts";
import { LOAD_CONCURRENCY, pingZooKeeper, type ZkStoreOptions } from "./zk.ts";

/** Called when a task node changed (`task`) or was deleted (`null`); `prior` is what was held. */
export type MirrorListener = (
  id: string,
  task: TaskRecord | null,
  prior: TaskRecord | null,
) => void;

/** The followers' read-only view of a ZooKeeper store. */
export interface ZkMirror extends TaskStore {
  /** Calls `listener` on every change seen from now on; returns the unsubscribe function. */
  onTaskChanged(listener: MirrorListener): () => void;
  /** Reads task `id` from ZooKeeper after a sync and updates the copy; returns it. */
  refresh(id: string): Promise<TaskRecord | null>;
}

/** Opens a mirror of the store at `database` and loads it. */
export async function openZkMirror(
  database: string,
  options: ZkStoreOptions = {},
): Promise<ZkMirror> {
  const url = parseZkUrl(database);
  const { connect = connectZk, logger, ...clientOptions } = options;
  let zk: ZkClient;
  try {
    zk = await connect(url, clientOptions);
  } catch (err) {
    throw new StoreUnavailableError(
      `Cannot open database "${url}": ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  const mirror = new Mirror(zk, url.path, `zk:${url} (read-only)`, logger);
  try {
    // A watch is only left on a node that exists: create the (empty) root if no leader has.
    await zk.mkdirp(url.path);
    await mirror.load();
    return mirror;
  } catch (err) {
    await mirror.close();
    throw new StoreUnavailableError(
      `Cannot read database "${url}": ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}

function readOnly(what: string): Promise<never> {
  return Promise.reject(
    new StoreUnavailableError(`Cannot ${what}: this instance follows; the leader writes`),
  );
}

class Mirror implements ZkMirror {
  readonly description: string;
  #zk: ZkClient;
  #root: string;
  #logger: Logger | undefined;
  #records = new RecordIndex();
  /** Task node names with a data watch set. */
  #watching = new Set<string>();
  #listeners = new Set<MirrorListener>();
  #unsubscribe: () => void;
  #closed = false;

  constructor(zk: ZkClient, root: string, description: string, logger?: Logger) {
    this.#zk = zk;
    this.#root = root;
    this.description = description;
    this.#logger = logger;
    this.#unsubscribe = zk.onSessionLost(() => {
      // Watches went with the session: read everything again.
      this.#watching.clear();
      void this.load().catch((e) => this.#failed("reload", e));
    });
  }

  #failed(what: string, e: unknown): void {
    if (this.#closed) return;
    this.#logger?.warn("Cannot follow the ZooKeeper store", {
      what,
      error: e instanceof Error ? e.message : String(e),
    });
  }

  /** Lists the root (watching it) and reads every task node not watched yet. */
  async load(): Promise<void> {
    if (this.#closed) return;
    const names = ((await this.#zk.getChildren(this.#root, () => this.#childrenChanged())) ??
      []).filter(isTaskNodeName);
    const present = new Set(names);
    for (const id of [...this.#records.ids()]) {
      if (!present.has(id)) this.#apply(id, null, -1);
    }
    for (const name of this.#watching) if (!present.has(name)) this.#watching.delete(name);
    const fresh = names.filter((n) => !this.#watching.has(n));
    for (let i = 0; i < fresh.length; i += LOAD_CONCURRENCY) {
      await Promise.all(fresh.slice(i, i + LOAD_CONCURRENCY).map((n) => this.#read(n)));
    }
  }

  #childrenChanged(): void {
    void this.load().catch((e) => this.#failed("list", e));
  }

  /** Reads a task node; sets a data watch unless one is set. */
  async #read(name: string): Promise<void> {
    if (this.#closed) return;
    const path = `${this.#root}/${name}`;
    const watch = !this.#watching.has(name);
    if (watch) this.#watching.add(name);
    let node;
    try {
      node = await this.#zk.getData(
        path,
        watch
          ? () => {
            this.#watching.delete(name);
            void this.#read(name).catch((e) => this.#failed("read", e));
          }
          : undefined,
      );
    } catch (e) {
      if (watch) this.#watching.delete(name);
      throw e;
    }
    if (node === null) {
      // No watch is left on a node that does not exist.
      if (watch) this.#watching.delete(name);
      return this.#apply(name, null, -1);
    }
    const parsed = parseTaskNode(node.data);
    // The original's layout: the leader adopts it (rewrites it), which the watch reports.
    if (parsed?.kind !== "ours" || parsed.task.id !== name) return;
    this.#apply(name, parsed, node.version);
  }

  #apply(
    id: string,
    parsed: { task: TaskRecord; text: string } | null,
    version: number,
  ): void {
    const held = this.#records.entry(id);
    if (parsed === null) {
      if (!held) return;
      this.#records.delete(id);
    } else {
      // A node's version only grows: an answer older than what is held changes nothing.
      if (held && held.version >= version) return;
      this.#records.set(id, { text: parsed.text, seq: parsed.task.seq, version });
    }
    if (this.#listeners.size === 0) return;
    const prior = held ? JSON.parse(held.text) as TaskRecord : null;
    for (const l of this.#listeners) {
      try {
        l(id, parsed && (JSON.parse(parsed.text) as TaskRecord), prior);
      } catch {
        // A listener's failure stays with the listener.
      }
    }
  }

  onTaskChanged(listener: MirrorListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async refresh(id: string): Promise<TaskRecord | null> {
    if (!isTaskNodeName(id) || id.includes("/")) return null;
    await this.#sync();
    await this.#read(id);
    return this.#records.read(id);
  }

  /** The sync in flight, and the one queued behind it (shared by everyone who waits). */
  #syncing: Promise<void> | null = null;
  #syncQueued: Promise<void> | null = null;

  /**
   * A sync that started after the call: one in flight may have started before a write the
   * caller knows of, so callers arriving meanwhile share the next one. So a flood of
   * lookups of unknown ids costs at most one sync per ZooKeeper round trip.
   */
  #sync(): Promise<void> {
    if (this.#syncQueued) return this.#syncQueued;
    const start = (): Promise<void> => {
      const p: Promise<void> = this.#zk.sync("/").finally(() => {
        if (this.#syncing === p) this.#syncing = null;
      });
      this.#syncing = p;
      return p;
    };
    if (this.#syncing === null) return start();
    const queued = this.#syncing.catch(() => {}).then(() => {
      this.#syncQueued = null;
      return start();
    });
    this.#syncQueued = queued;
    return queued;
  }

  async getTask(id: string): Promise<TaskRecord | null> {
    const held = this.#records.read(id);
    if (held) return held;
    // Maybe created a moment ago and the watch has not told yet.
    try {
      return await this.refresh(id);
    } catch (e) {
      throw new StoreUnavailableError(
        `Cannot read task "${id}": ${e instanceof Error ? e.message : String(e)}`,
        { cause: e },
      );
    }
  }

  async getTaskView(id: string, render: TaskRenderer): Promise<string | null> {
    const t = await this.getTask(id);
    return t ? render(t) : null;
  }

  listTasks(filter: ListFilter = {}): Promise<TaskPage> {
    try {
      return Promise.resolve(this.#records.list(filter));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  countTasks(): Promise<ClassCounts> {
    return Promise.resolve(this.#records.counts());
  }

  async getFrameworkId(): Promise<string | null> {
    const node = await this.#zk.getData(`${this.#root}/_eremetic/framework_id`);
    return node ? new TextDecoder().decode(node.data) : null;
  }

  listOutbox<T>(): Promise<OutboxItem<T>[]> {
    // Deliveries are the leader's.
    return Promise.resolve([]);
  }

  createTask(): Promise<CreateResult> {
    return readOnly("create a task");
  }
  updateTask(): Promise<void> {
    return readOnly("update a task");
  }
  deleteTask(): Promise<boolean> {
    return readOnly("delete a task");
  }
  setFrameworkId(): Promise<void> {
    return readOnly("store the framework id");
  }
  putOutbox(): Promise<void> {
    return readOnly("store an outbox item");
  }
  deleteOutbox(): Promise<void> {
    return readOnly("delete an outbox item");
  }

  ping(): Promise<void> {
    return pingZooKeeper(this.#zk, this.#closed);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe();
    this.#listeners.clear();
    await this.#zk.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
