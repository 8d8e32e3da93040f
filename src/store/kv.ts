/**
 * The Deno KV `TaskStore`. All KV access of the program lives here.
 *
 * Key layout (values are UTF-8 JSON bytes unless noted):
 *
 * | key | value |
 * |---|---|
 * | `["t", id]` | `[class, seq]`: where the record is |
 * | `["c", class, seq]` | the task record: a page of a state class is one range scan |
 * | `["n", nameHash, seq]` | the task id (name filter; the name is checked on read); not written for generated names |
 * | `["i", idempotencyKey]` | `{id, fingerprint}` |
 * | `["k", class]` | `Deno.KvU64` count of tasks in the class |
 * | `["m", "seq"]`, `["m", "framework_id"]` | last assigned seq, framework id |
 * | `["o", kind, id]` | outbox item (structured clone) |
 *
 * The record is stored once, under its sequential class key, and the id key holds only a
 * small pointer: task ids are random, and a B-tree insert of a large value at a random
 * position costs SQLite several times an append (bench/submit.ts, docs/benchmarks.md).
 * (Databases written with the record under `["t", id]` are still read.)
 *
 * Writes are group-committed: exactly one `kv.atomic()` commit is in flight; writes
 * arriving meanwhile gather into the next batch, cut at KV's limits. A write's promise
 * resolves when the batch holding it is durable.
 *
 * Reads by id go through a bounded cache of encoded records (one KV read costs far more
 * CPU than a whole HTTP request). Only this process writes a local database, so the
 * cache is filled by its own writes and reads; it is off for remote (`http(s)://`) KV,
 * which other instances may write.
 *
 * @module
 */
import type { StateClass, TaskRecord } from "../task/mod.ts";
import { STATE_CLASSES } from "../task/mod.ts";
import {
  classOfTask,
  decodeCursor,
  decodeRecord,
  encodeCursor,
  encodeRecord,
  matchesFilter,
  pageSize,
} from "./_common.ts";
import {
  type ClassCounts,
  ConflictError,
  type CreateOptions,
  type CreateResult,
  type ListFilter,
  NotFoundError,
  type OutboxItem,
  StoreUnavailableError,
  type TaskPage,
  type TaskStore,
} from "./types.ts";

/** Deno KV allows 1,000 mutations and 819,200 bytes per atomic operation; keep a margin. */
export const DEFAULT_MAX_BATCH_MUTATIONS = 900;
export const DEFAULT_MAX_BATCH_BYTES = 700_000;
/** Longer ids are never stored (ids are 50 characters); reads of them find nothing. */
const MAX_ID_LENGTH = 512;
/** How many index entries a filtered list may scan before returning a short page. */
export const LIST_SCAN_LIMIT = 20_000;
/** List pages kept in memory (local databases). */
export const MAX_CACHED_PAGES = 64;
/** Bytes of encoded records the read cache keeps (local databases). */
export const DEFAULT_CACHE_BYTES = 16 * 1024 * 1024;

export interface KvStoreOptions {
  maxBatchMutations?: number;
  maxBatchBytes?: number;
  /** Read cache size in bytes; 0 turns it off. Default: `DEFAULT_CACHE_BYTES`, 0 for remote KV. */
  cacheBytes?: number;
}

/** Where a record lives: `["t", id]` holds `[class, seq]`. */
type Pointer = [StateClass, number];

/** A least-recently-used map of encoded records, bounded by their total size. */
class RecordCache {
  #map = new Map<string, Uint8Array>();
  #bytes = 0;
  constructor(readonly maxBytes: number) {}

  get(id: string): Uint8Array | undefined {
    const b = this.#map.get(id);
    if (b !== undefined) {
      this.#map.delete(id);
      this.#map.set(id, b);
    }
    return b;
  }

  set(id: string, bytes: Uint8Array) {
    if (this.maxBytes <= 0) return;
    this.delete(id);
    this.#map.set(id, bytes);
    this.#bytes += bytes.length;
    while (this.#bytes > this.maxBytes) {
      const [oldest, b] = this.#map.entries().next().value!;
      this.#map.delete(oldest);
      this.#bytes -= b.length;
    }
  }

