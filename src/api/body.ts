/**
 * Reading request bodies with a size limit and a time limit.
 *
 * @module
 */
import type { Timers } from "../runtime.ts";
import { HttpError } from "./errors.ts";

/** The original reads at most 1 MiB of a body. */
export const MAX_BODY_BYTES = 1_048_576;

/** How long a body may take to arrive, on the app's timers. */
export interface BodyTimeout {
  ms: number;
  timers: Timers;
}

export interface ReadBodyOptions {
  /** Bytes beyond which the answer is 413; default {@linkcode MAX_BODY_BYTES}. */
  limit?: number;
  /**
   * Without it a client that sends headers and then trickles or withholds the body
   * holds the request (and what it sent so far) for as long as it likes.
   */
  timeout?: BodyTimeout | null;
}

/** Thrown inside the reader when the body's time is up. */
class BodyTimedOut extends Error {}

/** A body read under way: when it is due, and how to end it. */
interface Deadline {
  due: number;
  expire: () => void;
}

/**
 * The body reads under way with one `BodyTimeout`, oldest first, and one coarse timer for
 * the oldest: a read costs an entry in a set, not a timer, a second promise and a race of
 * its own (~2 KB of garbage per `POST` before, `docs/benchmarks.md`).
 */
class Deadlines {
  #pending = new Set<Deadline>();
  #armed = false;
  constructor(readonly timeout: BodyTimeout) {}

  add(expire: () => void): Deadline {
    const d = { due: this.timeout.timers.clock.now() + this.timeout.ms, expire };
    this.#pending.add(d);
    if (!this.#armed) this.#arm(d.due);
    return d;
  }

  delete(d: Deadline) {
    this.#pending.delete(d); // the timer, if it was this one's, finds the next one
  }

  #arm(due: number) {
    this.#armed = true;
    this.timeout.timers.coarse(due - this.timeout.timers.clock.now(), () => this.#fire());
  }

  #fire() {
    this.#armed = false;
    const now = this.timeout.timers.clock.now();
    for (const d of this.#pending) {
      if (d.due > now) return this.#arm(d.due);
      this.#pending.delete(d);
      d.expire();
    }
  }
}

const deadlines = new WeakMap<BodyTimeout, Deadlines>();

function deadlinesOf(timeout: BodyTimeout): Deadlines {
  let d = deadlines.get(timeout);
  if (d === undefined) deadlines.set(timeout, d = new Deadlines(timeout));
  return d;
}

/**
 * Reads the whole body, answering 413 beyond `limit` bytes (at once when the declared
 * `Content-Length` says so, else as soon as the bytes read pass it), 408 when it has not
 * all arrived within `timeout`, and 503 when it cannot be read to its end: the client's
 * connection failed, or the server is stopping (Deno cancels reads of unfinished bodies
 * then; the client can send the request again).
 */
export async function readBody(
  req: Request,
  { limit = MAX_BODY_BYTES, timeout = null }: ReadBodyOptions = {},
): Promise<Uint8Array> {
  const declared = Number(req.headers.get("content-length") ?? "NaN");
  if (declared > limit) throw tooLarge(limit);
  try {
    return await readWholeBody(
      req,
      declared,
      limit,
      timeout && timeout.ms > 0 ? deadlinesOf(timeout) : null,
    );
  } catch (e) {
    if (e instanceof HttpError) throw e;
    if (e instanceof BodyTimedOut) throw tooSlow(timeout!.ms);
    throw new HttpError(503, {
      error: "request body not received",
      message: "Cannot read the request body: the connection failed or the server is stopping",
    }, { connection: "close" });
  }
}

async function readWholeBody(
  req: Request,
  declared: number,
  limit: number,
  deadlines: Deadlines | null,
): Promise<Uint8Array> {
  // With a declared length the server frames the body to it: read it in one go. Not
  // through `req.body` (absent body: an empty buffer): on a served request that getter
  // builds a `ReadableStream`, and reading through it cost ~20 µs of CPU per request more
  // than `arrayBuffer()` taking the received body whole (docs/benchmarks.md).
  if (Number.isInteger(declared)) {
    const whole = req.arrayBuffer();
    if (!deadlines) return new Uint8Array(await whole);
    // The read left behind when the time is up fails when the connection closes (the
    // 408 says `close`).
    return new Uint8Array(
      await new Promise<ArrayBuffer>((resolve, reject) => {
        const d = deadlines.add(() => reject(new BodyTimedOut()));
        whole.then((b) => {
          deadlines.delete(d);
          resolve(b);
        }, (e) => {
          deadlines.delete(d);
          reject(e);
        });
      }),
    );
  }
  if (!req.body) return new Uint8Array();
  const reader = req.body.getReader();
  let timedOut = false;
  // Cancelling ends the pending read (it resolves as done), so the loop below stops.
  const d = deadlines?.add(() => {
    timedOut = true;
    reader.cancel().catch(() => {});
  });
  try {
    const chunks: Uint8Array[] = [];
    let size = 0;
    while (true) {
      const { done, value } = await reader.read();
      if (timedOut) throw new BodyTimedOut();
      if (done) break;
      size += value.length;
      if (size > limit) {
        await reader.cancel();
        throw tooLarge(limit);
      }
      chunks.push(value);
    }
    return concat(chunks, size);
  } finally {
    if (d) deadlines!.delete(d);
  }
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
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
    details: [{ path: "(body)", problem: `must be at most ${limit} bytes` }],
  });
}

function tooSlow(ms: number): HttpError {
  return new HttpError(408, {
    error: "request timeout",
    message: `Request body did not arrive within ${ms / 1000} s`,
    details: [{ path: "(body)", problem: `must arrive within ${ms / 1000} s` }],
  }, { connection: "close" });
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/** Nesting deeper than this is refused: a task request nests three levels. */
export const MAX_JSON_DEPTH = 64;

/**
 * Bodies up to this size are parsed without a depth scan: JSON.parse time grows faster
 * than linearly with nesting (a 1 MiB body of `[` takes a second or more), but a small
 * body cannot nest deep enough to matter, and the submit path stays as it is.
 */
const DEPTH_SCAN_MIN_BYTES = 16_384;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACKET = 0x5d;
const CLOSE_BRACE = 0x7d;

/** Whether JSON text nests deeper than `max` (brackets inside strings do not count). */
export function nestsDeeperThan(bytes: Uint8Array, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (inString) {
      if (b === BACKSLASH) i++;
      else if (b === QUOTE) inString = false;
    } else if (b === QUOTE) {
      inString = true;
    } else if (b === OPEN_BRACKET || b === OPEN_BRACE) {
      if (++depth > max) return true;
    } else if (b === CLOSE_BRACKET || b === CLOSE_BRACE) {
      depth--;
    }
  }
  return false;
}

/**
 * Parses a body as JSON whatever its `Content-Type` (the original `hermit`
 * sends none). Malformed JSON is a 422, as in the original; so is JSON nested deeper
 * than {@linkcode MAX_JSON_DEPTH}, refused before it is parsed. The decoder's own
 * message is not passed on: V8 quotes the body around the error, and a body may hold
 * `masked_env` values.
 */
export function parseJsonBody(bytes: Uint8Array): unknown {
  if (bytes.length > DEPTH_SCAN_MIN_BYTES && nestsDeeperThan(bytes, MAX_JSON_DEPTH)) {
    throw new HttpError(422, {
      error: "request body nested too deeply",
      message: "Unable to parse body into a valid request.",
      details: [{ path: "(body)", problem: `must not nest deeper than ${MAX_JSON_DEPTH} levels` }],
    });
  }
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
