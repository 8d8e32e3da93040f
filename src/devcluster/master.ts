/**
 * The leading master: the composition of its parts behind `/api/v1/scheduler`
 * (after the authentication and leadership checks of the HTTP front in
 * `cluster.ts`). It dispatches calls, runs the timers (allocation rounds, offer
 * timeouts) and handles DECLINE, REVIVE, SUPPRESS, KILL, ACKNOWLEDGE and
 * RECONCILE itself. The parts: the records in `books.ts`, request checks in
 * `scheduler_request.ts`, the framework lifecycle in `frameworks.ts`,
 * allocation decisions in `allocator.ts`, ACCEPT in `accept.ts`, the agent
 * lifecycle in `agents.ts`, reconciliation in `reconcile.ts`, the
 * `/master/state` documents in `state_json.ts`.
 *
 * @module
 */
import { type Logger, silentLogger, type Timer, type Timers } from "../runtime.ts";
import type { Agent, MasterLink } from "./agent.ts";
import type { Faults } from "./faults.ts";
import type { Answer, Reply } from "./http1.ts";
import { makeMasterInfo } from "./master_info.ts";
import { applyAccept } from "./accept.ts";
import { AgentLifecycle } from "./agents.ts";
import { FrameworkLifecycle } from "./frameworks.ts";
import { type Allocation, allocationRound, offerJson, refuseFilter } from "./allocator.ts";
import { MasterBooks, taskKey } from "./books.ts";
import type {
  AcceptBody,
  AckBody,
  Framework,
  KillBody,
  OfferRecord,
  ReconcileBody,
} from "./model.ts";
import type { Recorder } from "./record.ts";
import { textResponse } from "./responses.ts";
import { checkCall, checkCaller, readCall, type SchedulerRequest } from "./scheduler_request.ts";
import { frameworksJson, type MasterView, slavesJson, stateJson, tasksJson } from "./state_json.ts";
import { reconcileStatuses } from "./reconcile.ts";
import type { ResourceSet } from "./resources.ts";
import {
  isTerminalState,
  type MasterInfo,
  type Offer,
  type TaskState,
  type TaskStatus,
} from "../mesos/types.ts";

/** Options of a `Master`. */
export interface MasterOptions {
  hostname: string;
  port: number;
  timers: Timers;
  logger?: Logger;
  heartbeatIntervalSeconds: number;
  allocationIntervalMs: number;
  recorder?: Recorder;
  faults: Faults;
  /** Agents from the registry that must reregister before the master knows their tasks. */
  recoveringAgents?: Iterable<string>;
  /** Agents the registry lists as unreachable (partitioned before this master was elected). */
  unreachableAgents?: Iterable<Agent>;
  /** Agents the registry lists as removed. */
  goneAgents?: Iterable<Agent>;
  /** Whether frameworks must authenticate (changes `/master/state` flags only). */
  authenticate?: boolean;
  /** Master id; a random UUID by default. */
  id?: string;
  /** Rescind offers not answered within this time (`--offer_timeout`); never by default. */
  offerTimeoutMs?: number;
}

/** The answer to every accepted call: no `Response` object per call. */
const ACCEPTED: Reply = { status: 202 };

/** A leading master's state. */
export class Master implements MasterLink {
  readonly id: string;
  readonly info: MasterInfo;
  readonly startTime: number;
  #opts: MasterOptions;
  #timers: Timers;
  #logger: Logger;
  #books: MasterBooks;
  #frameworks: Map<string, Framework>;
  #agents: MasterBooks["agents"];
  #offers: Map<string, OfferRecord>;
  #agentLife: AgentLifecycle;
  #frameworkLife: FrameworkLifecycle;
  #offerCounter = 0;
  #allocationTimer: Timer | null = null;
  #allocateSoonTimer: Timer | null = null;
  #soonAll = false;
  #soonAgents = new Set<string>();
  #round = 0;
  #closed = false;
  /** Counters for benchmarks and tests. */
  readonly stats: MasterBooks["stats"];

