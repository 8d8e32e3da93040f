/**
 * The HTTP/1.1 wire format of scheduler calls, without I/O: a request's bytes, and an
 * incremental parser of the responses of a pipelined connection (several requests written
 * at once, their responses read back in order). Only what a master answers to calls is
 * needed: a status line, headers, and a body framed by `Content-Length`, chunked transfer
 * coding or the end of the connection.
 *
 * @module
 */
import { MesosProtocolError } from "./errors.ts";

/** One parsed response. */
export interface HttpResponse {
  status: number;
  /**
   * Header values by lower-case name (a repeated header keeps its last value). Read-only:
   * responses with the same head share it.
   */
  headers: ReadonlyMap<string, string>;
  /** The body as text (UTF-8). */
  body: string;
  /** The server closes the connection after this response (`Connection: close`, HTTP/1.0). */
  close: boolean;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const latin1 = new TextDecoder("latin1");
const CR = 13;
const LF = 10;
/** A response head longer than this is not a master's. */
const MAX_HEAD_BYTES = 64 * 1024;

/**
 * The bytes of one `POST` request with a JSON body. `headers` (ASCII, as every header of a
 * call is) are written as given, after `Host`, `Content-Type`, `Accept` and before
 * `Content-Length`.
 */
export function encodePost(
  host: string,
  path: string,
  headers: Record<string, string>,
  body: string,
): Uint8Array {
  const bytes = encoder.encode(body);
  let head = `POST ${path} HTTP/1.1\r\nHost: ${host}\r\n` +
    "Content-Type: application/json\r\nAccept: application/json\r\n";
  for (const name in headers) head += `${name}: ${headers[name]}\r\n`;
  head += `Content-Length: ${bytes.length}\r\n\r\n`;
  const out = new Uint8Array(head.length + bytes.length);
  encoder.encodeInto(head, out);
  out.set(bytes, head.length);
  return out;
}

/** Whether `s` is ASCII only (its UTF-8 length is then its length). */
const NON_ASCII = /[\u0080-\uffff]/;

/**
 * The bytes of several `POST` requests to the same endpoint, back to back (to be written
 * at once on a pipelined connection): each exactly as {@linkcode encodePost} writes it,
 * encoded in one pass.
 */
export function encodePosts(
  host: string,
  path: string,
  headers: Record<string, string>,
  bodies: readonly string[],
): Uint8Array {
  let fixed = `POST ${path} HTTP/1.1\r\nHost: ${host}\r\n` +
    "Content-Type: application/json\r\nAccept: application/json\r\n";
  for (const name in headers) fixed += `${name}: ${headers[name]}\r\n`;
  fixed += "Content-Length: ";
  let text = "";
  for (const body of bodies) {
    const length = NON_ASCII.test(body) ? encoder.encode(body).length : body.length;
    text += `${fixed}${length}\r\n\r\n${body}`;
  }
  return encoder.encode(text);
}

type State =
  | { kind: "head" }
  | { kind: "length"; response: Partial<HttpResponse>; remaining: number }
  | { kind: "chunk-size"; response: Partial<HttpResponse> }
  | { kind: "chunk-data"; response: Partial<HttpResponse>; remaining: number }
  | { kind: "chunk-end"; response: Partial<HttpResponse>; remaining: number }
  | { kind: "trailers"; response: Partial<HttpResponse> }
  | { kind: "until-close"; response: Partial<HttpResponse> };

/**
 * Parses the responses of one connection, in order, from bytes fed as they arrive. Throws
 * {@linkcode MesosProtocolError} on anything that is not HTTP/1.x; the parser is unusable
 * afterwards.
 */
export class ResponseParser {
  #onHead: ((head: HttpResponse) => void) | undefined;
  #onData: ((bytes: Uint8Array) => void) | undefined;

