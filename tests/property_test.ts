/**
 * Property tests of task submission: thousands of random, mutated and malformed bodies
 * POSTed in-process (`createApp` with a memory store, then one KV run). Every answer is a
 * 202 or a 4xx JSON error document, never a 5xx, and the API accepts exactly the bodies
 * the validator accepts.
 */
import fc from "fast-check";
import { type App, createApp } from "../src/app.ts";
import { resolveConfig } from "../src/config/mod.ts";
import { collectingLogger, type LogEntry } from "../src/runtime.ts";
import { openKvStore, type TaskStore } from "../src/store/mod.ts";
import { type ParseResult, parseTaskRequestV0, parseTaskRequestV1 } from "../src/task/mod.ts";
import { assert, assertEquals } from "../src/testing/asserts.ts";

const SECRET = "pr0perty-secret-value";

/** A valid v1 body using every field, to mutate. */
const FULL_V1: Record<string, unknown> = {
  cpu: 0.5,
  mem: 64,
  image: "busybox",
  command: "echo hi",
  args: ["a", "b"],
  volumes: [{ container_path: "/data", host_path: "/srv" }],
  volumes_from: ["other"],
  ports: [{ container_port: 80, host_port: 0, protocol: "tcp" }],
  name: "prop",
  network: "BRIDGE",
  dns: "10.0.0.2",
  env: { A: "1" },
  masked_env: { SECRET_KEY: SECRET },
  labels: { team: "x" },
  agent_constraints: [{ attribute_name: "rack", attribute_value: "r1" }],
  callback_uri: "http://callback.local/x",
  fetch: [{ uri: "http://x/y.tgz", extract: true, executable: false, cache: false }],
  force_pull_image: false,
  privileged: false,
  disk: 10,
  gpus: 0,
  role: "batch",
  max_retries: 3,
  timeout_seconds: 60,
  parameters: [{ key: "cap-add", value: "SYS_ADMIN" }],
  callback_events: "all",
};

/** A valid v0 body using every legacy field, to mutate. */
const FULL_V0: Record<string, unknown> = {
  task_cpus: 0.5,
  task_mem: 64,
  docker_image: "busybox",
  command: "echo hi",
  env: { A: "1" },
  masked_env: { SECRET_KEY: SECRET },
  slave_constraints: [{ attribute_name: "rack", attribute_value: "r1" }],
  uris: ["http://x/y.tar.gz"],
  volumes: [{ container_path: "/data", host_path: "/srv" }],
  ports: [{ container_port: 80, protocol: "udp" }],
  name: "prop0",
};

/** Odd values: huge and tiny numbers, unicode, nested nulls, wrong shapes. */
const oddValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(
    0,
    -0,
    -1,
    0.5,
    1e308,
    -1e308,
    Number.MAX_SAFE_INTEGER,
    Number.MIN_VALUE,
    2 ** 53 + 2,
    65536,
    4294967296,
    "",
    " ",
    "\u0000",
    "\ud800",
    "💥",
    "x".repeat(5000),
    null,
    [],
    [null],
    [null, null],
    {},
    { "": null },
    [[]],
    [{}],
    [{ container_path: null }],
    { __proto__: "x" },
    true,
    false,
  ),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.double(),
  fc.integer(),
  fc.array(
    fc.oneof(
      fc.constant(null),
      fc.string(),
      fc.integer(),
      fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 1 })),
    ),
    { maxLength: 4 },
  ),
  fc.dictionary(
    fc.string({ unit: "binary", maxLength: 10 }),
    fc.oneof(fc.string(), fc.constant(null), fc.integer()),
    { maxKeys: 4 },
  ),
);

/** Key names, including ones that are special to JavaScript objects. */
const oddKey: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.constantFrom("__proto__", "constructor", "toString", "hasOwnProperty", "", " ", "\n", '"'),
);

