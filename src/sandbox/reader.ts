/**
 * Reads a task's `stdout`/`stderr` from its Mesos agent's files API
 * (`/files/download` for the whole file, `/files/read` for ranges), finding the
 * executor directory in the agent's `/state` when the record has none.
 *
 * @module
 */
import { type Logger, Timers } from "../runtime.ts";
import type { TaskRecord } from "../task/mod.ts";
import { maskStream, maskWindow, secretsOf } from "./mask.ts";

export const DEFAULT_SANDBOX_TIMEOUT_MS = 10_000;
/** The most bytes one ranged read returns (the agent serves 64 KiB per `/files/read`; we loop). */
export const MAX_SANDBOX_RANGE_BYTES = 1024 * 1024;

const JSON_TYPE = "application/json; charset=UTF-8";
const TEXT_TYPE = "text/plain; charset=UTF-8";

/** The agent could not be reached or did not answer in time. */
export class AgentUnavailableError extends Error {
  override name = "AgentUnavailableError";
}

/** The agent answered with an unexpected status or body. */
export class AgentResponseError extends Error {
  override name = "AgentResponseError";
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

export interface SandboxReaderOptions {
  fetch?: typeof fetch;
  logger: Logger;
  /** Per agent request (until its headers arrive); default 10 s. */
  timeoutMs?: number;
  /** Upper bound of one ranged answer; default 1 MiB. */
  maxRangeBytes?: number;
  /** Arms the request timeouts; default: timers on the system clock. */
  timers?: Timers;
}

/** What `read()` may be asked for. */
export interface SandboxRange {
  /** Byte offset; absent with `length` = the last `length` bytes (tail). */
  offset?: number;
  /** Bytes wanted; absent = to the end of the file (at most `maxRangeBytes`). */
  length?: number;
  /**
   * Following a file still written: stop before trailing bytes that may begin one
   * of the task's masked values (they come once the value is complete or ruled out).
   */
  hold?: boolean;
}

/** Reads sandbox files of tasks; the shape `src/api` expects (`SandboxReader`). */
export interface SandboxReader {
  read(task: TaskRecord, file: "stdout" | "stderr", range: SandboxRange): Promise<Response>;
}

export interface FindSandboxOptions {
  fetch?: typeof fetch;
  timeoutMs?: number;
  /** Arms the request timeouts; default: timers on the system clock. */
  timers?: Timers;
}

/** Request timeouts of callers that pass no `Timers` (the system clock). */
const systemTimers = new Timers();

/** `http://<agent_ip>:<agent_port>` of a launched task, `null` before launch. */
export function agentUrlOf(task: TaskRecord): string | null {
  const host = agentHostPort(task);
  return host === null ? null : `http://${host}`;
}

function agentHostPort(task: TaskRecord): string | null {
  if (!task.agent_ip || !task.agent_port) return null;
  const ip = task.agent_ip.includes(":") && !task.agent_ip.startsWith("[")
    ? `[${task.agent_ip}]`
    : task.agent_ip;
  return `${ip}:${task.agent_port}`;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * GETs `url` and hands the answer to `consume`, aborting when both together take
 * longer than `timeoutMs`. Network failures and timeouts become `AgentUnavailableError`.
 */
async function get<T>(
  fetchFn: typeof fetch,
  timers: Timers,
  url: string,
  timeoutMs: number,
  consume: (res: Response) => Promise<T>,
): Promise<T> {
  const ctrl = new AbortController();
  let timedOut = false;
  const timer = timers.after(timeoutMs, () => {
    timedOut = true;
    ctrl.abort();
  });
  try {
    return await consume(await fetchFn(url, { signal: ctrl.signal }));
  } catch (err) {
    if (timedOut) throw new AgentUnavailableError(`no answer within ${timeoutMs} ms`);
    if (err instanceof AgentResponseError) throw err;
    throw new AgentUnavailableError(describe(err), { cause: err });
  } finally {
    timer.cancel();
  }
}

/** An error naming the agent's status and the start of its answer. */
async function statusError(res: Response, what: string): Promise<AgentResponseError> {
  const detail = (await res.text()).replace(/\s+/g, " ").trim().slice(0, 200);
  return new AgentResponseError(
    `${what} answered ${res.status}${detail ? ` (${detail})` : ""}`,
    res.status,
  );
}

/** The parsed JSON of a 2xx answer; `null` for 404; `AgentResponseError` otherwise. */
async function jsonOrNull(res: Response, what: string): Promise<unknown> {
  if (res.status === 404) {
    await res.body?.cancel();
    return null;
  }
  if (!res.ok) throw await statusError(res, what);
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new AgentResponseError(
      `${what} answered ${res.status} with a body that is not JSON`,
      res.status,
    );
  }
}

interface StateTask {
  id?: string;
}
interface StateExecutor {
  id?: string;
  directory?: string;
  tasks?: StateTask[];
  queued_tasks?: StateTask[];
  completed_tasks?: StateTask[];
}
interface StateFramework {
  id?: string;
  executors?: StateExecutor[];
  completed_executors?: StateExecutor[];
}
interface AgentState {
  frameworks?: StateFramework[];
  completed_frameworks?: StateFramework[];
}

/**
 * The executor directory of a task in an agent's `/state` document: the executor
 * whose id is the task id (command tasks) or whose tasks contain it, searched in
 * running then completed frameworks and executors. `null` when absent.
 */
export function sandboxDirectoryIn(
  state: unknown,
  frameworkId: string,
  mesosTaskId: string,
): string | null {
  const s = (state ?? {}) as AgentState;
  const frameworks = [...(s.frameworks ?? []), ...(s.completed_frameworks ?? [])]
    .filter((f) => !frameworkId || f.id === frameworkId);
  const holds = (list: StateTask[] | undefined) => (list ?? []).some((t) => t.id === mesosTaskId);
  for (const fw of frameworks) {
    for (const ex of [...(fw.executors ?? []), ...(fw.completed_executors ?? [])]) {
      if (
        typeof ex.directory === "string" && ex.directory &&
        (ex.id === mesosTaskId || holds(ex.tasks) || holds(ex.queued_tasks) ||
          holds(ex.completed_tasks))
      ) {
        return ex.directory;
      }
    }
  }
  return null;
}

/**
 * An agent's `/state` document (`/slave(1)/state` on agents that only serve the
 * libprocess path). Throws `AgentUnavailableError` / `AgentResponseError` when the
 * agent fails.
 */
export async function fetchAgentState(
  agentUrl: string,
  {
    fetch: fetchFn = fetch,
    timeoutMs = DEFAULT_SANDBOX_TIMEOUT_MS,
    timers = systemTimers,
  }: FindSandboxOptions = {},
): Promise<unknown> {
  const base = agentUrl.replace(/\/+$/, "");
  const state =
    await get(fetchFn, timers, `${base}/state`, timeoutMs, (res) => jsonOrNull(res, "/state")) ??
      await get(
        fetchFn,
        timers,
        `${base}/slave(1)/state`,
        timeoutMs,
        (res) => jsonOrNull(res, "/state"),
      );
  if (state === null) throw new AgentResponseError("/state answered 404", 404);
  return state;
}

/**
 * Looks up a task's sandbox (executor directory) in the agent's `/state`
 * (see {@linkcode fetchAgentState}, which throws when the agent fails).
 */
export async function findSandboxDirectory(
  agentUrl: string,
  frameworkId: string,
  mesosTaskId: string,
  options: FindSandboxOptions = {},
): Promise<string | null> {
  return sandboxDirectoryIn(await fetchAgentState(agentUrl, options), frameworkId, mesosTaskId);
}

function noContent(): Response {
  return new Response(null, { status: 204, headers: { "content-type": JSON_TYPE } });
}

/** A sandbox reader over the agents' files API. */
export function createSandboxReader(options: SandboxReaderOptions): SandboxReader {
  const {
    fetch: fetchFn = fetch,
    logger,
    timeoutMs = DEFAULT_SANDBOX_TIMEOUT_MS,
    maxRangeBytes = MAX_SANDBOX_RANGE_BYTES,
    timers = systemTimers,
  } = options;
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();

  /** `/files/read` at `offset` for `length` bytes (-1 = to EOF); `null` when the agent says 404. */
  async function readChunk(
    base: string,
    path: string,
    offset: number,
    length: number,
  ): Promise<{ data: string; offset: number } | null> {
    const url = `${base}/files/read?path=${encodeURIComponent(path)}&offset=${offset}` +
      (length >= 0 ? `&length=${length}` : "");
    const body = await get(
      fetchFn,
      timers,
      url,
      timeoutMs,
      (res) => jsonOrNull(res, "/files/read"),
    ) as
      | { data?: unknown; offset?: unknown }
      | null;
    if (body === null) return null;
    if (typeof body?.data !== "string" || typeof body.offset !== "number") {
      throw new AgentResponseError("/files/read answered without data and offset", 200);
    }
    return { data: body.data, offset: body.offset };
  }

  async function readRange(base: string, path: string, range: SandboxRange): Promise<Response> {
    const probe = await readChunk(base, path, -1, -1);
    if (probe === null) return noContent();
    const size = probe.offset;
    const start = range.offset ?? Math.max(0, size - (range.length ?? 0));
    const want = Math.min(range.length ?? Math.max(0, size - start), maxRangeBytes);
    const parts: string[] = [];
    let got = 0;
    while (got < want) {
      const chunk = await readChunk(base, path, start + got, want - got);
      if (chunk === null) return noContent();
      if (chunk.data === "") break;
      parts.push(chunk.data);
      got += encoder.encode(chunk.data).length;
    }
    return new Response(parts.join(""), {
      status: 200,
      headers: {
        "content-type": TEXT_TYPE,
        "x-sandbox-offset": String(start),
        "x-sandbox-size": String(Math.max(size, start + got)),
        "x-sandbox-next-offset": String(start + got),
      },
    });
  }

  async function download(base: string, path: string): Promise<Response> {
    const url = `${base}/files/download?path=${encodeURIComponent(path)}`;
    // Only the headers are awaited under the timeout; the body streams to the client.
    return await get(fetchFn, timers, url, timeoutMs, async (res) => {
      if (res.status === 404) {
        await res.body?.cancel();
        return noContent();
      }
      if (!res.ok) throw await statusError(res, "/files/download");
      return new Response(res.body, { status: 200, headers: { "content-type": TEXT_TYPE } });
    });
  }

  async function readRaw(
    task: TaskRecord,
    file: "stdout" | "stderr",
    range: SandboxRange,
  ): Promise<Response> {
    const hostPort = agentHostPort(task);
    if (hostPort === null) return noContent();
    const base = `http://${hostPort}`;
    try {
      let dir = task.sandbox_path;
      if (!dir) {
        if (!task.mesos_task_id) return noContent();
        dir = await findSandboxDirectory(base, task.framework_id, task.mesos_task_id, {
          fetch: fetchFn,
          timeoutMs,
          timers,
        }) ?? "";
        if (!dir) return noContent();
      }
      const path = `${dir.replace(/\/+$/, "")}/${file}`;
      if (range.offset === undefined && range.length === undefined) {
        return await download(base, path);
      }
      return await readRange(base, path, range);
    } catch (err) {
      if (!(err instanceof AgentUnavailableError || err instanceof AgentResponseError)) throw err;
      const reason = err.message;
      logger.warn(`Cannot read ${file} of task "${task.id}" from agent ${hostPort}`, {
        task_id: task.id,
        agent: hostPort,
        reason,
      });
      const document = {
        error: err instanceof AgentUnavailableError ? "agent unavailable" : "agent error",
        message: `Cannot read ${file} of task "${task.id}" from agent ${hostPort}: ${reason}`,
      };
      return new Response(JSON.stringify(document) + "\n", {
        status: 502,
        headers: { "content-type": JSON_TYPE },
      });
    }
  }

  /**
   * `readRaw` with the task's masked values shown as `*******`: a range is read with
   * a secret's length of context on each side, so a value cut by the range is masked too.
   */
  async function read(
    task: TaskRecord,
    file: "stdout" | "stderr",
    range: SandboxRange,
  ): Promise<Response> {
    const secrets = secretsOf(task);
    if (secrets.length === 0) return await readRaw(task, file, range);
    if (range.offset === undefined && range.length === undefined) {
      const res = await readRaw(task, file, range);
      if (res.status !== 200 || !res.body) return res;
      return new Response(maskStream(res.body, secrets), { status: 200, headers: res.headers });
    }
    const pad = secrets[0].length - 1;
    const { offset, length } = range;
    const contextOffset = offset === undefined ? undefined : Math.max(0, offset - pad);
    const res = await readRaw(task, file, {
      offset: contextOffset,
      length: length === undefined
        ? undefined
        : length + pad + (offset === undefined ? 0 : offset - contextOffset!),
    });
    if (res.status !== 200) return res;
    const context = encoder.encode(await res.text());
    const contextStart = Number(res.headers.get("x-sandbox-offset"));
    const size = Number(res.headers.get("x-sandbox-size"));
    const start = offset ?? Math.max(0, size - (length ?? 0));
    const end = length === undefined ? Infinity : start + length;
    const w = maskWindow(context, contextStart, start, end, secrets, range.hold);
    return new Response(decoder.decode(w.bytes), {
      status: 200,
      headers: {
        "content-type": TEXT_TYPE,
        "x-sandbox-offset": String(start),
        "x-sandbox-size": String(Math.max(size, w.next)),
        "x-sandbox-next-offset": String(w.next),
      },
    });
  }

  return { read };
}
