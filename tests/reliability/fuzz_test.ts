/**
 * Hostile input, generated (issue 13, point 4): fast-check requests over every operation of
 * the OpenAPI document the server serves (its paths, methods, path, header and query
 * parameters and request bodies) plus the HTML pages, sent over HTTP to `eremetic serve`
 * running as a child process. Bodies are shaped by the document's schemas with edge values
 * (0, negative, huge, `1e999`, NaN-like strings, a `timeout_seconds` of centuries, empty and
 * unusual strings, `__proto__` keys), or arbitrary JSON, or arbitrary bytes. Checked on
 * every answer: no 5xx, a JSON body on every 4xx (the error document, or the original's
 * `null` / JSON string where it answers so), an answer within a bounded time; and at the
 * end: the process is still running, healthy, and logged no failed request.
 *
 * Short: 1,500 requests (`deno task test`); full: 12,000 (`deno task test:reliability`).
 * Results: docs/reliability.md, "Hostile input".
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { postJson, request, SEED_BODY, spawnServer, tempDir } from "../_helpers.ts";
import { scale } from "./_mode.ts";

const RUNS = scale(1_500, 12_000);
/** An answer slower than this is a hang (streams are cut once their head arrives). */
const ANSWER_TIMEOUT_MS = 15_000;
const JSON_TYPE = "application/json; charset=UTF-8";

interface Parameter {
  name: string;
  in: "path" | "query" | "header";
  schema?: JsonSchema;
}

interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  enum?: unknown[];
  $ref?: string;
  minimum?: number;
  maximum?: number;
  maxLength?: number;
}

interface Operation {
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema: JsonSchema }> };
}

interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, JsonSchema> };
}

/** One generated request. */
interface Generated {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Uint8Array;
}

/** Numbers at the edges; `HUGE` becomes the literal `1e999` (Infinity to JSON.parse). */
const HUGE = "\u0000huge\u0000";
const HUGE_LITERALS = ["1e999", "-1e999", "1E400", "123456789012345678901234567890e300"];
const SECONDS_PER_YEAR = 365.25 * 24 * 3600;
const edgeNumber: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    0,
    -0,
    -1,
    1,
    0.5,
    -0.5,
    5e-324,
    1e-308,
    1e308,
    -1e308,
    Number.MAX_SAFE_INTEGER,
    Number.MAX_SAFE_INTEGER + 2,
    -Number.MAX_SAFE_INTEGER,
    2 ** 31,
    2 ** 32,
    65535,
    65536,
    100,
    101,
    // `timeout_seconds` of a century and of a million years.
    100 * SECONDS_PER_YEAR,
    1e6 * SECONDS_PER_YEAR,
    HUGE,
  ),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
);

/** Strings that look like numbers but are not, and other awkward text. */
const edgeString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    "",
    " ",
    "NaN",
    "-NaN",
    "Infinity",
    "-Infinity",
    "1e309",
    "0x1F",
    "1_000",
    " 1",
    "-0",
    "null",
    "true",
    "__proto__",
    "constructor",
    "%00",
    "%ff%fe",
    "../../../etc/passwd",
    "<script>alert(1)</script>",
    "${7*7}",
    "\u0000",
    "\ud800",
    "\udfff\ud800",
    "\u202e\u0644\u0627",
    "👩‍👩‍👧‍👦",
    "a".repeat(5_000),
    "eremetic-task.00000000-0000-7000-8000-000000000000",
  ),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 20 }),
);

/** A value that is any JSON at all (wrong types for every field). */
const anyJson = fc.jsonValue({ maxDepth: 4 });

