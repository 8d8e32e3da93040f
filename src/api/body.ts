/**
 * Reading request bodies with a size limit.
 *
 * @module
 */
import { HttpError } from "./errors.ts";

/** The original reads at most 1 MiB of a body. */
export const MAX_BODY_BYTES = 1_048_576;

/**
 * Reads the whole body, answering 413 beyond `limit` bytes, and 503 when the body cannot
 * be read to its end: the client's connection failed, or the server is stopping (Deno
 * cancels reads of unfinished bodies then; the client can send the request again).
 */
export async function readBody(req: Request, limit = MAX_BODY_BYTES): Promise<Uint8Array> {
  try {
    return await readWholeBody(req, limit);
  } catch (e) {
    if (e instanceof HttpError) throw e;
    throw new HttpError(503, {
      error: "request body not received",
      message: "Cannot read the request body: the connection failed or the server is stopping",
    }, { connection: "close" });
  }
}

async function readWholeBody(req: Request, limit: number): Promise<Uint8Array> {
  const declared = Number(req.headers.get("content-length") ?? "NaN");
  if (declared > limit) throw tooLarge(limit);
  // With a declared length the server frames the body to it: read it in one go. Not
  // through `req.body` (absent body: an empty buffer): on a served request that getter
  // builds a `ReadableStream`, and reading through it cost ~20 µs of CPU per request more
  // than `arrayBuffer()` taking the received body whole (docs/benchmarks.md).
  if (Number.isInteger(declared)) return new Uint8Array(await req.arrayBuffer());
  if (!req.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = req.body.getReader();
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) {
      await reader.cancel();
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function tooLarge(limit: number): HttpError {
  return new HttpError(413, {
    error: "request body too large",
    message: `Request body is larger than ${limit} bytes`,
  });
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Parses a body as JSON whatever its `Content-Type` (the original `hermit`
 * sends none). Malformed JSON is a 422, as in the original. The decoder's own message
 * is not passed on: V8 quotes the body around the error, and a body may hold
 * `masked_env` values.
 */
export function parseJsonBody(bytes: Uint8Array): unknown {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw unparsable("body is not valid UTF-8");
  }
  try {
    return JSON.parse(text);
  } catch {
    throw unparsable("body is not valid JSON");
  }
}

function unparsable(error: string): HttpError {
  return new HttpError(422, {
    error,
    message: "Unable to parse body into a valid request.",
    details: [{ path: "(body)", problem: "must be valid UTF-8 JSON" }],
  });
}
