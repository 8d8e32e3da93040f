/**
 * Leading-master detection through ZooKeeper, as Mesos masters advertise themselves
 * (reference `mesos-v1.md` §8.2–8.3): each master holds an ephemeral sequential node
 * `json.info_<10 digits>` under the group path, its data the master's `MasterInfo` as
 * JSON; the lowest sequence leads. The detector watches the path's children and re-reads
 * the leader on every change. When the ZooKeeper session is lost it keeps the current
 * leader (the master connection is unaffected) and sets the watch again on the new
 * session.
 *
 * @module
 */
import { type Clock, type Logger, silentLogger, systemClock } from "../runtime.ts";
import { connectZk, type ZkClient, type ZkClientOptions, type ZkUrl } from "../zk/mod.ts";
import { type MasterDetector, SCHEDULER_PATH } from "./detector.ts";

/** The label of MasterInfo JSON nodes (src/master/constants.hpp). */
export const MASTER_INFO_LABEL = "json.info";
/** How long to wait before reading the group again after a failed read. */
export const RETRY_DELAY_MS = 1_000;

/** The child that leads: the `json.info_<seq>` node with the lowest sequence, or `null`. */
export function leaderNode(children: readonly string[]): string | null {
  let best: string | null = null;
  let bestSeq = Infinity;
  for (const name of children) {
    const m = /^json\.info_(\d+)$/.exec(name);
    if (!m) continue; // log_replicas, legacy info_ and pid nodes
    const seq = Number(m[1]);
    if (seq < bestSeq) [best, bestSeq] = [name, seq];
  }
  return best;
}

/** `MasterInfo.ip`: the IPv4 address in network order read as a little-endian uint32. */
export function ipFromUint32(ip: number): string {
  return [ip & 0xff, (ip >>> 8) & 0xff, (ip >>> 16) & 0xff, (ip >>> 24) & 0xff].join(".");
}

/** A `MasterInfo` node's data is not usable. */
export class MasterInfoError extends Error {
  override name = "MasterInfoError";
}

/**
 * The scheduler endpoint of a master from its `MasterInfo` JSON: `address.hostname` or
 * `address.ip` with `address.port`, else the deprecated `hostname` or `ip` (a
 * little-endian uint32) with `port`.
 */
export function masterInfoEndpoint(data: Uint8Array | string): URL {
  let info: Record<string, unknown>;
  try {
    info = JSON.parse(typeof data === "string" ? data : new TextDecoder().decode(data));
  } catch {
    throw new MasterInfoError("Cannot read MasterInfo: the node does not hold JSON");
  }
  if (typeof info !== "object" || info === null) {
    throw new MasterInfoError("Cannot read MasterInfo: expected a JSON object");
  }
  const text = (v: unknown) => typeof v === "string" && v !== "" ? v : null;
  const port = (v: unknown) =>
    typeof v === "number" && Number.isInteger(v) && v > 0 && v < 65536 ? v : null;
  const address =
    (typeof info.address === "object" && info.address !== null ? info.address : {}) as Record<
      string,
      unknown
    >;
  const host = text(address.hostname) ?? text(address.ip) ?? text(info.hostname) ??
    (typeof info.ip === "number" && info.ip !== 0 ? ipFromUint32(info.ip) : null);
  const p = port(address.port) ?? port(info.port);
  if (host === null) throw new MasterInfoError("Cannot read MasterInfo: no hostname or ip");
  if (p === null) throw new MasterInfoError("Cannot read MasterInfo: no valid port");
  const shown = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  return new URL(`http://${shown}:${p}${SCHEDULER_PATH}`);
}

export interface ZkDetectorOptions extends ZkClientOptions {
  logger?: Logger;
  clock?: Clock;
  /** Opens the session (tests pass their own). */
  connect?: (url: ZkUrl, options: ZkClientOptions) => Promise<ZkClient>;
}

/** A {@linkcode MasterDetector} over a ZooKeeper group; the session opens on first use. */
export function zkDetector(url: ZkUrl, options: ZkDetectorOptions = {}): MasterDetector {
  const {
    logger = silentLogger,
    clock = systemClock,
    connect = connectZk,
    ...clientOptions
  } = options;
  const stop = new AbortController();
  let client: Promise<ZkClient> | null = null;
  let leader: URL | null = null;
  let generation = 0;
  const waiters = new Set<() => void>();

  const setLeader = (next: URL | null) => {
    if (next?.href === leader?.href) return;
    logger.info(next ? "Leading master detected" : "No leading master", {
      zk: String(url),
      master: next ? `${next.protocol}//${next.host}` : null,
    });
    leader = next;
    for (const w of [...waiters]) w();
  };

  /** Reads the group and sets a watch; a change or a lost session reads it again. */
  const read = async (zk: ZkClient, gen: number): Promise<void> => {
    while (!stop.signal.aborted && gen === generation) {
      try {
        const children = await zk.getChildren(url.path, () => {
          if (gen === generation) void read(zk, gen);
        });
        if (children === null) {
          // No group yet: no leader; look again shortly (a child watch needs the node).
          setLeader(null);
        } else {
          const name = leaderNode(children);
          if (name === null) return setLeader(null);
          const node = await zk.getData(`${url.path}/${name}`);
          // Gone meanwhile: the children watch has fired and another read follows.
          if (node === null) return;
          return setLeader(masterInfoEndpoint(node.data));
        }
      } catch (err) {
        if (stop.signal.aborted) return;
        logger.warn("Cannot read the Mesos masters in ZooKeeper", {
          zk: String(url),
          error: err instanceof Error ? err.message : String(err),
        });
      }
      await clock.sleep(RETRY_DELAY_MS, stop.signal).catch(() => {});
    }
  };

  const start = (): Promise<ZkClient> => {
    client ??= (async () => {
      for (;;) {
        try {
          const zk = await connect(url, { ...clientOptions, clock, signal: stop.signal });
          zk.onSessionLost(() => {
            // Keep `leader`: the master connection does not depend on our session.
            logger.warn("ZooKeeper session expired; watching the masters again", {
              zk: String(url),
            });
            void read(zk, ++generation);
          });
          void read(zk, ++generation);
          return zk;
        } catch (err) {
          if (stop.signal.aborted) throw err;
          logger.warn("Cannot connect to ZooKeeper", {
            zk: String(url),
            error: err instanceof Error ? err.message : String(err),
          });
          await clock.sleep(RETRY_DELAY_MS, stop.signal);
        }
      }
    })();
    client.catch(() => {});
    return client;
  };

  /** Resolves when `done()` holds, re-checking after every leader change. */
  const until = (done: () => boolean, signal?: AbortSignal): Promise<void> => {
    void start();
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      if (done()) return resolve();
      const check = () => {
        if (!done()) return;
        waiters.delete(check);
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = () => {
        waiters.delete(check);
        reject(signal!.reason);
      };
      waiters.add(check);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  };

  return {
    description: String(url),
    async leader(signal?: AbortSignal): Promise<URL> {
      await until(() => leader !== null, signal);
      return new URL(leader!);
    },
    leaderChanged(current: URL, signal: AbortSignal): Promise<void> {
      return until(() => leader?.href !== current.href, signal);
    },
    async close(): Promise<void> {
      stop.abort(new Error("Detector closed"));
      generation++;
      const zk = await client?.catch(() => null);
      await zk?.close();
    },
  };
}
