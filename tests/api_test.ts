/**
 * The HTTP API over real HTTP: every route of reference §1.1 and the behaviour of
 * issue 3, checked as status, then content type, then body.
 */
import { createApp } from "../src/app.ts";
import { checkBasicAuth, timingSafeEqual } from "../src/api/mod.ts";
import { ConfigError, resolveConfig } from "../src/config/mod.ts";
import { collectingLogger } from "../src/runtime.ts";
import { memoryStore, StoreUnavailableError } from "../src/store/mod.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertStringIncludes,
  assertThrows,
} from "../src/testing/asserts.ts";
import {
  postJson,
  rawRequest,
  type ReadResponse,
  REPO_ROOT,
  request,
  SEED_BODY,
  spawnServer,
  startTestServer,
  tempDir,
} from "./_helpers.ts";

import { EXAMPLES, V0_KEYS, V1_KEYS } from "../src/task/testdata.ts";

const JSON_TYPE = "application/json; charset=UTF-8";
const ID_RE =
  /^eremetic-task\.[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const SECRET = "s3cr3t-Value-Nobody-Sees";
const DEPRECATED = "299 - 'Deprecated API'";

function assertJson(res: ReadResponse, status: number, what = "") {
  assertEquals(res.status, status, `${what} status (body ${res.text.slice(0, 300)})`);
  assertEquals(res.contentType, JSON_TYPE, `${what} content type`);
  assert(res.text.endsWith("\n"), `${what} body ends with a newline`);
}

/** Checks a 4xx error document: `{error, message, details?}`. */
function assertErrorDocument(res: ReadResponse, status: number, what = "") {
  assertJson(res, status, what);
  const doc = res.body as Record<string, unknown>;
  assertEquals(typeof doc?.error, "string", `${what} error`);
  assertEquals(typeof doc?.message, "string", `${what} message`);
}

function paths(res: ReadResponse): string[] {
  return ((res.body as { details?: { path: string }[] }).details ?? []).map((d) => d.path);
}

async function submit(base: string, body: unknown = SEED_BODY, path = "/api/v1/task") {
  const res = await postJson(base, path, body);
  assertJson(res, 202, `POST ${path}`);
  return res.body as string;
}

async function getTask(base: string, id: string, prefix = "/api/v1/task") {
  const res = await request(`${base}${prefix}/${id}`);
  assertJson(res, 200, `GET ${prefix}/${id}`);
  return res.body as Record<string, unknown> & { status: { status: string; time: number }[] };
}

function lastState(task: { status: { status: string }[] }): string {
  return task.status.at(-1)!.status;
}

Deno.test("API without authentication, in memory", async (t) => {
  await using server = await startTestServer({ flags: ["--loglevel", "debug"] });
  const base = server.url;
  const host = new URL(base).host;

  await t.step(
    "the seed curl example → 202 with a quoted id and an absolute Location",
    async () => {
      // curl -X POST -d '...' sends a form content type.
      const res = await request(`${base}/api/v1/task`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: JSON.stringify(SEED_BODY),
      });
      assertJson(res, 202);
      assertMatch(res.text, /^"eremetic-task\.[0-9a-f-]{36}"\n$/);
      const id = res.body as string;
      assertMatch(id, ID_RE);
      assertEquals(res.headers.get("location"), `http://${host}/api/v1/task/${id}`);
      assertEquals(res.headers.get("warning"), null);
      const task = await getTask(base, id);
      assertEquals(lastState(task), "TASK_QUEUED");
      assertEquals(task.status.length, 1);
      assertEquals(task.status[0].time, Math.floor(task.status[0].time));
      assert(Math.abs(task.status[0].time - Date.now() / 1000) < 120, "time is epoch seconds");
      assertEquals(task.image, "busybox");
      assertEquals(task.cpu, 1);
      assertEquals(task.mem, 22);
      assertEquals(task.command, "echo $(date)");
      assertEquals(task.user, "root");
      assertMatch(task.name as string, /^Eremetic task [b-zB-Z1-9]{8}$/);
    },
  );

  await t.step("a body without Content-Type is parsed as JSON", async () => {
    const res = await request(`${base}/api/v1/task`, {
      method: "POST",
      body: new TextEncoder().encode(JSON.stringify(SEED_BODY)),
    });
    assertJson(res, 202);
    assertMatch(res.body as string, ID_RE);
  });

  await t.step("Location honours X-Forwarded-Proto and Host", async () => {
    // fetch() replaces Host, so this request goes over a plain socket.
    const res = await rawRequest(base, {
      method: "POST",
      path: "/api/v1/task",
      headers: { "x-forwarded-proto": "https", host: "eremetic.example:8443" },
      body: JSON.stringify(SEED_BODY),
    });
    assertJson(res, 202);
    assertEquals(
      res.headers.get("location"),
      `https://eremetic.example:8443/api/v1/task/${res.body}`,
    );
    const legacy = await postJson(base, "/task", { docker_image: "a", task_cpus: 1, task_mem: 1 });
    assertJson(legacy, 202);
    assertEquals(legacy.headers.get("location"), `http://${host}/task/${legacy.body}`);
  });

  await t.step("GET shows the task with every v1 key in order, masked_env masked", async () => {
    const id = await submit(base, {
      ...SEED_BODY,
      env: { PLAIN: "visible" },
      masked_env: { PASSWORD: SECRET, OTHER: SECRET },
    });
    const res = await request(`${base}/api/v1/task/${id}`);
    assertJson(res, 200);
    const task = res.body as Record<string, unknown>;
    assertEquals(Object.keys(task).slice(0, V1_KEYS.length), V1_KEYS);
    assertEquals(task.masked_env, { PASSWORD: "*******", OTHER: "*******" });
    assertEquals(task.env, { PLAIN: "visible" });
    assertEquals(task.args, null);
    assertEquals(task.volumes, null);
    assertEquals(task.labels, null);
    assertEquals(task.fetch, null);
    assertEquals(task.agent_constraints, null);
    assertEquals(task.id, id);
    assert(!res.text.includes(SECRET), "GET never shows the secret");
    // Accept: text/html changes nothing on the v1 route.
    const html = await request(`${base}/api/v1/task/${id}`, { headers: { accept: "text/html" } });
    assertJson(html, 200);
    assert(!html.text.includes(SECRET));
  });

  await t.step("{} → 422 naming image, cpu and mem", async () => {
    const res = await postJson(base, "/api/v1/task", {});
    assertErrorDocument(res, 422);
    const p = paths(res);
    for (const key of ["image", "cpu", "mem"]) assert(p.includes(key), `details name ${key}`);
    const doc = res.body as { message: string; details: { problem: string }[] };
    for (const key of ["image", "cpu", "mem"]) assertStringIncludes(doc.message, key);
    assert(doc.details.every((d) => typeof d.problem === "string" && d.problem !== ""));
    const legacy = await postJson(base, "/task", {});
    assertErrorDocument(legacy, 422);
    for (const key of ["docker_image", "task_cpus", "task_mem"]) {
      assert(paths(legacy).includes(key), `v0 details name ${key}`);
    }
    assertEquals(legacy.headers.get("warning"), DEPRECATED);
  });

  await t.step("documents that can never run → 422 naming the field", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ ...SEED_BODY, cpu: 0 }, "cpu"],
      [{ ...SEED_BODY, mem: -1 }, "mem"],
      [{ ...SEED_BODY, image: "" }, "image"],
      [{ ...SEED_BODY, cpu: "1" }, "cpu"],
      [{ ...SEED_BODY, ports: [{ container_port: 70000 }] }, "ports[0].container_port"],
      [{ ...SEED_BODY, ports: [{ protocol: "sctp" }] }, "ports[0].protocol"],
      [{ ...SEED_BODY, network: "bridge" }, "network"],
      [{ ...SEED_BODY, callback_uri: "ftp://x" }, "callback_uri"],
      [{ ...SEED_BODY, env: { A: 1 } }, "env.A"],
      [{ ...SEED_BODY, max_retries: 1.5 }, "max_retries"],
      [{ ...SEED_BODY, gpus: -1 }, "gpus"],
      [{ ...SEED_BODY, parameters: [{ value: "x" }] }, "parameters[0].key"],
      [{ mem: 22, cpu: 1, docker_image: "busybox" }, "docker_image"],
      [{ ...SEED_BODY, task_cpus: 1 }, "task_cpus"],
    ];
    for (const [body, path] of cases) {
      const res = await postJson(base, "/api/v1/task", body);
      assertErrorDocument(res, 422, JSON.stringify(body));
      assert(paths(res).includes(path), `${JSON.stringify(body)} names ${path}: ${paths(res)}`);
    }
  });

  await t.step("a secret never appears in an error message", async () => {
    const res = await postJson(base, "/api/v1/task", {
      ...SEED_BODY,
      cpu: 0,
      masked_env: { PASSWORD: SECRET, BAD: 7 },
      network: SECRET,
    });
    assertErrorDocument(res, 422);
    assert(!res.text.includes(SECRET), res.text);
  });

  await t.step("malformed JSON and non-objects → 422", async () => {
    for (const raw of ["not json", '{"cpu":', "", "\xff", "null", "[]", '"x"', "42"]) {
      const res = await postJson(base, "/api/v1/task", raw);
      assertErrorDocument(res, 422, JSON.stringify(raw));
    }
    const bytes = await request(`${base}/api/v1/task`, {
      method: "POST",
      body: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]),
    });
    assertErrorDocument(bytes, 422, "invalid UTF-8");
  });

  await t.step("a body over 1 MiB → 413, also when streamed without a length", async () => {
    const big = JSON.stringify({ ...SEED_BODY, command: "x".repeat(1_048_577) });
    const res = await postJson(base, "/api/v1/task", big);
    assertErrorDocument(res, 413);
    const chunk = new TextEncoder().encode("x".repeat(64 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 20) return controller.close();
        sent++;
        controller.enqueue(chunk);
      },
    });
    const streamed = await request(`${base}/api/v1/task`, { method: "POST", body: stream });
    assertErrorDocument(streamed, 413, "streamed");
  });

  await t.step("the limit is exactly 1 MiB", async () => {
    const sized = (bytes: number) => {
      const head = JSON.stringify({ ...SEED_BODY, padding: "" }).slice(0, -2);
      return head + "x".repeat(bytes - head.length - 2) + '"}';
    };
    const at = await postJson(base, "/api/v1/task", sized(1_048_576));
    assertJson(at, 202, "1 MiB");
    const over = await postJson(base, "/api/v1/task", sized(1_048_577));
    assertErrorDocument(over, 413, "1 MiB + 1");
  });

  await t.step("a body under 1 MiB whose task is too large to store → 413", async () => {
    const res = await postJson(base, "/api/v1/task", {
      ...SEED_BODY,
      env: { BIG: "x".repeat(200_000) },
    });
    assertErrorDocument(res, 413);
  });

  await t.step("unknown keys are accepted and named in a Warning: 299 header", async () => {
    const res = await postJson(base, "/api/v1/task", { ...SEED_BODY, imgae: "x", cpus: 2 });
    assertJson(res, 202);
    const warning = res.headers.get("warning") ?? "";
    assertMatch(warning, /^299 /);
    assertStringIncludes(warning, "imgae");
    assertStringIncludes(warning, "cpus");
    // Odd key names never break the header.
    const odd = await postJson(base, "/api/v1/task", {
      ...SEED_BODY,
      'quo"te': 1,
      "new\nline": 2,
      "ünïcødé ✓": 3,
    });
    assertJson(odd, 202, "odd unknown keys");
    assertMatch(odd.headers.get("warning") ?? "", /^299 /);
  });

  await t.step("every reference §11 example is accepted on its endpoint", async () => {
    for (const [name, path, body] of EXAMPLES) {
      const res = await postJson(base, path, body);
      assertJson(res, 202, name);
      const id = res.body as string;
      assertMatch(id, ID_RE);
      assertEquals(res.headers.get("location"), `http://${host}${path}/${id}`, name);
      if (path === "/task") assertEquals(res.headers.get("warning"), DEPRECATED, name);
      const task = await getTask(base, id, path);
      assertEquals(lastState(task), "TASK_QUEUED", name);
      if (name === "E2") {
        // E2 sets KEY in env and masked_env: the masked value wins and is never shown.
        assertEquals(task.env, { KEY: "*******" });
        assertEquals(task.masked_env, { KEY: "*******" });
      }
    }
  });

  await t.step("legacy examples sent to /api/v1/task are refused, naming the v0 keys", async () => {
    for (const [name, path, body] of EXAMPLES) {
      if (path !== "/task") continue;
      const res = await postJson(base, "/api/v1/task", body);
      assertErrorDocument(res, 422, name);
      assert(paths(res).includes("docker_image"), `${name}: ${paths(res)}`);
    }
  });

  await t.step("legacy /task routes answer v0 shapes with the deprecation warning", async () => {
    const e5 = EXAMPLES.find(([n]) => n === "E5")![2];
    const res = await postJson(base, "/task", e5);
    assertJson(res, 202);
    assertEquals(res.headers.get("warning"), DEPRECATED);
    const id = res.body as string;
    const got = await request(`${base}/task/${id}`);
    assertJson(got, 200);
    assertEquals(got.headers.get("warning"), DEPRECATED);
    const task = got.body as Record<string, unknown>;
    assertEquals(Object.keys(task), V0_KEYS);
    assertEquals(task.task_cpus, 0.1);
    assertEquals(task.task_mem, 100);
    assertEquals(task.image, "docker:1.8");
    assertEquals(task.masked_env, { PASSWORD: "*******" });
    assert(!got.text.includes("myactualpassword"));
    assertEquals(task.fetch, [{
      uri: (e5.uris as string[])[0],
      extract: false,
      executable: false,
      cache: false,
    }]);
    const e9 = await submit(base, EXAMPLES.find(([n]) => n === "E9")![2], "/task");
    assertEquals(
      ((await getTask(base, e9, "/task")).fetch as { extract: boolean }[])[0].extract,
      true,
    );
    // The same task through v1 shows the v1 names.
    const v1 = await getTask(base, id);
    assertEquals(v1.cpu, 0.1);
    assert(!("task_cpus" in v1));

    const list = await request(`${base}/task`);
    assertJson(list, 200);
    assertEquals(list.headers.get("warning"), DEPRECATED);
    const items = list.body as Record<string, unknown>[];
    assert(items.length > 0);
    for (const item of items) assertEquals(Object.keys(item), V0_KEYS);
    assert(!list.text.includes("myactualpassword"));

    const missing = await request(`${base}/task/eremetic-task.nope`);
    assertJson(missing, 404);
    assertEquals(missing.text, "null\n");
    assertEquals(missing.headers.get("warning"), DEPRECATED);

    const html = await request(`${base}/task/${id}`, { headers: { accept: "text/html" } });
    assertEquals(html.status, 200);
    assertStringIncludes(html.contentType, "text/html");
    assert(!html.text.includes("myactualpassword"));
    const htmlMissing = await request(`${base}/task/eremetic-task.nope`, {
      headers: { accept: "text/html" },
    });
    assertEquals(htmlMissing.status, 404);
    assertStringIncludes(htmlMissing.contentType, "text/html");

    const version = await request(`${base}/version`);
    assertJson(version, 200);
    assertEquals(version.headers.get("warning"), DEPRECATED);
  });

  await t.step("kill and delete on the legacy routes", async () => {
    const id = await submit(base, { docker_image: "a", task_cpus: 1, task_mem: 1 }, "/task");
    const del = await request(`${base}/task/${id}`, { method: "DELETE" });
    assertJson(del, 409);
    assertEquals(del.headers.get("warning"), DEPRECATED);
    const kill = await request(`${base}/task/${id}/kill`, { method: "POST" });
    assertJson(kill, 202);
    assertEquals(kill.text, '""\n');
    assertEquals(kill.headers.get("warning"), DEPRECATED);
    const again = await request(`${base}/task/${id}/kill`, { method: "POST" });
    assertErrorDocument(again, 409);
    assertEquals(again.headers.get("warning"), DEPRECATED);
    const ok = await request(`${base}/task/${id}`, { method: "DELETE" });
    assertJson(ok, 202);
    assertEquals(ok.text, '""\n');
  });

  await t.step("the secret values appear nowhere: list, logs, metrics", async () => {
    const list = await request(`${base}/api/v1/task?state=`);
    assertJson(list, 200);
    assert(!list.text.includes(SECRET), "list");
    const metrics = await request(`${base}/metrics`);
    assert(!metrics.text.includes(SECRET), "metrics");
    const logs = JSON.stringify(server.logs);
    assert(server.logs.length > 0, "the server logged requests");
    assert(!logs.includes(SECRET), "logs");
  });

  await t.step("kill: queued → TASK_KILLED at once, again → 409, unknown → 404", async () => {
    const id = await submit(base, { ...SEED_BODY, masked_env: { P: SECRET } });
    const kill = await request(`${base}/api/v1/task/${id}/kill`, { method: "POST" });
    assertJson(kill, 202);
    assertEquals(kill.text, '""\n');
    const task = await getTask(base, id);
    assertEquals(task.status.map((s) => s.status), ["TASK_QUEUED", "TASK_KILLED"]);
    assertEquals(task.masked_env, { P: "*******" });
    const again = await request(`${base}/api/v1/task/${id}/kill`, { method: "POST" });
    assertErrorDocument(again, 409);
    assert(!again.text.includes(SECRET));
    const unknown = await request(`${base}/api/v1/task/eremetic-task.nope/kill`, {
      method: "POST",
    });
    assertJson(unknown, 404);
    assertEquals(unknown.text, "null\n");
  });

  await t.step("delete: unknown → 404, non-terminal → 409, killed → 202 then gone", async () => {
    const unknown = await request(`${base}/api/v1/task/does-not-exist`, { method: "DELETE" });
    assertJson(unknown, 404);
    assertEquals(unknown.text, "null\n");
    const id = await submit(base);
    const busy = await request(`${base}/api/v1/task/${id}`, { method: "DELETE" });
    assertJson(busy, 409);
    assertEquals(typeof busy.body, "string");
    assertStringIncludes(busy.body as string, id);
    assertEquals(lastState(await getTask(base, id)), "TASK_QUEUED");
    await request(`${base}/api/v1/task/${id}/kill`, { method: "POST" });
    const del = await request(`${base}/api/v1/task/${id}`, { method: "DELETE" });
    assertJson(del, 202);
    assertEquals(del.text, '""\n');
    const gone = await request(`${base}/api/v1/task/${id}`);
    assertJson(gone, 404);
    assertEquals(gone.text, "null\n");
    const twice = await request(`${base}/api/v1/task/${id}`, { method: "DELETE" });
    assertJson(twice, 404);
  });

  await t.step("GET of an unknown task → 404 null; its stdout → 204", async () => {
    const res = await request(`${base}/api/v1/task/does-not-exist`);
    assertJson(res, 404);
    assertEquals(res.text, "null\n");
    for (const file of ["stdout", "stderr"]) {
      const out = await request(`${base}/api/v1/task/does-not-exist/${file}`);
      assertEquals(out.status, 204);
      assertEquals(out.text, "");
      const legacy = await request(`${base}/task/does-not-exist/${file}`);
      assertEquals(legacy.status, 204);
      assertEquals(legacy.headers.get("warning"), DEPRECATED);
    }
    const id = await submit(base);
    const queued = await request(`${base}/api/v1/task/${id}/stdout`);
    assertEquals(queued.status, 204, "a queued task has no sandbox yet");
  });

  await t.step("version is a quoted string; health reports the store and no master", async () => {
    const version = await request(`${base}/api/v1/version`);
    assertJson(version, 200);
    assertMatch(version.text, /^"[0-9]+\.[0-9]+\.[0-9]+[^"]*"\n$/);
    const health = await request(`${base}/api/v1/health`);
    assertJson(health, 200);
    const h = health.body as {
      status: string;
      store: { ok: boolean };
      mesos: { master: unknown; state: string };
      warnings: string[];
    };
    assert(h.store.ok);
    assertEquals(h.mesos.master, null);
    assertEquals(h.mesos.state, "no-master");
    assertEquals(h.status, "degraded");
    assert(h.warnings.some((w) => /no mesos master/i.test(w)), JSON.stringify(h.warnings));
  });

  await t.step("index: 204 for JSON clients, a page for browsers", async () => {
    const json = await request(`${base}/`);
    assertEquals(json.status, 204);
    assertEquals(json.contentType, JSON_TYPE);
    assertEquals(json.text, "");
    const html = await request(`${base}/`, { headers: { accept: "text/html" } });
    assertEquals(html.status, 200);
    assertStringIncludes(html.contentType, "text/html");
  });

  await t.step("unknown routes → 404 null; HTML clients get a page", async () => {
    const res = await request(`${base}/nope/nothing`);
    assertJson(res, 404);
    assertEquals(res.text, "null\n");
    const html = await request(`${base}/nope`, { headers: { accept: "text/html" } });
    assertEquals(html.status, 404);
    assertStringIncludes(html.contentType, "text/html");
  });

  await t.step("a wrong method → 405 with Allow", async () => {
    const cases: [string, string, string][] = [
      ["PUT", "/api/v1/task", "GET, POST"],
      ["DELETE", "/api/v1/version", "GET"],
      ["GET", "/api/v1/task/x/kill", "POST"],
      ["POST", "/api/v1/task/x", "GET, DELETE"],
      ["PATCH", "/task", "GET, POST"],
      ["POST", "/metrics", "GET"],
    ];
    for (const [method, path, allow] of cases) {
      const res = await request(`${base}${path}`, { method });
      assertErrorDocument(res, 405, `${method} ${path}`);
      assertEquals(res.headers.get("allow"), allow, `${method} ${path}`);
    }
  });

  await t.step("a trailing slash → 301 to the path without it", async () => {
    const res = await request(`${base}/api/v1/task/?state=queued`);
    assertEquals(res.status, 301);
    assertEquals(res.headers.get("location"), "/api/v1/task?state=queued");
    const v = await request(`${base}/api/v1/version/`);
    assertEquals(v.status, 301);
    assertEquals(v.headers.get("location"), "/api/v1/version");
  });

  await t.step("a trailing-slash redirect never leaves the site", async () => {
    for (const [path, location] of [["//evil.example/", "/evil.example"], ["//", "/"]]) {
      const res = await rawRequest(base, { path });
      assertEquals(res.status, 301, path);
      assertEquals(res.headers.get("location"), location, path);
    }
  });

  await t.step("X-Forwarded-Proto: the first value, and only http or https", async () => {
    for (const [proto, scheme] of [["https, http", "https"], ["javascript", "http"]]) {
      const res = await postJson(base, "/api/v1/task", SEED_BODY, { "x-forwarded-proto": proto });
      assertJson(res, 202);
      assertEquals(res.headers.get("location"), `${scheme}://${host}/api/v1/task/${res.body}`);
    }
  });

  await t.step("the legacy HTML task page escapes the task name", async () => {
    const id = await submit(base, { ...SEED_BODY, name: "<script>alert(1)</script>" });
    const html = await request(`${base}/task/${id}`, { headers: { accept: "text/html" } });
    assertEquals(html.status, 200);
    assert(!html.text.includes("<script>alert(1)"), html.text);
  });

  await t.step("Idempotency-Key: same body → same id; another body → 422", async () => {
    const key = { "idempotency-key": `k-${crypto.randomUUID()}` };
    const first = await postJson(base, "/api/v1/task", SEED_BODY, key);
    assertJson(first, 202);
    const again = await postJson(base, "/api/v1/task", SEED_BODY, key);
    assertJson(again, 202);
    assertEquals(again.body, first.body);
    assertEquals(again.headers.get("location"), first.headers.get("location"));
    const other = await postJson(base, "/api/v1/task", { ...SEED_BODY, cpu: 2 }, key);
    assertErrorDocument(other, 422);
    assert(paths(other).includes("Idempotency-Key"));
    // Concurrent retries of one request still make one task.
    const k2 = { "idempotency-key": `k-${crypto.randomUUID()}` };
    const many = await Promise.all(
      Array.from({ length: 10 }, () => postJson(base, "/api/v1/task", SEED_BODY, k2)),
    );
    assertEquals(new Set(many.map((r) => r.status)), new Set([202]));
    assertEquals(new Set(many.map((r) => r.body)).size, 1);
    const tooLong = await postJson(base, "/api/v1/task", SEED_BODY, {
      "idempotency-key": "x".repeat(256),
    });
    assertErrorDocument(tooLong, 422);
  });

  await t.step("/metrics shows the original metric names", async () => {
    await submit(base);
    const res = await request(`${base}/metrics`);
    assertEquals(res.status, 200);
    assertStringIncludes(res.contentType, "text/plain");
    assertStringIncludes(res.text, "scheduler_tasks_created");
    assertStringIncludes(res.text, "http_requests_total");
    for (
      const name of [
        "scheduler_tasks_created",
        "scheduler_tasks_launched",
        "scheduler_tasks_terminated",
        "scheduler_tasks_delayed",
        "scheduler_tasks_running",
        "scheduler_queue_size",
        "http_requests_total",
        "http_request_duration_microseconds",
        "http_request_size_bytes",
        "http_response_size_bytes",
      ]
    ) assertMatch(res.text, new RegExp(`^# TYPE ${name} `, "m"));
    const created = /^scheduler_tasks_created(?:\{\})? (\d+)/m.exec(res.text);
    assert(created && Number(created[1]) > 0, "scheduler_tasks_created counts POSTs");
    assertMatch(res.text, /http_requests_total\{[^}]*handler="AddTask"[^}]*\} \d+/);
  });

  await t.step("openapi.json is valid JSON with the TaskRequestV1 schema", async () => {
    const res = await request(`${base}/api/v1/openapi.json`);
    assertJson(res, 200, "openapi");
    const doc = res.body as {
      openapi: string;
      paths: Record<string, unknown>;
      components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
    };
    assertMatch(doc.openapi, /^3\./);
    const schema = doc.components.schemas.TaskRequestV1;
    assert(schema?.properties, "TaskRequestV1 has properties");
    for (const key of ["image", "cpu", "mem", "masked_env", "max_retries"]) {
      assert(key in schema.properties!, `TaskRequestV1 has ${key}`);
    }
    for (
      const path of [
        "/api/v1/task",
        "/api/v1/task/{taskId}",
        "/api/v1/task/{taskId}/kill",
        "/api/v1/task/{taskId}/stdout",
        "/api/v1/task/{taskId}/stderr",
        "/api/v1/version",
        "/api/v1/health",
        "/metrics",
        "/task",
        "/task/{taskId}",
        "/task/{taskId}/kill",
        "/version",
      ]
    ) assert(path in doc.paths, `openapi.json documents ${path}`);
    const legacyPost = (doc.paths["/task"] as Record<string, Record<string, unknown>>).post;
    assertEquals(legacyPost.deprecated, true);
    assertStringIncludes(JSON.stringify(legacyPost.requestBody), "TaskRequestV0");
    // Every reference resolves.
    for (const [, name] of res.text.matchAll(/"#\/components\/schemas\/([^"]+)"/g)) {
      assert(name in doc.components.schemas, `$ref ${name} resolves`);
    }
  });
});

