/**
 * Helpers for the cross-cutting tests: the real server in this process on a free
 * loopback port, the real program as a child process, and small HTTP conveniences.
 *
 * ```ts
 * import { startTestServer } from "./_helpers.ts";
 * await using server = await startTestServer({ flags: ["--url-prefix", "/p"] });
 * const res = await fetch(`${server.url}/api/v1/version`);
 * ```
 *
 * @module
 */
import { type RunningServer, startServer } from "../src/cli/serve.ts";
import { type Config, resolveConfig } from "../src/config/mod.ts";
import { collectingLogger, type LogEntry, type Logger } from "../src/runtime.ts";

/** The repository root (where `main.ts` and `deno.json` live). */
export const REPO_ROOT: string = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** The seed README's example body (reference §11 E1). */
export const SEED_BODY = { mem: 22.0, cpu: 1.0, image: "busybox", command: "echo $(date)" };

export interface TestServerOptions {
  /** `memory` (default) or `kv` in a fresh temp dir, removed on shutdown. */
  driver?: "memory" | "kv";
  /** Extra command-line flags, e.g. `["--http-credentials", "u:p"]`. */
  flags?: string[];
  /** Environment variables as the config sees them (the real environment is not read). */
  env?: Record<string, string>;
  /** Where log entries go; a fresh `collectingLogger()` by default. */
  logger?: Logger & { entries?: LogEntry[] };
}

/** An in-process server listening on 127.0.0.1. */
export interface TestServer extends AsyncDisposable {
  /** e.g. `http://127.0.0.1:40123` */
  url: string;
  config: Config;
  /** The log entries, when the logger collects them. */
  logs: LogEntry[];
  shutdown(): Promise<void>;
}

/**
 * Runs the real server (`startServer()` of `eremetic serve`) in this process on
 * 127.0.0.1, port 0, with a configuration resolved from defaults, `env` and `flags`.
 */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const { driver = "memory", flags = [], env = {} } = options;
  const logger = options.logger ?? collectingLogger();
  const dir = driver === "kv" ? await Deno.makeTempDir({ prefix: "eremetic-test-" }) : null;
  const { config } = resolveConfig({
    env,
    flags: [
      "--address",
      "127.0.0.1",
      "--port",
      "0",
      "--database-driver",
      driver,
      ...(dir ? ["--database", `${dir}/eremetic.kv`] : []),
      ...flags,
    ],
  });
  let server: RunningServer;
  try {
    server = await startServer(config, logger);
  } catch (e) {
    if (dir) await Deno.remove(dir, { recursive: true });
    throw e;
  }
  let stopped: Promise<void> | null = null;
  const shutdown = () =>
    stopped ??= (async () => {
      await server.shutdown();
      if (dir) await Deno.remove(dir, { recursive: true });
    })();
  return {
    url: server.url,
    config,
    logs: logger.entries ?? [],
    shutdown,
    [Symbol.asyncDispose]: shutdown,
  };
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

export interface SpawnServerOptions {
  /** The Deno KV database file. */
  dbPath: string;
  /** Default: a free port. */
  port?: number;
  /** Added to the inherited environment. */
  env?: Record<string, string>;
  /** Extra `serve` flags. */
  flags?: string[];
  /** How long to wait for `/api/v1/health`; default 60 s (a cold start compiles nothing, but CI is slow). */
  readyTimeoutMs?: number;
}

