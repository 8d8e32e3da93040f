/**
 * Arithmetic on Mesos `Value.Ranges` (inclusive `{begin, end}` ranges, as port
 * resources carry them), shared by the scheduler's matcher and the development
 * cluster's allocator. Every function is pure and returns fresh ranges.
 *
 * @module
 */
import type { Range } from "./types.ts";

/** Sorted, with overlapping and adjacent ranges merged. */
export function normalizeRanges(ranges: readonly Range[]): Range[] {
  const sorted = ranges.map(({ begin, end }) => ({ begin, end })).sort((a, b) => a.begin - b.begin);
  const out: Range[] = [];
  for (const r of sorted) {
    const last = out.at(-1);
    if (last && r.begin <= last.end + 1) last.end = Math.max(last.end, r.end);
    else out.push(r);
  }
  return out;
}

/** What is left of `a` once every range of `b` is taken out. */
export function subtractRanges(a: readonly Range[], b: readonly Range[]): Range[] {
  let out = a.map(({ begin, end }) => ({ begin, end }));
  for (const r of b) {
    const next: Range[] = [];
    for (const x of out) {
      if (r.end < x.begin || r.begin > x.end) {
        next.push(x);
        continue;
      }
      if (r.begin > x.begin) next.push({ begin: x.begin, end: r.begin - 1 });
      if (r.end < x.end) next.push({ begin: r.end + 1, end: x.end });
    }
    out = next;
  }
  return out;
}

/** Whether every range of `b` lies within one range of `a`. */
export function containsRanges(a: readonly Range[], b: readonly Range[]): boolean {
  return b.every((r) => a.some((x) => r.begin >= x.begin && r.end <= x.end));
}

/** How many values (ports) the ranges hold. */
export function countRanges(ranges: readonly Range[]): number {
  let n = 0;
  for (const r of ranges) n += r.end - r.begin + 1;
  return n;
}

/** Values (ports) as the fewest inclusive ranges. */
export function toRanges(values: readonly number[]): Range[] {
  const sorted = [...values].sort((a, b) => a - b);
  const out: Range[] = [];
  for (const p of sorted) {
    const last = out.at(-1);
    if (last && last.end + 1 === p) last.end = p;
    else out.push({ begin: p, end: p });
  }
  return out;
}

/** `[31000-31004, 31006-32000]`, the Mesos text form of ranges. */
export function formatRanges(ranges: readonly Range[]): string {
  return `[${ranges.map((r) => `${r.begin}-${r.end}`).join(", ")}]`;
}
