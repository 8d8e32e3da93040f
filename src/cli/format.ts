/**
 * Pure text of the command-line client: the hermit-style task lines and table, ages,
 * Go durations, the run request built from flags, and exit codes per final state.
 *
 * @module
 */
import { isArchive } from "../task/mod.ts";

/** The subset of a v1 task object the client prints. */
export interface TaskView {
  id: string;
  name: string;
  command: string;
  image: string;
  cpu: number;
  mem: number;
  user: string;
  env: Record<string, string> | null;
  status: { time: number; status: string }[];
}

/** Exit codes of `run --wait`, by final state; documented in the README. */
export const EXIT_CODES: Readonly<Record<string, number>> = {
  TASK_FINISHED: 0,
  TASK_FAILED: 3,
  TASK_KILLED: 4,
  TASK_LOST: 5,
  TASK_ERROR: 6,
  TASK_DROPPED: 7,
  TASK_GONE: 8,
  TASK_GONE_BY_OPERATOR: 9,
  TASK_UNKNOWN: 10,
};

/** Any other failure (HTTP error, unknown id, server unreachable). */
export const EXIT_ERROR = 1;
/** Bad command line. */
export const EXIT_USAGE = 2;
/** A final state without its own code. */
export const EXIT_OTHER_STATE = 11;

/** The exit code for a task that ended in `state`. */
export function exitCodeFor(state: string): number {
  return EXIT_CODES[state] ?? EXIT_OTHER_STATE;
}

const SHORT_STATES = new Set([
  "staging",
  "starting",
  "running",
  "finished",
  "failed",
  "killed",
  "lost",
  "error",
  "queued",
]);

/** `TASK_RUNNING` → `running`; states hermit did not know print `unknown`, as there. */
export function shortState(state: string | undefined): string {
  const s = (state ?? "").replace(/^TASK_/, "").toLowerCase();
  return SHORT_STATES.has(s) ? s : s === "" ? "unknown" : s;
}

