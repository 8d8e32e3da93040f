/**
 * ACCEPT: `planAccept` decides, without side effects, what an ACCEPT call does
 * in the master's order (offer validation, then each operation and task);
 * `applyAccept` carries the plan out on the master's records and agents.
 *
 * @module
 */
import type { TaskInfo, TaskState } from "../mesos/types.ts";
import { type MasterBooks, taskKey } from "./books.ts";
import type { AcceptBody, AgentRecord, Framework, OfferRecord, Operation } from "./model.ts";
import { ResourceSet } from "./resources.ts";
import { validateTask } from "./validation.ts";

/** One effect of an ACCEPT, in order. */
export type AcceptStep =
  | {
    kind: "status";
    taskId: string;
    state: TaskState;
    reason: string;
    message: string;
    agentId?: string;
  }
  | { kind: "operation"; operationId: string; agentId: string; message: string }
  | { kind: "launch"; task: TaskInfo; resources: ResourceSet };

/** What an ACCEPT does. */
export interface AcceptPlan {
  /** The valid offers named before any invalid one: all of them are used up. */
  offers: OfferRecord[];
  /** Why the offers are invalid, or null. */
  error: string | null;
  steps: AcceptStep[];
  /**
   * With valid offers: their agent and role, and what the launches leave of them
   * (declined with the ACCEPT's filters when the agent is known).
   */
  agentId?: string;
  role?: string;
  remaining?: ResourceSet;
}

/** The tasks an operation launches. */
function tasksOf(op: Operation): TaskInfo[] {
  return op.type === "LAUNCH"
    ? op.launch?.task_infos ?? []
    : op.type === "LAUNCH_GROUP"
    ? op.launch_group?.task_group?.tasks ?? []
    : [];
}

/** Why the offers `ids` cannot be used by `fw` (and the valid ones before it), or the offers. */
export function checkOffers(
  fw: Framework,
  ids: readonly string[],
  offers: ReadonlyMap<string, OfferRecord>,
): { offers: OfferRecord[]; error: string | null } {
  const out: OfferRecord[] = [];
  if (!ids.length) return { offers: out, error: "No offers specified" };
  const seen = new Set<string>();
  for (const id of ids) {
    if (seen.has(id)) return { offers: out, error: `Duplicate offer ${id} in offer list` };
    seen.add(id);
    const offer = offers.get(id);
    let error: string | null = null;
    if (!offer) error = `Offer ${id} is no longer valid`;
    else if (offer.frameworkId !== fw.id) {
      error =
        `Offer ${id} has invalid framework ${offer.frameworkId} while framework ${fw.id} is expected`;
    } else if (out.length && out[0].role !== offer.role) {
      error =
        `Aggregated offers must be allocated to the same role. Offer ${id} uses role ${offer.role} and offer ${
          out[0].id
        } uses role ${out[0].role}`;
    } else if (out.length && out[0].agentId !== offer.agentId) {
      error =
        `Aggregated offers must belong to one single agent. Offer ${id} uses agent ${offer.agentId} and offer ${
          out[0].id
        } uses agent ${out[0].agentId}`;
    }
    if (error) return { offers: out, error };
    out.push(offer!);
  }
  return { offers: out, error: null };
}

/**
 * What `accept` from `fw` does, given the master's offers and agents: invalid
 * offers lose every task (`TASK_LOST`, `TASK_DROPPED` when PARTITION_AWARE);
 * otherwise LAUNCH_GROUP tasks fail, other operations with an `id` get an
 * operation error, and each LAUNCH task is lost (agent gone), an error (the
 * master's task checks against what is left of the offers) or launched.
 */
