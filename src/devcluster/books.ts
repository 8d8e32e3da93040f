/**
 * The leading master's records (frameworks, agents, offers, the agents still
 * expected to reregister) and the bookkeeping every part of the master shares:
 * charging a framework's allocation, withdrawing an offer, freeing a task's
 * resources, and sending events to a framework. No timers, no HTTP.
 *
 * @module
 */
import type {
  FrameworkInfo,
  OperationState,
  OperationStatus,
  TaskState,
  TaskStatus,
} from "../mesos/types.ts";
import type { Agent } from "./agent.ts";
import type { AgentRecord, Framework, MasterTask, OfferRecord } from "./model.ts";
import { masterStatus } from "./reconcile.ts";
import { ResourceSet } from "./resources.ts";
import type { Event } from "../mesos/events.ts";

/** Completed tasks kept per framework (Mesos `--max_completed_tasks_per_framework`). */
export const MAX_COMPLETED_TASKS = 1000;
/** Completed frameworks kept (Mesos `--max_completed_frameworks`). */
export const MAX_COMPLETED_FRAMEWORKS = 50;

/** The key of a task in an agent's record: framework id and task id. */
export function taskKey(frameworkId: string, taskId: string): string {
  return `${frameworkId}\u0000${taskId}`;
}

/** A leading master's records and their shared bookkeeping. */
export class MasterBooks {
  readonly frameworks = new Map<string, Framework>();
  readonly completedFrameworks: Framework[] = [];
  /** Ids of removed frameworks: they may not subscribe again. */
  readonly removedIds = new Set<string>();
  readonly agents = new Map<string, AgentRecord>();
  readonly offers = new Map<string, OfferRecord>();
  /** Agent ids of the registry still expected to reregister. */
  readonly recovering: Set<string>;
  /** Counters for benchmarks and tests. */
  readonly stats = { tasksLaunched: 0, updatesSent: 0, offersSent: 0 };
  readonly #now: () => number;

  /** `now` gives milliseconds since the epoch (the master's clock). */
  constructor(now: () => number, recovering: Iterable<string> = []) {
    this.#now = now;
    this.recovering = new Set(recovering);
  }

  /** Milliseconds since the epoch. */
  now(): number {
    return this.#now();
  }

  /** Seconds since the epoch, as Mesos timestamps. */
  nowSeconds(): number {
    return this.#now() / 1000;
  }

  /** A framework record with nothing allocated, offered or running yet. */
  newFramework(
    id: string,
    info: FrameworkInfo,
    { active, recovered }: { active: boolean; recovered: boolean },
  ): Framework {
    return {
      id,
      info,
      roles: [],
      caps: new Set(),
      sub: null,
      active,
      recovered,
      suppressed: new Set(),
      filters: [],
      offers: new Set(),
      tasks: new Map(),
      unreachable: new Map(),
      completed: [],
      failoverTimer: null,
      registeredTime: this.nowSeconds(),
      allocCpus: 0,
      allocMem: 0,
    };
  }

  /** An active agent record for `agent`, with nothing used or offered (not yet recorded). */
  newAgentRecord(agent: Agent): AgentRecord {
    return {
      agent,
      used: new ResourceSet(),
      offered: new ResourceSet(),
      state: "active",
      tasks: new Map(),
      gpu: agent.total.scalar("gpus") > 0,
      registeredTime: this.nowSeconds(),
    };
  }

  /** Derives capabilities, roles and suppressed roles from `fw.info`. */
  applyInfo(fw: Framework, suppressed: readonly string[]): void {
    fw.caps = new Set((fw.info.capabilities ?? []).map((c) => c.type ?? ""));
    fw.roles = fw.caps.has("MULTI_ROLE") ? [...(fw.info.roles ?? [])] : [fw.info.role ?? "*"];
    fw.suppressed = new Set(suppressed);
  }

