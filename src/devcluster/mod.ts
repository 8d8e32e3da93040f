/**
 * A development Apache Mesos cluster: a faithful Mesos v1 master (the scheduler
 * HTTP API with its status codes, RecordIO stream, heartbeats, offers,
 * acknowledgements and reconciliation) and agents that run tasks as local
 * processes, with failure injection for tests.
 *
 * ```ts
 * import { startDevCluster } from "./src/devcluster/mod.ts";
 *
 * await using cluster = await startDevCluster({ agents: 2, allocationIntervalMs: 100 });
 * const res = await fetch(`${cluster.url}/api/v1/scheduler`, {
 *   method: "POST",
 *   headers: { "content-type": "application/json" },
 *   body: JSON.stringify({
 *     type: "SUBSCRIBE",
 *     subscribe: { framework_info: { user: "me", name: "demo" } },
 *   }),
 * });
 * res.headers.get("mesos-stream-id"); // then read RecordIO events from res.body
 * await res.body?.cancel();
 * ```
 *
 * @module
 */
import { type Clock, type Logger, silentLogger, systemClock } from "../runtime.ts";
import type { Agent, ExecutorMode } from "./agent.ts";
import { type AgentSpec, Cluster, type InjectedResponse } from "./cluster.ts";
import type { Master } from "./master.ts";
import { fileRecorder, type Recorder } from "./record.ts";
import { type MasterRegistry, memoryRegistry } from "./registry.ts";
import { parseAttributeText, parseResourceText } from "./resources.ts";
import type { Attribute, Resource } from "../mesos/types.ts";

export { type Agent, type ExecutorMode, parseDurationMs } from "./agent.ts";
export { FILES_READ_CAP_BYTES, FilesService } from "./files.ts";
export { authenticateBasic, type InjectedResponse } from "./cluster.ts";
export { encodeJson } from "./json.ts";
export { DEFAULT_REFUSE_SECONDS } from "./allocator.ts";
export type { Master } from "./master.ts";
export { ipToUint32 } from "./master_info.ts";
export { acceptsJson } from "./responses.ts";
export { fileRecorder, memoryRecorder, type Recorder } from "./record.ts";
export { type MasterRegistry, memberName, type Membership, memoryRegistry } from "./registry.ts";
export { zkRegistry } from "./zk_registry.ts";
export {
  parseAttributeText,
  parseResourceText,
  ResourceParseError,
  ResourceSet,
} from "./resources.ts";
export type * from "./types.ts";

/** Default agent resources, as in the issue. */
export const DEFAULT_AGENT_RESOURCES = "cpus:4;mem:8192;disk:20000;ports:[31000-32000]";

/** Resources as flag text, JSON, or an object such as `{ cpus: 4, mem: 8192, ports: "[31000-32000]" }`. */
export type ResourcesInput = string | Resource[] | Record<string, number | string>;

/** One agent's resources and attributes; anything missing comes from the cluster-wide options. */
export interface AgentInput {
  resources?: ResourcesInput;
  attributes?: string | Attribute[];
}

