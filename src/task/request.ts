/**
 * Zod schemas of the task request bodies: v1 (`POST /api/v1/task`) and legacy v0
 * (`POST /task`), with the validation decided in reference §2.3.
 *
 * @module
 */
import { z } from "zod";

const PORT_NUMBER = z.number({ error: "must be a number" }).int("must be an integer").min(
  0,
  "must be 0-65535",
).max(65535, "must be 0-65535");

// Absent or `null` optional values become `null` through `.nullable().default(null)`, not
// `.nullish().transform()`: a default answers an absent key without running its schema,
// where a transform is a pipe that runs for every key of every body (measured, zod 4.6:
// the example body parsed in 2.5 µs with ten such pipes, see docs/benchmarks.md).
const stringMap = z.record(z.string(), z.string({ error: "must be a string" }), {
  error: "must be an object of strings",
}).nullable().default(null);

/** A bind mount; always read-write, as in the original. */
export const VolumeSchema = z.object({
  container_path: z.string().min(1, "must not be empty"),
  host_path: z.string().default(""),
});

/** A port mapping request. `container_port` 0 means "the assigned host port". */
export const PortSchema = z.object({
  container_port: PORT_NUMBER.default(0),
  host_port: PORT_NUMBER.default(0),
  protocol: z.string().default("tcp").refine(
    (p) => p === "" || p.toLowerCase() === "tcp" || p.toLowerCase() === "udp",
    "must be tcp or udp",
  ).transform((p) => p === "" ? "tcp" : p.toLowerCase()),
});

/** An attribute an agent must have: TEXT equality, SCALAR numeric equality or SET membership. */
export const ConstraintSchema = z.object({
  attribute_name: z.string().min(1, "must not be empty"),
  attribute_value: z.string().default(""),
});

/** A Mesos fetcher URI. */
export const FetchSchema = z.object({
  uri: z.string().min(1, "must not be empty"),
  // The original's field order (task.go): uri, executable, extract, cache.
  executable: z.boolean().default(false),
  extract: z.boolean().default(false),
  cache: z.boolean().default(false),
});

/** A raw Docker parameter (`docker run --<key>=<value>`). */
export const ParameterSchema = z.object({
  key: z.string().min(1, "must not be empty"),
  value: z.string().default(""),
});

export const NETWORKS = ["", "HOST", "BRIDGE", "NONE", "USER"] as const;

const callbackUri = z.string().default("").refine((s) => {
  if (s === "") return true;
  try {
    const u = new URL(s);
    return u.protocol === "http:" || u.protocol === "https:";
  } catch {
    return false;
  }
}, "must be an http or https URL");

/** Arrays accept `null` (unset) and drop `null` elements (the original UI sends a leading one). */
function list<T extends z.ZodType>(item: T) {
  return z.array(item.nullable()).transform((a) =>
    a.filter((x): x is NonNullable<typeof x> => x !== null)
  ).nullable().default(null);
}

/** Fields shared by v1 and v0, with their new-implementation additions. */
const common = {
  command: z.string().default(""),
  args: z.array(z.string()).nullable().default(null),
  volumes: list(VolumeSchema),
  ports: list(PortSchema),
  name: z.string().default(""),
  network: z.enum(NETWORKS, { error: "must be one of HOST, BRIDGE, NONE, USER" }).default(""),
  dns: z.string().default(""),
  env: stringMap,
  masked_env: stringMap,
  labels: stringMap,
  callback_uri: callbackUri,
  fetch: list(FetchSchema),
  force_pull_image: z.boolean().default(false),
  privileged: z.boolean().default(false),
  // New in this implementation.
  disk: z.number().min(0, "must be >= 0").default(0),
  gpus: z.number().int("must be an integer").min(0, "must be >= 0").default(0),
  role: z.string().default(""),
  max_retries: z.number().int("must be an integer").min(0, "must be 0-100").max(
    100,
    "must be 0-100",
  ).default(5),
  timeout_seconds: z.number().min(0, "must be >= 0").default(0),
  parameters: list(ParameterSchema),
  callback_events: z.enum(["terminal", "all"], { error: "must be terminal or all" }).default(
    "terminal",
  ),
};

const positive = (what: string) =>
  z.number({ error: `must be a number (${what})` }).gt(0, "must be > 0");

const image = z.string({ error: "is required" }).min(1, "must not be empty");

/** Legacy keys that would silently produce an empty task on the v1 endpoint. */
export const V0_ONLY_KEYS = [
  "docker_image",
  "task_cpus",
  "task_mem",
  "slave_constraints",
  "uris",
] as const;

/** The v1 request body. */
export const TaskRequestV1Schema = z.object({
  cpu: positive("CPUs"),
  mem: positive("MiB"),
  image,
  volumes_from: z.array(z.string()).nullable().default(null),
  agent_constraints: list(ConstraintSchema),
  ...common,
});

