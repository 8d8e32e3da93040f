import { collectingLogger, silentLogger } from "../runtime.ts";
import { sampleTask } from "../store/_contract.ts";
import type { TaskRecord } from "../task/mod.ts";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../testing/asserts.ts";
import {
  agentUrlOf,
  createSandboxReader,
  findSandboxDirectory,
  sandboxDirectoryIn,
} from "./mod.ts";

const FRAMEWORK_ID = "5f2b1c9e-0000-4000-8000-000000000001-0000";
const AGENT_ID = "5f2b1c9e-0000-4000-8000-000000000001-S0";
const WORK_DIR = "/var/lib/mesos agent"; // a space, to prove the path is encoded

function sandboxOf(executorId: string, containerId = "c0ffee00-1111-4222-8333-444455556666") {
  return `${WORK_DIR}/slaves/${AGENT_ID}/frameworks/${FRAMEWORK_ID}/executors/${executorId}/runs/${containerId}`;
}

/** A task (as the agent's /state shows it, v0 names). */
function stateTask(id: string, state: string) {
  return {
    id,
    name: "Eremetic task BcDfGh12",
    framework_id: FRAMEWORK_ID,
    executor_id: "",
    slave_id: AGENT_ID,
    state,
    resources: { cpus: 0.1, mem: 64.0, disk: 0.0, gpus: 0.0 },
    statuses: [{ state, timestamp: 1700000000.5 }],
  };
}

/** A command executor of the agent's /state whose id is the task id. */
function executor(taskId: string, running: boolean, directory = sandboxOf(taskId)) {
  return {
    id: taskId,
    name: `Command Executor (Task: ${taskId}) (Command: sh -c 'date')`,
    source: taskId,
    container: "c0ffee00-1111-4222-8333-444455556666",
    directory,
    resources: { cpus: 0.1, mem: 64.0, disk: 0.0, gpus: 0.0 },
    type: "COMMAND",
    tasks: running ? [stateTask(taskId, "TASK_RUNNING")] : [],
    queued_tasks: [],
    completed_tasks: running ? [] : [stateTask(taskId, "TASK_FINISHED")],
  };
}

function framework(id: string, executors: unknown[], completed: unknown[] = []) {
  return {
    id,
    name: "Eremetic",
    user: "root",
    failover_timeout: 604800,
    checkpoint: true,
    hostname: "eremetic.local",
    role: "*",
    roles: ["*"],
    executors,
    completed_executors: completed,
  };
}

function agentState(frameworks: unknown[], completedFrameworks: unknown[] = []) {
  return {
    version: "1.11.0",
    id: AGENT_ID,
    pid: "slave(1)@127.0.0.1:5051",
    hostname: "agent-1",
    resources: { cpus: 8.0, mem: 16384.0, disk: 100000.0, gpus: 0.0, ports: "[31000-32000]" },
    attributes: { rack: "r1" },
    master_hostname: "master-1",
    flags: { work_dir: WORK_DIR, port: "5051" },
    frameworks,
    completed_frameworks: completedFrameworks,
  };
}

interface FakeAgentOptions {
  files?: Record<string, string>;
  state?: unknown;
  /** Serve the state only under the libprocess path (`/slave(1)/state`). */
  libprocessStateOnly?: boolean;
  /** The most bytes one `/files/read` answers (Mesos: 16 pages). */
  readCap?: number;
  /** Answer every request with this status (plain text body). */
  status?: number;
  /** Never answer (until disposed). */
  hang?: boolean;
}

/** An agent speaking the files API and `/state` of reference §9, on a free loopback port. */
function fakeAgent(options: FakeAgentOptions = {}) {
  const { files = {}, state = agentState([]), readCap = 65536 } = options;
  const requests: URL[] = [];
  const held: (() => void)[] = [];
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (req) => {
    const url = new URL(req.url);
    requests.push(url);
    if (options.hang) {
      await new Promise<void>((resolve) => held.push(resolve));
      return new Response("late");
    }
    if (options.status) return new Response("Forbidden or broken", { status: options.status });
    const statePath = options.libprocessStateOnly ? "/slave(1)/state" : "/state";
    if (url.pathname === statePath) return Response.json(state);
    const path = url.searchParams.get("path");
    if (url.pathname === "/files/read" || url.pathname === "/files/download") {
      if (path === null) return new Response("Expecting 'path' to be present", { status: 400 });
      if (!(path in files)) return new Response("", { status: 404 });
      const bytes = encoder.encode(files[path]);
      if (url.pathname === "/files/download") {
        return new Response(bytes, {
          headers: {
            "content-type": "application/octet-stream",
            "content-disposition": `attachment; filename=${path.split("/").at(-1)}`,
          },
        });
      }
      const offset = Number(url.searchParams.get("offset") ?? -1);
      const length = Number(url.searchParams.get("length") ?? -1);
      if (offset === -1) return Response.json({ data: "", offset: bytes.length });
      if (offset >= bytes.length) return Response.json({ data: "", offset });
      const end = Math.min(
        bytes.length,
        offset + Math.min(length === -1 ? bytes.length : length, readCap),
      );
      return Response.json({ data: decoder.decode(bytes.subarray(offset, end)), offset });
    }
    return new Response("", { status: 404 });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    port: server.addr.port,
    requests,
    async [Symbol.asyncDispose]() {
      for (const h of held) h();
      await server.shutdown();
    },
  };
}

