/**
 * `eremetic devcluster`: runs the development Mesos cluster until SIGINT/SIGTERM.
 *
 * @module
 */
import {
  type AgentInput,
  DevClusterConfigError,
  type DevClusterOptions,
  type ExecutorMode,
  type MasterRegistry,
  parseDurationMs,
  startDevCluster,
  zkRegistry,
} from "../devcluster/mod.ts";
import { type FlagSpecs, parseFlagArgs } from "../config/mod.ts";
import { consoleLogger } from "../runtime.ts";
import { connectZk, parseZkUrl } from "../zk/mod.ts";

const USAGE = `Usage: eremetic devcluster [flags]

Runs a development Apache Mesos cluster: a Mesos v1 master (scheduler API at
/api/v1/scheduler) and agents that run tasks as local processes.

Flags:
  --port N                  master port (default 5050; 0 = a free port)
  --address A               listen address and hostname (default 127.0.0.1)
  --masters N               number of masters, one leading; the others answer 307
                            to it (default 1); POST /devcluster/master/kill kills the leader
  --agents N                number of agents (default 2)
  --agent-resources R       agent resources (default "cpus:4;mem:8192;disk:20000;ports:[31000-32000]");
                            prefix "I=" to set agent I only, e.g. --agent-resources "1=cpus:1;mem:512"
  --agent-attributes A      agent attributes, e.g. "rack:a;zone:1"; "I=" prefix as above
  --executor E              process | docker | simulated (default process)
  --allocation-interval D   offer interval (default 1s; e.g. 200ms)
  --heartbeat-interval D    heartbeat interval (default 15s)
  --simulate-duration D     task duration of the simulated executor (default 1s)
  --offer-timeout D         rescind offers left unanswered this long (default never)
  --status-update-retry D   first resend of an unacknowledged update (default 10s, doubling to 10m)
  --work-dir DIR            agents' work directory (default a temporary directory)
  --record FILE             write every call and event as JSON lines
  --credentials FILE        require HTTP basic auth (Mesos credentials file)
  --zk URL                  register the masters in ZooKeeper as Mesos does
                            (zk://[user:pass@]host:port[,host:port]/path)
  -h, --help                show this help`;

/** Parsed devcluster flags. */
export interface DevclusterFlags {
  options: DevClusterOptions;
  help: boolean;
  zk?: string;
}

/** Thrown for bad command-line flags. */
export class FlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FlagError";
  }
}

function int(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    throw new FlagError(`Flag --${name} expects a whole number, got "${v}"`);
  }
  return n;
}

function duration(name: string, v: string): number {
  try {
    return parseDurationMs(v);
  } catch {
    throw new FlagError(`Flag --${name} expects a duration such as 500ms or 2s, got "${v}"`);
  }
}

const FLAGS: FlagSpecs = {
  help: { type: "boolean", short: "h" },
  ...Object.fromEntries(
    [
      "port",
      "address",
      "masters",
      "agents",
      "agent-resources",
      "agent-attributes",
      "executor",
      "allocation-interval",
      "heartbeat-interval",
      "status-update-retry",
      "offer-timeout",
      "simulate-duration",
      "work-dir",
      "record",
      "credentials",
      "zk",
    ].map((name) => [name, { type: "string" as const }]),
  ),
};

