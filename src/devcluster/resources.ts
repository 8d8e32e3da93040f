/**
 * Resource arithmetic for offers and launches: scalars in fixed point with three
 * decimals (as Mesos does), port ranges, sets; plus the agent flag syntax
 * `cpus:4;mem:8192;ports:[31000-32000]` and `rack:a;lvl:[1-3];zone:{a,b}`.
 *
 * @module
 */
import { containsRanges, formatRanges, normalizeRanges, subtractRanges } from "../mesos/ranges.ts";
import type { Attribute, Range, Resource } from "../mesos/types.ts";

interface Entry {
  name: string;
  role: string;
  type: "SCALAR" | "RANGES" | "SET";
  /** Thousandths. */
  milli: number;
  /** Never mutated in place (may be shared); replaced on change. */
  ranges: Range[];
  /** Never mutated in place (may be shared); replaced on change. */
  set: string[];
  reservation?: Resource["reservation"];
}

/** Thrown for resource or attribute text that cannot be parsed. */
export class ResourceParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ResourceParseError";
  }
}

const NONE: Range[] = [];
const NO_ITEMS: string[] = [];

function union(a: string[], b: readonly string[]): string[] {
  const out = [...a];
  for (const i of b) if (!out.includes(i)) out.push(i);
  return out;
}

function keyOf(name: string, role: string): string {
  return `${name}\u0000${role}`;
}

/** A multiset of resources with Mesos semantics; immutable operations return new sets. */
export class ResourceSet {
  readonly entries: Map<string, Entry>;

  constructor(entries: Map<string, Entry> = new Map()) {
    this.entries = entries;
  }

  /** Resources from their JSON form; `role` defaults to `*`. */
  static fromJson(resources: readonly Resource[] | undefined): ResourceSet {
    const set = new ResourceSet();
    for (const r of resources ?? []) set.#addOne(r);
    return set;
  }

  /** Resources from the agent flag syntax, e.g. `cpus:4;mem:8192;ports:[31000-32000]`. */
  static parse(text: string): ResourceSet {
    return ResourceSet.fromJson(parseResourceText(text));
  }

