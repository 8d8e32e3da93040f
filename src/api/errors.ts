/**
 * The one mapping from errors to HTTP responses, and the JSON helpers every
 * route uses (original conventions: `application/json; charset=UTF-8`, body
 * followed by a newline).
 *
 * @module
 */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Logger } from "../runtime.ts";
import {
  ConflictError,
  NotFoundError,
  StoreUnavailableError,
  TooLargeError,
} from "../store/mod.ts";
import type { Problem } from "../task/mod.ts";

export const JSON_TYPE = "application/json; charset=UTF-8";

/** The original's error document, with `details` naming each offending field. */
export interface ErrorDocument {
  error: string;
  message: string;
  details?: Problem[];
}

/** An error that carries its HTTP status and document. */
export class HttpError extends Error {
  override name = "HttpError";
  constructor(
    readonly status: ContentfulStatusCode,
    readonly document: ErrorDocument,
    readonly headers: Record<string, string> = {},
  ) {
    super(document.message);
  }
}

/**
 * The headers of a JSON response, one object for every response: `Response` copies
 * the headers it is given, and copying a record it has seen costs a third of building
 * one (measured, `docs/benchmarks.md`). Never mutated.
 */
export const JSON_HEADERS: Readonly<Record<string, string>> = { "content-type": JSON_TYPE };

/** A JSON response in the original's format. */
export function json(value: unknown, status = 200, headers?: HeadersInit): Response {
  const body = JSON.stringify(value) + "\n";
  if (headers === undefined) return new Response(body, { status, headers: JSON_HEADERS });
  // A `Headers` given is used as it is: copying one costs more than building the response.
  const h = headers instanceof Headers ? headers : new Headers(headers);
  h.set("content-type", JSON_TYPE);
  return new Response(body, { status, headers: h });
}

/** Seconds a client is told to wait (`Retry-After`) when the store cannot take a write. */
export const STORE_RETRY_AFTER_SECONDS = 1;

/** The status an error maps to. */
export function toStatus(err: unknown): ContentfulStatusCode {
  if (err instanceof HttpError) return err.status;
  if (err instanceof NotFoundError) return 404;
  if (err instanceof ConflictError) return 409;
  if (err instanceof TooLargeError) return 413;
  if (err instanceof RangeError) return 400;
  if (err instanceof StoreUnavailableError) return 503;
  return 500;
}

/** The error document of an error; 5xx never reveal internals beyond the message. */
export function toDocument(err: unknown, status: number): ErrorDocument {
  if (err instanceof HttpError) return err.document;
  const message = err instanceof Error ? err.message : String(err);
  if (status === 500) return { error: "internal error", message: "Internal server error" };
  if (err instanceof StoreUnavailableError) return { error: "store unavailable", message };
  return { error: (err as Error)?.name ?? "error", message };
}

/** `app.onError`: 4xx are answered, 5xx are logged once. */
export function errorHandler(logger: Logger) {
  return function onError(err: Error, c: Context): Response {
    const status = toStatus(err);
    if (status >= 500) {
      logger.error("Request failed", {
        method: c.req.method,
        path: c.req.path,
        status,
        error: err.message,
      });
    }
    // The store failing (disk full, read-only, ZooKeeper away) is temporary: try again soon.
    const headers = err instanceof HttpError
      ? err.headers
      : err instanceof StoreUnavailableError
      ? { "retry-after": String(STORE_RETRY_AFTER_SECONDS) }
      : {};
    return json(toDocument(err, status), status, headers);
  };
}
