/**
 * The master's records of frameworks, tasks, offers and agents, and the call
 * bodies it reads.
 *
 * @module
 */
import type { Timer } from "../runtime.ts";
import type { FrameworkInfo, Offer, TaskInfo, TaskState, TaskStatus } from "../mesos/types.ts";
import type { Agent } from "./agent.ts";
import type { ResourceSet } from "./resources.ts";
import type { Subscription } from "./subscription.ts";

export interface RefuseFilter {
  agentId: string;
  role: string;
  resources: ResourceSet;
  expiresAt: number;
}

export interface MasterTask {
  info: TaskInfo;
  frameworkId: string;
  agentId: string;
  role: string;
  state: TaskState;
  statusUpdateState?: TaskState;
  statuses: TaskStatus[];
  resources: ResourceSet;
  freed: boolean;
  unreachableTime?: number;
}

export interface Framework {
  id: string;
  info: FrameworkInfo;
  roles: string[];
  caps: Set<string>;
  sub: Subscription | null;
  active: boolean;
  recovered: boolean;
  suppressed: Set<string>;
  filters: RefuseFilter[];
  offers: Set<string>;
  tasks: Map<string, MasterTask>;
  unreachable: Map<string, MasterTask>;
  completed: MasterTask[];
  failoverTimer: Timer | null;
  registeredTime: number;
  /** Cpus and mem offered to or used by the framework, for the fair-share order. */
  allocCpus: number;
  allocMem: number;
  unregisteredTime?: number;
}

export interface OfferRecord {
  id: string;
  frameworkId: string;
  agentId: string;
  role: string;
  resources: ResourceSet;
  json: Offer;
}

export interface AgentRecord {
  agent: Agent;
  used: ResourceSet;
  offered: ResourceSet;
  state: "active" | "unreachable" | "gone";
  tasks: Map<string, MasterTask>;
  gpu: boolean;
  registeredTime: number;
}

export interface Operation {
  type?: string;
  id?: { value: string };
  launch?: { task_infos?: TaskInfo[] };
  launch_group?: { task_group?: { tasks?: TaskInfo[] } };
}

export interface AcceptBody {
  offer_ids?: { value: string }[];
  operations?: Operation[];
  filters?: { refuse_seconds?: number };
}

export interface KillBody {
  task_id: { value: string };
  agent_id?: { value: string };
  kill_policy?: { grace_period?: { nanoseconds: number } };
}

export interface AckBody {
  agent_id: { value: string };
  task_id: { value: string };
  uuid: string;
}

export interface ReconcileBody {
  tasks?: { task_id: { value: string }; agent_id?: { value: string } }[];
}
