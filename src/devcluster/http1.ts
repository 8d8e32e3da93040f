/**
 * A small HTTP/1.1 server for the masters, so the subscription stream is framed
 * exactly as libprocess frames it: one RecordIO record per HTTP chunk. (`Deno.serve`
 * merges whatever a stream has queued into one chunk, and a client that relies on
 * the master's framing would pass against it and fail against a real master.)
 *
 * Handlers get an `Http1Request` (method, target, lower-case headers, the body
 * already read) and answer a `Response`, or a plain `Reply` object where building
 * `Request`/`Headers`/`Response` objects would cost more than the work itself (a
 * scheduler call answered 202); `toRequest()` gives the `Request` the other routes
 * want. Responses marked with `markStreaming()` are sent with
 * `Transfer-Encoding: chunked`, one chunk per stream read, and their stream is
 * cancelled when the client goes away. Supports keep-alive and pipelining (the
 * answers to requests read together leave in one write), `Content-Length` and
 * chunked request bodies, and `Expect: 100-continue` (curl sends it).
 *
 * @module
 */

/** Where a direct body writes: each text or byte array becomes one HTTP chunk. */
export interface DirectSink {
  writeTexts(texts: string[]): void;
  writeBytes(bytes: Uint8Array): void;
  /** Writes the last chunk and closes the connection. */
  end(): void;
}

/** A streaming body that writes into the connection itself, skipping `ReadableStream`. */
export interface DirectBody {
  attach(sink: DirectSink): void;
  /** The client went away. */
  cancel(): void;
}

const STREAMING = new WeakMap<Response, DirectBody | null>();

/**
 * Marks a response whose body must go out chunk by chunk, unbuffered: through
 * `direct` when given (other servers read `res.body`), else one chunk per read.
 */
export function markStreaming(res: Response, direct?: DirectBody): Response {
  STREAMING.set(res, direct ?? null);
  return res;
}

const NON_ASCII_RE = /[\u0080-\uffff]/;

/** UTF-8 byte length of `text` (its length when ASCII, the common case). */
export function utf8Length(text: string): number {
  return NON_ASCII_RE.test(text) ? encoder.encode(text).length : text.length;
}

/** A request as read from the connection, before any `Request` object exists. */
export interface Http1Request {
  /** `POST`, `GET`… */
  readonly method: string;
  /** Path and query (origin form). */
  readonly target: string;
  /** The `Host` header, or the listen address. */
  readonly host: string;
  /** Header values by lower-case name (repeated headers joined by `, `). */
  readonly headers: ReadonlyMap<string, string>;
  /** The body, or null when the request had none. */
  readonly body: Uint8Array | null;
  /** A header's value by lower-case name, or null. */
  header(name: string): string | null;
  /** The body as UTF-8 text ("" without one). */
  text(): string;
  /** The same request as a `Request` (for routes that are not hot). */
  toRequest(): Request;
}

/** An answer without a `Response` object: status, headers (lower-case names) and text. */
export interface Reply {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
}

/** What a handler answers. */
export type Answer = Response | Reply;

class RawRequest implements Http1Request {
  constructor(
    readonly method: string,
    readonly target: string,
    readonly host: string,
    readonly headers: Map<string, string>,
    readonly body: Uint8Array | null,
  ) {}

  header(name: string): string | null {
    return this.headers.get(name) ?? null;
  }

  text(): string {
    return this.body ? decoder.decode(this.body) : "";
  }

  toRequest(): Request {
    const hasBody = this.body !== null && this.method !== "GET" && this.method !== "HEAD";
    return new Request(`http://${this.host}${this.target}`, {
      method: this.method,
      headers: [...this.headers],
      body: hasBody ? this.body as Uint8Array<ArrayBuffer> : undefined,
    });
  }
}