/** The legacy v0 request body. */
export const TaskRequestV0Schema = z.object({
  task_cpus: positive("CPUs"),
  task_mem: positive("MiB"),
  docker_image: image,
  slave_constraints: list(ConstraintSchema),
  uris: z.array(z.string().min(1, "must not be empty")).nullable().default(null),
  ...common,
});

type V1 = z.output<typeof TaskRequestV1Schema>;

/** A validated request, in v1 names, that both API versions produce. */
export type TaskRequest = Omit<V1, never>;

/** Known keys of each body, for the `Warning: 299` header on unknown ones. */
export const V1_KEYS: ReadonlySet<string> = new Set(Object.keys(TaskRequestV1Schema.shape));
export const V0_KEYS: ReadonlySet<string> = new Set(Object.keys(TaskRequestV0Schema.shape));

/** One problem with a request, naming the field. */
export interface Problem {
  path: string;
  problem: string;
}

/** The outcome of parsing a body. */
export type ParseResult =
  | { ok: true; request: TaskRequest; unknownKeys: string[] }
  | { ok: false; problems: Problem[] };

const ARCHIVE_SUFFIXES = [".tgz", ".tar.gz", ".tbz2", ".tar.bz2", ".txz", ".tar.xz", ".zip"];

/** Whether a v0 `uris` entry is extracted by the fetcher (reference §2.2). */
export function isArchive(uri: string): boolean {
  return ARCHIVE_SUFFIXES.some((s) => uri.endsWith(s));
}

function pathOf(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out === "" ? String(p) : `.${String(p)}`;
  }
  return out || "(body)";
}

/** Whether the body has a value (even `null`) at `path`. */
function isPresent(body: unknown, path: readonly PropertyKey[]): boolean {
  let at: unknown = body;
  for (const key of path) {
    if (typeof at !== "object" || at === null || !Object.hasOwn(at, key)) return false;
    at = (at as Record<PropertyKey, unknown>)[key];
  }
  return at !== undefined;
}

const ARTICLE: Record<string, string> = {
  record: "an object",
  object: "an object",
  array: "an array",
  int: "an integer",
};

// zod 4 leaves `issue.input` out of issues, so absence is read from the body itself:
// a value of the wrong type is not "required".
function problemsOf(error: z.ZodError, body: unknown): Problem[] {
  return error.issues.map((issue) => {
    let problem = issue.message;
    if (issue.code === "invalid_type") {
      problem = isPresent(body, issue.path)
        ? `must be ${ARTICLE[issue.expected] ?? `a ${issue.expected}`}`
        : "is required";
    }
    return { path: pathOf(issue.path), problem };
  });
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Validates a decoded JSON body sent to `POST /api/v1/task`. */
export function parseTaskRequestV1(body: unknown): ParseResult {
  if (!isPlainObject(body)) {
    return {
      ok: false,
      problems: [{ path: "(body)", problem: "must be a JSON object" }],
    };
  }
  const legacy = V0_ONLY_KEYS.filter((k) => k in body).map((k) => ({
    path: k,
    problem: "is a legacy v0 key: use POST /task, or the v1 name (" + v1NameOf(k) + ")",
  }));
  const parsed = TaskRequestV1Schema.safeParse(body);
  if (!parsed.success || legacy.length > 0) {
    const problems = parsed.success ? [] : problemsOf(parsed.error, body);
    return { ok: false, problems: [...legacy, ...problems] };
  }
  const unknownKeys = Object.keys(body).filter((k) => !V1_KEYS.has(k));
  return { ok: true, request: parsed.data, unknownKeys };
}

function v1NameOf(k: string): string {
  return ({
    docker_image: "image",
    task_cpus: "cpu",
    task_mem: "mem",
    slave_constraints: "agent_constraints",
    uris: "fetch",
  } as Record<string, string>)[k];
}

/** Validates a decoded JSON body sent to the legacy `POST /task`. */
export function parseTaskRequestV0(body: unknown): ParseResult {
  if (!isPlainObject(body)) {
    return { ok: false, problems: [{ path: "(body)", problem: "must be a JSON object" }] };
  }
  const parsed = TaskRequestV0Schema.safeParse(body);
  if (!parsed.success) return { ok: false, problems: problemsOf(parsed.error, body) };
  const { task_cpus, task_mem, docker_image, slave_constraints, uris, ...rest } = parsed.data;
  // Legacy `uris` come before explicit `fetch` entries (reference §2.2).
  const fromUris = (uris ?? []).map((uri) => ({
    uri,
    executable: false,
    extract: isArchive(uri),
    cache: false,
  }));
  const fetch = fromUris.length + (rest.fetch?.length ?? 0) > 0
    ? [...fromUris, ...(rest.fetch ?? [])]
    : null;
  const unknownKeys = Object.keys(body).filter((k) => !V0_KEYS.has(k));
  return {
    ok: true,
    request: {
      ...rest,
      cpu: task_cpus,
      mem: task_mem,
      image: docker_image,
      agent_constraints: slave_constraints,
      volumes_from: null,
      fetch,
    },
    unknownKeys,
  };
}
