/**
 * A ZooKeeper session with promises, over `npm:node-zookeeper-client` (pure JavaScript;
 * the native `zookeeper` package does not build under Deno).
 *
 * A {@linkcode ZkClient} keeps one session at a time: when ZooKeeper expires it (the
 * client was cut off longer than the session timeout), ephemeral nodes and watches are
 * gone, so the client opens a new session and tells `onSessionLost` listeners, who
 * re-create what they own. Operations wait while the connection is down and the session
 * still valid, as the library queues them.
 *
 * @module
 */
// @ts-types="npm:@types/node-zookeeper-client@1.1.0"
import zookeeper from "node-zookeeper-client";
import { Buffer } from "node:buffer";
import { type Clock, systemClock } from "../runtime.ts";
import type { ZkUrl } from "./url.ts";

/** Mesos' and our default session timeout (never the original Eremetic's 1 s). */
export const DEFAULT_SESSION_TIMEOUT_MS = 10_000;
/** How long `connectZk()` waits for a first session. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 15_000;

/** ZooKeeper answered with an error code (`code` is the library's, e.g. -101 no node). */
export class ZkError extends Error {
  override name = "ZkError";
  /** For a failed multi: the index of the operation that failed it, when known. */
  readonly opIndex: number | null;
  constructor(
    message: string,
    readonly code: number,
    options?: ErrorOptions & { opIndex?: number | null },
  ) {
    super(message, options);
    this.opIndex = options?.opIndex ?? null;
  }
  /** Connection loss, timeouts and expired sessions: retrying with a new session may work. */
  get temporary(): boolean {
    return TEMPORARY_CODES.has(this.code);
  }
}

/** ZooKeeper could not be reached within the connect timeout. */
export class ZkUnavailableError extends Error {
  override name = "ZkUnavailableError";
}

/** Error codes (org.apache.zookeeper.KeeperException.Code). */
export const ZK_CODES = {
  CONNECTION_LOSS: zookeeper.Exception.CONNECTION_LOSS,
  OPERATION_TIMEOUT: zookeeper.Exception.OPERATION_TIMEOUT,
  SESSION_EXPIRED: zookeeper.Exception.SESSION_EXPIRED,
  NO_NODE: zookeeper.Exception.NO_NODE,
  NODE_EXISTS: zookeeper.Exception.NODE_EXISTS,
  BAD_VERSION: zookeeper.Exception.BAD_VERSION,
  NOT_EMPTY: zookeeper.Exception.NOT_EMPTY,
  NO_AUTH: zookeeper.Exception.NO_AUTH,
} as const;

const TEMPORARY_CODES = new Set<number>([
  ZK_CODES.CONNECTION_LOSS,
  ZK_CODES.OPERATION_TIMEOUT,
  ZK_CODES.SESSION_EXPIRED,
]);

/** Who may touch a node: everybody, the creator only, or the creator with world read. */
export type ZkAcl = "open" | "private" | "readable";

/** Node types (`CreateMode`). */
export type ZkCreateMode = "persistent" | "ephemeral" | "ephemeral_sequential" | "sequential";

const MODES: Record<ZkCreateMode, number> = {
  persistent: zookeeper.CreateMode.PERSISTENT,
  ephemeral: zookeeper.CreateMode.EPHEMERAL,
  ephemeral_sequential: zookeeper.CreateMode.EPHEMERAL_SEQUENTIAL,
  sequential: zookeeper.CreateMode.PERSISTENT_SEQUENTIAL,
};

/** One operation of a multi (transaction). */
export type ZkOp =
  | { op: "create"; path: string; data: Uint8Array; mode?: ZkCreateMode }
  | { op: "set"; path: string; data: Uint8Array; version?: number }
  | { op: "remove"; path: string; version?: number }
  | { op: "check"; path: string; version: number };

/** A node's data and the parts of its stat we use. */
export interface ZkNode {
  data: Uint8Array;
  version: number;
  /** Creation order: the zxid that created the node. */
  czxid: bigint;
}

export interface ZkClientOptions {
  /** Default {@linkcode DEFAULT_SESSION_TIMEOUT_MS}. */
  sessionTimeoutMs?: number;
  /** Default {@linkcode DEFAULT_CONNECT_TIMEOUT_MS}. */
  connectTimeoutMs?: number;
  clock?: Clock;
  signal?: AbortSignal;
}

