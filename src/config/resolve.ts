/**
 * Joins the layers of configuration into one validated, frozen {@linkcode Config}:
 * built-in defaults < YAML file < environment < command-line flags.
 *
 * @module
 */
import {
  type Config,
  CONFIG_KEYS,
  ConfigError,
  type ConfigInput,
  type ConfigKey,
  type ConfigValues,
  type Credential,
  ZK_URL,
} from "./schema.ts";
import {
  CONFIG_ENV,
  CONFIG_FLAG,
  configFlag,
  type FileLayer,
  parseConfigYaml,
  parseFlags,
  readEnv,
  suggestKey,
} from "./sources.ts";

/** The inputs of {@linkcode resolveConfig}, lowest precedence first. */
export interface ConfigLayers {
  /** Overrides of the built-in defaults (e.g. `eremetic dev` uses its own database). */
  defaults?: ConfigInput;
  /** The YAML file's values (see `parseConfigYaml()`). */
  file?: FileLayer;
  /** Environment variables. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Command-line arguments: `--port 8080`, `--checkpoint=false`, `--config PATH`. */
  flags?: readonly string[];
}

/** File access needed while resolving (only to read `credential_file`). */
export interface ResolveOptions {
  /** Reads a text file; `Deno.readTextFileSync` by default. */
  readTextFileSync?: (path: string) => string;
}

/** A resolved configuration and the notices the caller should log (one line each). */
export interface ResolvedConfig {
  config: Config;
  notices: string[];
}

/**
 * Resolves the configuration from its layers: built-in defaults < `defaults` < `file` <
 * `env` < `flags`. Every problem is collected; then one {@linkcode ConfigError} carries one
 * line per problem naming the key, where its value came from and what is allowed (secret
 * values are never repeated).
 *
 * @throws {ConfigError} when a value is invalid, a flag or file key is unknown, or
 * `credential_file` is unreadable or malformed.
 */
