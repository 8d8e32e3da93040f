/**
 * A `TaskStore` in ZooKeeper (`database_driver: zk`, `database: zk://host:port/path`).
 *
 * Layout under the root node `<path>` (created with its parents):
 * - `<path>/<task id>`: the task record as JSON (our field names, `seq` included). Nodes
 *   in the original Eremetic's layout (Go field names, reference §7.3) are read and, on
 *   opening, rewritten in ours with a `seq` in their creation order (adoption);
 * - `<path>/_eremetic/framework_id`: the framework id;
 * - `<path>/_eremetic/idempotency/<key, URI-encoded>`: `{"id", "fingerprint"}`;
 * - `<path>/_eremetic/outbox/<kind>/<item id, URI-encoded>`: the item's value as JSON;
 * - `<path>/_eremetic/writer`: the writer epoch (its node version; the data says when).
 *
 * The queue order is `seq`. One instance writes (the scheduler's process); it holds every
 * record in memory, loaded on opening, and serves reads from there. A write resolves only
 * after ZooKeeper acknowledged it; writes issued together go out as one multi-op (a
 * ZooKeeper transaction), so a burst of submissions costs a few round trips.
 *
 * Fencing (high availability): opening the store bumps the writer epoch before loading,
 * and every multi starts with a `check` of the epoch version it got. So once a new leader
 * has opened the store, a deposed leader's late write fails as a whole, whatever it
 * touches (tasks, framework id, outbox, idempotency keys), with a
 * {@linkcode FencedWriteError} (`deposed`), is logged and is not applied; the store then
 * refuses every further write. A write ZooKeeper ordered before the bump was applied
 * before the new leader loaded, so the new leader sees it. Task updates and deletes also
 * carry the version the node had when this store last wrote or read it, so a task node
 * changed behind its back (say, by an original Eremetic still running) is not overwritten
 * either (`version`).
 *
 * @module
 */
import { type Clock, type Logger, silentLogger, systemClock } from "../runtime.ts";
import type { TaskRecord } from "../task/mod.ts";
import {
  connectZk,
  parseZkUrl,
  ZK_CODES,
  type ZkClient,
  type ZkClientOptions,
  ZkError,
  type ZkOp,
} from "../zk/mod.ts";
import { fromOriginalTask } from "./_original.ts";
import { isTaskNodeName, parseTaskNode, RecordIndex } from "./_zk_records.ts";
import {
  type ClassCounts,
  ConflictError,
  type CreateOptions,
  type CreateResult,
  FencedWriteError,
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
/** How long `ping()` (health checks) waits for ZooKeeper to answer. */
export const PING_TIMEOUT_MS = 2000;
/** Parallel reads while loading. */
export const LOAD_CONCURRENCY = 64;

/**
 * `ping()` of a store over `zk` (health checks): ZooKeeper answers within
 * {@linkcode PING_TIMEOUT_MS}, else `StoreUnavailableError`.
 */
export async function pingZooKeeper(zk: ZkClient, closed: boolean): Promise<void> {
  if (closed) throw new StoreUnavailableError("Cannot reach ZooKeeper: the store is closed");
  try {
    await zk.probe(PING_TIMEOUT_MS);
  } catch (err) {
    throw new StoreUnavailableError((err as Error).message, { cause: err });
  }
}

export interface ZkStoreOptions extends ZkClientOptions {
  /** Opens the session (tests pass their own). */
  connect?: (url: ReturnType<typeof parseZkUrl>, options: ZkClientOptions) => Promise<ZkClient>;
  /** Where refused (fenced) writes are reported; silent by default. */
  logger?: Logger;
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
  const { connect = connectZk, logger = silentLogger, ...clientOptions } = options;
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
      logger,
    });
    await store.load();
    return store;
  } catch (err) {
    await zk.close();
    throw err;
  }
}

/** The writer epoch node under a root. */
export function writerEpochPath(root: string): string {
  return `${root === "/" ? "" : root}/_eremetic/writer`;
}

class ZkStore implements TaskStore {
  readonly description: string;
  #zk: ZkClient;
  #clock: Clock;
  #logger: Logger;
  #writeTimeoutMs: number;
  #root: string;
  #meta: string;
  #records = new RecordIndex();
  /** The version the next queued write of a task node expects, while writes are queued. */
  #nextVersion = new Map<string, number>();
  #idempotency = new Map<string, { id: string; fingerprint: string; pending?: Promise<void> }>();
  #outbox = new Map<string, Map<string, string>>();
  #frameworkId: string | null = null;
  #seq = 0;
  /** The writer epoch this store claimed on opening; every multi checks it. */
  #epoch = -1;
  #fenced: FencedWriteError | null = null;
  #queue: Pending[] = [];
  #scheduled = false;
  #inFlight = 0;
  #idle: (() => void)[] = [];
  #closed = false;

