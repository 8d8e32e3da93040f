/**
 * How long the reliability suite runs. `deno task test` (and so CI) runs the short version of
 * every reliability test; `deno task test:reliability` sets RELIABILITY_FULL=1 and runs the
 * whole of each (more rounds, more requests, the 10-minute soak).
 */
export const FULL: boolean = Deno.env.get("RELIABILITY_FULL") === "1";

/** `short` in `deno task test`, `full` under `deno task test:reliability`. */
export function scale<T>(short: T, full: T): T {
  return FULL ? full : short;
}
