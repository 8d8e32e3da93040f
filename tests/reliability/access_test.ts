/**
 * Access (issue 13, point 6): with `http_credentials` set, every route the served OpenAPI
 * document lists, every page, live stream and static file answers 401 without the
 * credentials, with wrong ones and with malformed `Authorization` headers, and works with
 * the right ones; only the version, health and the OpenAPI document stay open. The
 * credential comparison reads every byte whatever the first mismatch, and the Mesos
 * `credential_file` contents never reach a log line, the health answer or an error.
 *
 * Results: docs/reliability.md, "Access".
 */
import assert from "node:assert/strict";
import { checkBasicAuth, timingSafeEqual } from "../../src/api/auth.ts";
import { startDevCluster } from "../../src/devcluster/mod.ts";
import {
  postJson,
  rawRequest,
  type ReadResponse,
  request,
  SEED_BODY,
  spawnServer,
  startTestServer,
  tempDir,
} from "../_helpers.ts";
import { waitFor } from "../_e2e.ts";

const USER = "ops";
const PASSWORD = "c0rrect:h0rse-ßtaple";
const utf8Base64 = (s: string) => btoa(String.fromCharCode(...new TextEncoder().encode(s)));
const GOOD = `Basic ${utf8Base64(`${USER}:${PASSWORD}`)}`;

/** Credentials that are wrong: near misses first (a byte off, a prefix, a longer value). */
const WRONG = [
  `Basic ${utf8Base64(`${USER}:${PASSWORD.slice(0, -1)}X`)}`,
  `Basic ${utf8Base64(`${USER}:${PASSWORD.slice(0, -1)}`)}`,
  `Basic ${utf8Base64(`${USER}:${PASSWORD}x`)}`,
  `Basic ${utf8Base64(`Ops:${PASSWORD}`)}`,
  `Basic ${utf8Base64(`${USER}:`)}`,
  `Basic ${utf8Base64(`:${PASSWORD}`)}`,
  `Basic ${utf8Base64(`${USER}${PASSWORD}`)}`,
  `Basic ${utf8Base64("")}`,
];

/** `Authorization` headers that are not basic credentials at all. */
const MALFORMED = [
  "Basic",
  "Basic ",
  "Basic !!!not-base64!!!",
  "Basic ====",
  `Basic ${GOOD.slice(6, -4)}`,
  `Bearer ${GOOD.slice(6)}`,
  `Digest username="${USER}"`,
  GOOD.slice(6),
  `Basic${GOOD.slice(6)}`,
  `Basic ${GOOD.slice(6)} ${GOOD.slice(6)}`,
  `Basic ${btoa("\u00ff\u00fe:\u0000")}`,
];

interface Row {
  method: string;
  path: string;
  /** Where the row comes from: `openapi`, `page`, `stream`, `static`. */
  kind: string;
  headers?: Record<string, string>;
  body?: string;
  /** The status with the right credentials. */
  ok: number;
  /** A live stream: read the head only. */
  stream?: boolean;
}

interface OpenApiDocument {
  paths: Record<string, Record<string, { parameters?: { name: string; in: string }[] }>>;
}

/** Sends one request and reads it (a live stream: the head, then the connection is cut). */
async function send(base: string, row: Row, authorization?: string): Promise<ReadResponse> {
  const headers: Record<string, string> = { ...row.headers };
  if (authorization !== undefined) headers.authorization = authorization;
  if (!row.stream) {
    return await request(`${base}${row.path}`, { method: row.method, headers, body: row.body });
  }
  const abort = new AbortController();
  const res = await fetch(`${base}${row.path}`, {
    method: row.method,
    headers,
    signal: abort.signal,
  });
  const contentType = res.headers.get("content-type") ?? "";
  let text = "";
  if (res.status === 401 || !contentType.startsWith("text/event-stream")) {
    text = await res.text();
  } else {
    abort.abort();
    await res.body?.cancel().catch(() => {});
  }
  let body: unknown = undefined;
  try {
    body = text === "" ? undefined : JSON.parse(text);
  } catch {
    // Not JSON.
  }
  return { status: res.status, headers: res.headers, contentType, text, body };
}

