/**
 * The configuration keys: their types, defaults, environment-variable names, flags,
 * documentation and zod schemas. Everything else in `src/config` (resolution, the sample
 * `eremetic.yml`, the docs table) is derived from {@linkcode CONFIG_KEYS}.
 *
 * @module
 */
import { z } from "zod";

/** The values of a complete configuration, keyed exactly as in `eremetic.yml`. */
export interface ConfigValues {
  address: string;
  port: number;
  url_prefix: string;
  http_credentials: string;
  body_timeout_seconds: number;
  tls_cert: string;
  tls_key: string;
  loglevel: "debug" | "info" | "warn" | "error";
  logformat: "text" | "json";
  database_driver: "kv" | "zk" | "memory";
  database: string;
  zk_session_timeout_seconds: number;
  queue_size: number;
  retention_seconds: number;
  master: string;
  name: string;
  user: string;
  role: string;
  hostname: string;
  webui_url: string;
  checkpoint: boolean;
  failover_timeout: number;
  framework_id: string;
  credential_file: string;
  gpu_resources: boolean;
  refuse_seconds: number;
  reconcile_interval_seconds: number;
  callback_secret: string;
  messenger_address: string;
  messenger_port: number;
}

/** The name of a configuration key, e.g. `"database_driver"`. */
export type ConfigKey = keyof ConfigValues;

/** Mesos framework credential read from `credential_file` (the secret is never logged). */
export interface Credential {
  principal: string;
  secret: string;
}

/** The resolved configuration: complete, validated and frozen. */
export type Config = Readonly<ConfigValues> & {
  /** Parsed from `credential_file` when it is set. */
  readonly credential?: Readonly<Credential>;
};

/**
 * Configuration as given by a caller (for example the `defaults` layer of `resolveConfig`):
 * every key optional. Values from YAML, the environment and flags are checked by the schema.
 */
export type ConfigInput = Partial<ConfigValues>;

/** What one key looks like: name, where it can come from, default, documentation, schema. */
export interface ConfigKeySpec<K extends ConfigKey = ConfigKey> {
  /** The YAML key, e.g. `"database_driver"`. */
  key: K;
  /** Environment variables read for this key, highest precedence first. */
  env: readonly string[];
  /** The command-line flag, e.g. `"--database-driver"`. */
  flag: string;
  /** The built-in default. */
  default: ConfigValues[K];
  /** A few words for `--help`. */
  summary: string;
  /** What the key means, for the docs and the sample file. */
  description: string;
  /** What is allowed, for error messages: `expected an integer 0-65535`. */
  expected: string;
  /** Whether the value is a secret that no message may contain. */
  secret?: boolean;
  /** Whether the value is a boolean (a bare `--flag` means true). */
  boolean?: boolean;
  /** Validates and normalizes a raw value (string from env/flags, any YAML scalar). */
  schema: z.ZodType<ConfigValues[K]>;
}

/** Prefix of the environment variables that win over the original bare names. */
export const ENV_PREFIX = "EREMETIC_";

// ---------------------------------------------------------------------------
// Coercions: env vars and flags are strings, YAML gives numbers and booleans.

function toNumber(value: unknown): unknown {
  if (typeof value !== "string") return value;
  const s = value.trim();
  return /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s) ? Number(s) : value;
}

const TRUE_WORDS = new Set(["true", "t", "1", "yes", "y", "on"]);
const FALSE_WORDS = new Set(["false", "f", "0", "no", "n", "off"]);

function toBoolean(value: unknown): unknown {
  if (typeof value === "number" && (value === 0 || value === 1)) return value === 1;
  if (typeof value !== "string") return value;
  const s = value.trim().toLowerCase();
  if (TRUE_WORDS.has(s)) return true;
  if (FALSE_WORDS.has(s)) return false;
  return value;
}

/** YAML turns `framework_id: 1234` into a number; a string key takes it as text. */
function toText(value: unknown): unknown {
  return typeof value === "number" && Number.isFinite(value) ? String(value) : value;
}