/** A generator of values shaped by a JSON schema, with edge values and some wrong types. */
function fromSchema(schema: JsonSchema, doc: OpenApiDocument, depth = 0): fc.Arbitrary<unknown> {
  if (schema.$ref) {
    const name = schema.$ref.split("/").pop()!;
    return fromSchema(doc.components.schemas[name], doc, depth);
  }
  const wrong = anyJson as fc.Arbitrary<unknown>;
  let right: fc.Arbitrary<unknown>;
  if (schema.anyOf) {
    right = fc.oneof(...schema.anyOf.map((s) => fromSchema(s, doc, depth)));
  } else if (schema.enum) {
    right = fc.oneof(
      fc.constantFrom(...schema.enum),
      fc.mixedCase(fc.constantFrom(
        ...schema.enum.filter((e): e is string => typeof e === "string"),
      )),
    );
  } else if (schema.type === "object") {
    const props = Object.entries(schema.properties ?? {});
    const required = new Set(schema.required ?? []);
    if (props.length) {
      const model = Object.fromEntries(
        props.map(([k, s]) => [k, fromSchema(s, doc, depth + 1)]),
      );
      right = fc.tuple(
        fc.record(model, { requiredKeys: [] }),
        fc.subarray([...required]),
        fc.dictionary(edgeString, wrong, { maxKeys: 3 }),
      ).map(([rec, keep, extra]) => {
        // Required keys are mostly present, so most bodies get past the first check.
        const out: Record<string, unknown> = { ...extra };
        for (const [k, v] of Object.entries(rec)) {
          if (v !== undefined) out[k] = v;
        }
        for (const k of required) if (!keep.includes(k)) delete out[k];
        return out;
      });
    } else {
      const value = typeof schema.additionalProperties === "object"
        ? fromSchema(schema.additionalProperties, doc, depth + 1)
        : wrong;
      right = fc.oneof(
        { weight: 8, arbitrary: fc.dictionary(edgeString, value, { maxKeys: 8 }) },
        // Big maps: thousands of keys.
        {
          weight: 1,
          arbitrary: fc.integer({ min: 1_000, max: 20_000 }).map((n) =>
            Object.fromEntries(Array.from({ length: n }, (_, i) => [`K${i}`, "v"]))
          ),
        },
      );
    }
  } else if (schema.type === "array") {
    const item = schema.items ? fromSchema(schema.items, doc, depth + 1) : wrong;
    right = fc.oneof(
      { weight: 8, arbitrary: fc.array(item, { maxLength: depth > 2 ? 2 : 6 }) },
      {
        weight: 1,
        arbitrary: fc.integer({ min: 1_000, max: 10_000 }).map((n) => Array(n).fill("x")),
      },
    );
  } else if (schema.type === "number" || schema.type === "integer") {
    right = edgeNumber;
  } else if (schema.type === "string") {
    right = edgeString;
  } else if (schema.type === "boolean") {
    right = fc.boolean();
  } else if (schema.type === "null") {
    right = fc.constant(null);
  } else {
    right = wrong;
  }
  return fc.oneof({ weight: 6, arbitrary: right }, { weight: 1, arbitrary: wrong });
}

const encoder = new TextEncoder();

/**
 * A valid body (its required fields set plainly) with one to three fields set to
 * generated edge values: these get past validation far more often, so the accepted path
 * sees the edge values too.
 */
function nearlyValid(schema: JsonSchema, doc: OpenApiDocument): fc.Arbitrary<unknown> {
  const resolved = schema.$ref ? doc.components.schemas[schema.$ref.split("/").pop()!] : schema;
  const props = resolved.properties ?? {};
  const base = Object.fromEntries(
    (resolved.required ?? []).map((k) => [k, props[k].type === "string" ? "busybox" : 1]),
  );
  return fc.subarray(Object.keys(props), { minLength: 1, maxLength: 3 }).chain((keys) =>
    fc.tuple(...keys.map((k) => fromSchema(props[k], doc, 1))).map((values) => {
      const out: Record<string, unknown> = { ...base };
      keys.forEach((k, i) => out[k] = values[i]);
      return out;
    })
  );
}

/** JSON text with the `HUGE` marker turned into a number literal JSON.parse reads as Infinity. */
function jsonText(value: unknown, literal: string): string {
  return JSON.stringify(value).replaceAll(JSON.stringify(HUGE), literal);
}

/** Query and header values: any text a client could put there, percent-escapes and all. */
const paramValue: fc.Arbitrary<string> = fc.oneof(
  edgeString,
  edgeNumber.map((n) => (n === HUGE ? "1e999" : String(n))),
  fc.constantFrom("1", "true", "0", "false", "active,queued,terminated", "k=v", "=", "%", "%zz"),
);

/** A header value fetch can send: Latin-1 without controls, trimmed. */
function headerSafe(s: string): string {
  return s.replace(/[^\x20-\x7e\x80-\xff]/g, "").trim();
}

