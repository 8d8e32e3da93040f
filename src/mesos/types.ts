/**
 * TypeScript shapes of the Mesos v1 JSON (include/mesos/v1/mesos.proto and
 * scheduler.proto), field names exactly as on the wire (snake_case).
 *
 * Encoding facts worth knowing (reference §1.5):
 * - `bytes` fields (`uuid`, `data`) are standard base64 strings with padding; keep them as
 *   strings and echo them verbatim (an ACKNOWLEDGE must carry the update's `uuid` unchanged).
 * - int64 values can exceed 2^53: `TimeInfo.nanoseconds` (~1.7e18) does. Parsed events
 *   carry every `nanoseconds` as a `bigint`; calls accept `number | bigint`.
 * - Unset optional fields with an explicit proto default are emitted anyway
 *   (`CommandInfo.shell: true`, `Filters.refuse_seconds: 5.0`, …); empty arrays are omitted.
 *
 * @module
 */

/** `{value}` identifiers. */
export interface FrameworkID {
  value: string;
}
export interface AgentID {
  value: string;
}
export interface OfferID {
  value: string;
}
export interface TaskID {
  value: string;
}
export interface ExecutorID {
  value: string;
}
export interface ContainerID {
  value: string;
  parent?: ContainerID;
}
export interface OperationID {
  value: string;
}
export interface ResourceProviderID {
  value: string;
}

/** Nanoseconds since the epoch. Parsed events always hold a `bigint`. */
export interface TimeInfo {
  nanoseconds: number | bigint;
}
/** A duration in nanoseconds. Parsed events always hold a `bigint`. */
export interface DurationInfo {
  nanoseconds: number | bigint;
}

// ---------------------------------------------------------------------------------------
// Values, resources, attributes

export type ValueType = "SCALAR" | "RANGES" | "SET" | "TEXT";
export interface Scalar {
  value: number;
}
/** An inclusive range, `begin <= end`; a single port is `{begin: p, end: p}`. */
export interface Range {
  begin: number;
  end: number;
}
export interface Ranges {
  range?: Range[];
}
export interface ValueSet {
  item?: string[];
}
export interface Text {
  value: string;
}

export interface Label {
  key: string;
  value?: string;
}
export interface Labels {
  labels?: Label[];
}

export interface AllocationInfo {
  role?: string;
}

/** A reservation in the RESERVATION_REFINEMENT format. */
export interface ReservationInfo {
  type?: "UNKNOWN" | "STATIC" | "DYNAMIC";
  role?: string;
  principal?: string;
  labels?: Labels;
}

export interface Resource {
  name: string;
  type: "SCALAR" | "RANGES" | "SET";
  scalar?: Scalar;
  ranges?: Ranges;
  set?: ValueSet;
  /** Deprecated but still emitted to frameworks without RESERVATION_REFINEMENT: `"*"` = unreserved. */
  role?: string;
  /** Dynamic reservation (pre-refinement format). */
  reservation?: { principal?: string; labels?: Labels };
  /** Reservation stack (RESERVATION_REFINEMENT format); empty = unreserved. */
  reservations?: ReservationInfo[];
  allocation_info?: AllocationInfo;
  provider_id?: ResourceProviderID;
  disk?: {
    persistence?: { id: string; principal?: string };
    volume?: Volume;
    source?: Record<string, unknown>;
  };
  revocable?: Record<string, never>;
  shared?: Record<string, never>;
}

export interface Attribute {
  name: string;
  type: ValueType;
  scalar?: Scalar;
  ranges?: Ranges;
  set?: ValueSet;
  text?: Text;
}

// ---------------------------------------------------------------------------------------
// Framework and master

export type FrameworkCapabilityType =
  | "UNKNOWN"
  | "REVOCABLE_RESOURCES"
  | "TASK_KILLING_STATE"
  | "GPU_RESOURCES"
  | "SHARED_RESOURCES"
  | "PARTITION_AWARE"
  | "MULTI_ROLE"
  | "RESERVATION_REFINEMENT"
  | "REGION_AWARE";

