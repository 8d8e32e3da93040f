/**
 * The stored task record, its creation from a request, and the v1/v0 views the
 * API returns (with `masked_env` values replaced by `*******`).
 *
 * @module
 */
import type { z } from "zod";
import type {
  ConstraintSchema,
  FetchSchema,
  ParameterSchema,
  PortSchema,
  TaskRequest,
  VolumeSchema,
} from "./request.ts";
import { appendStatus, type StatusEntry, type TaskState } from "./state.ts";

export type Volume = z.output<typeof VolumeSchema>;
export type Port = z.output<typeof PortSchema>;
export type Constraint = z.output<typeof ConstraintSchema>;
export type FetchUri = z.output<typeof FetchSchema>;
export type Parameter = z.output<typeof ParameterSchema>;

/**
 * A task as stored. API field names; `masked_env` holds the real values (masking
 * happens only when a task leaves the process, fixing D5).
 */
export interface TaskRecord extends TaskRequest {
  id: string;
  /** Submission order: the queue is the queued tasks sorted by `seq`. */
  seq: number;
  user: string;
  status: StatusEntry[];
  framework_id: string;
  agent_id: string;
  hostname: string;
  retry: number;
  sandbox_path: string;
  agent_ip: string;
  agent_port: number;
  /** The Mesos task id of the current attempt (`<id>` for the first, `<id>.retry-N` after). */
  mesos_task_id: string;
  /** Milliseconds since the epoch when the task was accepted. */
  submitted_at: number;
  /** Earliest time (ms) the current attempt may launch (retry back-off). */
  not_before: number;
}

/** The value shown instead of a masked environment value. */
export const MASK = "*******";

/** Task id prefix (reference §4.1). */
export const TASK_ID_PREFIX = "eremetic-task.";

const NAME_ALPHABET = "bcdfghjklmnpqrstvwxzBCDFGHJKLMNPQRSTVWXZ123456789";

/** `Eremetic task XXXXXXXX` with 8 random characters, as the original names tasks. */
export function defaultTaskName(random: () => number = Math.random): string {
  let s = "";
  for (let i = 0; i < 8; i++) s += NAME_ALPHABET[Math.floor(random() * NAME_ALPHABET.length)];
  return `Eremetic task ${s}`;
}

export interface NewTaskOptions {
  /** A UUID; the task id is `eremetic-task.<uuid>`. */
  uuid: string;
  /** Milliseconds since the epoch. */
  now: number;
  random?: () => number;
}

/** Builds the record of a newly accepted task, in state `TASK_QUEUED`. `seq` is set by the store. */
export function newTaskRecord(request: TaskRequest, { uuid, now, random }: NewTaskOptions) {
  const id = TASK_ID_PREFIX + uuid;
  const record: TaskRecord = {
    ...request,
    name: request.name || defaultTaskName(random),
    id,
    seq: 0,
    user: "root",
    status: appendStatus([], "TASK_QUEUED", Math.floor(now / 1000)),
    framework_id: "",
    agent_id: "",
    hostname: "",
    retry: 0,
    sandbox_path: "",
    agent_ip: "",
    agent_port: 0,
    mesos_task_id: id,
    submitted_at: now,
    not_before: 0,
  };
  return record;
}

function masked(env: Record<string, string> | null): Record<string, string> | null {
  if (env === null) return null;
  return Object.fromEntries(Object.keys(env).map((k) => [k, MASK]));
}

/**
 * `env` as shown: a key that is also in `masked_env` is masked too, since the masked
 * value wins at launch and must never be shown (reference §2.3; E2 sends both).
 */
function shownEnv(t: TaskRecord): Record<string, string> | null {
  const { env, masked_env } = t;
  if (env === null || masked_env === null) return env;
  if (!Object.keys(env).some((k) => Object.hasOwn(masked_env, k))) return env;
  return Object.fromEntries(
    Object.entries(env).map(([k, v]) => [k, Object.hasOwn(masked_env, k) ? MASK : v]),
  );
}

/**
 * Fetch URIs in the original's key order (`uri, executable, extract, cache`), whatever
 * order a stored document or an older version of this program kept them in.
 */
function fetchView(list: FetchUri[] | null): FetchUri[] | null {
  return list && list.map((f) => ({
    uri: f.uri,
    executable: f.executable,
    extract: f.extract,
    cache: f.cache,
  }));
}

/** Ports as `container_port, host_port, protocol` (the scheduler fills `host_port` later). */
function portsView(list: Port[] | null): Port[] | null {
  return list && list.map((p) => ({
    container_port: p.container_port,
    host_port: p.host_port,
    protocol: p.protocol,
  }));
}

/** The v1 task object (reference §3.1): every key, in order, then this implementation's additions. */
export function toTaskV1(t: TaskRecord) {
  return {
    cpu: t.cpu,
    mem: t.mem,
    command: t.command,
    args: t.args,
    user: t.user,
    env: shownEnv(t),
    masked_env: masked(t.masked_env),
    labels: t.labels,
    image: t.image,
    volumes: t.volumes,
    volumes_from: t.volumes_from,
    ports: portsView(t.ports),
    status: t.status,
    id: t.id,
    name: t.name,
    network: t.network,
    dns: t.dns,
    framework_id: t.framework_id,
    agent_id: t.agent_id,
    agent_constraints: t.agent_constraints,
    hostname: t.hostname,
    retry: t.retry,
    callback_uri: t.callback_uri,
    sandbox_path: t.sandbox_path,
    agent_ip: t.agent_ip,
    agent_port: t.agent_port,
    force_pull_image: t.force_pull_image,
    privileged: t.privileged,
    fetch: fetchView(t.fetch),
    // Additions of this implementation, after the original keys.
    disk: t.disk,
    gpus: t.gpus,
    role: t.role,
    max_retries: t.max_retries,
    timeout_seconds: t.timeout_seconds,
    parameters: t.parameters,
    callback_events: t.callback_events,
  };
}

export type TaskV1 = ReturnType<typeof toTaskV1>;

/** The legacy v0 task object (reference §3.2): exactly the original key set and order. */
export function toTaskV0(t: TaskRecord) {
  return {
    task_cpus: t.cpu,
    task_mem: t.mem,
    command: t.command,
    args: t.args,
    user: t.user,
    env: shownEnv(t),
    masked_env: masked(t.masked_env),
    labels: t.labels,
    image: t.image,
    volumes: t.volumes,
    ports: portsView(t.ports),
    status: t.status,
    id: t.id,
    name: t.name,
    network: t.network,
    dns: t.dns,
    framework_id: t.framework_id,
    slave_id: t.agent_id,
    slave_constraints: t.agent_constraints,
    hostname: t.hostname,
    retry: t.retry,
    callback_uri: t.callback_uri,
    sandbox_path: t.sandbox_path,
    agent_ip: t.agent_ip,
    agent_port: t.agent_port,
    force_pull_image: t.force_pull_image,
    privileged: t.privileged,
    fetch: fetchView(t.fetch),
  };
}

export type TaskV0 = ReturnType<typeof toTaskV0>;

/** The current state of a record. */
export function stateOf(t: { status: StatusEntry[] }): TaskState | undefined {
  return t.status.at(-1)?.status;
}