  /**
   * With `onData`, body bytes are handed over as they arrive (views of the fed chunk, valid
   * until `feed` returns) instead of being collected: completed responses then have an
   * empty `body`. `onHead` sees each response's status and headers as soon as they arrive.
   */
  constructor(
    hooks: { onHead?(head: HttpResponse): void; onData?(bytes: Uint8Array): void } = {},
  ) {
    this.#onHead = hooks.onHead;
    this.#onData = hooks.onData;
  }

  /** Unconsumed bytes (a partial head, chunk-size line or body). */
  #pending: Uint8Array = new Uint8Array(0);
  #state: State = { kind: "head" };
  #body: Uint8Array[] = [];

  /** Whether a response has begun and not ended. */
  get busy(): boolean {
    return this.#state.kind !== "head" || this.#pending.length > 0;
  }

  /** Consumes `chunk` (not kept: the caller may reuse it) and returns completed responses. */
  /** The last head parsed, by its bytes: a master answers calls with the same head. */
  #lastHead: { bytes: Uint8Array; parsed: Partial<HttpResponse> } | null = null;

  /** Parses a response head; the same bytes as the last one reuse its status and headers. */
  #head(bytes: Uint8Array): Partial<HttpResponse> {
    const last = this.#lastHead;
    if (last && last.bytes.length === bytes.length) {
      let i = 0;
      while (i < bytes.length && bytes[i] === last.bytes[i]) i++;
      if (i === bytes.length) {
        const { status, headers, close } = last.parsed;
        return { status, headers, close };
      }
    }
    const parsed = parseHead(latin1.decode(bytes));
    this.#lastHead = { bytes: bytes.slice(), parsed: { ...parsed } };
    return parsed;
  }