export interface FrameworkInfo {
  /** Required: the Unix user tasks run as (CommandInfo.user overrides it). Immutable. */
  user: string;
  /** Required: display name. */
  name: string;
  /** Absent on the first SUBSCRIBE; set (and equal to the call's `framework_id`) to resubscribe. */
  id?: FrameworkID;
  /** Seconds the master keeps the framework's tasks after a disconnect; default 0 = none. */
  failover_timeout?: number;
  checkpoint?: boolean;
  /** Deprecated single role; must not be set together with MULTI_ROLE. */
  role?: string;
  /** Needs the MULTI_ROLE capability. */
  roles?: string[];
  hostname?: string;
  principal?: string;
  webui_url?: string;
  capabilities?: { type: FrameworkCapabilityType }[];
  labels?: Labels;
  offer_filters?: Record<string, unknown>;
}

export interface Address {
  hostname?: string;
  ip?: string;
  port: number;
}

export interface URLInfo {
  scheme: string;
  address: Address;
  path?: string;
  query?: { key: string; value?: string }[];
  fragment?: string;
}

export interface MasterInfo {
  id: string;
  /** Deprecated little-endian IPv4 quirk; prefer `address.ip`. */
  ip: number;
  port: number;
  pid?: string;
  hostname?: string;
  version?: string;
  address?: Address;
  domain?: DomainInfo;
  capabilities?: { type: string }[];
}

export interface DomainInfo {
  fault_domain?: { region: { name: string }; zone: { name: string } };
}

export interface Unavailability {
  start: TimeInfo;
  duration?: DurationInfo;
}

// ---------------------------------------------------------------------------------------
// Offers

export interface Offer {
  id: OfferID;
  framework_id: FrameworkID;
  agent_id: AgentID;
  hostname: string;
  url?: URLInfo;
  domain?: DomainInfo;
  resources?: Resource[];
  attributes?: Attribute[];
  executor_ids?: ExecutorID[];
  unavailability?: Unavailability;
  allocation_info?: AllocationInfo;
}

export interface InverseOffer {
  id: OfferID;
  url?: URLInfo;
  framework_id: FrameworkID;
  agent_id?: AgentID;
  unavailability: Unavailability;
  resources?: Resource[];
}

export interface Filters {
  /** Default 5.0; 0 = no filter; capped at 365 days by the master. */
  refuse_seconds?: number;
}

// ---------------------------------------------------------------------------------------
// Tasks

export interface EnvironmentVariable {
  name: string;
  type?: "UNKNOWN" | "VALUE" | "SECRET";
  value?: string;
  secret?: Record<string, unknown>;
}
export interface Environment {
  variables?: EnvironmentVariable[];
}

export interface CommandURI {
  value: string;
  executable?: boolean;
  /** Default true: archives are unpacked into the sandbox. */
  extract?: boolean;
  cache?: boolean;
  output_file?: string;
}

export interface CommandInfo {
  uris?: CommandURI[];
  environment?: Environment;
  /** Default true: `value` runs under `/bin/sh -c` (for Docker, replacing the ENTRYPOINT). */
  shell?: boolean;
  value?: string;
  /** Used only when `shell` is false. */
  arguments?: string[];
  user?: string;
}

export interface Parameter {
  key: string;
  value: string;
}

export interface PortMapping {
  host_port: number;
  container_port: number;
  protocol?: string;
}

export interface DockerInfo {
  image: string;
  /** Default HOST. */
  network?: "HOST" | "BRIDGE" | "NONE" | "USER";
  port_mappings?: PortMapping[];
  privileged?: boolean;
  /** `docker run --key=value`; the key `name` is forbidden by the master. */
  parameters?: Parameter[];
  force_pull_image?: boolean;
  volume_driver?: string;
}

export interface Volume {
  container_path: string;
  mode: "RW" | "RO";
  host_path?: string;
  image?: Record<string, unknown>;
  source?: {
    type?: "UNKNOWN" | "DOCKER_VOLUME" | "HOST_PATH" | "SANDBOX_PATH" | "SECRET" | "CSI_VOLUME";
    docker_volume?: { name: string; driver?: string; driver_options?: Record<string, unknown> };
    host_path?: { path: string };
    sandbox_path?: { type?: "SELF" | "PARENT"; path: string };
    [key: string]: unknown;
  };
}

