/**
 * The soak's verdicts, pure: whether a process's memory stayed flat over a run, and
 * latency percentiles.
 *
 * Flat means: after a warm-up, the median RSS of the last third of the samples is within
 * `max(absoluteMb, relative × first third's median)` of the median of the first third.
 * Medians ignore single spikes (a garbage collection, a burst of one-off work); thirds far
 * apart show growth that keeps going, which is what a leak looks like.
 *
 * @module
 */

/** One memory sample. */
export interface MemorySample {
  /** Ms since the run started. */
  at: number;
  rssMb: number;
  /** Anonymous (heap) and file-backed parts of the RSS, when known. */
  anonMb?: number;
  fileMb?: number;
  /** Tasks submitted so far. */
  submitted: number;
}

/** How much growth is allowed. */
export interface FlatnessOptions {
  /** Samples before this (ms since the start) are warm-up and not judged. */
  warmupMs: number;
  /** Growth always allowed, in MB. */
  absoluteMb: number;
  /** Growth allowed relative to the first third's median (0.1 = 10%). */
  relative: number;
}

/** The verdict and its figures. */
export interface Flatness {
  flat: boolean;
  /** Median RSS of the first and last thirds after warm-up. */
  firstMb: number;
  lastMb: number;
  growthMb: number;
  allowedMb: number;
  /** Growth per 1,000 tasks submitted between the thirds' middles (KB), or null. */
  growthKbPer1000Tasks: number | null;
  /** Samples judged. */
  samples: number;
}

/** The `p`-th percentile (0-100) of ascending `sorted` values (nearest rank); NaN if empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

const median = (values: number[]) => percentile([...values].sort((a, b) => a - b), 50);

/** Judges `samples` (in time order); throws when fewer than 6 remain after warm-up. */
export function judgeFlatness(samples: readonly MemorySample[], o: FlatnessOptions): Flatness {
  const judged = samples.filter((s) => s.at >= o.warmupMs);
  if (judged.length < 6) {
    throw new RangeError(`Cannot judge memory: ${judged.length} samples after warm-up, need 6`);
  }
  const third = Math.floor(judged.length / 3);
  const first = judged.slice(0, third);
  const last = judged.slice(judged.length - third);
  const firstMb = median(first.map((s) => s.rssMb));
  const lastMb = median(last.map((s) => s.rssMb));
  const growthMb = lastMb - firstMb;
  const allowedMb = Math.max(o.absoluteMb, o.relative * firstMb);
  const tasks = last[Math.floor(last.length / 2)].submitted -
    first[Math.floor(first.length / 2)].submitted;
  return {
    flat: growthMb <= allowedMb,
    firstMb,
    lastMb,
    growthMb,
    allowedMb,
    growthKbPer1000Tasks: tasks > 0 ? (growthMb * 1024 * 1000) / tasks : null,
    samples: judged.length,
  };
}
