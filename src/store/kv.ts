/**
 * The Deno KV `TaskStore`. All KV access of the program lives here.
 *
 * Key layout (current; values are noted):
 *
 * | key | value |
 * |---|---|
 * | `["t", id]` | the task's `seq` (`Deno.KvU64`: stored without V8 serialization), written once at creation, only for an id that does not carry its seq |
 * | `["c", class, seq]` | the task record, compact (`_codec.ts`): a page of a state class is one range scan |
 * | `["n", nameHash, seq]` | the task id (name filter; the name is checked on read); not written for generated names |
 * | `["i", idempotencyKey]` | `{id, fingerprint}` |
 * | `["k", class]` | `Deno.KvU64` count of tasks in the class |
 * | `["m", "seq_max"]` | `Deno.KvU64`, the highest seq of a deleted task |
 * | `["m", "framework_id"]` | framework id |
 * | `["m", "probe"]` | 0: written by `ping()` only while commits fail, to see whether they work again |
 * | `["o", kind, id]` | outbox item (structured clone) |
 *
 * A task is one record row. The record lives under its sequential class key, so appends
 * and the queue head are cheap. An id this server made (`newId()`: milliseconds and a
 * counter, then random bits) carries its seq (`uuidSeq`): such a task is created with
 * that seq, when it is above every seq given so far, and has no other row; a read by id
 * finds its record under one of three class keys with one `getMany`, and checks the id
 * stored in it. Any other id (made elsewhere, an earlier version's, one made out of order)
 * gets the next seq and a small id row, never rewritten, that a read follows first. A
 * status change that moves a task to another class moves only its record. Nothing is
 * written per commit that the keys already say: the next seq is derived at open from the
 * last key of each class (and `["m", "seq_max"]`, which deletes raise), so a failed
 * commit cannot leave a seq record behind the tasks it numbers.
 *
 * Earlier layouts still open, and a task moves to the current one at its next update:
 * `["t", id]` holding `[class, seq]` (second layout) or the whole record (first layout),
 * records as plain JSON (`_codec.ts` reads both), and `["m", "seq"]` written with every
 * commit (read at open, never written).
 *
 * Writes are group-committed: exactly one `kv.atomic()` commit is in flight; writes
 * arriving meanwhile gather into the next batch, cut at KV's limits. A write's promise
 * resolves when the batch holding it is durable.
 *
 * Reads show only committed state. Reads by id go through a bounded cache of encoded
 * records and their rendered views (`getTaskView`; one KV read costs far more CPU than a
 * whole HTTP request), updated once a write has committed. Only this process writes a
 * local database, so the cache is filled by its own writes and reads; it is off for
 * remote (`http(s)://`) KV, which other instances may write.
 *
 * @module
 */
import type { StateClass, TaskRecord } from "../task/mod.ts";
import { STATE_CLASSES, TASK_ID_PREFIX } from "../task/mod.ts";
import { uuidSeq } from "../runtime.ts";
import { decodeStored, encodeStored, storedIdIs, storedName } from "./_codec.ts";
import { classOfTask, decodeCursor, encodeCursor, matchesFilter, pageSize } from "./_common.ts";
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
  type TaskRenderer,
  type TaskStore,
} from "./types.ts";

/** The highest seq given to a task that was deleted since (`Deno.KvU64`, raised with `max`). */
const SEQ_KEY: Deno.KvKey = ["m", "seq_max"];
/** The last assigned seq, as earlier versions wrote it with every commit (read only). */
const LEGACY_SEQ_KEY: Deno.KvKey = ["m", "seq"];
/** Written by `ping()` after a failed commit (a disk full, a read-only file), until one works. */
const PROBE_KEY: Deno.KvKey = ["m", "probe"];

