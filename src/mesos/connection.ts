/**
 * One keep-alive HTTP/1.1 connection to a master that carries calls pipelined: requests
 * made in the same turn go out in one write, their responses are read back in order, and
 * one watchdog per connection (not one timer per call) fails everything outstanding when
 * the master stays silent too long.
 *
 * When the connection fails, each outstanding request learns whether the master may have
 * seen it (`maybeProcessed`): false for those never written, or written after a response
 * that announced `Connection: close`; true for the rest.
 *
 * @module
 */
import type { Clock } from "../runtime.ts";
import { MesosConnectionError, MesosProtocolError } from "./errors.ts";
import { type HttpResponse, ResponseParser } from "./http1.ts";

/** Opens a TCP (or TLS) connection to the host of `url`. */
export type Connect = (url: URL) => Promise<Deno.Conn>;

/** Plain TCP for `http:`, TLS for `https:`. */
export const connectTo: Connect = (url) => {
  const tls = url.protocol === "https:";
  const port = Number(url.port || (tls ? 443 : 80));
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
  return tls ? Deno.connectTls({ hostname, port }) : Deno.connect({ hostname, port });
};

/** Options of {@linkcode CallConnection}. */
export interface CallConnectionOptions {
  clock: Clock;
  /** Outstanding requests fail after this long without a byte from the master. */
  timeoutMs: number;
  connect?: Connect;
}

interface Pending {
  type: string;
  bytes: Uint8Array;
  /** Responses still expected: 1, or the number of requests in `bytes` (`sendMany`). */
  remaining: number;
  /** The responses received so far, for a batch (`sendMany`); null for one request. */
  responses: HttpResponse[] | null;
  resolve(response: HttpResponse | HttpResponse[]): void;
  reject(error: Error): void;
}

const READ_BUFFER_BYTES = 64 * 1024;

/** A pipelined connection to `url`'s host. See the module documentation. */
export class CallConnection {
  /** The endpoint the requests are for (errors name it). */
  readonly url: URL;
  #clock: Clock;
  #timeoutMs: number;
  #conn: Deno.Conn | null = null;
  /** Requests not yet handed to a write. */
  #unsent: Pending[] = [];
  /** Requests written (or being written), oldest first, from `#head` on. */
  #sent: Pending[] = [];
  #head = 0;
  #flushQueued = false;
  #writing = false;
  #dead = false;
  #closeWhenIdle = false;
  #lastProgress = 0;
  #watching = false;
  #stop = new AbortController();

  constructor(url: URL, { clock, timeoutMs, connect = connectTo }: CallConnectionOptions) {
    this.url = url;
    this.#clock = clock;
    this.#timeoutMs = timeoutMs;
    this.#open(connect);
  }

  /** Requests waiting for their response (written or not). */
  get load(): number {
    return this.#unsent.length + this.#sent.length - this.#head;
  }

  /** False once the connection failed or was closed: make a new one. */
  get alive(): boolean {
    return !this.#dead;
  }

  /**
   * Sends a request (the complete bytes of one HTTP request) and resolves with its
   * response. Rejects with {@linkcode MesosConnectionError} when the connection fails first.
   */
  send(type: string, bytes: Uint8Array): Promise<HttpResponse> {
    return this.#enqueue(type, bytes, 1, null) as Promise<HttpResponse>;
  }

  /**
   * Sends `count` requests written back to back in `bytes` as one unit, and resolves with
   * their `count` responses, in order: one promise for the batch. Rejects as `send` does,
   * also when the connection fails after some of the responses arrived (the caller then
   * cannot tell which of the requests the master saw: only requests safe to repeat belong
   * in a batch).
   */
  sendMany(type: string, bytes: Uint8Array, count: number): Promise<HttpResponse[]> {
    return this.#enqueue(type, bytes, count, []) as Promise<HttpResponse[]>;
  }