export function planAccept(
  fw: Framework,
  accept: AcceptBody,
  offers: ReadonlyMap<string, OfferRecord>,
  agents: ReadonlyMap<string, AgentRecord>,
): AcceptPlan {
  const operations = accept.operations ?? [];
  const pa = fw.caps.has("PARTITION_AWARE");
  const steps: AcceptStep[] = [];
  const checked = checkOffers(fw, (accept.offer_ids ?? []).map((o) => o.value), offers);
  if (checked.error) {
    for (const op of operations) {
      for (const t of tasksOf(op)) {
        steps.push({
          kind: "status",
          taskId: t.task_id.value,
          state: pa ? "TASK_DROPPED" : "TASK_LOST",
          reason: "REASON_INVALID_OFFERS",
          message: `Task launched with invalid offers: ${checked.error}`,
        });
      }
    }
    return { offers: checked.offers, error: checked.error, steps };
  }
  const agentId = checked.offers[0].agentId;
  const role = checked.offers[0].role;
  const rec = agents.get(agentId);
  const remaining = new ResourceSet();
  for (const o of checked.offers) remaining.addInPlace(o.resources);
  const launching = new Set<string>();
  for (const op of operations) {
    if (op.type === "LAUNCH_GROUP") {
      for (const t of tasksOf(op)) {
        steps.push({
          kind: "status",
          taskId: t.task_id.value,
          state: "TASK_ERROR",
          reason: "REASON_TASK_GROUP_INVALID",
          message: "LAUNCH_GROUP is not supported by the development cluster",
          agentId,
        });
      }
      continue;
    }
    if (op.type !== "LAUNCH") {
      // RESERVE, CREATE, ...: not modelled. With an `id` the framework asked for
      // feedback, which agents without AGENT_OPERATION_FEEDBACK refuse.
      if (op.id) {
        steps.push({
          kind: "operation",
          operationId: op.id.value,
          agentId,
          message:
            `Operation requested feedback, but agent ${agentId} does not have the required AGENT_OPERATION_FEEDBACK capability`,
        });
      }
      continue;
    }
    for (const task of tasksOf(op)) {
      const taskId = task.task_id.value;
      const status = (state: TaskState, reason: string, message: string) =>
        steps.push({ kind: "status", taskId, state, reason, message, agentId });
      if (!rec || rec.state !== "active") {
        status(pa ? "TASK_DROPPED" : "TASK_LOST", "REASON_AGENT_REMOVED", "Agent is not available");
        continue;
      }
      const used = op.id
        ? "The 'id' field cannot be set on LAUNCH operations"
        : launching.has(taskId)
        ? `Task has duplicate ID: ${taskId}`
        : validateTask(fw, task, agentId, remaining);
      if (typeof used === "string") {
        status("TASK_ERROR", "REASON_TASK_INVALID", used);
        continue;
      }
      remaining.subtractInPlace(used);
      launching.add(taskId);
      steps.push({ kind: "launch", task, resources: used });
    }
  }
  return { offers: checked.offers, error: null, steps, agentId, role, remaining };
}

/** What applying a plan needs of the master besides its records. */
export interface AcceptEffects {
  /** Installs the refusal filter of what an ACCEPT left unused. */
  decline(
    fw: Framework,
    agentId: string,
    role: string,
    resources: ResourceSet,
    refuseSeconds: number | undefined,
  ): void;
  /** Allocates these agents' resources again soon. */
  allocateSoon(agentIds: string[]): void;
}

/**
 * Carries out `planAccept(fw, accept, ...)`: offers used up (no RESCIND),
 * updates sent, tasks recorded, charged and handed to their agent, the rest
 * declined with the ACCEPT's filters.
 */
export function applyAccept(
  books: MasterBooks,
  fw: Framework,
  accept: AcceptBody,
  effects: AcceptEffects,
): void {
  const plan = planAccept(fw, accept, books.offers, books.agents);
  for (const o of plan.offers) books.removeOffer(o);
  const rec = plan.agentId === undefined ? undefined : books.agents.get(plan.agentId);
  for (const step of plan.steps) {
    switch (step.kind) {
      case "status":
        books.masterUpdate(fw, step.taskId, step.state, step.reason, step.message, step.agentId);
        break;
      case "operation":
        books.operationStatus(fw, step.operationId, "OPERATION_ERROR", step.agentId, step.message);
        break;
      case "launch": {
        const { task, resources } = step;
        const taskId = task.task_id.value;
        const mt = {
          info: task,
          frameworkId: fw.id,
          agentId: plan.agentId!,
          role: plan.role!,
          state: "TASK_STAGING" as const,
          statuses: [],
          resources,
          freed: false,
        };
        fw.tasks.set(taskId, mt);
        rec!.tasks.set(taskKey(fw.id, taskId), mt);
        rec!.used.addInPlace(resources);
        books.charge(fw.id, resources, 1);
        books.stats.tasksLaunched++;
        rec!.agent.runTask(fw.info, task);
        break;
      }
    }
  }
  if (plan.error) {
    effects.allocateSoon(plan.offers.map((o) => o.agentId));
    return;
  }
  if (rec) {
    effects.decline(fw, plan.agentId!, plan.role!, plan.remaining!, accept.filters?.refuse_seconds);
  }
  effects.allocateSoon([plan.agentId!]);
}
