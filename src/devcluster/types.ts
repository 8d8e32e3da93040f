/**
 * Mesos v1 JSON shapes as the development cluster reads and writes them: its own
 * loose copies of the message shapes (field names are the real protobuf names);
 * task states and the terminal rule come from `src/mesos/types.ts`, the only part
 * of the client it uses.
 *
 * @module
 */
import type { TaskState } from "../mesos/types.ts";

/** `{ "value": "..." }` ids: FrameworkID, AgentID, TaskID, OfferID, ExecutorID. */
export interface Id {
  value: string;
}

/** A `Value.Range`, inclusive. */
export interface Range {
  begin: number;
  end: number;
}

/** A Mesos `Resource` as JSON. */
export interface Resource {
  name: string;
  type: "SCALAR" | "RANGES" | "SET";
  scalar?: { value: number };
  ranges?: { range: Range[] };
  set?: { item: string[] };
  role?: string;
  allocation_info?: { role: string };
  reservation?: unknown;
  reservations?: unknown[];
  [key: string]: unknown;
}

/** A Mesos `Attribute` as JSON. */
export interface Attribute {
  name: string;
  type: "SCALAR" | "RANGES" | "SET" | "TEXT";
  scalar?: { value: number };
  ranges?: { range: Range[] };
  set?: { item: string[] };
  text?: { value: string };
}

/** `Labels`. */
export interface Labels {
  labels?: { key: string; value?: string }[];
}

/** A `FrameworkInfo` after parsing. */
export interface FrameworkInfo {
  user: string;
  name: string;
  id?: Id;
  failover_timeout?: number;
  checkpoint?: boolean;
  role?: string;
  roles?: string[];
  hostname?: string;
  principal?: string;
  webui_url?: string;
  capabilities?: { type?: string }[];
  labels?: Labels;
  [key: string]: unknown;
}

/** `Environment.Variable`. */
export interface EnvironmentVariable {
  name: string;
  type?: "UNKNOWN" | "VALUE" | "SECRET";
  value?: string;
  secret?: unknown;
}

/** `CommandInfo.URI`. */
export interface CommandUri {
  value: string;
  executable?: boolean;
  extract?: boolean;
  cache?: boolean;
  output_file?: string;
}

/** `CommandInfo`. */
export interface CommandInfo {
  uris?: CommandUri[];
  environment?: { variables?: EnvironmentVariable[] };
  shell?: boolean;
  value?: string;
  arguments?: string[];
  user?: string;
}

/** `ContainerInfo` (only what the devcluster looks at is typed). */
export interface ContainerInfo {
  type: "DOCKER" | "MESOS";
  docker?: {
    image: string;
    network?: string;
    parameters?: { key: string; value: string }[];
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

/** `DurationInfo`. */
export interface DurationInfo {
  nanoseconds: number;
}

/** `TaskInfo`. */
export interface TaskInfo {
  name: string;
  task_id: Id;
  agent_id: Id;
  resources?: Resource[];
  executor?: { executor_id: Id; command?: CommandInfo; [key: string]: unknown };
  command?: CommandInfo;
  container?: ContainerInfo;
  kill_policy?: { grace_period?: DurationInfo };
  labels?: Labels;
  [key: string]: unknown;
}

// States and Mesos's terminal rule are shared with the scheduler client.
export type { TaskState } from "../mesos/types.ts";
export { isTerminalState } from "../mesos/types.ts";

/** `TaskStatus`. */
export interface TaskStatus {
  task_id: Id;
  state: TaskState;
  message?: string;
  source?: "SOURCE_MASTER" | "SOURCE_AGENT" | "SOURCE_EXECUTOR";
  reason?: string;
  agent_id?: Id;
  executor_id?: Id;
  timestamp?: number;
  uuid?: string;
  data?: string;
  healthy?: boolean;
  container_status?: {
    container_id?: Id;
    executor_pid?: number;
    [key: string]: unknown;
  };
  unreachable_time?: { nanoseconds: number };
  labels?: Labels;
}

/** `MasterInfo`. */
export interface MasterInfo {
  id: string;
  ip: number;
  port: number;
  pid: string;
  hostname: string;
  version: string;
  address: { hostname: string; ip: string; port: number };
  capabilities: { type: string }[];
}

/** An `Offer`. */
export interface Offer {
  id: Id;
  framework_id: Id;
  agent_id: Id;
  hostname: string;
  url: {
    scheme: string;
    address: { hostname: string; ip: string; port: number };
    path: string;
  };
  resources: Resource[];
  attributes?: Attribute[];
  allocation_info?: { role: string };
}

/** A scheduler `Event`. */
export interface Event {
  type: string;
  [key: string]: unknown;
}

/** The version string the devcluster reports, as a Mesos 1.11 master would. */
export const MESOS_VERSION = "1.11.0";
