/**
 * High availability (`database_driver: zk` with a Mesos master): several instances share
 * one ZooKeeper root and elect a leader ({@linkcode Election}). The leader runs the whole
 * app (store, scheduler, API); it opens the store when elected, which fences off any
 * earlier writer (src/store/zk.ts), so it starts from what ZooKeeper holds, and closes
 * it, with the scheduler, the moment it is deposed.
 *
 * Followers serve reads themselves (tasks, lists, stdout/stderr, pages, health, metrics,
 * live streams) from a read-only mirror of the store kept fresh by ZooKeeper watches
 * (src/store/zk_mirror.ts), so reads go on during a failover; ZooKeeper shows only
 * committed writes, so neither does a follower. Writes (`POST`, `DELETE`, ...: submit,
 * kill, delete) are forwarded to the leader's advertised address, status, headers and
 * body unchanged (authentication is the leader's), then the follower re-reads the task
 * they touched, so the client finds it at once on this instance too. With no leader known
 * a write is answered 503 with a JSON error and `Retry-After`. Live streams on a follower
 * come from the mirror's watches, not from the leader: they survive the leader's death
 * (a watch coalesces changes that come quicker than its round trip; the stored history
 * in each event has every state). Until a follower's mirror is loaded it forwards reads
 * too.
 *
 * @module
 */
import type { HaRole } from "../api/mod.ts";
import { type App, createApp } from "../app.ts";
import type { Config } from "../config/mod.ts";
import type { Clock, Logger } from "../runtime.ts";
import { openZkMirror, type ZkMirror } from "../store/mod.ts";
import { classOf, currentState } from "../task/mod.ts";
import { connectZk, parseZkUrl } from "../zk/mod.ts";
import { Election } from "./election.ts";

/** Marks a forwarded request, so that two followers never forward in a loop. */
export const FORWARDED_HEADER = "x-eremetic-forwarded";

/** Request headers not passed on (hop by hop, or set by the forwarding fetch). */
const HOP_HEADERS = [
  "connection",
  "keep-alive",
  "transfer-encoding",
  "te",
  "upgrade",
  "host",
  "content-length",
  "accept-encoding",
];

/** The address this instance advertises to the others: `webui_url`, or derived. */
export function advertisedAddress(config: Config, hostname: string): string {
  if (config.webui_url) return config.webui_url.replace(/\/$/, "");
  const scheme = config.tls_cert && config.tls_key ? "https" : "http";
  return `${scheme}://${hostname}:${config.port}${config.url_prefix}`;
}

/** What `serve` needs of an app. */
export interface HaApp {
  fetch: (req: Request) => Response | Promise<Response>;
  closeStreams(): void;
  close(): Promise<void>;
}

function unavailable(message: string): Response {
  return new Response(JSON.stringify({ error: message }) + "\n", {
    status: 503,
    headers: { "content-type": "application/json; charset=UTF-8", "retry-after": "1" },
  });
}

export interface ForwardOptions {
  clock: Clock;
  /**
   * How long to wait for the leader's response headers (a body may then stream for as long
   * as it takes): a leader whose machine is gone never refuses the connection.
   */
  headersTimeoutMs: number;
}

/** Forwards `req` to `base` (the leader's advertised URL, prefix included). */
export async function forward(
  req: Request,
  base: string,
  urlPrefix: string,
  { clock, headersTimeoutMs }: ForwardOptions,
): Promise<Response> {
  const url = new URL(req.url);
  const path = url.pathname.startsWith(urlPrefix)
    ? url.pathname.slice(urlPrefix.length)
    : url.pathname;
  const headers = new Headers(req.headers);
  for (const h of HOP_HEADERS) headers.delete(h);
  // Bodies pass through as they are: no compression to undo.
  headers.set("accept-encoding", "identity");
  headers.set(FORWARDED_HEADER, "1");
  const hasBody = req.method !== "GET" && req.method !== "HEAD" && req.body !== null;
  const abort = new AbortController();
  const onAbort = () => abort.abort();
  req.signal.addEventListener("abort", onAbort, { once: true });
  const waited = new AbortController();
  void clock.sleep(headersTimeoutMs, waited.signal).then(onAbort, () => {});
  let res: Response;
  try {
    res = await fetch(`${base}${path}${url.search}`, {
      method: req.method,
      headers,
      body: hasBody ? await req.arrayBuffer() : undefined,
      redirect: "manual",
      signal: abort.signal,
    });
  } catch {
    req.signal.removeEventListener("abort", onAbort);
    return unavailable("The leader cannot be reached; retry shortly");
  } finally {
    waited.abort();
  }
  const out = new Headers(res.headers);
  out.delete("content-length");
  out.delete("transfer-encoding");
  out.delete("connection");
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers: out });
}