  #addOne(r: Resource): void {
    const role = r.role ?? "*";
    const key = keyOf(r.name, role);
    let e = this.entries.get(key);
    if (!e) {
      e = { name: r.name, role, type: r.type, milli: 0, ranges: NONE, set: NO_ITEMS };
      if (r.reservation !== undefined) e.reservation = r.reservation;
      this.entries.set(key, e);
    }
    if (r.type === "SCALAR") e.milli += Math.round((r.scalar?.value ?? 0) * 1000);
    else if (r.type === "RANGES") {
      e.ranges = normalizeRanges([
        ...e.ranges,
        ...(r.ranges?.range ?? []),
      ]);
    } else if (r.type === "SET") e.set = union(e.set, r.set?.item ?? []);
  }

  clone(): ResourceSet {
    const m = new Map<string, Entry>();
    for (const [k, e] of this.entries) {
      m.set(k, { ...e });
    }
    return new ResourceSet(m);
  }

  isEmpty(): boolean {
    for (const e of this.entries.values()) {
      if (
        e.type === "SCALAR" ? e.milli > 0 : e.type === "RANGES" ? e.ranges.length : e.set.length
      ) {
        return false;
      }
    }
    return true;
  }

  /** Adds `other` into this set (mutates). */
  addInPlace(other: ResourceSet): this {
    for (const [k, o] of other.entries) {
      const e = this.entries.get(k);
      if (!e) {
        this.entries.set(k, { ...o });
        continue;
      }
      e.milli += o.milli;
      if (o.ranges.length) e.ranges = normalizeRanges([...e.ranges, ...o.ranges]);
      if (o.set.length) e.set = union(e.set, o.set);
    }
    return this;
  }

  /** Removes `other` from this set (mutates); amounts never go below zero. */
  subtractInPlace(other: ResourceSet): this {
    for (const [k, o] of other.entries) {
      const e = this.entries.get(k);
      if (!e) continue;
      e.milli = Math.max(0, e.milli - o.milli);
      if (o.ranges.length) e.ranges = subtractRanges(e.ranges, o.ranges);
      if (o.set.length) e.set = e.set.filter((i) => !o.set.includes(i));
      if (e.milli === 0 && e.ranges.length === 0 && e.set.length === 0) this.entries.delete(k);
    }
    return this;
  }

  add(other: ResourceSet): ResourceSet {
    return this.clone().addInPlace(other);
  }

  subtract(other: ResourceSet): ResourceSet {
    return this.clone().subtractInPlace(other);
  }

  /** Whether every resource of `other` is inside this set. */
  contains(other: ResourceSet): boolean {
    for (const [k, o] of other.entries) {
      const e = this.entries.get(k);
      if (!e) {
        if (o.milli > 0 || o.ranges.length || o.set.length) return false;
        continue;
      }
      if (o.milli > e.milli) return false;
      if (o.ranges.length && !containsRanges(e.ranges, o.ranges)) return false;
      for (const i of o.set) if (!e.set.includes(i)) return false;
    }
    return true;
  }

  /** Only the resources usable by `role`: unreserved (`*`) and reserved for `role`. */
  forRole(role: string): ResourceSet {
    const m = new Map<string, Entry>();
    for (const [k, e] of this.entries) {
      if (e.role === "*" || e.role === role) {
        m.set(k, { ...e });
      }
    }
    return new ResourceSet(m);
  }

  /** Scalar total of `name` over all roles. */
  scalar(name: string): number {
    let milli = 0;
    for (const e of this.entries.values()) if (e.name === name) milli += e.milli;
    return milli / 1000;
  }

  /** Whether the set holds at least `cpus:0.01` or `mem:32` (`--min_allocatable_resources`). */
  isAllocatable(): boolean {
    return this.scalar("cpus") >= 0.01 || this.scalar("mem") >= 32;
  }

  /** JSON form as a master emits it to a framework; `allocationRole` adds `allocation_info`. */
  toJson(allocationRole?: string): Resource[] {
    const out: Resource[] = [];
    for (const e of this.entries.values()) {
      const r: Resource = { name: e.name, type: e.type };
      if (e.type === "SCALAR") {
        if (e.milli <= 0) continue;
        r.scalar = { value: e.milli / 1000 };
      } else if (e.type === "RANGES") {
        if (!e.ranges.length) continue;
        r.ranges = { range: e.ranges.map(({ begin, end }) => ({ begin, end })) };
      } else {
        if (!e.set.length) continue;
        r.set = { item: [...e.set] };
      }
      r.role = e.role;
      if (e.reservation !== undefined) r.reservation = e.reservation;
      if (allocationRole !== undefined) r.allocation_info = { role: allocationRole };
      out.push(r);
    }
    return out;
  }

  /** The flattened v0 form of `/state`: `{"cpus":0.5,"gpus":0.0,"mem":256.0,"disk":0.0,"ports":"[31005-31005]"}`. */
  flatten(): Record<string, number | string> {
    const out: Record<string, number | string> = { cpus: 0, disk: 0, gpus: 0, mem: 0 };
    const ranges = new Map<string, Range[]>();
    const sets = new Map<string, string[]>();
    for (const e of this.entries.values()) {
      if (e.type === "SCALAR") out[e.name] = ((out[e.name] as number) ?? 0) + e.milli / 1000;
      else if (e.type === "RANGES") {
        ranges.set(e.name, normalizeRanges([...(ranges.get(e.name) ?? []), ...e.ranges]));
      } else sets.set(e.name, [...(sets.get(e.name) ?? []), ...e.set]);
    }
    for (const [name, r] of ranges) if (r.length) out[name] = formatRanges(r);
    for (const [name, s] of sets) if (s.length) out[name] = `{${s.join(", ")}}`;
    return out;
  }

  /** Text for messages: `cpus(*):1; mem(*):128; ports(*):[31000-31000]`. */
  toString(): string {
    const parts: string[] = [];
    for (const e of this.entries.values()) {
      const head = `${e.name}(${e.role})`;
      if (e.type === "SCALAR") parts.push(`${head}:${e.milli / 1000}`);
      else if (e.type === "RANGES") parts.push(`${head}:${formatRanges(e.ranges)}`);
      else parts.push(`${head}:{${[...e.set].join(",")}}`);
    }
    return parts.join("; ");
  }
}

/**
 * Why a task's resources are invalid, in Mesos words, or `null` when they are
 * fine (src/common/resources.cpp `Resources::validate`).
 */