/** Parses devcluster flags (`--flag value` or `--flag=value`) into options. */
export function parseDevclusterFlags(args: string[]): DevclusterFlags {
  const parsed = parseFlagArgs(args, FLAGS);
  if (parsed.issues.length > 0) throw new FlagError(parsed.issues[0]);
  const options: DevClusterOptions = { port: 5050 };
  const perAgentResources = new Map<number, string>();
  const perAgentAttributes = new Map<number, string>();
  let agents = 2;
  let help = false;
  let zk: string | undefined;
  const perAgent = (v: string, into: Map<number, string>, all: (x: string) => void) => {
    const m = /^(\d+)=(.*)$/.exec(v);
    if (m) into.set(Number(m[1]), m[2]);
    else all(v);
  };
  for (const { name, value: raw } of parsed.occurrences) {
    const value = String(raw);
    switch (name) {
      case "help":
        help = true;
        break;
      case "port":
        options.port = int(name, value);
        break;
      case "address":
        options.address = value;
        break;
      case "masters":
        options.masters = Math.max(1, int(name, value));
        break;
      case "agents":
        agents = int(name, value);
        break;
      case "agent-resources":
        perAgent(value, perAgentResources, (v) => options.agentResources = v);
        break;
      case "agent-attributes":
        perAgent(value, perAgentAttributes, (v) => options.agentAttributes = v);
        break;
      case "executor": {
        if (!["process", "docker", "simulated"].includes(value)) {
          throw new FlagError(
            `Flag --executor expects process, docker or simulated, got "${value}"`,
          );
        }
        options.executor = value as ExecutorMode;
        break;
      }
      case "allocation-interval":
        options.allocationIntervalMs = duration(name, value);
        break;
      case "heartbeat-interval":
        options.heartbeatIntervalSeconds = duration(name, value) / 1000;
        break;
      case "status-update-retry":
        options.statusUpdateRetryMs = duration(name, value);
        break;
      case "offer-timeout":
        options.offerTimeoutMs = duration(name, value);
        break;
      case "simulate-duration":
        options.simulateDurationMs = duration(name, value);
        break;
      case "work-dir":
        options.workDir = value;
        break;
      case "record":
        options.record = value;
        break;
      case "credentials":
        options.credentials = value;
        break;
      case "zk":
        zk = value;
        break;
    }
  }
  if (perAgentResources.size || perAgentAttributes.size) {
    const list: AgentInput[] = Array.from({ length: agents }, () => ({}));
    for (const [i, r] of perAgentResources) if (list[i]) list[i].resources = r;
    for (const [i, a] of perAgentAttributes) if (list[i]) list[i].attributes = a;
    options.agents = list;
  } else options.agents = agents;
  return { options, help, zk };
}

/** Runs the development cluster until SIGINT or SIGTERM; returns the exit code. */
export async function devclusterCommand(args: string[]): Promise<number> {
  let flags: DevclusterFlags;
  try {
    flags = parseDevclusterFlags(args);
  } catch (err) {
    // deno-lint-ignore no-console
    console.error(`eremetic devcluster: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (flags.help) {
    // deno-lint-ignore no-console
    console.log(USAGE);
    return 0;
  }
  const logger = consoleLogger({ level: "info" });
  let registry: MasterRegistry | undefined;
  if (flags.zk !== undefined) {
    try {
      const url = parseZkUrl(flags.zk);
      registry = zkRegistry(await connectZk(url), url.path);
      logger.info("Masters register in ZooKeeper", { zk: String(url) });
    } catch (err) {
      // deno-lint-ignore no-console
      console.error(`eremetic devcluster: --zk: ${(err as Error).message}`);
      return 2;
    }
  }
  let cluster;
  try {
    cluster = await startDevCluster({
      ...flags.options,
      logger,
      workDir: flags.options.workDir,
      registry,
    });
  } catch (err) {
    const what = err instanceof DevClusterConfigError ? "invalid configuration" : "cannot start";
    // deno-lint-ignore no-console
    console.error(`eremetic devcluster: ${what}: ${(err as Error).message}`);
    return 1;
  }
  // Listening for signals before printing the URL (what callers wait for): a signal sent
  // right after it must stop the cluster, not be lost.
  let stopped!: () => void;
  const stopping = new Promise<void>((resolve) => stopped = resolve);
  const stop = () => {
    Deno.removeSignalListener("SIGINT", stop);
    Deno.removeSignalListener("SIGTERM", stop);
    stopped();
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  // deno-lint-ignore no-console
  console.log(cluster.url);
  logger.info("Development cluster running", {
    master: cluster.url,
    masters: cluster.masterUrls,
    agents: cluster.agents.map((a) => a.url),
    work_dir: cluster.workDir,
  });
  await stopping;
  logger.info("Stopping the development cluster");
  await cluster.close();
  return 0;
}
