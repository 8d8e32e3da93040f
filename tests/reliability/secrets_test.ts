/**
 * The leak scan (issue 13, point 5): the real server as a child process (its stdout and
 * stderr captured, at debug level, in each log format the configuration offers) against
 * the development cluster, with `http_credentials` and `callback_secret` set and tasks
 * carrying unique `masked_env` values, one of which the task prints. Every route of the
 * OpenAPI document, every page, the metrics, health, every live stream, validation
 * errors for bodies holding secrets, the callbacks received and the command-line client
 * are read; no secret may appear anywhere, except in the task's own environment inside
 * Mesos (the cluster's record of the LAUNCH) and the agent's raw output file, where the
 * same scan must find them (so it cannot pass by finding nothing).
 */
import assert from "node:assert/strict";
import { memoryRecorder, startDevCluster } from "../../src/devcluster/mod.ts";
import { openApiDocument } from "../../src/api/openapi.ts";
import { VERSION } from "../../src/version.ts";
import { waitFor } from "../_e2e.ts";
import { REPO_ROOT, spawnServer, tempDir } from "../_helpers.ts";
import { findLeaks, newSecret, type Output } from "./_leaks.ts";
import { scale } from "./_mode.ts";

const MASK = "*******";
const USER = "scan";

/** Reads a live stream's text until its `end` event, or until `ms` have passed. */
async function readStream(url: string, headers: HeadersInit, ms: number): Promise<string> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), ms);
  let text = "";
  try {
    const res = await fetch(url, {
      headers: { ...Object.fromEntries(new Headers(headers)), accept: "text/event-stream" },
      signal: abort.signal,
    });
    text += `${res.status} ${[...res.headers].join(" ")}\n`;
    if (!res.body) return text;
    const decoder = new TextDecoder();
    for await (const chunk of res.body) {
      text += decoder.decode(chunk, { stream: true });
      if (text.includes("event: end")) break;
    }
  } catch (e) {
    if (!abort.signal.aborted) throw e;
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
  return text;
}

/** A local receiver of task callbacks, keeping every request as text. */
function startReceiver() {
  const received: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    received.push(`${req.method} ${req.url} ${[...req.headers].join(" ")}\n${await req.text()}`);
    return new Response("ok");
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/callback`,
    received,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** Runs `main.ts` as the command-line client; its stdout and stderr together. */
async function cli(serverUrl: string, password: string, args: string[]): Promise<string> {
  const url = new URL(serverUrl);
  url.username = USER;
  url.password = password;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${REPO_ROOT}/main.ts`, ...args],
    cwd: REPO_ROOT,
    env: { EREMETIC_URL: url.href, NO_COLOR: "1" },
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return `exit ${out.code}\n${dec.decode(out.stdout)}\n${dec.decode(out.stderr)}`;
}

/** The OpenAPI paths with `{taskId}` filled in, with each method they answer. */
function openApiRoutes(taskId: string): { method: string; path: string }[] {
  const doc = openApiDocument(VERSION) as { paths: Record<string, Record<string, unknown>> };
  return Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.keys(ops).map((method) => ({
      method: method.toUpperCase(),
      path: path.replace("{taskId}", taskId),
    }))
  );
}

interface RunResult {
  outputs: Output[];
  /** What only the task's environment may hold: the cluster's record and the agent's files. */
  inside: Output[];
  secrets: Record<string, string>;
  /** Requests made, for the report. */
  requests: number;
}

