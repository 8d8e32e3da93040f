/**
 * Builds the Mesos TaskInfo of a placed task, field by field as the original
 * does (reference §5.3), with the port fix of D12, raw Docker parameters,
 * disk/gpus, labels and `max_completion_time`. Pure.
 *
 * @module
 */
import type {
  CommandURI,
  EnvironmentVariable,
  Parameter,
  PortMapping,
  TaskInfo,
} from "../mesos/mod.ts";
import type { Port, TaskRecord } from "../task/mod.ts";
import type { Placement } from "./match.ts";

export interface TaskInfoOptions {
  /** Kill grace period (ms) sent as the kill policy; 0 = Mesos's default. */
  killGracePeriodMs?: number;
}

const NANOS_PER_SECOND = 1_000_000_000;

/**
 * The task's ports after placement: `host_port` from the offer in request order
 * (`PORT0` = first requested port), `container_port` 0 → the host port.
 */
export function assignPorts(ports: readonly Port[] | null, hostPorts: readonly number[]) {
  if (!ports) return null;
  return ports.map((p, i) => {
    const host = hostPorts[i] ?? 0;
    return { ...p, host_port: host, container_port: p.container_port || host };
  });
}

/** The environment of the task: env, masked_env (wins), PORT0..n, PORT, MESOS_TASK_ID. */
export function buildEnvironment(task: TaskRecord, hostPorts: readonly number[]) {
  const vars = new Map<string, string>();
  for (const [k, v] of Object.entries(task.env ?? {})) vars.set(k, v);
  for (const [k, v] of Object.entries(task.masked_env ?? {})) vars.set(k, v);
  hostPorts.forEach((p, i) => vars.set(`PORT${i}`, String(p)));
  if (hostPorts.length > 0) vars.set("PORT", String(hostPorts[0]));
  vars.set("MESOS_TASK_ID", task.id);
  vars.set("EREMETIC_TASK_ID", task.id);
  return [...vars].map(([name, value]): EnvironmentVariable => ({ name, value }));
}

/** The TaskInfo for a placement. */
export function buildTaskInfo(placement: Placement, options: TaskInfoOptions = {}): TaskInfo {
  const { task, offer, resources, hostPorts } = placement;
  const network = task.network || "BRIDGE";
  const ports = assignPorts(task.ports, hostPorts) ?? [];
  const parameters: Parameter[] = [];
  if (task.dns) parameters.push({ key: "dns", value: task.dns });
  for (const name of task.volumes_from ?? []) {
    if (name) parameters.push({ key: "volumes-from", value: name });
  }
  for (const p of task.parameters ?? []) parameters.push({ key: p.key, value: p.value });
  const portMappings: PortMapping[] = network === "HOST" ? [] : ports
    .filter((p) => p.host_port > 0)
    .map((p) => ({
      host_port: p.host_port,
      container_port: p.container_port,
      protocol: p.protocol,
    }));
  const uris: CommandURI[] = (task.fetch ?? []).map((f) => ({
    value: f.uri,
    extract: f.extract,
    executable: f.executable,
    cache: f.cache,
  }));
  const info: TaskInfo = {
    name: task.name,
    task_id: { value: task.mesos_task_id },
    agent_id: offer.agent_id,
    resources,
    command: {
      user: task.user,
      environment: { variables: buildEnvironment(task, hostPorts) },
      ...(uris.length ? { uris } : {}),
      ...(task.command
        ? { shell: true, value: task.command }
        : { shell: false, ...(task.args?.length ? { arguments: task.args } : {}) }),
    },
    container: {
      type: "DOCKER",
      docker: {
        image: task.image,
        network: network as "HOST" | "BRIDGE" | "NONE" | "USER",
        privileged: task.privileged,
        force_pull_image: task.force_pull_image,
        ...(portMappings.length ? { port_mappings: portMappings } : {}),
        ...(parameters.length ? { parameters } : {}),
      },
      ...(task.volumes?.length
        ? {
          volumes: task.volumes.map((v) => ({
            container_path: v.container_path,
            host_path: v.host_path,
            mode: "RW" as const,
          })),
        }
        : {}),
    },
  };
  const labels = Object.entries(task.labels ?? {});
  if (labels.length) info.labels = { labels: labels.map(([key, value]) => ({ key, value })) };
  if (task.timeout_seconds > 0) {
    info.max_completion_time = { nanoseconds: Math.round(task.timeout_seconds * NANOS_PER_SECOND) };
  }
  if (options.killGracePeriodMs) {
    info.kill_policy = { grace_period: { nanoseconds: options.killGracePeriodMs * 1_000_000 } };
  }
  return info;
}
