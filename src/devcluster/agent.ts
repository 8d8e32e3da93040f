/**
 * A development Mesos agent: runs tasks as local processes in per-task
 * sandboxes (or simulates them), keeps a per-task status update queue with
 * acknowledgement retries like `TaskStatusUpdateManager`, and serves `/state`
 * and `/files/*` as a real agent does.
 *
 * @module
 */
import { type Logger, silentLogger, type Timer, type Timers } from "../runtime.ts";
import { FetchError, fetchUris } from "./fetcher.ts";
import { FilesService } from "./files.ts";
import { encodeJson } from "./json.ts";
import { flattenAttributes, ResourceSet } from "./resources.ts";
import {
  type Attribute,
  type FrameworkInfo,
  isTerminalState,
  type Resource,
  type TaskInfo,
  type TaskState,
  type TaskStatus,
} from "../mesos/types.ts";
import { MESOS_VERSION } from "./types.ts";

/** How an agent runs tasks. */
export type ExecutorMode = "process" | "docker" | "simulated";

/** What an agent needs from the master it is registered with. */
export interface MasterLink {
  /** Forwards a reliable update (the head of a task's queue) with the task's latest state. */
  statusUpdate(agentId: string, frameworkId: string, status: TaskStatus, latest: TaskState): void;
  /** Tells the master a task's latest state (it frees resources on terminal states). */
  latestState(agentId: string, frameworkId: string, taskId: string, state: TaskState): void;
}

/** Options of an `Agent`. */
export interface AgentOptions {
  id: string;
  /** Advertised hostname (offers, `/state`, pid). */
  hostname: string;
  /** Listen address; `hostname` by default. */
  listen?: string;
  /** Advertised IPv4 address (offer `url.address.ip`); 127.0.0.1 by default. */
  ip?: string;
  resources: Resource[];
  attributes?: Attribute[];
  workDir: string;
  executor?: ExecutorMode;
  simulateDurationMs?: number;
  timers: Timers;
  logger?: Logger;
  /** First resend of an unacknowledged update (Mesos: 10 s), doubling up to the max. */
  statusUpdateRetryMs?: number;
  /** Resend cap (Mesos: 10 min). */
  statusUpdateRetryMaxMs?: number;
  /** Grace between SIGTERM and SIGKILL when the task has no kill policy (Mesos: 3 s). */
  killGracePeriodMs?: number;
  /** Port of the agent's HTTP endpoint (0 = a free port). */
  port?: number;
  /** Whether to serve HTTP at all (scale runs may turn it off). */
  serve?: boolean;
  /** Whether `docker` mode may call a Docker CLI. */
  dockerAvailable?: boolean;
}

interface Execution {
  id: string;
  frameworkId: string;
  task: TaskInfo;
  containerId: string;
  directory: string;
  state: TaskState;
  statuses: TaskStatus[];
  queue: TaskStatus[];
  retry: Timer | null;
  retryMs: number;
  killing: boolean;
  child?: Deno.ChildProcess;
  killTimer?: Timer;
  /** Grace period asked by the KILL call, if any. */
  killGraceMs?: number;
  simTimer?: Timer;
  exited?: Promise<void>;
  ids?: { task: { value: string }; container: { container_id: { value: string } } };
  completed: boolean;
}

interface AgentFramework {
  info: FrameworkInfo;
  executions: Map<string, Execution>;
  completed: Execution[];
}

/** A task as reported to a master on (re)registration. */
export interface AgentTaskReport {
  frameworkId: string;
  framework: FrameworkInfo;
  task: TaskInfo;
  state: TaskState;
}

/** Parses `500ms`, `2s`, `1.5m`, `1h` or bare seconds into milliseconds. */
export function parseDurationMs(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (!m) throw new RangeError(`Cannot parse duration "${text}": expected e.g. 500ms, 2s, 1m`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? "s"]!;
  return Number(m[1]) * unit;
}

let pool = new Uint8Array(0);
let poolAt = 0;
const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/**
 * A random v4 UUID's 16 bytes in base64 (the `TaskStatus.uuid` form), drawn from
 * a pool of random bytes and encoded by hand: this runs twice per launched task.
 */
