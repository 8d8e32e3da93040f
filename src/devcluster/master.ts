/**
 * The leading master: the scheduler API behind `/api/v1/scheduler` (after the
 * authentication and leadership checks of the HTTP front in `cluster.ts`) and
 * the composition of its parts. It keeps the framework lifecycle (subscribe,
 * failover timeouts, teardown), DECLINE/REVIVE/SUPPRESS/KILL/ACKNOWLEDGE/RECONCILE
 * and the timers (allocation rounds, offer timeouts); the records live in
 * `books.ts`, allocation decisions in `allocator.ts`, ACCEPT in `accept.ts`, the
 * agent lifecycle in `agents.ts`, reconciliation in `reconcile.ts`, the
 * `/master/state` documents in `state_json.ts`.
 *
 * @module
 */
import { type Logger, silentLogger, type Timer, type Timers } from "../runtime.ts";
import type { Agent, MasterLink } from "./agent.ts";
import { type Call, CallParseError, convertCall, validateCall } from "./call.ts";
import type { Faults } from "./faults.ts";
import { type Answer, markStreaming, type Reply } from "./http1.ts";
import { makeMasterInfo } from "./master_info.ts";
import { applyAccept } from "./accept.ts";
import { AgentLifecycle } from "./agents.ts";
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
import { acceptsJson, textResponse } from "./responses.ts";
import { frameworksJson, type MasterView, slavesJson, stateJson, tasksJson } from "./state_json.ts";
import { reconcileStatuses } from "./reconcile.ts";
import { Subscription } from "./subscription.ts";
import { frameworkProblem } from "./validation.ts";
import type { ResourceSet } from "./resources.ts";
import {
  type FrameworkInfo,
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
  /** Whether frameworks must authenticate (changes `/master/state` flags only). */
  authenticate?: boolean;
  /** Master id; a random UUID by default. */
  id?: string;
  /** Rescind offers not answered within this time (`--offer_timeout`); never by default. */
  offerTimeoutMs?: number;
}

/** The answer to every accepted call: no `Response` object per call. */
const ACCEPTED: Reply = { status: 202 };

