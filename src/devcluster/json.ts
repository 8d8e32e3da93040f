/**
 * JSON as a Mesos master writes it: compact JSON where double fields keep their
 * `.0` (`15.0`, `4.0`). RecordIO framing comes from `src/mesos/recordio.ts`.
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
