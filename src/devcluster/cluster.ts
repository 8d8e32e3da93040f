/**
 * The development cluster: master HTTP fronts (authentication, leadership and
 * redirects, state documents, the `/devcluster/...` control API), their
 * election through a `MasterRegistry`, the agents, and failure injection.
 *
 * @module
 */
import { type Clock, type Logger, Timers } from "../runtime.ts";
import { Agent, type ExecutorMode } from "./agent.ts";
import { type Faults, noFaults } from "./faults.ts";
import { subscriptionsOpened } from "./subscription.ts";
import { Master } from "./master.ts";
import { advertisedHostname, advertisedIp, makeMasterInfo } from "./master_info.ts";
import { jsonResponse, leaderRedirect, textResponse } from "./responses.ts";
import type { Recorder } from "./record.ts";
import { type Answer, type Http1Request, type Http1Server, serveHttp1 } from "./http1.ts";
import type { MasterRegistry, Membership } from "./registry.ts";
import type { Attribute, MasterInfo, Resource } from "../mesos/types.ts";

const SCHEDULER_PATH = "/api/v1/scheduler";
const MASTER_SCHEDULER_PATH = "/master/api/v1/scheduler";

/** One agent's shape. */
export interface AgentSpec {
  resources: Resource[];
  attributes: Attribute[];
}

/** A canned answer for upcoming scheduler requests (failure injection). */
export interface InjectedResponse {
  /** Status to answer with; absent = handle the request normally after `delayMs`. */
  status?: number;
  /** Wait this long before answering (a stalled response). */
  delayMs?: number;
  /** How many requests it answers (default 1). */
  count?: number;
  /** Only calls of this type (e.g. `SUBSCRIBE`); any call when absent. */
  type?: string;
  body?: string;
  headers?: Record<string, string>;
}

/** Resolved settings of a cluster (see `DevClusterOptions` in mod.ts for the documented form). */
export interface ClusterSettings {
  address: string;
  ports: number[];
  agents: AgentSpec[];
  executor: ExecutorMode;
  allocationIntervalMs: number;
  heartbeatIntervalSeconds: number;
  workDir: string;
  simulateDurationMs: number;
  recorder?: Recorder;
  credentials?: Map<string, string>;
  registry: MasterRegistry;
  clock: Clock;
  logger: Logger;
  statusUpdateRetryMs: number;
  statusUpdateRetryMaxMs: number;
  killGracePeriodMs: number;
  agentReregisterDelayMs: number;
  agentHttp: boolean;
  dockerAvailable: boolean;
  offerTimeoutMs?: number;
}

interface MasterNode {
  index: number;
  hostname: string;
  port: number;
  server: Http1Server | null;
  masterId: string;
  master: Master | null;
  timers: Timers | null;
  membership: Membership | null;
  recoveringUntil: number;
  /** Killed for good (`killMaster`): no server, no membership. */
  killed: boolean;
}

/** Checks `Authorization: Basic ...` against the credentials; returns the principal or null. */
export function authenticateBasic(
  header: string | null,
  credentials: Map<string, string>,
): string | null {
  if (header === null) return null;
  const m = /^Basic ([^ ]+)$/.exec(header);
  if (!m) return null;
  let decoded: string;
  try {
    decoded = atob(m[1]);
  } catch {
    return null;
  }
  const parts = decoded.split(":");
  if (parts.length !== 2) return null;
  return credentials.get(parts[0]) === parts[1] ? parts[0] : null;
}

/** A running development cluster (the implementation behind `startDevCluster`). */
export class Cluster {
  readonly settings: ClusterSettings;
  readonly faults: Faults = noFaults();
  readonly agents: Agent[] = [];
  #nodes: MasterNode[] = [];
  #timers: Timers;
  #logger: Logger;
  #leader: MasterNode | null = null;
  #removed = new Set<string>();
  #partitioned = new Set<string>();
  #injected: InjectedResponse[] = [];
  #agentCounter = 0;
  #agentIdPrefix = "";
  #unwatch: (() => void) | null = null;
  #noLeaderUntil = 0;
  #closed = false;