function text(): z.ZodType<string> {
  return z.preprocess(toText, z.string()) as unknown as z.ZodType<string>;
}

function integer(min: number, max: number): z.ZodType<number> {
  return z.preprocess(toNumber, z.number().int().min(min).max(max)) as unknown as z.ZodType<
    number
  >;
}

function seconds(): z.ZodType<number> {
  return z.preprocess(
    toNumber,
    z.number().min(0).max(Number.MAX_SAFE_INTEGER),
  ) as unknown as z.ZodType<
    number
  >;
}

function boolean(): z.ZodType<boolean> {
  return z.preprocess(toBoolean, z.boolean()) as unknown as z.ZodType<boolean>;
}

function oneOf<T extends string>(
  values: readonly T[],
  aliases: Record<string, T> = {},
): z.ZodType<T> {
  const normalize = (v: unknown) => {
    if (typeof v !== "string") return v;
    const s = v.trim().toLowerCase();
    return aliases[s] ?? s;
  };
  return z.preprocess(normalize, z.enum(values as [T, ...T[]])) as unknown as z.ZodType<T>;
}

function matching(pattern: RegExp): z.ZodType<string> {
  return z.preprocess(toText, z.string().regex(pattern)) as unknown as z.ZodType<string>;
}

// ---------------------------------------------------------------------------
// Patterns.

const HOST_PORT = String.raw`[^\s/,:@]+:\d{1,5}`;
const IPV6_HOST_PORT = String.raw`\[[0-9a-fA-F:.]+\]:\d{1,5}`;
const ANY_HOST_PORT = `(?:${HOST_PORT}|${IPV6_HOST_PORT})`;

/** `zk://[user:pass@]host:port[,host:port]/path` with a non-empty path. */
export const ZK_URL = new RegExp(
  `^zk://(?:[^/\\s@]+@)?${ANY_HOST_PORT}(?:,${ANY_HOST_PORT})*(?:/[^/\\s]+)+/?$`,
);

/** Empty, `host:port[,host:port]`, `http(s)://host[:port][/path]` or a ZooKeeper URL. */
const MASTER = new RegExp(
  `^(?:|${ANY_HOST_PORT}(?:,${ANY_HOST_PORT})*|https?://[^\\s/]+(?:/\\S*)?|${
    ZK_URL.source.slice(1, -1)
  })$`,
);

/** Mesos role names: `*`, or `/`-separated parts that are non-empty, not `.` or `..`,
 * free of whitespace and backslashes; the name does not start with `-`. */
export function isValidRole(role: string): boolean {
  if (role === "*") return true;
  if (role.startsWith("-")) return false;
  return role.split("/").every((part) =>
    part !== "" && part !== "." && part !== ".." && !/[\s\\*]/.test(part)
  );
}

