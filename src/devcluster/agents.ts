/**
 * The agent lifecycle as the leading master sees it: an agent registers or
 * reregisters with the tasks it runs (after a master failover, this is how the
 * new leader learns them, as a Mesos master recovering from its replicated
 * log), restarts and loses tasks, is partitioned away (tasks unreachable), or
 * is removed for good (tasks gone).
 *
 * @module
 */
import { isTerminalState, type TaskState } from "../mesos/types.ts";
import type { Agent, MasterLink } from "./agent.ts";
import { type MasterBooks, taskKey } from "./books.ts";
import type { MasterTask } from "./model.ts";
import { ResourceSet } from "./resources.ts";

/** The state a task of a lost agent ends in (Mesos `master.cpp`, `removeAgent`). */
export function goneState(partitionAware: boolean, byOperator: boolean): TaskState {
  if (!partitionAware) return "TASK_LOST";
  return byOperator ? "TASK_GONE_BY_OPERATOR" : "TASK_GONE";
}

/** What the lifecycle needs of the master besides its records. */
export interface AgentEffects {
  /** The master agents forward their updates to. */
  readonly link: MasterLink;
  /** The master's advertised hostname (the agents' `master_hostname`). */
  readonly hostname?: string;
  /** Allocates these agents' resources soon. */
  allocateSoon(agentIds: string[]): void;
}

/** Agent registration, loss and removal on a master's records. */
export class AgentLifecycle {
  #books: MasterBooks;
  #effects: AgentEffects;

  constructor(books: MasterBooks, effects: AgentEffects) {
    this.#books = books;
    this.#effects = effects;
  }