export function resolveConfig(
  layers: ConfigLayers = {},
  { readTextFileSync = Deno.readTextFileSync }: ResolveOptions = {},
): ResolvedConfig {
  const issues: string[] = [];
  const notices: string[] = [];
  const raw: Record<string, unknown> = {};
  const sources = new Map<ConfigKey, string>();
  const set = (key: ConfigKey, value: unknown, source: string) => {
    raw[key] = value;
    sources.set(key, source);
  };

  for (const spec of CONFIG_KEYS) set(spec.key, spec.default, "default");
  for (const [key, value] of Object.entries(layers.defaults ?? {})) {
    if (!sources.has(key as ConfigKey)) {
      throw new TypeError(`Cannot resolve config: unknown default key "${key}"`);
    }
    if (value !== undefined) set(key as ConfigKey, value, "default");
  }

  if (layers.file) {
    const { path, values, lines = {} } = layers.file;
    for (const [key, value] of Object.entries(values)) {
      const where = lines[key] ? `${path}:${lines[key]}` : path;
      if (!sources.has(key as ConfigKey)) {
        const hint = suggestKey(key);
        issues.push(
          `Unknown config key "${key}" in file ${where}${hint ? ` (did you mean "${hint}"?)` : ""}`,
        );
        continue;
      }
      // `key:` with no value leaves the key to the layers below.
      if (value === null || value === undefined) continue;
      set(key as ConfigKey, value, `file ${where}`);
    }
  }

  if (layers.env) {
    const env = readEnv(layers.env);
    notices.push(...env.notices);
    for (const v of env.values) set(v.key, v.value, v.source);
  }

  if (layers.flags) {
    const flags = parseFlags(layers.flags);
    issues.push(...flags.issues);
    for (const v of flags.values) set(v.key, v.value, v.source);
  }

  const source = (key: ConfigKey) => sources.get(key) ?? "default";
  const invalid = (key: ConfigKey, what: string) =>
    `Invalid config "${key}" from ${source(key)}: ${what}`;

  // Each key is checked on its own, so every bad value is reported, and the checks across
  // keys below run whenever the keys they involve are valid.
  const values = {} as ConfigValues;
  const bad = new Set<ConfigKey>();
  for (const spec of CONFIG_KEYS) {
    const parsed = spec.schema.safeParse(raw[spec.key]);
    if (parsed.success) {
      (values as unknown as Record<string, unknown>)[spec.key] = parsed.data;
    } else {
      bad.add(spec.key);
      const got = spec.secret ? "" : `, got ${show(raw[spec.key])}`;
      issues.push(invalid(spec.key, spec.expected + got));
    }
  }
  const valid = (...keys: ConfigKey[]) => keys.every((k) => !bad.has(k));

  // database_driver and database.
  if (valid("database_driver") && (values.database_driver as string) === "boltdb") {
    values.database_driver = "kv";
    notices.push(
      `database_driver "boltdb" (from ${source("database_driver")}) is an alias of "kv": ` +
        `tasks are stored in Deno KV at "${values.database}"; BoltDB files are not read`,
    );
  }
  if (!valid("database_driver", "database")) {
    // Already reported.
  } else if (values.database_driver === "zk" && !ZK_URL.test(values.database)) {
    issues.push(invalid(
      "database",
      `with database_driver "zk" expected a zk://host:port[,host:port]/path URL, ` +
        `got ${show(values.database)}`,
    ));
  } else if (values.database_driver === "kv" && /^zk:\/\//i.test(values.database)) {
    issues.push(invalid(
      "database",
      `with database_driver "kv" (from ${source("database_driver")}) expected a file path ` +
        `or a Deno KV URL, got a ZooKeeper URL (set database_driver to "zk")`,
    ));
  }

  // TLS needs both files.
  if (valid("tls_cert", "tls_key") && (values.tls_cert === "") !== (values.tls_key === "")) {
    const [given, missing]: ConfigKey[] = values.tls_cert ? ["tls_cert", "tls_key"] : [
      "tls_key",
      "tls_cert",
    ];
    issues.push(invalid(
      missing,
      `${given} is set (from ${source(given)}) but ${missing} is empty; set both or neither`,
    ));
  }

  // The Mesos credential file: read it now so a bad one stops start-up (D20).
  let credential: Credential | undefined;
  if (valid("credential_file") && values.credential_file !== "") {
    const path = values.credential_file;
    try {
      const fields = readTextFileSync(path).trim().split(/\s+/).filter((f) => f !== "");
      if (fields.length === 2) {
        credential = Object.freeze({ principal: fields[0], secret: fields[1] });
      } else {
        issues.push(invalid(
          "credential_file",
          `expected "${path}" to hold exactly two whitespace-separated fields ` +
            `"principal secret", found ${fields.length}`,
        ));
      }
    } catch (err) {
      issues.push(invalid("credential_file", `cannot read "${path}": ${readError(err)}`));
    }
  }

  if (issues.length > 0) throw new ConfigError(issues);

  if (values.messenger_address !== "" || values.messenger_port !== 0) {
    const from = (["messenger_address", "messenger_port"] as const)
      .filter((k) => source(k) !== "default").map(source);
    notices.push(
      "messenger_address and messenger_port are ignored: the Mesos v1 HTTP API needs no " +
        `messenger${from.length ? ` (set from ${from.join(" and ")})` : ""}`,
    );
  }
  if (values.framework_id === "1234") {
    notices.push(
      `framework_id "1234" (from ${source("framework_id")}) is the original Eremetic's ` +
        "default; instances sharing it fight over one framework, leave it empty instead",
    );
  }

  const config = Object.fromEntries(
    CONFIG_KEYS.map((s) => [s.key, values[s.key]]),
  ) as Record<string, unknown>;
  if (credential) config.credential = credential;
  return { config: Object.freeze(config) as unknown as Config, notices };
}

/** The default places of the configuration file, tried in order. */
export const CONFIG_SEARCH_PATHS: readonly string[] = Object.freeze([
  "./eremetic.yml",
  "/etc/eremetic/eremetic.yml",
]);

/** Where {@linkcode loadConfig} reads from; Deno's APIs by default, plain objects in tests. */
export interface LoadConfigOptions {
  /** Environment variables; `Deno.env.toObject()` by default. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Reads the configuration file; `Deno.readTextFile` by default. */
  readTextFile?: (path: string) => Promise<string>;
  /** Whether a file exists; `Deno.stat` by default. */
  exists?: (path: string) => Promise<boolean>;
  /** Reads `credential_file`; `Deno.readTextFileSync` by default. */
  readTextFileSync?: (path: string) => string;
  /** Overrides of the built-in defaults. */
  defaults?: ConfigInput;
  /** Files tried when neither `--config` nor `EREMETIC_CONFIG` names one. */
  searchPaths?: readonly string[];
}