  #enqueue(
    type: string,
    bytes: Uint8Array,
    count: number,
    responses: HttpResponse[] | null,
  ): Promise<HttpResponse | HttpResponse[]> {
    if (this.#dead) {
      return Promise.reject(
        new MesosConnectionError(type, this.url.href, {
          detail: "connection closed",
          maybeProcessed: false,
        }),
      );
    }
    const { promise, resolve, reject } = Promise.withResolvers<HttpResponse | HttpResponse[]>();
    if (this.load === 0) this.#lastProgress = this.#clock.now();
    this.#unsent.push({ type, bytes, remaining: count, responses, resolve, reject });
    if (!this.#watching) this.#watch();
    this.#scheduleFlush();
    return promise;
  }

  /** Closes now: outstanding requests fail (never-written ones as not processed). */
  close(): void {
    this.#fail({ detail: "connection closed" });
  }

  /** Closes once nothing is outstanding (at once when idle). */
  closeWhenIdle(): void {
    this.#closeWhenIdle = true;
    if (this.load === 0) this.close();
  }

  async #open(connect: Connect): Promise<void> {
    let conn: Deno.Conn;
    try {
      conn = await connect(this.url);
    } catch (err) {
      this.#fail({ cause: err, neverConnected: true });
      return;
    }
    if (this.#dead) {
      conn.close();
      return;
    }
    this.#conn = conn;
    this.#scheduleFlush();
    this.#read(conn);
  }

  #scheduleFlush(): void {
    if (this.#flushQueued || this.#writing || !this.#conn || this.#dead) return;
    this.#flushQueued = true;
    // Calls made in the same turn leave in one write.
    queueMicrotask(() => {
      this.#flushQueued = false;
      this.#flush();
    });
  }

  async #flush(): Promise<void> {
    const conn = this.#conn;
    if (this.#writing || !conn) return;
    this.#writing = true;
    try {
      while (this.#unsent.length && !this.#dead) {
        const batch = this.#unsent;
        this.#unsent = [];
        let total = 0;
        for (const p of batch) {
          this.#sent.push(p);
          total += p.bytes.length;
        }
        let bytes = batch[0].bytes;
        if (batch.length > 1) {
          bytes = new Uint8Array(total);
          let at = 0;
          for (const p of batch) {
            bytes.set(p.bytes, at);
            at += p.bytes.length;
          }
        }
        for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
      }
    } catch (err) {
      this.#fail({ cause: err });
    } finally {
      this.#writing = false;
    }
  }

  async #read(conn: Deno.Conn): Promise<void> {
    const parser = new ResponseParser();
    const buf = new Uint8Array(READ_BUFFER_BYTES);
    try {
      while (!this.#dead) {
        const n = await conn.read(buf);
        if (this.#dead) return;
        if (n === null) {
          const last = parser.end();
          if (last) this.#deliver(last);
          this.#fail({ detail: "the master closed the connection" });
          return;
        }
        this.#lastProgress = this.#clock.now();
        for (const response of parser.feed(buf.subarray(0, n))) {
          if (!this.#deliver(response)) return;
        }
      }
    } catch (err) {
      this.#fail({ cause: err });
    }
  }

  /** Hands a response to the oldest request; false when the connection is over. */
  #deliver(response: HttpResponse): boolean {
    if (this.#head >= this.#sent.length) {
      this.#fail({ cause: new MesosProtocolError("Cannot read response: none was expected") });
      return false;
    }
    const p = this.#sent[this.#head];
    if (p.responses) p.responses.push(response);
    if (--p.remaining === 0) {
      this.#sent[this.#head++] = undefined as unknown as Pending;
      if (this.#head === this.#sent.length) {
        this.#sent = [];
        this.#head = 0;
      } else if (this.#head > 1024 && this.#head * 2 > this.#sent.length) {
        this.#sent = this.#sent.slice(this.#head);
        this.#head = 0;
      }
      p.resolve(p.responses ?? response);
    }
    if (response.close) {
      // The master handles nothing after this response on this connection.
      this.#fail({ detail: "the master closed the connection", notProcessed: true });
      return false;
    }
    if (this.#closeWhenIdle && this.load === 0) this.close();
    return true;
  }

  #fail(
    how: { cause?: unknown; detail?: string; neverConnected?: boolean; notProcessed?: boolean },
  ): void {
    if (this.#dead) return;
    this.#dead = true;
    this.#stop.abort();
    try {
      this.#conn?.close();
    } catch { /* already closed */ }
    const sent = this.#sent.slice(this.#head);
    const unsent = this.#unsent;
    this.#sent = [];
    this.#head = 0;
    this.#unsent = [];
    const error = (p: Pending, maybeProcessed: boolean) =>
      new MesosConnectionError(p.type, this.url.href, {
        cause: how.cause,
        detail: how.detail,
        maybeProcessed,
      });
    const sentSeen = !how.neverConnected && !how.notProcessed;
    for (const p of sent) p.reject(error(p, sentSeen));
    for (const p of unsent) p.reject(error(p, false));
  }

  /** The watchdog: outstanding requests and no byte for `timeoutMs` → the connection fails. */
  async #watch(): Promise<void> {
    if (this.#watching) return;
    this.#watching = true;
    try {
      while (!this.#dead && this.load > 0) {
        const wait = this.#lastProgress + this.#timeoutMs - this.#clock.now();
        if (wait <= 0) {
          this.#fail({ detail: `no answer within ${this.#timeoutMs} ms` });
          return;
        }
        await this.#clock.sleep(wait, this.#stop.signal);
      }
    } catch {
      // Aborted: the connection is over.
    } finally {
      this.#watching = false;
    }
  }
}