/** What the scheduler endpoint reads of a request (an `Http1Request` of `http1.ts`). */
export interface SchedulerRequest {
  readonly method: string;
  /** A header's value by lower-case name, or null. */
  header(name: string): string | null;
  /** The body as text. */
  text(): string;
}

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
  #frameworkCounter = 0;
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
    if (req.method !== "POST") {
      return textResponse(
        405,
        `405 Method Not Allowed. Expecting one of { 'POST' }, but received '${req.method}'.`,
        { allow: "POST" },
      );
    }
    const contentType = req.header("content-type");
    if (contentType === null) {
      return textResponse(400, "Expecting 'Content-Type' to be present");
    }
    if (contentType !== "application/json") {
      // Protobuf is not implemented: answered like any unsupported type.
      return textResponse(
        415,
        "Expecting 'Content-Type' of application/json or application/x-protobuf",
      );
    }
    const raw = req.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch (err) {
      return textResponse(400, `Failed to parse body into JSON: ${(err as Error).message}`);
    }
    let call: Call;
    try {
      call = convertCall(parsed);
    } catch (err) {
      if (err instanceof CallParseError) {
        return textResponse(400, `Failed to convert JSON into Call protobuf: ${err.message}`);
      }
      throw err;
    }
    this.#opts.recorder?.call(raw.includes("\n") ? JSON.stringify(parsed) : raw);
    const invalid = validateCall(call, principal);
    if (invalid) return textResponse(400, `Failed to validate scheduler::Call: ${invalid}`);
    if (
      (call.type === "SUBSCRIBE" || call.type === "RECONCILE_OPERATIONS") &&
      !acceptsJson(req.header("accept"))
    ) {
      return textResponse(
        406,
        "Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'",
      );
    }
    if (call.type === "SUBSCRIBE") {
      if (req.header("mesos-stream-id") !== null) {
        return textResponse(400, "Subscribe calls should not include the 'Mesos-Stream-Id' header");
      }
      return this.#subscribe(call, principal);
    }
    const fid = call.framework_id!.value;
    const fw = this.#frameworks.get(fid);
    if (!fw) return textResponse(400, "Framework cannot be found");
    if (
      principal !== undefined && fw.info.principal !== undefined && fw.info.principal !== principal
    ) {
      return textResponse(
        400,
        `Authenticated principal '${principal}' does not match principal '${fw.info.principal}' set in \`FrameworkInfo\``,
      );
    }
    if (!fw.sub) return textResponse(403, "Framework is not subscribed");
    const streamId = req.header("mesos-stream-id");
    if (streamId === null) {
      return textResponse(
        400,
        "All non-subscribe calls should include the 'Mesos-Stream-Id' header",
      );
    }
    if (streamId !== fw.sub.streamId) {
      return textResponse(
        400,
        `The stream ID '${streamId}' included in this request didn't match the stream ID currently associated with framework ID ${fid}`,
      );
    }
    switch (call.type) {
      case "UNKNOWN":
        return textResponse(501, "501 Not Implemented.");
      case "UPDATE_FRAMEWORK":
        return this.#updateFramework(fw, call);
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

  #subscribe(call: Call, principal?: string): Response {
    const body = call.subscribe as { framework_info: FrameworkInfo; suppressed_roles?: string[] };
    const info: FrameworkInfo = { ...body.framework_info };
    if (principal !== undefined && info.principal === undefined) info.principal = principal;
    const suppressed = body.suppressed_roles ?? [];
    let fw: Framework | undefined;
    let refusal = frameworkProblem(info, suppressed);
    const id = info.id?.value;
    if (!refusal && id !== undefined) {
      if (this.#books.removedIds.has(id)) refusal = "Framework has been removed";
      fw = this.#frameworks.get(id);
      if (fw && fw.info.principal !== info.principal) {
        refusal = "Changing framework's principal is not allowed.";
      }
    }
    const sub = new Subscription(
      () => this.#disconnected(sub),
      this.#opts.faults,
      this.#opts.recorder,
    );
    const response = new Response(sub.body, {
      status: 200,
      headers: { "content-type": "application/json", "mesos-stream-id": sub.streamId },
    });
    markStreaming(response, sub);
    if (refusal) {
      sub.send({ type: "ERROR", error: { message: refusal } });
      sub.close();
      return response;
    }
    if (fw) {
      // Scheduler failover: the old stream gets an ERROR and closes; offers vanish silently.
      if (fw.sub) {
        const old = fw.sub;
        fw.sub = null;
        old.send({ type: "ERROR", error: { message: "Framework failed over" } });
        old.close();
      }
      this.#books.removeFrameworkOffers(fw);
      fw.failoverTimer?.cancel();
      fw.failoverTimer = null;
      // `user` and `checkpoint` are immutable on resubscribe: old values are kept.
      fw.info = { ...info, user: fw.info.user, checkpoint: fw.info.checkpoint };
      this.#books.applyInfo(fw, suppressed);
      fw.recovered = false;
    } else {
      const fid = id ?? `${this.id}-${String(this.#frameworkCounter++).padStart(4, "0")}`;
      info.id = { value: fid };
      fw = this.#books.newFramework(fid, info, { active: true, recovered: false });
      this.#books.applyInfo(fw, suppressed);
      this.#frameworks.set(fid, fw);
    }
    fw.sub = sub;
    sub.frameworkId = fw.id;
    fw.active = true;
    fw.unregisteredTime = undefined;
    sub.send({
      type: "SUBSCRIBED",
      subscribed: {
        framework_id: { value: fw.id },
        heartbeat_interval_seconds: this.#opts.heartbeatIntervalSeconds,
        master_info: this.info,
      },
    });
    const fid = fw.id;
    const beat = () => {
      const f = this.#opts.faults;
      if (!f.heartbeatsStopped && !f.heartbeatsStoppedFor.has(fid)) sub.send({ type: "HEARTBEAT" });
    };
    beat();
    sub.heartbeat = this.#timers.every(this.#opts.heartbeatIntervalSeconds * 1000, beat);
    for (const rec of this.#agents.values()) {
      if (rec.state !== "active") continue;
      rec.agent.updateFramework(fw.info);
      rec.agent.resumeUpdates(fid);
    }
    this.#allocateSoon();
    this.#logger.info("Framework subscribed", { framework_id: fid, name: fw.info.name });
    return response;
  }

  #updateFramework(fw: Framework, call: Call): Response {
    const body = call.update_framework as {
      framework_info: FrameworkInfo;
      suppressed_roles?: string[];
    };
    const info = body.framework_info;
    const suppressed = body.suppressed_roles ?? [];
    const problem = frameworkProblem(info, suppressed);
    if (problem) return textResponse(400, `Supplied FrameworkInfo is not valid: ${problem}`);
    for (const field of ["user", "checkpoint", "principal"] as const) {
      const before = fw.info[field] ?? (field === "checkpoint" ? false : undefined);
      const after = info[field] ?? (field === "checkpoint" ? false : undefined);
      if (field === "principal" && after === undefined) continue;
      if (before !== after) {
        return textResponse(
          400,
          `FrameworkInfo update is not valid: Updating 'FrameworkInfo.${field}' is unsupported`,
        );
      }
    }
    const oldRoles = fw.roles;
    fw.info = { ...info, principal: info.principal ?? fw.info.principal };
    const wasSuppressed = fw.suppressed;
    this.#books.applyInfo(fw, suppressed);
    for (const oid of [...fw.offers]) {
      const offer = this.#offers.get(oid)!;
      if (!fw.roles.includes(offer.role)) {
        this.#books.removeOffer(offer);
        fw.sub?.send({ type: "RESCIND", rescind: { offer_id: { value: oid } } });
      }
    }
    for (const r of wasSuppressed) {
      if (!fw.suppressed.has(r)) fw.filters = fw.filters.filter((f) => f.role !== r);
    }
    if (oldRoles.join() !== fw.roles.join()) {
      fw.filters = fw.filters.filter((f) => fw.roles.includes(f.role));
    }
    for (const rec of this.#agents.values()) rec.agent.updateFramework(fw.info);
    this.#allocateSoon();
    return new Response(null, { status: 200 });
  }

  #disconnected(sub: Subscription): void {
    const fw = [...this.#frameworks.values()].find((f) => f.sub === sub);
    if (!fw || this.#closed) return;
    this.disconnectFramework(fw.id);
  }

  /** The framework's stream is gone: inactive, offers recovered, failover timer started. */
  disconnectFramework(frameworkId: string, { startFailoverTimer = true } = {}): void {
    const fw = this.#frameworks.get(frameworkId);
    if (!fw) return;
    const sub = fw.sub;
    fw.sub = null;
    sub?.close();
    fw.active = false;
    fw.unregisteredTime = this.#now() / 1000;
    this.#books.removeFrameworkOffers(fw);
    this.#logger.info("Framework disconnected", { framework_id: frameworkId });
    if (!startFailoverTimer) return;
    const timeoutMs = (fw.info.failover_timeout ?? 0) * 1000;
    if (timeoutMs <= 0) {
      this.removeFramework(frameworkId);
      return;
    }
    fw.failoverTimer?.cancel();
    fw.failoverTimer = this.#timers.after(timeoutMs, () => {
      fw.failoverTimer = null;
      if (!fw.sub) {
        this.#logger.info("Framework failover timeout expired", { framework_id: frameworkId });
        this.removeFramework(frameworkId);
      }
    });
  }

  /** Removes a framework (TEARDOWN, failover timeout, operator): tasks killed, id unusable. */
  removeFramework(frameworkId: string): void {
    const fw = this.#frameworks.get(frameworkId);
    if (!fw) return;
    fw.failoverTimer?.cancel();
    const sub = fw.sub;
    fw.sub = null;
    sub?.close();
    fw.active = false;
    this.#books.removeFrameworkOffers(fw);
    for (const task of [...fw.tasks.values(), ...fw.unreachable.values()]) {
      if (!isTerminalState(task.state)) task.state = "TASK_KILLED";
      this.#books.freeTask(task);
      this.#agents.get(task.agentId)?.tasks.delete(
        taskKey(frameworkId, task.info.task_id.value),
      );
      this.#books.completeTask(fw, task);
    }
    fw.tasks.clear();
    fw.unreachable.clear();
    for (const rec of this.#agents.values()) rec.agent.shutdownFramework(frameworkId);
    this.#frameworks.delete(frameworkId);
    this.#books.removedIds.add(frameworkId);
    this.#books.completedFrameworks.push(fw);
    if (this.#books.completedFrameworks.length > 50) this.#books.completedFrameworks.shift();
    this.#logger.info("Framework removed", { framework_id: frameworkId });
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
