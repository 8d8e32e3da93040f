/**
 * The master's validation of what frameworks send: role names and ids,
 * FrameworkInfo, and each task of an ACCEPT (Mesos `master/validation.cpp`).
 *
 * @module
 */
import type { FrameworkInfo, TaskInfo } from "../mesos/types.ts";
import type { Framework } from "./model.ts";
import { ResourceSet, validateResources } from "./resources.ts";

/** Why a role name is invalid (Mesos `roles::validate`), or null. */
export function validateRole(role: string): string | null {
  if (role === "*") return null;
  if (role === "") return "Role name cannot be empty";
  if (role.startsWith("/") || role.endsWith("/") || role.includes("//")) {
    return `Role '${role}' cannot start or end with '/' or contain '//'`;
  }
  for (const c of role.split("/")) {
    if (c === "." || c === ".." || c === "*") return `Role '${role}' cannot contain '${c}'`;
    if (c.startsWith("-")) return `Role '${role}' cannot start with '-'`;
    // deno-lint-ignore no-control-regex
    if (/[\s\b\x00-\x1f\x7f]/.test(c)) return `Role '${role}' cannot contain whitespace`;
  }
  return null;
}

/** Why a framework id is invalid (Mesos `common::validation::validateID`), or null. */
export function validateId(id: string): string | null {
  if (id === "") return "ID must not be empty";
  if (id.length > 255) return "ID must not be longer than 255";
  if (id === "." || id === "..") return `'${id}' is disallowed`;
  // deno-lint-ignore no-control-regex
  if (/[\/\\\x00-\x1f\x7f]/.test(id)) return `'${id}' contains invalid characters`;
  return null;
}

/** Why a FrameworkInfo (with the roles to suppress) is invalid, or null. */
export function frameworkProblem(info: FrameworkInfo, suppressed: string[]): string | null {
  const caps = new Set((info.capabilities ?? []).map((c) => c.type));
  if (caps.has("MULTI_ROLE")) {
    if (info.role !== undefined) {
      return "'FrameworkInfo.role' must not be set when the framework is MULTI_ROLE capable";
    }
    const seen = new Set<string>();
    for (const r of info.roles ?? []) {
      const bad = validateRole(r);
      if (bad) return bad;
      if (seen.has(r)) return `'FrameworkInfo.roles' contains duplicate role '${r}'`;
      seen.add(r);
    }
  } else {
    if (info.roles?.length) {
      return "'FrameworkInfo.roles' must not be set when the framework is not MULTI_ROLE capable";
    }
    const bad = validateRole(info.role ?? "*");
    if (bad) return bad;
  }
  const roles = caps.has("MULTI_ROLE") ? info.roles ?? [] : [info.role ?? "*"];
  for (const r of suppressed) {
    if (!roles.includes(r)) return `Suppressed role '${r}' is not contained in the list of roles`;
  }
  if (info.id && validateId(info.id.value)) {
    return `Invalid framework id: ${validateId(info.id.value)}`;
  }
  const ft = info.failover_timeout;
  if (ft !== undefined && (!Number.isFinite(ft) || ft < 0)) {
    return `Invalid failover_timeout: ${ft}`;
  }
  return null;
}

/** The master's per-task checks: the reason the task is invalid, or the resources it uses. */
export function validateTask(
  fw: Framework,
  task: TaskInfo,
  agentId: string,
  remaining: ResourceSet,
): string | ResourceSet {
  const id = task.task_id.value;
  const badId = validateId(id);
  if (badId) return badId;
  if (fw.tasks.has(id)) return `Task has duplicate ID: ${id}`;
  if (fw.unreachable.has(id)) return `Task reuses the ID of an unreachable task: ${id}`;
  if (task.agent_id.value !== agentId) {
    return `Task uses invalid agent ${task.agent_id.value} while agent ${agentId} is expected`;
  }
  const grace = task.kill_policy?.grace_period?.nanoseconds;
  if (grace !== undefined && grace < 0) {
    return "Task's 'kill_policy.grace_period' must be non-negative";
  }
  const resources = task.resources ?? [];
  if (!resources.length) return "Task uses no resources";
  const badResources = validateResources(resources);
  if (badResources) return `Task uses invalid resources: ${badResources}`;
  const commands = [task.command, task.executor?.command].filter((c) => c !== undefined);
  for (const c of commands) {
    for (const v of c!.environment?.variables ?? []) {
      const type = v.type ?? "VALUE";
      if (type === "VALUE" && v.value === undefined) {
        return `Task's CommandInfo is invalid: Environment variable '${v.name}' of type 'VALUE' must have a value set`;
      }
      if (type === "SECRET" && v.secret === undefined) {
        return `Task's CommandInfo is invalid: Environment variable '${v.name}' of type 'SECRET' must have a secret set`;
      }
    }
  }
  const container = task.container;
  if (container?.type === "DOCKER") {
    if (!container.docker) {
      return "Task's ContainerInfo is invalid: DockerInfo 'docker' is not set for DOCKER typed ContainerInfo";
    }
    if (container.docker.parameters?.some((p) => p.key === "name")) {
      return "Task's ContainerInfo is invalid: Parameter in DockerInfo must not be 'name'";
    }
  }
  if (!!task.command === !!task.executor) {
    return "Task should have at least one (but not both) of CommandInfo or ExecutorInfo present";
  }
  const needed = ResourceSet.fromJson([
    ...resources,
    ...(task.executor ? (task.executor.resources as never[] ?? []) : []),
  ]);
  if (!remaining.contains(needed)) {
    return `Total resources ${needed} required by task and its executor is more than available ${remaining}`;
  }
  return needed;
}
