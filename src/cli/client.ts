/**
 * The HTTP side of the command-line client: the server URL (`EREMETIC_URL`, credentials
 * in it sent as basic auth and never shown), `HERMIT_INSECURE` (no certificate check),
 * typed errors, and the live streams read with the shared SSE parser.
 *
 * @module
 */
import https from "node:https";
import { Readable } from "node:stream";
import { readSse, type SseMessage } from "../events/mod.ts";
import type { Clock } from "../runtime.ts";

/** The original hermit's default server. */
export const DEFAULT_EREMETIC_URL = "http://localhost:8000";

/** A request the server answered with an unexpected status. */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    message: string,
    readonly status: number,
    /** The error document's `message` or the body text, when there is one. */
    readonly detail: string,
  ) {
    super(message);
  }
}

/** The server could not be reached (refused, DNS, TLS, reset). */
export class ConnectionError extends Error {
  override name = "ConnectionError";
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** `EREMETIC_URL` could not be used. */
export class UrlError extends Error {
  override name = "UrlError";
}

/** A fetch-like function; the insecure transport is one too. */
export type Transport = (url: string, init: RequestInit) => Promise<Response>;

export interface ClientOptions {
  /** Skip certificate verification (HERMIT_INSECURE). */
  insecure?: boolean;
  /** Replaces `fetch` (tests). */
  transport?: Transport;
}

/** The server's base URL without credentials, and the Authorization header they make. */
export function parseServerUrl(raw: string): { base: string; authorization?: string } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UrlError(`EREMETIC_URL is not a URL: expected e.g. http://localhost:8000`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UrlError(`EREMETIC_URL must start with http:// or https://, got "${url.protocol}"`);
  }
  let authorization: string | undefined;
  if (url.username || url.password) {
    const user = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    const bytes = new TextEncoder().encode(`${user}:${password}`);
    authorization = `Basic ${btoa(String.fromCharCode(...bytes))}`;
    url.username = "";
    url.password = "";
  }
  const base = url.href.replace(/\/+$/, "");
  return { base, authorization };
}

/** A fetch that does not verify the server's certificate (node:https `rejectUnauthorized`). */
export const insecureTransport: Transport = (url, init) => {
  if (!url.startsWith("https:")) return fetch(url, init);
  return new Promise((resolve, reject) => {
    const headers = new Headers(init.headers);
    const body = typeof init.body === "string" ? init.body : undefined;
    if (body !== undefined) {
      headers.set("content-length", String(new TextEncoder().encode(body).length));
    }
    const req = https.request(url, {
      method: init.method ?? "GET",
      headers: Object.fromEntries(headers),
      rejectUnauthorized: false,
    }, (res) => {
      const status = res.statusCode ?? 500;
      const out = new Headers();
      for (const [k, v] of Object.entries(res.headers)) {
        if (v !== undefined) out.set(k, Array.isArray(v) ? v.join(", ") : String(v));
      }
      const empty = status === 204 || status === 304 || init.method === "HEAD";
      if (empty) res.resume();
      const stream = empty ? null : Readable.toWeb(res) as ReadableStream<Uint8Array>;
      resolve(new Response(stream, { status, statusText: res.statusMessage, headers: out }));
    });
    req.on("error", reject);
    init.signal?.addEventListener("abort", () => req.destroy(), { once: true });
    req.end(body);
  });
};

/** A live stream's event with its data parsed. */
export interface StreamEvent {
  id: string;
  event: string;
  data: unknown;
}

/** Talks to one Eremetic server. */
export class EremeticClient {
  readonly base: string;
  #authorization?: string;
  #transport: Transport;

  constructor(url: string, { insecure = false, transport }: ClientOptions = {}) {
    const { base, authorization } = parseServerUrl(url);
    this.base = base;
    this.#authorization = authorization;
    this.#transport = transport ?? (insecure ? insecureTransport : (u, i) => fetch(u, i));
  }