const OPEN = new Set(["/api/v1/version", "/version", "/api/v1/health", "/api/v1/openapi.json"]);

/** Every static file below static/, as `/static/<path>`. */
async function staticFiles(): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: URL, prefix: string) => {
    for await (const e of Deno.readDir(dir)) {
      if (e.isDirectory) await walk(new URL(`${e.name}/`, dir), `${prefix}${e.name}/`);
      else out.push(`/static/${prefix}${e.name}`);
    }
  };
  await walk(new URL("../../static/", import.meta.url), "");
  return out.sort();
}

/** The table: each OpenAPI operation with its parameters filled, plus pages, streams, assets. */
async function tableOf(
  doc: OpenApiDocument,
  ids: { get: string; del: string },
  newTask: () => Promise<string>,
): Promise<Row[]> {
  const rows: Row[] = [];
  for (const [template, ops] of Object.entries(doc.paths)) {
    if (OPEN.has(template)) continue;
    for (const [method, op] of Object.entries(ops)) {
      const m = method.toUpperCase();
      // Killing a queued task ends it: each kill row has a task of its own.
      const id = m === "DELETE" ? ids.del : template.endsWith("/kill") ? await newTask() : ids.get;
      const path = template.replace("{taskId}", id);
      const isStream = template.endsWith("/events");
      let ok = 200;
      if (m === "POST" && !template.endsWith("/kill")) ok = 202;
      if (template.endsWith("/kill")) ok = 202;
      // A queued task has no sandbox yet: 204; deleting a task that has not finished: 409.
      if (/\/(stdout|stderr)$/.test(template)) ok = 204;
      if (m === "DELETE") ok = 409;
      const body = m === "POST" && !template.endsWith("/kill")
        ? JSON.stringify(
          template.startsWith("/api/v1") ? SEED_BODY : {
            docker_image: "busybox",
            task_cpus: 0.1,
            task_mem: 16,
          },
        )
        : undefined;
      rows.push({ method: m, path, kind: "openapi", body, ok, stream: isStream });
      // The v1 output routes also stream (`?follow=1`), as the document says.
      const params = op.parameters?.map((p) => p.name) ?? [];
      if (params.includes("follow")) {
        rows.push({ method: m, path: `${path}?follow=1`, kind: "stream", ok: 200, stream: true });
      }
    }
  }
  const html = { accept: "text/html" };
  rows.push(
    { method: "GET", path: "/", kind: "page", headers: html, ok: 200 },
    { method: "GET", path: `/?from=${ids.get}`, kind: "page", headers: html, ok: 200 },
    { method: "GET", path: "/tasks", kind: "page", headers: html, ok: 200 },
    { method: "GET", path: "/tasks?state=all&limit=5", kind: "page", headers: html, ok: 200 },
    { method: "GET", path: `/task/${ids.get}`, kind: "page", headers: html, ok: 200 },
    { method: "GET", path: "/task/unknown", kind: "page", headers: html, ok: 404 },
    { method: "GET", path: "/", kind: "page", ok: 204 },
    { method: "HEAD", path: "/api/v1/task", kind: "page", ok: 200 },
    { method: "HEAD", path: `/api/v1/task/${ids.get}`, kind: "page", ok: 200 },
    { method: "GET", path: "/api/v1/events", kind: "stream", ok: 200, stream: true },
  );
  return rows;
}

function assertChallenge(res: ReadResponse, what: string) {
  assert.equal(res.status, 401, `${what}: status (body ${res.text.slice(0, 200)})`);
  assert.equal(res.headers.get("www-authenticate"), 'Basic realm="Eremetic"', `${what}: challenge`);
  // Nothing of the protected answer leaks into the refusal.
  assert.ok(!res.text.includes("eremetic-task."), `${what}: no task id in the 401 body`);
}

