/**
 * The leading master's state and the scheduler API behind `/api/v1/scheduler`
 * (after the authentication and leadership checks done by the HTTP front in
 * `cluster.ts`): subscriptions and their RecordIO streams, the allocator,
 * ACCEPT/DECLINE/KILL/ACKNOWLEDGE/RECONCILE…, failover timeouts, agent loss,
 * and the `/master/state` family of documents.
 *
 * @module
 */
import { type Logger, silentLogger, type Timer, type Timers } from "../runtime.ts";
import type { Agent, MasterLink } from "./agent.ts";
import { type Call, CallParseError, convertCall, validateCall } from "./call.ts";
import type { Faults } from "./faults.ts";
import { type Answer, markStreaming, type Reply } from "./http1.ts";
import { makeMasterInfo } from "./master_info.ts";
import type {
  AcceptBody,
  AckBody,
  AgentRecord,
  Framework,
  KillBody,
  MasterTask,
  OfferRecord,
  Operation,
  ReconcileBody,
} from "./model.ts";
import type { Recorder } from "./record.ts";
import { acceptsJson, textResponse } from "./responses.ts";
import { frameworksJson, type MasterView, slavesJson, stateJson, tasksJson } from "./state_json.ts";
import { masterStatus, reconcileStatuses } from "./reconcile.ts";
import { Subscription } from "./subscription.ts";
import { frameworkProblem, validateTask } from "./validation.ts";
import { ResourceSet } from "./resources.ts";
import {
  type FrameworkInfo,
  isTerminalState,
  type MasterInfo,
  type Offer,
  type TaskInfo,
  type TaskState,
  type TaskStatus,
} from "../mesos/types.ts";
import type { Event } from "./types.ts";