  /**
   * Registers (or reregisters) an agent with the tasks it reports. Frameworks
   * known only from a report are recorded inactive until they resubscribe; the
   * tasks of removed frameworks are shut down.
   */
  register(agent: Agent): void {
    const books = this.#books;
    let rec = books.agents.get(agent.id);
    if (!rec) {
      rec = books.newAgentRecord(agent);
      books.agents.set(agent.id, rec);
    }
    rec.state = "active";
    books.recovering.delete(agent.id);
    for (const r of agent.report()) {
      let fw = books.frameworks.get(r.frameworkId);
      if (!fw) {
        if (books.removedIds.has(r.frameworkId)) {
          agent.shutdownFramework(r.frameworkId);
          continue;
        }
        fw = books.newFramework(r.frameworkId, r.framework, { active: false, recovered: true });
        books.applyInfo(fw, []);
        books.frameworks.set(fw.id, fw);
      }
      const taskId = r.task.task_id.value;
      let mt = fw.tasks.get(taskId) ?? fw.unreachable.get(taskId);
      fw.unreachable.delete(taskId);
      if (!mt) {
        mt = {
          info: r.task,
          frameworkId: fw.id,
          agentId: agent.id,
          role: fw.roles[0] ?? "*",
          state: r.state,
          statuses: [],
          resources: ResourceSet.fromJson(r.task.resources),
          freed: true,
        };
      }
      mt.state = r.state;
      mt.unreachableTime = undefined;
      fw.tasks.set(taskId, mt);
      rec.tasks.set(taskKey(fw.id, taskId), mt);
      if (!isTerminalState(r.state) && mt.freed) {
        mt.freed = false;
        rec.used.addInPlace(mt.resources);
        books.charge(fw.id, mt.resources, 1);
      }
    }
    agent.setMaster(this.#effects.link, this.#effects.hostname);
    agent.resumeUpdates();
    this.#effects.allocateSoon([agent.id]);
  }

  /**
   * An agent the registry lists as unreachable or removed when this master is
   * elected (Mesos keeps both lists in its replicated log): known by id, without
   * tasks (Mesos does not persist them), never offered; reconciliation answers
   * TASK_UNREACHABLE or TASK_GONE_BY_OPERATOR for it. An unreachable agent that
   * reconnects registers as usual.
   */
  recall(agent: Agent, state: "unreachable" | "gone"): void {
    const rec = this.#books.newAgentRecord(agent);
    rec.state = state;
    this.#books.agents.set(agent.id, rec);
  }

  /**
   * The agent restarted and lost these tasks (frameworks without checkpointing):
   * TASK_LOST, or TASK_GONE for PARTITION_AWARE frameworks, `REASON_AGENT_RESTARTED`.
   */
  restarted(agentId: string, lost: { frameworkId: string; taskId: string }[]): void {
    const books = this.#books;
    const rec = books.agents.get(agentId);
    if (!rec) return;
    for (const { frameworkId, taskId } of lost) {
      const fw = books.frameworks.get(frameworkId);
      const t = fw?.tasks.get(taskId);
      if (!fw || !t) continue;
      fw.tasks.delete(taskId);
      rec.tasks.delete(taskKey(frameworkId, taskId));
      books.freeTask(t);
      const state = goneState(fw.caps.has("PARTITION_AWARE"), false);
      t.state = state;
      books.completeTask(fw, t);
      books.masterUpdate(
        fw,
        taskId,
        state,
        "REASON_AGENT_RESTARTED",
        `Agent ${rec.agent.hostname} restarted`,
        agentId,
      );
    }
  }

  /** The agent is partitioned away: its tasks become unreachable (or lost), offers rescinded. */
  unreachable(agentId: string): void {
    const books = this.#books;
    const rec = books.agents.get(agentId);
    if (!rec || rec.state !== "active") return;
    rec.state = "unreachable";
    rec.agent.setMaster(null);
    books.rescindAgentOffers(agentId);
    const now = books.now();
    for (const [key, t] of rec.tasks) {
      const fw = books.frameworks.get(t.frameworkId);
      rec.tasks.delete(key);
      if (!fw) continue;
      fw.tasks.delete(t.info.task_id.value);
      if (isTerminalState(t.state)) continue;
      const pa = fw.caps.has("PARTITION_AWARE");
      t.unreachableTime = now;
      fw.unreachable.set(t.info.task_id.value, t);
      books.freeTask(t);
      books.masterUpdate(
        fw,
        t.info.task_id.value,
        pa ? "TASK_UNREACHABLE" : "TASK_LOST",
        "REASON_AGENT_REMOVED",
        `Agent ${rec.agent.hostname} is unreachable`,
        agentId,
        pa ? { unreachable_time: { nanoseconds: now * 1e6 } } : {},
      );
    }
    books.agentFailure(agentId);
  }

  /** The agent is removed for good: tasks TASK_GONE (or TASK_LOST), offers rescinded, FAILURE. */
  remove(agentId: string, { byOperator = false } = {}): void {
    const books = this.#books;
    const rec = books.agents.get(agentId);
    if (!rec) return;
    rec.state = "gone";
    rec.agent.setMaster(null);
    books.rescindAgentOffers(agentId);
    const tasks: MasterTask[] = [...rec.tasks.values()];
    for (const f of books.frameworks.values()) {
      for (const t of f.unreachable.values()) if (t.agentId === agentId) tasks.push(t);
    }
    rec.tasks.clear();
    for (const t of tasks) {
      const fw = books.frameworks.get(t.frameworkId);
      if (!fw) continue;
      fw.tasks.delete(t.info.task_id.value);
      fw.unreachable.delete(t.info.task_id.value);
      books.freeTask(t);
      books.completeTask(fw, t);
      if (isTerminalState(t.state)) continue;
      const state = goneState(fw.caps.has("PARTITION_AWARE"), byOperator);
      t.state = state;
      books.masterUpdate(
        fw,
        t.info.task_id.value,
        state,
        byOperator ? "REASON_AGENT_REMOVED_BY_OPERATOR" : "REASON_AGENT_REMOVED",
        `Agent ${rec.agent.hostname} removed`,
        agentId,
      );
    }
    books.agentFailure(agentId);
  }
}