  /** Adds (`1`) or takes back (`-1`) resources from a framework's fair-share allocation. */
  charge(frameworkId: string, resources: ResourceSet, sign: 1 | -1): void {
    const fw = this.frameworks.get(frameworkId);
    if (!fw) return;
    fw.allocCpus += sign * resources.scalar("cpus");
    fw.allocMem += sign * resources.scalar("mem");
  }

  /** Records an offer made: the agent's resources offered, the framework charged. */
  addOffer(offer: OfferRecord): void {
    this.offers.set(offer.id, offer);
    this.frameworks.get(offer.frameworkId)?.offers.add(offer.id);
    this.agents.get(offer.agentId)?.offered.addInPlace(offer.resources);
    this.charge(offer.frameworkId, offer.resources, 1);
  }

  /** Withdraws an offer (accepted, declined or rescinded); sends nothing. */
  removeOffer(offer: OfferRecord): void {
    if (this.offers.has(offer.id)) this.charge(offer.frameworkId, offer.resources, -1);
    this.offers.delete(offer.id);
    this.frameworks.get(offer.frameworkId)?.offers.delete(offer.id);
    this.agents.get(offer.agentId)?.offered.subtractInPlace(offer.resources);
  }

  /** Withdraws every offer of a framework, silently. */
  removeFrameworkOffers(fw: Framework): void {
    for (const oid of [...fw.offers]) this.removeOffer(this.offers.get(oid)!);
  }

  /** Withdraws every offer of an agent and sends RESCIND for each. */
  rescindAgentOffers(agentId: string): void {
    for (const offer of [...this.offers.values()]) {
      if (offer.agentId !== agentId) continue;
      this.removeOffer(offer);
      const fw = this.frameworks.get(offer.frameworkId);
      if (fw) this.send(fw, { type: "RESCIND", rescind: { offer_id: { value: offer.id } } });
    }
  }

  /** Gives a task's resources back to its agent and framework (once). */
  freeTask(t: MasterTask): void {
    if (t.freed) return;
    t.freed = true;
    this.charge(t.frameworkId, t.resources, -1);
    this.agents.get(t.agentId)?.used.subtractInPlace(t.resources);
  }

  /** Keeps the last `MAX_COMPLETED_TASKS` completed tasks of a framework. */
  completeTask(fw: Framework, t: MasterTask): void {
    fw.completed.push(t);
    if (fw.completed.length > MAX_COMPLETED_TASKS) fw.completed.shift();
  }

  /** Sends an event on the framework's stream, if it has one. */
  send(fw: Framework, event: Event): void {
    if (event.type === "UPDATE") this.stats.updatesSent++;
    fw.sub?.send(event);
  }

  /** Sends an update the master writes itself (`SOURCE_MASTER`, no uuid). */
  masterUpdate(
    fw: Framework,
    taskId: string,
    state: TaskState,
    reason: string,
    message: string,
    agentId?: string,
    extra: Partial<TaskStatus> = {},
  ): void {
    const status = masterStatus(taskId, state, reason, message, this.nowSeconds(), agentId, extra);
    this.send(fw, { type: "UPDATE", update: { status } });
  }

  /** Sends an UPDATE_OPERATION_STATUS event (no uuid: nothing to acknowledge). */
  operationStatus(
    fw: Framework,
    operationId: string,
    state: OperationState,
    agentId?: string,
    message?: string,
  ): void {
    const status: OperationStatus = { operation_id: { value: operationId }, state };
    if (message !== undefined) status.message = message;
    if (agentId !== undefined) status.agent_id = { value: agentId };
    this.send(fw, { type: "UPDATE_OPERATION_STATUS", update_operation_status: { status } });
  }

  /** Sends FAILURE for an agent to every framework. */
  agentFailure(agentId: string): void {
    for (const fw of this.frameworks.values()) {
      this.send(fw, { type: "FAILURE", failure: { agent_id: { value: agentId } } });
    }
  }
}
