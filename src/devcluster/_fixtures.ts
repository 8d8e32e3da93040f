/**
 * Test fixtures for the master's parts that work on its records alone
 * (allocator, ACCEPT, agent lifecycle): a `MasterBooks` on a settable clock,
 * stand-in agents that record what the master asks of them, and frameworks
 * whose stream collects the events sent.
 *
 * @module
 */
import type { FrameworkInfo, TaskInfo, TaskState } from "../mesos/types.ts";
import type { Agent, AgentTaskReport } from "./agent.ts";
import { MasterBooks } from "./books.ts";
import type { AgentRecord, Framework, OfferRecord } from "./model.ts";
import { ResourceSet } from "./resources.ts";
import type { Subscription } from "./subscription.ts";
import type { Event } from "./types.ts";

/** A stand-in agent: what the master calls is logged in `calls`. */
export interface FakeAgent extends Agent {
  readonly calls: string[];
  /** Tasks `report()` returns. */
  reports: AgentTaskReport[];
}

/** A stand-in agent with `resources` in Mesos flag syntax. */
export function fakeAgent(id: string, resources = "cpus:4;mem:1024"): FakeAgent {
  const calls: string[] = [];
  const agent = {
    id,
    hostname: `${id}.test`,
    ip: "127.0.0.1",
    port: 5051,
    attributes: [],
    total: ResourceSet.parse(resources),
    calls,
    reports: [] as AgentTaskReport[],
    report() {
      return agent.reports;
    },
    runTask(_fw: FrameworkInfo, task: TaskInfo) {
      calls.push(`run ${task.task_id.value}`);
    },
    shutdownFramework(fid: string) {
      calls.push(`shutdown ${fid}`);
    },
    setMaster(link: unknown) {
      calls.push(link ? "attached" : "detached");
    },
    resumeUpdates() {
      calls.push("resume");
    },
    updateFramework(info: FrameworkInfo) {
      calls.push(`update ${info.id?.value ?? info.name}`);
    },
  };
  return agent as unknown as FakeAgent;
}

/** Records with a settable clock (`clock.now`, ms). */
export function fakeBooks(): { books: MasterBooks; clock: { now: number } } {
  const clock = { now: 1_700_000_000_000 };
  return { books: new MasterBooks(() => clock.now), clock };
}

/** Adds an active agent record for `agent`. */
export function addAgentRecord(books: MasterBooks, agent: Agent): AgentRecord {
  const rec = books.newAgentRecord(agent);
  books.agents.set(agent.id, rec);
  return rec;
}

/** A subscribed, active framework whose stream (id `<id>-stream`) collects events in `events`. */
export function addFramework(
  books: MasterBooks,
  id: string,
  info: Partial<FrameworkInfo> = {},
): Framework & { events: Event[] } {
  const events: Event[] = [];
  const fw = books.newFramework(id, { user: "u", name: id, ...info }, {
    active: true,
    recovered: false,
  });
  books.applyInfo(fw, []);
  const sub = {
    streamId: `${id}-stream`,
    closed: false,
    send: (e: Event) => events.push(e),
    close() {
      sub.closed = true;
    },
  };
  fw.sub = sub as unknown as Subscription;
  books.frameworks.set(id, fw);
  return Object.assign(fw, { events });
}

/** Records an offer of `resources` of `agentId` to `fw` for `role`. */
export function addOffer(
  books: MasterBooks,
  id: string,
  fw: Framework,
  agentId: string,
  resources: string,
  role = "*",
): OfferRecord {
  const offer: OfferRecord = {
    id,
    frameworkId: fw.id,
    agentId,
    role,
    resources: ResourceSet.parse(resources),
    json: {} as OfferRecord["json"],
  };
  books.addOffer(offer);
  return offer;
}

/** A command task for `agentId` using `resources`. */
export function task(id: string, agentId: string, resources = "cpus:1;mem:128"): TaskInfo {
  return {
    name: id,
    task_id: { value: id },
    agent_id: { value: agentId },
    resources: ResourceSet.parse(resources).toJson(),
    command: { value: "true" },
  };
}

/** An agent's report of one task. */
export function report(
  frameworkId: string,
  t: TaskInfo,
  state: TaskState,
): AgentTaskReport {
  return { frameworkId, framework: { user: "u", name: frameworkId }, task: t, state };
}