function launched(port: number, overrides: Partial<TaskRecord> = {}): TaskRecord {
  const t = sampleTask();
  return {
    ...t,
    status: [...t.status, { time: t.status[0].time + 1, status: "TASK_RUNNING" }],
    framework_id: FRAMEWORK_ID,
    agent_id: AGENT_ID,
    hostname: "agent-1",
    agent_ip: "127.0.0.1",
    agent_port: port,
    sandbox_path: sandboxOf(t.id),
    ...overrides,
  };
}

const STDOUT = "Wed Nov 25 12:00:00 UTC 2026\nline two\nline three\n";

Deno.test("agentUrlOf() builds the agent URL of a launched task only", () => {
  const t = sampleTask();
  assertEquals(agentUrlOf(t), null);
  assertEquals(
    agentUrlOf({ ...t, agent_ip: "10.0.0.7", agent_port: 5051 }),
    "http://10.0.0.7:5051",
  );
  assertEquals(
    agentUrlOf({ ...t, agent_ip: "fd00::7", agent_port: 5051 }),
    "http://[fd00::7]:5051",
  );
  assertEquals(agentUrlOf({ ...t, agent_ip: "10.0.0.7", agent_port: 0 }), null);
});

Deno.test("sandboxDirectoryIn() searches running and completed frameworks and executors", () => {
  const state = agentState(
    [
      framework("other-framework", [executor("t-1", true, "/elsewhere")]),
      framework(FRAMEWORK_ID, [executor("t-1", true)], [executor("t-2", false)]),
    ],
    [framework(FRAMEWORK_ID, [], [executor("t-3", false)])],
  );
  assertEquals(sandboxDirectoryIn(state, FRAMEWORK_ID, "t-1"), sandboxOf("t-1"));
  assertEquals(sandboxDirectoryIn(state, FRAMEWORK_ID, "t-2"), sandboxOf("t-2"));
  assertEquals(sandboxDirectoryIn(state, FRAMEWORK_ID, "t-3"), sandboxOf("t-3"));
  assertEquals(sandboxDirectoryIn(state, FRAMEWORK_ID, "t-4"), null);
  assertEquals(sandboxDirectoryIn(state, "", "t-1"), "/elsewhere");
  assertEquals(sandboxDirectoryIn({}, FRAMEWORK_ID, "t-1"), null);
  // An executor with another id that runs the task (custom executors).
  const custom = {
    ...executor("exec-9", true, "/custom"),
    tasks: [stateTask("t-5", "TASK_RUNNING")],
  };
  assertEquals(
    sandboxDirectoryIn(agentState([framework(FRAMEWORK_ID, [custom])]), FRAMEWORK_ID, "t-5"),
    "/custom",
  );
});

Deno.test("findSandboxDirectory() falls back to /slave(1)/state", async () => {
  await using agent = fakeAgent({
    libprocessStateOnly: true,
    state: agentState([framework(FRAMEWORK_ID, [executor("t-1", true)])]),
  });
  assertEquals(await findSandboxDirectory(agent.url, FRAMEWORK_ID, "t-1"), sandboxOf("t-1"));
  assertEquals(agent.requests.map((u) => u.pathname), ["/state", "/slave(1)/state"]);
});

Deno.test("SandboxReader.read() streams the whole file from /files/download", async () => {
  const t = launched(0);
  await using agent = fakeAgent({ files: { [`${t.sandbox_path}/stdout`]: STDOUT } });
  const reader = createSandboxReader({ logger: silentLogger });
  const res = await reader.read({ ...t, agent_port: agent.port }, "stdout", {});
  assertEquals(res.status, 200);
  assertEquals(res.headers.get("content-type"), "text/plain; charset=UTF-8");
  assertEquals(await res.text(), STDOUT);
  const [req] = agent.requests;
  assertEquals(req.pathname, "/files/download");
  assertEquals(req.searchParams.get("path"), `${t.sandbox_path}/stdout`);
  // Encoded: the space and slashes travel percent-escaped.
  assertStringIncludes(req.search, "%2Fvar%2Flib%2Fmesos%20agent%2F");
});