  /** Sends a request; throws {@linkcode ConnectionError} when there is no answer. */
  async request(
    method: string,
    path: string,
    { body, headers = {}, signal }: {
      body?: string;
      headers?: Record<string, string>;
      signal?: AbortSignal;
    } = {},
  ): Promise<Response> {
    const all: Record<string, string> = { ...headers };
    if (this.#authorization) all.authorization = this.#authorization;
    if (body !== undefined) all["content-type"] = "application/json";
    try {
      return await this.#transport(`${this.base}${path}`, {
        method,
        headers: all,
        body,
        signal,
        redirect: "follow",
      });
    } catch (e) {
      if (signal?.aborted) throw e;
      throw new ConnectionError(`Cannot reach Eremetic at ${this.base}: ${reason(e)}`, {
        cause: e,
      });
    }
  }

  /** A request whose answer must have one of `ok` statuses; returns the body text. */
  async expect(
    method: string,
    path: string,
    ok: readonly number[],
    what: string,
    init: { body?: string; headers?: Record<string, string> } = {},
  ): Promise<{ status: number; text: string; headers: Headers }> {
    const res = await this.request(method, path, init);
    const text = await res.text();
    if (!ok.includes(res.status)) throw apiError(what, res.status, text);
    return { status: res.status, text, headers: res.headers };
  }

  /**
   * The events of an SSE route, reconnecting with `Last-Event-ID` when the connection
   * drops (up to `retries` times in a row). Ends after an `end` event, a 204, or when the
   * server closes a stream that had ended.
   */
  async *stream(
    path: string,
    what: string,
    { clock, signal, retries = 5, retryMs = 500 }: {
      clock: Clock;
      signal?: AbortSignal;
      retries?: number;
      retryMs?: number;
    },
  ): AsyncGenerator<StreamEvent, void, undefined> {
    let lastId = "";
    let failures = 0;
    while (true) {
      let res: Response;
      try {
        res = await this.request("GET", path, {
          headers: { accept: "text/event-stream", ...(lastId ? { "last-event-id": lastId } : {}) },
          signal,
        });
      } catch (e) {
        if (!(e instanceof ConnectionError) || ++failures > retries) throw e;
        await clock.sleep(retryMs * failures, signal);
        continue;
      }
      if (res.status === 204) {
        await res.body?.cancel();
        return;
      }
      if (res.status !== 200 || !res.body) {
        throw apiError(what, res.status, await res.text());
      }
      try {
        for await (const m of readSse(res.body)) {
          failures = 0;
          if (m.id) lastId = m.id;
          yield { id: m.id, event: m.event, data: parseData(m) };
          if (m.event === "end") return;
        }
      } catch (e) {
        if (signal?.aborted) throw e;
        // The connection broke mid-stream: resume after the last event.
      }
      if (++failures > retries) {
        throw new ConnectionError(`Lost the stream of ${what} from ${this.base}`);
      }
      await clock.sleep(retryMs * failures, signal);
    }
  }
}

function parseData(m: SseMessage): unknown {
  try {
    return JSON.parse(m.data);
  } catch {
    return m.data;
  }
}

function reason(e: unknown): string {
  const first = (e instanceof Error ? e.message : String(e)).split("\n")[0];
  // Deno puts the real reason in the cause ("fetch failed" alone says nothing).
  const cause = e instanceof Error && e.cause instanceof Error ? e.cause.message : "";
  const detail = cause
    ? cause.split("\n")[0].replace(/^error sending request for url \([^)]*\): /, "")
    : "";
  return detail || first;
}

/** The error for an unexpected status, with the server's message when it sent one. */
export function apiError(what: string, status: number, text: string): ApiError {
  let detail = text.trim();
  try {
    const doc = JSON.parse(text);
    if (doc && typeof doc === "object" && typeof doc.message === "string") {
      const details = Array.isArray(doc.details)
        ? doc.details.map((d: { path?: string; problem?: string }) => `${d.path}: ${d.problem}`)
        : [];
      detail = details.length > 1 ? `${doc.message} (${details.join("; ")})` : doc.message;
    } else if (typeof doc === "string") detail = doc;
    else if (doc === null) detail = "";
  } catch {
    // Not JSON: keep the text.
  }
  if (detail.length > 300) detail = detail.slice(0, 300) + "…";
  const message = status === 401
    ? `${what}: the server wants credentials (put them in EREMETIC_URL: https://user:password@host)`
    : `${what}: server answered ${status}${detail ? `: ${detail.replaceAll("\n", " ")}` : ""}`;
  return new ApiError(message, status, detail);
}