for (const driver of ["memory", "kv"] as const) {
  Deno.test(`API list filters and pagination (${driver})`, async (t) => {
    await using server = await startTestServer({ driver });
    const base = server.url;
    const ids = async (query: string, prefix = "/api/v1/task") => {
      const res = await request(`${base}${prefix}${query}`);
      assertJson(res, 200, query);
      assert(Array.isArray(res.body), `${query} answers an array`);
      return (res.body as { id: string }[]).map((t) => t.id);
    };

    assertEquals(await ids(""), [], "an empty list is [] not null");
    const queued = [
      await submit(base, { ...SEED_BODY, name: "nightly", labels: { team: "a" } }),
      await submit(base, { ...SEED_BODY, name: "Nightly", labels: { team: "b" } }),
      await submit(base, { ...SEED_BODY, name: "nightly" }),
    ];
    const killed = await submit(base, { ...SEED_BODY, name: "nightly", labels: { team: "a" } });
    await request(`${base}/api/v1/task/${killed}/kill`, { method: "POST" });
    const all = [...queued, killed];

    await t.step("state: default active,queued; empty = all; terminated", async () => {
      assertEquals(await ids(""), queued);
      assertEquals(await ids("?state=active,queued"), queued);
      assertEquals(await ids("?state="), all);
      assertEquals(await ids("?state=terminated"), [killed]);
      assertEquals(await ids("?state=terminated,queued"), all);
      assertEquals(await ids("?state=active"), []);
      assertEquals(await ids("?state=bogus"), [], "unknown tokens match nothing");
      assertEquals(await ids("?state=", "/task"), all);
    });

    await t.step("name is exact and case-sensitive", async () => {
      assertEquals(await ids("?name=nightly"), [queued[0], queued[2]]);
      assertEquals(await ids("?name=nightly&state="), [queued[0], queued[2], killed]);
      assertEquals(await ids("?name=Nightly"), [queued[1]]);
      assertEquals(await ids("?name=night"), []);
      assertEquals(await ids("?name="), queued, "an empty name is no filter");
    });

    await t.step("name finds generated names too", async () => {
      const id = await submit(base);
      const name = (await getTask(base, id)).name as string;
      assertEquals(await ids(`?name=${encodeURIComponent(name)}`), [id]);
      const look = await submit(base, { ...SEED_BODY, name: "Eremetic task bbbbbbbb" });
      assertEquals(await ids("?name=Eremetic%20task%20bbbbbbbb"), [look]);
      for (const x of [id, look]) {
        await request(`${base}/api/v1/task/${x}/kill`, { method: "POST" });
        await request(`${base}/api/v1/task/${x}`, { method: "DELETE" });
      }
      assertEquals(await ids(`?name=${encodeURIComponent(name)}&state=`), []);
    });

    await t.step("label filter: key=value and key alone", async () => {
      assertEquals(await ids("?label=team%3Da"), [queued[0]]);
      assertEquals(await ids("?label=team%3Da&state="), [queued[0], killed]);
      assertEquals(await ids("?label=team"), [queued[0], queued[1]]);
      assertEquals(await ids("?label=nope"), []);
    });

    await t.step("unknown query parameters are ignored (D21)", async () => {
      assertEquals(await ids("?foo=1&_=123456"), queued);
    });

    await t.step("limit and cursor page through every task once", async () => {
      const more: string[] = [];
      for (let i = 0; i < 7; i++) more.push(await submit(base));
      const expected = [...queued, ...more];
      const seen: string[] = [];
      let next: string | null = "/api/v1/task?limit=3";
      let pages = 0;
      while (next) {
        const res = await request(`${base}${next}`);
        assertJson(res, 200, next);
        const page = res.body as { id: string }[];
        assert(page.length <= 3);
        seen.push(...page.map((t) => t.id));
        const cursor = res.headers.get("x-next-cursor");
        const link = res.headers.get("link");
        if (cursor) {
          assert(link, "a next page has a Link header");
          const m = /^<([^>]+)>; rel="next"$/.exec(link!);
          assert(m, link!);
          next = m![1];
          assertStringIncludes(next, `cursor=${cursor}`);
          assertStringIncludes(next, "limit=3");
        } else {
          assertEquals(link, null);
          next = null;
        }
        pages++;
        assert(pages < 10, "pagination ends");
      }
      assertEquals(seen, expected);
    });

    await t.step("a bad limit or cursor → 422", async () => {
      for (const q of ["?limit=0", "?limit=abc", "?limit=1.5", "?limit=100000"]) {
        const res = await request(`${base}/api/v1/task${q}`);
        assertErrorDocument(res, 422, q);
        assertEquals((res.body as { error: string }).error, "invalid query parameter", q);
      }
      const res = await request(`${base}/api/v1/task?cursor=garbage`);
      assertErrorDocument(res, 422, "cursor");
      // The same short error as every bad query parameter, not the store's message.
      assertEquals((res.body as { error: string }).error, "invalid query parameter");
    });
  });
}

