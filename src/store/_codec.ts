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

/** Text up to this length that is ASCII is encoded in JavaScript (cheaper than a call into `TextEncoder`). */
const SHORT_TEXT = 1024;

/**
 * The byte `tag` followed by the UTF-8 of `s` (a separate tag, not `tag + s`: a
 * concatenated string is several times slower to read character by character).
 */
function taggedUtf8(tag: number, s: string): Uint8Array {
  const n = s.length;
  if (n <= SHORT_TEXT) {
    const out = new Uint8Array(n + 1);
    out[0] = tag;
    let i = 0;
    for (; i < n; i++) {
      const ch = s.charCodeAt(i);
      if (ch > 0x7f) break;
      out[i + 1] = ch;
    }
    if (i === n) return out;
  }
  const text = encoder.encode(s);
  const out = new Uint8Array(text.length + 1);
  out[0] = tag;
  out.set(text, 1);
  return out;
}

/** State names by number; new states are only ever appended (numbers are stored). */
const STATES: readonly TaskState[] = [...EREMETIC_STATES, ...MESOS_STATES];
const STATE_NUMBER = new Map<string, number>(STATES.map((s, i) => [s, i]));

/** `Eremetic task` and 8 characters of `defaultTaskName`'s alphabet. */
const GENERATED_NAME = /^Eremetic task ([bcdfghjklmnpqrstvwxzBCDFGHJKLMNPQRSTVWXZ1-9]{8})$/;
const GENERATED_PREFIX = "Eremetic task ";

type Compact = Record<string, unknown>;

