/**
 * The HTTP API: every route of the original (reference §1.1), plus health,
 * OpenAPI and metrics, as one Hono app.
 *
 * ```ts
 * import { createApi } from "./mod.ts";
 * // const app = createApi({ store, control, ... }); Deno.serve(app.fetch);
 * ```
 *
 * @module
 */
import { type Context, Hono } from "hono";
import type { Metrics } from "../metrics/mod.ts";
import type { Clock, Logger } from "../runtime.ts";
import type { BodyTimeout } from "./body.ts";
import type { TaskControl } from "../scheduler/mod.ts";
import type { TaskStore } from "../store/mod.ts";
import { basicAuth, type BasicCredentials } from "./auth.ts";
import { errorHandler, json, JSON_TYPE } from "./errors.ts";
import { openApiDocument } from "./openapi.ts";
import { type SandboxReader, taskRoutes } from "./tasks.ts";
import type { ApiEnv, WebPages } from "./types.ts";
import { createStreams } from "./streams.ts";
import { RequestMetrics } from "./observe.ts";
import { EventHub } from "../events/mod.ts";

export type { SandboxReader } from "./tasks.ts";
export { MAX_TASK_ID_LENGTH, parseLabel } from "./tasks.ts";
export type { ApiEnv, WebPages } from "./types.ts";
export type { BodyTimeout } from "./body.ts";
export { HttpError, json, JSON_TYPE } from "./errors.ts";
export { checkBasicAuth, timingSafeEqual } from "./auth.ts";

export interface ApiDeps {
  store: TaskStore;
  control: TaskControl;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  newId: () => string;
  version: string;
  sandbox?: SandboxReader;
  urlPrefix?: string;
  credentials?: BasicCredentials | null;
  queueSize?: number;
  /** State changes for the live streams; a hub nobody publishes to when absent (tests). */
  events?: EventHub;
  /** Stream tuning (tests): keep-alive interval, per-client bound, output polling. */
  streams?: Pick<
    import("./streams.ts").StreamDeps,
    "pingIntervalMs" | "channelMaxBytes" | "followIntervalMs"
  >;
  /**
   * The web pages (`src/web`), mounted behind this app's middleware; without them
   * browsers get the JSON answers.
   */
  web?: WebPages;
  /** This instance's part in high availability, for the health answer (standalone when absent). */
  ha?: () => HaRole;
  /** How long a request body may take to arrive (`body_timeout_seconds`); none: no limit. */
  bodyTimeout?: BodyTimeout | null;
}

/** Which instance schedules (docs/operations.md, high availability). */
export interface HaRole {
  role: "leader" | "follower" | "standalone";
  /** The leader's advertised address, if one is known. */
  leader: string | null;
}

/** Paths (as regular expressions) and the methods they answer, for 405 responses. */
const ROUTES: [RegExp, string[]][] = [
  [/^\/$/, ["GET"]],
  [/^\/tasks$/, ["GET"]],
  [/^\/metrics$/, ["GET"]],
  [/^\/(api\/v1\/)?task$/, ["GET", "POST"]],
  [/^\/(api\/v1\/)?task\/[^/]+$/, ["GET", "DELETE"]],
  [/^\/(api\/v1\/)?task\/[^/]+\/(stdout|stderr)$/, ["GET"]],
  [/^\/(api\/v1\/)?task\/[^/]+\/kill$/, ["POST"]],
  [/^\/api\/v1\/task\/[^/]+\/events$/, ["GET"]],
  [/^\/api\/v1\/events$/, ["GET"]],
  [/^\/(api\/v1\/)?version$/, ["GET"]],
  [/^\/api\/v1\/(health|openapi\.json)$/, ["GET"]],
];

const SLASH = 0x2f;

/** The redirect of a path with trailing slashes to the path without them. */
function strictSlashRedirect(c: Context<ApiEnv>, prefix: string): Response {
  const url = new URL(c.req.url);
  // One leading slash only: `//evil.example/` must not redirect off-site. The path as
  // sent (still percent-encoded): decoded, `%00` or `%0a` would make the header invalid.
  const target = "/" + url.pathname.replace(/^\/+|\/+$/g, "");
  return c.redirect(`${prefix}${target}${url.search}`, 301);
}

/** Paths never behind authentication: health checks and the version. */
const OPEN_PATHS = new Set([
  "/version",
  "/api/v1/version",
  "/api/v1/health",
  "/api/v1/openapi.json",
]);