Deno.test("API with basic authentication and a url_prefix", async (t) => {
  const password = "pa:ss-word";
  await using server = await startTestServer({
    driver: "kv",
    flags: ["--http-credentials", `admin:${password}`, "--url-prefix", "/service/eremetic"],
  });
  const base = server.url;
  const host = new URL(base).host;
  const auth = { authorization: `Basic ${btoa(`admin:${password}`)}` };

  await t.step("protected routes → 401 with a challenge, in JSON and in HTML", async () => {
    const protectedRoutes: [string, string][] = [
      ["GET", "/api/v1/task"],
      ["POST", "/api/v1/task"],
      ["GET", "/api/v1/task/x"],
      ["DELETE", "/api/v1/task/x"],
      ["POST", "/api/v1/task/x/kill"],
      ["GET", "/api/v1/task/x/stdout"],
      ["GET", "/task"],
      ["GET", "/task/x"],
      ["GET", "/metrics"],
      ["GET", "/"],
    ];
    for (const [method, path] of protectedRoutes) {
      const res = await request(`${base}${path}`, { method });
      assertJson(res, 401, `${method} ${path}`);
      assertEquals(res.text, "null\n");
      assertMatch(res.headers.get("www-authenticate") ?? "", /^Basic realm="Eremetic"$/i);
      const html = await request(`${base}${path}`, { method, headers: { accept: "text/html" } });
      assertEquals(html.status, 401, `${method} ${path} html`);
      assertStringIncludes(html.contentType, "text/html");
      assertMatch(html.headers.get("www-authenticate") ?? "", /^Basic realm="Eremetic"$/i);
    }
  });

  await t.step("wrong credentials → 401; right ones pass", async () => {
    const wrong = [
      `Basic ${btoa("admin:pa:ss-worX")}`,
      `Basic ${btoa("admin:pa:ss")}`,
      `Basic ${btoa(`Admin:${password}`)}`,
      `Basic ${btoa(`admin:${password}x`)}`,
      `Bearer ${btoa(`admin:${password}`)}`,
      "Basic !!!not-base64",
      "Basic",
    ];
    for (const authorization of wrong) {
      const res = await request(`${base}/api/v1/task`, { headers: { authorization } });
      assertJson(res, 401, authorization);
    }
    const ok = await request(`${base}/api/v1/task`, { headers: auth });
    assertJson(ok, 200);
    const metrics = await request(`${base}/metrics`, { headers: auth });
    assertEquals(metrics.status, 200);
  });

  await t.step("version, health and unknown routes are never behind auth", async () => {
    for (const path of ["/api/v1/version", "/version", "/api/v1/health"]) {
      const res = await request(`${base}${path}`);
      assertJson(res, 200, path);
    }
    const unknown = await request(`${base}/nope`);
    assertJson(unknown, 404);
  });

  await t.step("Location carries the url_prefix; routes stay unprefixed", async () => {
    const res = await postJson(base, "/api/v1/task", SEED_BODY, auth);
    assertJson(res, 202);
    const id = res.body as string;
    assertEquals(
      res.headers.get("location"),
      `http://${host}/service/eremetic/api/v1/task/${id}`,
    );
    const got = await request(`${base}/api/v1/task/${id}`, { headers: auth });
    assertJson(got, 200);
    const legacy = await postJson(
      base,
      "/task",
      { docker_image: "a", task_cpus: 1, task_mem: 1 },
      { ...auth, "x-forwarded-proto": "https" },
    );
    assertEquals(
      legacy.headers.get("location"),
      `https://${host}/service/eremetic/task/${legacy.body}`,
    );
  });

  await t.step("the strict-slash redirect carries the url_prefix", async () => {
    const res = await request(`${base}/api/v1/task/?state=`);
    assertEquals(res.status, 301);
    assertEquals(res.headers.get("location"), "/service/eremetic/api/v1/task?state=");
  });

  await t.step("an over-long task id is not found, never a 500", async () => {
    const id = "a".repeat(3000);
    for (
      const [method, path, status] of [
        ["GET", `/api/v1/task/${id}`, 404],
        ["DELETE", `/api/v1/task/${id}`, 404],
        ["POST", `/api/v1/task/${id}/kill`, 404],
        ["GET", `/api/v1/task/${id}/stdout`, 204],
        ["GET", `/task/${id}`, 404],
      ] as const
    ) {
      const res = await request(`${base}${path}`, { method, headers: auth });
      assertEquals(res.status, status, `${method} ${path.slice(0, 20)}: ${res.text}`);
    }
  });

  await t.step("the credentials appear in no log line", () => {
    assert(!JSON.stringify(server.logs).includes(password));
  });
});

