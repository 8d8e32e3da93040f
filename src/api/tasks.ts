/**
 * Task routes, mounted twice: `/api/v1/task` (v1 shapes) and the legacy `/task`
 * (v0 shapes, `Warning: 299 - 'Deprecated API'` on every response).
 *
 * @module
 */
import { Hono } from "hono";
import type { Metrics } from "../metrics/mod.ts";
import type { Clock } from "../runtime.ts";
import type { TaskControl } from "../scheduler/mod.ts";
import { type LabelFilter, MAX_RECORD_BYTES, type TaskStore, TooLargeError } from "../store/mod.ts";
import {
  isTerminal,
  newTaskRecord,
  parseTaskRequestV0,
  parseTaskRequestV1,
  type StateClass,
  stateOf,
  type TaskRecord,
  TaskRequestV0Schema,
  TaskRequestV1Schema,
  toTaskV0,
  toTaskV1,
} from "../task/mod.ts";
import { type BodyTimeout, parseJsonBody, readBody } from "./body.ts";
import { HttpError, json, JSON_TYPE } from "./errors.ts";
import { taskViewResponder } from "./task_cache.ts";
import type { ApiEnv } from "./types.ts";
import type { Streams } from "./streams.ts";

/** Reads a sandbox file of a task (implemented by src/sandbox). */
export interface SandboxReader {
  read(
    task: TaskRecord,
    file: "stdout" | "stderr",
    /** `hold`: the file is still written; keep back what may begin a masked value. */
    range: { offset?: number; length?: number; hold?: boolean },
  ): Promise<Response>;
}

export interface TaskRoutesDeps {
  store: TaskStore;
  control: TaskControl;
  clock: Clock;
  newId: () => string;
  sandbox?: SandboxReader;
  urlPrefix: string;
  /** Maximum queued tasks; 0 = unlimited. */
  queueSize: number;
  /**
   * `scheduler_tasks_created` and `scheduler_queue_size` grow here, where a task is
   * accepted; `TaskControl` implementations must not count creations again.
   */
  metrics?: Metrics;
  /** Live streams (`/events`, `?follow=1`); v1 routes only. */
  streams?: Streams;
  /** How long a submitted body may take to arrive (none: no limit). */
  bodyTimeout?: BodyTimeout | null;
}

const STATE_TOKENS = new Set<StateClass>(["active", "queued", "terminated"]);

/** The original list default: tasks that are queued or active. */
export const DEFAULT_LIST_STATES: StateClass[] = ["active", "queued"];

/**
 * Parses `state`: absent → default; empty → all; unknown tokens match nothing
 * (as in the original).
 */
export function parseStates(param: string | undefined): StateClass[] | null {
  if (param === undefined) return DEFAULT_LIST_STATES;
  if (param === "") return null;
  return param.split(",").filter((t): t is StateClass => STATE_TOKENS.has(t as StateClass));
}

/** Parses `label`: `key` or `key=value`; absent or empty → no filter. */
export function parseLabel(param: string | undefined): LabelFilter | undefined {
  if (param === undefined || param === "") return undefined;
  const at = param.indexOf("=");
  return at < 0 ? { key: param } : { key: param.slice(0, at), value: param.slice(at + 1) };
}

