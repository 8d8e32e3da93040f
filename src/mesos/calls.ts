/**
 * Scheduler calls as pure values (include/mesos/v1/scheduler/scheduler.proto `Call`).
 * Builders leave `framework_id` out; the client fills in the id of the current subscription
 * (or use {@linkcode withFrameworkId}). Errata of the official docs are applied: REVIVE and
 * SUPPRESS take `roles` (a list), MESSAGE carries `data`, the ACK `uuid` is raw bytes.
 *
 * @module
 */
import { stringifyMesosJson } from "./json.ts";
import type {
  AgentID,
  ExecutorID,
  Filters,
  FrameworkID,
  FrameworkInfo,
  KillPolicy,
  OfferID,
  OfferOperation,
  OperationID,
  OperationStatus,
  Resource,
  ResourceProviderID,
  TaskID,
  TaskInfo,
  TaskStatus,
} from "./types.ts";

/** An id given as a plain string or as the wire's `{value}` object. */
export type IdLike = string | { value: string };

/** A task to reconcile explicitly. */
export interface ReconcileTask {
  task_id: IdLike;
  agent_id?: IdLike;
}

/** Fields every call has; the client fills in `framework_id` when absent. */
export interface CallBase {
  framework_id?: FrameworkID;
}

/** Options shared by SUBSCRIBE and UPDATE_FRAMEWORK. */
export interface FrameworkCallOptions {
  /** Roles that get no offers until REVIVE. */
  suppressedRoles?: string[];
  /** Offer constraints (passed through unchanged). */
  offerConstraints?: Record<string, unknown>;
}

export type SubscribeCall = CallBase & {
  type: "SUBSCRIBE";
  subscribe: {
    framework_info: FrameworkInfo;
    suppressed_roles?: string[];
    offer_constraints?: Record<string, unknown>;
  };
};
export type UpdateFrameworkCall = CallBase & {
  type: "UPDATE_FRAMEWORK";
  update_framework: {
    framework_info: FrameworkInfo;
    suppressed_roles?: string[];
    offer_constraints?: Record<string, unknown>;
  };
};

/** Every scheduler call. */
export type Call =
  | SubscribeCall
  | UpdateFrameworkCall
  | CallBase & { type: "TEARDOWN" }
  | CallBase & {
    type: "ACCEPT";
    accept: { offer_ids: OfferID[]; operations?: OfferOperation[]; filters?: Filters };
  }
  | CallBase & { type: "DECLINE"; decline: { offer_ids: OfferID[]; filters?: Filters } }
  | CallBase & {
    type: "ACCEPT_INVERSE_OFFERS";
    accept_inverse_offers: { inverse_offer_ids: OfferID[]; filters?: Filters };
  }
  | CallBase & {
    type: "DECLINE_INVERSE_OFFERS";
    decline_inverse_offers: { inverse_offer_ids: OfferID[]; filters?: Filters };
  }
  | CallBase & { type: "REVIVE"; revive?: { roles?: string[] } }
  | CallBase & { type: "SUPPRESS"; suppress?: { roles?: string[] } }
  | CallBase & {
    type: "KILL";
    kill: { task_id: TaskID; agent_id?: AgentID; kill_policy?: KillPolicy };
  }
  | CallBase & { type: "SHUTDOWN"; shutdown: { executor_id: ExecutorID; agent_id: AgentID } }
  | CallBase & {
    type: "ACKNOWLEDGE";
    acknowledge: { agent_id: AgentID; task_id: TaskID; uuid: string };
  }
  | CallBase & {
    type: "ACKNOWLEDGE_OPERATION_STATUS";
    acknowledge_operation_status: {
      agent_id: AgentID;
      resource_provider_id?: ResourceProviderID;
      uuid: string;
      operation_id: OperationID;
    };
  }
  | CallBase & {
    type: "RECONCILE";
    reconcile: { tasks?: { task_id: TaskID; agent_id?: AgentID }[] };
  }
  | CallBase & {
    type: "RECONCILE_OPERATIONS";
    reconcile_operations: {
      operations?: {
        operation_id: OperationID;
        agent_id?: AgentID;
        resource_provider_id?: ResourceProviderID;
      }[];
    };
  }
  | CallBase & {
    type: "MESSAGE";
    message: { agent_id: AgentID; executor_id: ExecutorID; data: string };
  }
  | CallBase & {
    type: "REQUEST";
    request: { requests?: { agent_id?: AgentID; resources?: Resource[] }[] };
  };