/** Options of `startDevCluster`; each is the programmatic twin of a `devcluster` flag. */
export interface DevClusterOptions {
  /** Port of the first master (`--port`); 0 (the default here) picks a free port. */
  port?: number;
  /** Listen address and hostname of masters and agents (`--address`). */
  address?: string;
  /** Number of masters (elected like ZooKeeper-registered masters); default 1. */
  masters?: number;
  /** Number of agents, or one entry per agent (`--agents`); default 2. */
  agents?: number | AgentInput[];
  /** Resources of every agent (`--agent-resources`). */
  agentResources?: ResourcesInput;
  /** Attributes of every agent (`--agent-attributes`), e.g. `rack:a;zone:1`. */
  agentAttributes?: string | Attribute[];
  /** How agents run tasks (`--executor`); default `process`. */
  executor?: ExecutorMode;
  /** Allocation interval (`--allocation-interval`); default 1000 ms. */
  allocationIntervalMs?: number;
  /** Heartbeat interval announced in SUBSCRIBED and used; default 15 s. */
  heartbeatIntervalSeconds?: number;
  /** Agents' work directory (`--work-dir`); default a temporary directory removed on close. */
  workDir?: string;
  /** Simulated task duration (`--simulate-duration`); default 1000 ms. */
  simulateDurationMs?: number;
  /** Record calls and events to this file (`--record`), or to a `Recorder`. */
  record?: string | Recorder;
  /** Basic-auth credentials (`--credentials`): a Mesos credentials file path or the pairs. */
  credentials?: string | { principal: string; secret: string }[];
  /** Where masters register and are elected; default an in-memory group. */
  registry?: MasterRegistry;
  /** First resend of an unacknowledged update; default 10 s as Mesos. */
  statusUpdateRetryMs?: number;
  /** Cap of the resend back-off; default 10 min. */
  statusUpdateRetryMaxMs?: number;
  /** SIGTERM → SIGKILL grace when a task has no kill policy; default 3000 ms. */
  killGracePeriodMs?: number;
  /** How long agents take to reregister with a newly elected master; default 0. */
  agentReregisterDelayMs?: number;
  /** Whether agents serve HTTP (`/files`, `/state`); default true. */
  agentHttp?: boolean;
  /** Rescind offers left unanswered this long (`--offer-timeout`); default never, as Mesos. */
  offerTimeoutMs?: number;
  clock?: Clock;
  logger?: Logger;
}

/** A running development cluster; dispose it (or `close()`) to stop everything. */
export interface DevCluster extends AsyncDisposable {
  /** Base URL of the first master, e.g. `http://127.0.0.1:5050`. */
  readonly url: string;
  /** Base URL of the current leader (differs from `url` after a fail-over). */
  readonly masterUrl: string;
  /** Base URLs of every master. */
  readonly masterUrls: string[];
  /** `${masterUrl}/api/v1/scheduler`. */
  readonly schedulerUrl: string;
  /** The agents (`id`, `url`, `hostname`, `port`, `state()`). */
  readonly agents: readonly Agent[];
  readonly workDir: string;
  /** The leading master's state machine (for assertions and benchmarks), or null. */
  readonly master: Master | null;
  /** The leader's `/master/state` document. */
  state(): Record<string, unknown>;
  /** Adds and registers one more agent. */
  addAgent(input?: AgentInput): Agent;
  /** Removes an agent: tasks TASK_GONE (PARTITION_AWARE; TASK_GONE_BY_OPERATOR with `byOperator`) or TASK_LOST. */
  removeAgent(agentId: string, options?: { byOperator?: boolean }): Promise<void>;
  /** Partitions an agent away: tasks TASK_UNREACHABLE or TASK_LOST, offers rescinded, FAILURE. */
  partitionAgent(agentId: string): void;
  /** Heals a partition: the agent reregisters and resends pending updates. */
  healAgent(agentId: string): void;
  /** Restarts an agent: checkpointing frameworks' tasks survive, others end TASK_LOST/TASK_GONE. */
  restartAgent(agentId: string): void;
  /** Closes a framework's subscription stream from the master's side. */
  dropStream(frameworkId: string): void;
  /** Keeps a framework's stream open but silent (half-open) until `unstallStream`; a new subscription is not stalled. */
  stallStream(frameworkId: string): void;
  unstallStream(frameworkId: string): void;
  /** Writes bytes that are not valid RecordIO into a framework's stream. */
  corruptStream(frameworkId: string): void;
  stopHeartbeats(frameworkId?: string): void;
  resumeHeartbeats(frameworkId?: string): void;
  /** Drops the next `count` ACKNOWLEDGE calls (default all; 0 stops dropping). */
  dropAcks(count?: number): void;
  /** Delays ACKNOWLEDGE calls by `ms` (0 stops delaying). */
  delayAcks(ms: number): void;
  /** Rescinds a framework's offers just before each of its next `count` ACCEPT calls is read (0 = off). */
  rescindBeforeAccept(count?: number): void;
  /** Answers the next scheduler requests (optionally of one call type) with a canned response, or delays them. */
  injectResponses(response: InjectedResponse): void;
  /** Splits every RecordIO record into chunks of at most `bytes` bytes (0 = one chunk per record). */
  splitChunks(bytes: number): void;
  /** Restarts the leader with or without its memory (see docs/devcluster.md). */
  restartMaster(options?: { memory?: boolean; recoveryMs?: number }): Promise<void>;
  /** Fails over to another master (new master id, frameworks must resubscribe). */
  failover(options?: { gapMs?: number }): Promise<void>;
  /**
   * Kills the leading master for good, as if its process died (server gone, registry
   * node removed); the next master leads. Returns the killed master's URL.
   */
  killMaster(): Promise<string>;
  /** Runs an allocation round now. */
  allocate(): void;
  close(): Promise<void>;
}