  constructor(settings: ClusterSettings) {
    this.settings = settings;
    this.#timers = new Timers(settings.clock);
    this.#logger = settings.logger;
  }

  /** Starts the masters' HTTP fronts, elects the first master and registers the agents. */
  async start(): Promise<void> {
    const s = this.settings;
    for (let i = 0; i < s.ports.length; i++) {
      const node: MasterNode = {
        index: i,
        hostname: advertisedHostname(s.address),
        port: 0,
        server: null,
        masterId: crypto.randomUUID(),
        master: null,
        timers: null,
        membership: null,
        recoveringUntil: 0,
        killed: false,
      };
      node.server = serveHttp1(
        { port: s.ports[i], hostname: s.address },
        (req) => this.#handle(node, req),
      );
      node.port = node.server.port;
      this.#nodes.push(node);
    }
    const first = this.#nodes[0];
    this.#agentIdPrefix = first.masterId;
    // The first leader starts with an empty registry: agents register with it directly.
    first.master = this.#newMaster(first, { recovering: [], unreachable: [], gone: [] });
    this.#unwatch = s.registry.watch((leader) => this.#onLeader(leader));
    for (const node of this.#nodes) node.membership = await s.registry.join(this.#infoOf(node));
    this.#onLeader(await s.registry.leader());
    for (const spec of s.agents) this.addAgent(spec);
  }

  #infoOf(node: MasterNode): MasterInfo {
    return node.master?.info ?? makeMasterInfo(node.masterId, node.hostname, node.port);
  }

