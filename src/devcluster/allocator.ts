/**
 * The allocator's decisions, without side effects: which framework role each
 * agent's free resources go to in one round (dominant resource fairness,
 * roughly, with ties rotating between rounds), what an offer looks like on the
 * wire, and how long a DECLINE keeps resources away from a framework. The
 * master records the offers and sends them (`master.ts`).
 *
 * @module
 */
import type { Offer } from "../mesos/types.ts";
import type { AgentRecord, Framework, RefuseFilter } from "./model.ts";
import type { ResourceSet } from "./resources.ts";

/** Default `refuse_seconds` of DECLINE and of an ACCEPT's implicit decline. */
export const DEFAULT_REFUSE_SECONDS = 5;
/** The longest refusal: a year (Mesos caps `Duration` the same way). */
export const MAX_REFUSE_SECONDS = 365 * 24 * 3600;

/** One offer decided by a round. */
export interface Allocation {
  framework: Framework;
  agent: AgentRecord;
  role: string;
  resources: ResourceSet;
}

/** What a round reads. */
export interface RoundInput {
  /** Frameworks that may receive offers: subscribed and active. */
  frameworks: readonly Framework[];
  /** Every agent the master knows (totals for the fair share). */
  agents: ReadonlyMap<string, AgentRecord>;
  /** Only these agents' resources are offered; every agent when absent. */
  only?: ReadonlySet<string>;
  /** The round's number: ties between frameworks rotate with it. */
  round: number;
  /** Milliseconds since the epoch: expired refusal filters do not apply. */
  now: number;
}

/**
 * One allocation round: each active agent's free resources (total − used −
 * offered) go to at most one framework role: the framework with the smallest
 * dominant share (cpus or mem, counting what this round hands out) first, its
 * roles in order, skipping suppressed roles, GPU agents for frameworks without
 * `GPU_RESOURCES`, and resources a refusal filter still covers.
 */
export function allocationRound(input: RoundInput): Allocation[] {
  const { frameworks: fws, agents, only, round, now } = input;
  const out: Allocation[] = [];
  if (!fws.length) return out;
  let totalCpus = 0;
  let totalMem = 0;
  // Fair-share bookkeeping is needed only when frameworks compete.
  const alloc = new Map<Framework, { cpus: number; mem: number }>();
  if (fws.length > 1) {
    for (const rec of agents.values()) {
      if (rec.state !== "active") continue;
      totalCpus += rec.agent.total.scalar("cpus");
      totalMem += rec.agent.total.scalar("mem");
    }
    for (const f of fws) alloc.set(f, { cpus: f.allocCpus, mem: f.allocMem });
  }
  const share = (f: Framework) => {
    const a = alloc.get(f)!;
    return Math.max(totalCpus ? a.cpus / totalCpus : 0, totalMem ? a.mem / totalMem : 0);
  };
  const rank = new Map(fws.map((f, i) => [f, (i + round) % fws.length]));
  const recs = only
    ? [...only].map((id) => agents.get(id)).filter((r) => r !== undefined)
    : agents.values();
  for (const rec of recs) {
    if (rec.state !== "active") continue;
    const free = rec.agent.total.subtract(rec.used).subtractInPlace(rec.offered);
    if (!free.isAllocatable()) continue;
    const order = fws.length === 1
      ? fws
      : [...fws].sort((a, b) => share(a) - share(b) || rank.get(a)! - rank.get(b)!);
    const chosen = chooseRole(order, rec, free, now);
    if (!chosen) continue;
    out.push(chosen);
    const a = alloc.get(chosen.framework);
    if (a) {
      a.cpus += chosen.resources.scalar("cpus");
      a.mem += chosen.resources.scalar("mem");
    }
  }
  return out;
}

/** The first framework role (in `order`) that may take `free` of `rec`, or null. */
function chooseRole(
  order: readonly Framework[],
  rec: AgentRecord,
  free: ResourceSet,
  now: number,
): Allocation | null {
  for (const fw of order) {
    if (rec.gpu && !fw.caps.has("GPU_RESOURCES")) continue;
    for (const role of fw.roles) {
      if (fw.suppressed.has(role)) continue;
      const avail = free.forRole(role);
      if (!avail.isAllocatable()) continue;
      if (isRefused(fw, rec.agent.id, role, avail, now)) continue;
      return { framework: fw, agent: rec, role, resources: avail };
    }
  }
  return null;
}

/** Whether a live refusal filter of `fw` covers `resources` of the agent for `role`. */
export function isRefused(
  fw: Framework,
  agentId: string,
  role: string,
  resources: ResourceSet,
  now: number,
): boolean {
  return fw.filters.some((f) =>
    f.expiresAt > now && f.agentId === agentId && f.role === role &&
    f.resources.contains(resources)
  );
}

/**
 * The filter a DECLINE (or what an ACCEPT leaves unused) installs, or null when
 * it installs none (`refuse_seconds` 0, or nothing declined). Missing, negative
 * or NaN seconds mean the default; infinite ones a year; a filter lasts at least
 * one allocation interval.
 */
export function refuseFilter(
  agentId: string,
  role: string,
  resources: ResourceSet,
  refuseSeconds: number | undefined,
  allocationIntervalMs: number,
  now: number,
): RefuseFilter | null {
  let seconds = refuseSeconds ?? DEFAULT_REFUSE_SECONDS;
  if (!Number.isFinite(seconds) && seconds > 0) seconds = MAX_REFUSE_SECONDS;
  if (!(seconds >= 0)) seconds = DEFAULT_REFUSE_SECONDS;
  if (seconds === 0 || resources.isEmpty()) return null;
  seconds = Math.min(seconds, MAX_REFUSE_SECONDS);
  const ms = Math.max(allocationIntervalMs, seconds * 1000);
  return { agentId, role, resources: resources.clone(), expiresAt: now + ms };
}

/** An offer as sent in OFFERS (`allocation_info` and role-tagged resources for MULTI_ROLE). */
export function offerJson(id: string, a: Allocation): Offer {
  const { framework: fw, role, resources } = a;
  const agent = a.agent.agent;
  const multi = fw.caps.has("MULTI_ROLE");
  const json: Offer = {
    id: { value: id },
    framework_id: { value: fw.id },
    agent_id: { value: agent.id },
    hostname: agent.hostname,
    url: {
      scheme: "http",
      address: { hostname: agent.hostname, ip: agent.ip, port: agent.port },
      path: "/slave(1)",
    },
    resources: resources.toJson(multi ? role : undefined),
  };
  if (agent.attributes.length) json.attributes = agent.attributes;
  if (multi) json.allocation_info = { role };
  return json;
}