export function randomUuidBase64(): string {
  if (poolAt + 16 > pool.length) {
    pool = crypto.getRandomValues(new Uint8Array(65536));
    poolAt = 0;
  }
  const b = pool;
  const o = poolAt;
  poolAt += 16;
  b[o + 6] = (b[o + 6] & 0x0f) | 0x40;
  b[o + 8] = (b[o + 8] & 0x3f) | 0x80;
  let out = "";
  for (let i = 0; i < 15; i += 3) {
    const n = (b[o + i] << 16) | (b[o + i + 1] << 8) | b[o + i + 2];
    out += B64[n >> 18] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + B64[n & 63];
  }
  const last = b[o + 15];
  return out + B64[last >> 2] + B64[(last & 3) << 4] + "==";
}

function labelOf(task: TaskInfo, key: string): string | undefined {
  return task.labels?.labels?.find((l) => l.key === key)?.value;
}

/** One development agent. */
export class Agent {
  readonly id: string;
  readonly hostname: string;
  readonly resources: Resource[];
  readonly attributes: Attribute[];
  readonly total: ResourceSet;
  readonly workDir: string;
  readonly executor: ExecutorMode;
  readonly files = new FilesService();
  /** The master this agent reports to; null while partitioned or unregistered. */
  link: MasterLink | null = null;
  port = 0;
  #opts: AgentOptions;
  #timers: Timers;
  #logger: Logger;
  #frameworks = new Map<string, AgentFramework>();
  #completedFrameworks: AgentFramework[] = [];
  #server: Deno.HttpServer | null = null;
  #startTime: number;
  #closed = false;
  #masterHostname = "";
  #idValue: { value: string };

  constructor(opts: AgentOptions) {
    this.#opts = opts;
    this.id = opts.id;
    this.#idValue = { value: opts.id };
    this.hostname = opts.hostname;
    this.resources = opts.resources;
    this.attributes = opts.attributes ?? [];
    this.total = ResourceSet.fromJson(opts.resources);
    this.workDir = opts.workDir;
    this.executor = opts.executor ?? "process";
    this.#timers = opts.timers;
    this.#logger = opts.logger ?? silentLogger;
    this.#startTime = opts.timers.clock.now() / 1000;
  }

  /** Advertised IPv4 address. */
  get ip(): string {
    return this.#opts.ip ?? "127.0.0.1";
  }

  /** The libprocess pid, `slave(1)@ip:port`. */
  get pid(): string {
    return `slave(1)@${this.ip}:${this.port}`;
  }

  /** Base URL of the agent's HTTP endpoint. */
  get url(): string {
    return `http://${this.hostname}:${this.port}`;
  }