Deno.test("SandboxReader.read() finds the sandbox in /state when the record has none", async () => {
  const t = launched(0, { sandbox_path: "" });
  const mesosTaskId = `${t.id}.retry-1`;
  await using agent = fakeAgent({
    state: agentState(
      [framework(FRAMEWORK_ID, [executor(mesosTaskId, true)], [executor(t.id, false)])],
      [framework("old-framework", [], [executor(mesosTaskId, false, "/wrong")])],
    ),
    files: { [`${sandboxOf(mesosTaskId)}/stderr`]: "oops\n" },
  });
  const reader = createSandboxReader({ logger: silentLogger });
  const task = { ...t, agent_port: agent.port, mesos_task_id: mesosTaskId };
  const res = await reader.read(task, "stderr", {});
  assertEquals(res.status, 200);
  assertEquals(await res.text(), "oops\n");
  assertEquals(agent.requests.map((u) => u.pathname), ["/state", "/files/download"]);
  // An attempt the agent does not know (yet): no content.
  const none = await reader.read({ ...task, mesos_task_id: `${t.id}.retry-2` }, "stderr", {});
  assertEquals(none.status, 204);
});

Deno.test("SandboxReader.read() reads a range from /files/read with offset and size headers", async () => {
  const t = launched(0);
  await using agent = fakeAgent({ files: { [`${t.sandbox_path}/stdout`]: STDOUT } });
  const reader = createSandboxReader({ logger: silentLogger });
  const task = { ...t, agent_port: agent.port };
  const res = await reader.read(task, "stdout", { offset: 29, length: 8 });
  assertEquals(res.status, 200);
  assertEquals(res.headers.get("content-type"), "text/plain; charset=UTF-8");
  assertEquals(res.headers.get("x-sandbox-offset"), "29");
  assertEquals(res.headers.get("x-sandbox-size"), String(STDOUT.length));
  assertEquals(res.headers.get("x-sandbox-next-offset"), "37");
  assertEquals(await res.text(), "line two");
  assertEquals(
    agent.requests.map((u) => [u.pathname, u.searchParams.get("offset")]),
    [["/files/read", "-1"], ["/files/read", "29"]],
  );

  const tail = await reader.read(task, "stdout", { length: 11 });
  assertEquals(tail.headers.get("x-sandbox-offset"), String(STDOUT.length - 11));
  assertEquals(await tail.text(), "line three\n");

  const past = await reader.read(task, "stdout", { offset: 1000 });
  assertEquals(past.status, 200);
  assertEquals(past.headers.get("x-sandbox-offset"), "1000");
  assertEquals(await past.text(), "");
});

Deno.test("SandboxReader.read() gathers a range larger than one agent read", async () => {
  const t = launched(0);
  const big = "0123456789".repeat(50);
  await using agent = fakeAgent({ files: { [`${t.sandbox_path}/stdout`]: big }, readCap: 64 });
  const reader = createSandboxReader({ logger: silentLogger, maxRangeBytes: 300 });
  const task = { ...t, agent_port: agent.port };
  const rest = await reader.read(task, "stdout", { offset: 10 });
  assertEquals(await rest.text(), big.slice(10, 310));
  assertEquals(rest.headers.get("x-sandbox-size"), "500");
  assertEquals(rest.headers.get("x-sandbox-next-offset"), "310");
  // 1 size probe + ceil(300 / 64) reads.
  assertEquals(agent.requests.length, 1 + 5);
});

Deno.test("SandboxReader.read() answers 204 when the task or its file is not there yet", async () => {
  const t = launched(0);
  await using agent = fakeAgent({ files: {} });
  const reader = createSandboxReader({ logger: silentLogger });
  const task = { ...t, agent_port: agent.port };
  for (const range of [{}, { offset: 0, length: 10 }]) {
    const res = await reader.read(task, "stdout", range);
    assertEquals(res.status, 204);
    assertEquals(res.body, null);
  }
  const queued = await reader.read(sampleTask(), "stdout", {});
  assertEquals(queued.status, 204);
});

Deno.test("SandboxReader.read() answers 502 naming the agent when it cannot be reached", async () => {
  const closed = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    () => new Response(),
  );
  const port = closed.addr.port;
  await closed.shutdown();
  const logger = collectingLogger();
  const reader = createSandboxReader({ logger });
  const t = launched(port);
  const res = await reader.read(t, "stdout", {});
  assertEquals(res.status, 502);
  assertEquals(res.headers.get("content-type"), "application/json; charset=UTF-8");
  const body = await res.json();
  assertEquals(body.error, "agent unavailable");
  assertMatch(
    body.message,
    new RegExp(
      `^Cannot read stdout of task "${
        t.id.replaceAll(".", "\\.")
      }" from agent 127\\.0\\.0\\.1:${port}: .+`,
    ),
  );
  assertEquals(logger.entries[0].level, "warn");
});