  constructor(opts: MasterOptions) {
    this.#opts = opts;
    this.#timers = opts.timers;
    this.#logger = opts.logger ?? silentLogger;
    this.id = opts.id ?? crypto.randomUUID();
    this.startTime = this.#timers.clock.now() / 1000;
    this.#books = new MasterBooks(() => this.#timers.clock.now(), opts.recoveringAgents);
    this.#frameworks = this.#books.frameworks;
    this.#agents = this.#books.agents;
    this.#offers = this.#books.offers;
    this.stats = this.#books.stats;
    this.info = makeMasterInfo(this.id, opts.hostname, opts.port);
    this.#agentLife = new AgentLifecycle(this.#books, {
      link: this,
      hostname: this.info.hostname,
      allocateSoon: (ids) => this.#allocateSoon(ids),
    });
    this.#frameworkLife = new FrameworkLifecycle(this.#books, {
      masterInfo: this.info,
      timers: this.#timers,
      logger: this.#logger,
      faults: opts.faults,
      recorder: opts.recorder,
      heartbeatIntervalSeconds: opts.heartbeatIntervalSeconds,
      allocateSoon: () => this.#allocateSoon(),
      closed: () => this.#closed,
    });
    for (const a of opts.unreachableAgents ?? []) this.#agentLife.recall(a, "unreachable");
    for (const a of opts.goneAgents ?? []) this.#agentLife.recall(a, "gone");
    this.#allocationTimer = this.#timers.every(opts.allocationIntervalMs, () => this.allocate());
  }

  /** Agent ids of the registry still expected to reregister. */
  get recoveringAgents(): ReadonlySet<string> {
    return this.#books.recovering;
  }

  #now(): number {
    return this.#timers.clock.now();
  }

  // -- scheduler endpoint ------------------------------------------------------------------------

  /**
   * Handles `/api/v1/scheduler` from check 5 (method) on; `principal` is the
   * authenticated principal when authentication is on.
   */
  handleScheduler(req: SchedulerRequest, principal?: string): Answer {
    const read = readCall(req);
    if (read instanceof Response) return read;
    const { call } = read;
    this.#opts.recorder?.call(read.record);
    const refused = checkCall(call, req, principal);
    if (refused) return refused;
    if (call.type === "SUBSCRIBE") return this.#frameworkLife.subscribe(call, principal);
    const fid = call.framework_id!.value;
    const fw = this.#frameworks.get(fid);
    if (!fw) return textResponse(400, "Framework cannot be found");
    const denied = checkCaller(fw, req, principal);
    if (denied) return denied;
    switch (call.type) {
      case "UNKNOWN":
        return textResponse(501, "501 Not Implemented.");
      case "UPDATE_FRAMEWORK":
        return this.#frameworkLife.update(fw, call);
      case "TEARDOWN":
        this.removeFramework(fid);
        break;
      case "ACCEPT":
        applyAccept(this.#books, fw, call.accept as AcceptBody, {
          decline: (fw, agentId, role, resources, seconds) =>
            this.#addFilter(fw, agentId, role, resources, seconds),
          allocateSoon: (ids) => this.#allocateSoon(ids),
        });
        break;
      case "DECLINE": {
        const d = call.decline as {
          offer_ids?: { value: string }[];
          filters?: { refuse_seconds?: number };
        };
        for (const o of d.offer_ids ?? []) {
          const offer = this.#offers.get(o.value);
          if (!offer || offer.frameworkId !== fid) continue;
          this.#books.removeOffer(offer);
          this.#addFilter(
            fw,
            offer.agentId,
            offer.role,
            offer.resources,
            d.filters?.refuse_seconds,
          );
        }
        break;
      }
      case "REVIVE":
      case "SUPPRESS": {
        const body = (call.revive ?? call.suppress ?? {}) as { roles?: string[] };
        const roles = body.roles?.length ? body.roles : fw.roles;
        if (roles.some((r) => !fw.roles.includes(r))) break; // the whole call is dropped
        if (call.type === "REVIVE") {
          for (const r of roles) fw.suppressed.delete(r);
          fw.filters = fw.filters.filter((f) => !roles.includes(f.role));
          this.#allocateSoon();
        } else for (const r of roles) fw.suppressed.add(r);
        break;
      }
      case "KILL":
        this.#kill(fw, call.kill as KillBody);
        break;
      case "ACKNOWLEDGE":
        this.#acknowledge(fw, call.acknowledge as AckBody);
        break;
      case "RECONCILE":
        this.#reconcile(fw, (call.reconcile as ReconcileBody).tasks ?? []);
        break;
      case "RECONCILE_OPERATIONS": {
        // No operation is ever known here: each listed one is unknown (or its agent's state).
        const ops = (call.reconcile_operations as {
          operations?: { operation_id: { value: string }; agent_id?: { value: string } }[];
        }).operations ?? [];
        for (const op of ops) {
          const aid = op.agent_id?.value;
          const rec = aid !== undefined ? this.#agents.get(aid) : undefined;
          const state = aid !== undefined && this.#books.recovering.has(aid)
            ? "OPERATION_RECOVERING"
            : rec?.state === "unreachable"
            ? "OPERATION_UNREACHABLE"
            : rec?.state === "gone"
            ? "OPERATION_GONE_BY_OPERATOR"
            : "OPERATION_UNKNOWN";
          this.#books.operationStatus(fw, op.operation_id.value, state, aid);
        }
        break;
      }
      default:
        // SHUTDOWN, MESSAGE, REQUEST, inverse offers: accepted, nothing to do here.
        break;
    }
    return ACCEPTED;
  }

  // -- frameworks (frameworks.ts) ---------------------------------------------------------------

  /** The framework's stream is gone: inactive, offers recovered, failover timer started. */
  disconnectFramework(frameworkId: string, options: { startFailoverTimer?: boolean } = {}): void {
    this.#frameworkLife.disconnect(frameworkId, options);
  }

  /** Removes a framework (TEARDOWN, failover timeout, operator): tasks killed, id unusable. */
  removeFramework(frameworkId: string): void {
    this.#frameworkLife.remove(frameworkId);
  }

  // -- offers ---------------------------------------------------------------------------------

  /**
   * Allocates on the next tick, as Mesos does on framework add, REVIVE and agent
   * add; with `agentIds`, only those agents' resources are considered (the
   * periodic round looks at every agent).
   */
  #allocateSoon(agentIds?: string[]): void {
    if (this.#closed) return;
    if (agentIds === undefined) this.#soonAll = true;
    else if (!this.#soonAll) { for (const id of agentIds) this.#soonAgents.add(id); }
    if (this.#allocateSoonTimer) return;
    this.#allocateSoonTimer = this.#timers.after(0, () => {
      this.#allocateSoonTimer = null;
      const only = this.#soonAll ? undefined : this.#soonAgents;
      this.#soonAll = false;
      this.#soonAgents = new Set();
      this.allocate(only);
    });
  }

  #addFilter(
    fw: Framework,
    agentId: string,
    role: string,
    resources: ResourceSet,
    refuseSeconds: number | undefined,
  ): void {
    const filter = refuseFilter(
      agentId,
      role,
      resources,
      refuseSeconds,
      this.#opts.allocationIntervalMs,
      this.#now(),
    );
    if (filter) fw.filters.push(filter);
  }

  /**
   * One allocation round (`allocator.ts` decides): offers each agent's free
   * resources to one eligible framework role (all agents, or only `onlyAgents`).
   */
  allocate(onlyAgents?: ReadonlySet<string>): void {
    if (this.#closed) return;
    const now = this.#now();
    const fws = [...this.#frameworks.values()].filter((f) => f.active && f.sub);
    if (!fws.length) return;
    for (const f of fws) {
      if (f.filters.length) f.filters = f.filters.filter((x) => x.expiresAt > now);
    }
    const allocations = allocationRound({
      frameworks: fws,
      agents: this.#agents,
      only: onlyAgents,
      round: this.#round++,
      now,
    });
    const batches = new Map<Framework, Offer[]>();
    for (const a of allocations) {
      let list = batches.get(a.framework);
      if (!list) batches.set(a.framework, list = []);
      list.push(this.#makeOffer(a));
    }
    for (const [fw, offers] of batches) {
      this.stats.offersSent += offers.length;
      fw.sub?.send({ type: "OFFERS", offers: { offers } });
    }
  }

  #makeOffer(a: Allocation): Offer {
    const id = `${this.id}-O${this.#offerCounter++}`;
    const json = offerJson(id, a);
    const fw = a.framework;
    const offer: OfferRecord = {
      id,
      frameworkId: fw.id,
      agentId: a.agent.agent.id,
      role: a.role,
      resources: a.resources,
      json,
    };
    this.#books.addOffer(offer);
    const timeout = this.#opts.offerTimeoutMs;
    if (timeout !== undefined && timeout > 0) {
      this.#timers.coarse(timeout, () => {
        if (this.#offers.get(id) !== offer) return;
        this.#books.removeOffer(offer);
        this.#books.send(fw, { type: "RESCIND", rescind: { offer_id: { value: id } } });
        this.#allocateSoon([offer.agentId]);
      });
    }
    return json;
  }

  // -- kill, acknowledge, reconcile -----------------------------------------------------------

  #kill(fw: Framework, kill: KillBody): void {
    const taskId = kill.task_id.value;
    const task = fw.tasks.get(taskId);
    if (!task) {
      this.#reconcile(fw, [{ task_id: kill.task_id, agent_id: kill.agent_id }]);
      return;
    }
    if (kill.agent_id && kill.agent_id.value !== task.agentId) return;
    const rec = this.#agents.get(task.agentId);
    if (!rec || rec.state !== "active") return;
    const ns = kill.kill_policy?.grace_period?.nanoseconds;
    rec.agent.killTask(fw.id, taskId, ns === undefined ? undefined : ns / 1e6);
  }

  #acknowledge(fw: Framework, ack: AckBody): void {
    const faults = this.#opts.faults;
    if (faults.dropAcks > 0) {
      faults.dropAcks--;
      return;
    }
    const apply = () => {
      const rec = this.#agents.get(ack.agent_id.value);
      if (!rec || rec.state !== "active") return;
      const result = rec.agent.acknowledge(fw.id, ack.task_id.value, ack.uuid);
      if (result === "terminal") {
        const task = fw.tasks.get(ack.task_id.value);
        if (task) {
          fw.tasks.delete(ack.task_id.value);
          rec.tasks.delete(taskKey(fw.id, ack.task_id.value));
          this.#books.freeTask(task);
          this.#books.completeTask(fw, task);
        }
      }
    };
    if (faults.delayAcksMs > 0) this.#timers.after(faults.delayAcksMs, apply);
    else apply();
  }

  #reconcile(
    fw: Framework,
    tasks: { task_id: { value: string }; agent_id?: { value: string } }[],
  ): void {
    const statuses = reconcileStatuses(fw, tasks, {
      recovering: this.#books.recovering,
      agentState: (id) => this.#agents.get(id)?.state,
      nowSeconds: this.#now() / 1000,
    });
    for (const status of statuses) this.#books.send(fw, { type: "UPDATE", update: { status } });
  }

  // -- agents (agents.ts) -------------------------------------------------------------------

  /** Registers (or reregisters) an agent with the tasks it reports. */
  addAgent(agent: Agent): void {
    this.#agentLife.register(agent);
  }

  /**
   * The agent restarted and lost these tasks (frameworks without checkpointing):
   * TASK_LOST, or TASK_GONE for PARTITION_AWARE frameworks, `REASON_AGENT_RESTARTED`.
   */
  agentRestarted(agentId: string, lost: { frameworkId: string; taskId: string }[]): void {
    this.#agentLife.restarted(agentId, lost);
  }

  /** An agent is partitioned away: its tasks become unreachable (or lost), offers rescinded. */
  markAgentUnreachable(agentId: string): void {
    this.#agentLife.unreachable(agentId);
  }

  /** An agent is removed for good: tasks TASK_GONE (or TASK_LOST), offers rescinded, FAILURE sent. */
  removeAgent(agentId: string, options: { byOperator?: boolean } = {}): void {
    this.#agentLife.remove(agentId, options);
  }

  // MasterLink

  /** An agent forwards the head of a task's update queue. */
  statusUpdate(agentId: string, frameworkId: string, status: TaskStatus, latest: TaskState): void {
    const rec = this.#agents.get(agentId);
    if (!rec || rec.state !== "active" || this.#closed) return;
    const fw = this.#frameworks.get(frameworkId);
    if (!fw) return;
    const task = fw.tasks.get(status.task_id.value);
    if (task) {
      task.state = latest;
      if (isTerminalState(latest)) this.#books.freeTask(task);
      if (!task.statuses.some((s) => s.uuid === status.uuid)) task.statuses.push(status);
    }
    if (!fw.sub) return; // dropped; the agent resends
    if (task) task.statusUpdateState = status.state;
    this.#books.send(fw, { type: "UPDATE", update: { status } });
  }

  /** An agent reports a task's latest state. */
  latestState(agentId: string, frameworkId: string, taskId: string, state: TaskState): void {
    const rec = this.#agents.get(agentId);
    if (!rec || rec.state !== "active") return;
    const task = this.#frameworks.get(frameworkId)?.tasks.get(taskId);
    if (!task) return;
    task.state = state;
    if (isTerminalState(state)) this.#books.freeTask(task);
  }

  // -- documents ---------------------------------------------------------------------------------

  #view(): MasterView {
    return {
      id: this.id,
      info: this.info,
      startTime: this.startTime,
      allocationIntervalMs: this.#opts.allocationIntervalMs,
      authenticate: this.#opts.authenticate ?? false,
      agents: this.#agents,
      recovering: this.#books.recovering,
      frameworks: this.#frameworks,
      completedFrameworks: this.#books.completedFrameworks,
      offers: this.#offers,
    };
  }

  /** `/master/state`. */
  state(): Record<string, unknown> {
    return stateJson(this.#view());
  }

  /** `/master/slaves`. */
  slaves(): Record<string, unknown> {
    return slavesJson(this.#view());
  }

  /** `/master/frameworks`. */
  frameworks(): Record<string, unknown> {
    return frameworksJson(this.#view());
  }

  /** `/master/tasks?framework_id=&task_id=&limit=100&offset=0&order=desc`. */
  tasks(params: URLSearchParams): Record<string, unknown> {
    return tasksJson(this.#view(), params);
  }

  /** `/master/teardown` (operator): removes the framework named by `frameworkId`. */
  teardown(frameworkId: string): boolean {
    if (!this.#frameworks.has(frameworkId)) return false;
    this.removeFramework(frameworkId);
    return true;
  }

  /** Ids of known frameworks. */
  frameworkIds(): string[] {
    return [...this.#frameworks.keys()];
  }

  /** Writes bytes that are not RecordIO into a framework's stream (failure injection). */
  corruptStream(frameworkId: string, bytes = new TextEncoder().encode("garbage\n")): boolean {
    const sub = this.#frameworks.get(frameworkId)?.sub;
    if (!sub) return false;
    sub.writeRaw(bytes);
    return true;
  }

  /**
   * Rescinds the outstanding offers of one framework (failure injection); their
   * resources are offered again at the next allocation. Returns how many were rescinded.
   */
  rescindOffers(frameworkId: string): number {
    const fw = this.#frameworks.get(frameworkId);
    if (!fw) return 0;
    const agents: string[] = [];
    for (const oid of [...fw.offers]) {
      const offer = this.#offers.get(oid)!;
      this.#books.removeOffer(offer);
      agents.push(offer.agentId);
      this.#books.send(fw, { type: "RESCIND", rescind: { offer_id: { value: oid } } });
    }
    if (agents.length) this.#allocateSoon(agents);
    return agents.length;
  }

  /** Drops every subscription connection (as when this master process goes away). */
  dropAllStreams(): void {
    for (const fw of this.#frameworks.values()) {
      const sub = fw.sub;
      fw.sub = null;
      fw.active = false;
      sub?.close();
      this.#books.removeFrameworkOffers(fw);
    }
  }

  /** Stops the master: streams closed, timers cancelled, agents detached. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#allocationTimer?.cancel();
    this.#allocateSoonTimer?.cancel();
    for (const fw of this.#frameworks.values()) {
      fw.failoverTimer?.cancel();
      const sub = fw.sub;
      fw.sub = null;
      sub?.close();
    }
    for (const rec of this.#agents.values()) {
      if (rec.agent.link === this) rec.agent.setMaster(null);
    }
  }
}
