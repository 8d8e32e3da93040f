/**
 * RecordIO framing (stout `recordio.hpp`, docs/recordio.md): each record is its payload's
 * byte length in decimal ASCII, a `\n`, then the payload. There is no terminator and no
 * header. HTTP chunk boundaries are unrelated to record boundaries, so the decoder keeps
 * partial length prefixes and payloads across calls.
 *
 * @module
 */
import { MesosProtocolError } from "./errors.ts";

/** Default cap on one record: a huge OFFERS event still fits, a corrupt prefix does not. */
export const DEFAULT_MAX_RECORD_BYTES = 256 * 1024 * 1024;
/** More digits than this cannot be a real length prefix. */
const MAX_PREFIX_DIGITS = 12;
const NEWLINE = 0x0a;
const ZERO = 0x30;
const NINE = 0x39;

const encoder = new TextEncoder();

/** Options of {@linkcode RecordIODecoder}. */
export interface RecordIODecoderOptions {
  /** Records longer than this many bytes are rejected as corrupt. */
  maxRecordBytes?: number;
  /**
   * Return records as views of the chunks given rather than copies (default false): for a
   * caller that never reuses a chunk's buffer, such as a `ReadableStream` reader.
   */
  views?: boolean;
}

/** An incremental RecordIO decoder: feed it bytes, get complete records back. */
export class RecordIODecoder {
  #maxRecordBytes: number;
  /** Value and digit count of the length prefix read so far. */
  #prefix = 0;
  #prefixDigits = 0;
  /** Bytes still missing from the payload being read, or -1 while reading a prefix. */
  #remaining = -1;
  #parts: Uint8Array[] = [];
  #partsLength = 0;
  #views: boolean;

  constructor(
    { maxRecordBytes = DEFAULT_MAX_RECORD_BYTES, views = false }: RecordIODecoderOptions = {},
  ) {
    this.#maxRecordBytes = maxRecordBytes;
    this.#views = views;
  }

  /** Whether bytes of an incomplete record are held. */
  get pending(): boolean {
    return this.#prefixDigits > 0 || this.#remaining >= 0;
  }

  /**
   * Consumes `chunk` and returns the records it completes, in order (possibly none).
   * Throws {@linkcode MesosProtocolError} on a malformed length prefix; the decoder is
   * unusable afterwards.
   */
  decode(chunk: Uint8Array): Uint8Array[] {
    const records: Uint8Array[] = [];
    let i = 0;
    while (i < chunk.length) {
      if (this.#remaining < 0) {
        const byte = chunk[i++];
        if (byte === NEWLINE) {
          if (this.#prefixDigits === 0) {
            throw new MesosProtocolError("Cannot decode RecordIO: empty length prefix");
          }
          this.#remaining = this.#prefix;
          this.#prefix = 0;
          this.#prefixDigits = 0;
          if (this.#remaining === 0) {
            records.push(new Uint8Array(0));
            this.#remaining = -1;
          }
          continue;
        }
        if (byte < ZERO || byte > NINE) {
          throw new MesosProtocolError(
            `Cannot decode RecordIO: byte ${byte} in a length prefix is not a digit`,
          );
        }
        this.#prefix = this.#prefix * 10 + (byte - ZERO);
        this.#prefixDigits++;
        if (this.#prefixDigits > MAX_PREFIX_DIGITS || this.#prefix > this.#maxRecordBytes) {
          throw new MesosProtocolError(
            `Cannot decode RecordIO: record length exceeds ${this.#maxRecordBytes} bytes`,
          );
        }
        continue;
      }
      const take = Math.min(this.#remaining, chunk.length - i);
      const piece = chunk.subarray(i, i + take);
      i += take;
      this.#remaining -= take;
      if (this.#remaining === 0 && this.#parts.length === 0) {
        // The whole payload sits inside this chunk: at most one copy, no concatenation.
        records.push(this.#views ? piece : piece.slice());
      } else {
        // Copied unless views were asked for: the caller may reuse its buffer.
        this.#parts.push(this.#views ? piece : piece.slice());
        this.#partsLength += take;
        if (this.#remaining === 0) records.push(this.#join());
      }
      if (this.#remaining === 0) this.#remaining = -1;
    }
    return records;
  }

  /** Throws if the input ended in the middle of a record. */
  finish(): void {
    if (this.pending) {
      throw new MesosProtocolError("Cannot decode RecordIO: stream ended inside a record");
    }
  }

  #join(): Uint8Array {
    const out = new Uint8Array(this.#partsLength);
    let offset = 0;
    for (const part of this.#parts) {
      out.set(part, offset);
      offset += part.length;
    }
    this.#parts = [];
    this.#partsLength = 0;
    return out;
  }
}

/** Encodes one record: UTF-8 byte length, `\n`, payload. */
export function encodeRecord(payload: string | Uint8Array): Uint8Array<ArrayBuffer> {
  const bytes = typeof payload === "string" ? encoder.encode(payload) : payload;
  const prefix = encoder.encode(`${bytes.length}\n`);
  const out = new Uint8Array(prefix.length + bytes.length);
  out.set(prefix, 0);
  out.set(bytes, prefix.length);
  return out;
}

/** Encodes several records into one buffer. */
export function encodeRecords(payloads: (string | Uint8Array)[]): Uint8Array<ArrayBuffer> {
  const parts = payloads.map(encodeRecord);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/**
 * Reads records from a byte stream until it ends. Throws {@linkcode MesosProtocolError} on
 * bad framing or when the stream stops mid-record. Releases the reader when done; cancels
 * the stream if the consumer stops early.
 */
export async function* readRecords(
  stream: ReadableStream<Uint8Array>,
  options?: RecordIODecoderOptions,
): AsyncGenerator<Uint8Array> {
  const decoder = new RecordIODecoder(options);
  const reader = stream.getReader();
  let done = false;
  try {
    while (true) {
      const r = await reader.read();
      if (r.done) {
        done = true;
        break;
      }
      for (const record of decoder.decode(r.value)) yield record;
    }
    decoder.finish();
  } finally {
    if (!done) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