/** Deno KV allows 1,000 mutations and 819,200 bytes per atomic operation; keep a margin. */
export const DEFAULT_MAX_BATCH_MUTATIONS = 900;
export const DEFAULT_MAX_BATCH_BYTES = 700_000;
/** Longer ids are never stored (ids are 50 characters); reads of them find nothing. */
const MAX_ID_LENGTH = 512;
/** How many index entries a filtered list may scan before returning a short page. */
export const LIST_SCAN_LIMIT = 20_000;
/** List pages kept in memory (local databases). */
export const MAX_CACHED_PAGES = 64;
/** Tasks in all cached list pages together, at most; larger pages (scans) are not kept. */
export const MAX_CACHED_PAGE_TASKS = 16_384;
const MAX_CACHED_PAGE_SIZE = 1_000;
/** Bytes of encoded records the read cache keeps (local databases). */
export const DEFAULT_CACHE_BYTES = 16 * 1024 * 1024;
/** Listed tasks whose place (not bytes) is remembered when the read cache has no room. */
export const MAX_LISTED_PLACES = 20_000;

export interface KvStoreOptions {
  maxBatchMutations?: number;
  maxBatchBytes?: number;
  /** Read cache size in bytes; 0 turns it off. Default: `DEFAULT_CACHE_BYTES`, 0 for remote KV. */
  cacheBytes?: number;
  /**
   * Commits one atomic operation (a seam for tests that inject failures or hold a
   * commit). Default: `op.commit()`.
   */
  commit?: CommitFn;
}

/** How a batch's atomic operation is committed. */
export type CommitFn = (
  op: Deno.AtomicOperation,
) => Promise<Deno.KvCommitResult | Deno.KvCommitError>;

/** What the read cache keeps of a task: its stored bytes, where they are, and views of it. */
interface CacheEntry extends Located {
  /** Rendered views (`getTaskView`), by renderer; dropped with the entry. */
  views: Map<TaskRenderer, string> | null;
  /** Bytes the entry accounts for: the record and its views. */
  size: number;
  /** Read since it was last passed over by eviction (second chance). */
  used: boolean;
}

/**
 * Cached tasks, bounded by their total size, evicted in CLOCK order: a hit only sets a
 * flag (no map reordering on the read path); eviction gives a read entry a second chance.
 */
class RecordCache {
  #map = new Map<string, CacheEntry>();
  #bytes = 0;
  constructor(readonly maxBytes: number) {}

  get(id: string): CacheEntry | undefined {
    const e = this.#map.get(id);
    if (e !== undefined) e.used = true;
    return e;
  }

  set(id: string, { bytes, seq, cls, legacy }: Located): CacheEntry | undefined {
    if (this.maxBytes <= 0) return undefined;
    this.delete(id);
    const entry: CacheEntry = {
      bytes,
      seq,
      cls,
      legacy,
      views: null,
      size: bytes.length + 64,
      used: false,
    };
    this.#map.set(id, entry);
    this.#bytes += entry.size;
    this.#evict();
    return entry;
  }

