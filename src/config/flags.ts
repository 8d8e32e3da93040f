/**
 * Command-line flags over `node:util` `parseArgs`, with the project's own messages: one
 * clear line per problem (`Unknown flag "--prot" (did you mean "--port"?)`, `Flag --port
 * needs a value`), every problem reported rather than the first thrown, and two habits
 * of the original Go programs: `-flag` with one dash, and flags ending at the first
 * argument that is not one (`hermit run -cpu 1 echo -n hi`).
 *
 * @module
 */
import { parseArgs } from "node:util";

/** One flag: `string` takes a value, `boolean` does not. */
export interface FlagSpec {
  type: "string" | "boolean";
  /** A one-letter alias: `-e`. */
  short?: string;
  /** Collect every occurrence into an array instead of keeping the last. */
  multiple?: boolean;
}

/** Flags by long name (without dashes). */
export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

/** How {@linkcode parseFlagArgs} treats arguments that are not flags. */
export interface ParseFlagArgsOptions {
  /**
   * `none`: every argument must be a flag; `any`: non-flags are collected anywhere;
   * `stop`: the first non-flag and everything after it are collected as they are.
   */
  positionals?: "none" | "any" | "stop";
  /** Accept `-name` for `--name` (Go's flag package). */
  singleDash?: boolean;
  /** Accept `--flag true|false` with the value as the next argument, for booleans. */
  booleanValueNext?: boolean;
  /** A known flag close to an unknown one (with dashes), for "did you mean" hints. */
  suggest?: (flag: string) => string | undefined;
  /** Shown after "Unexpected argument": what is accepted instead. */
  positionalHint?: string;
  /** An example value for "needs a value" messages: `--port 8080`. */
  example?: (name: string) => string | undefined;
}

/** One flag as given, in command-line order. */
export interface FlagOccurrence {
  /** The long name. */
  name: string;
  /** As written: `--port`, `-e`. */
  raw: string;
  /** The string value, or `true` for a boolean given alone. */
  value: string | true;
}

/** The outcome: values, arguments that are not flags, and one message per problem. */
export interface ParsedFlagArgs {
  occurrences: FlagOccurrence[];
  /** Last value of each flag, or every value of a `multiple` flag. */
  values: Record<string, string | boolean | string[]>;
  positionals: string[];
  issues: string[];
}

/** Parses `args` against `specs`; never throws for bad input (see `issues`). */
export function parseFlagArgs(
  args: readonly string[],
  specs: FlagSpecs,
  options: ParseFlagArgsOptions = {},
): ParsedFlagArgs {
  const { positionals: mode = "none", singleDash = false } = options;
  const shorts = new Map(
    Object.entries(specs).flatMap(([name, s]) => s.short ? [[s.short, name] as const] : []),
  );
  const occurrences: FlagOccurrence[] = [];
  const positionals: string[] = [];
  const issues: string[] = [];
  // Arguments parseArgs must not see: single-dash words that are no short flags.
  const input = args.map((arg) => normalize(arg, specs, shorts, singleDash));
  let start = 0;
  while (start < input.length) {
    const resumeAt = parseSegment(input, start, args, specs, options, {
      occurrences,
      positionals,
      issues,
    });
    if (resumeAt === null) break;
    start = resumeAt;
  }
  const values: Record<string, string | boolean | string[]> = {};
  for (const o of occurrences) {
    if (specs[o.name].multiple) {
      ((values[o.name] ??= []) as string[]).push(String(o.value));
    } else values[o.name] = o.value;
  }
  if (mode === "none") {
    for (const p of positionals) {
      issues.push(
        `Unexpected argument "${p}"${options.positionalHint ? `: ${options.positionalHint}` : ""}`,
      );
    }
    positionals.length = 0;
  }
  return { occurrences, values, positionals, issues };
}

interface Sink {
  occurrences: FlagOccurrence[];
  positionals: string[];
  issues: string[];
}

const UNKNOWN_SINGLE_DASH = "\u0000unknown:";

