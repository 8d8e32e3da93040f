/**
 * The stored form of a task record: a versioned, compact encoding.
 *
 * Version 2 (current) is one tag byte `0x02` followed by UTF-8 JSON of an object with
 * short keys, holding only what differs from a new task's defaults: `null` lists and
 * maps, empty strings, zero counters, `max_retries` 5 and the like are left out and
 * restored on decoding; the id loses its `eremetic-task.` prefix, a generated name keeps
 * only its 8 random characters, the status history is a flat list of time deltas and
 * state numbers, and `seq` is not stored at all (it is part of the key). The example
 * body's record is ~150 bytes instead of ~780.
 *
 * Version 1 is the earlier layout: the whole record as UTF-8 JSON (first byte `{`).
 * Both decode; only version 2 is written.
 *
 * @module
 */
import { type StatusEntry, type TaskRecord, type TaskState } from "../task/mod.ts";
import { EREMETIC_STATES, MESOS_STATES, TASK_ID_PREFIX } from "../task/mod.ts";
import { MAX_RECORD_BYTES, TooLargeError } from "./types.ts";

/** The tag byte of the compact encoding. */
export const CODEC_V2 = 0x02;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** State names by number; new states are only ever appended (numbers are stored). */
const STATES: readonly TaskState[] = [...EREMETIC_STATES, ...MESOS_STATES];
const STATE_NUMBER = new Map<string, number>(STATES.map((s, i) => [s, i]));

/** `Eremetic task` and 8 characters of `defaultTaskName`'s alphabet. */
const GENERATED_NAME = /^Eremetic task ([bcdfghjklmnpqrstvwxzBCDFGHJKLMNPQRSTVWXZ1-9]{8})$/;
const GENERATED_PREFIX = "Eremetic task ";

/**
 * Fields stored under a short key only when they differ from their default.
 * Fields handled apart: id, name, status, seq, mesos_task_id, submitted_at.
 */
const FIELDS: readonly [keyof TaskRecord, string, unknown][] = [
  ["cpu", "c", undefined],
  ["mem", "m", undefined],
  ["image", "im", undefined],
  ["command", "cm", ""],
  ["args", "ar", null],
  ["volumes", "vo", null],
  ["volumes_from", "vf", null],
  ["ports", "po", null],
  ["network", "nw", ""],
  ["dns", "dn", ""],
  ["env", "e", null],
  ["masked_env", "me", null],
  ["labels", "l", null],
  ["callback_uri", "cb", ""],
  ["agent_constraints", "ac", null],
  ["fetch", "f", null],
  ["force_pull_image", "fp", false],
  ["privileged", "pv", false],
  ["disk", "dk", 0],
  ["gpus", "gp", 0],
  ["role", "ro", ""],
  ["max_retries", "mr", 5],
  ["timeout_seconds", "to", 0],
  ["parameters", "pa", null],
  ["callback_events", "ce", "terminal"],
  ["user", "u", "root"],
  ["framework_id", "fw", ""],
  ["agent_id", "ag", ""],
  ["hostname", "h", ""],
  ["retry", "r", 0],
  ["sandbox_path", "sp", ""],
  ["agent_ip", "ip", ""],
  ["agent_port", "pt", 0],
  ["not_before", "nb", 0],
];

type Compact = Record<string, unknown>;

/** Every field the compact form knows. */
const KNOWN = new Set<string>([
  ...FIELDS.map(([f]) => f),
  "id",
  "name",
  "seq",
  "status",
  "mesos_task_id",
  "submitted_at",
]);

/** Integers whose differences and sums are exact. */
const isInt = (n: unknown): n is number => Number.isSafeInteger(n);

function encodeStatus(status: readonly StatusEntry[], out: Compact) {
  // `s`: [time0, state0, time1 - time0, state1, ...] when every time and difference is an
  // integer; `S`: [time, state, ...] otherwise. A state this program does not know stays a
  // string.
  const flat: (number | string)[] = [];
  let prev = 0;
  let deltas = true;
  for (const e of status) {
    const d = e.time - prev;
    if (!isInt(e.time) || !isInt(d)) deltas = false;
    flat.push(d, STATE_NUMBER.get(e.status) ?? e.status);
    prev = e.time;
  }
  if (deltas) out.s = flat;
  else out.S = status.flatMap((e) => [e.time, STATE_NUMBER.get(e.status) ?? e.status]);
}

function decodeStatus(c: Compact): StatusEntry[] {
  const deltas = c.s !== undefined;
  const flat = (deltas ? c.s : c.S) as (number | string)[] | undefined;
  const out: StatusEntry[] = [];
  if (!flat) return out;
  let prev = 0;
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const time = deltas ? prev + (flat[i] as number) : flat[i] as number;
    prev = time;
    const s = flat[i + 1];
    out.push({ time, status: (typeof s === "number" ? STATES[s] : s) as TaskState });
  }
  return out;
}