const { ACL, Id, Permission } = zookeeper;
const WORLD_ALL = new ACL(Permission.ALL, new Id("world", "anyone"));
const WORLD_READ = new ACL(Permission.READ, new Id("world", "anyone"));
/** Everything for the authenticated creator (ZooKeeper's `auth` scheme). */
const CREATOR_ALL = new ACL(Permission.ALL, new Id("auth", ""));

type Raw = ReturnType<typeof zookeeper.createClient>;

/** The operations a library transaction queued (its `ops` field, untyped). */
function txOps(tx: zookeeper.Transaction): { version?: number }[] {
  return (tx as unknown as { ops: { version?: number }[] }).ops;
}

function codeOf(err: unknown): number | null {
  if (err && typeof (err as { getCode?: unknown }).getCode === "function") {
    return (err as { getCode(): number }).getCode();
  }
  return null;
}

function toError(what: string, err: unknown): Error {
  const code = codeOf(err);
  if (code === null) return err instanceof Error ? err : new Error(String(err));
  return new ZkError(`${what}: ZooKeeper error ${code}`, code, { cause: err });
}

function bigintOf(b: Buffer): bigint {
  return b.length === 8 ? b.readBigInt64BE(0) : 0n;
}

/** Connects to the servers of `url` (with its digest credentials) and waits for a session. */
export async function connectZk(url: ZkUrl, options: ZkClientOptions = {}): Promise<ZkClient> {
  const client = new ZkClient(url, options);
  try {
    await client.ready(options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, options.signal);
  } catch (err) {
    await client.close();
    throw err;
  }
  return client;
}

/** A session with ZooKeeper, renewed after expiry. Paths are absolute. */
export class ZkClient implements AsyncDisposable {
  readonly url: ZkUrl;
  #sessionTimeoutMs: number;
  #clock: Clock;
  #raw!: Raw;
  #connected = false;
  #closed = false;
  #waiters = new Set<() => void>();
  #lostListeners = new Set<() => void>();
  #connectionListeners = new Set<(connected: boolean) => void>();
  #reconnectWatch: AbortController | null = null;

  constructor(url: ZkUrl, options: ZkClientOptions = {}) {
    this.url = url;
    this.#sessionTimeoutMs = options.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS;
    this.#clock = options.clock ?? systemClock;
    this.#open();
  }