  /** Adds a rendered view to an entry that is still cached. */
  addView(id: string, entry: CacheEntry, render: TaskRenderer, view: string) {
    if (this.#map.get(id) !== entry) return;
    (entry.views ??= new Map()).set(render, view);
    entry.size += view.length;
    this.#bytes += view.length;
    this.#evict();
  }

  delete(id: string) {
    const e = this.#map.get(id);
    if (e === undefined) return;
    this.#map.delete(id);
    this.#bytes -= e.size;
  }

  /**
   * Whether `bytes` more keep the cache under a quarter of its size: records cached ahead
   * of use (listed) must not push out what writes put there (measured: with 80,000 tasks
   * listed into a full cache, the churn cost more than the reads it saved).
   */
  hasRoomAhead(bytes: number): boolean {
    return this.#bytes + bytes + 64 <= this.maxBytes / 4;
  }

  /**
   * The clock hand: one iterator kept across calls (a Map's iterator survives changes), so
   * an eviction does not walk again over the deleted slots at the front of the map.
   */
  #hand: MapIterator<[string, CacheEntry]> | null = null;

  #evict() {
    if (this.#bytes <= this.maxBytes) return;
    let passes = this.#map.size;
    while (this.#bytes > this.maxBytes && this.#map.size > 0) {
      this.#hand ??= this.#map.entries();
      const next = this.#hand.next();
      if (next.done) {
        this.#hand = null;
        continue;
      }
      const [id, e] = next.value;
      if (this.#map.get(id) !== e) continue; // replaced meanwhile: its new entry comes later
      this.#map.delete(id);
      if (e.used && passes-- > 0) {
        e.used = false;
        this.#map.set(id, e); // to the end: a second chance
      } else this.#bytes -= e.size;
    }
  }
}

type Mutation =
  | { kind: "set"; key: Deno.KvKey; value: unknown; bytes: number }
  | { kind: "delete"; key: Deno.KvKey; bytes: number }
  | { kind: "count"; cls: StateClass; delta: number; bytes: number }
  /** Raises the recorded highest seq (kept when the task holding it is deleted). */
  | { kind: "seq"; seq: number; bytes: number };

type SetMutation = Extract<Mutation, { kind: "set" }>;

interface PendingWrite {
  mutations: Mutation[];
  resolve: () => void;
  reject: (e: unknown) => void;
}

const U64 = 1n << 64n;
const noop = () => {};

/** Batches writes into as few atomic commits as possible, one commit in flight at a time. */
class GroupCommitter {
  #current: PendingWrite[] = [];
  #currentMutations = 0;
  #currentBytes = 0;
  #sealed: PendingWrite[][] = [];
  #flushing: Promise<void> | null = null;
  /** Number of commits made, for tests and metrics. */
  commits = 0;
  /** Whether the last commit failed (cleared by the next one that works). */
  failing = false;

  constructor(
    readonly kv: Deno.Kv,
    readonly maxMutations: number,
    readonly maxBytes: number,
    readonly commitOp: CommitFn = (op) => op.commit(),
  ) {}

  write(mutations: Mutation[]): Promise<void> {
    let bytes = 0;
    // Counts and the seq record become at most 4 mutations per batch (the margin below).
    let keyed = 0;
    for (const m of mutations) {
      bytes += m.bytes;
      if (m.kind === "set" || m.kind === "delete") keyed++;
    }
    return new Promise((resolve, reject) => {
      if (
        this.#current.length > 0 &&
        (this.#currentMutations + keyed + 4 > this.maxMutations ||
          this.#currentBytes + bytes > this.maxBytes)
      ) this.#seal();
      this.#current.push({ mutations, resolve, reject });
      this.#currentMutations += keyed;
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
    const op = this.kv.atomic();
    // Counts are summed per class, the seq record takes the largest; a key written twice
    // in a batch (outbox items, metadata) keeps its last write.
    const counts = new Map<StateClass, number>();
    let maxSeq = 0;
    let sets: Map<string, Mutation> | null = null;
    for (const w of batch) {
      for (const m of w.mutations) {
        if (m.kind === "count") counts.set(m.cls, (counts.get(m.cls) ?? 0) + m.delta);
        else if (m.kind === "seq") maxSeq = Math.max(maxSeq, m.seq);
        else if (m.key[0] === "c" || m.key[0] === "t" || m.key[0] === "n") {
          // Task keys: each task is written at most once per batch (per-task lock).
          if (m.kind === "set") op.set(m.key, m.value);
          else op.delete(m.key);
        } else {
          sets ??= new Map();
          const k = JSON.stringify(m.key);
          sets.delete(k); // keep the order of last writes
          sets.set(k, m);
        }
      }
    }
    for (const m of sets?.values() ?? []) {
      if (m.kind === "set") op.set(m.key, m.value);
      else if (m.kind === "delete") op.delete(m.key);
    }
    for (const [cls, delta] of counts) {
      if (delta === 0) continue;
      const n = BigInt(delta);
      op.sum(["k", cls], n >= 0n ? n : U64 + n);
    }
    if (maxSeq > 0) op.max(SEQ_KEY, BigInt(maxSeq));
    try {
      const result = await this.commitOp(op);
      if (!result.ok) throw new ConflictError("Cannot commit batch: a check failed");
      this.commits++;
      this.failing = false;
      for (const w of batch) w.resolve();
    } catch (e) {
      if (!(e instanceof ConflictError)) this.failing = true;
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
/** The seq a task id made by `newId()` carries; 0 for any other id. */
const ownSeq = (id: string): number =>
  id.startsWith(TASK_ID_PREFIX) ? uuidSeq(id.slice(TASK_ID_PREFIX.length)) : 0;
/** The value of a task's id entry: its seq. */
const idValue = (seq: number) => new Deno.KvU64(BigInt(seq));
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
  const remote = /^https?:\/\//.test(path);
  const { seq, earlierLayout } = await highestSeq(kv);
  return new KvTaskStore(kv, path, seq, earlierLayout, {
    ...options,
    cacheBytes: options.cacheBytes ?? (remote ? 0 : DEFAULT_CACHE_BYTES),
  });
}

/**
 * The highest seq ever stored, derived at open: the last key of each class, and the
 * seq record that deletes raise (so the seq of a deleted task is never given again).
 * Earlier versions wrote `["m", "seq"]` with every commit; it is read, never written.
 */
async function highestSeq(kv: Deno.Kv): Promise<{ seq: number; earlierLayout: boolean }> {
  const [legacy, floor] = await kv.getMany<[number, Deno.KvU64]>([LEGACY_SEQ_KEY, SEQ_KEY]);
  let seq = Math.max(
    typeof legacy.value === "number" ? legacy.value : 0,
    floor.value ? Number(floor.value.value) : 0,
  );
  for (const cls of STATE_CLASSES) {
    for await (const e of kv.list({ prefix: ["c", cls] }, { reverse: true, limit: 1 })) {
      seq = Math.max(seq, e.key[2] as number);
    }
  }
  // Both earlier layouts wrote `["m", "seq"]`: without it, every `["t", id]` is current.
  return { seq, earlierLayout: legacy.value !== null };
}

/** Where a listed task is stored: what an update needs besides the new record. */
interface Place {
  seq: number;
  cls: StateClass;
  name: string;
}

/** Where a task was found. */
interface Located {
  bytes: Uint8Array;
  seq: number;
  cls: StateClass;
  /** Its `["t", id]` entry is of an earlier layout: its next update rewrites it. */
  legacy: boolean;
}

class KvTaskStore implements TaskStore {
  readonly description: string;
  #kv: Deno.Kv;
  /** The last seq handed out; only ever grows. */
  #seq: number;
  #committer: GroupCommitter;
  #cache: RecordCache;
  /** Completed writes; a read fills the cache only if none completed while it read. */
  #writesDone = 0;
  /** Per-task chains, so read-modify-write of one task never interleaves. */
  #locks = new Map<string, Promise<unknown>>();
  #closed = false;
  /**
   * Recent list pages, valid while no write has touched a class they read: a list
   * polled by a UI or a CLI is then served without a range read (KV reads cost ~20 µs
   * per entry). Off when the read cache is (remote KV, written by other instances).
   */
  #pages = new Map<string, { gens: number[]; page: TaskPage }>();
  #pagesOn: boolean;
  /** Tasks held by `#pages`. */
  #pageTasks = 0;
  /** Committed writes per state class. */
  #gens: Record<StateClass, number> = { queued: 0, active: 0, terminated: 0 };

  /** No entry of an earlier layout can exist: a listed record can be cached as it is. */
  #listFillsCache: boolean;
  /** Per list in progress: the tasks written meanwhile. */
  #listings = new Set<Set<string>>();
  /**
   * Where listed tasks are, when the read cache had no room for their bytes (oldest
   * first, bounded): updating one then needs no KV read (the scheduler stages the queued
   * tasks it listed; with 80,000 queued, those reads were most of the store's CPU). Valid
   * like a cache entry: dropped by any write of the task.
   */
  #places = new Map<string, Place>();

  constructor(
    kv: Deno.Kv,
    path: string,
    lastSeq: number,
    earlierLayout: boolean,
    options: KvStoreOptions,
  ) {
    this.#listFillsCache = !earlierLayout;
    this.#kv = kv;
    this.description = `kv:${path}`;
    this.#seq = lastSeq;
    this.#cache = new RecordCache(options.cacheBytes ?? 0);
    this.#pagesOn = (options.cacheBytes ?? 0) > 0;
    this.#committer = new GroupCommitter(
      kv,
      options.maxBatchMutations ?? DEFAULT_MAX_BATCH_MUTATIONS,
      options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES,
      options.commit,
    );
  }

  /** Commits made so far (group commit makes this much smaller than the number of writes). */
  get commits(): number {
    return this.#committer.commits;
  }

  #lock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#locks.get(id);
    // Nothing pending for `id`: start at once (one promise hop less per write).
    const next = prev === undefined ? fn() : prev.then(fn, fn);
    const tail = next.then(noop, noop);
    this.#locks.set(id, tail);
    tail.then(() => {
      if (this.#locks.get(id) === tail) this.#locks.delete(id);
    });
    return next;
  }

  /**
   * Commits a task's mutations; only then do reads see the change (`after` = the task
   * as now stored, `null` = deleted).
   */
  async #write(
    id: string,
    after: Located | null,
    mutations: Mutation[],
    classes: readonly StateClass[],
  ): Promise<void> {
    try {
      await this.#committer.write(mutations);
      for (const c of classes) this.#gens[c]++;
      if (after) this.#cache.set(id, after);
      else this.#cache.delete(id);
    } catch (e) {
      this.#cache.delete(id);
      // Whether it landed is unknown: forget every cached page.
      for (const c of STATE_CLASSES) this.#gens[c]++;
      throw e;
    } finally {
      this.#writesDone++;
      this.#places.delete(id);
      for (const w of this.#listings) w.add(id);
    }
  }

  async #read(id: string): Promise<TaskRecord | null> {
    const found = await this.#locate(id);
    return found ? decodeStored(found.bytes, found.seq) : null;
  }

  /** Finds a task's stored bytes: from the cache, else from KV (filling the cache). */
  async #locate(id: string): Promise<Located | null> {
    // No stored id is this long, and KV refuses keys over 2 KiB with an error.
    if (id.length > MAX_ID_LENGTH) return null;
    const cached = this.#cache.get(id);
    if (cached) return cached;
    const writes = this.#writesDone;
    const found = await this.#locateInKv(id);
    if (found && writes === this.#writesDone) {
      this.#cache.set(id, found);
    }
    return found;
  }

  async #locateInKv(id: string): Promise<Located | null> {
    // An id that carries its seq: its record under one of three class keys, if it is this
    // id's (another id may carry the same seq, or this one may have been given another).
    const own = ownSeq(id);
    if (own > 0) {
      const found = await this.#kv.getMany<Uint8Array[]>(
        STATE_CLASSES.map((c) => classKey(c, own)),
      );
      for (let i = 0; i < found.length; i++) {
        const bytes = found[i].value;
        if (bytes !== null && storedIdIs(bytes, id)) {
          return { bytes, seq: own, cls: STATE_CLASSES[i], legacy: false };
        }
      }
    }
    // The pointer and the record are two reads; a class change in between moves the
    // record, so read the pointer again (only another process could do that).
    for (let attempt = 0; attempt < 3; attempt++) {
      type IdEntry = Deno.KvU64 | number | [StateClass, number] | Uint8Array;
      const { value } = await this.#kv.get<IdEntry>(["t", id]);
      if (value === null) return null;
      if (value instanceof Uint8Array) {
        // The first layout: the whole record under the id (a copy under its class key).
        const t = decodeStored(value);
        return { bytes: value, seq: t.seq, cls: classOfTask(t), legacy: true };
      }
      let seq: number;
      // A plain number: the seq as this layout's first version wrote it.
      const legacy = !(value instanceof Deno.KvU64);
      if (Array.isArray(value)) {
        // The second layout: `[class, seq]`, rewritten with every class change.
        const [cls, s] = value;
        const r = await this.#kv.get<Uint8Array>(classKey(cls, s));
        if (r.value !== null) return { bytes: r.value, seq: s, cls, legacy };
        seq = s;
      } else seq = typeof value === "number" ? value : Number(value.value);
      // The current layout: the seq alone, written once; the class is one of three keys.
      const found = await this.#kv.getMany<Uint8Array[]>(
        STATE_CLASSES.map((c) => classKey(c, seq)),
      );
      for (let i = 0; i < found.length; i++) {
        const bytes = found[i].value;
        if (bytes !== null) return { bytes, seq, cls: STATE_CLASSES[i], legacy };
      }
    }
    return null;
  }

  #checkOpen() {
    if (this.#closed) throw new StoreUnavailableError("Cannot use the store: it is closed");
  }

  createTask(task: TaskRecord, options: CreateOptions = {}): Promise<CreateResult> {
    this.#checkOpen();
    const key = options.idempotencyKey;
    const fingerprint = options.fingerprint ?? "";
    const create = async (): Promise<CreateResult> => {
      const bytes = encodeStored(task); // throws TooLargeError before a seq is used
      // The seq the id carries when it is above every seq given (ids of this process
      // are); else the next one, and an id row to find it by.
      const own = ownSeq(task.id);
      const seq = own > this.#seq ? (this.#seq = own) : ++this.#seq;
      const stored: TaskRecord = { ...task, seq };
      const cls = classOfTask(stored);
      const mutations: Mutation[] = [set(classKey(cls, seq), bytes), count(cls, 1)];
      if (seq !== own) mutations.push(set(["t", stored.id], idValue(seq), 16));
      if (isIndexedName(stored.name)) {
        mutations.push(set(nameKey(stored), stored.id, stored.id.length));
      }
      if (key !== undefined) {
        mutations.push(set(["i", key], { id: stored.id, fingerprint }, 200));
      }
      await this.#write(stored.id, { bytes, seq, cls, legacy: false }, mutations, [cls]);
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

  async getTaskView(id: string, render: TaskRenderer): Promise<string | null> {
    this.#checkOpen();
    const found = await this.#locate(id);
    if (!found) return null;
    const entry = found as CacheEntry;
    const hit = entry.views?.get(render);
    if (hit) return hit;
    const view = render(decodeStored(found.bytes, found.seq));
    if ("views" in found) this.#cache.addView(id, entry, render, view);
    return view;
  }

  updateTask(task: TaskRecord): Promise<void> {
    this.#checkOpen();
    return this.#lock(task.id, async () => {
      const place = this.#places.get(task.id);
      // A cached task is found without a promise (the scheduler's writes mostly are).
      const found = place
        ? { ...place, legacy: false }
        : this.#cache.get(task.id) ?? await this.#locate(task.id);
      if (!found) throw new NotFoundError(`Cannot update task "${task.id}": it does not exist`);
      const { seq, cls: before } = found;
      // The name never changes (the name index holds it): only it is read, not decoded in full.
      const name = "name" in found ? found.name : storedName(found.bytes);
      const stored = task.seq === seq && task.name === name ? task : { ...task, seq, name };
      const bytes = encodeStored(stored);
      const after = classOfTask(stored);
      const mutations: Mutation[] = [set(classKey(after, seq), bytes)];
      if (before !== after) {
        mutations.push(del(classKey(before, seq)), count(before, -1), count(after, 1));
      }
      // An entry of an earlier layout becomes the seq alone, once.
      if (found.legacy) mutations.push(set(["t", task.id], idValue(seq), 16));
      const now: Located = { bytes, seq, cls: after, legacy: false };
      await this.#write(task.id, now, mutations, [before, after]);
    });
  }

  deleteTask(id: string): Promise<boolean> {
    this.#checkOpen();
    return this.#lock(id, async () => {
      const found = await this.#locate(id);
      if (!found) return false;
      const prior = decodeStored(found.bytes, found.seq);
      const mutations: Mutation[] = [
        del(classKey(found.cls, found.seq)),
        del(nameKey(prior)),
        count(found.cls, -1),
        { kind: "seq", seq: found.seq, bytes: 32 },
      ];
      if (found.legacy || found.seq !== ownSeq(id)) mutations.push(del(["t", id]));
      await this.#write(id, null, mutations, [found.cls]);
      return true;
    });
  }

  async listTasks(filter: ListFilter = {}): Promise<TaskPage> {
    this.#checkOpen();
    const after = decodeCursor(filter.cursor);
    const limit = pageSize(filter);
    const classes = [...new Set(filter.states ?? STATE_CLASSES)];
    if (!this.#pagesOn || filter.readOnce) {
      return await this.#listUncached(filter, after, limit, classes);
    }
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
    if (
      page.tasks.length <= MAX_CACHED_PAGE_SIZE &&
      watched.every((c, i) => this.#gens[c] === gens[i])
    ) {
      // Shared between callers: frozen, so nobody can change what another reads.
      for (const t of page.tasks) deepFreeze(t);
      const prior = this.#pages.get(key);
      if (prior) this.#pageTasks -= prior.page.tasks.length;
      this.#pages.delete(key);
      this.#pages.set(key, { gens, page });
      this.#pageTasks += page.tasks.length;
      for (const [k, e] of this.#pages) {
        if (this.#pages.size <= MAX_CACHED_PAGES && this.#pageTasks <= MAX_CACHED_PAGE_TASKS) break;
        this.#pages.delete(k);
        this.#pageTasks -= e.page.tasks.length;
      }
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
    // What is listed is cached as if read one by one (the scheduler's queue window is
    // written soon after), except a task written while listing (its listed bytes may be
    // older than what that write cached, or it may be deleted).
    const written = new Set<string>();
    this.#listings.add(written);
    try {
      return await this.#mergeClasses(iters, filter, after, limit, written);
    } finally {
      this.#listings.delete(written);
    }
  }

  async #mergeClasses(
    iters: AsyncIterator<Deno.KvEntry<Uint8Array>>[],
    filter: ListFilter,
    after: number,
    limit: number,
    written: Set<string>,
  ): Promise<TaskPage> {
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
      if (scanned > 0 && entry.key[2] === lastSeq) {
        // The same task again: it changed class while the indexes were read (each is
        // read in batches, not from one snapshot), so it is in both. List it once.
        heads[best] = await iters[best].next();
        continue;
      }
      lastSeq = entry.key[2] as number;
      scanned++;
      const t = decodeStored(entry.value, lastSeq);
      if (matchesFilter(t, filter)) tasks.push(t);
      // Never evicting for it, and in a quarter of the cache only; else only its place.
      if (this.#listFillsCache && !written.has(t.id) && !this.#cache.get(t.id)) {
        const cls = entry.key[1] as StateClass;
        if (this.#cache.hasRoomAhead(entry.value.length)) {
          this.#cache.set(t.id, { bytes: entry.value, seq: lastSeq, cls, legacy: false });
        } else this.#rememberPlace(t.id, { seq: lastSeq, cls, name: t.name });
      }
      heads[best] = await iters[best].next();
    }
  }

  #rememberPlace(id: string, place: Place) {
    const places = this.#places;
    places.delete(id);
    places.set(id, place);
    if (places.size > MAX_LISTED_PLACES) places.delete(places.keys().next().value!);
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
      await this.#kv.get(SEQ_KEY);
    } catch (e) {
      throw new StoreUnavailableError(`Cannot read Deno KV: ${(e as Error).message}`, { cause: e });
    }
    // Reads may work while writes fail: after a failed commit, unavailable until one works.
    if (this.#committer.failing) await this.#committer.write([set(PROBE_KEY, 0, 8)]);
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
