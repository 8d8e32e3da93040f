/**
 * The outbox of one streaming client: text frames queued by producers without
 * waiting, read by the HTTP response at the client's pace, bounded in bytes.
 *
 * @module
 */

/** Default bound of frames waiting for one client. */
export const DEFAULT_CHANNEL_MAX_BYTES = 1024 * 1024;

/** Why a channel ended. */
export type ChannelEnd =
  /** The producer finished (`end()`), and the frames were read. */
  | "ended"
  /** The client went away (the response body was cancelled). */
  | "cancelled"
  /** The client fell behind by more than the bound: dropped, it may resume. */
  | "overflow"
  /** The server is shutting down. */
  | "shutdown";

export interface ChannelOptions {
  /** Bytes (UTF-16 code units, a close estimate) that may wait; beyond it the channel is dropped. */
  maxBytes?: number;
}

const encoder = new TextEncoder();

/**
 * A bounded, single-reader outbox exposed as a `ReadableStream` of bytes. `send()`
 * never blocks and never throws: past `maxBytes` of unread frames the queued frames
 * are dropped, the stream ends, and `send()` returns false.
 */
export class Channel {
  #frames: string[] = [];
  #bytes = 0;
  #maxBytes: number;
  #ending = false;
  #end: ChannelEnd | null = null;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #waiting: (() => void) | null = null;
  #drained: (() => void)[] = [];
  #abort = new AbortController();
  #closed: Promise<ChannelEnd>;
  #resolveClosed!: (end: ChannelEnd) => void;

  /** The response body. */
  readonly readable: ReadableStream<Uint8Array>;

  constructor({ maxBytes = DEFAULT_CHANNEL_MAX_BYTES }: ChannelOptions = {}) {
    this.#maxBytes = maxBytes;
    this.#closed = new Promise((r) => this.#resolveClosed = r);
    this.readable = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#controller = controller;
      },
      pull: () => this.#pull(),
      cancel: () => this.#finish("cancelled"),
    }, { highWaterMark: 0 });
  }

  /** Aborted when the channel ends, for whatever reason: stop producing. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** Resolves with the reason once the channel has ended. */
  get closed(): Promise<ChannelEnd> {
    return this.#closed;
  }

  /** Whether frames may still be sent. */
  get open(): boolean {
    return this.#end === null && !this.#ending;
  }

  /** Bytes queued and not yet read by the client. */
  get pendingBytes(): number {
    return this.#bytes;
  }

  /** Queues a frame; false (frame dropped) once ended or when the client is too far behind. */
  send(frame: string): boolean {
    if (!this.open) return false;
    if (this.#bytes + frame.length > this.#maxBytes) {
      this.#finish("overflow");
      return false;
    }
    this.#frames.push(frame);
    this.#bytes += frame.length;
    this.#wake();
    return true;
  }

  /** Resolves when every queued frame has been read (or the channel ended). */
  drained(): Promise<void> {
    if (this.#bytes === 0 || this.#end !== null) return Promise.resolve();
    return new Promise((r) => this.#drained.push(r));
  }

  /** No more frames: the stream ends once the queued ones are read. */
  end(): void {
    if (!this.open) return;
    this.#ending = true;
    if (this.#bytes === 0) this.#finish("ended");
    else this.#wake();
  }

  /** Ends at once, dropping queued frames (server shutdown). */
  shutdown(): void {
    this.#finish("shutdown");
  }

  #wake(): void {
    const w = this.#waiting;
    this.#waiting = null;
    w?.();
  }

  async #pull(): Promise<void> {
    while (this.#frames.length === 0 && this.#end === null && !this.#ending) {
      await new Promise<void>((r) => this.#waiting = r);
    }
    if (this.#end !== null) return;
    if (this.#frames.length > 0) {
      // Everything waiting goes out as one chunk.
      const text = this.#frames.length === 1 ? this.#frames[0] : this.#frames.join("");
      this.#frames = [];
      this.#bytes = 0;
      this.#controller.enqueue(encoder.encode(text));
      for (const r of this.#drained.splice(0)) r();
    }
    if (this.#ending && this.#frames.length === 0) this.#finish("ended");
  }

  #finish(end: ChannelEnd): void {
    if (this.#end !== null) return;
    this.#end = end;
    this.#frames = [];
    this.#bytes = 0;
    // Closed, not errored, on overflow too: the client sees the stream end and
    // reconnects with its Last-Event-ID (an errored body is logged by the server as a failure).
    if (end !== "cancelled") {
      try {
        this.#controller.close();
      } catch { /* already closed */ }
    }
    this.#wake();
    for (const r of this.#drained.splice(0)) r();
    this.#abort.abort();
    this.#resolveClosed(end);
  }
}