export interface NetworkInfo {
  ip_addresses?: { protocol?: "IPv4" | "IPv6"; ip_address?: string }[];
  name?: string;
  groups?: string[];
  labels?: Labels;
  port_mappings?: PortMapping[];
}

export interface ContainerInfo {
  type: "DOCKER" | "MESOS";
  volumes?: Volume[];
  hostname?: string;
  docker?: DockerInfo;
  mesos?: { image?: Record<string, unknown> };
  network_infos?: NetworkInfo[];
  linux_info?: Record<string, unknown>;
}

export interface KillPolicy {
  grace_period?: DurationInfo;
}

export interface DiscoveryInfo {
  visibility: "FRAMEWORK" | "CLUSTER" | "EXTERNAL";
  name?: string;
  environment?: string;
  location?: string;
  version?: string;
  ports?: { ports?: { number: number; name?: string; protocol?: string }[] };
  labels?: Labels;
}

export interface ExecutorInfo {
  executor_id: ExecutorID;
  type?: "UNKNOWN" | "DEFAULT" | "CUSTOM";
  framework_id?: FrameworkID;
  command?: CommandInfo;
  container?: ContainerInfo;
  resources?: Resource[];
  name?: string;
  [key: string]: unknown;
}

export interface TaskInfo {
  name: string;
  task_id: TaskID;
  agent_id: AgentID;
  resources?: Resource[];
  executor?: ExecutorInfo;
  command?: CommandInfo;
  container?: ContainerInfo;
  health_check?: Record<string, unknown>;
  check?: Record<string, unknown>;
  kill_policy?: KillPolicy;
  /** Opaque bytes (base64). */
  data?: string;
  labels?: Labels;
  discovery?: DiscoveryInfo;
  max_completion_time?: DurationInfo;
  limits?: Record<string, { value: number }>;
}

// ---------------------------------------------------------------------------------------
// Status updates

/** Every TaskState (mesos.proto). */
export const TASK_STATES = [
  "TASK_STAGING",
  "TASK_STARTING",
  "TASK_RUNNING",
  "TASK_KILLING",
  "TASK_FINISHED",
  "TASK_FAILED",
  "TASK_KILLED",
  "TASK_ERROR",
  "TASK_LOST",
  "TASK_DROPPED",
  "TASK_UNREACHABLE",
  "TASK_GONE",
  "TASK_GONE_BY_OPERATOR",
  "TASK_UNKNOWN",
] as const;
export type TaskState = typeof TASK_STATES[number];

/**
 * States Mesos treats as terminal (src/common/protobuf_utils.cpp `isTerminalState`).
 * `TASK_UNREACHABLE` and `TASK_UNKNOWN` are not terminal for Mesos; a scheduler may decide
 * otherwise for its own bookkeeping.
 */
export const MESOS_TERMINAL_STATES: ReadonlySet<TaskState> = new Set<TaskState>([
  "TASK_FINISHED",
  "TASK_FAILED",
  "TASK_KILLED",
  "TASK_ERROR",
  "TASK_LOST",
  "TASK_DROPPED",
  "TASK_GONE",
  "TASK_GONE_BY_OPERATOR",
]);

/** Whether Mesos considers `state` terminal. */
export function isTerminalState(state: TaskState): boolean {
  return MESOS_TERMINAL_STATES.has(state);
}

export type TaskStatusSource = "SOURCE_MASTER" | "SOURCE_AGENT" | "SOURCE_EXECUTOR";