Deno.test("timingSafeEqual() and checkBasicAuth() compare whole values", () => {
  assert(timingSafeEqual("abc", "abc"));
  assert(!timingSafeEqual("abc", "abd"));
  assert(!timingSafeEqual("abc", "abcd"));
  assert(!timingSafeEqual("", "a"));
  assert(timingSafeEqual("", ""));
  assert(timingSafeEqual("ünï", "ünï"));
  const creds = { user: "u", password: "p:q" };
  assert(checkBasicAuth(`Basic ${btoa("u:p:q")}`, creds));
  assert(!checkBasicAuth(`Basic ${btoa("u:p")}`, creds));
  assert(!checkBasicAuth(undefined, creds));
  assert(!checkBasicAuth("basic dTpwOnE=", creds), "the scheme word is case-sensitive");
  // Browsers and curl send the UTF-8 bytes of user:password in base64.
  const utf8 = (s: string) => btoa(String.fromCharCode(...new TextEncoder().encode(s)));
  const unicode = { user: "jürgen", password: "pässwörd✓" };
  assert(checkBasicAuth(`Basic ${utf8("jürgen:pässwörd✓")}`, unicode));
  assert(!checkBasicAuth(`Basic ${utf8("jürgen:passwörd✓")}`, unicode));
});

Deno.test("the server refuses to start on malformed http_credentials (D18)", async (t) => {
  await t.step("resolveConfig() names the key and never the value", () => {
    for (const bad of ["nocolon", ":onlypass", "onlyuser:"]) {
      const err = assertThrows(
        () => resolveConfig({ env: { HTTP_CREDENTIALS: bad }, flags: [] }),
        ConfigError,
      );
      assertStringIncludes(err.message + (err as ConfigError).issues.join(), "http_credentials");
      if (bad.length > 1) {
        assert(!(err as ConfigError).issues.join().includes(bad), "the value is not repeated");
      }
    }
  });

  await t.step("createApp() refuses a config that bypassed validation", async () => {
    const { config } = resolveConfig({ env: {}, flags: ["--database-driver", "memory"] });
    const broken = { ...config, http_credentials: "nocolon" };
    let failed = false;
    try {
      const app = await createApp(broken, { logger: collectingLogger(), store: memoryStore() });
      await app.close();
    } catch {
      failed = true;
    }
    assert(failed, "createApp() must not silently disable authentication");
  });

  await t.step("`eremetic serve` exits non-zero with a message", async () => {
    await using dir = await tempDir();
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        `${REPO_ROOT}/main.ts`,
        "serve",
        "--address",
        "127.0.0.1",
        "--port",
        "0",
        "--database",
        `${dir.path}/db.kv`,
      ],
      cwd: REPO_ROOT,
      env: { HTTP_CREDENTIALS: "admin-without-password" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert(!out.success, "exit code is non-zero");
    assertStringIncludes(stderr, "http_credentials");
    assert(!stderr.includes("admin-without-password"), "the value is not printed");
  });
});