function mutated(base: Record<string, unknown>): fc.Arbitrary<Record<string, unknown>> {
  const keys = Object.keys(base);
  return fc.record({
    replace: fc.array(fc.tuple(fc.constantFrom(...keys), oddValue), { maxLength: 3 }),
    drop: fc.array(fc.constantFrom(...keys), { maxLength: 3 }),
    extra: fc.array(fc.tuple(oddKey, oddValue), { maxLength: 3 }),
  }).map(({ replace, drop, extra }) => {
    // JSON.parse semantics: build the body from text so `__proto__` stays an own key.
    const body: Record<string, unknown> = JSON.parse(JSON.stringify(base));
    for (const k of drop) delete body[k];
    for (const [k, v] of replace) body[k] = v;
    const text = JSON.stringify(body).slice(0, -1) +
      extra.map(([k, v]) => `,${JSON.stringify(k)}:${JSON.stringify(v) ?? "null"}`).join("") +
      "}";
    return JSON.parse(text.startsWith("{,") ? "{" + text.slice(2) : text);
  });
}

/** Text that is almost JSON: valid documents cut, spliced or with raw oddities. */
const nearJson: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(fc.constantFrom(JSON.stringify(FULL_V1), JSON.stringify(FULL_V0)), fc.nat(), fc.nat())
    .map(([s, a, b]) => s.slice(0, a % s.length) + s.slice((a % s.length) + (b % 5))),
  fc.constantFrom(
    '{"cpu":1e999,"mem":1,"image":"x"}',
    '{"cpu":1,"mem":-1e999,"image":"x"}',
    '{"cpu":1,"mem":1,"image":"x","timeout_seconds":1e400}',
    '{"cpu":1,"mem":1,"image":"x","disk":1e999}',
    '{"cpu":1,"mem":1,"image":"x","ports":[{"container_port":1e999}]}',
    '{"task_cpus":1e999,"task_mem":1,"docker_image":"x"}',
    '{"cpu":1,"mem":1,"image":"x","cpu":0}',
    '{"cpu":1,"mem":1,"image":"x","__proto__":{"cpu":0}}',
    '{"cpu":1,"mem":1,"image":"x","env":{"__proto__":"x"}}',
    '{"cpu":1,"mem":1,"image":"\\ud800"}',
    '\ufeff{"cpu":1,"mem":1,"image":"x"}',
    '{"cpu":1,"mem":1,"image":"x"} trailing',
    "[".repeat(5000) + "]".repeat(5000),
    '{"a":'.repeat(3000) + "1" + "}".repeat(3000),
    "",
    " ",
    "null",
    "true",
    "0",
    '""',
    "NaN",
    "{'cpu':1}",
  ),
  fc.string({ unit: "binary", maxLength: 200 }),
);

interface Outcome {
  status: number;
  contentType: string;
  text: string;
  headers: Headers;
}

async function post(app: App, path: string, body: BodyInit): Promise<Outcome> {
  const res = await app.fetch(new Request(`http://127.0.0.1${path}`, { method: "POST", body }));
  return {
    status: res.status,
    contentType: res.headers.get("content-type") ?? "",
    text: await res.text(),
    headers: res.headers,
  };
}

/** What the validator says about raw bytes, as the API reads them. */
function expected(path: string, bytes: Uint8Array): ParseResult | "malformed" {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    return "malformed";
  }
  return path === "/task" ? parseTaskRequestV0(value) : parseTaskRequestV1(value);
}

/** The property: 202 iff the validator accepts; otherwise a 4xx JSON error document. */
async function check(app: App, logs: LogEntry[], path: string, bytes: Uint8Array) {
  const logged = logs.length;
  const out = await post(app, path, bytes as Uint8Array<ArrayBuffer>);
  const want = expected(path, bytes);
  const shown = new TextDecoder().decode(bytes.slice(0, 200));
  assert(out.status < 500, `POST ${path} ${shown} → ${out.status} ${out.text}`);
  assertEquals(out.contentType, "application/json; charset=UTF-8", `content type for ${shown}`);
  const doc = JSON.parse(out.text);
  if (want !== "malformed" && want.ok) {
    assertEquals(out.status, 202, `valid body ${shown} → ${out.text}`);
    assertEquals(typeof doc, "string");
    // The accepted task reads back, masked.
    const get = await app.fetch(new Request(`http://127.0.0.1${path}/${doc}`));
    const text = await get.text();
    assertEquals(get.status, 200, `GET after ${shown}: ${text}`);
    const task = JSON.parse(text);
    assertEquals(task.status.at(-1).status, "TASK_QUEUED");
    assert(!text.includes(SECRET), "the secret is masked");
    if (want.request.masked_env) {
      for (const v of Object.values(task.masked_env)) assertEquals(v, "*******");
    }
  } else {
    assert(
      out.status === 422 || out.status === 413,
      `invalid body ${shown} → ${out.status} ${out.text}`,
    );
    assertEquals(typeof doc.error, "string", out.text);
    assertEquals(typeof doc.message, "string", out.text);
    assert(!out.text.includes(SECRET), `the error shows the secret: ${out.text}`);
  }
  const errors = logs.slice(logged).filter((e) => e.level === "error");
  assertEquals(errors, [], "no request failed on the server");
}

