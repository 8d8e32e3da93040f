/**
 * Scheduler `Call` parsing as the master does it: stout's JSON → protobuf rules
 * (unknown keys ignored, enums only as strings, unknown optional enum strings
 * dropped, numeric and boolean strings accepted, base64 bytes, proto2 required
 * fields enforced for the whole call) and then `scheduler::call::validate`.
 *
 * @module
 */

type Kind =
  | "string"
  | "double"
  | "int"
  | "bool"
  | "bytes"
  | "any"
  | { enum: readonly string[] }
  | Schema;

interface Field {
  kind: Kind;
  rule: "required" | "optional" | "repeated";
}

interface Schema {
  [name: string]: Field;
}

/** Thrown when a JSON body does not convert into a Call protobuf. */
export class CallParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CallParseError";
  }
}

// Lazy fields let schemas refer to each other in any order.
const req = (kind: Kind): Field => ({ kind, rule: "required" });
const opt = (kind: Kind): Field => ({ kind, rule: "optional" });
const rep = (kind: Kind): Field => ({ kind, rule: "repeated" });

const ID: Schema = { value: req("string") };
const LABELS: Schema = { labels: rep({ key: req("string"), value: opt("string") }) };
const DURATION: Schema = { nanoseconds: req("int") };
const RANGE: Schema = { begin: req("int"), end: req("int") };
const RESOURCE: Schema = {
  provider_id: opt("any"),
  name: req("string"),
  type: req({ enum: ["SCALAR", "RANGES", "SET", "TEXT"] }),
  scalar: opt({ value: req("double") }),
  ranges: opt({ range: rep(RANGE) }),
  set: opt({ item: rep("string") }),
  role: opt("string"),
  allocation_info: opt({ role: opt("string") }),
  reservation: opt("any"),
  reservations: rep("any"),
  disk: opt("any"),
  revocable: opt("any"),
  shared: opt("any"),
};
const URI: Schema = {
  value: req("string"),
  executable: opt("bool"),
  extract: opt("bool"),
  cache: opt("bool"),
  output_file: opt("string"),
};
const COMMAND: Schema = {
  uris: rep(URI),
  environment: opt({
    variables: rep({
      name: req("string"),
      type: opt({ enum: ["UNKNOWN", "VALUE", "SECRET"] }),
      value: opt("string"),
      secret: opt("any"),
    }),
  }),
  shell: opt("bool"),
  value: opt("string"),
  arguments: rep("string"),
  user: opt("string"),
};
const CONTAINER: Schema = {
  type: req({ enum: ["DOCKER", "MESOS"] }),
  volumes: rep({
    container_path: req("string"),
    host_path: opt("string"),
    mode: opt({ enum: ["RW", "RO"] }),
    image: opt("any"),
    source: opt("any"),
  }),
  hostname: opt("string"),
  docker: opt({
    image: req("string"),
    network: opt({ enum: ["HOST", "BRIDGE", "NONE", "USER"] }),
    port_mappings: rep({
      host_port: req("int"),
      container_port: req("int"),
      protocol: opt("string"),
    }),
    privileged: opt("bool"),
    parameters: rep({ key: req("string"), value: req("string") }),
    force_pull_image: opt("bool"),
    volume_driver: opt("string"),
  }),
  mesos: opt("any"),
  network_infos: rep("any"),
  linux_info: opt("any"),
  rlimit_info: opt("any"),
  tty_info: opt("any"),
};
const EXECUTOR: Schema = {
  type: opt({ enum: ["UNKNOWN", "DEFAULT", "CUSTOM"] }),
  executor_id: req(ID),
  framework_id: opt(ID),
  command: opt(COMMAND),
  container: opt(CONTAINER),
  resources: rep(RESOURCE),
  name: opt("string"),
  source: opt("string"),
  data: opt("bytes"),
  discovery: opt("any"),
  shutdown_grace_period: opt(DURATION),
  labels: opt(LABELS),
};
const TASK: Schema = {
  name: req("string"),
  task_id: req(ID),
  agent_id: req(ID),
  resources: rep(RESOURCE),
  executor: opt(EXECUTOR),
  command: opt(COMMAND),
  container: opt(CONTAINER),
  health_check: opt("any"),
  check: opt("any"),
  kill_policy: opt({ grace_period: opt(DURATION) }),
  data: opt("bytes"),
  labels: opt(LABELS),
  discovery: opt("any"),
  max_completion_time: opt(DURATION),
  limits: opt("any"),
};
const FRAMEWORK_INFO: Schema = {
  user: req("string"),
  name: req("string"),
  id: opt(ID),
  failover_timeout: opt("double"),
  checkpoint: opt("bool"),
  role: opt("string"),
  roles: rep("string"),
  hostname: opt("string"),
  principal: opt("string"),
  webui_url: opt("string"),
  capabilities: rep({
    type: opt({
      enum: [
        "UNKNOWN",
        "REVOCABLE_RESOURCES",
        "TASK_KILLING_STATE",
        "GPU_RESOURCES",
        "SHARED_RESOURCES",
        "PARTITION_AWARE",
        "MULTI_ROLE",
        "RESERVATION_REFINEMENT",
        "REGION_AWARE",
      ],
    }),
  }),
  labels: opt(LABELS),
  offer_filters: opt("any"),
};
const FILTERS: Schema = { refuse_seconds: opt("double") };
const OPERATION: Schema = {
  type: opt({
    enum: [
      "UNKNOWN",
      "LAUNCH",
      "LAUNCH_GROUP",
      "RESERVE",
      "UNRESERVE",
      "CREATE",
      "DESTROY",
      "GROW_VOLUME",
      "SHRINK_VOLUME",
      "CREATE_DISK",
      "DESTROY_DISK",
    ],
  }),
  id: opt(ID),
  launch: opt({ task_infos: rep(TASK) }),
  launch_group: opt({ executor: req(EXECUTOR), task_group: req({ tasks: rep(TASK) }) }),
  reserve: opt("any"),
  unreserve: opt("any"),
  create: opt("any"),
  destroy: opt("any"),
  grow_volume: opt("any"),
  shrink_volume: opt("any"),
  create_disk: opt("any"),
  destroy_disk: opt("any"),
};
const SUBSCRIBE: Schema = {
  framework_info: req(FRAMEWORK_INFO),
  suppressed_roles: rep("string"),
  offer_constraints: opt("any"),
};