function normalize(
  arg: string,
  specs: FlagSpecs,
  shorts: ReadonlyMap<string, string>,
  singleDash: boolean,
): string {
  const m = /^-([^-=][^=]*)(=.*)?$/.exec(arg);
  if (!m || (m[1].length === 1 && !m[2])) return arg;
  const name = m[1];
  if (singleDash && Object.hasOwn(specs, name)) return `-${arg}`;
  if (name.length === 1 && shorts.has(name)) return arg; // -n=5
  // A group of known short flags (`-qa`) or a short flag with its value stuck on (`-n5`).
  if (!m[2] && shorts.has(name[0])) return arg;
  return UNKNOWN_SINGLE_DASH + arg;
}

/**
 * Parses `input` from `start`; returns where to resume when a problem made the rest
 * need a fresh parse, else `null`.
 */
function parseSegment(
  input: readonly string[],
  start: number,
  original: readonly string[],
  specs: FlagSpecs,
  options: ParseFlagArgsOptions,
  sink: Sink,
): number | null {
  const { positionals: mode = "none", booleanValueNext = false, suggest, example } = options;
  const segment = input.slice(start);
  const parseOptions = Object.fromEntries(
    Object.entries(specs).map((
      [name, s],
    ) => [name, s.short ? { type: s.type, short: s.short } : { type: s.type }]),
  );
  const { tokens } = parseArgs({
    args: segment.map((a) => a.startsWith(UNKNOWN_SINGLE_DASH) ? "--\u0000" : a),
    options: parseOptions,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const unknown = (raw: string, i: number, inline: boolean): number => {
    const hint = suggest?.(raw);
    sink.issues.push(`Unknown flag "${raw}"${hint ? ` (did you mean "${hint}"?)` : ""}`);
    // Skip the unknown flag's value too, so it is not reported as a stray argument.
    const next = segment[i + 1];
    return !inline && next !== undefined && !next.startsWith("-") ? i + 2 : i + 1;
  };
  let skipUntil = 0;
  for (let t = 0; t < tokens.length; t++) {
    const token = tokens[t];
    if (token.index < skipUntil) continue;
    const at = start + token.index;
    if (token.kind === "option-terminator") {
      // Where only flags are accepted, `--` itself is a stray argument.
      sink.positionals.push(...original.slice(mode === "none" ? at : at + 1));
      return null;
    }
    if (token.kind === "positional") {
      if (mode === "stop") {
        sink.positionals.push(...original.slice(at));
        return null;
      }
      sink.positionals.push(token.value);
      continue;
    }
    if (segment[token.index].startsWith(UNKNOWN_SINGLE_DASH)) {
      const raw = original[at];
      const eq = raw.indexOf("=");
      const next = unknown(eq === -1 ? raw : raw.slice(0, eq), token.index, eq !== -1);
      return next === token.index + 1 ? at + 1 : at + 2;
    }
    const spec = specs[token.name];
    if (!spec) {
      const next = unknown(token.rawName, token.index, token.inlineValue === true);
      if (next === token.index + 2) skipUntil = token.index + 2;
      continue;
    }
    if (spec.type === "string") {
      if (token.value === undefined || (!token.inlineValue && token.value.startsWith("--"))) {
        const flag = flagName(token.name);
        const e = example?.(token.name);
        sink.issues.push(
          `Flag ${flag} needs a value${e === undefined ? "" : `, e.g. ${flag} ${e}`}`,
        );
        if (token.value !== undefined) return at + 1; // re-read what it swallowed
        continue;
      }
      sink.occurrences.push({ name: token.name, raw: token.rawName, value: token.value });
      continue;
    }
    // A boolean.
    if (token.value !== undefined) {
      sink.occurrences.push({ name: token.name, raw: token.rawName, value: token.value });
      continue;
    }
    const next = tokens[t + 1];
    if (
      booleanValueNext && next?.kind === "positional" && next.index === token.index + 1 &&
      /^(true|false)$/i.test(next.value)
    ) {
      sink.occurrences.push({ name: token.name, raw: token.rawName, value: next.value });
      t++;
      continue;
    }
    sink.occurrences.push({ name: token.name, raw: token.rawName, value: true });
  }
  return null;
}

function flagName(name: string): string {
  return name.length === 1 ? `-${name}` : `--${name}`;
}

/** Whether a boolean flag's value (`true`, or `"true"`/`"false"` given with `=`) is on. */
export function flagIsOn(value: string | boolean | string[] | undefined): boolean {
  if (value === undefined) return false;
  if (typeof value === "boolean") return value;
  if (Array.isArray(value)) return value.length > 0;
  return !/^(false|0|no)$/i.test(value);
}