Deno.test("SandboxReader.read() answers 502 when the agent does not answer in time", async () => {
  await using agent = fakeAgent({ hang: true });
  const reader = createSandboxReader({ logger: silentLogger, timeoutMs: 50 });
  const t = launched(agent.port);
  for (const range of [{}, { length: 5 }]) {
    const res = await reader.read(t, "stderr", range);
    assertEquals(res.status, 502);
    const body = await res.json();
    assertEquals(
      body.message,
      `Cannot read stderr of task "${t.id}" from agent 127.0.0.1:${agent.port}: no answer within 50 ms`,
    );
  }
  // And while looking the sandbox up.
  const res = await reader.read({ ...t, sandbox_path: "" }, "stdout", {});
  assertEquals(res.status, 502);
  await res.body?.cancel();
});

Deno.test("SandboxReader.read() answers 502 naming any other agent status", async () => {
  await using agent = fakeAgent({ status: 403 });
  const reader = createSandboxReader({ logger: silentLogger });
  const t = launched(agent.port);
  for (const [range, what] of [[{}, "/files/download"], [{ offset: 0 }, "/files/read"]] as const) {
    const res = await reader.read(t, "stdout", range);
    assertEquals(res.status, 502);
    const body = await res.json();
    assertEquals(body.error, "agent error");
    assertStringIncludes(body.message, `${what} answered 403 (Forbidden or broken)`);
  }
  const lookup = await reader.read({ ...t, sandbox_path: "" }, "stdout", {});
  assertEquals(lookup.status, 502);
  assertStringIncludes((await lookup.json()).message, "/state answered 403");
  assert(agent.requests.length >= 3);
});

Deno.test("SandboxReader.read() works against the development cluster's files service", async () => {
  const { FilesService } = await import("../devcluster/files.ts");
  const dir = await Deno.makeTempDir();
  const files = new FilesService();
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    (req) => files.handle(req, new URL(req.url).pathname.slice("/files/".length)),
  );
  try {
    const big = "x".repeat(70_000) + "END\n";
    await Deno.writeTextFile(`${dir}/stdout`, big);
    files.attach(dir, dir);
    const reader = createSandboxReader({ logger: silentLogger });
    const task = launched(server.addr.port, { sandbox_path: dir });
    assertEquals(await (await reader.read(task, "stdout", {})).text(), big);
    const tail = await reader.read(task, "stdout", { length: 4 });
    assertEquals(tail.headers.get("x-sandbox-size"), String(big.length));
    assertEquals(await tail.text(), "END\n");
    // Beyond the agent's 64 KiB per read.
    const all = await reader.read(task, "stdout", { offset: 0 });
    assertEquals((await all.text()).length, big.length);
    assertEquals((await reader.read(task, "stderr", {})).status, 204);
    assertEquals((await reader.read(task, "stderr", { offset: 0 })).status, 204);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SandboxReader.read() shows the task's masked values as *******, whole file and ranges", async () => {
  const t = launched(0, { masked_env: { TOKEN: "tok-5ecret" } });
  const raw = "a tok-5ecret b\nsecond tok-5ecret";
  await using agent = fakeAgent({ files: { [`${t.sandbox_path}/stdout`]: raw }, readCap: 4 });
  const reader = createSandboxReader({ logger: silentLogger });
  const task = { ...t, agent_port: agent.port };
  const whole = await reader.read(task, "stdout", {});
  assertEquals(await whole.text(), "a ******* b\nsecond *******");
  // A range starting inside the value: masked whole, never a piece of it.
  const cut = await reader.read(task, "stdout", { offset: 5, length: 4 });
  assertEquals(await cut.text(), "*******");
  assertEquals(cut.headers.get("x-sandbox-next-offset"), "12");
  // The tail.
  const tail = await reader.read(task, "stdout", { length: 5 });
  assertEquals(await tail.text(), "*******");
  // Following a running task: a trailing prefix of the value is held back.
  const grow = { ...task, masked_env: { TOKEN: "second tok-5ecret and more" } };
  const held = await reader.read(grow, "stdout", { offset: 0, hold: true });
  assertEquals(await held.text(), "a tok-5ecret b\n");
  assertEquals(held.headers.get("x-sandbox-next-offset"), "15");
  // Another task's values are not its own: shown as written.
  const other = await reader.read({ ...task, masked_env: null }, "stdout", {});
  assertEquals(await other.text(), raw);
});