  #newMaster(
    node: MasterNode,
    registry: { recovering: Agent[]; unreachable: Agent[]; gone: Agent[] },
  ): Master {
    const s = this.settings;
    node.timers = new Timers(s.clock);
    return new Master({
      hostname: node.hostname,
      port: node.port,
      timers: node.timers,
      logger: this.#logger,
      heartbeatIntervalSeconds: s.heartbeatIntervalSeconds,
      allocationIntervalMs: s.allocationIntervalMs,
      recorder: s.recorder,
      faults: this.faults,
      recoveringAgents: registry.recovering.map((a) => a.id),
      unreachableAgents: registry.unreachable,
      goneAgents: registry.gone,
      authenticate: s.credentials !== undefined,
      id: node.masterId,
      offerTimeoutMs: s.offerTimeoutMs,
    });
  }

  #stopMaster(node: MasterNode): void {
    node.master?.close();
    node.timers?.close();
    node.master = null;
    node.timers = null;
  }

  #onLeader(leader: MasterInfo | null): void {
    if (this.#closed) return;
    const node = leader ? this.#nodes.find((n) => n.masterId === leader.id) ?? null : null;
    for (const n of this.#nodes) if (n !== node && n.master) this.#stopMaster(n);
    this.#leader = node;
    if (!node || node.master) return;
    // A newly elected master knows only the registry (as Mesos's replicated log): the
    // admitted agents, which must reregister with their tasks, and the unreachable
    // and removed ones.
    const gone = this.agents.filter((a) => this.#removed.has(a.id));
    const unreachable = this.agents.filter((a) =>
      this.#partitioned.has(a.id) && !this.#removed.has(a.id)
    );
    const expected = this.agents.filter((a) =>
      !this.#partitioned.has(a.id) && !this.#removed.has(a.id)
    );
    const master = this.#newMaster(node, { recovering: expected, unreachable, gone });
    node.master = master;
    this.#logger.info("Master elected", { master_id: master.id, port: node.port });
    for (const agent of expected) agent.setMaster(null);
    this.#timers.after(this.settings.agentReregisterDelayMs, () => {
      if (node.master !== master) return;
      for (const agent of expected) {
        if (!this.#partitioned.has(agent.id) && !this.#removed.has(agent.id)) {
          master.addAgent(agent);
        }
      }
    });
  }

  /** The leading node, or null (no leader, or inside a leaderless gap). */
  #leaderNode(): MasterNode | null {
    if (this.#noLeaderUntil > this.settings.clock.now()) return null;
    return this.#leader?.master ? this.#leader : null;
  }

  /** The leading master's state machine, or null. */
  get master(): Master | null {
    return this.#leaderNode()?.master ?? null;
  }

  /** Base URLs of every master node. */
  get masterUrls(): string[] {
    return this.#nodes.map((n) => `http://${n.hostname}:${n.port}`);
  }

  /** Base URL of the leading master (the first node when there is none). */
  get leaderUrl(): string {
    const n = this.#leaderNode() ?? this.#nodes[0];
    return `http://${n.hostname}:${n.port}`;
  }

  // -- HTTP ---------------------------------------------------------------------------------

  #handle(node: MasterNode, raw: Http1Request): Answer | Promise<Answer> {
    const failed = (err: unknown) => {
      this.#logger.error("Request failed", {
        path: raw.target.split("?")[0],
        error: String(err),
      });
      return textResponse(500, "Internal Server Error");
    };
    try {
      // The scheduler endpoint, hot during launches, works on the request as read.
      const target = raw.target;
      const path = target === SCHEDULER_PATH || target === MASTER_SCHEDULER_PATH
        ? target
        : target.split("?")[0].replace(/(.)\/$/, "$1");
      const answer = path === SCHEDULER_PATH || path === MASTER_SCHEDULER_PATH
        ? this.#scheduler(node, raw)
        : this.#route(node, raw.toRequest());
      return answer instanceof Promise ? answer.catch(failed) : answer;
    } catch (err) {
      return failed(err);
    }
  }

  async #route(node: MasterNode, req: Request): Promise<Answer> {
    const url = new URL(req.url);
    let path = url.pathname;
    if (path.length > 1 && path.endsWith("/")) path = path.slice(0, -1);
    if (path.startsWith("/devcluster/")) return await this.#control(req, path, url.searchParams);
    const leader = this.#leaderNode();
    switch (path) {
      case "/health":
      case "/master/health":
        return new Response(null, { status: 200 });
      case "/version":
        return jsonResponse({ version: "1.11.0", build_user: "devcluster", git_tag: "1.11.0" });
      case "/redirect":
      case "/master/redirect":
        if (!leader) return textResponse(503, "No leader elected");
        return leaderRedirect(leader, path);
    }
    const leaderOnly: Record<string, (m: Master) => Answer | Promise<Answer>> = {
      "/state": (m) => jsonResponse(m.state()),
      "/tasks": (m) => jsonResponse(m.tasks(url.searchParams)),
      "/frameworks": (m) => jsonResponse(m.frameworks()),
      "/slaves": (m) => jsonResponse(m.slaves()),
      "/teardown": async (m) => {
        if (req.method !== "POST") {
          return textResponse(405, "Expecting POST", { allow: "POST" });
        }
        const form = new URLSearchParams(await req.text());
        const id = form.get("frameworkId");
        if (!id) {
          return textResponse(400, "Missing 'frameworkId' query parameter in the request body");
        }
        return m.teardown(id)
          ? new Response(null, { status: 200 })
          : textResponse(400, `No framework found with specified ID`);
      },
    };
    const key = path.startsWith("/master/") ? path.slice("/master".length) : path;
    const handler = leaderOnly[key];
    if (!handler) {
      await req.body?.cancel();
      return textResponse(404, "404 Not Found.");
    }
    if (node !== leader) {
      await req.body?.cancel();
      if (!leader) return textResponse(503, "No leader elected");
      return leaderRedirect(leader, `/master${key}${url.search}`);
    }
    return await handler(node.master!);
  }

  #scheduler(node: MasterNode, req: Http1Request): Answer | Promise<Answer> {
    if (this.faults.rescindBeforeAccept > 0) this.#rescindIfAccept(node, req);
    if (this.#injected.length) {
      return this.#takeInjected(req).then((injected) => injected ?? this.#schedulerCall(node, req));
    }
    return this.#schedulerCall(node, req);
  }

  #schedulerCall(node: MasterNode, req: Http1Request): Answer {
    let principal: string | undefined;
    const credentials = this.settings.credentials;
    if (credentials) {
      const p = authenticateBasic(req.header("authorization"), credentials);
      if (p === null) {
        return textResponse(401, "401 Unauthorized.", {
          "www-authenticate": 'Basic realm="mesos-master-scheduler"',
        });
      }
      principal = p;
    }
    const leader = this.#leaderNode();
    if (node !== leader) {
      if (!leader) return textResponse(503, "No leader elected");
      return leaderRedirect(leader, req.target);
    }
    if (node.recoveringUntil > this.settings.clock.now()) {
      return textResponse(503, "Master has not finished recovery");
    }
    return node.master!.handleScheduler(req, principal);
  }

  /** Failure injection: an ACCEPT finds its framework's offers rescinded just before. */
  #rescindIfAccept(node: MasterNode, req: Http1Request): void {
    let call: { type?: string; framework_id?: { value?: string } };
    try {
      call = JSON.parse(req.text());
    } catch {
      return; // not JSON: the master answers it
    }
    const id = call.framework_id?.value;
    if (call.type !== "ACCEPT" || typeof id !== "string" || !node.master) return;
    this.faults.rescindBeforeAccept--;
    node.master.rescindOffers(id);
  }

  /** An injected answer for this call, or null to handle it (after any injected delay). */
  async #takeInjected(req: Http1Request): Promise<Answer | null> {
    let type: string | undefined;
    if (this.#injected.some((i) => i.type !== undefined)) {
      try {
        type = (JSON.parse(req.text()) as { type?: string }).type;
      } catch { /* not JSON: matches only untyped injections */ }
    }
    const i = this.#injected.findIndex((x) => x.type === undefined || x.type === type);
    if (i < 0) return null;
    const inj = this.#injected[i];
    inj.count = (inj.count ?? 1) - 1;
    if (inj.count <= 0) this.#injected.splice(i, 1);
    if (inj.delayMs) await this.settings.clock.sleep(inj.delayMs);
    if (inj.status === undefined) return null;
    return new Response(inj.body ?? null, {
      status: inj.status,
      headers: { "content-type": "text/plain; charset=utf-8", ...inj.headers },
    });
  }

  async #control(req: Request, path: string, q: URLSearchParams): Promise<Response> {
    const parts = path.split("/").slice(2); // after "/devcluster"
    const ok = (value: unknown = {}) => jsonResponse(value);
    if (req.method === "GET" && parts[0] === "state") return ok(this.describe());
    if (req.method !== "POST") {
      await req.body?.cancel();
      return textResponse(405, "Expecting POST", { allow: "POST" });
    }
    const body = await req.text();
    const num = (name: string, fallback: number) => {
      const v = q.get(name);
      return v === null ? fallback : Number(v);
    };
    const bool = (name: string) => q.get(name) === "true" || q.get(name) === "1";
    try {
      switch (parts.join("/")) {
        case "agents": {
          const spec = body ? JSON.parse(body) as Partial<AgentSpec> : {};
          const agent = this.addAgent({
            resources: spec.resources ?? this.settings.agents[0]?.resources ?? [],
            attributes: spec.attributes ?? [],
          });
          return ok({ id: agent.id, url: agent.url });
        }
        case "heartbeats/stop":
          this.stopHeartbeats(q.get("framework_id") ?? undefined);
          return ok();
        case "heartbeats/start":
          this.resumeHeartbeats(q.get("framework_id") ?? undefined);
          return ok();
        case "acks/drop":
          this.dropAcks(num("count", Infinity));
          return ok();
        case "acks/delay":
          this.delayAcks(num("ms", 0));
          return ok();
        case "acks/normal":
          this.dropAcks(0);
          this.delayAcks(0);
          return ok();
        case "master/restart":
          await this.restartMaster({ memory: bool("memory"), recoveryMs: num("recovery_ms", 0) });
          return ok();
        case "master/failover":
          await this.failover({ gapMs: num("gap_ms", 0) });
          return ok();
        case "master/kill":
          return ok({ killed: await this.killMaster() });
        case "stream/chunking":
          this.faults.splitChunksBytes = num("split", 0);
          return ok();
        case "faults/next":
          this.injectResponses({
            status: q.has("status") || !q.has("delay_ms") ? num("status", 503) : undefined,
            delayMs: num("delay_ms", 0),
            count: num("count", 1),
            type: q.get("type") ?? undefined,
            body: q.get("body") ?? undefined,
          });
          return ok();
        case "allocate":
          this.master?.allocate();
          return ok();
        case "offers/rescind-before-accept":
          this.rescindBeforeAccept(num("count", 1));
          return ok();
      }
      if (parts[0] === "agents" && parts.length === 3) {
        const id = decodeURIComponent(parts[1]);
        if (parts[2] === "remove") await this.removeAgent(id, { byOperator: bool("by_operator") });
        else if (parts[2] === "partition") this.partitionAgent(id);
        else if (parts[2] === "heal") this.healAgent(id);
        else if (parts[2] === "restart") this.restartAgent(id);
        else return textResponse(404, "404 Not Found.");
        return ok();
      }
      if (parts[0] === "frameworks" && parts.length === 3) {
        const id = decodeURIComponent(parts[1]);
        if (parts[2] === "drop-stream") this.dropStream(id);
        else if (parts[2] === "stall-stream") this.stallStream(id);
        else if (parts[2] === "unstall-stream") this.unstallStream(id);
        else if (parts[2] === "corrupt-stream") this.corruptStream(id);
        else return textResponse(404, "404 Not Found.");
        return ok();
      }
    } catch (err) {
      return textResponse(400, (err as Error).message);
    }
    return textResponse(404, "404 Not Found.");
  }

  // -- agents -------------------------------------------------------------------------------

  /** Adds and registers an agent. */
  addAgent(spec: AgentSpec): Agent {
    const s = this.settings;
    const agent = new Agent({
      id: `${this.#agentIdPrefix}-S${this.#agentCounter++}`,
      hostname: advertisedHostname(s.address),
      listen: s.address,
      ip: advertisedIp(s.address),
      resources: spec.resources,
      attributes: spec.attributes,
      workDir: s.workDir,
      executor: s.executor,
      simulateDurationMs: s.simulateDurationMs,
      timers: this.#timers,
      logger: this.#logger,
      statusUpdateRetryMs: s.statusUpdateRetryMs,
      statusUpdateRetryMaxMs: s.statusUpdateRetryMaxMs,
      killGracePeriodMs: s.killGracePeriodMs,
      serve: s.agentHttp,
      dockerAvailable: s.dockerAvailable,
    });
    agent.start();
    this.agents.push(agent);
    this.master?.addAgent(agent);
    return agent;
  }

  #agent(id: string): Agent {
    const agent = this.agents.find((a) => a.id === id);
    if (!agent) throw new RangeError(`Cannot find agent "${id}"`);
    return agent;
  }

  /** Removes an agent: processes killed, tasks TASK_GONE (PARTITION_AWARE) or TASK_LOST. */
  async removeAgent(id: string, { byOperator = false } = {}): Promise<void> {
    const agent = this.#agent(id);
    this.#removed.add(id);
    this.master?.removeAgent(id, { byOperator });
    await agent.close();
  }

  /** Cuts an agent off the master: tasks TASK_UNREACHABLE (or TASK_LOST), offers rescinded. */
  partitionAgent(id: string): void {
    const agent = this.#agent(id);
    if (this.#removed.has(id)) {
      throw new RangeError(`Cannot partition agent "${id}": it was removed`);
    }
    this.#partitioned.add(id);
    this.master?.markAgentUnreachable(agent.id);
    agent.setMaster(null);
  }

  /** Reconnects a partitioned agent: it reregisters with its tasks and resends pending updates. */
  healAgent(id: string): void {
    const agent = this.#agent(id);
    if (this.#removed.has(id)) throw new RangeError(`Cannot heal agent "${id}": it was removed`);
    this.#partitioned.delete(id);
    this.master?.addAgent(agent);
  }

  /**
   * Restarts an agent: tasks of checkpointing frameworks survive and their
   * pending updates are resent; other tasks end TASK_LOST (TASK_GONE if PARTITION_AWARE).
   */
  restartAgent(id: string): void {
    const agent = this.#agent(id);
    const lost = agent.restart();
    const master = this.master;
    if (!master || this.#partitioned.has(id) || this.#removed.has(id)) return;
    master.agentRestarted(id, lost);
    master.addAgent(agent);
  }

  // -- frameworks, heartbeats, acknowledgements ---------------------------------------------------

  /** Closes a framework's subscription stream from the master's side. */
  dropStream(frameworkId: string): void {
    this.master?.disconnectFramework(frameworkId);
  }

  /**
   * Keeps a framework's stream open but sends nothing more on it (half-open connection);
   * a subscription opened afterwards is a new connection and works.
   */
  stallStream(frameworkId: string): void {
    this.faults.stalled.set(frameworkId, subscriptionsOpened());
  }

  /** Lets a stalled stream carry events again (events meanwhile are lost, as on a dead link). */
  unstallStream(frameworkId: string): void {
    this.faults.stalled.delete(frameworkId);
  }

  /** Writes bytes that are not valid RecordIO into a framework's stream. */
  corruptStream(frameworkId: string): void {
    this.master?.corruptStream(frameworkId);
  }

  /** Stops heartbeats for one framework, or all. */
  stopHeartbeats(frameworkId?: string): void {
    if (frameworkId === undefined) this.faults.heartbeatsStopped = true;
    else this.faults.heartbeatsStoppedFor.add(frameworkId);
  }

  /** Resumes heartbeats for one framework, or all. */
  resumeHeartbeats(frameworkId?: string): void {
    if (frameworkId === undefined) {
      this.faults.heartbeatsStopped = false;
      this.faults.heartbeatsStoppedFor.clear();
    } else this.faults.heartbeatsStoppedFor.delete(frameworkId);
  }

  /** Drops the next `count` acknowledgements (0 turns dropping off). */
  dropAcks(count = Infinity): void {
    this.faults.dropAcks = count;
  }

  /** Delays every acknowledgement by `ms` on its way to the agent (0 turns it off). */
  delayAcks(ms: number): void {
    this.faults.delayAcksMs = ms;
  }

  /**
   * Rescinds the framework's offers just before each of the next `count` ACCEPT calls
   * is read (0 turns it off): its launches meet `Offer ... is no longer valid`.
   */
  rescindBeforeAccept(count = 1): void {
    this.faults.rescindBeforeAccept = count;
  }

  /** Answers the next scheduler requests with a canned response. */
  injectResponses(inj: InjectedResponse): void {
    this.#injected.push({ ...inj });
  }

  // -- masters ------------------------------------------------------------------------------

  /**
   * Restarts the leading master. With `memory` it keeps its state and only drops
   * every connection; without, it comes back with a new id knowing nothing but
   * the agents of its registry, which reregister after `agentReregisterDelayMs`.
   * `recoveryMs` answers 503 `Master has not finished recovery` meanwhile.
   */
  async restartMaster({ memory = false, recoveryMs = 0 } = {}): Promise<void> {
    const node = this.#leaderNode();
    if (!node) throw new RangeError("Cannot restart the master: no leader is elected");
    node.recoveringUntil = this.settings.clock.now() + recoveryMs;
    if (memory) {
      node.master!.dropAllStreams();
      return;
    }
    await this.failover();
  }

  /**
   * Fails the leader over: it leaves the group and rejoins as a follower with a
   * new id; the next master in the group leads, with amnesia. `gapMs` keeps the
   * cluster leaderless (503 `No leader elected`) for that long.
   */
  async failover({ gapMs = 0 } = {}): Promise<void> {
    const node = this.#leader;
    if (!node) throw new RangeError("Cannot fail over: no leader is elected");
    if (gapMs > 0) this.#noLeaderUntil = this.settings.clock.now() + gapMs;
    this.#stopMaster(node);
    node.masterId = crypto.randomUUID();
    await node.membership?.cancel();
    node.membership = await this.settings.registry.join(this.#infoOf(node));
  }

  /**
   * Kills the leading master as if its process died: its scheduler streams
   * break, its HTTP server stops (connections are refused; a request in progress,
   * such as the one asking for the kill, still gets its answer), and its
   * registry node goes away as an ephemeral ZooKeeper node does when its
   * session ends. It does not come back. The next master in the group leads,
   * learns the agents from the registry and their tasks as they reregister.
   * Returns the killed master's URL; refuses to kill the last live master.
   */
  async killMaster(): Promise<string> {
    const node = this.#leaderNode();
    if (!node) throw new RangeError("Cannot kill the master: no leader is elected");
    if (!this.#nodes.some((n) => n !== node && !n.killed)) {
      throw new RangeError("Cannot kill the master: it is the last one alive");
    }
    node.killed = true;
    this.#stopMaster(node);
    node.server?.close();
    const membership = node.membership;
    node.membership = null;
    await membership?.cancel();
    this.#logger.info("Master killed", { master_id: node.masterId, port: node.port });
    return `http://${node.hostname}:${node.port}`;
  }

  /** A summary for `/devcluster/state`. */
  describe(): Record<string, unknown> {
    const leader = this.#leaderNode();
    return {
      leader: leader ? `http://${leader.hostname}:${leader.port}` : null,
      master_id: leader?.master?.id ?? null,
      masters: this.#nodes.map((n) => ({
        url: `http://${n.hostname}:${n.port}`,
        id: n.masterId,
        leading: n === leader,
        killed: n.killed,
      })),
      agents: this.agents.map((a) => ({
        id: a.id,
        url: a.url,
        removed: this.#removed.has(a.id),
        partitioned: this.#partitioned.has(a.id),
        active_tasks: a.activeTaskCount,
      })),
      faults: {
        heartbeats_stopped: this.faults.heartbeatsStopped,
        heartbeats_stopped_for: [...this.faults.heartbeatsStoppedFor],
        drop_acks: this.faults.dropAcks === Infinity ? "all" : this.faults.dropAcks,
        delay_acks_ms: this.faults.delayAcksMs,
        split_chunks_bytes: this.faults.splitChunksBytes,
        stalled: [...this.faults.stalled.keys()],
        rescind_before_accept: this.faults.rescindBeforeAccept,
        injected_responses: this.#injected.reduce((n, i) => n + (i.count ?? 1), 0),
      },
    };
  }

  /** Stops everything: masters, agents (their processes), servers, timers. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#unwatch?.();
    for (const n of this.#nodes) this.#stopMaster(n);
    await Promise.all(this.agents.map((a) => a.close()));
    this.#timers.close();
    await Promise.all(this.#nodes.map((n) => n.server?.shutdown()));
    await this.settings.registry.close();
    this.settings.recorder?.close();
  }
}
