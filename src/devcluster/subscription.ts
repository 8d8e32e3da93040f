/**
 * A framework's subscription: its RecordIO event stream, batched per tick, with
 * the stream faults of failure injection applied.
 *
 * @module
 */
import { nextHostTurn, type Timer } from "../runtime.ts";
import { encodeRecord } from "../mesos/recordio.ts";
import type { Faults } from "./faults.ts";
import { type DirectBody, type DirectSink, utf8Length } from "./http1.ts";
import { encodeJson } from "./json.ts";
import type { Recorder } from "./record.ts";
import type { Event } from "./types.ts";

const textEncoder = new TextEncoder();

let opened = 0;

/** Subscriptions opened so far in this process: the serial number of the latest. */
export function subscriptionsOpened(): number {
  return opened;
}

/**
 * One subscription: a RecordIO event stream. Events wait until the HTTP layer
 * takes them, either as a `DirectSink` (the masters' own HTTP/1.1 server: one
 * chunk per record, written without stream machinery) or by reading `body`.
 */
export class Subscription implements DirectBody {
  readonly streamId = crypto.randomUUID();
  /** Opening order (see {@linkcode subscriptionsOpened}); a stall covers the ones open then. */
  readonly serial = ++opened;
  /** Set once the framework is known; used by failure injection. */
  frameworkId = "";
  readonly body: ReadableStream<Uint8Array>;
  closed = false;
  heartbeat: Timer | null = null;
  #mode: "pending" | "stream" | "sink" = "pending";
  #sink: DirectSink | null = null;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #onCancel: () => void;
  #recorder?: Recorder;
  #faults: Faults;
  #batch: string[] = [];
  #batchScheduled = false;
  #pending: Uint8Array[] = [];
  #draining = false;
  #endRequested = false;
  #ended = false;

  constructor(onCancel: () => void, faults: Faults, recorder?: Recorder) {
    this.#onCancel = onCancel;
    this.#recorder = recorder;
    this.#faults = faults;
    this.body = new ReadableStream<Uint8Array>({
      start: (c) => {
        this.#controller = c;
      },
      pull: () => {
        if (this.#mode !== "pending") return;
        this.#mode = "stream";
        this.#flushBatch();
        if (this.#endRequested) this.#end();
      },
      cancel: () => this.cancel(),
    }, { highWaterMark: 0 });
  }

  /** The HTTP layer takes the stream (DirectBody). */
  attach(sink: DirectSink): void {
    if (this.#mode !== "pending") return;
    this.#mode = "sink";
    this.#sink = sink;
    this.#flushBatch();
    if (this.#endRequested && !this.#draining) this.#end();
  }

  /** The client went away (DirectBody, and the stream's cancel). */
  cancel(): void {
    if (this.closed) return;
    this.closed = true;
    this.heartbeat?.cancel();
    this.#onCancel();
  }

  send(event: Event): void {
    if (this.closed || this.#endRequested || this.#stalled()) return;
    const json = encodeJson(event);
    this.#recorder?.event(json);
    const split = this.#faults.splitChunksBytes;
    if (split === 0 && !this.#pending.length) {
      this.#batch.push(json);
      if (!this.#batchScheduled) {
        this.#batchScheduled = true;
        queueMicrotask(() => this.#flushBatch());
      }
      return;
    }
    // Failure injection: pieces go out one per timer tick so the client reads them apart.
    this.#flushBatch();
    const record = encodeRecord(json);
    const step = split > 0 ? split : record.length;
    for (let i = 0; i < record.length; i += step) this.#pending.push(record.slice(i, i + step));
    if (!this.#draining) this.#drain();
  }

  /** Failure injection: a half-open connection of this framework, opened before the stall. */
  #stalled(): boolean {
    if (!this.frameworkId) return false;
    const last = this.#faults.stalled.get(this.frameworkId);
    return last !== undefined && this.serial <= last;
  }

  /**
   * Writes the events of this tick with one encoding pass; each record is still
   * its own HTTP chunk, as a real master sends it.
   */
  #flushBatch(): void {
    this.#batchScheduled = false;
    if (this.#mode === "pending" || !this.#batch.length) return;
    const batch = this.#batch;
    this.#batch = [];
    if (this.#ended) return;
    if (this.#mode === "sink") {
      this.#sink!.writeTexts(batch.map((json) => `${utf8Length(json)}\n${json}`));
      return;
    }
    const parts: string[] = [];
    const sizes: number[] = [];
    for (const json of batch) {
      const prefix = `${utf8Length(json)}\n`;
      parts.push(prefix, json);
      sizes.push(prefix.length + utf8Length(json));
    }
    const bytes = textEncoder.encode(parts.join(""));
    let offset = 0;
    try {
      for (const size of sizes) {
        this.#controller.enqueue(bytes.subarray(offset, offset + size));
        offset += size;
      }
    } catch { /* the client went away */ }
  }

  #emit(bytes: Uint8Array): void {
    if (this.#ended) return;
    if (this.#mode === "sink") this.#sink!.writeBytes(bytes);
    else {
      try {
        this.#controller.enqueue(bytes);
      } catch { /* the client went away */ }
    }
  }

  async #drain(): Promise<void> {
    this.#draining = true;
    while (this.#pending.length && !this.closed) {
      if (this.#mode === "pending") {
        await nextHostTurn();
        continue;
      }
      this.#emit(this.#pending.shift()!);
      await nextHostTurn();
    }
    this.#pending = [];
    this.#draining = false;
    if (this.#endRequested) this.#end();
  }

  /** Writes raw bytes as one chunk (failure injection: a corrupt stream). */
  writeRaw(bytes: Uint8Array): void {
    this.#flushBatch();
    if (this.closed || this.#mode === "pending") return;
    this.#emit(bytes);
  }

  /** Ends the stream from the master's side (after what is already sent). */
  close(): void {
    this.#flushBatch();
    if (this.closed || this.#endRequested) return;
    this.#endRequested = true;
    this.heartbeat?.cancel();
    if (!this.#draining && this.#mode !== "pending") this.#end();
  }

  #end(): void {
    if (this.#ended) return;
    this.#flushBatch();
    this.#ended = true;
    this.closed = true;
    this.heartbeat?.cancel();
    if (this.#mode === "sink") this.#sink!.end();
    else {
      try {
        this.#controller.close();
      } catch { /* already errored */ }
    }
  }
}