/** Thrown for invalid cluster options. */
export class DevClusterConfigError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DevClusterConfigError";
  }
}

function resolveResources(input: ResourcesInput): Resource[] {
  if (typeof input === "string") return parseResourceText(input);
  if (Array.isArray(input)) return input;
  return parseResourceText(Object.entries(input).map(([k, v]) => `${k}:${v}`).join(";"));
}

function resolveAttributes(input: string | Attribute[] | undefined): Attribute[] {
  if (input === undefined) return [];
  return typeof input === "string" ? parseAttributeText(input) : input;
}

/** Reads a Mesos credentials file: JSON `{"credentials":[{"principal","secret"}]}` or `principal secret` lines. */
export async function readCredentialsFile(path: string): Promise<Map<string, string>> {
  const text = await Deno.readTextFile(path);
  const out = new Map<string, string>();
  try {
    const json = JSON.parse(text) as { credentials?: { principal: string; secret: string }[] };
    for (const c of json.credentials ?? []) out.set(c.principal, c.secret);
  } catch {
    for (const line of text.split("\n")) {
      const [p, s] = line.trim().split(/\s+/);
      if (p && s !== undefined) out.set(p, s);
    }
  }
  if (!out.size) {
    throw new DevClusterConfigError(`Cannot read credentials from "${path}": no entries`);
  }
  return out;
}

async function dockerCliPresent(): Promise<boolean> {
  try {
    const out = await new Deno.Command("docker", {
      args: ["version"],
      stdout: "null",
      stderr: "null",
    })
      .output();
    return out.success;
  } catch {
    return false;
  }
}