Deno.test("kill keeps the stored secret (D5): masking happens only at the boundary", async () => {
  const { config } = resolveConfig({ env: {}, flags: ["--database-driver", "memory"] });
  await using app = await createApp(config, { logger: collectingLogger() });
  const res = await app.fetch(
    new Request("http://x/api/v1/task", {
      method: "POST",
      body: JSON.stringify({ ...SEED_BODY, masked_env: { P: SECRET } }),
    }),
  );
  assertEquals(res.status, 202);
  const id = await res.json() as string;
  const kill = await app.fetch(new Request(`http://x/api/v1/task/${id}/kill`, { method: "POST" }));
  assertEquals(kill.status, 202);
  await kill.body?.cancel();
  const stored = await app.store.getTask(id);
  assertEquals(stored!.masked_env, { P: SECRET });
  assertEquals(stored!.status.at(-1)!.status, "TASK_KILLED");
});

Deno.test("`eremetic serve` logs requests in the configured format, secrets redacted", async () => {
  await using dir = await tempDir();
  await using server = await spawnServer({
    dbPath: `${dir.path}/db.kv`,
    flags: ["--loglevel", "info", "--logformat", "json"],
  });
  const res = await postJson(server.url, "/api/v1/task", {
    ...SEED_BODY,
    masked_env: { P: SECRET },
  });
  assertEquals(res.status, 202);
  await request(`${server.url}/api/v1/task/${res.body}`);
  const status = await server.kill("SIGTERM");
  assertEquals(status.code, 0, "SIGTERM stops the server cleanly");
  const lines = server.stderr().trim().split("\n");
  const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  for (const e of entries) {
    assertEquals(typeof e.time, "string");
    assertEquals(typeof e.level, "string");
    assertEquals(typeof e.msg, "string");
  }
  assert(
    entries.some((e) => e.level === "warn" && /no mesos master/i.test(e.msg as string)),
    "a start-up warning says no Mesos master is configured",
  );
  assert(
    entries.some((e) => e.msg === "HTTP request" && e.method === "POST" && e.status === 202),
    "the POST is logged",
  );
  assert(!server.stderr().includes(SECRET), "no secret in the log");
});