/** Every scheduler call type (include/mesos/v1/scheduler/scheduler.proto). */
export const CALL_TYPES = [
  "UNKNOWN",
  "SUBSCRIBE",
  "TEARDOWN",
  "ACCEPT",
  "DECLINE",
  "ACCEPT_INVERSE_OFFERS",
  "DECLINE_INVERSE_OFFERS",
  "REVIVE",
  "KILL",
  "SHUTDOWN",
  "ACKNOWLEDGE",
  "ACKNOWLEDGE_OPERATION_STATUS",
  "RECONCILE",
  "RECONCILE_OPERATIONS",
  "MESSAGE",
  "REQUEST",
  "SUPPRESS",
  "UPDATE_FRAMEWORK",
] as const;

/** A call type name. */
export type CallType = typeof CALL_TYPES[number];

const CALL: Schema = {
  framework_id: opt(ID),
  type: opt({ enum: CALL_TYPES }),
  subscribe: opt(SUBSCRIBE),
  accept: opt({ offer_ids: rep(ID), operations: rep(OPERATION), filters: opt(FILTERS) }),
  decline: opt({ offer_ids: rep(ID), filters: opt(FILTERS) }),
  accept_inverse_offers: opt({ inverse_offer_ids: rep(ID), filters: opt(FILTERS) }),
  decline_inverse_offers: opt({ inverse_offer_ids: rep(ID), filters: opt(FILTERS) }),
  revive: opt({ roles: rep("string") }),
  kill: opt({
    task_id: req(ID),
    agent_id: opt(ID),
    kill_policy: opt({ grace_period: opt(DURATION) }),
  }),
  shutdown: opt({ executor_id: req(ID), agent_id: req(ID) }),
  acknowledge: opt({ agent_id: req(ID), task_id: req(ID), uuid: req("bytes") }),
  acknowledge_operation_status: opt({
    agent_id: opt(ID),
    resource_provider_id: opt(ID),
    uuid: req("bytes"),
    operation_id: req(ID),
  }),
  reconcile: opt({ tasks: rep({ task_id: req(ID), agent_id: opt(ID) }) }),
  reconcile_operations: opt({
    operations: rep({ operation_id: req(ID), agent_id: opt(ID), resource_provider_id: opt(ID) }),
  }),
  message: opt({ agent_id: req(ID), executor_id: req(ID), data: req("bytes") }),
  request: opt({ requests: rep({ agent_id: opt(ID), resources: rep(RESOURCE) }) }),
  suppress: opt({ roles: rep("string") }),
  update_framework: opt(SUBSCRIBE),
};

