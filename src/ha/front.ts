/**
 * High availability (`database_driver: zk` with a Mesos master): several instances share
 * one ZooKeeper root and elect a leader ({@linkcode Election}). The leader runs the whole
 * app (store, scheduler, API); it opens the store when elected, so it starts from what
 * ZooKeeper holds, and closes it, with the scheduler, the moment it is deposed. Followers
 * answer `GET /api/v1/health` themselves and forward every other request to the leader's
 * advertised address, status, headers and body unchanged (authentication is the
 * leader's), so clients and browsers may use any instance; with no leader known they
 * answer 503 with `Retry-After`.
 *
 * @module
 */
import type { HaRole } from "../api/mod.ts";
import { type App, createApp } from "../app.ts";
import type { Config } from "../config/mod.ts";
import type { Clock, Logger } from "../runtime.ts";
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

/** Forwards `req` to `base` (the leader's advertised URL, prefix included). */
export async function forward(req: Request, base: string, urlPrefix: string): Promise<Response> {
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
  let res: Response;
  try {
    res = await fetch(`${base}${path}${url.search}`, {
      method: req.method,
      headers,
      body: hasBody ? await req.arrayBuffer() : undefined,
      redirect: "manual",
      signal: req.signal,
    });
  } catch {
    return unavailable("The leader cannot be reached; retry shortly");
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
  let app: App | null = null;
  let closed = false;
  // Becoming and leaving leader run one after the other.
  let transitions: Promise<void> = Promise.resolve();
  const role = (): HaRole => ({
    role: election.leading ? "leader" : "follower",
    leader: election.leader,
  });
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
        }
      });
    },
    deposed() {
      const old = app;
      app = null; // from now on requests are forwarded or refused
      if (old === null) return;
      old.closeStreams();
      transitions = transitions.then(() => old.close()).catch((e) =>
        logger.error("Cannot stop as leader", { error: (e as Error).message })
      );
    },
  }, { clock, logger, sessionTimeoutMs: zk.sessionTimeoutMs });
  try {
    await election.start();
  } catch (e) {
    await zk.close();
    throw e;
  }
  const healthPath = `${config.url_prefix}/api/v1/health`;
  return {
    fetch(req) {
      if (app !== null) return app.fetch(req);
      const path = new URL(req.url).pathname;
      if (path === healthPath && req.method === "GET") {
        const leader = election.leader;
        return Response.json({
          status: leader ? "ok" : "degraded",
          ha: role(),
          warnings: leader ? [] : ["No leader is elected: requests are refused"],
        });
      }
      const leader = election.leader;
      if (leader === null || leader === address || req.headers.has(FORWARDED_HEADER)) {
        return unavailable("No leader is elected yet; retry shortly");
      }
      return forward(req, leader, config.url_prefix);
    },
    closeStreams() {
      app?.closeStreams();
    },
    async close() {
      if (closed) return;
      await election.close();
      closed = true;
      await transitions;
      await zk.close();
    },
  };
}
