/**
 * Server-Sent Events framing (WHATWG HTML, "Server-sent events"): writing
 * messages, and a parser for the reading side (tests, the command-line client).
 *
 * @module
 */

/** One dispatched event, as an `EventSource` would see it. */
export interface SseMessage {
  /** The last event id seen on the stream ("" when none was sent). */
  id: string;
  /** The event type; `message` when the server named none. */
  event: string;
  /** The data lines joined with `\n`. */
  data: string;
  /** A `retry:` value (milliseconds) that came with this event, if any. */
  retry?: number;
}

/** What a server writes: an optional id and type, and data. */
export interface SseFrame {
  id?: string | number;
  event?: string;
  data: string;
}

/**
 * Encodes one message. Data containing line breaks becomes several `data:` lines;
 * an id or type containing one is refused (it would split the message).
 */
export function formatSse({ id, event, data }: SseFrame): string {
  let out = "";
  if (id !== undefined) {
    const s = String(id);
    if (/[\r\n\0]/.test(s)) throw new TypeError("An SSE id cannot contain a line break or NUL");
    out += `id: ${s}\n`;
  }
  if (event !== undefined) {
    if (/[\r\n]/.test(event)) throw new TypeError("An SSE event type cannot contain a line break");
    out += `event: ${event}\n`;
  }
  for (const line of data.split(/\r\n|\r|\n/)) out += `data: ${line}\n`;
  return out + "\n";
}

/** A comment line (ignored by clients; keeps proxies from closing an idle stream). */
export function sseComment(text: string): string {
  return `: ${text.replace(/[\r\n]+/g, " ")}\n\n`;
}

/**
 * An incremental parser: feed it text as it arrives, get the events completed by
 * it. Follows the specification's rules: lines end in CRLF, LF or CR (also split
 * across chunks), a leading BOM is ignored, `id` persists across events, an event
 * without data is not dispatched, comments go to `onComment`.
 */
export class SseParser {
  #buffer = "";
  #started = false;
  #skipLf = false;
  #lastId = "";
  #event = "";
  #data: string[] = [];
  #retry: number | undefined;
  #onComment: ((text: string) => void) | undefined;

  /** @param onComment receives each comment line's text (without the colon) */
  constructor(onComment?: (text: string) => void) {
    this.#onComment = onComment;
  }

  /** The id a reconnecting client sends as `Last-Event-ID`. */
  get lastEventId(): string {
    return this.#lastId;
  }

  /** Consumes `chunk`; returns the events it completed, in order. */
  feed(chunk: string): SseMessage[] {
    if (!this.#started && chunk.length > 0) {
      this.#started = true;
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
    }
    if (this.#skipLf && chunk.startsWith("\n")) chunk = chunk.slice(1);
    this.#skipLf = false;
    this.#buffer += chunk;
    const out: SseMessage[] = [];
    let start = 0;
    for (let i = 0; i < this.#buffer.length; i++) {
      const c = this.#buffer.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      this.#line(this.#buffer.slice(start, i), out);
      if (c === 13) {
        if (i + 1 < this.#buffer.length) {
          if (this.#buffer.charCodeAt(i + 1) === 10) i++;
        } else {
          this.#skipLf = true;
        }
      }
      start = i + 1;
    }
    this.#buffer = this.#buffer.slice(start);
    return out;
  }

  #line(line: string, out: SseMessage[]): void {
    if (line === "") return this.#dispatch(out);
    if (line.startsWith(":")) {
      this.#onComment?.(line.slice(1).replace(/^ /, ""));
      return;
    }
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "event":
        this.#event = value;
        break;
      case "data":
        this.#data.push(value);
        break;
      case "id":
        if (!value.includes("\0")) this.#lastId = value;
        break;
      case "retry":
        if (/^\d+$/.test(value)) this.#retry = Number(value);
        break;
    }
  }

  #dispatch(out: SseMessage[]): void {
    const event = this.#event || "message";
    const retry = this.#retry;
    const data = this.#data;
    this.#event = "";
    this.#data = [];
    this.#retry = undefined;
    if (data.length === 0) return;
    const message: SseMessage = { id: this.#lastId, event, data: data.join("\n") };
    if (retry !== undefined) message.retry = retry;
    out.push(message);
  }
}

/**
 * The events of an SSE response body, as they arrive. Ends when the body ends; an
 * unfinished last event is dropped, as the specification says.
 */
export async function* readSse(
  body: ReadableStream<Uint8Array>,
  parser: SseParser = new SseParser(),
): AsyncGenerator<SseMessage, void, undefined> {
  const decoder = new TextDecoder();
  const reader = body.getReader();
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      yield* parser.feed(decoder.decode(value, { stream: true }));
    }
    yield* parser.feed(decoder.decode());
  } finally {
    // Stopping early (break, return) cancels the body, closing the connection.
    await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
