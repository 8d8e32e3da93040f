/**
 * The raw sources of configuration: the YAML file, environment variables and command-line
 * flags. Each is turned into plain values plus where each value came from; nothing here
 * validates values (that is `resolveConfig()`'s job) and nothing touches Deno APIs.
 *
 * @module
 */
import { isMap, isScalar, LineCounter, parseDocument } from "yaml";
import { type FlagSpecs, parseFlagArgs } from "./flags.ts";
import { CONFIG_KEYS, ConfigError, type ConfigKey, type ConfigKeySpec } from "./schema.ts";

/** The YAML file layer: its path, its top-level values and the line of each key. */
export interface FileLayer {
  /** The path as it was given, used in messages. */
  path: string;
  /** Top-level keys and their values as YAML gave them. */
  values: Record<string, unknown>;
  /** 1-based line of each top-level key, when known. */
  lines?: Record<string, number>;
}

/** One value from the environment or the command line. */
export interface RawValue {
  key: ConfigKey;
  value: unknown;
  /** Where it came from, as shown in messages: `env PORT`, `flag --port`. */
  source: string;
}

const KEYS_BY_FLAG: ReadonlyMap<string, ConfigKeySpec> = new Map(
  CONFIG_KEYS.map((s) => [s.flag, s]),
);

/** The flag naming the configuration file. */
export const CONFIG_FLAG = "--config";

/** The environment variable naming the configuration file (below `--config`). */
export const CONFIG_ENV = "EREMETIC_CONFIG";

/**
 * Parses the text of a YAML configuration file. An empty file (or one with only comments)
 * has no values.
 *
 * @throws {ConfigError} on a YAML syntax error (naming the file, line and column) or when
 * the top level is not a mapping.
 */
export function parseConfigYaml(text: string, path: string): FileLayer {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ConfigError(doc.errors.map((e) => {
      const { line, col } = lineCounter.linePos(e.pos[0]);
      const what = e.message.split("\n")[0];
      return `Cannot parse config file "${path}": YAML syntax error at line ${line}, column ${col}: ${what}`;
    }));
  }
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) {
    return { path, values: {}, lines: {} };
  }
  if (!isMap(doc.contents)) {
    const { line } = lineCounter.linePos(doc.contents.range[0]);
    throw new ConfigError([
      `Cannot read config file "${path}": line ${line}: expected a mapping of keys to values ` +
      `at the top level, like "port: 8080"`,
    ]);
  }
  const lines: Record<string, number> = {};
  for (const pair of doc.contents.items) {
    if (isScalar(pair.key) && pair.key.range) {
      lines[String(pair.key.value)] = lineCounter.linePos(pair.key.range[0]).line;
    }
  }
  let values: unknown;
  try {
    values = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new ConfigError([
      `Cannot read config file "${path}": ${err instanceof Error ? err.message : String(err)}`,
    ], { cause: err });
  }
  return { path, values: values as Record<string, unknown>, lines };
}

/**
 * Reads every configuration key from environment variables. For each key the
 * `EREMETIC_`-prefixed variable wins over the bare original name (`EREMETIC_PORT` over
 * `PORT`); keys new in this version have only the prefixed form, and `USER` is never read.
 * A variable that is set, even to `""`, counts.
 *
 * @returns the values found and notices about variables deliberately ignored.
 */
export function readEnv(
  env: Readonly<Record<string, string | undefined>>,
): { values: RawValue[]; notices: string[] } {
  const values: RawValue[] = [];
  const notices: string[] = [];
  for (const spec of CONFIG_KEYS) {
    for (const name of spec.env) {
      const value = env[name];
      if (value === undefined) continue;
      // Kubernetes "service links" set EREMETIC_PORT=tcp://10.0.0.1:8080 for a service
      // named eremetic; that is not a port number for us.
      if (spec.key === "port" && /^(tcp|udp|sctp):\/\//i.test(value)) {
        notices.push(
          `Ignoring ${name}="${value}": it looks like a Kubernetes service link, not a port ` +
            `(set PORT, --port or enableServiceLinks: false)`,
        );
        continue;
      }
      values.push({ key: spec.key, value, source: `env ${name}` });
      break;
    }
  }
  return { values, notices };
}

/** What the command line says: configuration values, the `--config` path, and problems. */
export interface ParsedFlags {
  values: RawValue[];
  /** The value of `--config`, if given. */
  config?: string;
  /** One message per unknown flag, missing value or stray argument. */
  issues: string[];
}

/** The configuration flags as `parseFlagArgs()` specs: `port` for `--port`. */
const FLAG_SPECS: FlagSpecs = Object.fromEntries([
  ...CONFIG_KEYS.map((s) => [s.flag.slice(2), { type: s.boolean ? "boolean" : "string" }]),
  [CONFIG_FLAG.slice(2), { type: "string" }],
]);

/**
 * Parses command-line flags: `--port 8080`, `--port=8080`, `--checkpoint`,
 * `--checkpoint=false`, `--checkpoint false`, `--config PATH`. Flags are the YAML keys
 * with dashes (`--database-driver`). The last occurrence of a flag wins.
 */
export function parseFlags(args: readonly string[]): ParsedFlags {
  const parsed = parseFlagArgs(args, FLAG_SPECS, {
    booleanValueNext: true,
    suggest: suggestFlag,
    positionalHint: "only flags like --port 8080 are accepted",
    example: (name) => exampleValue(KEYS_BY_FLAG.get(`--${name}`)),
  });
  const values: RawValue[] = [];
  let config: string | undefined;
  for (const { name, value } of parsed.occurrences) {
    const flag = `--${name}`;
    if (flag === CONFIG_FLAG) config = String(value);
    else values.push({ key: KEYS_BY_FLAG.get(flag)!.key, value, source: `flag ${flag}` });
  }
  return { values, config, issues: parsed.issues };
}

/** The `--config` path in `args` (`""` when it has no value), without validating the rest. */
export function configFlag(args: readonly string[]): string | undefined {
  const parsed = parseFlagArgs(args, FLAG_SPECS, { booleanValueNext: true });
  const given = args.some((a) => a === CONFIG_FLAG || a.startsWith(CONFIG_FLAG + "="));
  const value = parsed.values[CONFIG_FLAG.slice(2)];
  return typeof value === "string" ? value : given ? "" : undefined;
}

function exampleValue(spec: ConfigKeySpec | undefined): string {
  if (!spec) return "eremetic.yml";
  const d = spec.default;
  return d === "" ? "VALUE" : String(d);
}

/** The known flag closest to an unknown one (underscores, case, one or two typos). */
function suggestFlag(name: string): string | undefined {
  const normalized = "--" + name.replace(/^-+/, "").replaceAll("_", "-").toLowerCase();
  const flags = [...KEYS_BY_FLAG.keys(), CONFIG_FLAG];
  if (flags.includes(normalized)) return normalized;
  let best: string | undefined;
  let bestDistance = 3;
  for (const flag of flags) {
    const d = editDistance(normalized, flag);
    if (d < bestDistance) [best, bestDistance] = [flag, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length];
}

/** The known key closest to an unknown one, for "did you mean" hints. */
export function suggestKey(name: string): string | undefined {
  const flag = suggestFlag("--" + name);
  return flag && flag !== CONFIG_FLAG ? flag.slice(2).replaceAll("-", "_") : undefined;
}
