/**
 * A `TaskStore` in ZooKeeper (`database_driver: zk`, `database: zk://host:port/path`).
 *
 * Layout under the root node `<path>` (created with its parents):
 * - `<path>/<task id>`: the task record as JSON (our field names, `seq` included). Nodes
 *   in the original Eremetic's layout (Go field names, reference §7.3) are read and, on
 *   opening, rewritten in ours with a `seq` in their creation order (adoption);
 * - `<path>/_eremetic/framework_id`: the framework id;
 * - `<path>/_eremetic/idempotency/<key, URI-encoded>`: `{"id", "fingerprint"}`;
 * - `<path>/_eremetic/outbox/<kind>/<item id, URI-encoded>`: the item's value as JSON.
 *
 * The queue order is `seq`. One instance writes (the scheduler's process); it holds every
 * record in memory, loaded on opening, and serves reads from there. A write resolves only
 * after ZooKeeper acknowledged it; writes issued together go out as one multi-op (a
 * ZooKeeper transaction), so a burst of submissions costs a few round trips.
 *
 * @module
 */
import { type Clock, systemClock } from "../runtime.ts";
import type { StateClass, TaskRecord } from "../task/mod.ts";
import {
  connectZk,
  parseZkUrl,
  ZK_CODES,
  type ZkClient,
  type ZkClientOptions,
  ZkError,
  type ZkOp,
} from "../zk/mod.ts";
import { classOfTask, decodeCursor, encodeCursor, matchesFilter, pageSize } from "./_common.ts";
import { fromOriginalTask, isOriginalTask } from "./_original.ts";
import {
  type ClassCounts,
  ConflictError,
  type CreateOptions,
  type CreateResult,
  type ListFilter,
  MAX_RECORD_BYTES,
  NotFoundError,
  type OutboxItem,
  StoreUnavailableError,
  type TaskPage,
  type TaskRenderer,
  type TaskStore,
  TooLargeError,
} from "./types.ts";

/** Operations per multi at most, and bytes (ZooKeeper refuses requests over ~1 MiB). */
const MAX_BATCH_OPS = 1000;
const MAX_BATCH_BYTES = 512 * 1024;
/** Multis sent before the first is acknowledged. */
const MAX_IN_FLIGHT = 4;
/** Parallel reads while loading. */
const LOAD_CONCURRENCY = 64;