/** The body of a streaming response, read piece by piece. */
export interface ByteSource {
  /** The next bytes of the body, or null at its end. */
  read(): Promise<Uint8Array | null>;
  /** Stops reading and closes the connection. */
  cancel(): Promise<void>;
}

/** A response whose body is still arriving (a SUBSCRIBE stream). */
export interface StreamResponse {
  status: number;
  /** Header values by lower-case name. */
  headers: ReadonlyMap<string, string>;
  body: ByteSource;
}

/**
 * Sends one request on a connection of its own and resolves once the response head has
 * arrived; the body is read through `body` (chunked, `Content-Length` or until the end).
 * Rejects with {@linkcode MesosConnectionError}: `maybeProcessed` false when the connection
 * could not be opened. Aborting `signal` closes the connection.
 */
export async function openStream(
  type: string,
  url: URL,
  bytes: Uint8Array,
  { connect = connectTo, signal }: { connect?: Connect; signal?: AbortSignal } = {},
): Promise<StreamResponse> {
  if (signal?.aborted) throw signal.reason;
  let conn: Deno.Conn;
  try {
    conn = await connect(url);
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw new MesosConnectionError(type, url.href, { cause: err, maybeProcessed: false });
  }
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    try {
      conn.close();
    } catch { /* already closed */ }
  };
  const onAbort = () => close();
  signal?.addEventListener("abort", onAbort, { once: true });
  let head: HttpResponse | null = null;
  const pieces: Uint8Array[] = [];
  let ended = false;
  // Body pieces are views of `buf`, which is read into again: they are copied when kept.
  const parser = new ResponseParser({
    onHead: (h) => head = h,
    onData: (b) => pieces.push(b.slice()),
  });
  const buf = new Uint8Array(READ_BUFFER_BYTES);
  /** Reads once from the socket; false at its end. */
  const readOnce = async (): Promise<boolean> => {
    const n = await conn.read(buf);
    if (n === null) {
      // A body that ran until the end is complete; one cut inside a chunk throws.
      parser.end();
      ended = true;
      return false;
    }
    if (parser.feed(buf.subarray(0, n)).length) ended = true;
    return true;
  };
  try {
    await conn.write(bytes).then(async (written) => {
      for (let at = written; at < bytes.length;) at += await conn.write(bytes.subarray(at));
    });
    while (!head) {
      if (!(await readOnce())) {
        throw new MesosProtocolError("Cannot read response: the connection ended before it");
      }
    }
  } catch (err) {
    close();
    signal?.removeEventListener("abort", onAbort);
    if (signal?.aborted) throw signal.reason;
    throw new MesosConnectionError(type, url.href, { cause: err });
  }
  const { status, headers } = head as HttpResponse;
  const body: ByteSource = {
    async read() {
      while (!pieces.length) {
        if (ended || closed) {
          close();
          signal?.removeEventListener("abort", onAbort);
          return null;
        }
        await readOnce();
      }
      return pieces.shift()!;
    },
    cancel() {
      close();
      signal?.removeEventListener("abort", onAbort);
      return Promise.resolve();
    },
  };
  return { status, headers, body };
}