  delete(id: string) {
    const b = this.#map.get(id);
    if (b === undefined) return;
    this.#map.delete(id);
    this.#bytes -= b.length;
  }
}

type Mutation =
  | { kind: "set"; key: Deno.KvKey; value: unknown; bytes: number }
  | { kind: "delete"; key: Deno.KvKey; bytes: number }
  | { kind: "count"; cls: StateClass; delta: number; bytes: number };

type SetMutation = Extract<Mutation, { kind: "set" }>;

interface PendingWrite {
  mutations: Mutation[];
  resolve: () => void;
  reject: (e: unknown) => void;
}

const U64 = 1n << 64n;

/** Batches writes into as few atomic commits as possible, one commit in flight at a time. */
class GroupCommitter {
  #current: PendingWrite[] = [];
  #currentMutations = 0;
  #currentBytes = 0;
  #sealed: PendingWrite[][] = [];
  #flushing: Promise<void> | null = null;
  /** Number of commits made, for tests and metrics. */
  commits = 0;

  constructor(
    readonly kv: Deno.Kv,
    readonly maxMutations: number,
    readonly maxBytes: number,
    readonly onCommit: () => SetMutation[],
  ) {}

  write(mutations: Mutation[]): Promise<void> {
    const bytes = mutations.reduce((n, m) => n + m.bytes, 0);
    return new Promise((resolve, reject) => {
      if (
        this.#current.length > 0 &&
        (this.#currentMutations + mutations.length + 4 > this.maxMutations ||
          this.#currentBytes + bytes > this.maxBytes)
      ) this.#seal();
      this.#current.push({ mutations, resolve, reject });
      this.#currentMutations += mutations.length;
      this.#currentBytes += bytes;
      this.#flushing ??= this.#flush();
    });
  }

  /** Resolves when nothing is pending. */
  async idle(): Promise<void> {
    while (this.#flushing) await this.#flushing;
  }

  #seal() {
    this.#sealed.push(this.#current);
    this.#current = [];
    this.#currentMutations = 0;
    this.#currentBytes = 0;
  }

  async #flush(): Promise<void> {
    // Let writes issued in the same tick join the first batch.
    await Promise.resolve();
    try {
      while (this.#sealed.length > 0 || this.#current.length > 0) {
        if (this.#sealed.length === 0) this.#seal();
        const batch = this.#sealed.shift()!;
        await this.#commit(batch);
      }
    } finally {
      this.#flushing = null;
    }
  }

  async #commit(batch: PendingWrite[]): Promise<void> {
    // The last write of a key in a batch wins; counts are summed per class.
    const sets = new Map<string, Mutation>();
    const counts = new Map<StateClass, number>();
    for (const w of batch) {
      for (const m of w.mutations) {
        if (m.kind === "count") counts.set(m.cls, (counts.get(m.cls) ?? 0) + m.delta);
        else {
          const k = JSON.stringify(m.key);
          sets.delete(k); // keep the order of last writes
          sets.set(k, m);
        }
      }
    }
    for (const m of this.onCommit()) sets.set(JSON.stringify(m.key), m);
    const op = this.kv.atomic();
    for (const m of sets.values()) {
      if (m.kind === "set") op.set(m.key, m.value);
      else if (m.kind === "delete") op.delete(m.key);
    }
    for (const [cls, delta] of counts) {
      if (delta === 0) continue;
      const n = BigInt(delta);
      op.sum(["k", cls], n >= 0n ? n : U64 + n);
    }
    try {
      const result = await op.commit();
      if (!result.ok) throw new ConflictError("Cannot commit batch: a check failed");
      this.commits++;
      for (const w of batch) w.resolve();
    } catch (e) {
      const err = e instanceof ConflictError
        ? e
        : new StoreUnavailableError(`Cannot write to Deno KV: ${(e as Error).message}`, {
          cause: e,
        });
      for (const w of batch) w.reject(err);
    }
  }
}