  /** Starts the HTTP endpoint. */
  start(): void {
    if (this.#opts.serve === false) return;
    this.#server = Deno.serve(
      {
        port: this.#opts.port ?? 0,
        hostname: this.#opts.listen ?? this.hostname,
        onListen: () => {},
      },
      (req) => this.handle(req),
    );
    this.port = (this.#server.addr as Deno.NetAddr).port;
  }

  /** Records the hostname of the master, for `/state`. */
  setMaster(link: MasterLink | null, masterHostname = this.#masterHostname): void {
    this.link = link;
    this.#masterHostname = masterHostname;
  }

  /** The agent's HTTP handler. */
  async handle(req: Request): Promise<Response> {
    let path = new URL(req.url).pathname;
    if (path.length > 1 && path.endsWith("/")) path = path.slice(0, -1);
    if (path.startsWith("/slave(1)/")) path = path.slice("/slave(1)".length);
    const files = /^\/files\/(read|browse|download|debug)$/.exec(path);
    if (files) return await this.files.handle(req, files[1]);
    if (path === "/state") {
      return new Response(encodeJson(this.state()), {
        headers: { "content-type": "application/json" },
      });
    }
    if (path === "/health") return new Response(null, { status: 200 });
    if (path === "/version") {
      return Response.json({ version: MESOS_VERSION, build_user: "devcluster" });
    }
    return new Response("", { status: 404 });
  }

  // -- tasks ---------------------------------------------------------------------------------

  /** Launches a task the master accepted. */
  runTask(framework: FrameworkInfo, task: TaskInfo): void {
    const fid = framework.id!.value;
    let fw = this.#frameworks.get(fid);
    if (!fw) {
      fw = { info: framework, executions: new Map(), completed: [] };
      this.#frameworks.set(fid, fw);
    } else fw.info = framework;
    const id = task.task_id.value;
    const containerId = crypto.randomUUID();
    const execDir = `${this.workDir}/slaves/${this.id}/frameworks/${fid}/executors/${id}/runs`;
    const exec: Execution = {
      id,
      frameworkId: fid,
      task,
      containerId,
      directory: `${execDir}/${containerId}`,
      state: "TASK_STAGING",
      statuses: [],
      queue: [],
      retry: null,
      retryMs: this.#opts.statusUpdateRetryMs ?? 10_000,
      killing: false,
      completed: false,
    };
    fw.executions.set(id, exec);
    if (this.executor === "simulated") {
      this.#simulate(exec);
      return;
    }
    exec.exited = this.#launchProcess(exec, execDir).catch((err) => {
      this.#logger.error("Cannot run task", { task_id: id, error: (err as Error).message });
      this.#update(exec, "TASK_FAILED", {
        message: `Cannot run task "${id}": ${(err as Error).message}`,
        reason: "REASON_CONTAINER_LAUNCH_FAILED",
      });
    });
  }

  #simulate(exec: Execution): void {
    // `devcluster.hang`: "staging" = never reports, "starting" = stuck in TASK_STARTING.
    const hang = labelOf(exec.task, "devcluster.hang");
    if (hang === "staging") return;
    this.#update(exec, "TASK_STARTING");
    if (hang === "starting") return;
    this.#update(exec, "TASK_RUNNING");
    const label = labelOf(exec.task, "devcluster.duration");
    const exit = Number(labelOf(exec.task, "devcluster.exit_code") ?? "0");
    let ms = this.#opts.simulateDurationMs ?? 1000;
    if (label === "never" || label === "forever") return;
    if (label !== undefined) {
      try {
        ms = parseDurationMs(label);
      } catch { /* keep the default */ }
    }
    exec.simTimer = this.#timers.coarse(ms, () => {
      exec.simTimer = undefined;
      if (exit === 0) {
        this.#update(exec, "TASK_FINISHED", { message: "Command exited with status 0" });
      } else {
        this.#update(exec, "TASK_FAILED", { message: `Command exited with status ${exit}` });
      }
    });
  }

  async #launchProcess(exec: Execution, execDir: string): Promise<void> {
    const dir = exec.directory;
    const fid = exec.frameworkId;
    await Deno.mkdir(dir, { recursive: true });
    try {
      await Deno.remove(`${execDir}/latest`);
    } catch { /* first run */ }
    await Deno.symlink(exec.containerId, `${execDir}/latest`);
    await Deno.writeFile(`${dir}/stdout`, new Uint8Array());
    await Deno.writeFile(`${dir}/stderr`, new Uint8Array());
    this.files.attach(dir, dir);
    this.files.attach(`${execDir}/latest`, dir);
    this.files.attach(`/frameworks/${fid}/executors/${exec.id}/runs/latest`, dir);

    const task = exec.task;
    if (task.executor) {
      this.#update(exec, "TASK_FAILED", {
        message: "Custom executors are not supported by the development cluster",
        reason: "REASON_EXECUTOR_TERMINATED",
        source: "SOURCE_AGENT",
      });
      return;
    }
    const command = task.command ?? {};
    const docker = task.container?.type === "DOCKER" ? task.container.docker : undefined;
    try {
      await fetchUris(command.uris ?? [], dir, { cacheDir: `${this.workDir}/cache` });
    } catch (err) {
      const message = err instanceof FetchError ? err.message : String(err);
      await Deno.writeTextFile(`${dir}/stderr`, `Failed to fetch URIs: ${message}\n`, {
        append: true,
      });
      this.#update(exec, "TASK_FAILED", {
        message: `Failed to launch container: ${message}`,
        reason: "REASON_CONTAINER_LAUNCH_FAILED",
        source: "SOURCE_AGENT",
      });
      return;
    }
    if (exec.killing) {
      this.#update(exec, "TASK_KILLED", { message: "Task killed before it started" });
      return;
    }
    const shell = command.shell ?? true;
    let argv: string[];
    if (shell) {
      if (command.value === undefined) {
        this.#update(exec, "TASK_FAILED", {
          message: "Shell specified but no command value provided",
          reason: "REASON_CONTAINER_LAUNCH_FAILED",
          source: "SOURCE_AGENT",
        });
        return;
      }
      argv = ["sh", "-c", command.value];
    } else if (docker) {
      // Docker keeps the image ENTRYPOINT and appends value + arguments as its command.
      argv = [...(command.value ? [command.value] : []), ...(command.arguments ?? [])];
    } else {
      // Mesos containerizer: exec(value, argv = arguments); arguments[0] is argv[0].
      argv = command.value ? [command.value, ...(command.arguments ?? []).slice(1)] : [];
    }
    const useDocker = docker && this.executor === "docker" && this.#opts.dockerAvailable;
    if (useDocker) {
      const env = (command.environment?.variables ?? []).flatMap((v) =>
        v.type === "SECRET" ? [] : ["-e", `${v.name}=${v.value ?? ""}`]
      );
      argv = [
        "docker",
        "run",
        "--rm",
        `--name=mesos-${exec.containerId}`,
        "-v",
        `${dir}:/mnt/mesos/sandbox`,
        "-e",
        "MESOS_SANDBOX=/mnt/mesos/sandbox",
        "-e",
        `MESOS_TASK_ID=${exec.id}`,
        ...env,
        ...(docker.parameters ?? []).map((p) => `--${p.key}=${p.value}`),
        ...(shell ? ["--entrypoint", "/bin/sh", docker.image, "-c", command.value!] : [
          docker.image,
          ...argv,
        ]),
      ];
    }
    if (argv.length === 0) {
      this.#update(exec, "TASK_FAILED", {
        message: docker
          ? `Cannot run the default command of image "${docker.image}" without Docker`
          : "Task has no command value",
        reason: "REASON_CONTAINER_LAUNCH_FAILED",
        source: "SOURCE_AGENT",
      });
      return;
    }
    const env: Record<string, string> = {
      MESOS_TASK_ID: exec.id,
      MESOS_SANDBOX: dir,
      MESOS_DIRECTORY: dir,
      MESOS_FRAMEWORK_ID: fid,
      MESOS_EXECUTOR_ID: exec.id,
      MESOS_AGENT_ENDPOINT: `${this.hostname}:${this.port}`,
      MESOS_CONTAINER_NAME: `mesos-${exec.containerId}`,
    };
    for (const v of command.environment?.variables ?? []) {
      if (v.type !== "SECRET") env[v.name] = v.value ?? "";
    }
    this.#update(exec, "TASK_STARTING");
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(argv[0], {
        args: argv.slice(1),
        cwd: dir,
        env,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        detached: true,
      }).spawn();
    } catch (err) {
      this.#update(exec, "TASK_FAILED", {
        message: `Failed to launch container: ${(err as Error).message}`,
        reason: "REASON_CONTAINER_LAUNCH_FAILED",
      });
      return;
    }
    exec.child = child;
    const out = await Deno.open(`${dir}/stdout`, { write: true, append: true });
    const err = await Deno.open(`${dir}/stderr`, { write: true, append: true });
    const pumps = Promise.all([
      copyToFile(child.stdout, out).catch(() => {}),
      copyToFile(child.stderr, err).catch(() => {}),
    ]);
    const message = docker && !useDocker
      ? `Docker image "${docker.image}" was not run: the development cluster ran the command on the host`
      : undefined;
    this.#update(exec, "TASK_RUNNING", message ? { message } : {});
    if (exec.killing) this.#terminate(exec);
    const status = await child.status;
    await pumps;
    exec.killTimer?.cancel();
    exec.child = undefined;
    const what = docker ? "Container" : "Command";
    if (exec.killing) {
      this.#update(exec, "TASK_KILLED", {
        message: `${what} terminated with signal ${status.signal ?? "SIGTERM"}`,
      });
    } else if (status.signal) {
      this.#update(exec, "TASK_FAILED", {
        message: `${what} terminated with signal ${status.signal}`,
      });
    } else if (status.code === 0) {
      this.#update(exec, "TASK_FINISHED", { message: `${what} exited with status 0` });
    } else {
      this.#update(exec, "TASK_FAILED", { message: `${what} exited with status ${status.code}` });
    }
  }

  #signal(exec: Execution, signal: Deno.Signal): void {
    if (!exec.child) return;
    try {
      Deno.kill(-exec.child.pid, signal);
    } catch {
      try {
        exec.child.kill(signal);
      } catch { /* already gone */ }
    }
  }

  /** Kills a task: TASK_KILLING (if the framework can take it), SIGTERM, SIGKILL after the grace period. */
  killTask(frameworkId: string, taskId: string, gracePeriodMs?: number): void {
    const exec = this.#frameworks.get(frameworkId)?.executions.get(taskId);
    if (!exec || isTerminalState(exec.state)) return;
    const fw = this.#frameworks.get(frameworkId)!;
    const first = !exec.killing;
    exec.killing = true;
    if (first && fw.info.capabilities?.some((c) => c.type === "TASK_KILLING_STATE")) {
      this.#update(exec, "TASK_KILLING");
    }
    if (this.executor === "simulated") {
      exec.simTimer?.cancel();
      this.#update(exec, "TASK_KILLED", { message: "Command terminated with signal SIGTERM" });
      return;
    }
    exec.killGraceMs = gracePeriodMs;
    if (!exec.child) return; // still fetching; the launch sees `killing`
    if (first) this.#terminate(exec);
  }

  /** SIGTERM to the task's process group, SIGKILL after the grace period. */
  #terminate(exec: Execution): void {
    const grace = exec.killGraceMs ??
      (exec.task.kill_policy?.grace_period
        ? Number(exec.task.kill_policy.grace_period.nanoseconds) / 1e6
        : this.#opts.killGracePeriodMs ?? 3000);
    this.#signal(exec, "SIGTERM");
    exec.killTimer = this.#timers.after(grace, () => this.#signal(exec, "SIGKILL"));
  }

  // -- status updates ---------------------------------------------------------------------------

  #update(
    exec: Execution,
    state: TaskState,
    extra: { message?: string; reason?: string; source?: TaskStatus["source"] } = {},
  ): void {
    if (isTerminalState(exec.state) || exec.completed) return;
    // The id objects are shared between a task's updates (never mutated): fewer
    // allocations per launch at scale.
    exec.ids ??= {
      task: { value: exec.id },
      container: { container_id: { value: exec.containerId } },
    };
    const status: TaskStatus = {
      task_id: exec.ids.task,
      state,
      source: extra.source ?? "SOURCE_EXECUTOR",
      agent_id: this.#idValue,
      executor_id: exec.ids.task,
      timestamp: this.#timers.clock.now() / 1000,
      uuid: randomUuidBase64(),
      container_status: exec.child && state === "TASK_RUNNING"
        ? { container_id: exec.ids.container.container_id, executor_pid: exec.child.pid }
        : exec.ids.container,
    };
    if (extra.message !== undefined) status.message = extra.message;
    if (extra.reason !== undefined) status.reason = extra.reason;
    exec.state = state;
    exec.statuses.push(status);
    exec.queue.push(status);
    this.link?.latestState(this.id, exec.frameworkId, exec.id, state);
    if (exec.queue.length === 1) this.#sendHead(exec, true);
  }

  #sendHead(exec: Execution, reset: boolean): void {
    exec.retry?.cancel();
    exec.retry = null;
    const head = exec.queue[0];
    if (!head || this.#closed) return;
    if (reset) exec.retryMs = this.#opts.statusUpdateRetryMs ?? 10_000;
    this.link?.statusUpdate(this.id, exec.frameworkId, head, exec.state);
    exec.retry = this.#timers.coarse(exec.retryMs, () => {
      exec.retry = null;
      exec.retryMs = Math.min(exec.retryMs * 2, this.#opts.statusUpdateRetryMaxMs ?? 600_000);
      this.#sendHead(exec, false);
    });
  }

  /**
   * Handles an acknowledgement; returns `"terminal"` when it acknowledged the
   * task's terminal update, `"ok"` for another head, `"ignored"` for a duplicate
   * or unknown uuid.
   */
  acknowledge(frameworkId: string, taskId: string, uuid: string): "terminal" | "ok" | "ignored" {
    const fw = this.#frameworks.get(frameworkId);
    const exec = fw?.executions.get(taskId);
    if (!fw || !exec || exec.queue[0]?.uuid !== uuid) return "ignored";
    const acked = exec.queue.shift()!;
    exec.retry?.cancel();
    exec.retry = null;
    if (exec.queue.length) {
      this.#sendHead(exec, true);
      return "ok";
    }
    if (isTerminalState(acked.state)) {
      this.#complete(fw, exec);
      return "terminal";
    }
    return "ok";
  }

  #complete(fw: AgentFramework, exec: Execution): void {
    exec.completed = true;
    fw.executions.delete(exec.id);
    fw.completed.push(exec);
    if (fw.completed.length > 1000) fw.completed.shift();
  }

  /** Resends every pending head now (framework resubscribed, agent reregistered). */
  resumeUpdates(frameworkId?: string): void {
    for (const [fid, fw] of this.#frameworks) {
      if (frameworkId !== undefined && fid !== frameworkId) continue;
      for (const exec of fw.executions.values()) if (exec.queue.length) this.#sendHead(exec, true);
    }
  }

  /** Updates the FrameworkInfo the agent keeps (UpdateFrameworkMessage). */
  updateFramework(info: FrameworkInfo): void {
    const fw = this.#frameworks.get(info.id!.value);
    if (fw) fw.info = info;
  }

  /** Kills every task of a removed framework without further updates, and forgets it. */
  shutdownFramework(frameworkId: string): void {
    const fw = this.#frameworks.get(frameworkId);
    if (!fw) return;
    for (const exec of fw.executions.values()) {
      exec.retry?.cancel();
      exec.simTimer?.cancel();
      exec.queue = [];
      exec.killing = true;
      if (!isTerminalState(exec.state)) exec.state = "TASK_KILLED";
      this.#signal(exec, "SIGKILL");
      exec.completed = true;
      fw.completed.push(exec);
    }
    fw.executions.clear();
    this.#frameworks.delete(frameworkId);
    this.#completedFrameworks.push(fw);
  }

  /**
   * Restarts the agent process: tasks of checkpointing frameworks survive with
   * their pending updates; the others are killed and forgotten. Returns those.
   */
  restart(): { frameworkId: string; taskId: string }[] {
    const lost: { frameworkId: string; taskId: string }[] = [];
    for (const [fid, fw] of [...this.#frameworks]) {
      if (fw.info.checkpoint) continue;
      for (const exec of fw.executions.values()) {
        if (!isTerminalState(exec.state)) lost.push({ frameworkId: fid, taskId: exec.id });
      }
      this.shutdownFramework(fid);
    }
    return lost;
  }

  /** Tasks the agent still knows (running, or with unacknowledged updates). */
  report(): AgentTaskReport[] {
    const out: AgentTaskReport[] = [];
    for (const [fid, fw] of this.#frameworks) {
      for (const exec of fw.executions.values()) {
        out.push({ frameworkId: fid, framework: fw.info, task: exec.task, state: exec.state });
      }
    }
    return out;
  }

  /** Number of tasks not yet terminal. */
  get activeTaskCount(): number {
    let n = 0;
    for (const fw of this.#frameworks.values()) {
      for (const exec of fw.executions.values()) if (!isTerminalState(exec.state)) n++;
    }
    return n;
  }

  // -- state --------------------------------------------------------------------------------

  #taskJson(exec: Execution): Record<string, unknown> {
    const t: Record<string, unknown> = {
      id: exec.id,
      name: exec.task.name,
      framework_id: exec.frameworkId,
      executor_id: "",
      slave_id: this.id,
      state: exec.state,
      resources: ResourceSet.fromJson(exec.task.resources).flatten(),
      statuses: exec.statuses.map((s) => ({
        state: s.state,
        timestamp: s.timestamp,
        container_status: s.container_status,
      })),
    };
    if (exec.task.labels?.labels) t.labels = exec.task.labels.labels;
    if (exec.task.container) t.container = exec.task.container;
    return t;
  }

  #executorJson(exec: Execution): Record<string, unknown> {
    const terminal = isTerminalState(exec.state);
    return {
      id: exec.id,
      name: `Command Executor (Task: ${exec.id}) (Command: ${
        exec.task.command?.shell === false ? "[...]" : `sh -c '${exec.task.command?.value ?? ""}'`
      })`,
      source: exec.id,
      container: exec.containerId,
      directory: exec.directory,
      resources: ResourceSet.fromJson(exec.task.resources).flatten(),
      type: "COMMAND",
      tasks: terminal ? [] : [this.#taskJson(exec)],
      queued_tasks: [],
      completed_tasks: terminal ? [this.#taskJson(exec)] : [],
    };
  }

  #frameworkJson(fw: AgentFramework): Record<string, unknown> {
    const info = fw.info;
    const roles = info.roles ?? [info.role ?? "*"];
    return {
      id: info.id?.value,
      name: info.name,
      user: info.user,
      failover_timeout: info.failover_timeout ?? 0,
      checkpoint: info.checkpoint ?? false,
      hostname: info.hostname ?? "",
      role: info.role ?? "*",
      roles,
      capabilities: (info.capabilities ?? []).map((c) => c.type),
      executors: [...fw.executions.values()].map((e) => this.#executorJson(e)),
      completed_executors: fw.completed.map((e) => this.#executorJson(e)),
    };
  }

  /** The agent's `/state` document. */
  state(): Record<string, unknown> {
    return {
      version: MESOS_VERSION,
      start_time: this.#startTime,
      id: this.id,
      pid: this.pid,
      hostname: this.hostname,
      capabilities: ["MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT"],
      resources: this.total.flatten(),
      reserved_resources: {},
      unreserved_resources: this.total.forRole("*").flatten(),
      attributes: flattenAttributes(this.attributes),
      master_hostname: this.#masterHostname,
      log_dir: "",
      flags: {
        work_dir: this.workDir,
        hostname: this.hostname,
        port: String(this.port),
        executor: this.executor,
      },
      frameworks: [...this.#frameworks.values()].map((f) => this.#frameworkJson(f)),
      completed_frameworks: this.#completedFrameworks.map((f) => this.#frameworkJson(f)),
    };
  }

  /** Stops everything: kills processes, waits for them, stops the HTTP endpoint. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.link = null;
    const waits: Promise<void>[] = [];
    for (const fw of this.#frameworks.values()) {
      for (const exec of fw.executions.values()) {
        exec.retry?.cancel();
        exec.simTimer?.cancel();
        exec.killTimer?.cancel();
        exec.killing = true;
        this.#signal(exec, "SIGKILL");
        if (exec.exited) waits.push(exec.exited);
      }
    }
    await Promise.all(waits);
    for (const fw of this.#frameworks.values()) {
      for (const exec of fw.executions.values()) {
        exec.retry?.cancel();
        exec.killTimer?.cancel();
      }
    }
    await this.#server?.shutdown();
  }
}

/**
 * Copies a process's output into a sandbox file chunk by chunk, so the files API
 * serves it while the task runs (a file's `writable` held the bytes back until the
 * process ended, which made `stdout?follow=1` see all output at once).
 */
async function copyToFile(from: ReadableStream<Uint8Array>, file: Deno.FsFile): Promise<void> {
  try {
    for await (const chunk of from) {
      for (let n = 0; n < chunk.length;) n += await file.write(chunk.subarray(n));
    }
  } finally {
    file.close();
  }
}