  constructor(
    zk: ZkClient,
    root: string,
    description: string,
    { clock, writeTimeoutMs, logger }: { clock: Clock; writeTimeoutMs: number; logger: Logger },
  ) {
    this.#clock = clock;
    this.#logger = logger;
    this.#writeTimeoutMs = writeTimeoutMs;
    this.#zk = zk;
    this.#root = root;
    this.#meta = `${root === "/" ? "" : root}/_eremetic`;
    this.description = `zk:${description}`;
  }

  /** Claims the writer epoch, reads everything under the root, adopts the original's nodes. */
  async load(): Promise<void> {
    const zk = this.#zk;
    for (const p of [this.#root, `${this.#meta}/idempotency`, `${this.#meta}/outbox`]) {
      await zk.mkdirp(p);
    }
    this.#epoch = await this.#claimEpoch();
    const names = ((await zk.getChildren(this.#root)) ?? []).filter(isTaskNodeName);
    const originals: { doc: Record<string, unknown>; czxid: bigint; version: number }[] = [];
    await inChunks(names, async (name) => {
      const node = await zk.getData(`${this.#root}/${name}`);
      const parsed = node && parseTaskNode(node.data);
      if (!parsed) return;
      if (parsed.kind === "original") {
        return void originals.push({ doc: parsed.doc, czxid: node.czxid, version: node.version });
      }
      this.#records.set(parsed.task.id, {
        text: parsed.text,
        seq: parsed.task.seq,
        version: node.version,
      });
    });
    this.#seq = this.#records.maxSeq();
    // The original's tasks join the queue after ours, in the order they were created.
    originals.sort((a, b) => (a.czxid < b.czxid ? -1 : a.czxid > b.czxid ? 1 : 0));
    const adopted = originals.map(({ doc, version }) => ({
      task: fromOriginalTask(doc, ++this.#seq),
      version,
    }));
    for (let i = 0; i < adopted.length; i += 100) {
      const batch = adopted.slice(i, i + 100);
      const ops: ZkOp[] = batch.map(({ task, version }) => ({
        op: "set",
        path: this.#path(task.id),
        data: json(task),
        version,
      }));
      await this.#multi(ops).catch((e) => Promise.reject(this.#refused(e, ops)));
      for (const { task, version } of batch) {
        this.#records.set(task.id, {
          text: JSON.stringify(task),
          seq: task.seq,
          version: version + 1,
        });
      }
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

  /**
   * Bumps the writer epoch node and returns its new version: from now on, writes of any
   * store that opened earlier fail their epoch check.
   */
  async #claimEpoch(): Promise<number> {
    const path = writerEpochPath(this.#root);
    const data = json({ opened_at: this.#clock.now() });
    for (;;) {
      try {
        return await this.#zk.setData(path, data);
      } catch (err) {
        if (!(err instanceof ZkError && err.code === ZK_CODES.NO_NODE)) throw err;
      }
      try {
        await this.#zk.create(path, data);
        return 0;
      } catch (err) {
        // Another instance created it meanwhile: bump it.
        if (!(err instanceof ZkError && err.code === ZK_CODES.NODE_EXISTS)) throw err;
      }
    }
  }

  #path(id: string): string {
    return `${this.#root}/${id}`;
  }

  /** Queues `ops` for the next multi; resolves once ZooKeeper acknowledged them. */
  #write(ops: ZkOp[]): Promise<void> {
    if (this.#closed) {
      return Promise.reject(new StoreUnavailableError("Cannot write: the store is closed"));
    }
    if (this.#fenced) return Promise.reject(this.#fenced);
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
    const ops = batch.flatMap((p) => p.ops);
    try {
      await this.#multi(ops);
      for (const p of batch) p.resolve();
    } catch (err) {
      const refused = this.#refused(err, ops);
      if (
        batch.length === 1 || (err instanceof ZkError && err.temporary) ||
        (refused instanceof FencedWriteError && refused.reason === "deposed")
      ) {
        for (const p of batch) p.reject(refused);
      } else {
        // One write failed the whole multi: run each alone so only that one fails.
        for (const p of batch) {
          await this.#multi(p.ops).then(p.resolve, (e) => p.reject(this.#refused(e, p.ops)));
        }
      }
    } finally {
      this.#inFlight--;
      if (this.#queue.length) this.#flush();
      else if (this.#inFlight === 0) { for (const w of this.#idle.splice(0)) w(); }
    }
  }

  /**
   * The error a failed multi of `ops` (without the epoch check) rejects with: a
   * {@linkcode FencedWriteError} when the epoch check failed (another instance opened the
   * store: from now on every write is refused) or a node had another version; otherwise
   * the store is unavailable.
   */
  #refused(err: unknown, ops: readonly ZkOp[]): Error {
    if (!(err instanceof ZkError && err.code === ZK_CODES.BAD_VERSION && err.opIndex !== null)) {
      return unavailable(err);
    }
    if (err.opIndex === 0) {
      if (this.#fenced) return this.#fenced;
      const path = writerEpochPath(this.#root);
      this.#fenced = new FencedWriteError(
        "Cannot write: another instance has opened the ZooKeeper store since this one did " +
          "(it leads now); this instance writes no more",
        "deposed",
        path,
        { cause: err },
      );
      this.#logger.error("Refusing every further write: another instance took over the store", {
        store: this.description,
        epoch: this.#epoch,
        path,
      });
      return this.#fenced;
    }
    const path = ops[err.opIndex - 1]?.path ?? this.#root;
    this.#logger.warn("Refusing a write: the node changed since this instance read it", {
      store: this.description,
      path,
    });
    return new FencedWriteError(
      `Cannot write "${path}": it changed in ZooKeeper since this instance read it`,
      "version",
      path,
      { cause: err },
    );
  }

  /**
   * A multi of the epoch check and `ops` that gives up after the session timeout: the
   * library would wait for a server forever. Like a crash, a write given up on may still
   * have been applied.
   */
  async #multi(ops: ZkOp[]): Promise<void> {
    const ac = new AbortController();
    const fenced: ZkOp[] = [
      { op: "check", path: writerEpochPath(this.#root), version: this.#epoch },
      ...ops,
    ];
    try {
      await Promise.race([
        this.#zk.multi(fenced),
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
        const existing = this.#idempotency.get(key) === prior && this.#records.read(prior.id);
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
    this.#records.set(stored.id, { text, seq: stored.seq, version: 0 });
    return { task: JSON.parse(text), created: true };
  }

  getTask(id: string): Promise<TaskRecord | null> {
    return Promise.resolve(this.#records.read(id));
  }

  getTaskView(id: string, render: TaskRenderer): Promise<string | null> {
    const t = this.#records.read(id);
    return Promise.resolve(t ? render(t) : null);
  }

  listTasks(filter: ListFilter = {}): Promise<TaskPage> {
    try {
      return Promise.resolve(this.#records.list(filter));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** The version a write of task `id` expects, reserving the next one for the write after. */
  #expectVersion(id: string, committed: number): number {
    const expected = this.#nextVersion.get(id) ?? committed;
    this.#nextVersion.set(id, expected + 1);
    return expected;
  }

  /** After a write of task `id` expecting `expected` settled (`ok` or not). */
  #settleVersion(id: string, expected: number, ok: boolean): void {
    // Once a write failed, the later ones queued behind it fail too: start again from the
    // committed version.
    if (!ok || this.#nextVersion.get(id) === expected + 1) this.#nextVersion.delete(id);
  }

  /** Re-reads a task node after a version conflict, so reads show what ZooKeeper holds. */
  async #reread(id: string): Promise<void> {
    const node = await this.#zk.getData(this.#path(id)).catch(() => undefined);
    if (node === undefined) return;
    const parsed = node && parseTaskNode(node.data);
    if (parsed?.kind === "ours") {
      this.#records.set(id, { text: parsed.text, seq: parsed.task.seq, version: node!.version });
    } else if (node === null) this.#records.delete(id);
  }

  async updateTask(task: TaskRecord): Promise<void> {
    const prior = this.#records.entry(task.id);
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
    const version = this.#expectVersion(task.id, prior.version);
    try {
      await this.#write([{ op: "set", path: this.#path(task.id), data, version }]);
    } catch (err) {
      this.#settleVersion(task.id, version, false);
      if (codeOf(err) === ZK_CODES.NO_NODE) {
        throw new NotFoundError(`Cannot update task "${task.id}": it does not exist`);
      }
      if (err instanceof FencedWriteError && err.reason === "version") await this.#reread(task.id);
      throw err;
    }
    this.#settleVersion(task.id, version, true);
    const now = this.#records.entry(task.id);
    if (now) this.#records.set(task.id, { text, seq: now.seq, version: version + 1 });
  }

  async deleteTask(id: string): Promise<boolean> {
    const prior = this.#records.entry(id);
    if (!prior) return false;
    const version = this.#expectVersion(id, prior.version);
    try {
      await this.#write([{ op: "remove", path: this.#path(id), version }]);
    } catch (err) {
      this.#settleVersion(id, version, false);
      if (err instanceof FencedWriteError && err.reason === "version") await this.#reread(id);
      if (codeOf(err) !== ZK_CODES.NO_NODE) throw err;
    }
    this.#settleVersion(id, version, true);
    this.#records.delete(id);
    return true;
  }

  countTasks(): Promise<ClassCounts> {
    return Promise.resolve(this.#records.counts());
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
    if (this.#fenced) throw this.#fenced;
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

  ping(): Promise<void> {
    return pingZooKeeper(this.#zk, this.#closed);
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