/** Default `refuse_seconds` of DECLINE and of an ACCEPT's implicit decline. */
export const DEFAULT_REFUSE_SECONDS = 5;
const MAX_REFUSE_SECONDS = 365 * 24 * 3600;

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
  #frameworks = new Map<string, Framework>();
  #completedFrameworks: Framework[] = [];
  #removedIds = new Set<string>();
  #agents = new Map<string, AgentRecord>();
  #recovering: Set<string>;
  #offers = new Map<string, OfferRecord>();
  #frameworkCounter = 0;
  #offerCounter = 0;
  #allocationTimer: Timer | null = null;
  #allocateSoonTimer: Timer | null = null;
  #soonAll = false;
  #soonAgents = new Set<string>();
  #round = 0;
  #closed = false;
  /** Counters for benchmarks and tests. */
  readonly stats = { tasksLaunched: 0, updatesSent: 0, offersSent: 0 };

  constructor(opts: MasterOptions) {
    this.#opts = opts;
    this.#timers = opts.timers;
    this.#logger = opts.logger ?? silentLogger;
    this.id = opts.id ?? crypto.randomUUID();
    this.startTime = this.#timers.clock.now() / 1000;
    this.#recovering = new Set(opts.recoveringAgents ?? []);
    this.info = makeMasterInfo(this.id, opts.hostname, opts.port);
    this.#allocationTimer = this.#timers.every(opts.allocationIntervalMs, () => this.allocate());
  }

  /** Agent ids of the registry still expected to reregister. */
  get recoveringAgents(): ReadonlySet<string> {
    return this.#recovering;
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
        this.#accept(fw, call.accept as AcceptBody);
        break;
      case "DECLINE": {
        const d = call.decline as {
          offer_ids?: { value: string }[];
          filters?: { refuse_seconds?: number };
        };
        for (const o of d.offer_ids ?? []) {
          const offer = this.#offers.get(o.value);
          if (!offer || offer.frameworkId !== fid) continue;
          this.#removeOffer(offer);
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
          const state = aid !== undefined && this.#recovering.has(aid)
            ? "OPERATION_RECOVERING"
            : rec?.state === "unreachable"
            ? "OPERATION_UNREACHABLE"
            : rec?.state === "gone"
            ? "OPERATION_GONE_BY_OPERATOR"
            : "OPERATION_UNKNOWN";
          this.#operationStatus(fw, op.operation_id.value, state, aid);
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
      if (this.#removedIds.has(id)) refusal = "Framework has been removed";
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
      for (const oid of [...fw.offers]) this.#removeOffer(this.#offers.get(oid)!);
      fw.failoverTimer?.cancel();
      fw.failoverTimer = null;
      // `user` and `checkpoint` are immutable on resubscribe: old values are kept.
      fw.info = { ...info, user: fw.info.user, checkpoint: fw.info.checkpoint };
      this.#applyInfo(fw, suppressed);
      fw.recovered = false;
    } else {
      const fid = id ?? `${this.id}-${String(this.#frameworkCounter++).padStart(4, "0")}`;
      info.id = { value: fid };
      fw = this.#newFramework(fid, info, { active: true, recovered: false });
      this.#applyInfo(fw, suppressed);
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

  #applyInfo(fw: Framework, suppressed: string[]): void {
    fw.caps = new Set((fw.info.capabilities ?? []).map((c) => c.type ?? ""));
    fw.roles = fw.caps.has("MULTI_ROLE") ? [...(fw.info.roles ?? [])] : [fw.info.role ?? "*"];
    fw.suppressed = new Set(suppressed);
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
    this.#applyInfo(fw, suppressed);
    for (const oid of [...fw.offers]) {
      const offer = this.#offers.get(oid)!;
      if (!fw.roles.includes(offer.role)) {
        this.#removeOffer(offer);
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
    for (const oid of [...fw.offers]) this.#removeOffer(this.#offers.get(oid)!);
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
    for (const oid of [...fw.offers]) this.#removeOffer(this.#offers.get(oid)!);
    for (const task of [...fw.tasks.values(), ...fw.unreachable.values()]) {
      if (!isTerminalState(task.state)) task.state = "TASK_KILLED";
      this.#freeTask(task);
      this.#agents.get(task.agentId)?.tasks.delete(
        `${frameworkId}\u0000${task.info.task_id.value}`,
      );
      this.#completeTask(fw, task);
    }
    fw.tasks.clear();
    fw.unreachable.clear();
    for (const rec of this.#agents.values()) rec.agent.shutdownFramework(frameworkId);
    this.#frameworks.delete(frameworkId);
    this.#removedIds.add(frameworkId);
    this.#completedFrameworks.push(fw);
    if (this.#completedFrameworks.length > 50) this.#completedFrameworks.shift();
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
    let seconds = refuseSeconds ?? DEFAULT_REFUSE_SECONDS;
    if (!Number.isFinite(seconds) && seconds > 0) seconds = MAX_REFUSE_SECONDS;
    if (!(seconds >= 0)) seconds = DEFAULT_REFUSE_SECONDS;
    if (seconds === 0 || resources.isEmpty()) return;
    seconds = Math.min(seconds, MAX_REFUSE_SECONDS);
    const ms = Math.max(this.#opts.allocationIntervalMs, seconds * 1000);
    fw.filters.push({ agentId, role, resources: resources.clone(), expiresAt: this.#now() + ms });
  }

  #charge(frameworkId: string, resources: ResourceSet, sign: 1 | -1): void {
    const fw = this.#frameworks.get(frameworkId);
    if (!fw) return;
    fw.allocCpus += sign * resources.scalar("cpus");
    fw.allocMem += sign * resources.scalar("mem");
  }

  #removeOffer(offer: OfferRecord): void {
    if (this.#offers.has(offer.id)) this.#charge(offer.frameworkId, offer.resources, -1);
    this.#offers.delete(offer.id);
    this.#frameworks.get(offer.frameworkId)?.offers.delete(offer.id);
    this.#agents.get(offer.agentId)?.offered.subtractInPlace(offer.resources);
  }

  /**
   * One allocation round: offers each agent's free resources to one eligible
   * framework role (all agents, or only `onlyAgents`).
   */
  allocate(onlyAgents?: ReadonlySet<string>): void {
    if (this.#closed) return;
    const now = this.#now();
    const fws = [...this.#frameworks.values()].filter((f) => f.active && f.sub);
    if (!fws.length) return;
    for (const f of fws) {
      if (f.filters.length) f.filters = f.filters.filter((x) => x.expiresAt > now);
    }
    const batches = new Map<Framework, Offer[]>();
    let totalCpus = 0;
    let totalMem = 0;
    if (fws.length > 1) {
      for (const rec of this.#agents.values()) {
        if (rec.state !== "active") continue;
        totalCpus += rec.agent.total.scalar("cpus");
        totalMem += rec.agent.total.scalar("mem");
      }
    }
    // Dominant resource fairness, roughly: the framework with the smallest share of
    // cpus or mem goes first; ties rotate between rounds.
    const share = (f: Framework) =>
      Math.max(totalCpus ? f.allocCpus / totalCpus : 0, totalMem ? f.allocMem / totalMem : 0);
    const rank = new Map(fws.map((f, i) => [f, (i + this.#round) % fws.length]));
    const recs = onlyAgents
      ? [...onlyAgents].map((id) => this.#agents.get(id)).filter((r) => r !== undefined)
      : this.#agents.values();
    for (const rec of recs) {
      if (rec.state !== "active") continue;
      const free = rec.agent.total.subtract(rec.used).subtractInPlace(rec.offered);
      if (!free.isAllocatable()) continue;
      const order = fws.length === 1
        ? fws
        : [...fws].sort((a, b) => share(a) - share(b) || rank.get(a)! - rank.get(b)!);
      for (const fw of order) {
        if (rec.gpu && !fw.caps.has("GPU_RESOURCES")) continue;
        let offered = false;
        for (const role of fw.roles) {
          if (fw.suppressed.has(role)) continue;
          const avail = free.forRole(role);
          if (!avail.isAllocatable()) continue;
          if (
            fw.filters.some((f) =>
              f.agentId === rec.agent.id && f.role === role && f.resources.contains(avail)
            )
          ) {
            continue;
          }
          const offer = this.#makeOffer(fw, rec, role, avail);
          let list = batches.get(fw);
          if (!list) batches.set(fw, list = []);
          list.push(offer);
          offered = true;
          break;
        }
        if (offered) break;
      }
    }
    this.#round++;
    for (const [fw, offers] of batches) {
      this.stats.offersSent += offers.length;
      fw.sub?.send({ type: "OFFERS", offers: { offers } });
    }
  }

  #makeOffer(fw: Framework, rec: AgentRecord, role: string, resources: ResourceSet): Offer {
    const id = `${this.id}-O${this.#offerCounter++}`;
    const multi = fw.caps.has("MULTI_ROLE");
    const agent = rec.agent;
    const json: Offer = {
      id: { value: id },
      framework_id: { value: fw.id },
      agent_id: { value: agent.id },
      hostname: agent.hostname,
      url: {
        scheme: "http",
        address: { hostname: agent.hostname, ip: agent.ip, port: agent.port },
        path: "/slave(1)",
      },
      resources: resources.toJson(multi ? role : undefined),
    };
    if (agent.attributes.length) json.attributes = agent.attributes;
    if (multi) json.allocation_info = { role };
    rec.offered.addInPlace(resources);
    this.#charge(fw.id, resources, 1);
    const offer: OfferRecord = { id, frameworkId: fw.id, agentId: agent.id, role, resources, json };
    this.#offers.set(id, offer);
    fw.offers.add(id);
    const timeout = this.#opts.offerTimeoutMs;
    if (timeout !== undefined && timeout > 0) {
      this.#timers.coarse(timeout, () => {
        if (this.#offers.get(id) !== offer) return;
        this.#removeOffer(offer);
        this.#send(fw, { type: "RESCIND", rescind: { offer_id: { value: id } } });
        this.#allocateSoon([offer.agentId]);
      });
    }
    return json;
  }

  // -- accept ---------------------------------------------------------------------------------

  #masterUpdate(
    fw: Framework,
    taskId: string,
    state: TaskState,
    reason: string,
    message: string,
    agentId?: string,
    extra: Partial<TaskStatus> = {},
  ): void {
    const status = masterStatus(taskId, state, reason, message, this.#now() / 1000, agentId, extra);
    this.#send(fw, { type: "UPDATE", update: { status } });
  }

  /** An UPDATE_OPERATION_STATUS event (no uuid: nothing to acknowledge). */
  #operationStatus(
    fw: Framework,
    operationId: string,
    state: string,
    agentId?: string,
    message?: string,
  ): void {
    const status: Record<string, unknown> = { operation_id: { value: operationId }, state };
    if (message !== undefined) status.message = message;
    if (agentId !== undefined) status.agent_id = { value: agentId };
    this.#send(fw, { type: "UPDATE_OPERATION_STATUS", update_operation_status: { status } });
  }

  #send(fw: Framework, event: Event): void {
    if (event.type === "UPDATE") this.stats.updatesSent++;
    fw.sub?.send(event);
  }

  #accept(fw: Framework, accept: AcceptBody): void {
    const offerIds = (accept.offer_ids ?? []).map((o) => o.value);
    const operations = accept.operations ?? [];
    const tasksOf = (op: Operation): TaskInfo[] =>
      op.type === "LAUNCH"
        ? op.launch?.task_infos ?? []
        : op.type === "LAUNCH_GROUP"
        ? op.launch_group?.task_group?.tasks ?? []
        : [];
    // 1. offer validation
    let error: string | null = null;
    const offers: OfferRecord[] = [];
    if (!offerIds.length) error = "No offers specified";
    const seen = new Set<string>();
    for (const id of offerIds) {
      if (error) break;
      if (seen.has(id)) {
        error = `Duplicate offer ${id} in offer list`;
        break;
      }
      seen.add(id);
      const offer = this.#offers.get(id);
      if (!offer) error = `Offer ${id} is no longer valid`;
      else if (offer.frameworkId !== fw.id) {
        error =
          `Offer ${id} has invalid framework ${offer.frameworkId} while framework ${fw.id} is expected`;
      } else if (offers.length && offers[0].role !== offer.role) {
        error =
          `Aggregated offers must be allocated to the same role. Offer ${id} uses role ${offer.role} and offer ${
            offers[0].id
          } uses role ${offers[0].role}`;
      } else if (offers.length && offers[0].agentId !== offer.agentId) {
        error =
          `Aggregated offers must belong to one single agent. Offer ${id} uses agent ${offer.agentId} and offer ${
            offers[0].id
          } uses agent ${offers[0].agentId}`;
      } else offers.push(offer);
    }
    if (error) {
      for (const o of offers) this.#removeOffer(o);
      const pa = fw.caps.has("PARTITION_AWARE");
      for (const op of operations) {
        for (const t of tasksOf(op)) {
          this.#masterUpdate(
            fw,
            t.task_id.value,
            pa ? "TASK_DROPPED" : "TASK_LOST",
            "REASON_INVALID_OFFERS",
            `Task launched with invalid offers: ${error}`,
          );
        }
      }
      this.#allocateSoon(offers.map((o) => o.agentId));
      return;
    }
    // 2. offers are consumed, no RESCIND
    const agentId = offers[0].agentId;
    const role = offers[0].role;
    const rec = this.#agents.get(agentId)!;
    const remaining = new ResourceSet();
    for (const o of offers) {
      this.#removeOffer(o);
      remaining.addInPlace(o.resources);
    }
    const pa = fw.caps.has("PARTITION_AWARE");
    for (const op of operations) {
      if (op.type === "LAUNCH_GROUP") {
        for (const t of tasksOf(op)) {
          this.#masterUpdate(
            fw,
            t.task_id.value,
            "TASK_ERROR",
            "REASON_TASK_GROUP_INVALID",
            "LAUNCH_GROUP is not supported by the development cluster",
            agentId,
          );
        }
        continue;
      }
      if (op.type !== "LAUNCH") {
        // RESERVE, CREATE, ...: not modelled. With an `id` the framework asked for
        // feedback, which agents without AGENT_OPERATION_FEEDBACK refuse.
        if (op.id) {
          this.#operationStatus(
            fw,
            op.id.value,
            "OPERATION_ERROR",
            agentId,
            `Operation requested feedback, but agent ${agentId} does not have the required AGENT_OPERATION_FEEDBACK capability`,
          );
        }
        continue;
      }
      for (const task of tasksOf(op)) {
        const taskId = task.task_id.value;
        if (!rec || rec.state !== "active") {
          this.#masterUpdate(
            fw,
            taskId,
            pa ? "TASK_DROPPED" : "TASK_LOST",
            "REASON_AGENT_REMOVED",
            "Agent is not available",
            agentId,
          );
          continue;
        }
        const checked = op.id
          ? "The 'id' field cannot be set on LAUNCH operations"
          : validateTask(fw, task, agentId, remaining);
        if (typeof checked === "string") {
          this.#masterUpdate(fw, taskId, "TASK_ERROR", "REASON_TASK_INVALID", checked, agentId);
          continue;
        }
        const used = checked;
        remaining.subtractInPlace(used);
        const mt: MasterTask = {
          info: task,
          frameworkId: fw.id,
          agentId,
          role,
          state: "TASK_STAGING",
          statuses: [],
          resources: used,
          freed: false,
        };
        fw.tasks.set(taskId, mt);
        rec.tasks.set(`${fw.id}\u0000${taskId}`, mt);
        rec.used.addInPlace(used);
        this.#charge(fw.id, used, 1);
        this.stats.tasksLaunched++;
        rec.agent.runTask(fw.info, task);
      }
    }
    // 5. what was not used is declined with the accept's filters
    if (rec) this.#addFilter(fw, agentId, role, remaining, accept.filters?.refuse_seconds);
    this.#allocateSoon([agentId]);
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
          rec.tasks.delete(`${fw.id}\u0000${ack.task_id.value}`);
          this.#freeTask(task);
          this.#completeTask(fw, task);
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
      recovering: this.#recovering,
      agentState: (id) => this.#agents.get(id)?.state,
      nowSeconds: this.#now() / 1000,
    });
    for (const status of statuses) this.#send(fw, { type: "UPDATE", update: { status } });
  }

  // -- agents ---------------------------------------------------------------------------------

  /** A framework record with nothing allocated, offered or running yet. */
  #newFramework(
    id: string,
    info: Framework["info"],
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
      registeredTime: this.#now() / 1000,
      allocCpus: 0,
      allocMem: 0,
    };
  }

  /** Registers (or reregisters) an agent with the tasks it reports. */
  addAgent(agent: Agent): void {
    let rec = this.#agents.get(agent.id);
    if (!rec) {
      rec = {
        agent,
        used: new ResourceSet(),
        offered: new ResourceSet(),
        state: "active",
        tasks: new Map(),
        gpu: agent.total.scalar("gpus") > 0,
        registeredTime: this.#now() / 1000,
      };
      this.#agents.set(agent.id, rec);
    }
    rec.state = "active";
    this.#recovering.delete(agent.id);
    for (const r of agent.report()) {
      let fw = this.#frameworks.get(r.frameworkId);
      if (!fw) {
        if (this.#removedIds.has(r.frameworkId)) {
          agent.shutdownFramework(r.frameworkId);
          continue;
        }
        // Known only from an agent's report: inactive until it resubscribes.
        fw = this.#newFramework(r.frameworkId, r.framework, { active: false, recovered: true });
        this.#applyInfo(fw, []);
        this.#frameworks.set(fw.id, fw);
      }
      const taskId = r.task.task_id.value;
      let mt = fw.tasks.get(taskId) ?? fw.unreachable.get(taskId);
      fw.unreachable.delete(taskId);
      if (!mt) {
        mt = {
          info: r.task,
          frameworkId: fw.id,
          agentId: agent.id,
          role: fw.roles[0] ?? "*",
          state: r.state,
          statuses: [],
          resources: ResourceSet.fromJson(r.task.resources),
          freed: true,
        };
      }
      mt.state = r.state;
      mt.unreachableTime = undefined;
      fw.tasks.set(taskId, mt);
      rec.tasks.set(`${fw.id}\u0000${taskId}`, mt);
      if (!isTerminalState(r.state) && mt.freed) {
        mt.freed = false;
        rec.used.addInPlace(mt.resources);
        this.#charge(fw.id, mt.resources, 1);
      }
    }
    agent.setMaster(this, this.info.hostname);
    agent.resumeUpdates();
    this.#allocateSoon([agent.id]);
  }

  /**
   * The agent restarted and lost these tasks (frameworks without checkpointing):
   * TASK_LOST, or TASK_GONE for PARTITION_AWARE frameworks, `REASON_AGENT_RESTARTED`.
   */
  agentRestarted(agentId: string, lost: { frameworkId: string; taskId: string }[]): void {
    const rec = this.#agents.get(agentId);
    if (!rec) return;
    for (const { frameworkId, taskId } of lost) {
      const fw = this.#frameworks.get(frameworkId);
      const t = fw?.tasks.get(taskId);
      if (!fw || !t) continue;
      fw.tasks.delete(taskId);
      rec.tasks.delete(`${frameworkId}\u0000${taskId}`);
      this.#freeTask(t);
      const state: TaskState = fw.caps.has("PARTITION_AWARE") ? "TASK_GONE" : "TASK_LOST";
      t.state = state;
      this.#completeTask(fw, t);
      this.#masterUpdate(
        fw,
        taskId,
        state,
        "REASON_AGENT_RESTARTED",
        `Agent ${rec.agent.hostname} restarted`,
        agentId,
      );
    }
  }

  #rescindAgentOffers(agentId: string): void {
    for (const offer of [...this.#offers.values()]) {
      if (offer.agentId !== agentId) continue;
      this.#removeOffer(offer);
      const fw = this.#frameworks.get(offer.frameworkId);
      if (fw) this.#send(fw, { type: "RESCIND", rescind: { offer_id: { value: offer.id } } });
    }
  }

  /** An agent is partitioned away: its tasks become unreachable (or lost), offers rescinded. */
  markAgentUnreachable(agentId: string): void {
    const rec = this.#agents.get(agentId);
    if (!rec || rec.state !== "active") return;
    rec.state = "unreachable";
    rec.agent.setMaster(null);
    this.#rescindAgentOffers(agentId);
    const now = this.#now();
    for (const [key, t] of rec.tasks) {
      const fw = this.#frameworks.get(t.frameworkId);
      rec.tasks.delete(key);
      if (!fw) continue;
      fw.tasks.delete(t.info.task_id.value);
      if (isTerminalState(t.state)) continue;
      const pa = fw.caps.has("PARTITION_AWARE");
      t.unreachableTime = now;
      fw.unreachable.set(t.info.task_id.value, t);
      this.#freeTask(t);
      this.#masterUpdate(
        fw,
        t.info.task_id.value,
        pa ? "TASK_UNREACHABLE" : "TASK_LOST",
        "REASON_AGENT_REMOVED",
        `Agent ${rec.agent.hostname} is unreachable`,
        agentId,
        pa ? { unreachable_time: { nanoseconds: now * 1e6 } } : {},
      );
    }
    for (const fw of this.#frameworks.values()) {
      this.#send(fw, { type: "FAILURE", failure: { agent_id: { value: agentId } } });
    }
  }

  /** An agent is removed for good: tasks TASK_GONE (or TASK_LOST), offers rescinded, FAILURE sent. */
  removeAgent(agentId: string, { byOperator = false } = {}): void {
    const rec = this.#agents.get(agentId);
    if (!rec) return;
    rec.state = "gone";
    rec.agent.setMaster(null);
    this.#rescindAgentOffers(agentId);
    const tasks = [
      ...rec.tasks.values(),
      ...[...this.#frameworks.values()].flatMap((f) =>
        [...f.unreachable.values()].filter((t) => t.agentId === agentId)
      ),
    ];
    rec.tasks.clear();
    for (const t of tasks) {
      const fw = this.#frameworks.get(t.frameworkId);
      if (!fw) continue;
      fw.tasks.delete(t.info.task_id.value);
      fw.unreachable.delete(t.info.task_id.value);
      this.#freeTask(t);
      this.#completeTask(fw, t);
      if (isTerminalState(t.state)) continue;
      const pa = fw.caps.has("PARTITION_AWARE");
      const state: TaskState = pa
        ? (byOperator ? "TASK_GONE_BY_OPERATOR" : "TASK_GONE")
        : "TASK_LOST";
      t.state = state;
      this.#masterUpdate(
        fw,
        t.info.task_id.value,
        state,
        byOperator ? "REASON_AGENT_REMOVED_BY_OPERATOR" : "REASON_AGENT_REMOVED",
        `Agent ${rec.agent.hostname} removed`,
        agentId,
      );
    }
    for (const fw of this.#frameworks.values()) {
      this.#send(fw, { type: "FAILURE", failure: { agent_id: { value: agentId } } });
    }
  }

  /** Keeps the last 1,000 completed tasks per framework (Mesos `--max_completed_tasks_per_framework`). */
  #completeTask(fw: Framework, t: MasterTask): void {
    fw.completed.push(t);
    if (fw.completed.length > 1000) fw.completed.shift();
  }

  #freeTask(t: MasterTask): void {
    if (t.freed) return;
    t.freed = true;
    this.#charge(t.frameworkId, t.resources, -1);
    this.#agents.get(t.agentId)?.used.subtractInPlace(t.resources);
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
      if (isTerminalState(latest)) this.#freeTask(task);
      if (!task.statuses.some((s) => s.uuid === status.uuid)) task.statuses.push(status);
    }
    if (!fw.sub) return; // dropped; the agent resends
    if (task) task.statusUpdateState = status.state;
    this.#send(fw, { type: "UPDATE", update: { status } });
  }

  /** An agent reports a task's latest state. */
  latestState(agentId: string, frameworkId: string, taskId: string, state: TaskState): void {
    const rec = this.#agents.get(agentId);
    if (!rec || rec.state !== "active") return;
    const task = this.#frameworks.get(frameworkId)?.tasks.get(taskId);
    if (!task) return;
    task.state = state;
    if (isTerminalState(state)) this.#freeTask(task);
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
      recovering: this.#recovering,
      frameworks: this.#frameworks,
      completedFrameworks: this.#completedFrameworks,
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
      this.#removeOffer(offer);
      agents.push(offer.agentId);
      this.#send(fw, { type: "RESCIND", rescind: { offer_id: { value: oid } } });
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
      for (const oid of [...fw.offers]) this.#removeOffer(this.#offers.get(oid)!);
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