/** Builds the API app. */
export function createApi(deps: ApiDeps): Hono<ApiEnv> {
  const { logger, metrics, clock } = deps;
  const prefix = deps.urlPrefix ?? "";
  const app = new Hono<ApiEnv>();
  app.onError(errorHandler(logger));

  // Metrics and request log for every request, and strict slash: `/api/v1/task/` →
  // 301 `/api/v1/task`, as the original (one middleware: each costs a dispatch).
  const requestMetrics = new RequestMetrics(metrics);
  const logRequests = logger.enabled?.("info") ?? true;
  app.use("*", async function observe(c, next) {
    const started = performance.now();
    c.set("handler", "NotFound");
    const path = c.req.path;
    if (path.length > 1 && path.charCodeAt(path.length - 1) === SLASH) {
      c.res = strictSlashRedirect(c, prefix);
    } else {
      await next();
    }
    const micros = Math.round((performance.now() - started) * 1000);
    const res = c.res;
    const raw = c.req.raw;
    const reqSize = Number(raw.headers.get("content-length") ?? 0);
    const resSize = Number(res.headers.get("content-length") ?? 0);
    requestMetrics.record(c.get("handler"), raw.method, res.status, micros, reqSize, resSize);
    if (logRequests) {
      logger.info("HTTP request", {
        method: raw.method,
        path,
        status: res.status,
        duration_ms: Math.round(micros / 100) / 10,
      });
    }
  });

  if (deps.credentials) {
    const auth = basicAuth(deps.credentials, { htmlPage: deps.web?.unauthorized });
    app.use("*", async function maybeAuth(c, next) {
      if (OPEN_PATHS.has(c.req.path) || !ROUTES.some(([re]) => re.test(c.req.path))) {
        if (!c.req.path.startsWith("/static/")) return await next();
      }
      return await auth(c, next);
    });
  }

  const hub = deps.events ?? new EventHub({ clock });
  const streams = createStreams({
    store: deps.store,
    hub,
    clock,
    sandbox: deps.sandbox,
    metrics,
    ...deps.streams,
  });
  const routeDeps = {
    store: deps.store,
    control: deps.control,
    clock,
    newId: deps.newId,
    sandbox: deps.sandbox,
    urlPrefix: prefix,
    queueSize: deps.queueSize ?? 0,
    metrics,
    bodyTimeout: deps.bodyTimeout,
  };
  // Pages first: `/` and `/task/{id}` serve browsers and pass every other request on.
  if (deps.web) app.route("/", deps.web.routes);
  app.route("/api/v1/task", taskRoutes("v1", { ...routeDeps, streams }));
  app.route("/task", taskRoutes("v0", routeDeps));

  app.get("/api/v1/events", (c) => {
    c.set("handler", "Events");
    return streams.allEvents(c.req.raw);
  });

  const version = (c: { set(k: "handler", v: string): void }) => {
    c.set("handler", "Version");
    return json(deps.version);
  };
  app.get("/api/v1/version", version);
  app.get("/version", (c) => {
    const res = version(c);
    res.headers.append("warning", "299 - 'Deprecated API'");
    return res;
  });

  app.get("/api/v1/health", async (c) => {
    c.set("handler", "Health");
    let store: { ok: boolean; description: string; error?: string };
    let counts = null;
    try {
      await deps.store.ping();
      counts = await deps.store.countTasks();
      store = { ok: true, description: deps.store.description };
    } catch (e) {
      store = { ok: false, description: deps.store.description, error: (e as Error).message };
    }
    const mesos = deps.control.status();
    const ha = deps.ha?.() ?? { role: "standalone", leader: null };
    const warnings: string[] = [];
    if (mesos.master === null) {
      warnings.push("No Mesos master is configured: tasks stay queued until one is");
    } else if (mesos.state === "standby") {
      // A follower: the leader subscribes; this instance serves reads, forwards writes.
      if (ha.leader === null) {
        warnings.push("No leader is elected: writes are refused until one is");
      }
    } else if (mesos.state !== "subscribed") {
      warnings.push(`Not subscribed to the Mesos master "${mesos.master}"`);
    }
    const status = !store.ok ? "unavailable" : warnings.length ? "degraded" : "ok";
    return json(
      {
        status,
        version: deps.version,
        store,
        tasks: counts,
        mesos: {
          master: mesos.master,
          state: mesos.state,
          framework_id: mesos.frameworkId,
          ...(mesos.detail ? { detail: mesos.detail } : {}),
        },
        warnings,
        ha,
      },
      store.ok ? 200 : 503,
    );
  });

  let openapi: string | null = null;
  app.get("/api/v1/openapi.json", (c) => {
    c.set("handler", "OpenAPI");
    openapi ??= JSON.stringify(openApiDocument(deps.version), null, 2) + "\n";
    return c.body(openapi, 200, { "content-type": "application/json; charset=UTF-8" });
  });

  app.get("/metrics", (c) => {
    c.set("handler", "Metrics");
    return c.body(metrics.registry.render(), 200, {
      "content-type": "text/plain; version=0.0.4; charset=utf-8",
    });
  });

  // Browsers get the submit form (web pages, mounted above); other clients nothing.
  app.get("/", (c) => {
    c.set("handler", "Index");
    return new Response(null, { status: 204, headers: { "content-type": JSON_TYPE } });
  });

  app.notFound(async (c) => {
    const allowed = ROUTES.find(([re]) => re.test(c.req.path))?.[1];
    if (allowed) {
      c.set("handler", "MethodNotAllowed");
      return json(
        {
          error: "method not allowed",
          message: `Cannot ${c.req.method} ${c.req.path}: allowed ${allowed.join(", ")}`,
        },
        405,
        { allow: allowed.join(", ") },
      );
    }
    if (deps.web && (c.req.header("accept") ?? "").includes("text/html")) {
      return await deps.web.notFound(c);
    }
    return json(null, 404);
  });

  return app;
}
