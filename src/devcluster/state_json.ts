/**
 * The `/master/state` family of documents (`/state`, `/slaves`, `/frameworks`,
 * `/tasks`), built from a read-only view of a master's records.
 *
 * @module
 */
import type { MasterInfo } from "../mesos/types.ts";
import type { AgentRecord, Framework, MasterTask, OfferRecord } from "./model.ts";
import { flattenAttributes, ResourceSet } from "./resources.ts";
import { MESOS_VERSION } from "./types.ts";

/** What the documents read of a master. */
export interface MasterView {
  readonly id: string;
  readonly info: MasterInfo;
  readonly startTime: number;
  readonly allocationIntervalMs: number;
  readonly authenticate: boolean;
  readonly agents: ReadonlyMap<string, AgentRecord>;
  readonly recovering: ReadonlySet<string>;
  readonly frameworks: ReadonlyMap<string, Framework>;
  readonly completedFrameworks: readonly Framework[];
  readonly offers: ReadonlyMap<string, OfferRecord>;
}

/** A task in `/master/state` and `/master/tasks`. */
export function taskJson(t: MasterTask): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: t.info.task_id.value,
    name: t.info.name,
    framework_id: t.frameworkId,
    executor_id: t.info.executor?.executor_id.value ?? "",
    slave_id: t.agentId,
    state: t.state,
    resources: t.resources.flatten(),
    role: t.role,
    statuses: t.statuses.map((s) => {
      const o: Record<string, unknown> = { state: s.state, timestamp: s.timestamp };
      if (s.container_status) o.container_status = s.container_status;
      if (s.healthy !== undefined) o.healthy = s.healthy;
      return o;
    }),
  };
  if (t.info.labels?.labels) out.labels = t.info.labels.labels;
  if (t.info.discovery) out.discovery = t.info.discovery;
  if (t.info.container) out.container = t.info.container;
  if (t.info.health_check) out.health_check = t.info.health_check;
  return out;
}

/** A framework in `/master/state` and `/master/frameworks`. */
export function frameworkJson(
  fw: Framework,
  offers: ReadonlyMap<string, OfferRecord>,
): Record<string, unknown> {
  const used = new ResourceSet();
  for (const t of fw.tasks.values()) if (!t.freed) used.addInPlace(t.resources);
  const offered = new ResourceSet();
  for (const id of fw.offers) offered.addInPlace(offers.get(id)!.resources);
  const out: Record<string, unknown> = {
    id: fw.id,
    name: fw.info.name,
    used_resources: used.flatten(),
    offered_resources: offered.flatten(),
    resources: used.add(offered).flatten(),
    capabilities: [...fw.caps],
    hostname: fw.info.hostname ?? "",
    webui_url: fw.info.webui_url ?? "",
    active: fw.active,
    connected: fw.sub !== null,
    recovered: fw.recovered,
    user: fw.info.user,
    failover_timeout: fw.info.failover_timeout ?? 0,
    checkpoint: fw.info.checkpoint ?? false,
    registered_time: fw.registeredTime,
    role: fw.info.role ?? "*",
    roles: fw.roles,
    tasks: [...fw.tasks.values()].map((t) => taskJson(t)),
    unreachable_tasks: [...fw.unreachable.values()].map((t) => taskJson(t)),
    completed_tasks: fw.completed.map((t) => taskJson(t)),
    offers: [...fw.offers].map((id) => {
      const o = offers.get(id)!;
      const j: Record<string, unknown> = {
        id,
        framework_id: fw.id,
        slave_id: o.agentId,
        resources: o.resources.flatten(),
      };
      if (fw.caps.has("MULTI_ROLE")) j.allocation_info = { role: o.role };
      return j;
    }),
    executors: [],
  };
  if (fw.unregisteredTime !== undefined) out.unregistered_time = fw.unregisteredTime;
  if (fw.info.principal !== undefined) out.principal = fw.info.principal;
  if (fw.info.labels?.labels) out.labels = fw.info.labels.labels;
  return out;
}

/** An agent in `/master/state` and `/master/slaves`. */
export function agentJson(rec: AgentRecord): Record<string, unknown> {
  const a = rec.agent;
  return {
    id: a.id,
    pid: a.pid,
    hostname: a.hostname,
    port: a.port,
    registered_time: rec.registeredTime,
    resources: a.total.flatten(),
    used_resources: rec.used.flatten(),
    offered_resources: rec.offered.flatten(),
    reserved_resources: {},
    unreserved_resources: a.total.forRole("*").flatten(),
    attributes: flattenAttributes(a.attributes),
    active: rec.state === "active",
    deactivated: rec.state !== "active",
    version: MESOS_VERSION,
    capabilities: ["MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT"],
  };
}

/** `/master/state`. */
export function stateJson(m: MasterView): Record<string, unknown> {
  const recs = [...m.agents.values()];
  return {
    version: MESOS_VERSION,
    build_user: "devcluster",
    start_time: m.startTime,
    elected_time: m.startTime,
    id: m.id,
    pid: m.info.pid,
    hostname: m.info.hostname,
    activated_slaves: recs.filter((r) => r.state === "active").length,
    deactivated_slaves: 0,
    unreachable_slaves: recs.filter((r) => r.state === "unreachable").length,
    leader: m.info.pid,
    leader_info: m.info,
    flags: {
      allocation_interval: `${m.allocationIntervalMs}ms`,
      authenticate_http_frameworks: String(m.authenticate ?? false),
      hostname: m.info.hostname,
      port: String(m.info.port),
      http_framework_authenticators: "basic",
    },
    slaves: recs.filter((r) => r.state === "active").map((r) => agentJson(r)),
    recovered_slaves: [...m.recovering].map((id) => ({ id })),
    frameworks: [...m.frameworks.values()].map((f) => frameworkJson(f, m.offers)),
    completed_frameworks: m.completedFrameworks.map((f) => frameworkJson(f, m.offers)),
    orphan_tasks: [],
    unregistered_frameworks: [],
  };
}

/** `/master/slaves`. */
export function slavesJson(m: MasterView): Record<string, unknown> {
  return {
    slaves: [...m.agents.values()].filter((r) => r.state === "active").map((r) => agentJson(r)),
    recovered_slaves: [],
  };
}

/** `/master/frameworks`. */
export function frameworksJson(m: MasterView): Record<string, unknown> {
  return {
    frameworks: [...m.frameworks.values()].map((f) => frameworkJson(f, m.offers)),
    completed_frameworks: m.completedFrameworks.map((f) => frameworkJson(f, m.offers)),
    unregistered_frameworks: [],
  };
}

/** `/master/tasks?framework_id=&task_id=&limit=100&offset=0&order=desc`. */
export function tasksJson(m: MasterView, params: URLSearchParams): Record<string, unknown> {
  const fid = params.get("framework_id");
  const tid = params.get("task_id");
  const limit = Number(params.get("limit") ?? 100);
  const offset = Number(params.get("offset") ?? 0);
  const order = params.get("order") ?? "desc";
  const all: MasterTask[] = [];
  for (const fw of [...m.frameworks.values(), ...m.completedFrameworks]) {
    if (fid && fw.id !== fid) continue;
    all.push(...fw.tasks.values(), ...fw.unreachable.values(), ...fw.completed);
  }
  const ts = (t: MasterTask) => t.statuses.at(-1)?.timestamp ?? 0;
  const list = all.filter((t) => !tid || t.info.task_id.value === tid)
    .sort((a, b) => order === "asc" ? ts(a) - ts(b) : ts(b) - ts(a));
  return { tasks: list.slice(offset, offset + limit).map((t) => taskJson(t)) };
}
