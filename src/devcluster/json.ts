/**
 * JSON and RecordIO encoding as a Mesos master writes them: compact JSON where
 * double fields keep their `.0` (`15.0`, `4.0`), and RecordIO records
 * `<byte length>\n<payload>` (3rdparty/stout/include/stout/recordio.hpp).
 *
 * @module
 */

/**
 * Field names whose values are protobuf doubles in everything the devcluster
 * emits. `value` is numeric only in `Value.Scalar`; the flattened resource keys
 * appear in `/state` documents.
 */
const DOUBLE_FIELDS = [
  "value",
  "heartbeat_interval_seconds",
  "timestamp",
  "failover_timeout",
  "refuse_seconds",
  "cpus",
  "mem",
  "disk",
  "gpus",
  "start_time",
  "elected_time",
  "registered_time",
  "reregistered_time",
  "unregistered_time",
  "mtime",
];

// A key is only ever preceded by `{` or `,` outside strings; inside a JSON
// string every `"` is escaped, so `[{,]"` cannot match there.
const DOUBLE_RE = new RegExp(`([{,]"(?:${DOUBLE_FIELDS.join("|")})":-?\\d+)(?=[,}])`, "g");

/** `JSON.stringify`, with integral doubles written as `15.0` like stout's JSON writer. */
export function encodeJson(value: unknown): string {
  return JSON.stringify(value).replace(DOUBLE_RE, "$1.0");
}

const encoder = new TextEncoder();

/** One RecordIO record: decimal byte length, `\n`, payload. */
export function encodeRecord(payload: string): Uint8Array {
  const body = encoder.encode(payload);
  const prefix = encoder.encode(`${body.length}\n`);
  const out = new Uint8Array(prefix.length + body.length);
  out.set(prefix, 0);
  out.set(body, prefix.length);
  return out;
}

/** Thrown when a RecordIO stream is malformed. */
export class RecordIoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RecordIoError";
  }
}

/**
 * Incremental RecordIO decoder: feed it chunks, get whole records back.
 * Chunk boundaries are unrelated to record boundaries.
 */
export class RecordIoDecoder {
  #buffer = new Uint8Array(0);
  #decoder = new TextDecoder();

  /** Appends `chunk` and returns every record completed by it. */
  decode(chunk: Uint8Array): string[] {
    let joined = chunk;
    if (this.#buffer.length) {
      joined = new Uint8Array(this.#buffer.length + chunk.length);
      joined.set(this.#buffer, 0);
      joined.set(chunk, this.#buffer.length);
    }
    const records: string[] = [];
    let pos = 0;
    while (true) {
      const nl = joined.indexOf(0x0a, pos);
      if (nl < 0) {
        if (joined.length - pos > 20) {
          throw new RecordIoError("Cannot decode RecordIO: length prefix is too long");
        }
        break;
      }
      const text = this.#decoder.decode(joined.subarray(pos, nl));
      if (!/^\d+$/.test(text)) {
        throw new RecordIoError(`Cannot decode RecordIO: invalid length prefix "${text}"`);
      }
      const length = Number(text);
      if (joined.length < nl + 1 + length) break;
      records.push(this.#decoder.decode(joined.subarray(nl + 1, nl + 1 + length)));
      pos = nl + 1 + length;
    }
    this.#buffer = joined.slice(pos);
    return records;
  }
}