/** Every field the compact form knows (others are kept under `x`). */
const KNOWN = new Set<string>([
  "cpu",
  "mem",
  "image",
  "volumes_from",
  "agent_constraints",
  "command",
  "args",
  "volumes",
  "ports",
  "name",
  "network",
  "dns",
  "env",
  "masked_env",
  "labels",
  "callback_uri",
  "fetch",
  "force_pull_image",
  "privileged",
  "disk",
  "gpus",
  "role",
  "max_retries",
  "timeout_seconds",
  "parameters",
  "callback_events",
  "id",
  "seq",
  "user",
  "status",
  "framework_id",
  "agent_id",
  "hostname",
  "retry",
  "sandbox_path",
  "agent_ip",
  "agent_port",
  "mesos_task_id",
  "submitted_at",
  "not_before",
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

/**
 * The compact object of a record (without `seq`, which the key holds): each field under
 * a short key only when it differs from its default (the defaults `fromCompact` restores).
 */
export function toCompact(t: TaskRecord): Compact {
  const c: Compact = {};
  if (t.id.startsWith(TASK_ID_PREFIX)) c.i = t.id.slice(TASK_ID_PREFIX.length);
  else c.I = t.id;
  const generated = GENERATED_NAME.exec(t.name);
  if (generated) c.g = generated[1];
  else c.n = t.name;
  // Written out field by field: a loop over a table of names costs several times more.
  if (t.cpu !== undefined) c.c = t.cpu;
  if (t.mem !== undefined) c.m = t.mem;
  if (t.image !== undefined) c.im = t.image;
  if (t.command !== "" && t.command !== undefined) c.cm = t.command;
  if (t.args !== null && t.args !== undefined) c.ar = t.args;
  if (t.volumes !== null && t.volumes !== undefined) c.vo = t.volumes;
  if (t.volumes_from !== null && t.volumes_from !== undefined) c.vf = t.volumes_from;
  if (t.ports !== null && t.ports !== undefined) c.po = t.ports;
  if (t.network !== "" && t.network !== undefined) c.nw = t.network;
  if (t.dns !== "" && t.dns !== undefined) c.dn = t.dns;
  if (t.env !== null && t.env !== undefined) c.e = t.env;
  if (t.masked_env !== null && t.masked_env !== undefined) c.me = t.masked_env;
  if (t.labels !== null && t.labels !== undefined) c.l = t.labels;
  if (t.callback_uri !== "" && t.callback_uri !== undefined) c.cb = t.callback_uri;
  if (t.agent_constraints !== null && t.agent_constraints !== undefined) {
    c.ac = t.agent_constraints;
  }
  if (t.fetch !== null && t.fetch !== undefined) c.f = t.fetch;
  if (t.force_pull_image !== false && t.force_pull_image !== undefined) {
    c.fp = t.force_pull_image;
  }
  if (t.privileged !== false && t.privileged !== undefined) c.pv = t.privileged;
  if (t.disk !== 0 && t.disk !== undefined) c.dk = t.disk;
  if (t.gpus !== 0 && t.gpus !== undefined) c.gp = t.gpus;
  if (t.role !== "" && t.role !== undefined) c.ro = t.role;
  if (t.max_retries !== 5 && t.max_retries !== undefined) c.mr = t.max_retries;
  if (t.timeout_seconds !== 0 && t.timeout_seconds !== undefined) c.to = t.timeout_seconds;
  if (t.parameters !== null && t.parameters !== undefined) c.pa = t.parameters;
  if (t.callback_events !== "terminal" && t.callback_events !== undefined) {
    c.ce = t.callback_events;
  }
  if (t.user !== "root" && t.user !== undefined) c.u = t.user;
  if (t.framework_id !== "" && t.framework_id !== undefined) c.fw = t.framework_id;
  if (t.agent_id !== "" && t.agent_id !== undefined) c.ag = t.agent_id;
  if (t.hostname !== "" && t.hostname !== undefined) c.h = t.hostname;
  if (t.retry !== 0 && t.retry !== undefined) c.r = t.retry;
  if (t.sandbox_path !== "" && t.sandbox_path !== undefined) c.sp = t.sandbox_path;
  if (t.agent_ip !== "" && t.agent_ip !== undefined) c.ip = t.agent_ip;
  if (t.agent_port !== 0 && t.agent_port !== undefined) c.pt = t.agent_port;
  if (t.not_before !== 0 && t.not_before !== undefined) c.nb = t.not_before;
  encodeStatus(t.status, c);
  if (t.mesos_task_id !== t.id) c.mt = t.mesos_task_id;
  // Submission time in ms, as an offset from the first status time (s) when both are integers.
  const t0 = t.status[0]?.time;
  const offset = isInt(t0) && isInt(t0 * 1000) ? t.submitted_at - t0 * 1000 : NaN;
  if (isInt(offset) && isInt(t.submitted_at)) c.a = offset;
  else c.A = t.submitted_at;
  // Fields this codec does not know (added to `TaskRecord` later) are kept as they are.
  let extra: Compact | undefined;
  for (const k in t) {
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
  const bytes = taggedUtf8(CODEC_V2, JSON.stringify(toCompact(task)));
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

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** `,"g":"` in bytes: the generated-name field right after the id. */
const GENERATED_FIELD = [0x2c, QUOTE, 0x67, QUOTE, 0x3a, QUOTE];
/** 1 for the bytes of `defaultTaskName`'s alphabet. */
const NAME_BYTE = new Uint8Array(256);
for (const ch of "bcdfghjklmnpqrstvwxzBCDFGHJKLMNPQRSTVWXZ123456789") {
  NAME_BYTE[ch.charCodeAt(0)] = 1;
}

/**
 * The `name` of a stored value without decoding the rest: read from its first bytes when
 * it is a generated name (the common case, `toCompact` writes it right after the id),
 * else from a full decode.
 */
export function storedName(bytes: Uint8Array): string {
  // `\x02{"i":"` or `\x02{"I":"`, then the id up to its closing quote.
  if (bytes[0] === CODEC_V2 && bytes[1] === 0x7b && bytes[2] === QUOTE && bytes[4] === QUOTE) {
    let i = 7;
    while (i < bytes.length && bytes[i] !== QUOTE && bytes[i] !== BACKSLASH) i++;
    if (bytes[i] === QUOTE) {
      let match = true;
      for (let k = 0; k < GENERATED_FIELD.length; k++) {
        if (bytes[i + 1 + k] !== GENERATED_FIELD[k]) match = false;
      }
      const start = i + 1 + GENERATED_FIELD.length;
      if (match && bytes[start + 8] === QUOTE) {
        let chars = "";
        for (let k = start; k < start + 8; k++) {
          if (NAME_BYTE[bytes[k]] !== 1) return decodeStored(bytes).name;
          chars += String.fromCharCode(bytes[k]);
        }
        return GENERATED_PREFIX + chars;
      }
    }
  }
  return decodeStored(bytes).name;
}

/** `{"i":"` in bytes: how the compact form of a prefixed id begins, after the tag. */
const ID_FIELD = [0x7b, QUOTE, 0x69, QUOTE, 0x3a, QUOTE];

/**
 * Whether a stored value is the task `id`'s, without decoding the rest when the id has
 * the usual prefix (`toCompact` writes it first, as `"i"` without the prefix).
 */
export function storedIdIs(bytes: Uint8Array, id: string): boolean {
  if (bytes[0] !== CODEC_V2 || !id.startsWith(TASK_ID_PREFIX)) {
    return decodeStored(bytes).id === id;
  }
  for (let k = 0; k < ID_FIELD.length; k++) if (bytes[1 + k] !== ID_FIELD[k]) return false;
  const at = 1 + ID_FIELD.length - TASK_ID_PREFIX.length;
  for (let k = TASK_ID_PREFIX.length; k < id.length; k++) {
    const ch = id.charCodeAt(k);
    // Escaped in JSON, or more than one byte: compare decoded.
    if (ch < 0x20 || ch > 0x7e || ch === QUOTE || ch === BACKSLASH) {
      return decodeStored(bytes).id === id;
    }
    if (bytes[at + k] !== ch) return false;
  }
  return bytes[at + id.length] === QUOTE;
}