/** Starts a development cluster; see `DevClusterOptions`. */
export async function startDevCluster(options: DevClusterOptions = {}): Promise<DevCluster> {
  const {
    port = 0,
    address = "127.0.0.1",
    masters = 1,
    agents = 2,
    agentResources = DEFAULT_AGENT_RESOURCES,
    agentAttributes,
    executor = "process",
    allocationIntervalMs = 1000,
    heartbeatIntervalSeconds = 15,
    simulateDurationMs = 1000,
    statusUpdateRetryMs = 10_000,
    statusUpdateRetryMaxMs = 600_000,
    killGracePeriodMs = 3000,
    agentReregisterDelayMs = 0,
    agentHttp = true,
    clock = systemClock,
    logger = silentLogger,
  } = options;
  if (!["process", "docker", "simulated"].includes(executor)) {
    throw new DevClusterConfigError(
      `Unknown executor "${executor}": expected process, docker or simulated`,
    );
  }
  if (!(allocationIntervalMs > 0)) {
    throw new DevClusterConfigError(
      `Allocation interval must be positive, got ${allocationIntervalMs}`,
    );
  }
  if (!(heartbeatIntervalSeconds > 0)) {
    throw new DevClusterConfigError(
      `Heartbeat interval must be positive, got ${heartbeatIntervalSeconds}`,
    );
  }
  let specs: AgentSpec[];
  try {
    const inputs: AgentInput[] = typeof agents === "number"
      ? Array.from({ length: agents }, () => ({}))
      : agents;
    specs = inputs.map((a) => ({
      resources: resolveResources(a.resources ?? agentResources),
      attributes: resolveAttributes(a.attributes ?? agentAttributes),
    }));
  } catch (err) {
    throw new DevClusterConfigError((err as Error).message, { cause: err });
  }
  const credentials = options.credentials === undefined
    ? undefined
    : typeof options.credentials === "string"
    ? await readCredentialsFile(options.credentials)
    : new Map(options.credentials.map((c) => [c.principal, c.secret]));
  const ownWorkDir = options.workDir === undefined;
  const workDir = options.workDir ?? await Deno.makeTempDir({ prefix: "devcluster-" });
  await Deno.mkdir(workDir, { recursive: true });
  const recorder = typeof options.record === "string"
    ? fileRecorder(options.record, clock)
    : options.record;
  const cluster = new Cluster({
    address,
    ports: [port, ...Array.from({ length: Math.max(0, masters - 1) }, () => 0)],
    agents: specs,
    executor,
    allocationIntervalMs,
    heartbeatIntervalSeconds,
    workDir,
    simulateDurationMs,
    recorder,
    credentials,
    registry: options.registry ?? memoryRegistry(),
    clock,
    logger,
    statusUpdateRetryMs,
    statusUpdateRetryMaxMs,
    killGracePeriodMs,
    agentReregisterDelayMs,
    agentHttp,
    dockerAvailable: executor === "docker" && await dockerCliPresent(),
    offerTimeoutMs: options.offerTimeoutMs,
  });
  try {
    await cluster.start();
  } catch (err) {
    await cluster.close();
    throw err;
  }
  const url = cluster.masterUrls[0];
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await cluster.close();
    if (ownWorkDir) await Deno.remove(workDir, { recursive: true }).catch(() => {});
  };
  return {
    url,
    get masterUrl() {
      return cluster.leaderUrl;
    },
    masterUrls: cluster.masterUrls,
    get schedulerUrl() {
      return `${cluster.leaderUrl}/api/v1/scheduler`;
    },
    agents: cluster.agents,
    workDir,
    get master() {
      return cluster.master;
    },
    state() {
      const m = cluster.master;
      if (!m) throw new RangeError("Cannot read state: no leader is elected");
      return m.state();
    },
    addAgent: (input = {}) =>
      cluster.addAgent({
        resources: resolveResources(input.resources ?? agentResources),
        attributes: resolveAttributes(input.attributes ?? agentAttributes),
      }),
    removeAgent: (id, o) => cluster.removeAgent(id, o),
    partitionAgent: (id) => cluster.partitionAgent(id),
    healAgent: (id) => cluster.healAgent(id),
    restartAgent: (id) => cluster.restartAgent(id),
    dropStream: (id) => cluster.dropStream(id),
    stallStream: (id) => cluster.stallStream(id),
    unstallStream: (id) => cluster.unstallStream(id),
    corruptStream: (id) => cluster.corruptStream(id),
    stopHeartbeats: (id) => cluster.stopHeartbeats(id),
    resumeHeartbeats: (id) => cluster.resumeHeartbeats(id),
    dropAcks: (count) => cluster.dropAcks(count),
    delayAcks: (ms) => cluster.delayAcks(ms),
    rescindBeforeAccept: (count) => cluster.rescindBeforeAccept(count),
    injectResponses: (r) => cluster.injectResponses(r),
    splitChunks: (bytes) => {
      cluster.faults.splitChunksBytes = bytes;
    },
    restartMaster: (o) => cluster.restartMaster(o),
    failover: (o) => cluster.failover(o),
    killMaster: () => cluster.killMaster(),
    allocate: () => cluster.master?.allocate(),
    close,
    [Symbol.asyncDispose]: close,
  };
}