/** The `type` of each call. */
export type CallType = Call["type"];

/** `{value}` from a string or an id object. */
export function toId(id: IdLike): { value: string } {
  const value = typeof id === "string" ? id : id?.value;
  if (typeof value !== "string" || value === "") {
    throw new TypeError(`Cannot use id ${JSON.stringify(id)}: expected a non-empty string`);
  }
  return { value };
}

/** Standard base64 with padding, as Mesos writes `bytes` fields. */
export function encodeBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** Decodes a Mesos `bytes` field; throws `TypeError` on bad base64. */
export function decodeBase64(text: string): Uint8Array {
  let binary: string;
  try {
    binary = atob(text);
  } catch {
    throw new TypeError(`Cannot decode base64 "${text.slice(0, 40)}"`);
  }
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

function checkFrameworkInfo(info: FrameworkInfo, what: string): void {
  if (typeof info?.user !== "string" || info.user === "") {
    throw new TypeError(`Cannot build ${what}: framework_info.user is required`);
  }
  if (typeof info.name !== "string" || info.name === "") {
    throw new TypeError(`Cannot build ${what}: framework_info.name is required`);
  }
  if (info.role !== undefined && info.capabilities?.some((c) => c.type === "MULTI_ROLE")) {
    throw new TypeError(
      `Cannot build ${what}: framework_info.role must not be set with MULTI_ROLE, use roles`,
    );
  }
}

function frameworkBody(info: FrameworkInfo, options: FrameworkCallOptions) {
  return {
    framework_info: info,
    ...(options.suppressedRoles?.length ? { suppressed_roles: [...options.suppressedRoles] } : {}),
    ...(options.offerConstraints ? { offer_constraints: options.offerConstraints } : {}),
  };
}

/** Options of {@linkcode subscribe}. */
export interface SubscribeOptions extends FrameworkCallOptions {
  /** Resubscribe as this framework (sets `framework_info.id` and `framework_id`). */
  frameworkId?: IdLike;
}

/**
 * SUBSCRIBE. Without an id the master creates a new framework; with one (here or in
 * `frameworkInfo.id`) it is a resubscription, and the id goes into both places.
 */
export function subscribe(
  frameworkInfo: FrameworkInfo,
  options: SubscribeOptions = {},
): SubscribeCall {
  checkFrameworkInfo(frameworkInfo, "SUBSCRIBE");
  const id = options.frameworkId !== undefined
    ? toId(options.frameworkId)
    : frameworkInfo.id
    ? toId(frameworkInfo.id)
    : undefined;
  const info: FrameworkInfo = { ...frameworkInfo };
  if (id) info.id = id;
  else delete info.id;
  return {
    type: "SUBSCRIBE",
    ...(id ? { framework_id: id } : {}),
    subscribe: frameworkBody(info, options),
  };
}

/** UPDATE_FRAMEWORK (synchronous, 200). `frameworkInfo.id` is required. */
export function updateFramework(
  frameworkInfo: FrameworkInfo,
  options: FrameworkCallOptions = {},
): UpdateFrameworkCall {
  checkFrameworkInfo(frameworkInfo, "UPDATE_FRAMEWORK");
  if (!frameworkInfo.id) {
    throw new TypeError("Cannot build UPDATE_FRAMEWORK: framework_info.id is required");
  }
  const id = toId(frameworkInfo.id);
  return {
    type: "UPDATE_FRAMEWORK",
    framework_id: id,
    update_framework: frameworkBody({ ...frameworkInfo, id }, options),
  };
}

/** TEARDOWN: the framework is removed at once and all its tasks are killed. */
export function teardown(): Call {
  return { type: "TEARDOWN" };
}

/** ACCEPT offers (same agent, same allocation role) with operations. */
export function accept(
  offerIds: IdLike[],
  operations: OfferOperation[],
  filters?: Filters,
): Call {
  if (offerIds.length === 0) throw new TypeError("Cannot build ACCEPT: no offer ids");
  return {
    type: "ACCEPT",
    accept: {
      offer_ids: offerIds.map(toId),
      ...(operations.length ? { operations } : {}),
      ...(filters ? { filters } : {}),
    },
  };
}

/** A LAUNCH operation for {@linkcode accept}. */
export function launch(taskInfos: TaskInfo[]): OfferOperation {
  return { type: "LAUNCH", launch: { task_infos: taskInfos } };
}

/** DECLINE offers; their resources are not re-offered for `filters.refuse_seconds` (default 5). */
export function decline(offerIds: IdLike[], filters?: Filters): Call {
  if (offerIds.length === 0) throw new TypeError("Cannot build DECLINE: no offer ids");
  return {
    type: "DECLINE",
    decline: { offer_ids: offerIds.map(toId), ...(filters ? { filters } : {}) },
  };
}

/** REVIVE: clears all refusal filters of the roles (all roles when empty) and un-suppresses them. */
export function revive(roles: string[] = []): Call {
  return roles.length ? { type: "REVIVE", revive: { roles: [...roles] } } : { type: "REVIVE" };
}

/** SUPPRESS: no more offers for the roles (all roles when empty) until REVIVE. */
export function suppress(roles: string[] = []): Call {
  return roles.length
    ? { type: "SUPPRESS", suppress: { roles: [...roles] } }
    : { type: "SUPPRESS" };
}

/** Options of {@linkcode kill}. */
export interface KillOptions {
  /** Overrides the task's grace period for this kill. */
  killPolicy?: KillPolicy;
}

/** KILL a task. An unknown task is answered by a reconciliation update. */
export function kill(taskId: IdLike, agentId?: IdLike, options: KillOptions = {}): Call {
  return {
    type: "KILL",
    kill: {
      task_id: toId(taskId),
      ...(agentId !== undefined ? { agent_id: toId(agentId) } : {}),
      ...(options.killPolicy ? { kill_policy: options.killPolicy } : {}),
    },
  };
}

/** SHUTDOWN a custom executor. */
export function shutdown(executorId: IdLike, agentId: IdLike): Call {
  return { type: "SHUTDOWN", shutdown: { executor_id: toId(executorId), agent_id: toId(agentId) } };
}

/** UUIDs in ACKNOWLEDGE must be 16 bytes (stout `UUID::fromBytes`). */
const UUID_BYTES = 16;

/** 16 bytes in base64: 22 characters, with or without the padding (the common case, no decoding). */
const UUID_BASE64 = /^[A-Za-z0-9+/]{22}(?:==)?$/;

function checkUuid(uuid: string, what: string): void {
  if (typeof uuid === "string" && UUID_BASE64.test(uuid)) return;
  let bytes: Uint8Array;
  try {
    bytes = decodeBase64(uuid);
  } catch {
    throw new TypeError(`Cannot build ${what}: uuid "${uuid}" is not base64`);
  }
  if (bytes.length !== UUID_BYTES) {
    throw new TypeError(
      `Cannot build ${what}: uuid "${uuid}" is ${bytes.length} bytes, expected 16`,
    );
  }
}

/**
 * ACKNOWLEDGE a status update. `uuid` is the update's base64 `uuid`, echoed exactly.
 * Never acknowledge an update without a uuid: there is nothing to acknowledge.
 */
export function acknowledge(agentId: IdLike, taskId: IdLike, uuid: string): Call {
  checkUuid(uuid, "ACKNOWLEDGE");
  return {
    type: "ACKNOWLEDGE",
    acknowledge: { agent_id: toId(agentId), task_id: toId(taskId), uuid },
  };
}

/**
 * The ACKNOWLEDGE for a status, or null when the status carries no uuid (master-generated
 * updates and reconciliation answers are not acknowledged).
 */
export function acknowledgeStatus(status: TaskStatus): Call | null {
  if (!status.uuid) return null;
  if (!status.agent_id) {
    throw new TypeError(
      `Cannot acknowledge update for task "${status.task_id.value}": it has no agent_id`,
    );
  }
  return acknowledge(status.agent_id, status.task_id, status.uuid);
}

/** ACKNOWLEDGE_OPERATION_STATUS; null when the status has no uuid. */
export function acknowledgeOperationStatus(status: OperationStatus): Call | null {
  if (!status.uuid?.value) return null;
  if (!status.agent_id || !status.operation_id) {
    throw new TypeError(
      "Cannot build ACKNOWLEDGE_OPERATION_STATUS: the status has no agent_id or operation_id",
    );
  }
  checkUuid(status.uuid.value, "ACKNOWLEDGE_OPERATION_STATUS");
  return {
    type: "ACKNOWLEDGE_OPERATION_STATUS",
    acknowledge_operation_status: {
      agent_id: status.agent_id,
      ...(status.resource_provider_id ? { resource_provider_id: status.resource_provider_id } : {}),
      uuid: status.uuid.value,
      operation_id: status.operation_id,
    },
  };
}

/** RECONCILE: explicit for the listed tasks, implicit (every task the master knows) when empty. */
export function reconcile(tasks: ReconcileTask[] = []): Call {
  if (tasks.length === 0) return { type: "RECONCILE", reconcile: {} };
  return {
    type: "RECONCILE",
    reconcile: {
      tasks: tasks.map((t) => ({
        task_id: toId(t.task_id),
        ...(t.agent_id !== undefined ? { agent_id: toId(t.agent_id) } : {}),
      })),
    },
  };
}

const textEncoder = new TextEncoder();

/** MESSAGE to an executor (unreliable). A string `data` is sent as its UTF-8 bytes. */
export function message(agentId: IdLike, executorId: IdLike, data: Uint8Array | string): Call {
  const bytes = typeof data === "string" ? textEncoder.encode(data) : data;
  return {
    type: "MESSAGE",
    message: { agent_id: toId(agentId), executor_id: toId(executorId), data: encodeBase64(bytes) },
  };
}

/** The call with `framework_id` set (SUBSCRIBE: also `framework_info.id`). */
export function withFrameworkId<C extends Call>(call: C, frameworkId: IdLike): C {
  const id = toId(frameworkId);
  if (call.type === "SUBSCRIBE") {
    return {
      ...call,
      framework_id: id,
      subscribe: { ...call.subscribe, framework_info: { ...call.subscribe.framework_info, id } },
    };
  }
  return { ...call, framework_id: id };
}

/** The call as the JSON body the master expects. */
export function encodeCall(call: Call): string {
  if (call.type === "ACKNOWLEDGE") {
    // One per status update: written as text, the same JSON as from the object.
    const a = call.acknowledge;
    const fw = call.framework_id?.value;
    if (
      typeof a.agent_id.value === "string" && typeof a.task_id.value === "string" &&
      typeof a.uuid === "string" && Object.keys(call).length === (fw === undefined ? 2 : 3) &&
      Object.keys(a).length === 3 && Object.keys(a.agent_id).length === 1 &&
      Object.keys(a.task_id).length === 1 &&
      (fw === undefined || (typeof fw === "string" && Object.keys(call.framework_id!).length === 1))
    ) {
      const head = `{"type":"ACKNOWLEDGE","acknowledge":{"agent_id":{"value":${
        JSON.stringify(a.agent_id.value)
      }},"task_id":{"value":${JSON.stringify(a.task_id.value)}},"uuid":${JSON.stringify(a.uuid)}}`;
      return fw === undefined
        ? head + "}"
        : `${head},"framework_id":{"value":${JSON.stringify(fw)}}}`;
    }
  }
  return stringifyMesosJson(call);
}
