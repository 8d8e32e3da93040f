/**
 * Graceful shutdown (issue 13, point 8): SIGTERM to the real server (a child process)
 * while clients submit tasks as fast as it answers. In-flight requests complete or fail
 * cleanly: every answer that began arrives whole, nothing but a 202 or a 503 is answered,
 * and no 202 is given for a task that is not stored. Tasks running on the development
 * cluster (which runs on, in this process) keep running: Eremetic sends no KILL or
 * TEARDOWN. A restart on the same database finds every accepted task and brings each to
 * its final state, launched exactly once, and every final-state callback arrives. The
 * full run alternates SIGTERM and SIGINT.
 */
import assert from "node:assert/strict";
import { startDevCluster } from "../../src/devcluster/mod.ts";
import { launchedTaskIds, launchesPerTask, waitFor } from "../_e2e.ts";
import { spawnServer, tempDir } from "../_helpers.ts";
import { scale } from "./_mode.ts";

/** How long the long tasks run: beyond the load, the stop and the restart. */
const LONG_TASK_MS = 10_000;

/** What one submission got, when it began and when it ended (`performance.now()`). */
type Outcome =
  & { name: string; started: number; at: number }
  & (
    | { kind: "accepted"; id: string }
    | { kind: "refused"; status: number }
    /** No answer: the connection was refused or closed before any response. */
    | { kind: "no_answer"; error: string }
    /** An answer began and then broke: never acceptable. */
    | { kind: "broken"; status: number; error: string }
  );

/** The recorded calls of one type, as parsed bodies. */
function callsOf(lines: readonly string[], type: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of lines) {
    const { dir, body } = JSON.parse(line);
    if (dir === "call" && body.type === type) out.push(body);
  }
  return out;
}

/** Submits one task named `name`, calling back `callbackUri`; classifies what came back. */
async function submitOne(
  url: string,
  name: string,
  durationMs: number,
  callbackUri: string,
): Promise<Outcome> {
  const started = performance.now();
  let res: Response;
  try {
    res = await fetch(`${url}/api/v1/task`, {
      method: "POST",
      body: JSON.stringify({
        image: "busybox",
        cpu: 0.01,
        mem: 1,
        command: "true",
        name,
        labels: { "devcluster.duration": `${durationMs}ms` },
        callback_uri: callbackUri,
      }),
    });
  } catch (e) {
    return { kind: "no_answer", name, error: (e as Error).name, started, at: performance.now() };
  }
  let text: string;
  try {
    text = await res.text();
  } catch (e) {
    return {
      kind: "broken",
      status: res.status,
      name,
      error: (e as Error).message,
      started,
      at: performance.now(),
    };
  }
  if (res.status === 202) {
    const id = JSON.parse(text);
    assert.equal(typeof id, "string", text);
    return { kind: "accepted", id, name, started, at: performance.now() };
  }
  return { kind: "refused", status: res.status, name, started, at: performance.now() };
}

interface StoredTask {
  id: string;
  retry: number;
  states: string[];
}

/** How a live stream ended: `null` when its body ended normally, else the error's name. */
async function watchStream(url: string): Promise<{ opened: boolean; error: string | null }> {
  let res: Response;
  try {
    res = await fetch(url, { headers: { accept: "text/event-stream" } });
  } catch (e) {
    return { opened: false, error: (e as Error).name };
  }
  try {
    for await (const _ of res.body!) { /* read to the end */ }
    return { opened: true, error: null };
  } catch (e) {
    return { opened: true, error: (e as Error).name };
  }
}

/**
 * A slow upload: the request line, headers and the first part of a body naming `name`,
 * then nothing more. Resolves with the answer once it has arrived whole (its
 * `content-length`), `null` when the connection ended before any byte of one, or
 * status 0 when an answer began and broke off.
 */