  feed(chunk: Uint8Array): HttpResponse[] {
    const out: HttpResponse[] = [];
    let buf = chunk;
    if (this.#pending.length) {
      buf = new Uint8Array(this.#pending.length + chunk.length);
      buf.set(this.#pending);
      buf.set(chunk, this.#pending.length);
    }
    let at = 0;
    while (at < buf.length) {
      const s = this.#state;
      if (s.kind === "head") {
        const end = findHeadEnd(buf, at);
        if (end < 0) {
          if (buf.length - at > MAX_HEAD_BYTES) {
            throw new MesosProtocolError("Cannot read response: head too large");
          }
          break;
        }
        const response = this.#head(buf.subarray(at, end));
        at = end + 4;
        if (response.status! < 200) continue; // 100 Continue and friends: no body
        this.#onHead?.({ ...response, body: "" } as HttpResponse);
        const te = response.headers!.get("transfer-encoding");
        const cl = response.headers!.get("content-length");
        if (response.status === 204 || response.status === 304) {
          out.push(this.#complete(response));
        } else if (te !== undefined && te.toLowerCase() !== "identity") {
          if (te.toLowerCase() !== "chunked") {
            throw new MesosProtocolError(`Cannot read response: transfer coding "${te}"`);
          }
          this.#state = { kind: "chunk-size", response };
        } else if (cl !== undefined) {
          if (!/^\d+$/.test(cl)) {
            throw new MesosProtocolError(`Cannot read response: Content-Length "${cl}"`);
          }
          const n = Number(cl);
          if (n === 0) out.push(this.#complete(response));
          else this.#state = { kind: "length", response, remaining: n };
        } else {
          response.close = true;
          this.#state = { kind: "until-close", response };
        }
        continue;
      }
      if (s.kind === "length" || s.kind === "chunk-data" || s.kind === "until-close") {
        const take = s.kind === "until-close"
          ? buf.length - at
          : Math.min(s.remaining, buf.length - at);
        // Copied when kept: `chunk` belongs to the caller.
        if (this.#onData) this.#onData(buf.subarray(at, at + take));
        else this.#body.push(buf.slice(at, at + take));
        at += take;
        if (s.kind === "until-close") continue;
        s.remaining -= take;
        if (s.remaining > 0) continue;
        if (s.kind === "length") {
          out.push(this.#complete(s.response));
        } else {
          this.#state = { kind: "chunk-end", response: s.response, remaining: 2 };
        }
        continue;
      }
      if (s.kind === "chunk-end") {
        // The CRLF after a chunk's data.
        while (s.remaining > 0 && at < buf.length) {
          const expected = s.remaining === 2 ? CR : LF;
          if (buf[at++] !== expected) {
            throw new MesosProtocolError("Cannot read response: chunk not followed by CRLF");
          }
          s.remaining--;
        }
        if (s.remaining === 0) this.#state = { kind: "chunk-size", response: s.response };
        continue;
      }
      // chunk-size or trailers: one line at a time.
      const eol = findLineEnd(buf, at);
      if (eol < 0) {
        if (buf.length - at > MAX_HEAD_BYTES) {
          throw new MesosProtocolError("Cannot read response: chunk header too large");
        }
        break;
      }
      const line = latin1.decode(buf.subarray(at, eol));
      at = eol + 2;
      if (s.kind === "trailers") {
        if (line === "") out.push(this.#complete(s.response));
        continue;
      }
      const sizeText = line.split(";")[0].trim();
      if (!/^[0-9a-fA-F]+$/.test(sizeText)) {
        throw new MesosProtocolError(`Cannot read response: chunk size "${sizeText}"`);
      }
      const size = parseInt(sizeText, 16);
      this.#state = size === 0
        ? { kind: "trailers", response: s.response }
        : { kind: "chunk-data", response: s.response, remaining: size };
    }
    this.#pending = at < buf.length ? buf.slice(at) : new Uint8Array(0);
    return out;
  }

  /**
   * The connection ended: the response whose body ran until the end, or null when no
   * response was in progress. Throws {@linkcode MesosProtocolError} when one was cut short.
   */
  end(): HttpResponse | null {
    const s = this.#state;
    if (s.kind === "until-close") return this.#complete(s.response);
    if (s.kind !== "head" || this.#pending.length) {
      throw new MesosProtocolError("Cannot read response: the connection ended inside it");
    }
    return null;
  }

  #complete(response: Partial<HttpResponse>): HttpResponse {
    let body = "";
    if (this.#body.length === 1) body = decoder.decode(this.#body[0]);
    else if (this.#body.length > 1) {
      let n = 0;
      for (const b of this.#body) n += b.length;
      const all = new Uint8Array(n);
      let o = 0;
      for (const b of this.#body) {
        all.set(b, o);
        o += b.length;
      }
      body = decoder.decode(all);
    }
    this.#body = [];
    this.#state = { kind: "head" };
    return {
      status: response.status!,
      headers: response.headers!,
      body,
      close: response.close ?? false,
    };
  }
}

function findHeadEnd(buf: Uint8Array, from: number): number {
  for (let i = buf.indexOf(CR, from); i >= 0 && i + 3 < buf.length; i = buf.indexOf(CR, i + 1)) {
    if (buf[i + 1] === LF && buf[i + 2] === CR && buf[i + 3] === LF) return i;
  }
  return -1;
}

function findLineEnd(buf: Uint8Array, from: number): number {
  for (let i = buf.indexOf(CR, from); i >= 0 && i + 1 < buf.length; i = buf.indexOf(CR, i + 1)) {
    if (buf[i + 1] === LF) return i;
  }
  return -1;
}

const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/;

function parseHead(text: string): Partial<HttpResponse> {
  const lines = text.split("\r\n");
  const m = STATUS_LINE.exec(lines[0]);
  if (!m) {
    throw new MesosProtocolError(
      `Cannot read response: status line "${lines[0].slice(0, 40)}"`,
    );
  }
  const headers = new Map<string, string>();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const colon = line.indexOf(":");
    if (colon <= 0) throw new MesosProtocolError("Cannot read response: malformed header line");
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  const connection = headers.get("connection")?.toLowerCase();
  const close = m[1] === "0" ? connection !== "keep-alive" : connection === "close";
  return { status: Number(m[2]), headers, close };
}