/** `eremetic serve` running as a child process. */
export interface SpawnedServer extends AsyncDisposable {
  url: string;
  port: number;
  pid: number;
  /** What the process wrote to stderr so far (its log). */
  stderr(): string;
  /** What the process wrote to stdout so far. */
  stdout(): string;
  /** Sends a signal (default SIGKILL) and waits for the exit; idempotent. */
  kill(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

/**
 * Starts `deno run -A main.ts serve` on 127.0.0.1 with a KV database at `dbPath`,
 * waits until `/api/v1/health` answers, and returns a handle that can SIGKILL it.
 */
export async function spawnServer(options: SpawnServerOptions): Promise<SpawnedServer> {
  // A free port can be taken by someone else before the child binds it: try another.
  for (let attempt = 1;; attempt++) {
    try {
      return await spawnOnce(options, options.port ?? freePort());
    } catch (e) {
      if (options.port !== undefined || attempt === 3 || !(e instanceof SpawnExitError)) throw e;
    }
  }
}

class SpawnExitError extends Error {
  override name = "SpawnExitError";
}

async function spawnOnce(options: SpawnServerOptions, port: number): Promise<SpawnedServer> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `${REPO_ROOT}/main.ts`,
      "serve",
      "--address",
      "127.0.0.1",
      "--port",
      String(port),
      "--database-driver",
      "kv",
      "--database",
      options.dbPath,
      "--loglevel",
      "warn",
      ...(options.flags ?? []),
    ],
    cwd: REPO_ROOT,
    env: options.env ?? {},
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Drain both pipes at once so a chatty child never blocks on a full pipe.
  const stderr = collectText(child.stderr);
  const stdout = collectText(child.stdout);
  const drained = Promise.all([stderr.done, stdout.done]);
  let exited: Deno.CommandStatus | null = null;
  const status = child.status.then((s) => (exited = s));
  let killing: Promise<Deno.CommandStatus> | null = null;
  const kill = (signal: Deno.Signal = "SIGKILL") =>
    killing ??= (async () => {
      if (exited === null) {
        try {
          child.kill(signal);
        } catch {
          // Already gone.
        }
      }
      const s = await status;
      await drained;
      return s;
    })();
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  while (true) {
    if (exited !== null) {
      await kill();
      throw new SpawnExitError(
        `Cannot start the server: it exited with code ${
          (exited as Deno.CommandStatus).code
        }\n${stderr.text()}`,
      );
    }
    try {
      const res = await fetch(`${url}/api/v1/health`);
      await res.body?.cancel();
      if (res.status === 200) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await kill();
      throw new Error(`Cannot start the server: no health answer on ${url}\n${stderr.text()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    port,
    pid: child.pid,
    stderr: stderr.text,
    stdout: stdout.text,
    kill,
    [Symbol.asyncDispose]: async () => void await kill(),
  };
}

/**
 * Reads a child's output stream as text from now on, so a chatty child never blocks
 * on a full pipe: `text()` is what arrived so far, `done` settles at the end.
 */
export function collectText(
  stream: ReadableStream<Uint8Array>,
): { text(): string; done: Promise<void> } {
  let text = "";
  const done = stream.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (chunk) => void (text += chunk) }),
  ).catch(() => {});
  return { text: () => text, done };
}

/** A temp directory removed on dispose: `await using dir = await tempDir()`. */
export async function tempDir(): Promise<AsyncDisposable & { path: string }> {
  const path = await Deno.makeTempDir({ prefix: "eremetic-test-" });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }),
  };
}

/** A response with its body read (as parsed JSON when it is JSON, else text). */
export interface ReadResponse {
  status: number;
  headers: Headers;
  contentType: string;
  text: string;
  /** Parsed JSON, or `undefined` when the body is not JSON. */
  body: unknown;
}

/** Fetches and reads the whole body, so no response is left open. */
export async function request(url: string, init: RequestInit = {}): Promise<ReadResponse> {
  const res = await fetch(url, { redirect: "manual", ...init });
  const text = await res.text();
  let body: unknown = undefined;
  try {
    body = text === "" ? undefined : JSON.parse(text);
  } catch {
    // Not JSON.
  }
  return {
    status: res.status,
    headers: res.headers,
    contentType: res.headers.get("content-type") ?? "",
    text,
    body,
  };
}

/** POSTs a JSON value (or a raw string) to a path of `base`. */
export function postJson(
  base: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<ReadResponse> {
  return request(`${base}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/**
 * Sends one HTTP/1.1 request over a plain TCP connection, for headers `fetch` will not
 * send (it replaces `Host`). The body is returned as text; chunked bodies are decoded
 * (ASCII bodies only: chunk sizes are counted in characters).
 */
export async function rawRequest(
  base: string,
  { method = "GET", path = "/", headers = {}, body = "" }: {
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string;
  },
): Promise<ReadResponse> {
  const { hostname, port } = new URL(base);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  const payload = new TextEncoder().encode(body);
  const lines = [`${method} ${path} HTTP/1.1`];
  const all: Record<string, string> = {
    connection: "close",
    "content-length": String(payload.length),
    ...headers,
  };
  if (!Object.keys(headers).some((k) => k.toLowerCase() === "host")) {
    all.host = `${hostname}:${port}`;
  }
  for (const [k, v] of Object.entries(all)) lines.push(`${k}: ${v}`);
  const head = new TextEncoder().encode(lines.join("\r\n") + "\r\n\r\n");
  const out = new Uint8Array(head.length + payload.length);
  out.set(head);
  out.set(payload, head.length);
  let written = 0;
  while (written < out.length) written += await conn.write(out.subarray(written));
  const chunks: Uint8Array[] = [];
  for await (const chunk of conn.readable) chunks.push(chunk);
  const text = new TextDecoder().decode(
    chunks.reduce((a, c) => {
      const n = new Uint8Array(a.length + c.length);
      n.set(a);
      n.set(c, a.length);
      return n;
    }, new Uint8Array()),
  );
  const split = text.indexOf("\r\n\r\n");
  const [statusLine, ...headerLines] = text.slice(0, split).split("\r\n");
  const resHeaders = new Headers();
  for (const line of headerLines) {
    const colon = line.indexOf(":");
    resHeaders.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  let resBody = text.slice(split + 4);
  if (resHeaders.get("transfer-encoding") === "chunked") {
    let decoded = "";
    let rest = resBody;
    while (true) {
      const eol = rest.indexOf("\r\n");
      const size = parseInt(rest.slice(0, eol), 16);
      if (!size) break;
      decoded += rest.slice(eol + 2, eol + 2 + size);
      rest = rest.slice(eol + 2 + size + 2);
    }
    resBody = decoded;
  }
  let parsed: unknown = undefined;
  try {
    parsed = resBody === "" ? undefined : JSON.parse(resBody);
  } catch {
    // Not JSON.
  }
  return {
    status: Number(statusLine.split(" ")[1]),
    headers: resHeaders,
    contentType: resHeaders.get("content-type") ?? "",
    text: resBody,
    body: parsed,
  };
}
