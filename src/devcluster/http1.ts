/**
 * A small HTTP/1.1 server for the masters, so the subscription stream is framed
 * exactly as libprocess frames it: one RecordIO record per HTTP chunk. (`Deno.serve`
 * merges whatever a stream has queued into one chunk, and a client that relies on
 * the master's framing would pass against it and fail against a real master.)
 *
 * Requests become `Request` objects and handlers answer `Response`s, as with
 * `Deno.serve`; responses marked with `markStreaming()` are sent with
 * `Transfer-Encoding: chunked`, one chunk per stream read, and their stream is
 * cancelled when the client goes away. Supports keep-alive, `Content-Length` and
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

/** A running server. */
export interface Http1Server {
  readonly port: number;
  /** Stops listening, closes every connection and waits for their handlers. */
  shutdown(): Promise<void>;
}

/** Options of `serveHttp1`. */
export interface ServeHttp1Options {
  hostname: string;
  port: number;
  /** The largest request body accepted (413 beyond); default 64 MiB. */
  maxBodyBytes?: number;
}

const MAX_HEAD_BYTES = 64 * 1024;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
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

/** Buffered reads from a connection. */
class ConnReader {
  #conn: Deno.Conn;
  #buf = new Uint8Array(0);
  #eof = false;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  async #fill(): Promise<boolean> {
    if (this.#eof) return false;
    const chunk = new Uint8Array(65536);
    let n: number | null;
    try {
      n = await this.#conn.read(chunk);
    } catch {
      n = null;
    }
    if (n === null) {
      this.#eof = true;
      return false;
    }
    const joined = new Uint8Array(this.#buf.length + n);
    joined.set(this.#buf);
    joined.set(chunk.subarray(0, n), this.#buf.length);
    this.#buf = joined;
    return true;
  }

  #indexOf(seq: number[], from = 0): number {
    const b = this.#buf;
    outer: for (let i = from; i <= b.length - seq.length; i++) {
      for (let j = 0; j < seq.length; j++) if (b[i + j] !== seq[j]) continue outer;
      return i;
    }
    return -1;
  }

  #take(n: number): Uint8Array {
    const out = this.#buf.slice(0, n);
    this.#buf = this.#buf.subarray(n);
    return out;
  }

  /** The request head (up to the blank line), or null at a clean end of stream. */
  async head(): Promise<string | null> {
    while (true) {
      const i = this.#indexOf([13, 10, 13, 10]);
      if (i >= 0) {
        const text = decoder.decode(this.#take(i));
        this.#take(4);
        return text;
      }
      if (this.#buf.length > MAX_HEAD_BYTES) throw new BadRequest("Request head too large", 431);
      if (!(await this.#fill())) {
        if (this.#buf.length) throw new BadRequest("Connection closed inside a request head");
        return null;
      }
    }
  }

  async line(): Promise<string> {
    while (true) {
      const i = this.#indexOf([13, 10]);
      if (i >= 0) {
        const text = decoder.decode(this.#take(i));
        this.#take(2);
        return text;
      }
      if (this.#buf.length > MAX_HEAD_BYTES) throw new BadRequest("Chunk header too large");
      if (!(await this.#fill())) throw new BadRequest("Connection closed inside a body");
    }
  }

  async exactly(n: number): Promise<Uint8Array> {
    while (this.#buf.length < n) {
      if (!(await this.#fill())) throw new BadRequest("Connection closed inside a body");
    }
    return this.#take(n);
  }

  /** Resolves when the peer closes the connection (bytes read meanwhile are dropped). */
  async untilEof(): Promise<void> {
    while (await this.#fill()) this.#buf = new Uint8Array(0);
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
  headers: Headers,
  maxBodyBytes: number,
): Promise<Uint8Array | null> {
  const te = headers.get("transfer-encoding");
  if (te !== null) {
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
  if (cl === null) return null;
  if (!/^\d+$/.test(cl.trim())) throw new BadRequest(`Invalid Content-Length "${cl}"`);
  const n = Number(cl);
  if (n > maxBodyBytes) throw new BadRequest("Request body too large", 413);
  return n === 0 ? new Uint8Array(0) : await reader.exactly(n);
}

function statusLine(status: number): string {
  return `HTTP/1.1 ${status} ${REASONS[status] ?? "Unknown"}\r\n`;
}

function headerBlock(res: Response, extra: string): string {
  let out = statusLine(res.status);
  res.headers.forEach((value, name) => {
    if (name !== "content-length" && name !== "transfer-encoding" && name !== "connection") {
      out += `${name}: ${value}\r\n`;
    }
  });
  return `${out}date: ${new Date().toUTCString()}\r\n${extra}\r\n`;
}

/** Writes everything, or throws when the connection is gone. */
async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.length) at += await conn.write(bytes.subarray(at));
}

async function streamDirect(
  conn: Deno.Conn,
  reader: ConnReader,
  res: Response,
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
  handler: (req: Request) => Response | Promise<Response>,
): Http1Server {
  const listener = Deno.listen({ hostname, port, transport: "tcp" });
  const conns = new Set<Deno.Conn>();
  const serving = new Set<Promise<void>>();
  let closed = false;

  const serveConn = async (conn: Deno.Conn) => {
    const reader = new ConnReader(conn);
    try {
      while (!closed) {
        let res: Response;
        let keepAlive = false;
        try {
          const head = await reader.head();
          if (head === null) break;
          const [requestLine, ...lines] = head.split("\r\n");
          const m = /^([A-Z]+) (\S+) HTTP\/1\.([01])$/.exec(requestLine);
          if (!m) throw new BadRequest("Malformed request line");
          const headers = new Headers();
          for (const line of lines) {
            const colon = line.indexOf(":");
            if (colon <= 0) throw new BadRequest("Malformed header line");
            headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
          }
          const connection = headers.get("connection")?.toLowerCase();
          keepAlive = m[3] === "1" ? connection !== "close" : connection === "keep-alive";
          if (headers.get("expect")?.toLowerCase() === "100-continue") {
            await writeAll(conn, encoder.encode("HTTP/1.1 100 Continue\r\n\r\n"));
          }
          const body = await readBody(reader, headers, maxBodyBytes);
          const host = headers.get("host") ?? `${hostname}:${port}`;
          let target = m[2];
          if (!target.startsWith("/")) {
            const abs = URL.parse(target);
            if (!abs) throw new BadRequest("Malformed request target");
            target = abs.pathname + abs.search;
          }
          const hasBody = body !== null && m[1] !== "GET" && m[1] !== "HEAD";
          const req = new Request(`http://${host}${target}`, {
            method: m[1],
            headers,
            body: hasBody ? body as Uint8Array<ArrayBuffer> : undefined,
          });
          res = await handler(req);
        } catch (err) {
          if (!(err instanceof BadRequest)) throw err;
          res = new Response(err.message, { status: err.status });
          keepAlive = false;
        }
        if (STREAMING.has(res)) {
          const direct = STREAMING.get(res);
          if (direct) await streamDirect(conn, reader, res, direct);
          else await streamBody(conn, reader, res);
          return;
        }
        const bytes = res.body ? new Uint8Array(await res.arrayBuffer()) : new Uint8Array(0);
        const head = headerBlock(
          res,
          `content-length: ${bytes.length}\r\n${keepAlive ? "" : "connection: close\r\n"}`,
        );
        await writeAll(conn, concat([encoder.encode(head), bytes]));
        if (!keepAlive) break;
      }
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
        serving.delete(p);
      });
      serving.add(p);
    }
  })();

  return {
    port: (listener.addr as Deno.NetAddr).port,
    async shutdown() {
      if (closed) return;
      closed = true;
      listener.close();
      await accepting;
      for (const c of conns) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
      await Promise.all([...serving]);
    },
  };
}