/** A path or query component: escaped, or raw (the URL parser escapes what it must). */
const component = (
  raw: boolean,
  s: string,
) => (raw ? s.replace(/[#?/\\]/g, "") : encodeURIComponent(s.toWellFormed()));

/** Pages served to browsers, beside the document's operations. */
const PAGES: [string, Operation][] = [
  ["/", {
    parameters: [{ name: "from", in: "query" }],
  }],
  ["/tasks", {
    parameters: ["state", "name", "label", "limit", "cursor"].map((name) => ({
      name,
      in: "query" as const,
    })),
  }],
  ["/task/{taskId}", { parameters: [{ name: "taskId", in: "path" }] }],
];

function requestArbitrary(doc: OpenApiDocument, ids: string[]): fc.Arbitrary<Generated> {
  const operations: { template: string; method: string; op: Operation; page: boolean }[] = [];
  for (const [template, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      operations.push({ template, method: method.toUpperCase(), op, page: false });
    }
  }
  for (const [template, op] of PAGES) operations.push({ template, method: "GET", op, page: true });
  const taskId = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...ids) },
    { weight: 1, arbitrary: fc.uuid().map((u) => `eremetic-task.${u}`) },
    { weight: 2, arbitrary: edgeString },
    { weight: 1, arbitrary: fc.constantFrom("..", ".", "%", "%ff", "a".repeat(300), "x;y") },
  );
  const bodyFor = (op: Operation) => {
    const schema = op.requestBody?.content["application/json"]?.schema;
    const shaped = schema ? fromSchema(schema, doc) : anyJson;
    const literal = fc.constantFrom(...HUGE_LITERALS);
    return fc.oneof(
      {
        weight: schema ? 6 : 0,
        arbitrary: fc.tuple(schema ? nearlyValid(schema, doc) : anyJson, literal).map((
          [v, lit],
        ) => encoder.encode(jsonText(v, lit))),
      },
      {
        weight: schema ? 6 : 1,
        arbitrary: fc.tuple(shaped, fc.constantFrom(...HUGE_LITERALS)).map(([v, lit]) =>
          encoder.encode(jsonText(v, lit))
        ),
      },
      { weight: 2, arbitrary: anyJson.map((v) => encoder.encode(JSON.stringify(v))) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }) },
      {
        weight: 1,
        arbitrary: fc.tuple(shaped, fc.nat()).map(([v, cut]) => {
          const text = jsonText(v, "1");
          return encoder.encode(text.slice(0, cut % (text.length + 1)));
        }),
      },
    );
  };
  // Submissions carry the bodies, where most of the input is: four times the weight.
  const operation = fc.oneof(
    ...operations.map((o) => ({ weight: o.op.requestBody ? 4 : 1, arbitrary: fc.constant(o) })),
  );
  return operation.chain(({ template, method, op, page }) => {
    const params = op.parameters ?? [];
    const query = params.filter((p) => p.in === "query");
    const headers = params.filter((p) => p.in === "header");
    return fc.record({
      id: taskId,
      rawId: fc.boolean(),
      query: fc.array(
        fc.tuple(
          fc.oneof(
            {
              weight: 5,
              arbitrary: query.length ? fc.constantFrom(...query.map((q) => q.name)) : edgeString,
            },
            { weight: 1, arbitrary: edgeString },
          ),
          paramValue,
          fc.boolean(),
        ),
        { maxLength: query.length ? 4 : 1 },
      ),
      headers: fc.array(
        fc.tuple(
          headers.length ? fc.constantFrom(...headers.map((h) => h.name)) : fc.constant("X-Fuzz"),
          paramValue,
        ),
        { maxLength: 2 },
      ),
      contentType: fc.constantFrom(
        undefined,
        "application/json",
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/json; charset=latin1",
      ),
      html: page ? fc.constant(true) : fc.boolean(),
      // Mostly the document's method; sometimes one the path does not answer.
      method: fc.oneof(
        { weight: 8, arbitrary: fc.constant(method) },
        {
          weight: 1,
          arbitrary: fc.constantFrom("PUT", "PATCH", "OPTIONS", "HEAD", "DELETE", "POST", "GET"),
        },
      ),
      body: bodyFor(op),
      trailingSlash: fc.oneof({ weight: 12, arbitrary: fc.constant(false) }, {
        weight: 1,
        arbitrary: fc.constant(true),
      }),
    }).map((g): Generated => {
      let path = template.replace("{taskId}", component(g.rawId, g.id));
      if (g.trailingSlash) path += "/";
      const q = g.query.map(([k, v, raw]) => `${component(raw, k)}=${component(raw, v)}`);
      if (q.length) path += `?${q.join("&")}`;
      const h: Record<string, string> = {};
      for (const [k, v] of g.headers) h[k] = headerSafe(v);
      if (g.contentType) h["content-type"] = g.contentType;
      if (g.html) h.accept = "text/html,application/xhtml+xml";
      const withBody = g.method === "POST" || g.method === "PUT" || g.method === "PATCH" ||
        (g.method === "DELETE" && g.body.length % 2 === 0);
      return { method: g.method, path, headers: h, body: withBody ? g.body : undefined };
    });
  });
}

interface Answer {
  status: number;
  contentType: string;
  text: string;
  stream: boolean;
}