function parseLimit(param: string | undefined): number | undefined {
  if (param === undefined || param === "") return undefined;
  const n = Number(param);
  if (!Number.isInteger(n) || n < 1 || n > 10_000) {
    throw new HttpError(422, {
      error: "invalid query parameter",
      message: "Unable to parse query params",
      details: [{ path: "limit", problem: "must be an integer 1-10000" }],
    });
  }
  return n;
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The absolute URL of a task, honouring `X-Forwarded-Proto`, `Host` and `url_prefix`. */
export function taskLocation(req: Request, prefix: string, path: string): string {
  // `req.url` is absolute and normalized: its scheme ends at the first colon (no URL
  // parsing on the submit path unless the Host header is missing).
  const url = req.url;
  // The first proxy's value, and only a web scheme (never `javascript:` or garbage).
  const forwarded = req.headers.get("x-forwarded-proto")?.split(",")[0].trim().toLowerCase();
  const proto = forwarded === "http" || forwarded === "https"
    ? forwarded
    : url.slice(0, url.indexOf(":"));
  const host = req.headers.get("host") ?? new URL(url).host;
  return `${proto}://${host}${prefix}${path}`;
}

const MAX_IDEMPOTENCY_KEY = 255;

/**
 * Ids are `eremetic-task.<uuid>` (50 characters); anything much longer names no task,
 * and is not sent to the store (a Deno KV key holds at most 2 KiB).
 */
export const MAX_TASK_ID_LENGTH = 256;

function isPlausibleId(id: string): boolean {
  return id.length <= MAX_TASK_ID_LENGTH;
}

/**
 * The `Warning: 299` value naming ignored keys. Keys are the client's arbitrary strings,
 * so they are escaped into a valid quoted-string of printable ASCII (a raw newline or a
 * non-Latin-1 character would make the header invalid) and the list is cut short.
 */
export function unknownKeysWarning(keys: readonly string[]): string {
  const escape = (k: string) =>
    k.slice(0, 64).replace(
      /[^\x20-\x7e]|["\\]/g,
      (ch) =>
        ch === '"' || ch === "\\"
          ? `\\${ch}`
          : `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`,
    );
  const shown = keys.slice(0, 20).map(escape).join(", ");
  const more = keys.length > 20 ? ` and ${keys.length - 20} more` : "";
  return `299 - "Unknown keys ignored: ${shown}${more}"`;
}

/**
 * The 413 of a task too large to store, naming the fields that make it so: the largest,
 * and any other over a quarter of the limit (a huge `env` map, thousands of `args`).
 */
export function tooLargeTask(err: TooLargeError, body: unknown): HttpError {
  const sizes = Object.entries(body as Record<string, unknown>)
    .map(([path, value]) => ({ path, bytes: JSON.stringify(value)?.length ?? 0 }))
    .sort((a, b) => b.bytes - a.bytes);
  const named = sizes.filter((f, i) => i === 0 || f.bytes > err.limit / 4);
  return new HttpError(413, {
    error: "task too large",
    message: `Task is too large to store: ${err.bytes} bytes, the limit is ${err.limit}`,
    details: named.map(({ path, bytes }) => ({
      path,
      problem: `is ${bytes} bytes of JSON; a whole task may have ${err.limit}`,
    })),
  });
}

const FIELDS = {
  v1: new Set(Object.keys(TaskRequestV1Schema.shape)),
  v0: new Set(Object.keys(TaskRequestV0Schema.shape)),
};

/** Whether a value is stored as it is sent: text, a list of text, a map of text. */
function isTextual(value: unknown): boolean {
  if (typeof value === "string") return true;
  if (value === null || typeof value !== "object") return false;
  for (const v of Array.isArray(value) ? value : Object.values(value)) {
    if (typeof v !== "string") return false;
  }
  return true;
}

/**
 * Refuses, before validation, a body with a textual field (an `env` map, `args`, a
 * `command`) larger than a whole stored task: validating fifty thousand `env` entries
 * costs far more than this look. Fields that validation may shrink (lists of objects,
 * whose unknown keys and `null`s are dropped) and unknown keys are left alone: the
 * store's own check sees what is kept.
 */
export function refuseOversizedFields(body: unknown, legacy: boolean, limit: number): void {
  if (body === null || typeof body !== "object" || Array.isArray(body)) return;
  // Unknown keys are ignored, never stored: only the request's own fields count.
  const known = legacy ? FIELDS.v0 : FIELDS.v1;
  const over = Object.entries(body)
    .filter(([key, value]) => known.has(key) && isTextual(value))
    .map(([path, value]) => ({ path, bytes: JSON.stringify(value).length }))
    .filter((f) => f.bytes > limit);
  if (over.length === 0) return;
  throw new HttpError(413, {
    error: "task too large",
    message: `Task is too large to store: ${
      over.map((f) => f.path).join(", ")
    } over ${limit} bytes`,
    details: over.map(({ path, bytes }) => ({
      path,
      problem: `is ${bytes} bytes of JSON; a whole task may have ${limit}`,
    })),
  });
}

/** `follow=1` (or `true`, or present without a value) asks for a live stream. */
function isFollow(param: string | undefined): boolean {
  return param !== undefined && param !== "0" && param.toLowerCase() !== "false";
}

/** Builds the task routes of one API version. */
export function taskRoutes(version: "v1" | "v0", deps: TaskRoutesDeps) {
  const { store, control, clock } = deps;
  const legacy = version === "v0";
  const view: (t: TaskRecord) => object = legacy ? toTaskV0 : toTaskV1;
  const base = legacy ? "/task" : "/api/v1/task";
  const app = new Hono<ApiEnv>();
  /** Serialized list pages, by the page the store returned (see the list route). */
  const listBodies = new WeakMap<readonly TaskRecord[], string>();

  if (legacy) {
    app.use("*", async (c, next) => {
      await next();
      c.res.headers.append("warning", "299 - 'Deprecated API'");
    });
  }

  app.post("/", async (c) => {
    c.set("handler", "AddTask");
    const bytes = await readBody(c.req.raw, { timeout: deps.bodyTimeout });
    const body = parseJsonBody(bytes);
    // Only a body larger than a stored task can hold a field too large to store.
    if (bytes.length > MAX_RECORD_BYTES) refuseOversizedFields(body, legacy, MAX_RECORD_BYTES);
    const parsed = legacy ? parseTaskRequestV0(body) : parseTaskRequestV1(body);
    if (!parsed.ok) {
      const summary = parsed.problems.map((p) => `${p.path} ${p.problem}`).join("; ");
      throw new HttpError(422, {
        error: "invalid task",
        message: `Task is invalid: ${summary}`,
        details: parsed.problems,
      });
    }
    const key = c.req.header("idempotency-key");
    if (key !== undefined && (key === "" || key.length > MAX_IDEMPOTENCY_KEY)) {
      throw new HttpError(422, {
        error: "invalid header",
        message: "Idempotency-Key must be 1-255 characters",
        details: [{ path: "Idempotency-Key", problem: "must be 1-255 characters" }],
      });
    }
    if (deps.queueSize > 0 && (await store.countTasks()).queued >= deps.queueSize) {
      throw new HttpError(503, { error: "task queue is full", message: "Unable to schedule task" });
    }
    const record = newTaskRecord(parsed.request, { uuid: deps.newId(), now: clock.now() });
    let result;
    try {
      result = await store.createTask(
        record,
        key === undefined ? {} : { idempotencyKey: key, fingerprint: await sha256Hex(bytes) },
      );
    } catch (e) {
      if ((e as Error).name === "ConflictError") {
        throw new HttpError(422, {
          error: "idempotency key reused",
          message: (e as Error).message,
          details: [{ path: "Idempotency-Key", problem: "was used before with a different body" }],
        });
      }
      if (e instanceof TooLargeError) throw tooLargeTask(e, body);
      throw e;
    }
    if (result.created) {
      deps.metrics?.tasksCreated.inc();
      deps.metrics?.queueSize.inc();
      control.taskCreated(result.task);
    }
    // Headers set on the response's own (cheaper than a `Headers` built and copied).
    const res = json(result.task.id, 202);
    const headers = res.headers;
    headers.set("location", taskLocation(c.req.raw, deps.urlPrefix, `${base}/${result.task.id}`));
    if (parsed.unknownKeys.length > 0) {
      headers.append("warning", unknownKeysWarning(parsed.unknownKeys));
    }
    return res;
  });

  app.get("/", async (c) => {
    c.set("handler", "ListRunningTasks");
    const q = c.req.query();
    const limit = parseLimit(q.limit);
    let page;
    try {
      page = await store.listTasks({
        states: parseStates(q.state),
        name: q.name === undefined || q.name === "" ? undefined : q.name,
        label: parseLabel(q.label),
        limit,
        cursor: q.cursor || null,
      });
    } catch (e) {
      // A cursor this server did not make: a client error like every bad query parameter.
      if (!(e instanceof RangeError)) throw e;
      throw new HttpError(422, {
        error: "invalid query parameter",
        message: "Unable to parse query params",
        details: [{ path: "cursor", problem: "was not returned by this server" }],
      });
    }
    const headers = new Headers();
    if (page.cursor) {
      headers.set("x-next-cursor", page.cursor);
      const next = new URL(c.req.url);
      next.searchParams.set("cursor", page.cursor);
      headers.set("link", `<${deps.urlPrefix}${base}${next.search}>; rel="next"`);
    }
    // A page the store shares between requests (its list cache) is serialized once.
    let body = listBodies.get(page.tasks);
    if (body === undefined) {
      body = JSON.stringify(page.tasks.map((t) => view(t))) + "\n";
      if (Object.isFrozen(page.tasks[0] ?? {})) listBodies.set(page.tasks, body);
    }
    headers.set("content-type", JSON_TYPE);
    return new Response(body, { status: 200, headers });
  });

  const taskView = taskViewResponder(store, version);
  app.get("/:id", async (c) => {
    c.set("handler", "Status");
    const id = c.req.param("id");
    return isPlausibleId(id) ? await taskView(id) : json(null, 404);
  });

  const streams = legacy ? undefined : deps.streams;
  if (streams) {
    app.get("/:id/events", async (c) => {
      c.set("handler", "TaskEvents");
      const id = c.req.param("id");
      if (!isPlausibleId(id)) return json(null, 404);
      return await streams.taskEvents(c.req.raw, id);
    });
  }

  for (const file of ["stdout", "stderr"] as const) {
    app.get(`/:id/${file}`, async (c) => {
      c.set("handler", file.toUpperCase());
      const id = c.req.param("id");
      if (streams && isFollow(c.req.query("follow"))) {
        c.set("handler", `${file.toUpperCase()}Follow`);
        if (!isPlausibleId(id)) return json(null, 404);
        return await streams.followOutput(c.req.raw, id, file);
      }
      const task = isPlausibleId(id) ? await store.getTask(id) : null;
      if (!task || !task.agent_id || !deps.sandbox) {
        return new Response(null, {
          status: 204,
          headers: { "content-type": "application/json; charset=UTF-8" },
        });
      }
      const offset = c.req.query("offset");
      const length = c.req.query("length");
      const num = (name: string, v: string | undefined) => {
        if (v === undefined || v === "") return undefined;
        const n = Number(v);
        if (!Number.isInteger(n) || n < 0) {
          throw new HttpError(422, {
            error: "invalid query parameter",
            message: "Unable to parse query params",
            details: [{ path: name, problem: "must be a non-negative integer" }],
          });
        }
        return n;
      };
      return await deps.sandbox.read(task, file, {
        offset: num("offset", offset),
        length: num("length", length),
      });
    });
  }

  app.post("/:id/kill", async (c) => {
    c.set("handler", "Kill");
    const id = c.req.param("id");
    if (!isPlausibleId(id)) return json(null, 404);
    const outcome = await control.killTask(id);
    switch (outcome) {
      case "not_found":
        return json(null, 404);
      case "terminal":
        throw new HttpError(409, {
          error: "you can not kill that which is already dead",
          message: `Cannot kill task "${id}": it has already finished`,
        });
      default:
        return json("", 202);
    }
  });

  app.delete("/:id", async (c) => {
    c.set("handler", "Delete");
    const id = c.req.param("id");
    const task = isPlausibleId(id) ? await store.getTask(id) : null;
    if (!task) return json(null, 404);
    const state = stateOf(task);
    if (!isTerminal(state)) {
      return json(
        `Cannot delete the task [${id}]. As it is still ${
          state === "TASK_RUNNING" ? "running" : `in state ${state}: kill it first`
        }.`,
        409,
      );
    }
    await store.deleteTask(id);
    return json("", 202);
  });

  return app;
}