/** Joins the election and serves as leader or follower until closed. */
export async function startHa(
  config: Config,
  deps: { logger: Logger; clock: Clock },
): Promise<HaApp> {
  const { logger, clock } = deps;
  const hostname = config.hostname || Deno.hostname();
  const address = advertisedAddress(config, hostname);
  const sessionTimeoutMs = config.zk_session_timeout_seconds * 1000;
  const zk = await connectZk(parseZkUrl(config.database), { sessionTimeoutMs, clock });
  /** The leader's app, while this instance leads. */
  let app: App | null = null;
  /** The follower's read-only app and its mirror, while it follows. */
  let follower: { app: App; mirror: ZkMirror } | null = null;
  let closed = false;
  const stop = new AbortController();
  // Becoming and leaving leader or follower run one after the other.
  let transitions: Promise<void> = Promise.resolve();
  const role = (): HaRole => ({
    role: election.leading ? "leader" : "follower",
    leader: election.leader,
  });
  const closeFollower = async () => {
    const f = follower;
    follower = null; // from now on reads are the leader app's, or forwarded
    if (f === null) return;
    f.app.closeStreams();
    await f.app.close();
  };
  const openFollower = async () => {
    const mirror = await openZkMirror(config.database, { sessionTimeoutMs, clock, logger });
    let opened: App;
    try {
      opened = await createApp(config, { logger, clock, ha: role, store: mirror, follower: true });
    } catch (e) {
      await mirror.close();
      throw e;
    }
    // The live streams hear of a task's new states from the watches.
    mirror.onTaskChanged((_id, task, prior) => {
      if (task === null || task.status.length === (prior?.status.length ?? 0)) return;
      opened.events.publish(task, classOf(currentState(task)) === "terminated");
    });
    return { app: opened, mirror };
  };
  const becomeFollower = () => {
    transitions = transitions.then(async () => {
      if (closed || election.leading || follower !== null) return;
      try {
        follower = await openFollower();
        // Elected meanwhile: it serves reads until the leader's app is up (which closes it).
        if (closed) await closeFollower();
      } catch (e) {
        logger.error("Cannot serve reads as follower, retrying", { error: (e as Error).message });
        void clock.sleep(1000, stop.signal).then(becomeFollower, () => {});
      }
    });
  };
  const election: Election = new Election(zk, parseZkUrl(config.database).path, address, {
    elected() {
      transitions = transitions.then(async () => {
        if (!election.leading || closed || app !== null) return;
        try {
          const opened = await createApp(config, { logger, clock, ha: role });
          if (!election.leading || closed) return void await opened.close();
          app = opened;
        } catch (e) {
          logger.error("Cannot start as leader", { error: (e as Error).message });
          return;
        }
        await closeFollower();
      });
    },
    deposed() {
      const old = app;
      app = null; // from now on requests are served by the follower, forwarded or refused
      if (old !== null) {
        // Stop the scheduler now, not behind other transitions; the next ones wait for it.
        old.closeStreams();
        const stopped = old.close().catch((e) =>
          logger.error("Cannot stop as leader", { error: (e as Error).message })
        );
        transitions = Promise.all([transitions, stopped]).then(() => {});
      }
      becomeFollower();
    },
  }, { clock, logger, sessionTimeoutMs: zk.sessionTimeoutMs });
  try {
    await election.start();
  } catch (e) {
    await zk.close();
    throw e;
  }
  if (!election.leading) becomeFollower();
  const healthPath = `${config.url_prefix}/api/v1/health`;
  return {
    async fetch(req) {
      if (app !== null) return app.fetch(req);
      const reading = req.method === "GET" || req.method === "HEAD" || req.method === "OPTIONS";
      const local = follower;
      if (reading && local !== null) return local.app.fetch(req);
      const leader = election.leader;
      if (reading && new URL(req.url).pathname === healthPath) {
        // This instance's own state, never the leader's: a load balancer asks about this one.
        return Response.json({
          status: leader ? "ok" : "degraded",
          ha: role(),
          warnings: leader ? [] : ["No leader is elected: writes are refused until one is"],
        });
      }
      if (leader === null || leader === address || req.headers.has(FORWARDED_HEADER)) {
        return unavailable("No leader is elected yet; retry shortly");
      }
      const res = await forward(req, leader, config.url_prefix, {
        clock,
        headersTimeoutMs: zk.sessionTimeoutMs,
      });
      if (!reading && res.ok && local !== null) {
        // Read your writes here too: the task as the leader left it, before answering.
        const id = touchedTaskId(req, res, config.url_prefix);
        if (id !== null) await local.mirror.refresh(id).catch(() => {});
      }
      return res;
    },
    closeStreams() {
      app?.closeStreams();
      follower?.app.closeStreams();
    },
    async close() {
      if (closed) return;
      closed = true;
      stop.abort();
      await election.close();
      await transitions;
      await closeFollower();
      await zk.close();
    },
  };
}

/** The task a write touched: named in its path, or in the `Location` of a submit's answer. */
export function touchedTaskId(req: Request, res: Response, urlPrefix: string): string | null {
  const path = new URL(req.url).pathname.slice(urlPrefix.length);
  const named = /^\/(?:api\/v1\/)?task\/([^/]+)/.exec(path);
  if (named) return decodeURIComponent(named[1]);
  const location = res.headers.get("location");
  const created = location && /\/task\/([^/?#]+)$/.exec(location);
  return created ? decodeURIComponent(created[1]) : null;
}