/** hermit's "Last updated": `About 2 hours ago`, `5 minutes ago`, `3 seconds ago`, or "". */
export function ago(thenSec: number, nowMs: number): string {
  const seconds = Math.floor(nowMs / 1000 - thenSec);
  if (seconds < 1) return "";
  const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? "" : "s"}`;
  if (seconds >= 3600) return `About ${plural(Math.floor(seconds / 3600), "hour")} ago`;
  if (seconds >= 60) return `${plural(Math.floor(seconds / 60), "minute")} ago`;
  return `${plural(seconds, "second")} ago`;
}

const DURATION_UNITS_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  "µs": 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Go's `time.ParseDuration` syntax (`90s`, `1h30m`, `1.5h`) in milliseconds. */
export function parseGoDuration(text: string): number {
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let at = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * DURATION_UNITS_MS[m[2]];
    at = re.lastIndex;
  }
  if (text === "" || at !== text.length) {
    throw new RangeError(`Cannot parse duration "${text}": expected e.g. 30s, 5m or 1h30m`);
  }
  return total;
}

/** The last entry of a task's history. */
export function lastStatus(task: Pick<TaskView, "status">) {
  return task.status?.at(-1);
}

/** Go's `fmt` rendering of a map: `map[A:1 B:2]` (keys sorted, as Go prints them). */
export function goMap(map: Record<string, string> | null): string {
  const keys = Object.keys(map ?? {}).sort();
  return `map[${keys.map((k) => `${k}:${map![k]}`).join(" ")}]`;
}

/** The lines of `hermit task ID`. */
export function taskLines(task: TaskView, nowMs: number): string[] {
  const last = lastStatus(task);
  return [
    `ID: ${task.id}`,
    `Name: ${task.name}`,
    `Command: ${task.command}`,
    `Image: ${task.image}`,
    `CPU: ${task.cpu}`,
    `Memory: ${task.mem}`,
    `Environment Variables: ${goMap(task.env)}`,
    `State: ${shortState(last?.status)}`,
    `Last updated: ${last ? ago(last.time, nowMs) : ""}`,
  ];
}

/** Columns padded like Go's tabwriter (minwidth 0, padding 2). */
export function table(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => widths[i] = Math.max(widths[i] ?? 0, [...cell].length));
  }
  return rows.map((row) =>
    row.map((cell, i) => i === row.length - 1 ? cell : cell.padEnd(widths[i] + 2)).join("")
      .trimEnd()
  );
}

/** Newest update first, then at most `limit` (hermit limited before sorting). */
export function newestFirst<T extends Pick<TaskView, "status">>(
  tasks: readonly T[],
  limit?: number,
): T[] {
  const sorted = [...tasks].sort((a, b) => (lastStatus(b)?.time ?? 0) - (lastStatus(a)?.time ?? 0));
  return limit === undefined ? sorted : sorted.slice(0, limit);
}

/** `hermit ls` rows: a header, then the tasks as given. */
export function listRows(shown: readonly TaskView[], nowMs: number): string[] {
  return table([
    ["TASK ID", "NAME", "STATE", "LAST UPDATED", "USER", "IMAGE", "COMMAND"],
    ...shown.map((t) => {
      const last = lastStatus(t);
      return [
        t.id,
        t.name,
        shortState(last?.status),
        last ? ago(last.time, nowMs) : "",
        t.user,
        t.image,
        JSON.stringify(t.command),
      ];
    }),
  ]);
}

/** A `-filter` of `hermit ls`: `min_age`, `max_age` (Go durations), `status`, `user`. */
export interface ListFilter {
  minAgeMs?: number;
  maxAgeMs?: number;
  status?: string;
  user?: string;
}

/** Parses `k=v[,k=v]`; a term without `=` or an unknown key is an error. */
export function parseListFilter(text: string): ListFilter {
  const filter: ListFilter = {};
  for (const term of text.split(",")) {
    if (term === "") continue;
    const eq = term.indexOf("=");
    if (eq === -1) {
      throw new RangeError(
        `Filter "${term}" has no value: expected key=value, e.g. status=running`,
      );
    }
    const [key, value] = [term.slice(0, eq), term.slice(eq + 1)];
    switch (key) {
      case "min_age":
        filter.minAgeMs = parseGoDuration(value);
        break;
      case "max_age":
        filter.maxAgeMs = parseGoDuration(value);
        break;
      case "status":
        filter.status = value.toLowerCase();
        break;
      case "user":
        filter.user = value;
        break;
      default:
        throw new RangeError(
          `Unknown filter "${key}": expected min_age, max_age, status or user`,
        );
    }
  }
  return filter;
}

/** Whether a task passes a filter; age counts from the last update. */
export function matchesFilter(task: TaskView, filter: ListFilter, nowMs: number): boolean {
  const last = lastStatus(task);
  const ageMs = nowMs - (last?.time ?? 0) * 1000;
  if (filter.minAgeMs !== undefined && ageMs < filter.minAgeMs) return false;
  if (filter.maxAgeMs !== undefined && ageMs > filter.maxAgeMs) return false;
  if (filter.status !== undefined && shortState(last?.status) !== filter.status) return false;
  if (filter.user !== undefined && task.user !== filter.user) return false;
  return true;
}

/** What `run` flags ask for. */
export interface RunInput {
  command: string[];
  cpu: number;
  mem: number;
  image: string;
  /** Only when given: hermit always asked for one, even port 0. */
  port?: number;
  network: string;
  dns: string;
  name?: string;
  env: string[];
  uris: string[];
  args: string[];
  labels: string[];
}

function pairs(items: readonly string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf("=");
    if (eq <= 0) throw new RangeError(`Flag ${flag} expects KEY=VALUE, got "${item}"`);
    // Only the first "=" separates: values may contain more.
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

/** The v1 request body of `run` (the original hermit's fields, without its defects). */
export function runBody(input: RunInput): Record<string, unknown> {
  if (input.command.length === 0 && input.args.length === 0) {
    throw new RangeError("Nothing to run: give a command, e.g. hermit run echo hello");
  }
  const body: Record<string, unknown> = {
    cpu: input.cpu,
    mem: input.mem,
    image: input.image,
    command: input.command.join(" "),
    args: input.args.length > 0 ? input.args : null,
    network: input.network,
    dns: input.dns,
    env: pairs(input.env, "-e"),
    fetch: input.uris.map((uri) => ({
      uri,
      executable: false,
      extract: isArchive(uri),
      cache: false,
    })),
  };
  if (input.port !== undefined) body.ports = [{ container_port: input.port, protocol: "tcp" }];
  if (input.name !== undefined) body.name = input.name;
  if (input.labels.length > 0) body.labels = pairs(input.labels, "--label");
  return body;
}

/** A number flag, or an error naming it. */
export function numberFlag(flag: string, value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n)) {
    throw new RangeError(`Flag ${flag} expects a number, got "${value}"`);
  }
  return n;
}