async function slowUpload(
  url: string,
  name: string,
): Promise<{ sent: Promise<void>; answer: Promise<{ status: number; body: string } | null> }> {
  const { hostname, port } = new URL(url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  const part = `{"image":"busybox","cpu":0.01,"mem":1,"name":"${name}",`;
  const head = `POST /api/v1/task HTTP/1.1\r\nhost: ${hostname}:${port}\r\n` +
    `content-type: application/json\r\ncontent-length: ${part.length + 100}\r\n\r\n`;
  const sent = conn.write(new TextEncoder().encode(head + part)).then(() => {});
  const answer = (async () => {
    let text = "";
    const decoder = new TextDecoder();
    const buf = new Uint8Array(4096);
    try {
      while (true) {
        const n = await conn.read(buf);
        if (n === null) return text === "" ? null : { status: 0, body: text };
        text += decoder.decode(buf.subarray(0, n), { stream: true });
        const split = text.indexOf("\r\n\r\n");
        if (split < 0) continue;
        const length = Number(/content-length: *(\d+)/i.exec(text.slice(0, split))?.[1] ?? NaN);
        const body = text.slice(split + 4);
        if (body.length >= length) {
          return { status: Number(text.split(" ")[1]), body };
        }
      }
    } catch {
      // A reset before any byte of an answer is a refusal; after one, a broken answer.
      return text === "" ? null : { status: 0, body: text };
    } finally {
      conn.close();
    }
  })();
  return { sent, answer };
}

/** Every task the server has, by name (listed page by page). */
async function allTasksByName(
  url: string,
): Promise<Map<string, StoredTask[]>> {
  const byName = new Map<string, StoredTask[]>();
  let cursor = "";
  do {
    const res = await fetch(
      `${url}/api/v1/task?state=&limit=10000${cursor ? `&cursor=${cursor}` : ""}`,
    );
    assert.equal(res.status, 200);
    cursor = res.headers.get("x-next-cursor") ?? "";
    for (const t of await res.json()) {
      const list = byName.get(t.name) ?? [];
      list.push({
        id: t.id,
        retry: t.retry,
        states: t.status.map((s: { status: string }) => s.status),
      });
      byName.set(t.name, list);
    }
  } while (cursor);
  return byName;
}

interface RoundResult {
  accepted: number;
  inFlightAtSigterm: number;
  inFlightAccepted: number;
  streamsEnded: number;
  slowUpload: string;
  refused: Record<number, number>;
  noAnswer: number;
  storedWithoutAnswer: number;
  runningAtSigterm: number;
  stillRunningAfterExit: number;
  exitMs: number;
  resumeMs: number;
  finalCallbacks: number;
  /** Final callbacks delivered more than once (delivery is at least once). */
  callbacksTwice: number;
}

async function round(
  loadMs: number,
  clients: number,
  signal: "SIGTERM" | "SIGINT",
): Promise<RoundResult> {
  await using dir = await tempDir();
  const record = `${dir.path}/record.jsonl`;
  await using cluster = await startDevCluster({
    allocationIntervalMs: 50,
    executor: "simulated",
    agentResources: "cpus:1000;mem:1000000;disk:1000000;ports:[31000-32000]",
    record,
  });
  // Final-state callbacks, by task id: each must arrive, across the stop, at least once.
  const finals = new Map<string, number>();
  await using receiver = (() => {
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      const { task_id, status } = await req.json();
      if (status === "TASK_FINISHED") finals.set(task_id, (finals.get(task_id) ?? 0) + 1);
      return new Response("ok");
    });
    return {
      url: `http://127.0.0.1:${server.addr.port}/callback`,
      [Symbol.asyncDispose]: () => server.shutdown(),
    };
  })();
  const dbPath = `${dir.path}/eremetic.kv`;
  const flags = ["--master", cluster.url, "--refuse-seconds", "1", "--loglevel", "info"];
  const first = await spawnServer({ dbPath, flags });
  const outcomes: Outcome[] = [];
  let sigtermAt = Infinity;
  let exitedAt = Infinity;
  let runningAtSigterm: { id: string; name: string }[] = [];
  let stillRunning = 0;
  let slowUploadGot = "";
  const streamEnds: { opened: boolean; error: string | null }[] = [];
  try {
    await waitFor("the subscription", async () => {
      const h = await (await fetch(`${first.url}/api/v1/health`)).json();
      return h.mesos.state === "subscribed";
    });
    // Clients submit back to back; each stops once the server has gone for good.
    let n = 0;
    const client = async () => {
      while (true) {
        // Long tasks outlive the server's stop, short ones end while it is down.
        const long = n % 2 === 0;
        const name = `shut-${n++}-${long ? "long" : "short"}`;
        const outcome = await submitOne(
          first.url,
          name,
          long ? LONG_TASK_MS : 300,
          receiver.url,
        );
        outcomes.push(outcome);
        if (outcome.kind !== "no_answer") continue;
        if (performance.now() > exitedAt + 200) return;
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    // Live streams: one open all along, one reconnecting as EventSource does.
    const streams = [
      watchStream(`${first.url}/api/v1/events`).then((e) => void streamEnds.push(e)),
      (async () => {
        while (performance.now() < exitedAt + 200) {
          const end = await watchStream(`${first.url}/api/v1/events`);
          streamEnds.push(end);
          if (!end.opened) await new Promise((r) => setTimeout(r, 10));
        }
      })(),
    ];
    const load = Array.from({ length: clients }, client);
    await new Promise((r) => setTimeout(r, loadMs));
    // A client in the middle of sending its body when the SIGTERM comes (given time to
    // reach the handler, which then waits for the rest).
    const slow = await slowUpload(first.url, "slow-upload");
    await slow.sent;
    await new Promise((r) => setTimeout(r, 500));
    runningAtSigterm = runningTasks(cluster.state());
    sigtermAt = performance.now();
    const status = await first.kill(signal);
    exitedAt = performance.now();
    assert.equal(status.code, 0, `exit code 0 after SIGTERM\n${first.stderr()}`);
    // It got a whole answer telling it to send again (or, had its request not reached
    // the handler yet, no answer at all), never a broken one.
    const slowAnswer = await slow.answer;
    slowUploadGot = slowAnswer ? String(slowAnswer.status) : "no answer";
    if (slowAnswer) {
      assert.equal(slowAnswer.status, 503, `the slow upload's answer: ${slowAnswer.body}`);
      assert.equal(JSON.parse(slowAnswer.body).error, "request body not received");
    }
    assert.ok(first.stderr().includes(`Received ${signal}`), first.stderr());
    // The cluster runs on: the long tasks that ran at the SIGTERM still run (they were
    // launched at most `loadMs` before it, and run LONG_TASK_MS).
    const now = new Set(runningTasks(cluster.state()).map((t) => t.id));
    stillRunning = runningAtSigterm.filter((t) => now.has(t.id)).length;
    const longGone = runningAtSigterm.filter((t) => t.name.endsWith("-long") && !now.has(t.id));
    assert.deepEqual(longGone, [], "every long task running at the SIGTERM runs on");
    await Promise.all([...load, ...streams]);
  } finally {
    await first.kill("SIGKILL");
  }
  const calls = (await Deno.readTextFile(record)).split("\n").filter((l) => l !== "");
  for (const type of ["KILL", "TEARDOWN"]) {
    assert.deepEqual(callsOf(calls, type), [], `no ${type} on the way down`);
  }

  // Every stream that opened ended cleanly when the server stopped.
  const opened = streamEnds.filter((e) => e.opened);
  assert.ok(opened.length > 0);
  assert.deepEqual(opened.filter((e) => e.error !== null), [], "streams end, never break");

  // In-flight requests completed or failed cleanly.
  const broken = outcomes.filter((o) => o.kind === "broken");
  assert.deepEqual(broken, [], "no answer broke off mid-response");
  const refused: Record<number, number> = {};
  for (const o of outcomes) {
    if (o.kind === "refused") refused[o.status] = (refused[o.status] ?? 0) + 1;
  }
  for (const status of Object.keys(refused)) {
    assert.equal(Number(status), 503, `only 503 while stopping, got ${status}`);
  }
  const accepted = outcomes.filter((o) => o.kind === "accepted");
  assert.ok(accepted.length > 0, "the load was accepted before the SIGTERM");
  assert.ok(outcomes.some((o) => o.kind === "no_answer"), "the load ran into the stop");

  // The restart on the same database finds every accepted task and finishes them all.
  const restartedAt = performance.now();
  await using second = await spawnServer({ dbPath, flags });
  const byName = await allTasksByName(second.url);
  for (const o of accepted) {
    const stored = byName.get(o.name) ?? [];
    assert.deepEqual(stored.map((t) => t.id), [o.id], `the accepted ${o.name} is stored once`);
  }
  const answered = new Set(outcomes.filter((o) => o.kind !== "no_answer").map((o) => o.name));
  for (const o of outcomes) {
    if (o.kind === "refused") assert.ok(!byName.has(o.name), `the refused ${o.name} is not stored`);
  }
  assert.ok(!byName.has("slow-upload"), "the unfinished upload is not stored");
  const storedWithoutAnswer = [...byName.keys()].filter((name) => !answered.has(name)).length;
  await waitFor("every task to finish", async () => {
    const h = await (await fetch(`${second.url}/api/v1/health`)).json();
    return h.tasks.queued === 0 && h.tasks.active === 0;
  }, { timeoutMs: 45_000, intervalMs: 200 });
  const resumeMs = performance.now() - restartedAt;
  await waitFor("every final callback", () => {
    for (const o of accepted) if (!finals.has(o.id)) return Promise.resolve(false);
    return Promise.resolve(true);
  }, { timeoutMs: 20_000, intervalMs: 100 });
  const callbacksTwice = [...finals.values()].filter((n) => n > 1).length;
  const final = await allTasksByName(second.url);
  // Each finished at its first launch: the stop cost no task a retry (an ACCEPT cut off
  // by the stop would show as TASK_GONE from reconciliation, then a relaunch).
  const launches = launchesPerTask(await launchedTaskIds(record));
  for (const [name, [t]] of final) {
    assert.equal(t.states.at(-1), "TASK_FINISHED", `${name} finished`);
    assert.equal(t.retry, 0, `${name} needed no retry: ${t.states.join(" ")}`);
    assert.equal(launches.get(t.id), 1, `${name} launched exactly once`);
  }
  const inFlight = outcomes.filter((o) => o.started < sigtermAt && o.at > sigtermAt);
  return {
    accepted: accepted.length,
    inFlightAtSigterm: inFlight.length,
    inFlightAccepted: inFlight.filter((o) => o.kind === "accepted").length,
    streamsEnded: opened.length,
    slowUpload: slowUploadGot,
    refused,
    noAnswer: outcomes.filter((o) => o.kind === "no_answer").length,
    storedWithoutAnswer,
    runningAtSigterm: runningAtSigterm.length,
    stillRunningAfterExit: stillRunning,
    exitMs: Math.round(exitedAt - sigtermAt),
    resumeMs: Math.round(resumeMs),
    finalCallbacks: finals.size,
    callbacksTwice,
  };
}

/** The tasks the master's state shows TASK_RUNNING. */
function runningTasks(state: Record<string, unknown>): { id: string; name: string }[] {
  const frameworks = state.frameworks as { tasks: { id: string; name: string; state: string }[] }[];
  return frameworks.flatMap((f) => f.tasks.filter((t) => t.state === "TASK_RUNNING"))
    .map(({ id, name }) => ({ id, name }));
}

Deno.test("shutdown: SIGTERM under submission load loses nothing accepted, leaves tasks running, and a restart resumes", async (t) => {
  const rounds = scale(1, 5);
  for (let i = 1; i <= rounds; i++) {
    await t.step(`round ${i}/${rounds}`, async () => {
      // The full run alternates SIGTERM and SIGINT (the same stop).
      const signal = i % 2 === 1 ? "SIGTERM" : "SIGINT";
      const result = await round(scale(1_500, 4_000), scale(8, 32), signal);
      // deno-lint-ignore no-console
      console.log(`shutdown round ${i} (${signal}): ${JSON.stringify(result)}`);
      assert.ok(result.runningAtSigterm > 0, "tasks were running at the SIGTERM");
      assert.ok(result.stillRunningAfterExit > 0, "tasks ran on after Eremetic stopped");
    });
  }
});