/** FNV-1a over UTF-16 code units, 52 bits: keeps name-index keys short whatever the name. */
function nameHash(name: string): number {
  let h = 0xcbf29ce4;
  let l = 0x84222325;
  for (let i = 0; i < name.length; i++) {
    l ^= name.charCodeAt(i);
    // 64-bit multiply by the FNV prime 0x100000001b3, split in two halves.
    const lo = l * 0x1b3;
    const hi = h * 0x1b3 + l * 0x100 + Math.floor(lo / 0x100000000);
    l = lo >>> 0;
    h = hi >>> 0;
  }
  return (h & 0xfffff) * 0x100000000 + l;
}

function deepFreeze(value: unknown): void {
  if (value === null || typeof value !== "object" || Object.isFrozen(value)) return;
  for (const v of Object.values(value)) deepFreeze(v);
  Object.freeze(value);
}

const nameKey = (t: TaskRecord): Deno.KvKey => ["n", nameHash(t.name), t.seq];

/**
 * Names `newTaskRecord` makes up: `Eremetic task` and 8 random characters. They are not
 * indexed: a random name is a random B-tree position, and such an insert costs SQLite
 * about as much as the rest of a submission (docs/benchmarks.md). A filter on such a
 * name scans the class indexes instead.
 */
const GENERATED_NAME = /^Eremetic task [bcdfghjklmnpqrstvwxzBCDFGHJKLMNPQRSTVWXZ1-9]{8}$/;
const isIndexedName = (name: string) => !GENERATED_NAME.test(name);
const classKey = (cls: StateClass, seq: number): Deno.KvKey => ["c", cls, seq];
const set = (key: Deno.KvKey, value: Uint8Array | unknown, size?: number): SetMutation => ({
  kind: "set",
  key,
  value,
  bytes: (size ?? (value instanceof Uint8Array ? value.length : 64)) + 64,
});
const del = (key: Deno.KvKey): Mutation => ({ kind: "delete", key, bytes: 64 });
const count = (cls: StateClass, delta: number): Mutation => ({
  kind: "count",
  cls,
  delta,
  bytes: 32,
});

/** Opens (creating if needed) a KV store at `path` (a file, `:memory:`, or a KV URL). */
export async function openKvStore(path: string, options: KvStoreOptions = {}): Promise<TaskStore> {
  if (path !== ":memory:" && !/^https?:\/\//.test(path)) {
    const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "";
    if (dir) await Deno.mkdir(dir, { recursive: true });
  }
  let kv: Deno.Kv;
  try {
    kv = await Deno.openKv(path);
  } catch (e) {
    throw new StoreUnavailableError(`Cannot open Deno KV at "${path}": ${(e as Error).message}`, {
      cause: e,
    });
  }
  const lastSeq = (await kv.get<number>(["m", "seq"])).value ?? 0;
  const remote = /^https?:\/\//.test(path);
  return new KvTaskStore(kv, path, lastSeq, {
    ...options,
    cacheBytes: options.cacheBytes ?? (remote ? 0 : DEFAULT_CACHE_BYTES),
  });
}

class KvTaskStore implements TaskStore {
  readonly description: string;
  #kv: Deno.Kv;
  #seq: number;
  #committedSeq: number;
  #committer: GroupCommitter;
  /** Records written but perhaps not yet committed (`null` = deleted), for read-your-writes. */
  #overlay = new Map<string, Uint8Array | null>();
  #cache: RecordCache;
  /** Completed writes; a read fills the cache only if none completed while it read. */
  #writesDone = 0;
  /** Per-task chains, so read-modify-write of one task never interleaves. */
  #locks = new Map<string, Promise<unknown>>();
  #closed = false;
  /** Ids read in the earlier layout (the record under `["t", id]`), until rewritten. */
  #legacy = new Set<string>();
  /**
   * Recent list pages, valid while no write has touched a class they read: a list
   * polled by a UI or a CLI is then served without a range read (KV reads cost ~20 µs
   * per entry). Off when the read cache is (remote KV, written by other instances).
   */
  #pages = new Map<string, { gens: number[]; page: TaskPage }>();
  #pagesOn: boolean;
  /** Committed writes per state class. */
  #gens: Record<StateClass, number> = { queued: 0, active: 0, terminated: 0 };