/** A loaded configuration, its notices, and the file it came from (`null`: none). */
export interface LoadedConfig extends ResolvedConfig {
  path: string | null;
}

/**
 * Loads the configuration for `eremetic serve`: finds and reads the YAML file
 * (`--config PATH`, else `EREMETIC_CONFIG`, else `./eremetic.yml`, else
 * `/etc/eremetic/eremetic.yml`, else none), then calls {@linkcode resolveConfig} with the
 * environment and `args` as flags.
 *
 * @throws {ConfigError} when a named file is missing, the YAML is malformed, or any value
 * is invalid.
 */
export async function loadConfig(
  args: readonly string[],
  {
    env = Deno.env.toObject(),
    readTextFile = Deno.readTextFile,
    exists = fileExists,
    readTextFileSync = Deno.readTextFileSync,
    defaults,
    searchPaths = CONFIG_SEARCH_PATHS,
  }: LoadConfigOptions = {},
): Promise<LoadedConfig> {
  let path: string | null = null;
  let named: string | undefined;
  const flagPath = configFlag(args);
  if (flagPath !== undefined) {
    if (flagPath === "") {
      throw new ConfigError([
        `Flag ${CONFIG_FLAG} needs a value, e.g. ${CONFIG_FLAG} eremetic.yml`,
      ]);
    }
    [path, named] = [flagPath, `flag ${CONFIG_FLAG}`];
  } else if (env[CONFIG_ENV]) {
    [path, named] = [env[CONFIG_ENV]!, `env ${CONFIG_ENV}`];
  } else {
    for (const candidate of searchPaths) {
      try {
        if (await exists(candidate)) {
          path = candidate;
          break;
        }
      } catch (err) {
        throw new ConfigError(
          [`Cannot read config file "${candidate}": ${readError(err)}`],
          { cause: err },
        );
      }
    }
  }

  let file: FileLayer | undefined;
  if (path !== null) {
    let text: string;
    try {
      text = await readTextFile(path);
    } catch (err) {
      const from = named ? ` (from ${named})` : "";
      throw new ConfigError([`Cannot read config file "${path}"${from}: ${readError(err)}`], {
        cause: err,
      });
    }
    file = parseConfigYaml(text, path);
  }

  const resolved = resolveConfig({ defaults, file, env, flags: args }, { readTextFileSync });
  return { ...resolved, path };
}

async function fileExists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/** A short reason for a failed read, without the file's content. */
function readError(err: unknown): string {
  if (err instanceof Error) {
    if (err.name === "NotFound") return "file not found";
    if (err.name === "PermissionDenied" || err.name === "NotCapable") return "permission denied";
    if (err.name === "IsADirectory") return "is a directory";
    return err.message.split("\n")[0];
  }
  return String(err);
}

/**
 * The configuration as a plain object that is safe to log: secret keys read `*******` when
 * set, passwords in URLs (`zk://user:pass@...`) are hidden, and the credential is reduced to
 * its principal.
 */
export function redactConfig(config: Config): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const spec of CONFIG_KEYS) {
    const value = config[spec.key];
    out[spec.key] = spec.secret && value !== ""
      ? "*******"
      : typeof value === "string"
      ? hideUrlPassword(value)
      : value;
  }
  if (config.credential) out.credential_principal = config.credential.principal;
  return out;
}

function hideUrlPassword(value: string): string {
  return value.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/i, "$1*******@");
}

/** A value as shown in a message: strings quoted (URL passwords hidden), lists named. */
function show(value: unknown): string {
  if (typeof value === "string") {
    const safe = hideUrlPassword(value);
    const clipped = safe.length > 80 ? safe.slice(0, 77) + "..." : safe;
    return JSON.stringify(clipped);
  }
  if (Array.isArray(value)) return "a list";
  if (value === null) return "null";
  if (typeof value === "object") return "a mapping";
  return String(value);
}