/** The compact object of a record (without `seq`, which the key holds). */
export function toCompact(t: TaskRecord): Compact {
  const c: Compact = {};
  if (t.id.startsWith(TASK_ID_PREFIX)) c.i = t.id.slice(TASK_ID_PREFIX.length);
  else c.I = t.id;
  const generated = GENERATED_NAME.exec(t.name);
  if (generated) c.g = generated[1];
  else c.n = t.name;
  for (const [field, key, dflt] of FIELDS) {
    const v = t[field];
    if (v !== dflt && v !== undefined) c[key] = v;
  }
  encodeStatus(t.status, c);
  if (t.mesos_task_id !== t.id) c.mt = t.mesos_task_id;
  // Submission time in ms, as an offset from the first status time (s) when both are integers.
  const t0 = t.status[0]?.time;
  const offset = isInt(t0) && isInt(t0 * 1000) ? t.submitted_at - t0 * 1000 : NaN;
  if (isInt(offset) && isInt(t.submitted_at)) c.a = offset;
  else c.A = t.submitted_at;
  // Fields this codec does not know (added to `TaskRecord` later) are kept as they are.
  let extra: Compact | undefined;
  for (const k of Object.keys(t)) {
    if (KNOWN.has(k) || (t as unknown as Compact)[k] === undefined) continue;
    (extra ??= {})[k] = (t as unknown as Compact)[k];
  }
  if (extra) c.x = extra;
  return c;
}

/** The record of a compact object; `seq` comes from the key. */
export function fromCompact(c: Compact, seq: number): TaskRecord {
  const id = c.i !== undefined ? TASK_ID_PREFIX + (c.i as string) : c.I as string;
  const status = decodeStatus(c);
  const v = (key: string, dflt: unknown) => c[key] === undefined ? dflt : c[key];
  // Built in one literal, in `newTaskRecord`'s key order (one object shape for all records).
  const t: TaskRecord = {
    cpu: c.c as number,
    mem: c.m as number,
    image: c.im as string,
    volumes_from: v("vf", null) as TaskRecord["volumes_from"],
    agent_constraints: v("ac", null) as TaskRecord["agent_constraints"],
    command: v("cm", "") as string,
    args: v("ar", null) as TaskRecord["args"],
    volumes: v("vo", null) as TaskRecord["volumes"],
    ports: v("po", null) as TaskRecord["ports"],
    name: c.g !== undefined ? GENERATED_PREFIX + (c.g as string) : c.n as string,
    network: v("nw", "") as TaskRecord["network"],
    dns: v("dn", "") as string,
    env: v("e", null) as TaskRecord["env"],
    masked_env: v("me", null) as TaskRecord["masked_env"],
    labels: v("l", null) as TaskRecord["labels"],
    callback_uri: v("cb", "") as string,
    fetch: v("f", null) as TaskRecord["fetch"],
    force_pull_image: v("fp", false) as boolean,
    privileged: v("pv", false) as boolean,
    disk: v("dk", 0) as number,
    gpus: v("gp", 0) as number,
    role: v("ro", "") as string,
    max_retries: v("mr", 5) as number,
    timeout_seconds: v("to", 0) as number,
    parameters: v("pa", null) as TaskRecord["parameters"],
    callback_events: v("ce", "terminal") as TaskRecord["callback_events"],
    id,
    seq,
    user: v("u", "root") as string,
    status,
    framework_id: v("fw", "") as string,
    agent_id: v("ag", "") as string,
    hostname: v("h", "") as string,
    retry: v("r", 0) as number,
    sandbox_path: v("sp", "") as string,
    agent_ip: v("ip", "") as string,
    agent_port: v("pt", 0) as number,
    mesos_task_id: v("mt", id) as string,
    submitted_at: c.a !== undefined ? status[0].time * 1000 + (c.a as number) : c.A as number,
    not_before: v("nb", 0) as number,
  };
  if (c.x !== undefined) Object.assign(t, c.x);
  return t;
}

/**
 * Encodes a record in the current (version 2) stored form, refusing records over
 * `MAX_RECORD_BYTES`. `seq` is not part of the value.
 */
export function encodeStored(task: TaskRecord): Uint8Array {
  // U+0002 is the byte 0x02 in UTF-8: the tag.
  const bytes = encoder.encode("\u0002" + JSON.stringify(toCompact(task)));
  const size = bytes.length;
  if (size > MAX_RECORD_BYTES) {
    throw new TooLargeError(
      `Cannot store task "${task.id}": its document is ${size} bytes, the limit is ${MAX_RECORD_BYTES}`,
      size,
      MAX_RECORD_BYTES,
    );
  }
  return bytes;
}

/**
 * Decodes a stored value of any version; `seq` is the one in its key (a version 1
 * value without it keeps its own).
 */
export function decodeStored(bytes: Uint8Array, seq?: number): TaskRecord {
  if (bytes[0] === CODEC_V2) {
    return fromCompact(JSON.parse(decoder.decode(bytes.subarray(1))), seq ?? 0);
  }
  // Version 1: the whole record as JSON, its own `seq` included.
  const t = JSON.parse(decoder.decode(bytes)) as TaskRecord;
  if (seq !== undefined) t.seq = seq;
  return t;
}
