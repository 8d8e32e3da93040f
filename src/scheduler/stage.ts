/**
 * The stage step: a placed task is written `TASK_STAGING` (with its agent and ports)
 * before its ACCEPT leaves, so a crash in between is settled by reconciliation, never by
 * a second launch. The writes of one round are issued together and share group commits.
 *
 * @module
 */
import type { Offer } from "../mesos/mod.ts";
import type { TaskStore } from "../store/mod.ts";
import type { TaskRecord } from "../task/mod.ts";
import type { Placement } from "./match.ts";
import { assignPorts } from "./task_info.ts";

/** Where an offer's agent is reached (its `/files` API, for sandboxes). */
export function agentAddress(offer: Offer): { ip: string; port: number } {
  const a = offer.url?.address;
  return { ip: a?.ip || a?.hostname || offer.hostname, port: a?.port ?? 5051 };
}

/** Options of {@linkcode stagingRecord}. */
export interface StagingOptions {
  frameworkId: string;
  /** Milliseconds since the epoch. */
  now: number;
}

/** The record of a placed task once staged: pure. */
export function stagingRecord(p: Placement, { frameworkId, now }: StagingOptions): TaskRecord {
  const { ip, port } = agentAddress(p.offer);
  return {
    ...p.task,
    status: [...p.task.status, { time: Math.floor(now / 1000), status: "TASK_STAGING" }],
    framework_id: frameworkId,
    agent_id: p.offer.agent_id.value,
    hostname: p.offer.hostname,
    agent_ip: ip,
    agent_port: port,
    sandbox_path: "",
    ports: assignPorts(p.task.ports, p.hostPorts),
  };
}

/** What staging did: placements now durable as `TASK_STAGING`, and those that failed. */
export interface StageResult {
  staged: Placement[];
  failed: { placement: Placement; error: Error }[];
}

/** Writes every placement's staging record; resolves when all writes settled. */
export async function stagePlacements(
  placements: readonly Placement[],
  store: Pick<TaskStore, "updateTask">,
  options: StagingOptions,
): Promise<StageResult> {
  const records = placements.map((p) => stagingRecord(p, options));
  const settled = await Promise.allSettled(records.map((r) => store.updateTask(r)));
  const result: StageResult = { staged: [], failed: [] };
  settled.forEach((s, i) => {
    if (s.status === "fulfilled") result.staged.push({ ...placements[i], task: records[i] });
    else result.failed.push({ placement: placements[i], error: s.reason as Error });
  });
  return result;
}