const encoder = new TextEncoder();
const json = (v: unknown) => encoder.encode(JSON.stringify(v) ?? "null");

async function withApp(
  store: TaskStore | undefined,
  fn: (app: App, logs: LogEntry[]) => Promise<void>,
) {
  const { config } = resolveConfig({ env: {}, flags: ["--database-driver", "memory"] });
  const logger = collectingLogger();
  await using app = await createApp(config, { logger, store });
  await fn(app, logger.entries);
  assert(!JSON.stringify(logger.entries).includes(SECRET), "the secret is never logged");
}

Deno.test("POST /api/v1/task: random JSON values are a 202 or a 4xx error document", async () => {
  await withApp(undefined, async (app, logs) => {
    await fc.assert(
      fc.asyncProperty(
        fc.jsonValue({ maxDepth: 4 }),
        (v) => check(app, logs, "/api/v1/task", json(v)),
      ),
      { numRuns: 1500 },
    );
  });
});

Deno.test("POST /api/v1/task and /task: mutated valid bodies agree with the validator", async () => {
  await withApp(undefined, async (app, logs) => {
    await fc.assert(
      fc.asyncProperty(mutated(FULL_V1), (b) => check(app, logs, "/api/v1/task", json(b))),
      { numRuns: 2500 },
    );
    await fc.assert(
      fc.asyncProperty(mutated(FULL_V0), (b) => check(app, logs, "/task", json(b))),
      { numRuns: 1500 },
    );
  });
});

Deno.test("POST: near-JSON text and random bytes are never a 5xx", async () => {
  await withApp(undefined, async (app, logs) => {
    await fc.assert(
      fc.asyncProperty(
        nearJson,
        fc.constantFrom("/api/v1/task", "/task"),
        (text, path) => check(app, logs, path, encoder.encode(text)),
      ),
      { numRuns: 1500 },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 300 }),
        (bytes) => check(app, logs, "/api/v1/task", bytes),
      ),
      { numRuns: 1000 },
    );
  });
});

Deno.test("POST on a Deno KV store: mutated bodies are a 202 or a 4xx, never a 5xx", async () => {
  const store = await openKvStore(":memory:");
  await withApp(store, async (app, logs) => {
    await fc.assert(
      fc.asyncProperty(mutated(FULL_V1), (b) => check(app, logs, "/api/v1/task", json(b))),
      { numRuns: 800 },
    );
  });
});

/** Query values: what clients send, and what they should not. */
const queryValue: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.constantFrom("", "queued", "active,queued", "terminated", "active,,", "0", "-1", "1e3"),
  fc.constantFrom("s0", "s1", "szzzzzzzzzzz", "s", "s-1", "t=1", "=", "team=a"),
  fc.nat().map(String),
  fc.nat().map((n) => `s${n.toString(36)}`),
);