Deno.test("queue_size bounds the queued tasks: beyond it POST → 503", async () => {
  await using server = await startTestServer({ driver: "kv", flags: ["--queue-size", "2"] });
  const base = server.url;
  const first = await submit(base);
  await submit(base);
  const full = await postJson(base, "/api/v1/task", SEED_BODY);
  assertErrorDocument(full, 503);
  assertEquals(full.body, { error: "task queue is full", message: "Unable to schedule task" });
  const legacy = await postJson(base, "/task", { docker_image: "a", task_cpus: 1, task_mem: 1 });
  assertErrorDocument(legacy, 503);
  assertEquals(legacy.headers.get("warning"), DEPRECATED);
  // Killing a queued task frees its place.
  await request(`${base}/api/v1/task/${first}/kill`, { method: "POST" });
  await submit(base);
  const health = await request(`${base}/api/v1/health`);
  assertEquals((health.body as { tasks: unknown }).tasks, { queued: 2, active: 0, terminated: 1 });
  const metrics = await request(`${base}/metrics`);
  assertMatch(metrics.text, /^scheduler_queue_size 2$/m);
  assertMatch(metrics.text, /^scheduler_tasks_created 3$/m);
});

Deno.test("a failing store: health 503, POST 503 or 500 without internals", async () => {
  const { config } = resolveConfig({ env: {}, flags: ["--database-driver", "memory"] });
  const inner = memoryStore();
  let failure: Error | null = null;
  const store = Object.assign(Object.create(null), inner, {
    description: inner.description,
    ping: () => failure ? Promise.reject(failure) : inner.ping(),
    createTask: (...args: Parameters<typeof inner.createTask>) =>
      failure ? Promise.reject(failure) : inner.createTask(...args),
  });
  const logger = collectingLogger();
  await using app = await createApp(config, { logger, store });
  const call = async (path: string, init?: RequestInit) => {
    const res = await app.fetch(new Request(`http://x${path}`, init));
    return { status: res.status, type: res.headers.get("content-type"), body: await res.json() };
  };
  const post = {
    method: "POST",
    body: JSON.stringify({ ...SEED_BODY, masked_env: { P: SECRET } }),
  };

  assertEquals((await call("/api/v1/task", post)).status, 202);
  failure = new StoreUnavailableError("Cannot write to Deno KV: disk full");
  const health = await call("/api/v1/health");
  assertEquals(health.status, 503);
  assertEquals(health.body.status, "unavailable");
  assertEquals(health.body.store.ok, false);
  const unavailable = await call("/api/v1/task", post);
  assertEquals(unavailable.status, 503);
  assertEquals(unavailable.type, JSON_TYPE);
  assertEquals(typeof unavailable.body.message, "string");

  failure = new Error(`internal detail /var/lib/secret-path ${SECRET}`);
  const broken = await call("/api/v1/task", post);
  assertEquals(broken.status, 500);
  assertEquals(broken.body, { error: "internal error", message: "Internal server error" });
  const errors = logger.entries.filter((e) => e.level === "error");
  assertEquals(errors.length, 2, "each 5xx is logged once");
});
