/**
 * Offer matching: packs as many queued tasks as fit into each offer, in queue
 * order, honouring cpus, mem, disk, gpus, port ranges, roles, agent attributes
 * and maintenance windows. Pure: no I/O.
 *
 * @module
 */
import type { Attribute, Offer, Range, Resource } from "../mesos/mod.ts";
import { countRanges, toRanges } from "../mesos/ranges.ts";
import type { Constraint, TaskRecord } from "../task/mod.ts";

/** What a task asks of an offer. */
export interface Demand {
  cpus: number;
  mem: number;
  disk: number;
  gpus: number;
  ports: number;
  role: string;
  constraints: Constraint[];
}

/** Where a task goes: the offer, the exact resources to claim, the host ports in request order. */
export interface Placement {
  task: TaskRecord;
  offer: Offer;
  resources: Resource[];
  hostPorts: number[];
}

export interface MatchResult {
  placements: Placement[];
  /** Offers that received no task, to decline. */
  unused: Offer[];
  /**
   * Queued tasks tried this round that fit no offer (they keep their place in the queue);
   * tasks after the last placement with every offer full, or past `limit`, are not tried.
   */
  unplaced: TaskRecord[];
  /** Whether placing stopped at `limit` (tasks after it were not tried). */
  limited: boolean;
}

export interface MatchOptions {
  /** The framework's role, used for tasks that name none. */
  defaultRole?: string;
  /** Current time (ms), for maintenance windows. */
  now?: number;
  /** Whether tasks in `HOST` network mode still get host ports (and `PORT*`). */
  portsInHostMode?: boolean;
  /** Places at most this many tasks; the rest are not tried. */
  limit?: number;
}

const EPSILON = 1e-9;
const NO_PIECES: readonly Piece[] = [];

/** The resources a task needs. */
export function demandOf(task: TaskRecord, defaultRole = "*"): Demand {
  return {
    cpus: task.cpu,
    mem: task.mem,
    disk: task.disk,
    gpus: task.gpus,
    ports: task.ports?.length ?? 0,
    role: task.role || defaultRole,
    constraints: task.agent_constraints ?? [],
  };
}

/** Whether an agent's attributes satisfy every constraint (TEXT, SCALAR, SET, RANGES). */
export function satisfiesConstraints(
  attributes: readonly Attribute[] | undefined,
  constraints: readonly Constraint[],
): boolean {
  return constraints.every((c) => {
    const attr = attributes?.find((a) => a.name === c.attribute_name);
    if (!attr) return false;
    switch (attr.type) {
      case "TEXT":
        return attr.text?.value === c.attribute_value;
      case "SCALAR": {
        const n = Number(c.attribute_value);
        return c.attribute_value.trim() !== "" && Math.abs((attr.scalar?.value ?? NaN) - n) < 1e-6;
      }
      case "SET":
        return attr.set?.item?.includes(c.attribute_value) ?? false;
      case "RANGES": {
        const n = Number(c.attribute_value);
        return Number.isInteger(n) &&
          (attr.ranges?.range ?? []).some((r) => r.begin <= n && n <= r.end);
      }
      default:
        return false;
    }
  });
}

/** Whether the agent is in a maintenance window at `now` (ms). */
export function inMaintenance(offer: Offer, now: number): boolean {
  const u = offer.unavailability;
  if (!u) return false;
  const startMs = Number(BigInt(u.start.nanoseconds) / 1_000_000n);
  if (startMs > now) return false;
  if (u.duration === undefined) return true;
  const endMs = startMs + Number(BigInt(u.duration.nanoseconds) / 1_000_000n);
  return now < endMs;
}

/** The role a resource is allocated to (MULTI_ROLE) or reserved for. */
function roleOf(r: Resource, offer: Offer): string {
  return r.allocation_info?.role ?? offer.allocation_info?.role ??
    r.reservations?.at(-1)?.role ?? r.role ?? "*";
}

/** A piece of an offer's resource with what is left of it. */
interface Piece {
  template: Resource;
  role: string;
  left: number;
}

interface PortPiece {
  template: Resource;
  role: string;
  ranges: Range[];
}

/** An offer's remaining resources while tasks are packed into it. */
class OfferPool {
  readonly scalars = new Map<string, Piece[]>();
  readonly ports: PortPiece[] = [];
  constructor(readonly offer: Offer) {
    for (const r of offer.resources ?? []) {
      if (r.revocable || r.disk?.persistence || r.shared) continue;
      const role = roleOf(r, offer);
      if (r.type === "SCALAR" && r.scalar) {
        const list = this.scalars.get(r.name) ?? [];
        list.push({ template: r, role, left: r.scalar.value });
        this.scalars.set(r.name, list);
      } else if (r.type === "RANGES" && r.name === "ports") {
        this.ports.push({
          template: r,
          role,
          ranges: (r.ranges?.range ?? []).map((x) => ({ ...x })).sort((a, b) => a.begin - b.begin),
        });
      }
    }
  }

  /** Scalar amount of `name` usable by `role`. */
  available(name: string, role: string): number {
    let n = 0;
    for (const p of this.scalars.get(name) ?? NO_PIECES) {
      if (p.role === role || p.role === "*") n += p.left;
    }
    return n;
  }

  portsAvailable(role: string): number {
    let n = 0;
    for (const p of this.ports) {
      if (p.role !== role && p.role !== "*") continue;
      n += countRanges(p.ranges);
    }
    return n;
  }