/** Every TaskStatus.Reason (mesos.proto, v1 names). */
export const TASK_STATUS_REASONS = [
  "REASON_COMMAND_EXECUTOR_FAILED",
  "REASON_CONTAINER_LAUNCH_FAILED",
  "REASON_CONTAINER_LIMITATION",
  "REASON_CONTAINER_LIMITATION_DISK",
  "REASON_CONTAINER_LIMITATION_MEMORY",
  "REASON_CONTAINER_PREEMPTED",
  "REASON_CONTAINER_UPDATE_FAILED",
  "REASON_MAX_COMPLETION_TIME_REACHED",
  "REASON_EXECUTOR_REGISTRATION_TIMEOUT",
  "REASON_EXECUTOR_REREGISTRATION_TIMEOUT",
  "REASON_EXECUTOR_TERMINATED",
  "REASON_EXECUTOR_UNREGISTERED",
  "REASON_FRAMEWORK_REMOVED",
  "REASON_GC_ERROR",
  "REASON_INVALID_FRAMEWORKID",
  "REASON_INVALID_OFFERS",
  "REASON_IO_SWITCHBOARD_EXITED",
  "REASON_MASTER_DISCONNECTED",
  "REASON_RECONCILIATION",
  "REASON_RESOURCES_UNKNOWN",
  "REASON_AGENT_DISCONNECTED",
  "REASON_AGENT_DRAINING",
  "REASON_AGENT_REMOVED",
  "REASON_AGENT_REMOVED_BY_OPERATOR",
  "REASON_AGENT_REREGISTERED",
  "REASON_AGENT_RESTARTED",
  "REASON_AGENT_UNKNOWN",
  "REASON_TASK_KILLED_DURING_LAUNCH",
  "REASON_TASK_CHECK_STATUS_UPDATED",
  "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED",
  "REASON_TASK_GROUP_INVALID",
  "REASON_TASK_GROUP_UNAUTHORIZED",
  "REASON_TASK_INVALID",
  "REASON_TASK_UNAUTHORIZED",
  "REASON_TASK_UNKNOWN",
] as const;
/** A known reason, or any other string a newer master may send. */
// deno-lint-ignore ban-types
export type TaskStatusReason = typeof TASK_STATUS_REASONS[number] | (string & {});

export interface ContainerStatus {
  container_id?: ContainerID;
  network_infos?: NetworkInfo[];
  cgroup_info?: Record<string, unknown>;
  executor_pid?: number;
}

export interface TaskStatus {
  task_id: TaskID;
  state: TaskState;
  message?: string;
  source?: TaskStatusSource;
  reason?: TaskStatusReason;
  /** base64 bytes (the Docker executor puts `docker inspect` output in TASK_RUNNING). */
  data?: string;
  agent_id?: AgentID;
  executor_id?: ExecutorID;
  /** Seconds since the epoch (a double). */
  timestamp?: number;
  /** base64 of 16 bytes; present exactly when the update is reliable and must be acknowledged. */
  uuid?: string;
  healthy?: boolean;
  check_status?: Record<string, unknown>;
  labels?: Labels;
  container_status?: ContainerStatus;
  unreachable_time?: TimeInfo;
  limitation?: { resources?: Resource[] };
}

export type OperationState =
  | "OPERATION_UNSUPPORTED"
  | "OPERATION_PENDING"
  | "OPERATION_FINISHED"
  | "OPERATION_FAILED"
  | "OPERATION_ERROR"
  | "OPERATION_DROPPED"
  | "OPERATION_UNREACHABLE"
  | "OPERATION_GONE_BY_OPERATOR"
  | "OPERATION_RECOVERING"
  | "OPERATION_UNKNOWN";

export interface OperationStatus {
  operation_id?: OperationID;
  state: OperationState;
  message?: string;
  converted_resources?: Resource[];
  /** A message here, unlike TaskStatus: `{value: <base64>}`. */
  uuid?: { value: string };
  agent_id?: AgentID;
  resource_provider_id?: ResourceProviderID;
}

// ---------------------------------------------------------------------------------------
// Offer operations (inside ACCEPT)

export type OfferOperation =
  | { type: "LAUNCH"; id?: OperationID; launch: { task_infos: TaskInfo[] } }
  | {
    type: "LAUNCH_GROUP";
    id?: OperationID;
    launch_group: { executor: ExecutorInfo; task_group: { tasks: TaskInfo[] } };
  }
  | { type: "RESERVE"; id?: OperationID; reserve: { resources: Resource[]; source?: Resource[] } }
  | { type: "UNRESERVE"; id?: OperationID; unreserve: { resources: Resource[] } }
  | { type: "CREATE"; id?: OperationID; create: { volumes: Resource[] } }
  | { type: "DESTROY"; id?: OperationID; destroy: { volumes: Resource[] } };