  constructor(kv: Deno.Kv, path: string, lastSeq: number, options: KvStoreOptions) {
    this.#kv = kv;
    this.description = `kv:${path}`;
    this.#seq = lastSeq;
    this.#committedSeq = lastSeq;
    this.#cache = new RecordCache(options.cacheBytes ?? 0);
    this.#pagesOn = (options.cacheBytes ?? 0) > 0;
    this.#committer = new GroupCommitter(
      kv,
      options.maxBatchMutations ?? DEFAULT_MAX_BATCH_MUTATIONS,
      options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES,
      () => {
        if (this.#seq === this.#committedSeq) return [];
        this.#committedSeq = this.#seq;
        return [set(["m", "seq"], this.#seq, 16)];
      },
    );
  }

  /** Commits made so far (group commit makes this much smaller than the number of writes). */
  get commits(): number {
    return this.#committer.commits;
  }

  #lock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#locks.get(id) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => {});
    this.#locks.set(id, tail);
    tail.then(() => {
      if (this.#locks.get(id) === tail) this.#locks.delete(id);
    });
    return next;
  }

  async #write(
    id: string,
    bytes: Uint8Array | null,
    mutations: Mutation[],
    classes: readonly StateClass[],
  ): Promise<void> {
    this.#overlay.set(id, bytes);
    try {
      await this.#committer.write(mutations);
      for (const c of classes) this.#gens[c]++;
      if (bytes) this.#cache.set(id, bytes);
      else this.#cache.delete(id);
    } catch (e) {
      this.#cache.delete(id);
      // Whether it landed is unknown: forget every cached page.
      for (const c of STATE_CLASSES) this.#gens[c]++;
      throw e;
    } finally {
      this.#writesDone++;
      if (this.#overlay.get(id) === bytes) this.#overlay.delete(id);
    }
  }

  async #read(id: string): Promise<TaskRecord | null> {
    const b = await this.#readBytes(id);
    return b ? decodeRecord(b) : null;
  }

  async #readBytes(id: string): Promise<Uint8Array | null> {
    // No stored id is this long, and KV refuses keys over 2 KiB with an error.
    if (id.length > MAX_ID_LENGTH) return null;
    if (this.#overlay.has(id)) return this.#overlay.get(id)!;
    const cached = this.#cache.get(id);
    if (cached) return cached;
    const writes = this.#writesDone;
    let bytes: Uint8Array | null = null;
    // The pointer and the record are two reads; a class change in between moves the
    // record, so read the pointer again (only another process could do that).
    for (let attempt = 0; attempt < 3; attempt++) {
      const e = await this.#kv.get<Pointer | Uint8Array>(["t", id]);
      if (e.value === null) break;
      if (e.value instanceof Uint8Array) { // written by an earlier version
        bytes = e.value;
        this.#legacy.add(id); // its next update writes a pointer
        break;
      }
      const r = await this.#kv.get<Uint8Array>(classKey(e.value[0], e.value[1]));
      if (r.value !== null) {
        bytes = r.value;
        break;
      }
    }
    if (bytes && writes === this.#writesDone && !this.#overlay.has(id)) this.#cache.set(id, bytes);
    return bytes;
  }

  #checkOpen() {
    if (this.#closed) throw new StoreUnavailableError("Cannot use the store: it is closed");
  }

  createTask(task: TaskRecord, options: CreateOptions = {}): Promise<CreateResult> {
    this.#checkOpen();
    const key = options.idempotencyKey;
    const fingerprint = options.fingerprint ?? "";
    const create = async (): Promise<CreateResult> => {
      const stored: TaskRecord = { ...task, seq: this.#seq + 1 };
      const bytes = encodeRecord(stored); // throws TooLargeError before a seq is used
      this.#seq = stored.seq;
      const cls = classOfTask(stored);
      const mutations: Mutation[] = [
        set(["t", stored.id], [cls, stored.seq] satisfies Pointer, 24),
        set(classKey(cls, stored.seq), bytes),
        count(cls, 1),
      ];
      if (isIndexedName(stored.name)) {
        mutations.push(set(nameKey(stored), stored.id, stored.id.length));
      }
      if (key !== undefined) {
        mutations.push(set(["i", key], { id: stored.id, fingerprint }, 200));
      }
      await this.#write(stored.id, bytes, mutations, [cls]);
      return { task: stored, created: true };
    };
    if (key === undefined) return create();
    return this.#lock(`idem:${key}`, async () => {
      const prior = (await this.#kv.get<{ id: string; fingerprint: string }>(["i", key])).value;
      const existing = prior && await this.#read(prior.id);
      if (prior && existing) {
        if (prior.fingerprint !== fingerprint) {
          throw new ConflictError(
            `Cannot reuse idempotency key "${key}": it was used with a different body`,
          );
        }
        return { task: existing, created: false };
      }
      return await create();
    });
  }

  getTask(id: string): Promise<TaskRecord | null> {
    this.#checkOpen();
    return this.#read(id);
  }

  updateTask(task: TaskRecord): Promise<void> {
    this.#checkOpen();
    return this.#lock(task.id, async () => {
      const prior = await this.#read(task.id);
      if (!prior) throw new NotFoundError(`Cannot update task "${task.id}": it does not exist`);
      const stored = { ...task, seq: prior.seq, name: prior.name };
      const bytes = encodeRecord(stored);
      const before = classOfTask(prior);
      const after = classOfTask(stored);
      const mutations: Mutation[] = [set(classKey(after, stored.seq), bytes)];
      if (before !== after) {
        // The pointer names the class: rewrite it only when the class changes.
        mutations.push(
          set(["t", stored.id], [after, stored.seq] satisfies Pointer, 24),
          del(classKey(before, stored.seq)),
          count(before, -1),
          count(after, 1),
        );
      } else if (this.#legacy.delete(stored.id)) {
        mutations.push(set(["t", stored.id], [after, stored.seq] satisfies Pointer, 24));
      }
      await this.#write(stored.id, bytes, mutations, [before, after]);
    });
  }