  fits(d: Demand): boolean {
    return this.available("cpus", d.role) + EPSILON >= d.cpus &&
      this.available("mem", d.role) + EPSILON >= d.mem &&
      (d.disk <= 0 || this.available("disk", d.role) + EPSILON >= d.disk) &&
      (d.gpus <= 0 || this.available("gpus", d.role) + EPSILON >= d.gpus) &&
      (d.ports <= 0 || this.portsAvailable(d.role) >= d.ports);
  }

  /** Takes the demand out of the pool: the exact resources to claim, and the host ports. */
  take(d: Demand): { resources: Resource[]; hostPorts: number[] } {
    const resources: Resource[] = [];
    const scalar = (name: string, amount: number) => {
      let need = amount;
      const pieces = this.scalars.get(name) ?? NO_PIECES;
      // Reserved resources for the role first, then unreserved.
      for (const reserved of [true, false]) {
        for (const p of pieces) {
          if (need <= EPSILON) return;
          if (reserved ? (p.role !== d.role || p.role === "*") : p.role !== "*") continue;
          const used = Math.min(p.left, need);
          if (used <= EPSILON) continue;
          p.left -= used;
          need -= used;
          resources.push(claim(p.template, { scalar: { value: round(used) } }));
        }
      }
    };
    scalar("cpus", d.cpus);
    scalar("mem", d.mem);
    if (d.disk > 0) scalar("disk", d.disk);
    if (d.gpus > 0) scalar("gpus", d.gpus);
    const hostPorts: number[] = [];
    if (d.ports > 0) {
      for (const p of this.ports) {
        if (p.role !== d.role && p.role !== "*") continue;
        const taken: number[] = [];
        while (hostPorts.length + taken.length < d.ports && p.ranges.length > 0) {
          const r = p.ranges[0];
          taken.push(r.begin);
          if (r.begin === r.end) p.ranges.shift();
          else r.begin++;
        }
        if (taken.length > 0) {
          hostPorts.push(...taken);
          resources.push(claim(p.template, { ranges: { range: toRanges(taken) } }));
        }
        if (hostPorts.length === d.ports) break;
      }
    }
    return { resources, hostPorts };
  }
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

/** A resource like `template` (name, role, reservations, allocation) with another amount. */
function claim(template: Resource, amount: Pick<Resource, "scalar" | "ranges">): Resource {
  let base = claimBases.get(template);
  if (base === undefined) {
    const { scalar: _s, ranges: _r, set: _set, ...rest } = template;
    base = rest as Resource;
    claimBases.set(template, base);
  }
  return { ...base, ...amount };
}

/** An offered resource without its amount, per resource: an offer is claimed from many times. */
const claimBases = new WeakMap<Resource, Resource>();

/** A task's demand and its shape key, remembered per record: rounds see the same records. */
const shapes = new WeakMap<
  TaskRecord,
  { role: string; hostPorts: boolean; d: Demand; key: string }
>();

function shapeOf(task: TaskRecord, defaultRole: string, portsInHostMode: boolean) {
  const known = shapes.get(task);
  if (known && known.role === defaultRole && known.hostPorts === portsInHostMode) return known;
  const d = demandOf(task, defaultRole);
  if (task.network === "HOST" && !portsInHostMode) d.ports = 0;
  const shape = { role: defaultRole, hostPorts: portsInHostMode, d, key: JSON.stringify(d) };
  shapes.set(task, shape);
  return shape;
}

/**
 * Places queued tasks (in queue order) into offers, first fit, several tasks per
 * offer. A task that fits nowhere does not stop the tasks behind it (fixing D14). The
 * queue is read only as far as needed: not past the limit, nor once every offer is full;
 * an offer's pool is built when the first task looks at it.
 */
export function matchOffers(
  offers: readonly Offer[],
  queue: Iterable<TaskRecord>,
  { defaultRole = "*", now = Date.now(), portsInHostMode = true, limit = Infinity }: MatchOptions =
    {},
): MatchResult {
  const waiting = offers.filter((o) => !inMaintenance(o, now));
  let built = 0;
  const placements: Placement[] = [];
  const unplaced: TaskRecord[] = [];
  // A shape that fit nowhere this round will not fit later in the round either.
  const failedShapes = new Set<string>();
  /** Pools built so far and not full, in offer order; offers after them are untouched. */
  let open: OfferPool[] = [];
  const fitting = (d: Demand): OfferPool | undefined => {
    const fits = (p: OfferPool) =>
      p.fits(d) && satisfiesConstraints(p.offer.attributes, d.constraints);
    const found = open.find(fits);
    if (found) return found;
    while (built < waiting.length) {
      const pool = new OfferPool(waiting[built++]);
      open.push(pool);
      if (fits(pool)) return pool;
    }
    return undefined;
  };
  if (limit > 0 && waiting.length > 0) {
    for (const task of queue) {
      const { d, key } = shapeOf(task, defaultRole, portsInHostMode);
      if (failedShapes.has(key)) {
        unplaced.push(task);
        continue;
      }
      const pool = fitting(d);
      if (!pool) {
        failedShapes.add(key);
        unplaced.push(task);
        continue;
      }
      const { resources, hostPorts } = pool.take(d);
      placements.push({ task, offer: pool.offer, resources, hostPorts });
      // Drop offers too small for anything from the pool of candidates.
      if (pool.available("cpus", d.role) < 0.01 || pool.available("mem", d.role) < 1) {
        open = open.filter((p) => p !== pool);
        if (open.length === 0 && built === waiting.length) break; // every offer is full
      }
      if (placements.length >= limit) break;
    }
  }
  const used = new Set(placements.map((p) => p.offer));
  return {
    placements,
    unused: offers.filter((o) => !used.has(o)),
    unplaced,
    limited: placements.length >= limit,
  };
}