export function validateResources(resources: readonly Resource[]): string | null {
  for (const r of resources) {
    if (r.type === "SCALAR") {
      const v = r.scalar?.value;
      if (v === undefined) return "Invalid scalar resource: scalar is not set";
      if (!Number.isFinite(v) || v <= 0) return "Invalid scalar resource: value <= 0";
    } else if (r.type === "RANGES") {
      const spans = r.ranges?.range ?? [];
      if (!r.ranges) return "Invalid ranges resource: ranges are not set";
      for (const x of spans) if (x.begin > x.end) return "Invalid ranges resource: begin > end";
      const sorted = [...spans].sort((a, b) => a.begin - b.begin);
      for (let i = 1; i < sorted.length; i++) {
        if (sorted[i].begin <= sorted[i - 1].end) {
          return "Invalid ranges resource: overlapping ranges";
        }
      }
    } else if (r.type === "SET") {
      const items = r.set?.item ?? [];
      if (new Set(items).size !== items.length) return "Invalid set resource: duplicated elements";
    } else return `Invalid resource type for '${r.name}'`;
  }
  return null;
}

function parseValue(
  text: string,
  what: string,
): Pick<Attribute, "type" | "scalar" | "ranges" | "set" | "text"> {
  const t = text.trim();
  if (t.startsWith("[")) {
    if (!t.endsWith("]")) throw new ResourceParseError(`Cannot parse ${what}: "${text}"`);
    const range = t.slice(1, -1).split(",").map((s) => s.trim()).filter(Boolean).map((s) => {
      const m = /^(\d+)-(\d+)$/.exec(s);
      if (!m) throw new ResourceParseError(`Cannot parse ${what}: range "${s}" is not "a-b"`);
      return { begin: Number(m[1]), end: Number(m[2]) };
    });
    return { type: "RANGES", ranges: { range } };
  }
  if (t.startsWith("{")) {
    if (!t.endsWith("}")) throw new ResourceParseError(`Cannot parse ${what}: "${text}"`);
    const item = t.slice(1, -1).split(",").map((s) => s.trim()).filter(Boolean);
    return { type: "SET", set: { item } };
  }
  if (t !== "" && Number.isFinite(Number(t))) {
    return { type: "SCALAR", scalar: { value: Number(t) } };
  }
  return { type: "TEXT", text: { value: t } };
}

/** Parses `cpus:4;mem:8192;ports:[31000-32000];cpus(batch):2` into Resource JSON. */
export function parseResourceText(text: string): Resource[] {
  const out: Resource[] = [];
  for (const part of text.split(";").map((s) => s.trim()).filter(Boolean)) {
    const colon = part.indexOf(":");
    if (colon < 0) {
      throw new ResourceParseError(`Cannot parse resource "${part}": expected name:value`);
    }
    const head = part.slice(0, colon).trim();
    const m = /^([A-Za-z_][\w.-]*)(?:\(([^)]*)\))?$/.exec(head);
    if (!m) throw new ResourceParseError(`Cannot parse resource "${part}": bad name "${head}"`);
    const value = parseValue(part.slice(colon + 1), `resource "${m[1]}"`);
    if (value.type === "TEXT") {
      throw new ResourceParseError(
        `Cannot parse resource "${part}": value is not a number, range or set`,
      );
    }
    const r: Resource = { name: m[1], type: value.type, role: m[2] || "*" };
    if (value.scalar) r.scalar = value.scalar;
    if (value.ranges) r.ranges = value.ranges;
    if (value.set) r.set = value.set;
    out.push(r);
  }
  return out;
}

/** Parses `rack:r7;ssd:1;lvl:[1-3];zone:{a,b}` into Attribute JSON. */
export function parseAttributeText(text: string): Attribute[] {
  const out: Attribute[] = [];
  for (const part of text.split(";").map((s) => s.trim()).filter(Boolean)) {
    const colon = part.indexOf(":");
    if (colon < 0) {
      throw new ResourceParseError(`Cannot parse attribute "${part}": expected name:value`);
    }
    out.push({
      name: part.slice(0, colon).trim(),
      ...parseValue(part.slice(colon + 1), "attribute"),
    });
  }
  return out;
}

/** Attributes flattened for `/state`: `{"rack":"r7","ssd":1.0,"lvl":"[1-3]"}`. */
export function flattenAttributes(
  attributes: readonly Attribute[],
): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const a of attributes) {
    if (a.type === "SCALAR") out[a.name] = a.scalar!.value;
    else if (a.type === "TEXT") out[a.name] = a.text!.value;
    else if (a.type === "RANGES") out[a.name] = formatRanges(a.ranges?.range ?? []);
    else out[a.name] = `{${(a.set?.item ?? []).join(",")}}`;
  }
  return out;
}