Deno.test("access: every route but version, health and the OpenAPI document needs the credentials", async (t) => {
  await using server = await startTestServer({
    flags: ["--http-credentials", `${USER}:${PASSWORD}`],
  });
  const base = server.url;
  const docRes = await request(`${base}/api/v1/openapi.json`);
  assert.equal(docRes.status, 200, "the OpenAPI document is open");
  const doc = docRes.body as OpenApiDocument;
  const newTask = async () => {
    const res = await postJson(base, "/api/v1/task", SEED_BODY, { authorization: GOOD });
    assert.equal(res.status, 202, res.text);
    return res.body as string;
  };
  const ids = { get: await newTask(), del: await newTask() };
  const table = await tableOf(doc, ids, newTask);
  const assets = await staticFiles();
  for (const path of assets) table.push({ method: "GET", path, kind: "static", ok: 200 });
  const kinds = Object.groupBy(table, (r) => r.kind);
  const operations = Object.values(doc.paths).reduce((n, ops) => n + Object.keys(ops).length, 0);
  assert.ok(operations >= 20, `the document lists ${operations} operations`);
  assert.ok((kinds.static ?? []).length >= 5, "static files are in the table");
  assert.ok((kinds.stream ?? []).length >= 3, "live streams are in the table");
  const checks = { rows: table.length, refused: 0, served: 0 };

  await t.step(`no credentials → 401 with a challenge (${table.length} rows)`, async () => {
    for (const row of table) {
      const res = await send(base, row);
      assertChallenge(res, `${row.method} ${row.path}`);
      if (row.method !== "HEAD" && !row.headers?.accept?.includes("text/html")) {
        assert.equal(res.contentType, "application/json; charset=UTF-8", row.path);
        assert.equal(res.text, "null\n", row.path);
      }
      checks.refused++;
    }
  });

  await t.step("wrong and malformed credentials → 401", async () => {
    for (const row of table) {
      for (const authorization of [...WRONG, ...MALFORMED]) {
        // fetch refuses header values it cannot send; each of these is sendable.
        const res = await send(base, row, authorization);
        assertChallenge(res, `${row.method} ${row.path} with "${authorization}"`);
        checks.refused++;
      }
    }
  });

  await t.step("raw malformed headers (control bytes, many spaces, repeated) → 401", async () => {
    const cases: Record<string, string>[] = [
      { authorization: `Basic  ${GOOD.slice(6)}x` },
      { authorization: `Basic ${"A".repeat(6000)}` },
      { authorization: "Basic \t" },
      { Authorization: "Basic Zm9v", authorization: "Basic YmFy" },
    ];
    for (const headers of cases) {
      for (const path of ["/api/v1/task", "/metrics", `/api/v1/task/${ids.get}`]) {
        const res = await rawRequest(base, { path, headers });
        assertChallenge(res, `${path} with ${JSON.stringify(headers).slice(0, 60)}`);
        checks.refused++;
      }
    }
  });

  await t.step("the right credentials → the route's answer", async () => {
    for (const row of table) {
      const res = await send(base, row, GOOD);
      assert.equal(res.status, row.ok, `${row.method} ${row.path}: ${res.text.slice(0, 200)}`);
      if (row.stream && row.ok === 200) {
        assert.equal(res.contentType.split(";")[0], "text/event-stream", row.path);
      }
      checks.served++;
    }
  });

  await t.step("version, health and the OpenAPI document answer without credentials", async () => {
    const open = Object.keys(doc.paths).filter((p) => OPEN.has(p));
    assert.deepEqual(open.sort(), [...OPEN].sort());
    for (const path of open) {
      const res = await request(`${base}${path}`);
      assert.equal(res.status, 200, path);
      // And with wrong credentials too: they are ignored, not refused.
      const wrong = await request(`${base}${path}`, { headers: { authorization: WRONG[0] } });
      assert.equal(wrong.status, 200, path);
    }
  });

  await t.step("path spellings that reach a protected handler still need credentials", async () => {
    const variants = [
      "//api/v1/task",
      "/api/v1//task",
      "/api//v1/task",
      "/api/v1/./task",
      "/api/v1/x/../task",
      "/api/v1/%74ask",
      "/api/v1/task%2F",
      `/api/v1/task/${ids.get}%2Fkill`,
      "/api/v1/task;x",
      "/API/v1/task",
      "/api/v1/task?state=",
      "/metrics?x=1",
      "/%6detrics",
      "/static/../api/v1/task",
      "/static/%2e%2e/api/v1/task",
      "/static/css/../css/app.css",
      "/tasks/",
    ];
    for (const path of variants) {
      for (const method of ["GET", "POST", "HEAD", "OPTIONS", "PUT", "PATCH"]) {
        const res = await rawRequest(base, { method, path });
        // 401, a 404/405 that serves nothing, or the strict-slash redirect: never content.
        assert.ok(
          [301, 401, 404, 405].includes(res.status),
          `${method} ${path}: ${res.status} ${res.text.slice(0, 120)}`,
        );
        if (res.status !== 401) {
          assert.ok(!res.text.includes("eremetic-task."), `${method} ${path} leaks a task`);
          assert.ok(!res.text.includes("eremetic_"), `${method} ${path} leaks metrics`);
          assert.ok(res.text === "" || res.text === "null\n" || res.body !== undefined, path);
        }
        checks.refused++;
      }
    }
  });

  await t.step("the HTTP credentials appear in no log line", () => {
    const logs = JSON.stringify(server.logs);
    assert.ok(!logs.includes(PASSWORD));
    assert.ok(!logs.includes(GOOD.slice(6)));
  });
  // deno-lint-ignore no-console
  console.log(`access: ${JSON.stringify(checks)}`);
});