function jsonKind(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "object") return "object";
  return typeof v;
}

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function convertScalar(v: unknown, kind: Kind, name: string): unknown {
  const notExpecting = () =>
    new CallParseError(`Not expecting a JSON ${jsonKind(v)} for field '${name}'`);
  if (kind === "any") return v;
  if (kind === "string") {
    if (typeof v !== "string") throw notExpecting();
    return v;
  }
  if (kind === "bytes") {
    if (typeof v !== "string") throw notExpecting();
    if (!BASE64_RE.test(v)) {
      throw new CallParseError(`Failed to base64 decode bytes field '${name}'`);
    }
    return v;
  }
  if (kind === "double" || kind === "int") {
    if (typeof v === "number") {
      if (kind === "int" && !Number.isInteger(v)) throw notExpecting();
      return v;
    }
    if (typeof v === "string") {
      if (kind === "double" && (v === "Infinity" || v === "-Infinity")) return Number(v);
      const n = Number(v);
      if (v.trim() === "" || !Number.isFinite(n) || (kind === "int" && !Number.isInteger(n))) {
        throw new CallParseError(`Failed to convert '${v}' to number for field '${name}'`);
      }
      return n;
    }
    throw notExpecting();
  }
  if (kind === "bool") {
    if (typeof v === "boolean") return v;
    if (v === "true" || v === "false") return v === "true";
    throw notExpecting();
  }
  if ("enum" in kind && Array.isArray(kind.enum)) {
    if (typeof v !== "string") throw notExpecting();
    return v;
  }
  return v;
}

/**
 * Applies the schema to `json` in place (coerced values written back, `null` and
 * dropped enums unset, empty repeated fields unset) and says whether every required
 * field, at any depth, is present. Driven by the keys present: a TaskInfo or a
 * Resource sets a few of its many fields. Unknown keys are left alone: nothing
 * reads them, as the master ignores them. In place, because a launch of a hundred
 * thousand tasks should not copy each TaskInfo.
 */
function convertMessage(json: unknown, schema: Schema, path: string): boolean {
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new CallParseError(`Expecting a JSON object for field '${path || "Call"}'`);
  }
  const obj = json as Record<string, unknown>;
  const info = infoOf(schema);
  let complete = true;
  for (const name in obj) {
    const field = info.fields.get(name);
    if (!field) continue;
    const v = obj[name];
    if (v === undefined || v === null) {
      if (v === null) obj[name] = undefined;
      continue;
    }
    const message = field.message;
    if (field.rule === "repeated") {
      if (!Array.isArray(v)) {
        throw new CallParseError(`Not expecting a JSON ${jsonKind(v)} for field '${name}'`);
      }
      let kept = 0;
      for (let i = 0; i < v.length; i++) {
        if (message) {
          if (!convertMessage(v[i], message, `${path ? `${path}.` : ""}${name}[${i}]`)) {
            complete = false;
          }
          kept++;
          continue;
        }
        const item = convertLeaf(v[i], field, name);
        if (item === undefined) continue; // an unknown enum string: dropped
        v[kept++] = item;
      }
      v.length = kept;
      obj[name] = kept ? v : undefined;
    } else {
      if (Array.isArray(v)) {
        throw new CallParseError(`Not expecting a JSON array for field '${name}'`);
      }
      if (message) {
        if (!convertMessage(v, message, path ? `${path}.${name}` : name)) complete = false;
        continue;
      }
      const value = convertLeaf(v, field, name);
      if (value !== v) obj[name] = value;
    }
  }
  for (const name of info.required) {
    if (obj[name] === undefined) complete = false;
  }
  return complete;
}

/**
 * Names the required fields missing from a converted message, in the master's
 * order: the schema's, each sub-message's own in its place.
 */
function missingFields(obj: Record<string, unknown>, schema: Schema, path: string, out: string[]) {
  for (const [name, field] of infoOf(schema).fields) {
    const v = obj[name];
    const at = path ? `${path}.${name}` : name;
    if (v === undefined) {
      if (field.rule === "required") out.push(at);
      continue;
    }
    const message = field.message;
    if (!message) continue;
    if (field.rule === "repeated") {
      const items = v as Record<string, unknown>[];
      for (let i = 0; i < items.length; i++) missingFields(items[i], message, `${at}[${i}]`, out);
    } else missingFields(v as Record<string, unknown>, message, at, out);
  }
}

interface SchemaInfo {
  fields: Map<string, Field & { message: Schema | null }>;
  required: string[];
}

const INFOS = new WeakMap<Schema, SchemaInfo>();

function infoOf(schema: Schema): SchemaInfo {
  let info = INFOS.get(schema);
  if (!info) {
    info = { fields: new Map(), required: [] };
    for (const [name, field] of Object.entries(schema)) {
      const k = field.kind;
      const message = typeof k === "object" && !isEnum(k) ? k as Schema : null;
      info.fields.set(name, { ...field, message });
      if (field.rule === "required") info.required.push(name);
    }
    INFOS.set(schema, info);
  }
  return info;
}