  #open(): void {
    const raw = zookeeper.createClient(this.url.servers.join(","), {
      sessionTimeout: this.#sessionTimeoutMs,
      spinDelay: 200,
      retries: 0,
    });
    if (this.url.auth !== null) raw.addAuthInfo("digest", Buffer.from(this.url.auth));
    raw.on("connected", () => {
      if (raw !== this.#raw) return;
      this.#stopReconnectWatch();
      this.#connected = true;
      for (const w of this.#waiters) w();
      this.#waiters.clear();
      for (const l of this.#connectionListeners) l(true);
    });
    raw.on("disconnected", () => {
      // node-zookeeper-client 1.1.3 keeps the unread tail of a packet cut by the lost
      // connection and prepends it to the next connection's first bytes, so the connect
      // answer is misread. It reconnects right after this event: drop the stale bytes.
      const manager = (raw as unknown as { connectionManager?: { pendingBuffer: unknown } })
        .connectionManager;
      if (manager) manager.pendingBuffer = null;
      if (raw !== this.#raw) return;
      this.#connected = false;
      for (const l of this.#connectionListeners) l(false);
      // Each cut of the socket is a disconnection too: one watch until connected.
      if (!this.#closed && this.#reconnectWatch === null) this.#watchReconnect(raw);
    });
    raw.on("expired", () => {
      if (raw !== this.#raw || this.#closed) return;
      // The session is gone with its ephemeral nodes and watches: start another one.
      this.#stopReconnectWatch();
      this.#connected = false;
      for (const l of this.#connectionListeners) l(false);
      raw.close();
      this.#open();
      for (const l of this.#lostListeners) l();
    });
    this.#raw = raw;
    raw.connect();
  }

  /**
   * While the connection is down, the library's socket is cut after a session timeout, then
   * after twice that, and so on up to 8 times, so that it connects afresh: it never gives
   * up a connection attempt that was accepted but not answered (seen when ZooKeeper
   * restarted under load: no session for minutes). The growing wait leaves a slow server
   * time to answer. Operations in flight fail with a connection loss; queued ones wait.
   */
  #watchReconnect(raw: Raw): void {
    const watch = new AbortController();
    this.#reconnectWatch = watch;
    let delay = this.#sessionTimeoutMs;
    const kick = () =>
      this.#clock.sleep(delay, watch.signal).then(() => {
        if (raw !== this.#raw || this.#closed || this.#connected) {
          if (this.#reconnectWatch === watch) this.#reconnectWatch = null;
          return;
        }
        const manager = (raw as unknown as { connectionManager?: { socket?: { destroy(): void } } })
          .connectionManager;
        manager?.socket?.destroy();
        delay = Math.min(delay * 2, this.#sessionTimeoutMs * 8);
        void kick();
      }, () => {});
    void kick();
  }

  #stopReconnectWatch(): void {
    this.#reconnectWatch?.abort();
    this.#reconnectWatch = null;
  }

  /** Whether a session is connected right now. */
  get connected(): boolean {
    return this.#connected;
  }

  /** The session timeout ZooKeeper granted (ms), once connected. */
  get sessionTimeoutMs(): number {
    return this.#connected ? this.#raw.getSessionTimeout() : this.#sessionTimeoutMs;
  }

  /** The current session's id in hex (for logs and tests; the password is never shown). */
  get sessionId(): string {
    return this.#raw.getSessionId().toString("hex");
  }

  /** Waits until a session is connected, at most `timeoutMs`. */
  async ready(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.#connected) return;
    const ac = new AbortController();
    const onAbort = () => ac.abort(signal!.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    let waiter!: () => void;
    try {
      await Promise.race([
        new Promise<void>((resolve) => {
          waiter = resolve;
          this.#waiters.add(waiter);
        }),
        this.#clock.sleep(timeoutMs, ac.signal).then(() => {
          throw new ZkUnavailableError(
            `Cannot connect to ZooKeeper "${this.url}": no session within ${timeoutMs} ms`,
          );
        }),
      ]);
    } finally {
      this.#waiters.delete(waiter);
      signal?.removeEventListener("abort", onAbort);
      ac.abort();
    }
  }

  /** Calls `listener` after an expired session was replaced by a new one. */
  onSessionLost(listener: () => void): () => void {
    this.#lostListeners.add(listener);
    return () => this.#lostListeners.delete(listener);
  }

  /**
   * Calls `listener(false)` as soon as the connection is lost (the session may live on)
   * or the session expired, and `listener(true)` when a session is connected again.
   */
  onConnectionChange(listener: (connected: boolean) => void): () => void {
    this.#connectionListeners.add(listener);
    return () => this.#connectionListeners.delete(listener);
  }

  #acl(acl: ZkAcl): zookeeper.ACL[] {
    if (acl === "open" || this.url.auth === null) return [WORLD_ALL];
    return acl === "private" ? [CREATOR_ALL] : [CREATOR_ALL, WORLD_READ];
  }

  /** Creates a node; returns its path (with the sequence for sequential nodes). */
  create(
    path: string,
    data: Uint8Array,
    { mode = "persistent", acl = "private" }: { mode?: ZkCreateMode; acl?: ZkAcl } = {},
  ): Promise<string> {
    return new Promise((resolve, reject) =>
      this.#raw.create(path, Buffer.from(data), this.#acl(acl), MODES[mode], (err, created) => {
        if (err) reject(toError(`Cannot create "${path}"`, err));
        else resolve(created);
      })
    );
  }

  /** Creates `path` and its missing parents (persistent, empty). */
  mkdirp(path: string, { acl = "private" }: { acl?: ZkAcl } = {}): Promise<void> {
    return new Promise((resolve, reject) =>
      this.#raw.mkdirp(path, this.#acl(acl), zookeeper.CreateMode.PERSISTENT, (err) => {
        if (err) reject(toError(`Cannot create "${path}"`, err));
        else resolve();
      })
    );
  }

  /** A node's data and version, or `null` if there is none; `watch` fires once on a change. */
  getData(path: string, watch?: () => void): Promise<ZkNode | null> {
    return new Promise((resolve, reject) => {
      const cb = (err: unknown, data: Buffer, stat: zookeeper.Stat) => {
        if (codeOf(err) === ZK_CODES.NO_NODE) return resolve(null);
        if (err) return reject(toError(`Cannot read "${path}"`, err));
        resolve({
          data: new Uint8Array(data ?? new Uint8Array()),
          version: stat.version,
          czxid: bigintOf(stat.czxid),
        });
      };
      if (watch) this.#raw.getData(path, () => watch(), cb);
      else this.#raw.getData(path, cb);
    });
  }