const URL_PREFIX = /^(?:|\/[^\s?#]*)$/;
const HTTP_URL = /^(?:|https?:\/\/[^\s/]+(?:\/\S*)?)$/;

/** Split `user:password` at the first colon; `null` unless both parts are non-empty. */
export function parseHttpCredentials(value: string): { user: string; password: string } | null {
  const colon = value.indexOf(":");
  if (colon <= 0 || colon === value.length - 1) return null;
  return { user: value.slice(0, colon), password: value.slice(colon + 1) };
}

// ---------------------------------------------------------------------------
// The keys, in documentation order.

type Specs = { [K in ConfigKey]: Omit<ConfigKeySpec<K>, "key" | "env" | "flag"> };

const SPECS: Specs = {
  address: {
    summary: "HTTP bind address",
    default: "0.0.0.0",
    description: "Address the HTTP server binds to (`0.0.0.0`: all interfaces).",
    expected: "expected an IP address or host name",
    schema: matching(/^\S+$/),
  },
  port: {
    summary: "HTTP port (0: any free port)",
    default: 8080,
    description: "HTTP port. The original defaulted to a random port; 8080 is the value " +
      "its README documents. 0 picks a free port.",
    expected: "expected an integer 0-65535",
    schema: integer(0, 65535),
  },
  url_prefix: {
    summary: "path prefix of generated links",
    default: "",
    description: "Path prefix put in front of every generated link (`Location` header, " +
      "HTML pages) when a reverse proxy serves Eremetic under a sub-path; routes stay at `/`.",
    expected: 'expected "" or a path starting with "/", e.g. "/service/eremetic"',
    schema: z.preprocess(
      toText,
      z.string().regex(URL_PREFIX).transform((s) => s.replace(/\/+$/, "")),
    ) as unknown as z.ZodType<string>,
  },
  http_credentials: {
    summary: "user:password for HTTP basic auth",
    default: "",
    description: "`user:password` for HTTP basic authentication of every route except " +
      "`/version`, `/api/v1/version`, `/api/v1/health` and `/api/v1/openapi.json`; split at " +
      "the first colon. Empty: no authentication. " +
      "A malformed value refuses to start (it never silently disables authentication).",
    expected: 'expected "user:password" with a non-empty user and password, or ""',
    secret: true,
    schema: z.preprocess(
      toText,
      z.string().refine((s) => s === "" || parseHttpCredentials(s) !== null),
    ) as unknown as z.ZodType<string>,
  },
  body_timeout_seconds: {
    summary: "seconds a request body may take to arrive (0: no limit)",
    default: 30,
    description: "Seconds a client may take to send a request body once its headers have " +
      "arrived; beyond them the request is answered 408 and what was sent is dropped. 0: no " +
      "limit. The connection itself stays open until the client closes it (Deno's HTTP " +
      "server gives the application no way to close it): put a reverse proxy with its own " +
      "timeouts in front of an exposed Eremetic.",
    expected: "expected a number of seconds >= 0",
    schema: seconds(),
  },
  tls_cert: {
    summary: "PEM certificate file (HTTPS)",
    default: "",
    description: "PEM certificate file: with `tls_key`, serve HTTPS. Set both or neither.",
    expected: "expected a file path",
    schema: text(),
  },
  tls_key: {
    summary: "PEM private key file (HTTPS)",
    default: "",
    description: "PEM private key file for `tls_cert`.",
    expected: "expected a file path",
    schema: text(),
  },
  loglevel: {
    summary: "debug, info, warn or error",
    default: "info",
    description: "Lowest level logged: `debug`, `info`, `warn` or `error` (logrus names " +
      "`trace`, `warning`, `fatal`, `panic` are accepted as aliases).",
    expected: 'expected one of "debug", "info", "warn", "error"',
    schema: oneOf(["debug", "info", "warn", "error"], {
      trace: "debug",
      warning: "warn",
      fatal: "error",
      panic: "error",
    }),
  },
  logformat: {
    summary: "text or json",
    default: "text",
    description: "Log line format: `text` or `json` (one JSON object per line).",
    expected: 'expected "text" or "json"',
    schema: oneOf(["text", "json"]),
  },
  database_driver: {
    summary: "kv, zk or memory",
    default: "kv",
    description: "Task store: `kv` (Deno KV, a local SQLite file or a KV URL), `zk` " +
      "(ZooKeeper) or `memory` (tests only, nothing survives a restart). `boltdb` is " +
      "accepted as an alias of `kv` (existing BoltDB files are not read).",
    expected: 'expected one of "kv", "zk", "memory" (or "boltdb", an alias of "kv")',
    schema: oneOf(["kv", "zk", "memory", "boltdb"]) as unknown as z.ZodType<
      "kv" | "zk" | "memory"
    >,
  },
  database: {
    summary: "KV file or URL, or zk://host:port/path",
    default: "db/eremetic.kv",
    description: "With `kv`: the Deno KV file (relative to the working directory; parent " +
      "directories are created) or a remote KV URL. With `zk`: " +
      "`zk://[user:pass@]host:port[,host:port]/path` (digest credentials; the path and " +
      "its parents are created).",
    expected: "expected a file path or URL",
    schema: matching(/\S/),
  },
  zk_session_timeout_seconds: {
    summary: "ZooKeeper session timeout in seconds",
    default: 10,
    description: "Session timeout asked of ZooKeeper by the `zk` store (ZooKeeper clamps it " +
      "to its own minimum and maximum, by default 2 and 20 ticks). The original Eremetic " +
      "used 1 s, which a short pause could end; Mesos uses 10 s.",
    expected: "expected an integer from 1 to 600",
    schema: integer(1, 600),
  },
  queue_size: {
    summary: "maximum queued tasks (0: unlimited)",
    default: 0,
    description: "Maximum number of queued tasks; beyond it `POST` answers 503. 0: " +
      "unlimited. The original's limit (100) protected memory; the queue is now stored " +
      "in the database, so memory no longer bounds it.",
    expected: "expected an integer >= 0",
    schema: integer(0, Number.MAX_SAFE_INTEGER),
  },
  retention_seconds: {
    summary: "delete finished tasks after N seconds (0: never)",
    default: 0,
    description: "Delete finished tasks this many seconds after they ended. 0: keep forever.",
    expected: "expected an integer >= 0",
    schema: integer(0, Number.MAX_SAFE_INTEGER),
  },
  master: {
    summary: "Mesos master (empty: none)",
    default: "",
    description: "Mesos master: `host:port[,host:port]`, `http(s)://host:port` or " +
      "`zk://host:port[,host:port]/mesos`. Empty: no master; the API serves and tasks " +
      "stay queued.",
    expected: 'expected "" (no master), host:port[,host:port], http(s)://host:port or ' +
      "zk://host:port[,host:port]/path",
    schema: matching(MASTER),
  },
  name: {
    summary: "Mesos framework name",
    default: "Eremetic",
    description: "Mesos framework name.",
    expected: "expected a non-empty name",
    schema: matching(/\S/),
  },
  user: {
    summary: "Mesos framework user",
    default: "root",
    description: "Mesos framework user. Only `EREMETIC_USER` sets it: the bare `USER` is " +
      "the shell's login name.",
    expected: "expected a non-empty user name",
    schema: matching(/^\S+$/),
  },
  role: {
    summary: "Mesos role",
    default: "*",
    description: "Mesos role the framework subscribes with and tasks are launched under.",
    expected: 'expected "*" or a Mesos role name (no whitespace, not "." or "..", ' +
      'not starting with "-")',
    schema: z.preprocess(toText, z.string().refine(isValidRole)) as unknown as z.ZodType<string>,
  },
  hostname: {
    summary: "host name advertised to Mesos",
    default: "",
    description: "Host name advertised to Mesos in the FrameworkInfo. Empty: this " +
      "machine's host name.",
    expected: "expected a host name without whitespace",
    schema: matching(/^\S*$/),
  },
  webui_url: {
    summary: "web UI URL advertised to Mesos",
    default: "",
    description: "Web UI address shown by Mesos, and with several instances (high " +
      "availability) the address the others forward writes to. Empty: derived from " +
      "`hostname`, `port` and `url_prefix`.",
    expected: 'expected "" or an http(s):// URL',
    schema: matching(HTTP_URL),
  },
  checkpoint: {
    summary: "framework checkpointing",
    default: true,
    description: "Framework checkpointing: tasks survive an agent restart.",
    expected: "expected true or false",
    boolean: true,
    schema: boolean(),
  },
  failover_timeout: {
    summary: "framework failover timeout in seconds",
    default: 2592000,
    description: "Seconds Mesos keeps the framework's tasks running while the scheduler " +
      "is disconnected (default 30 days).",
    expected: "expected a number of seconds >= 0",
    schema: seconds(),
  },
  framework_id: {
    summary: "framework id to re-register with",
    default: "",
    description: "Framework id to re-register with. Empty: the id the master assigned " +
      "earlier (kept in the database), else a new one. The original defaulted to `1234`.",
    expected: "expected a framework id without whitespace",
    schema: matching(/^\S*$/),
  },
  credential_file: {
    summary: "file with `principal secret` for Mesos authentication",
    default: "",
    description: "File holding `principal secret` (exactly two whitespace-separated " +
      "fields) for Mesos framework authentication. Empty: no authentication.",
    expected: "expected a file path",
    schema: text(),
  },
  gpu_resources: {
    summary: "announce the GPU_RESOURCES capability",
    default: false,
    description: "Announce the `GPU_RESOURCES` capability, so Mesos offers GPU agents and " +
      "tasks may ask for `gpus`.",
    expected: "expected true or false",
    boolean: true,
    schema: boolean(),
  },
  refuse_seconds: {
    summary: "seconds before declined resources are re-offered",
    default: 5,
    description: "Seconds Mesos should not re-offer resources Eremetic declined.",
    expected: "expected a number of seconds >= 0",
    schema: seconds(),
  },
  reconcile_interval_seconds: {
    summary: "seconds between reconciliations (0: on subscribe only)",
    default: 600,
    description: "Seconds between explicit reconciliations of launched tasks. 0: only " +
      "when (re-)subscribing.",
    expected: "expected a number of seconds >= 0",
    schema: seconds(),
  },
  callback_secret: {
    summary: "HMAC key signing task callbacks",
    default: "",
    description: "Key of the HMAC-SHA256 signature sent with every task callback. Empty: " +
      "callbacks are not signed.",
    expected: "expected a string",
    secret: true,
    schema: text(),
  },
  messenger_address: {
    summary: "ignored (v1 HTTP API)",
    default: "",
    description: "Accepted for compatibility and ignored: the Mesos v1 HTTP API needs no " +
      "messenger.",
    expected: "expected an address",
    schema: text(),
  },
  messenger_port: {
    summary: "ignored (v1 HTTP API)",
    default: 0,
    description: "Accepted for compatibility and ignored (see `messenger_address`).",
    expected: "expected an integer 0-65535",
    schema: integer(0, 65535),
  },
};

/** Keys of the original Eremetic, read from their bare environment variables as well. */
const ORIGINAL_KEYS: ReadonlySet<ConfigKey> = new Set<ConfigKey>([
  "address",
  "port",
  "master",
  "database_driver",
  "database",
  "http_credentials",
  "url_prefix",
  "queue_size",
  "loglevel",
  "logformat",
  "name",
  "checkpoint",
  "failover_timeout",
  "framework_id",
  "credential_file",
  "messenger_address",
  "messenger_port",
  // "user" is original too, but the bare USER is the shell's login name: not read.
]);

function envNames(key: ConfigKey): string[] {
  const bare = key.toUpperCase();
  return ORIGINAL_KEYS.has(key) ? [ENV_PREFIX + bare, bare] : [ENV_PREFIX + bare];
}

/** Every configuration key with its metadata, in documentation order. */
export const CONFIG_KEYS: readonly ConfigKeySpec[] = Object.freeze(
  (Object.keys(SPECS) as ConfigKey[]).map((key) =>
    Object.freeze({
      key,
      env: Object.freeze(envNames(key)),
      flag: "--" + key.replaceAll("_", "-"),
      ...SPECS[key],
    }) as ConfigKeySpec
  ),
);

/** The metadata of one key. */
export function configKeySpec<K extends ConfigKey>(key: K): ConfigKeySpec<K> {
  return CONFIG_KEYS.find((s) => s.key === key) as unknown as ConfigKeySpec<K>;
}

/** The built-in defaults. */
export const DEFAULT_CONFIG: Readonly<ConfigValues> = Object.freeze(
  Object.fromEntries(CONFIG_KEYS.map((s) => [s.key, s.default])) as unknown as ConfigValues,
);

/** One zod object for the whole configuration (raw values in, normalized values out). */
export const configSchema: z.ZodType<ConfigValues> = z.object(
  Object.fromEntries(CONFIG_KEYS.map((s) => [s.key, s.schema])),
) as unknown as z.ZodType<ConfigValues>;

/** Start-up refused: one line per problem, each naming the key and where its value came from. */
export class ConfigError extends Error {
  /** One message per problem. */
  readonly issues: string[];
  constructor(issues: string[], options?: ErrorOptions) {
    super(issues.join("\n"), options);
    this.name = "ConfigError";
    this.issues = issues;
  }
}