/**
 * A byte array that counts reads of its elements, to see which bytes a comparison looks at
 * (structure, not timing: timing on a shared machine proves nothing).
 */
function counting(bytes: Uint8Array): { array: Uint8Array; reads: Set<number> } {
  const reads = new Set<number>();
  const array = new Proxy(bytes, {
    get(target, key) {
      if (typeof key === "string" && /^\d+$/.test(key)) reads.add(Number(key));
      const v = Reflect.get(target, key, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  return { array, reads };
}

Deno.test("timingSafeEqual() reads every byte whatever the first mismatch", async (t) => {
  const secret = new TextEncoder().encode("ops:c0rrect-h0rse");
  const all = (n: number) => new Set(Array.from({ length: n }, (_, i) => i));
  const cases: [string, Uint8Array][] = [
    ["first byte differs", Uint8Array.from(secret, (b, i) => (i === 0 ? b ^ 1 : b))],
    ["last byte differs", Uint8Array.from(secret, (b, i) => (i === secret.length - 1 ? b ^ 1 : b))],
    ["every byte differs", secret.map((b) => b ^ 0xff)],
    ["equal", secret.slice()],
  ];
  for (const [name, given] of cases) {
    await t.step(name, () => {
      const a = counting(given);
      const b = counting(secret);
      const equal = timingSafeEqual(a.array, b.array);
      assert.equal(equal, name === "equal");
      assert.deepEqual(a.reads, all(secret.length), "every byte of the given value is read");
      assert.deepEqual(b.reads, all(secret.length), "every byte of the expected value is read");
    });
  }
  await t.step("a shorter or longer value: the longer one's bytes are all read", () => {
    for (const length of [0, 1, secret.length - 1, secret.length + 7]) {
      const given = new Uint8Array(length).map((_, i) => secret[i] ?? 0x61);
      const a = counting(given);
      const b = counting(secret);
      assert.equal(timingSafeEqual(a.array, b.array), false, `length ${length}`);
      const n = Math.max(length, secret.length);
      // Reads past the end (which return undefined) are part of the same loop.
      assert.deepEqual(b.reads, all(n), `length ${length}: expected value`);
      assert.deepEqual(a.reads, all(n), `length ${length}: given value`);
    }
  });
  await t.step(
    "checkBasicAuth() compares the decoded bytes, never short-cutting on a prefix",
    () => {
      const creds = { user: "ops", password: "c0rrect-h0rse" };
      assert.equal(checkBasicAuth(`Basic ${btoa("ops:c0rrect-h0rse")}`, creds), true);
      for (const wrong of ["ops:c0rrect-h0rsf", "ops:c0rrect-h0rs", "xps:c0rrect-h0rse", ""]) {
        assert.equal(checkBasicAuth(`Basic ${btoa(wrong)}`, creds), false, wrong);
      }
    },
  );
});

Deno.test("access: the Mesos credential_file contents never reach logs, health or errors", async (t) => {
  // Unique values, so any occurrence anywhere is this test's.
  const principal = `principal-${crypto.randomUUID()}`;
  const secret = `secret-${crypto.randomUUID()}`;
  const wrongSecret = `wrong-${crypto.randomUUID()}`;
  await using dir = await tempDir();
  await using cluster = await startDevCluster({
    allocationIntervalMs: 100,
    simulateDurationMs: 200,
    credentials: [{ principal, secret }],
  });
  const good = `${dir.path}/credential`;
  const bad = `${dir.path}/wrong-credential`;
  await Deno.writeTextFile(good, `${principal} ${secret}\n`);
  await Deno.writeTextFile(bad, `${principal}\t${wrongSecret}\n`);
  const seen: string[] = [];
  const scan = (what: string, text: string) => {
    seen.push(what);
    for (const value of [principal, secret, wrongSecret]) {
      assert.ok(!text.includes(value), `${what} contains a credential_file value`);
    }
  };

  await t.step("right credential, text logs at debug: tasks run, nothing leaks", async () => {
    await using server = await spawnServer({
      dbPath: `${dir.path}/good.kv`,
      flags: [
        "--master",
        cluster.url,
        "--credential-file",
        good,
        "--loglevel",
        "debug",
        "--refuse-seconds",
        "1",
      ],
    });
    const health = await waitFor("a subscription", async () => {
      const res = await request(`${server.url}/api/v1/health`);
      return (res.body as { mesos: { state: string } }).mesos.state === "subscribed" && res;
    });
    scan("health", health.text);
    const res = await postJson(server.url, "/api/v1/task", {
      cpu: 0.1,
      mem: 16,
      image: "busybox",
      command: "echo hi",
    });
    assert.equal(res.status, 202, res.text);
    const id = res.body as string;
    const done = await waitFor("the task to finish", async () => {
      const r = await request(`${server.url}/api/v1/task/${id}`);
      const status = (r.body as { status: { status: string }[] }).status;
      return status.at(-1)!.status === "TASK_FINISHED" && r;
    });
    scan("task", done.text);
    scan("metrics", (await request(`${server.url}/metrics`)).text);
    scan("openapi", (await request(`${server.url}/api/v1/openapi.json`)).text);
    scan("invalid submission", (await postJson(server.url, "/api/v1/task", { cpu: "x" })).text);
    await server.kill("SIGTERM");
    const log = server.stderr();
    assert.match(log, /INFO {2}Subscribed to Mesos master/, "the log says what it did");
    scan("debug log", log);
  });

  await t.step("wrong secret, JSON logs: the refusal is logged without the secret", async () => {
    await using server = await spawnServer({
      dbPath: `${dir.path}/bad.kv`,
      flags: [
        "--master",
        cluster.url,
        "--credential-file",
        bad,
        "--loglevel",
        "debug",
        "--logformat",
        "json",
      ],
    });
    const health = await waitFor("the refusal in health", async () => {
      const res = await request(`${server.url}/api/v1/health`);
      const mesos = (res.body as { mesos: { state: string; detail?: string } }).mesos;
      return mesos.detail !== undefined && res;
    });
    scan("health after refusal", health.text);
    await waitFor(
      "the refusal in the log",
      () => Promise.resolve(/401|nauthori/.test(server.stderr())),
    );
    await server.kill("SIGTERM");
    scan("json log", server.stderr());
  });
  assert.deepEqual(seen.length, 8);
});
