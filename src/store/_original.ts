/**
 * Task nodes written by the original Go Eremetic's ZooKeeper driver (reference §3.5,
 * §7.3): the JSON of its internal record, whose top-level keys are Go field names
 * (`TaskCPUs`, `ID`, `Status`, …) while nested objects use the API's snake_case keys.
 *
 * @module
 */
import { parseTaskRequestV1, type TaskRecord, type TaskRequest } from "../task/mod.ts";

/** Original top-level key → our record field. */
const FIELDS: Record<string, keyof TaskRecord> = {
  TaskCPUs: "cpu",
  TaskMem: "mem",
  Command: "command",
  Args: "args",
  User: "user",
  Environment: "env",
  MaskedEnvironment: "masked_env",
  Labels: "labels",
  Image: "image",
  Volumes: "volumes",
  VolumesFrom: "volumes_from",
  Ports: "ports",
  Status: "status",
  ID: "id",
  Name: "name",
  Network: "network",
  DNS: "dns",
  FrameworkID: "framework_id",
  AgentID: "agent_id",
  AgentConstraints: "agent_constraints",
  Hostname: "hostname",
  Retry: "retry",
  CallbackURI: "callback_uri",
  SandboxPath: "sandbox_path",
  AgentIP: "agent_ip",
  AgentPort: "agent_port",
  ForcePullImage: "force_pull_image",
  Privileged: "privileged",
  FetchURIs: "fetch",
};

/** Fields of the request part (validated like a submitted body). */
const REQUEST_FIELDS = new Set<string>([
  "cpu",
  "mem",
  "command",
  "args",
  "env",
  "masked_env",
  "labels",
  "image",
  "volumes",
  "volumes_from",
  "ports",
  "name",
  "network",
  "dns",
  "agent_constraints",
  "callback_uri",
  "force_pull_image",
  "privileged",
  "fetch",
]);

/** Whether a parsed node is in the original's layout (Go field names). */
export function isOriginalTask(doc: unknown): doc is Record<string, unknown> {
  return typeof doc === "object" && doc !== null &&
    typeof (doc as { ID?: unknown }).ID === "string";
}

/**
 * Our record for an original task node. The request part is checked like a submitted
 * body; a record the original accepted but we would not (it took legacy keys as empty
 * values, reference D-list) keeps its values over our defaults rather than being lost.
 */
export function fromOriginalTask(doc: Record<string, unknown>, seq: number): TaskRecord {
  const mapped: Record<string, unknown> = {};
  for (const [from, to] of Object.entries(FIELDS)) {
    if (doc[from] !== undefined && doc[from] !== null) mapped[to] = doc[from];
  }
  const body = Object.fromEntries(Object.entries(mapped).filter(([k]) => REQUEST_FIELDS.has(k)));
  const parsed = parseTaskRequestV1(body);
  let request: TaskRequest;
  if (parsed.ok) {
    request = parsed.request;
  } else {
    const base = parseTaskRequestV1({ cpu: 1, mem: 1, image: "-" });
    if (!base.ok) throw new Error("unreachable: the base request is valid");
    request = { ...base.request, ...body } as TaskRequest;
  }
  const status = Array.isArray(mapped.status)
    ? (mapped.status as TaskRecord["status"]).filter((s) =>
      typeof s?.time === "number" && typeof s?.status === "string"
    )
    : [];
  const id = String(mapped.id);
  return {
    ...request,
    name: request.name || String(mapped.name ?? ""),
    id,
    seq,
    user: typeof mapped.user === "string" && mapped.user ? mapped.user : "root",
    status,
    framework_id: String(mapped.framework_id ?? ""),
    agent_id: String(mapped.agent_id ?? ""),
    hostname: String(mapped.hostname ?? ""),
    retry: Number(mapped.retry ?? 0) || 0,
    sandbox_path: String(mapped.sandbox_path ?? ""),
    agent_ip: String(mapped.agent_ip ?? ""),
    agent_port: Number(mapped.agent_port ?? 0) || 0,
    // The original reused the task id as the Mesos task id for every attempt.
    mesos_task_id: id,
    submitted_at: (status[0]?.time ?? 0) * 1000,
    not_before: 0,
  };
}