Deno.test("GET /api/v1/task with random query strings is a 200 array or a 422", async () => {
  for (const store of [undefined, await openKvStore(":memory:")]) {
    await withApp(store, async (app, logs) => {
      for (let i = 0; i < 30; i++) {
        const res = await post(app, "/api/v1/task", json({ ...FULL_V1, name: `n${i % 3}` }));
        assertEquals(res.status, 202);
      }
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.tuple(
              fc.oneof(
                fc.constantFrom("state", "name", "label", "limit", "cursor"),
                fc.string({ maxLength: 8 }),
              ),
              queryValue,
            ),
            { maxLength: 5 },
          ),
          fc.constantFrom("/api/v1/task", "/task"),
          async (params, path) => {
            const logged = logs.length;
            const query = new URLSearchParams(params).toString();
            const res = await app.fetch(new Request(`http://127.0.0.1${path}?${query}`));
            const text = await res.text();
            assert(
              res.status === 200 || res.status === 422,
              `${path}?${query} → ${res.status} ${text}`,
            );
            assertEquals(res.headers.get("content-type"), "application/json; charset=UTF-8");
            const body = JSON.parse(text);
            if (res.status === 200) assert(Array.isArray(body), text);
            else assertEquals(typeof body.message, "string");
            assert(!text.includes(SECRET));
            assertEquals(logs.slice(logged).filter((e) => e.level === "error"), []);
          },
        ),
        { numRuns: 500 },
      );
    });
  }
});

Deno.test("task routes with random ids and methods are never a 5xx", async () => {
  for (const store of [undefined, await openKvStore(":memory:")]) {
    await withApp(store, async (app, logs) => {
      const made = await post(app, "/api/v1/task", json(FULL_V1));
      const real = JSON.parse(made.text) as string;
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.string({ unit: "binary", maxLength: 30 }),
            fc.string({ minLength: 200, maxLength: 3000 }),
            fc.constantFrom(real, `${real}x`, "eremetic-task.", "..", "%", "%00", "%E0%A4%A"),
          ),
          fc.constantFrom(
            ["GET", ""],
            ["DELETE", ""],
            ["POST", "/kill"],
            ["GET", "/stdout"],
            ["GET", "/stderr"],
            ["PUT", ""],
          ),
          fc.constantFrom("/api/v1/task/", "/task/"),
          async (id, [method, suffix], prefix) => {
            let encoded: string;
            try {
              encoded = /^%/.test(id) ? id : encodeURIComponent(id);
            } catch {
              return; // a lone surrogate has no URL form
            }
            if (encoded === "") return;
            const logged = logs.length;
            const res = await app.fetch(
              new Request(`http://127.0.0.1${prefix}${encoded}${suffix}`, { method }),
            );
            const text = await res.text();
            assert(
              res.status < 500,
              `${method} ${prefix}${encoded}${suffix} → ${res.status} ${text}`,
            );
            assertEquals(logs.slice(logged).filter((e) => e.level === "error"), []);
          },
        ),
        { numRuns: 400 },
      );
    });
  }
});

Deno.test("Idempotency-Key under concurrency: one task per key, other bodies refused", async () => {
  for (const store of [undefined, await openKvStore(":memory:")]) {
    await withApp(store, async (app, logs) => {
      let round = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(fc.nat(2), fc.nat(1)), { minLength: 1, maxLength: 16 }),
          async (requests) => {
            round++;
            const logged = logs.length;
            const results = await Promise.all(requests.map(async ([key, variant]) => {
              const res = await app.fetch(
                new Request("http://127.0.0.1/api/v1/task", {
                  method: "POST",
                  headers: { "idempotency-key": `r${round}-k${key}` },
                  body: JSON.stringify({ ...FULL_V1, cpu: variant + 1 }),
                }),
              );
              return { key, variant, status: res.status, body: await res.json() };
            }));
            for (const key of new Set(results.map((r) => r.key))) {
              const mine = results.filter((r) => r.key === key);
              const accepted = mine.filter((r) => r.status === 202);
              assert(accepted.length > 0, `key ${key}: some request wins`);
              assertEquals(new Set(accepted.map((r) => r.body)).size, 1, "one task per key");
              assertEquals(new Set(accepted.map((r) => r.variant)).size, 1, "one body per key");
              for (const r of mine) {
                if (r.status === 202) continue;
                assertEquals(r.status, 422);
                assert(r.variant !== accepted[0].variant, "only another body is refused");
              }
            }
            assertEquals(logs.slice(logged).filter((e) => e.level === "error"), []);
          },
        ),
        { numRuns: 60 },
      );
    });
  }
});