export interface ZkStoreOptions extends ZkClientOptions {
  /** Opens the session (tests pass their own). */
  connect?: (url: ReturnType<typeof parseZkUrl>, options: ZkClientOptions) => Promise<ZkClient>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const json = (v: unknown) => encoder.encode(JSON.stringify(v));

interface Pending {
  ops: ZkOp[];
  bytes: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** Opens the store at `database` (`zk://[user:pass@]host:port[,…]/path`) and loads it. */
export async function openZkStore(
  database: string,
  options: ZkStoreOptions = {},
): Promise<TaskStore> {
  const url = parseZkUrl(database);
  const { connect = connectZk, ...clientOptions } = options;
  let zk: ZkClient;
  try {
    zk = await connect(url, clientOptions);
  } catch (err) {
    throw new StoreUnavailableError(
      `Cannot open database "${url}": ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  try {
    const store = new ZkStore(zk, url.path, String(url), {
      clock: clientOptions.clock ?? systemClock,
      writeTimeoutMs: zk.sessionTimeoutMs,
    });
    await store.load();
    return store;
  } catch (err) {
    await zk.close();
    throw err;
  }
}

class ZkStore implements TaskStore {
  readonly description: string;
  #zk: ZkClient;
  #clock: Clock;
  #writeTimeoutMs: number;
  #root: string;
  #meta: string;
  /** Stored JSON by task id (copies are made by parsing). */
  #records = new Map<string, { text: string; seq: number }>();
  #bySeq = new Map<number, string>();
  #idempotency = new Map<string, { id: string; fingerprint: string; pending?: Promise<void> }>();
  #outbox = new Map<string, Map<string, string>>();
  #frameworkId: string | null = null;
  #seq = 0;
  #queue: Pending[] = [];
  #scheduled = false;
  #inFlight = 0;
  #idle: (() => void)[] = [];
  #closed = false;

  constructor(
    zk: ZkClient,
    root: string,
    description: string,
    { clock, writeTimeoutMs }: { clock: Clock; writeTimeoutMs: number },
  ) {
    this.#clock = clock;
    this.#writeTimeoutMs = writeTimeoutMs;
    this.#zk = zk;
    this.#root = root;
    this.#meta = `${root}/_eremetic`;
    this.description = `zk:${description}`;
  }

  /** Reads everything under the root; adopts the original's task nodes. */
  async load(): Promise<void> {
    const zk = this.#zk;
    for (const p of [this.#root, `${this.#meta}/idempotency`, `${this.#meta}/outbox`]) {
      await zk.mkdirp(p);
    }
    const names = ((await zk.getChildren(this.#root)) ?? []).filter((n) =>
      !n.startsWith("_") && n !== "leader" // the election (src/ha)
    );
    const originals: { doc: Record<string, unknown>; czxid: bigint }[] = [];
    await inChunks(names, async (name) => {
      const node = await zk.getData(`${this.#root}/${name}`);
      if (!node) return;
      let doc: unknown;
      try {
        doc = JSON.parse(decoder.decode(node.data));
      } catch {
        return; // not a task node
      }
      if (isOriginalTask(doc)) return void originals.push({ doc, czxid: node.czxid });
      const t = doc as TaskRecord;
      if (typeof t?.id !== "string" || typeof t.seq !== "number") return;
      this.#remember(t.id, decoder.decode(node.data), t.seq);
    });
    this.#seq = Math.max(0, ...this.#bySeq.keys());
    // The original's tasks join the queue after ours, in the order they were created.
    originals.sort((a, b) => (a.czxid < b.czxid ? -1 : a.czxid > b.czxid ? 1 : 0));
    const adopted = originals.map(({ doc }) => fromOriginalTask(doc, ++this.#seq));
    for (let i = 0; i < adopted.length; i += 100) {
      const batch = adopted.slice(i, i + 100);
      await zk.multi(batch.map((t) => ({ op: "set", path: this.#path(t.id), data: json(t) })));
      for (const t of batch) this.#remember(t.id, JSON.stringify(t), t.seq);
    }
    const fw = await zk.getData(`${this.#meta}/framework_id`);
    this.#frameworkId = fw ? decoder.decode(fw.data) : null;
    const keys = (await zk.getChildren(`${this.#meta}/idempotency`)) ?? [];
    await inChunks(keys, async (k) => {
      const node = await zk.getData(`${this.#meta}/idempotency/${k}`);
      if (node) this.#idempotency.set(decodeURIComponent(k), JSON.parse(decoder.decode(node.data)));
    });
    for (const kind of (await zk.getChildren(`${this.#meta}/outbox`)) ?? []) {
      const items = new Map<string, string>();
      this.#outbox.set(decodeURIComponent(kind), items);
      const ids = (await zk.getChildren(`${this.#meta}/outbox/${kind}`)) ?? [];
      await inChunks(ids, async (id) => {
        const node = await zk.getData(`${this.#meta}/outbox/${kind}/${id}`);
        if (node) items.set(decodeURIComponent(id), decoder.decode(node.data));
      });
    }
  }

  #path(id: string): string {
    return `${this.#root}/${id}`;
  }

  #remember(id: string, text: string, seq: number): void {
    this.#records.set(id, { text, seq });
    this.#bySeq.set(seq, id);
  }

  #read(id: string): TaskRecord | null {
    const r = this.#records.get(id);
    return r ? JSON.parse(r.text) as TaskRecord : null;
  }

  /** Queues `ops` for the next multi; resolves once ZooKeeper acknowledged them. */
  #write(ops: ZkOp[]): Promise<void> {
    if (this.#closed) {
      return Promise.reject(new StoreUnavailableError("Cannot write: the store is closed"));
    }
    const bytes = ops.reduce((n, o) => n + ("data" in o ? o.data.length : 0) + o.path.length, 0);
    return new Promise((resolve, reject) => {
      this.#queue.push({ ops, bytes, resolve, reject });
      this.#flush();
    });
  }

  /**
   * Sends queued writes in batches, up to MAX_IN_FLIGHT multis at once: ZooKeeper runs a
   * session's requests in order, and commits concurrent ones in one log sync.
   */
  #flush(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    // Let the writes issued in this turn join the batch.
    queueMicrotask(() => {
      this.#scheduled = false;
      while (this.#queue.length && this.#inFlight < MAX_IN_FLIGHT) this.#send(this.#take());
    });
  }

  #take(): Pending[] {
    const batch: Pending[] = [];
    let ops = 0;
    let bytes = 0;
    while (this.#queue.length) {
      const next = this.#queue[0];
      const full = ops + next.ops.length > MAX_BATCH_OPS || bytes + next.bytes > MAX_BATCH_BYTES;
      if (batch.length && full) break;
      batch.push(this.#queue.shift()!);
      ops += next.ops.length;
      bytes += next.bytes;
    }
    return batch;
  }

  async #send(batch: Pending[]): Promise<void> {
    this.#inFlight++;
    try {
      await this.#multi(batch.flatMap((p) => p.ops));
      for (const p of batch) p.resolve();
    } catch (err) {
      if (batch.length === 1 || (err instanceof ZkError && err.temporary)) {
        for (const p of batch) p.reject(unavailable(err));
      } else {
        // One write failed the whole multi: run each alone so only that one fails.
        for (const p of batch) {
          await this.#multi(p.ops).then(p.resolve, (e) => p.reject(unavailable(e)));
        }
      }
    } finally {
      this.#inFlight--;
      if (this.#queue.length) this.#flush();
      else if (this.#inFlight === 0) { for (const w of this.#idle.splice(0)) w(); }
    }
  }

  /**
   * A multi that gives up after the session timeout: the library would wait for a server
   * forever. Like a crash, a write given up on may still have been applied.
   */
  async #multi(ops: ZkOp[]): Promise<void> {
    const ac = new AbortController();
    try {
      await Promise.race([
        this.#zk.multi(ops),
        this.#clock.sleep(this.#writeTimeoutMs, ac.signal).then(() => {
          throw new StoreUnavailableError(
            `Cannot write to ZooKeeper "${this.#zk.url}": no answer within ${this.#writeTimeoutMs} ms`,
          );
        }),
      ]);
    } finally {
      ac.abort();
    }
  }

  async createTask(task: TaskRecord, options: CreateOptions = {}): Promise<CreateResult> {
    const key = options.idempotencyKey;
    const fingerprint = options.fingerprint ?? "";
    if (key !== undefined) {
      const prior = this.#idempotency.get(key);
      if (prior) {
        await prior.pending?.catch(() => {});
        const existing = this.#idempotency.get(key) === prior && this.#read(prior.id);
        if (existing) {
          if (prior.fingerprint !== fingerprint) {
            throw new ConflictError(
              `Cannot reuse idempotency key "${key}": it was used with a different body`,
            );
          }
          return { task: existing, created: false };
        }
      }
    }
    const stored: TaskRecord = { ...task, seq: this.#seq + 1 };
    const text = JSON.stringify(stored);
    const data = encoder.encode(text);
    if (data.length > MAX_RECORD_BYTES) {
      throw new TooLargeError(
        `Cannot store task "${task.id}": ${data.length} bytes, at most ${MAX_RECORD_BYTES}`,
        data.length,
        MAX_RECORD_BYTES,
      );
    }
    this.#seq = stored.seq;
    const ops: ZkOp[] = [{ op: "create", path: this.#path(stored.id), data }];
    let entry: { id: string; fingerprint: string; pending?: Promise<void> } | undefined;
    if (key !== undefined) {
      const path = `${this.#meta}/idempotency/${encodeURIComponent(key)}`;
      const value = json({ id: stored.id, fingerprint });
      const exists = this.#idempotency.has(key);
      ops.push(exists ? { op: "set", path, data: value } : { op: "create", path, data: value });
      entry = { id: stored.id, fingerprint };
      this.#idempotency.set(key, entry);
    }
    const written = this.#write(ops);
    if (entry) entry.pending = written;
    try {
      await written;
    } catch (err) {
      if (entry && this.#idempotency.get(key!) === entry) this.#idempotency.delete(key!);
      throw err;
    } finally {
      if (entry) delete entry.pending;
    }
    this.#remember(stored.id, text, stored.seq);
    return { task: JSON.parse(text), created: true };
  }

  getTask(id: string): Promise<TaskRecord | null> {
    return Promise.resolve(this.#read(id));
  }

  getTaskView(id: string, render: TaskRenderer): Promise<string | null> {
    const t = this.#read(id);
    return Promise.resolve(t ? render(t) : null);
  }

  // deno-lint-ignore require-await
  async listTasks(filter: ListFilter = {}): Promise<TaskPage> {
    const after = decodeCursor(filter.cursor);
    const limit = pageSize(filter);
    const states = filter.states ? new Set<StateClass>(filter.states) : null;
    const seqs = [...this.#bySeq.keys()].filter((s) => s > after).sort((a, b) => a - b);
    const tasks: TaskRecord[] = [];
    let last = 0;
    for (const s of seqs) {
      const t = this.#read(this.#bySeq.get(s)!)!;
      if (states && !states.has(classOfTask(t))) continue;
      if (!matchesFilter(t, filter)) continue;
      tasks.push(t);
      last = s;
      if (tasks.length === limit) break;
    }
    const more = tasks.length === limit && seqs.some((s) => s > last);
    return { tasks, cursor: more ? encodeCursor(last) : null };
  }

  async updateTask(task: TaskRecord): Promise<void> {
    const prior = this.#records.get(task.id);
    if (!prior) throw new NotFoundError(`Cannot update task "${task.id}": it does not exist`);
    const name = (JSON.parse(prior.text) as TaskRecord).name;
    // Name and seq are fixed at creation, as in the other stores.
    const text = JSON.stringify({ ...task, name, seq: prior.seq });
    const data = encoder.encode(text);
    if (data.length > MAX_RECORD_BYTES) {
      throw new TooLargeError(
        `Cannot store task "${task.id}": ${data.length} bytes, at most ${MAX_RECORD_BYTES}`,
        data.length,
        MAX_RECORD_BYTES,
      );
    }
    try {
      await this.#write([{ op: "set", path: this.#path(task.id), data }]);
    } catch (err) {
      if (codeOf(err) === ZK_CODES.NO_NODE) {
        throw new NotFoundError(`Cannot update task "${task.id}": it does not exist`);
      }
      throw err;
    }
    if (this.#records.has(task.id)) this.#remember(task.id, text, prior.seq);
  }

  async deleteTask(id: string): Promise<boolean> {
    const prior = this.#records.get(id);
    if (!prior) return false;
    try {
      await this.#write([{ op: "remove", path: this.#path(id) }]);
    } catch (err) {
      if (codeOf(err) !== ZK_CODES.NO_NODE) throw err;
    }
    if (this.#records.get(id) === prior) {
      this.#records.delete(id);
      this.#bySeq.delete(prior.seq);
    }
    return true;
  }

  countTasks(): Promise<ClassCounts> {
    const counts: ClassCounts = { queued: 0, active: 0, terminated: 0 };
    for (const id of this.#bySeq.values()) counts[classOfTask(this.#read(id)!)]++;
    return Promise.resolve(counts);
  }

  getFrameworkId(): Promise<string | null> {
    return Promise.resolve(this.#frameworkId);
  }

  async setFrameworkId(id: string | null): Promise<void> {
    const path = `${this.#meta}/framework_id`;
    if (id === null) {
      if (this.#frameworkId !== null) await this.#write([{ op: "remove", path }]);
    } else {
      const data = encoder.encode(id);
      await this.#write([
        this.#frameworkId === null ? { op: "create", path, data } : { op: "set", path, data },
      ]);
    }
    this.#frameworkId = id;
  }

  async putOutbox<T>(kind: string, item: OutboxItem<T>): Promise<void> {
    const dir = `${this.#meta}/outbox/${encodeURIComponent(kind)}`;
    if (!this.#outbox.has(kind)) {
      await this.#zk.mkdirp(dir).catch((e) => Promise.reject(unavailable(e)));
      if (!this.#outbox.has(kind)) this.#outbox.set(kind, new Map());
    }
    const items = this.#outbox.get(kind)!;
    const text = JSON.stringify(item.value);
    const path = `${dir}/${encodeURIComponent(item.id)}`;
    const data = encoder.encode(text);
    await this.#write([
      items.has(item.id) ? { op: "set", path, data } : { op: "create", path, data },
    ]);
    items.set(item.id, text);
  }

  async deleteOutbox(kind: string, id: string): Promise<void> {
    const items = this.#outbox.get(kind);
    if (!items?.has(id)) return;
    const path = `${this.#meta}/outbox/${encodeURIComponent(kind)}/${encodeURIComponent(id)}`;
    await this.#write([{ op: "remove", path }]).catch((err) => {
      if (codeOf(err) !== ZK_CODES.NO_NODE) throw err;
    });
    items.delete(id);
  }

  listOutbox<T>(kind: string): Promise<OutboxItem<T>[]> {
    const items = [...(this.#outbox.get(kind) ?? new Map<string, string>()).entries()];
    return Promise.resolve(items.map(([id, text]) => ({ id, value: JSON.parse(text) as T })));
  }

  async ping(): Promise<void> {
    if (this.#closed) {
      throw new StoreUnavailableError("Cannot reach ZooKeeper: the store is closed");
    }
    if (!this.#zk.connected) {
      throw new StoreUnavailableError(`Cannot reach ZooKeeper "${this.#zk.url}": disconnected`);
    }
    try {
      await this.#zk.getData(this.#root);
    } catch (err) {
      throw unavailable(err);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#inFlight || this.#queue.length) await new Promise<void>((r) => this.#idle.push(r));
    this.#closed = true;
    await this.#zk.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function codeOf(err: unknown): number | null {
  const cause = err instanceof StoreUnavailableError ? err.cause : err;
  return cause instanceof ZkError ? cause.code : null;
}

/** A ZooKeeper failure as the store reports it (the cause keeps the code). */
function unavailable(err: unknown): Error {
  if (err instanceof StoreUnavailableError) return err;
  return new StoreUnavailableError(
    `Cannot write to ZooKeeper: ${err instanceof Error ? err.message : String(err)}`,
    { cause: err },
  );
}

/** Runs `fn` over `items`, at most LOAD_CONCURRENCY at a time. */
async function inChunks<T>(items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += LOAD_CONCURRENCY) {
    await Promise.all(items.slice(i, i + LOAD_CONCURRENCY).map(fn));
  }
}