/** One full exercise of a server with `logformat`; returns everything it produced. */
async function exercise(logformat: "text" | "json"): Promise<RunResult> {
  const secrets = {
    password: newSecret(),
    callback_secret: newSecret(),
    mesos_secret: newSecret(),
    printed: newSecret(),
    quiet: newSecret(),
    killed: newSecret(),
    legacy: newSecret(),
    invalid: newSecret(),
  };
  // The Authorization header carries the password base64-encoded: look for that too.
  const secretsAndForms = {
    ...secrets,
    authorization: btoa(`${USER}:${secrets.password}`),
  };
  const outputs: Output[] = [];
  const keep = (where: string, text: string) => outputs.push({ where, text });
  let requests = 0;

  const recorder = memoryRecorder();
  await using cluster = await startDevCluster({
    allocationIntervalMs: 100,
    killGracePeriodMs: 500,
    record: recorder,
    credentials: [{ principal: "eremetic", secret: secrets.mesos_secret }],
  });
  await using receiver = startReceiver();
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/mesos.cred`, `eremetic ${secrets.mesos_secret}\n`);
  const server = await spawnServer({
    dbPath: `${dir.path}/eremetic.kv`,
    env: {
      EREMETIC_HTTP_CREDENTIALS: `${USER}:${secrets.password}`,
      EREMETIC_CALLBACK_SECRET: secrets.callback_secret,
    },
    flags: [
      "--master",
      cluster.url,
      "--credential-file",
      `${dir.path}/mesos.cred`,
      "--refuse-seconds",
      "1",
      "--loglevel",
      "debug",
      "--logformat",
      logformat,
    ],
  });
  let global: Promise<string> = Promise.resolve("");
  try {
    const auth = { authorization: `Basic ${btoa(`${USER}:${secrets.password}`)}` };
    const base = server.url;
    /** Any request; the status, headers and body are kept for the scan. */
    const call = async (
      method: string,
      path: string,
      { body, headers = {}, withAuth = true }: {
        body?: string;
        headers?: Record<string, string>;
        withAuth?: boolean;
      } = {},
    ) => {
      requests++;
      const res = await fetch(`${base}${path}`, {
        method,
        body,
        redirect: "manual",
        headers: { ...(withAuth ? auth : {}), ...headers },
      });
      const text = await res.text();
      keep(`${method} ${path}`, `${res.status} ${[...res.headers].join(" ")}\n${text}`);
      return { status: res.status, text, headers: res.headers };
    };
    const submitTask = async (path: string, task: Record<string, unknown>) => {
      const res = await call("POST", path, { body: JSON.stringify(task) });
      assert.equal(res.status, 202, res.text);
      return JSON.parse(res.text) as string;
    };

    // The global stream hears every change of the run.
    global = readStream(`${base}/api/v1/events`, auth, 60_000);

    // The printer writes its secret to stdout and stderr, whole and split across writes.
    const printed = await submitTask("/api/v1/task", {
      image: "busybox",
      cpu: 0.1,
      mem: 16,
      name: "printer",
      command: [
        'echo "out:$PRINTED"',
        'echo "err:$PRINTED" >&2',
        "sleep 0.3",
        "printf '%s' \"$PRINTED\" | head -c 10",
        "sleep 0.6",
        "printf '%s\\n' \"$PRINTED\" | tail -c +11",
        'echo "plain:$PLAIN"',
      ].join("; "),
      env: { PLAIN: "visible" },
      masked_env: { PRINTED: secrets.printed, QUIET: secrets.quiet },
      labels: { scan: "yes" },
      callback_uri: receiver.url,
      callback_events: "all",
    });
    const follows = Promise.all([
      readStream(`${base}/api/v1/task/${printed}/events`, auth, 20_000),
      readStream(`${base}/api/v1/task/${printed}/stdout?follow=1`, auth, 20_000),
      readStream(`${base}/api/v1/task/${printed}/stderr?follow=1`, auth, 20_000),
    ]);
    // A long task killed while it runs, and a legacy (v0) submission.
    const killed = await submitTask("/api/v1/task", {
      image: "busybox",
      cpu: 0.1,
      mem: 16,
      command: "sleep 30",
      masked_env: { KILLED: secrets.killed },
      callback_uri: receiver.url,
    });
    const legacy = await submitTask("/task", {
      docker_image: "busybox",
      task_cpus: 0.1,
      task_mem: 16,
      command: 'test -n "$LEGACY"',
      masked_env: { LEGACY: secrets.legacy },
    });

    // Validation errors for bodies that hold a secret.
    const s = secrets.invalid;
    const invalidBodies = [
      JSON.stringify({ masked_env: { K: s } }),
      JSON.stringify({ image: "busybox", cpu: -1, mem: 16, masked_env: { K: s } }),
      JSON.stringify({ image: "busybox", cpu: 1, mem: 16, masked_env: { K: [s] } }),
      JSON.stringify({ image: "busybox", cpu: 1, mem: 16, masked_env: { K: { [s]: s } } }),
      JSON.stringify({ image: "busybox", cpu: 1, mem: 16, masked_env: s }),
      JSON.stringify({ image: "busybox", cpu: 1, mem: 16, masked_env: { K: s }, uris: [s] }),
      JSON.stringify({ image: "busybox", cpu: 1, mem: 16, callback_uri: s, masked_env: { K: s } }),
      `{"image":"busybox","cpu":1,"mem":16,"masked_env":{"K": ${s}}}`,
      `{"image":"busybox","masked_env":{"K":"${s}"}`,
      `${s}`,
      `{"masked_env":{"K":"${s}"}}${s}`,
      `[${JSON.stringify({ masked_env: { K: s } })}]`,
    ];
    for (const body of invalidBodies) {
      for (const path of ["/api/v1/task", "/task"]) {
        const res = await call("POST", path, { body });
        assert.ok(res.status >= 400 && res.status < 500, `${path} ${body}: ${res.status}`);
      }
    }
    // An idempotency key reused with another body holding a secret.
    const key = { "idempotency-key": "scan-key" };
    await call("POST", "/api/v1/task", {
      body: JSON.stringify({ image: "busybox", cpu: 0.1, mem: 16, command: "true" }),
      headers: key,
    });
    const reused = await call("POST", "/api/v1/task", {
      body: JSON.stringify({ image: "busybox", cpu: 0.1, mem: 16, masked_env: { K: s } }),
      headers: key,
    });
    assert.equal(reused.status, 422);
    // A body too large, ending in a secret.
    const large = await call("POST", "/api/v1/task", {
      body: JSON.stringify({ image: "busybox", env: { PAD: "x".repeat(1_100_000) }, k: s }),
    });
    assert.equal(large.status, 413);
    // A task too large to store (a clear 413 from the store, not the body limit).
    const tooLarge = await call("POST", "/api/v1/task", {
      body: JSON.stringify({
        image: "busybox",
        cpu: 0.1,
        mem: 16,
        masked_env: { K: s, PAD: "x".repeat(70_000) },
      }),
    });
    assert.equal(tooLarge.status, 413, tooLarge.text);

    // Kill the long task once it runs.
    await waitFor("the long task to run", async () => {
      const res = await fetch(`${base}/api/v1/task/${killed}`, { headers: auth });
      return (await res.json()).status.at(-1).status === "TASK_RUNNING";
    });
    assert.equal((await call("POST", `/api/v1/task/${killed}/kill`)).status, 202);
    for (const id of [printed, killed, legacy]) {
      await waitFor(`${id} to end`, async () => {
        const res = await fetch(`${base}/api/v1/task/${id}`, { headers: auth });
        const state = (await res.json()).status.at(-1).status as string;
        return ["TASK_FINISHED", "TASK_KILLED", "TASK_FAILED"].includes(state);
      });
    }
    const [events, stdoutFollow, stderrFollow] = await follows;
    keep("SSE task events", events);
    keep("SSE stdout follow", stdoutFollow);
    keep("SSE stderr follow", stderrFollow);

    // Every route of the OpenAPI document, with and without credentials.
    for (const id of [printed, legacy]) {
      for (const { method, path } of openApiRoutes(id)) {
        if (method === "DELETE" || path.endsWith("/events")) continue;
        const body = method === "POST" ? "{}" : undefined;
        await call(method, path, { body });
        await call(method, path, { body, withAuth: false });
      }
    }
    // Ranges of the output that cut the printed secret anywhere.
    const raw = await Deno.readTextFile(
      `${
        (JSON.parse(
          (await call("GET", `/api/v1/task/${printed}`)).text,
        ) as { sandbox_path: string }).sandbox_path
      }/stdout`,
    );
    const at = raw.indexOf(secrets.printed);
    assert.ok(at >= 0, "the agent's file holds the printed value");
    for (let offset = at - 4; offset < at + secrets.printed.length; offset += 3) {
      for (const length of [5, 9, 20]) {
        await call("GET", `/api/v1/task/${printed}/stdout?offset=${offset}&length=${length}`);
      }
    }
    // Lists in every state, and pages.
    for (const q of ["", "?state=", "?state=terminated", "?limit=1", "?label=scan=yes"]) {
      await call("GET", `/api/v1/task${q}`);
      await call("GET", `/task${q}`);
    }
    const html = { accept: "text/html" };
    for (
      const path of [
        "/",
        `/?from=${printed}`,
        `/?from=${killed}`,
        `/?from=${legacy}`,
        "/tasks",
        "/tasks?state=all",
        "/tasks?state=terminated&limit=1",
        `/task/${printed}`,
        `/task/${killed}`,
        `/task/${legacy}`,
        "/no-such-page",
        `/task/no-such-task`,
      ]
    ) {
      await call("GET", path, { headers: html });
      await call("GET", path, { headers: html, withAuth: false });
    }
    // A page with wrong credentials, and one with the right user and the wrong password.
    await call("GET", "/tasks", {
      headers: { ...html, authorization: `Basic ${btoa(`${USER}:${newSecret()}`)}` },
      withAuth: false,
    });
    await call("GET", "/metrics");
    await call("GET", "/api/v1/health");
    await call("GET", "/api/v1/health", { withAuth: false });
    // The finished legacy task is deleted; the killed one is gone for its stream too.
    assert.equal((await call("DELETE", `/api/v1/task/${legacy}`)).status, 202);
    await call("DELETE", `/task/${killed}`);
    await call("GET", `/api/v1/task/${legacy}`);

    // The command-line client, in JSON and as text; each must succeed.
    for (
      const args of [
        ["task", printed, "--json"],
        ["task", printed],
        ["ls", "--all", "--json"],
        ["logs", printed, "--json"],
        ["logs", printed, "--file", "stderr", "--follow"],
      ]
    ) {
      const out = await cli(base, secrets.password, args);
      assert.match(out, /^exit 0\n/, out);
      keep(`cli ${args.join(" ")}`, out);
    }

    // The callbacks the printer and the killed task sent.
    await waitFor("the final callbacks", () => Promise.resolve(receiver.received.length >= 2));
    for (const [i, r] of receiver.received.entries()) keep(`callback ${i}`, r);

    // The printer's served output masks its value (so the task did print it).
    const served = await call("GET", `/api/v1/task/${printed}/stdout`);
    assert.match(served.text, new RegExp(`out:\\*{7}`));
    assert.ok(served.text.includes("plain:visible"));
    assert.ok(stdoutFollow.includes(MASK), "the followed stdout shows the mask");
    assert.ok(stderrFollow.includes(`err:${MASK}`), "the followed stderr shows the mask");
  } finally {
    const status = await server.kill("SIGTERM");
    // The debug log saw every request (so there was a log to scan).
    assert.ok(server.stderr().split("\n").length > requests, "one log line per request at least");
    keep(`server stderr (${logformat})`, server.stderr());
    keep(`server stdout (${logformat})`, server.stdout());
    assert.equal(status.code, 0, server.stderr());
  }
  // Stopping the server ends its live streams.
  keep("SSE global events", await global);
  const inside: Output[] = [{ where: "cluster record", text: recorder.lines.join("\n") }];
  for await (const f of walk(cluster.workDir)) inside.push(f);
  return { outputs, inside, secrets: secretsAndForms, requests };
}

/** Every file under `dir`, as an output. */
async function* walk(dir: string): AsyncGenerator<Output> {
  for await (const e of Deno.readDir(dir)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) yield* walk(path);
    else if (e.isFile) yield { where: path, text: await Deno.readTextFile(path) };
  }
}

Deno.test("secrets: masked_env values and credentials appear nowhere but in the task's environment", async (t) => {
  const rounds = scale(1, 3);
  for (let round = 1; round <= rounds; round++) {
    for (const logformat of ["text", "json"] as const) {
      await t.step(`logformat ${logformat}, round ${round}/${rounds}`, async () => {
        const started = performance.now();
        const run = await exercise(logformat);
        const leaks = findLeaks(run.outputs, run.secrets);
        assert.deepEqual(leaks, [], "no secret in any response, page, stream, log or callback");
        // The positive control: the same scan finds each launched task's values in its own
        // environment (the LAUNCH the cluster received) and the printed one in the raw file.
        const found = new Set(findLeaks(run.inside, run.secrets).map((l) => l.secret));
        for (const name of ["printed", "quiet", "killed", "legacy"]) {
          assert.ok(found.has(name), `the scan finds "${name}" inside the cluster`);
        }
        for (
          const name of ["password", "callback_secret", "mesos_secret", "invalid", "authorization"]
        ) {
          assert.ok(!found.has(name), `"${name}" never reaches the cluster`);
        }
        const bytes = run.outputs.reduce((n, o) => n + o.text.length, 0);
        // deno-lint-ignore no-console
        console.log(
          `secrets scan (${logformat}): ${run.requests} requests, ${run.outputs.length} outputs, ` +
            `${bytes} characters scanned, ${((performance.now() - started) / 1000).toFixed(1)} s`,
        );
      });
    }
  }
});