  deleteTask(id: string): Promise<boolean> {
    this.#checkOpen();
    return this.#lock(id, async () => {
      const prior = await this.#read(id);
      if (!prior) return false;
      const cls = classOfTask(prior);
      await this.#write(id, null, [
        del(["t", id]),
        del(classKey(cls, prior.seq)),
        del(nameKey(prior)),
        count(cls, -1),
      ], [cls]);
      return true;
    });
  }

  async listTasks(filter: ListFilter = {}): Promise<TaskPage> {
    this.#checkOpen();
    const after = decodeCursor(filter.cursor);
    const limit = pageSize(filter);
    const classes = [...new Set(filter.states ?? STATE_CLASSES)];
    if (!this.#pagesOn) return await this.#listUncached(filter, after, limit, classes);
    const key = JSON.stringify([classes, filter.name, filter.label, after, limit]);
    // A name filter may read records of any class through the name index.
    const watched = filter.name !== undefined ? STATE_CLASSES : classes;
    const gens = watched.map((c) => this.#gens[c]);
    const hit = this.#pages.get(key);
    if (hit && hit.gens.every((g, i) => g === gens[i])) {
      this.#pages.delete(key); // most recently used last
      this.#pages.set(key, hit);
      return { tasks: hit.page.tasks, cursor: hit.page.cursor };
    }
    const page = await this.#listUncached(filter, after, limit, classes);
    if (watched.every((c, i) => this.#gens[c] === gens[i])) {
      // Shared between callers: frozen, so nobody can change what another reads.
      for (const t of page.tasks) deepFreeze(t);
      this.#pages.set(key, { gens, page });
      if (this.#pages.size > MAX_CACHED_PAGES) this.#pages.delete(this.#pages.keys().next().value!);
    }
    return page;
  }

  async #listUncached(
    filter: ListFilter,
    after: number,
    limit: number,
    classes: StateClass[],
  ): Promise<TaskPage> {
    if (filter.name !== undefined && isIndexedName(filter.name)) {
      return await this.#listByName(filter, after, limit);
    }
    // Merge the class indexes by seq; each is already in seq order.
    const iters = classes.map((cls) =>
      this.#kv.list<Uint8Array>(
        { start: classKey(cls, after + 1), end: ["c", cls, Number.MAX_SAFE_INTEGER] },
        { batchSize: Math.min(limit + 1, 500) },
      )[Symbol.asyncIterator]()
    );
    const heads = await Promise.all(iters.map((it) => it.next()));
    const tasks: TaskRecord[] = [];
    let scanned = 0;
    let lastSeq = after;
    while (true) {
      let best = -1;
      for (let i = 0; i < heads.length; i++) {
        const h = heads[i];
        if (h.done) continue;
        if (best < 0 || (h.value.key[2] as number) < (heads[best].value!.key[2] as number)) {
          best = i;
        }
      }
      if (best < 0) return { tasks, cursor: null };
      if (tasks.length === limit || scanned >= LIST_SCAN_LIMIT) {
        return { tasks, cursor: encodeCursor(lastSeq) };
      }
      const entry = heads[best].value!;
      lastSeq = entry.key[2] as number;
      scanned++;
      const t = decodeRecord(entry.value);
      if (matchesFilter(t, filter)) tasks.push(t);
      heads[best] = await iters[best].next();
    }
  }

  async #listByName(filter: ListFilter, after: number, limit: number): Promise<TaskPage> {
    const classes = new Set(filter.states ?? STATE_CLASSES);
    const hash = nameHash(filter.name!);
    const tasks: TaskRecord[] = [];
    let scanned = 0;
    let lastSeq = after;
    const it = this.#kv.list<string>(
      { start: ["n", hash, after + 1], end: ["n", hash, Number.MAX_SAFE_INTEGER] },
      { batchSize: 100 },
    );
    for await (const entry of it) {
      if (tasks.length === limit || scanned >= LIST_SCAN_LIMIT) {
        return { tasks, cursor: encodeCursor(lastSeq) };
      }
      lastSeq = entry.key[2] as number;
      scanned++;
      const t = await this.#read(entry.value);
      if (t && classes.has(classOfTask(t)) && matchesFilter(t, filter)) tasks.push(t);
    }
    return { tasks, cursor: null };
  }

  async countTasks(): Promise<ClassCounts> {
    this.#checkOpen();
    const entries = await this.#kv.getMany<Deno.KvU64[]>(STATE_CLASSES.map((c) => ["k", c]));
    const counts = {} as ClassCounts;
    STATE_CLASSES.forEach((c, i) => {
      // Decrements are stored as wrap-around sums of 2^64 - n.
      const v = entries[i].value?.value ?? 0n;
      counts[c] = Number(v >= U64 / 2n ? v - U64 : v);
    });
    return counts;
  }

  async getFrameworkId(): Promise<string | null> {
    this.#checkOpen();
    return (await this.#kv.get<string>(["m", "framework_id"])).value;
  }

  async setFrameworkId(id: string | null): Promise<void> {
    this.#checkOpen();
    await this.#committer.write([
      id === null ? del(["m", "framework_id"]) : set(["m", "framework_id"], id, id.length),
    ]);
  }

  async putOutbox<T>(kind: string, item: OutboxItem<T>): Promise<void> {
    this.#checkOpen();
    await this.#committer.write([set(["o", kind, item.id], item.value, 2048)]);
  }

  async deleteOutbox(kind: string, id: string): Promise<void> {
    this.#checkOpen();
    await this.#committer.write([del(["o", kind, id])]);
  }

  async listOutbox<T>(kind: string): Promise<OutboxItem<T>[]> {
    this.#checkOpen();
    const out: OutboxItem<T>[] = [];
    for await (const e of this.#kv.list<T>({ prefix: ["o", kind] })) {
      out.push({ id: e.key[2] as string, value: e.value });
    }
    return out;
  }

  async ping(): Promise<void> {
    this.#checkOpen();
    try {
      await this.#kv.get(["m", "seq"]);
    } catch (e) {
      throw new StoreUnavailableError(`Cannot read Deno KV: ${(e as Error).message}`, { cause: e });
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#committer.idle();
    this.#closed = true;
    this.#kv.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