function isEnum(k: Kind): k is { enum: readonly string[] } {
  return typeof k === "object" && Array.isArray((k as { enum?: unknown }).enum);
}

/** A scalar or enum value converted, or `undefined` for an unknown optional enum string. */
function convertLeaf(item: unknown, field: Field, name: string): unknown {
  const k = field.kind;
  const value = convertScalar(item, k, name);
  if (isEnum(k) && !k.enum.includes(value as string)) {
    if (field.rule === "required") throw new CallParseError(`Failed to find enum for '${value}'`);
    return undefined;
  }
  return value;
}

/** A parsed scheduler call: the JSON body with the protobuf rules applied. */
export interface Call {
  type?: CallType;
  framework_id?: { value: string };
  [key: string]: unknown;
}

/**
 * Converts a parsed JSON body into a Call, or throws `CallParseError` with the
 * master's message (`Missing required fields: subscribe.framework_info.user`).
 */
export function convertCall(json: unknown): Call {
  if (convertMessage(json, CALL, "")) return json as Call;
  const missing: string[] = [];
  missingFields(json as Record<string, unknown>, CALL, "", missing);
  throw new CallParseError(`Missing required fields: ${missing.join(", ")}`);
}

const SUB_OBJECTS: Partial<Record<CallType, string>> = {
  ACCEPT: "accept",
  DECLINE: "decline",
  ACCEPT_INVERSE_OFFERS: "accept_inverse_offers",
  DECLINE_INVERSE_OFFERS: "decline_inverse_offers",
  KILL: "kill",
  SHUTDOWN: "shutdown",
  ACKNOWLEDGE: "acknowledge",
  ACKNOWLEDGE_OPERATION_STATUS: "acknowledge_operation_status",
  RECONCILE: "reconcile",
  RECONCILE_OPERATIONS: "reconcile_operations",
  MESSAGE: "message",
  REQUEST: "request",
  UPDATE_FRAMEWORK: "update_framework",
};

/** Decodes standard base64 into bytes. */
export function decodeBase64(text: string): Uint8Array {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Encodes bytes as standard base64 with padding. */
export function encodeBase64(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** Whether `text` is the base64 of a 16-byte RFC 4122 UUID (stout `UUID::fromBytes`). */
export function isValidUuidBytes(text: string): boolean {
  let bytes: Uint8Array;
  try {
    bytes = decodeBase64(text);
  } catch {
    return false;
  }
  if (bytes.length !== 16) return false;
  const version = bytes[6] >> 4;
  return version >= 1 && version <= 5;
}

/**
 * `scheduler::call::validate` (src/master/validation.cpp): the reason a call is
 * invalid, or `null`. `principal` is the authenticated principal, if any.
 */
export function validateCall(call: Call, principal?: string): string | null {
  if (!call.type) return "Expecting 'type' to be present";
  if (call.type === "SUBSCRIBE") {
    const sub = call.subscribe as {
      framework_info: { id?: { value: string }; principal?: string };
    };
    if (!sub) return "Expecting 'subscribe' to be present";
    const info = sub.framework_info;
    if (
      (call.framework_id === undefined) !== (info.id === undefined) ||
      (call.framework_id && info.id && call.framework_id.value !== info.id.value)
    ) {
      return "'framework_id' differs from 'subscribe.framework_info.id'";
    }
    if (principal !== undefined && info.principal !== undefined && info.principal !== principal) {
      return `Authenticated principal '${principal}' does not match principal '${info.principal}' set in \`FrameworkInfo\``;
    }
    return null;
  }
  if (!call.framework_id) return "Expecting 'framework_id' to be present";
  const sub = SUB_OBJECTS[call.type];
  if (sub && call[sub] === undefined) return `Expecting '${sub}' to be present`;
  if (call.type === "ACKNOWLEDGE") {
    const ack = call.acknowledge as { uuid: string };
    if (!isValidUuidBytes(ack.uuid)) return "Not a valid UUID";
  }
  if (call.type === "ACKNOWLEDGE_OPERATION_STATUS") {
    const ack = call.acknowledge_operation_status as { uuid: string; agent_id?: unknown };
    if (!isValidUuidBytes(ack.uuid)) return "Not a valid UUID";
    if (!ack.agent_id) return "Expecting 'agent_id' to be present";
  }
  if (call.type === "UPDATE_FRAMEWORK") {
    const up = call.update_framework as { framework_info: { id?: { value: string } } };
    if (up.framework_info.id?.value !== call.framework_id.value) {
      return "'framework_id' differs from 'update_framework.framework_info.id'";
    }
  }
  return null;
}