/** Sends one request; a live stream is cut once its head has arrived. */
async function send(base: string, g: Generated): Promise<Answer> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new Error("no answer")), ANSWER_TIMEOUT_MS);
  try {
    const res = await fetch(`${base}${g.path}`, {
      method: g.method,
      headers: g.headers,
      body: g.body as BodyInit | undefined,
      redirect: "manual",
      signal: abort.signal,
    });
    const contentType = res.headers.get("content-type") ?? "";
    if (contentType.startsWith("text/event-stream")) {
      await res.body?.cancel();
      return { status: res.status, contentType, text: "", stream: true };
    }
    return { status: res.status, contentType, text: await res.text(), stream: false };
  } finally {
    clearTimeout(timer);
  }
}

/** What a 4xx must carry: JSON, and the error document unless the original answers otherwise. */
function checkAnswer(g: Generated, a: Answer) {
  const what = `${g.method} ${g.path.slice(0, 200)} → ${a.status} ${a.text.slice(0, 200)}`;
  assert.ok(a.status < 500, `a 5xx: ${what}`);
  if (a.status < 400 || g.method === "HEAD") return;
  // The web pages answer browsers with HTML pages for 404 and 401.
  if (g.headers.accept?.includes("text/html") && a.contentType.startsWith("text/html")) {
    assert.ok([401, 404].includes(a.status), `an HTML ${a.status}: ${what}`);
    return;
  }
  assert.equal(a.contentType, JSON_TYPE, `a 4xx without JSON: ${what}`);
  const body = JSON.parse(a.text);
  if (body === null) {
    // The original answers `null` for an unknown task or route, and a 401.
    assert.ok([401, 404].includes(a.status), `null with ${a.status}: ${what}`);
    return;
  }
  if (typeof body === "string") {
    // The original's DELETE of an unfinished task: a sentence as a JSON string.
    assert.equal(a.status, 409, `a JSON string with ${a.status}: ${what}`);
    return;
  }
  assert.equal(typeof body.error, "string", `no "error": ${what}`);
  assert.equal(typeof body.message, "string", `no "message": ${what}`);
  if (body.details !== undefined) {
    assert.ok(Array.isArray(body.details), what);
    for (const d of body.details) assert.equal(typeof d.path, "string", what);
  }
}

Deno.test(`fuzz: ${RUNS} generated requests over every OpenAPI operation and page`, async () => {
  await using dir = await tempDir();
  await using server = await spawnServer({ dbPath: `${dir.path}/fuzz.kv` });
  const base = server.url;
  const doc = (await request(`${base}/api/v1/openapi.json`)).body as OpenApiDocument;
  const operations = Object.values(doc.paths).reduce((n, ops) => n + Object.keys(ops).length, 0);
  assert.ok(operations >= 20, `the document lists ${operations} operations`);
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const res = await postJson(base, "/api/v1/task", { ...SEED_BODY, labels: { fuzz: "1" } });
    assert.equal(res.status, 202, res.text);
    ids.push(res.body as string);
  }
  const statuses = new Map<number, number>();
  const byRoute = new Map<string, number>();
  let streams = 0;
  let sent = 0;
  const started = performance.now();
  await fc.assert(
    fc.asyncProperty(requestArbitrary(doc, ids), async (g) => {
      const a = await send(base, g);
      sent++;
      statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
      const route = `${g.method} ${g.path.split("?")[0].replace(/\/task\/[^/]+/, "/task/{id}")}`;
      byRoute.set(route, (byRoute.get(route) ?? 0) + 1);
      if (a.stream) streams++;
      checkAnswer(g, a);
    }),
    { numRuns: RUNS, endOnFailure: false },
  );
  const seconds = (performance.now() - started) / 1000;
  // Still up, healthy, and no request failed inside (a 5xx is logged as "Request failed").
  const health = await request(`${base}/api/v1/health`);
  assert.equal(health.status, 200, health.text);
  const log = server.stderr();
  assert.ok(!/Request failed|Uncaught|panicked/.test(log), log.slice(0, 2_000));
  const status = await server.kill("SIGTERM");
  assert.equal(status.code, 0, `the server exits cleanly: ${server.stderr().slice(-1_000)}`);
  const summary = {
    requests: sent,
    seconds: Math.round(seconds * 10) / 10,
    per_second: Math.round(sent / seconds),
    streams,
    routes: byRoute.size,
    statuses: Object.fromEntries([...statuses].sort(([a], [b]) => a - b)),
  };
  // deno-lint-ignore no-console
  console.log(`fuzz: ${JSON.stringify(summary)}`);
  assert.ok(sent >= RUNS, `${sent} requests sent`);
});