/** A running server. */
export interface Http1Server {
  readonly port: number;
  /** Stops listening, closes every connection and waits for their handlers. */
  shutdown(): Promise<void>;
  /**
   * Stops listening at once and closes idle connections; a connection in the
   * middle of a request closes once its answer is written. Does not wait
   * (`shutdown()` afterwards waits for those answers).
   */
  close(): void;
}

/** Options of `serveHttp1`. */
export interface ServeHttp1Options {
  hostname: string;
  port: number;
  /** The largest request body accepted (413 beyond); default 64 MiB. */
  maxBodyBytes?: number;
}

const MAX_HEAD_BYTES = 64 * 1024;
const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const latin1 = new TextDecoder("latin1");
const REASONS: Record<number, string> = {
  100: "Continue",
  200: "OK",
  202: "Accepted",
  204: "No Content",
  307: "Temporary Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  413: "Payload Too Large",
  415: "Unsupported Media Type",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
};

class BadRequest extends Error {
  constructor(message: string, readonly status = 400) {
    super(message);
    this.name = "BadRequest";
  }
}

/** Buffered reads from a connection, into one reused buffer. */
class ConnReader {
  #conn: Deno.Conn;
  #buf = new Uint8Array(65536);
  #start = 0;
  #end = 0;
  #eof = false;
  /** Called before each read from the socket (the server flushes its answers there). */
  beforeRead: (() => Promise<void>) | null = null;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  async #fill(): Promise<boolean> {
    if (this.#eof) return false;
    if (this.beforeRead) await this.beforeRead();
    if (this.#start === this.#end) this.#start = this.#end = 0;
    if (this.#end === this.#buf.length) {
      const used = this.#end - this.#start;
      if (this.#start > 0) this.#buf.copyWithin(0, this.#start, this.#end);
      else {
        const bigger = new Uint8Array(this.#buf.length * 2);
        bigger.set(this.#buf);
        this.#buf = bigger;
      }
      this.#start = 0;
      this.#end = used;
    }
    let n: number | null;
    try {
      n = await this.#conn.read(this.#buf.subarray(this.#end));
    } catch {
      n = null;
    }
    if (n === null) {
      this.#eof = true;
      return false;
    }
    this.#end += n;
    return true;
  }

  /** Index of CRLF (or CRLFCRLF) at or after `from` within the bytes held, or -1. */
  #find(from: number, blank: boolean): number {
    const b = this.#buf;
    const last = this.#end - (blank ? 3 : 1);
    for (let i = from; i < last; i++) {
      if (b[i] !== 13 || b[i + 1] !== 10) continue;
      if (!blank || (b[i + 2] === 13 && b[i + 3] === 10)) return i;
    }
    return -1;
  }

  /** The request head (up to the blank line), or null at a clean end of stream. */
  async head(): Promise<string | null> {
    let scanned = 0;
    while (true) {
      // Rescan only the new bytes (and the three before them).
      const i = this.#find(this.#start + Math.max(0, scanned - 3), true);
      if (i >= 0) {
        const text = latin1.decode(this.#buf.subarray(this.#start, i));
        this.#start = i + 4;
        return text;
      }
      scanned = this.#end - this.#start;
      if (scanned > MAX_HEAD_BYTES) throw new BadRequest("Request head too large", 431);
      if (!(await this.#fill())) {
        if (this.#end > this.#start) {
          throw new BadRequest("Connection closed inside a request head");
        }
        return null;
      }
    }
  }

  async line(): Promise<string> {
    while (true) {
      const i = this.#find(this.#start, false);
      if (i >= 0) {
        const text = latin1.decode(this.#buf.subarray(this.#start, i));
        this.#start = i + 2;
        return text;
      }
      if (this.#end - this.#start > MAX_HEAD_BYTES) throw new BadRequest("Chunk header too large");
      if (!(await this.#fill())) throw new BadRequest("Connection closed inside a body");
    }
  }

  /** The next `n` bytes, copied out of the reused buffer. */
  async exactly(n: number): Promise<Uint8Array> {
    while (this.#end - this.#start < n) {
      if (!(await this.#fill())) throw new BadRequest("Connection closed inside a body");
    }
    const out = this.#buf.slice(this.#start, this.#start + n);
    this.#start += n;
    return out;
  }

  /** Resolves when the peer closes the connection (bytes read meanwhile are dropped). */
  async untilEof(): Promise<void> {
    this.beforeRead = null;
    while (await this.#fill()) this.#start = this.#end;
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

async function readBody(
  reader: ConnReader,
  headers: Map<string, string>,
  maxBodyBytes: number,
): Promise<Uint8Array | null> {
  const te = headers.get("transfer-encoding");
  if (te !== undefined) {
    if (te.toLowerCase() !== "chunked") {
      throw new BadRequest(`Unsupported Transfer-Encoding "${te}"`);
    }
    const parts: Uint8Array[] = [];
    let total = 0;
    while (true) {
      const sizeLine = (await reader.line()).split(";")[0].trim();
      const size = parseInt(sizeLine, 16);
      if (!/^[0-9a-fA-F]+$/.test(sizeLine) || Number.isNaN(size)) {
        throw new BadRequest(`Invalid chunk size "${sizeLine}"`);
      }
      if (size === 0) {
        while ((await reader.line()) !== "") { /* trailers are ignored */ }
        return concat(parts);
      }
      total += size;
      if (total > maxBodyBytes) throw new BadRequest("Request body too large", 413);
      parts.push(await reader.exactly(size));
      await reader.line();
    }
  }
  const cl = headers.get("content-length");
  if (cl === undefined) return null;
  if (!/^\d+$/.test(cl.trim())) throw new BadRequest(`Invalid Content-Length "${cl}"`);
  const n = Number(cl);
  if (n > maxBodyBytes) throw new BadRequest("Request body too large", 413);
  return n === 0 ? new Uint8Array(0) : await reader.exactly(n);
}

function statusLine(status: number): string {
  return `HTTP/1.1 ${status} ${REASONS[status] ?? "Unknown"}\r\n`;
}

/** The `Date` header's value, made once per second. */
let dateSecond = 0;
let dateText = "";
function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}

/** The head of a keep-alive answer with no header and no body (a 202), per status. */
const bareHeads = new Map<number, { date: string; bytes: Uint8Array }>();
function bareHead(status: number): Uint8Array {
  const date = httpDate();
  let cached = bareHeads.get(status);
  if (cached?.date !== date) {
    const text = `${statusLine(status)}date: ${date}\r\ncontent-length: 0\r\n\r\n`;
    cached = { date, bytes: encoder.encode(text) };
    bareHeads.set(status, cached);
  }
  return cached.bytes;
}

function skipped(name: string): boolean {
  return name === "content-length" || name === "transfer-encoding" || name === "connection";
}

function headerBlock(res: Answer, extra: string): string {
  let out = statusLine(res.status);
  if (res instanceof Response) {
    res.headers.forEach((value, name) => {
      if (!skipped(name)) out += `${name}: ${value}\r\n`;
    });
  } else if (res.headers) {
    for (const name in res.headers) {
      if (!skipped(name)) out += `${name}: ${res.headers[name]}\r\n`;
    }
  }
  return `${out}date: ${httpDate()}\r\n${extra}\r\n`;
}

/** Writes everything, or throws when the connection is gone. */
async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.length) at += await conn.write(bytes.subarray(at));
}

async function streamDirect(
  conn: Deno.Conn,
  reader: ConnReader,
  res: Answer,
  direct: DirectBody,
): Promise<void> {
  await writeAll(conn, encoder.encode(headerBlock(res, "transfer-encoding: chunked\r\n")));
  let gone = false;
  let endRequested = false;
  let finished = false;
  let done!: () => void;
  const over = new Promise<void>((r) => done = r);
  let queued: Uint8Array[] = [];
  let writing = false;
  const finish = async () => {
    if (finished) return;
    finished = true;
    if (!gone) {
      try {
        await writeAll(conn, encoder.encode("0\r\n\r\n"));
      } catch { /* the client went away */ }
    }
    done();
  };
  // Frames accumulate while a write is in flight: one write may carry several chunks,
  // but every record keeps its own chunk header.
  const pump = async () => {
    writing = true;
    try {
      while (queued.length && !gone) {
        const batch = queued.length === 1 ? queued[0] : concat(queued);
        queued = [];
        await writeAll(conn, batch);
      }
    } catch {
      gone = true;
      direct.cancel();
    }
    writing = false;
    if (gone || endRequested) await finish();
  };
  const sink: DirectSink = {
    writeTexts(texts) {
      if (gone || endRequested) return;
      let framed = "";
      for (const t of texts) framed += `${utf8Length(t).toString(16)}\r\n${t}\r\n`;
      queued.push(encoder.encode(framed));
      if (!writing) pump();
    },
    writeBytes(bytes) {
      if (gone || endRequested || !bytes.length) return;
      queued.push(
        concat([encoder.encode(`${bytes.length.toString(16)}\r\n`), bytes, encoder.encode("\r\n")]),
      );
      if (!writing) pump();
    },
    end() {
      endRequested = true;
      if (!writing) finish();
    },
  };
  // The client leaving is noticed by reading its side of the socket, as libprocess does.
  const watch = reader.untilEof().then(() => {
    if (finished) return;
    gone = true;
    direct.cancel();
    if (!writing) finish();
  });
  direct.attach(sink);
  await over;
  try {
    conn.close();
  } catch { /* already closed */ }
  await watch;
}

async function streamBody(conn: Deno.Conn, reader: ConnReader, res: Response): Promise<void> {
  await writeAll(conn, encoder.encode(headerBlock(res, "transfer-encoding: chunked\r\n")));
  const body = res.body!.getReader();
  let gone = false;
  // The client leaving is noticed by reading its side of the socket, as libprocess does.
  const watch = reader.untilEof().then(() => {
    gone = true;
    body.cancel().catch(() => {});
  });
  // Frames accumulate while a write is in flight: one write may carry several chunks,
  // but every record keeps its own chunk header.
  let queued: Uint8Array[] = [];
  let writing: Promise<void> | null = null;
  const flush = async () => {
    while (queued.length && !gone) {
      const batch = concat(queued);
      queued = [];
      await writeAll(conn, batch);
    }
  };
  try {
    while (true) {
      const { value, done } = await body.read();
      if (done) break;
      if (!value.length) continue;
      queued.push(
        encoder.encode(`${value.length.toString(16)}\r\n`),
        value,
        encoder.encode("\r\n"),
      );
      writing ??= flush().finally(() => writing = null);
    }
    while (writing) await writing;
    await flush();
    if (!gone) await writeAll(conn, encoder.encode("0\r\n\r\n"));
  } catch {
    gone = true;
    await body.cancel().catch(() => {});
  }
  try {
    conn.close();
  } catch { /* already closed */ }
  await watch;
}

/** Serves `handler` over plain HTTP/1.1. */
export function serveHttp1(
  { hostname, port, maxBodyBytes = 64 * 1024 * 1024 }: ServeHttp1Options,
  handler: (req: Http1Request) => Answer | Promise<Answer>,
): Http1Server {
  const listener = Deno.listen({ hostname, port, transport: "tcp" });
  const conns = new Set<Deno.Conn>();
  /** Connections between reading a request head and queueing its answer. */
  const busy = new Set<Deno.Conn>();
  const serving = new Set<Promise<void>>();
  let closed = false;

  const serveConn = async (conn: Deno.Conn) => {
    const reader = new ConnReader(conn);
    // Answers wait here while more pipelined requests are already read, and leave in one
    // write before the next read from the socket (or before a handler that must wait).
    let out: Uint8Array[] = [];
    const flush = async () => {
      if (!out.length) return;
      const bytes = out.length === 1 ? out[0] : concat(out);
      out = [];
      await writeAll(conn, bytes);
    };
    reader.beforeRead = flush;
    try {
      while (!closed) {
        let res: Answer;
        let keepAlive = false;
        busy.delete(conn);
        try {
          const head = await reader.head();
          if (head === null) break;
          busy.add(conn);
          const lines = head.split("\r\n");
          const m = /^([A-Z]+) (\S+) HTTP\/1\.([01])$/.exec(lines[0]);
          if (!m) throw new BadRequest("Malformed request line");
          const headers = new Map<string, string>();
          for (let i = 1; i < lines.length; i++) {
            const line = lines[i];
            const colon = line.indexOf(":");
            if (colon <= 0) throw new BadRequest("Malformed header line");
            const name = line.slice(0, colon).trim().toLowerCase();
            const value = line.slice(colon + 1).trim();
            const before = headers.get(name);
            headers.set(name, before === undefined ? value : `${before}, ${value}`);
          }
          const connection = headers.get("connection")?.toLowerCase();
          keepAlive = m[3] === "1" ? connection !== "close" : connection === "keep-alive";
          if (headers.get("expect")?.toLowerCase() === "100-continue") {
            out.push(encoder.encode("HTTP/1.1 100 Continue\r\n\r\n"));
            await flush();
          }
          const body = await readBody(reader, headers, maxBodyBytes);
          const host = headers.get("host") ?? `${hostname}:${port}`;
          let target = m[2];
          if (!target.startsWith("/")) {
            const abs = URL.parse(target);
            if (!abs) throw new BadRequest("Malformed request target");
            target = abs.pathname + abs.search;
          }
          const answer = handler(new RawRequest(m[1], target, host, headers, body));
          if (answer instanceof Promise) {
            await flush();
            res = await answer;
          } else res = answer;
        } catch (err) {
          if (!(err instanceof BadRequest)) throw err;
          res = {
            status: err.status,
            headers: { "content-type": "text/plain;charset=UTF-8" },
            body: err.message,
          };
          keepAlive = false;
        }
        if (res instanceof Response && STREAMING.has(res)) {
          await flush();
          const direct = STREAMING.get(res);
          if (direct) await streamDirect(conn, reader, res, direct);
          else await streamBody(conn, reader, res);
          return;
        }
        if (!(res instanceof Response) && !res.headers && !res.body && keepAlive) {
          out.push(bareHead(res.status));
          continue;
        }
        let bytes: Uint8Array;
        if (res instanceof Response) {
          bytes = res.body ? new Uint8Array(await res.arrayBuffer()) : new Uint8Array(0);
        } else bytes = res.body ? encoder.encode(res.body) : EMPTY;
        const head = headerBlock(
          res,
          `content-length: ${bytes.length}\r\n${keepAlive ? "" : "connection: close\r\n"}`,
        );
        out.push(encoder.encode(head));
        if (bytes.length) out.push(bytes);
        if (!keepAlive) break;
      }
      await flush();
    } catch { /* the connection broke */ }
    try {
      conn.close();
    } catch { /* already closed */ }
  };

  const accepting = (async () => {
    while (!closed) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch {
        break;
      }
      if (closed) {
        conn.close();
        break;
      }
      conns.add(conn);
      const p: Promise<void> = serveConn(conn).finally(() => {
        conns.delete(conn);
        busy.delete(conn);
        serving.delete(p);
      });
      serving.add(p);
    }
  })();

  return {
    port: (listener.addr as Deno.NetAddr).port,
    async shutdown() {
      if (!closed) {
        closed = true;
        listener.close();
      }
      await accepting;
      for (const c of conns) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
      await Promise.all([...serving]);
    },
    close() {
      if (closed) return;
      closed = true;
      listener.close();
      for (const c of conns) {
        if (busy.has(c)) continue;
        try {
          c.close();
        } catch { /* already closed */ }
      }
    },
  };
}