  /** Replaces a node's data (`version` -1: any); resolves with the node's new version. */
  setData(path: string, data: Uint8Array, version = -1): Promise<number> {
    return new Promise((resolve, reject) =>
      this.#raw.setData(path, Buffer.from(data), version, (err, stat) => {
        if (err) reject(toError(`Cannot write "${path}"`, err));
        else resolve(stat.version);
      })
    );
  }

  /** Removes a node; `false` if there was none. */
  remove(path: string, version = -1): Promise<boolean> {
    return new Promise((resolve, reject) =>
      this.#raw.remove(path, version, (err) => {
        if (codeOf(err) === ZK_CODES.NO_NODE) return resolve(false);
        if (err) reject(toError(`Cannot remove "${path}"`, err));
        else resolve(true);
      })
    );
  }

  /** Child names, or `null` if the node does not exist; `watch` fires once on a change. */
  getChildren(path: string, watch?: () => void): Promise<string[] | null> {
    return new Promise((resolve, reject) => {
      const cb = (err: unknown, children: string[]) => {
        if (codeOf(err) === ZK_CODES.NO_NODE) return resolve(null);
        if (err) return reject(toError(`Cannot list "${path}"`, err));
        resolve(children);
      };
      if (watch) this.#raw.getChildren(path, () => watch(), cb);
      else this.#raw.getChildren(path, cb);
    });
  }

  /**
   * Runs `ops` atomically (a ZooKeeper multi): all apply or none. On failure the
   * {@linkcode ZkError} carries the first failing operation's code.
   */
  multi(ops: readonly ZkOp[], { acl = "private" }: { acl?: ZkAcl } = {}): Promise<void> {
    const tx = this.#raw.transaction();
    for (const o of ops) {
      switch (o.op) {
        case "create":
          tx.create(o.path, Buffer.from(o.data), this.#acl(acl), MODES[o.mode ?? "persistent"]);
          break;
        case "set":
          tx.setData(o.path, Buffer.from(o.data), o.version ?? -1);
          break;
        case "remove":
          tx.remove(o.path, o.version ?? -1);
          break;
        case "check":
          tx.check(o.path, o.version);
          break;
      }
      // The library's transaction turns version 0 into -1 ("any version": `version ||
      // -1`), which would make a check of a node never written since its creation pass
      // whatever its version: put the asked version back on the queued operation.
      if (o.op !== "create" && o.version === 0) txOps(tx).at(-1)!.version = 0;
    }
    return new Promise((resolve, reject) =>
      tx.commit((err, results: { err?: number }[] | undefined) => {
        if (!err) return resolve();
        // The library reports RUNTIME_INCONSISTENCY for the others; find the real cause.
        const index = results?.findIndex((r) =>
          typeof r.err === "number" && r.err !== 0 && r.err !== -2
        ) ?? -1;
        const code = index >= 0 ? results![index].err! : codeOf(err);
        if (code === null) return reject(toError("Cannot commit", err));
        reject(
          new ZkError(`Cannot commit ${ops.length} operations: ZooKeeper error ${code}`, code, {
            cause: err,
            opIndex: index >= 0 ? index : null,
          }),
        );
      })
    );
  }

  /**
   * Whether the server answers a read within `timeoutMs`: resolves if it does, else throws
   * {@linkcode ZkUnavailableError} (the library would wait as long as the socket looks
   * open, which a frozen or partitioned server's does).
   */
  async probe(timeoutMs: number): Promise<void> {
    if (!this.#connected) {
      throw new ZkUnavailableError(`Cannot reach ZooKeeper "${this.url}": disconnected`);
    }
    const ac = new AbortController();
    try {
      await Promise.race([
        this.getData("/"),
        this.#clock.sleep(timeoutMs, ac.signal).then(() => {
          throw new ZkUnavailableError(
            `Cannot reach ZooKeeper "${this.url}": no answer within ${timeoutMs} ms`,
          );
        }),
      ]);
    } finally {
      ac.abort();
    }
  }

  /**
   * Brings this session's server up to date with the ensemble's leader, as far as the
   * moment of the call: a multi is a write, so the server answers it only after applying
   * every transaction committed before it (the library has no `sync`). A read after it
   * sees every write acknowledged to any client before the call.
   */
  sync(path: string): Promise<void> {
    return this.multi([{ op: "check", path, version: -1 }]);
  }

  /** Ends the session (its ephemeral nodes go at once). */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.#stopReconnectWatch();
    this.#lostListeners.clear();
    this.#connectionListeners.clear();
    const raw = this.#raw;
    if (!this.#connected) {
      raw.close();
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      raw.once("disconnected", () => resolve());
      raw.close();
    });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
