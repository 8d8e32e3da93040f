import { assert, assertEquals, assertStringIncludes } from "../src/testing/asserts.ts";
import { startDevCluster } from "../src/devcluster/mod.ts";
import { getTask, small, submit, waitFor, waitForState } from "./_e2e.ts";
import { freePort, REPO_ROOT, SEED_BODY, spawnServer, tempDir } from "./_helpers.ts";

Deno.test("e2e: SIGTERM stops Eremetic without TEARDOWN: the running task keeps running", async () => {
  await using dir = await tempDir();
  const record = `${dir.path}/record.jsonl`;
  await using cluster = await startDevCluster({ allocationIntervalMs: 100, record });
  const dbPath = `${dir.path}/eremetic.kv`;
  const flags = ["--master", cluster.url, "--refuse-seconds", "1"];
  const server = await spawnServer({ dbPath, flags });
  let id: string;
  try {
    id = await submit(server.url, small("sleep 3"));
    await waitForState(server.url, id, "TASK_RUNNING");
  } finally {
    const status = await server.kill("SIGTERM");
    assertEquals(status.code, 0, server.stderr());
  }
  const calls = (await Deno.readTextFile(record)).split("\n").filter(Boolean).map((l) =>
    JSON.parse(l)
  );
  assert(!calls.some((c) => c.dir === "call" && c.body.type === "TEARDOWN"), "no TEARDOWN sent");
  const state = cluster.state() as { frameworks?: { tasks?: { id: string; state: string }[] }[] };
  const running = (state.frameworks ?? []).flatMap((f) => f.tasks ?? []).find((t) => t.id === id);
  assertEquals(running?.state, "TASK_RUNNING");
  // A new instance picks the task up and sees it finish.
  await using again = await spawnServer({ dbPath, flags });
  await waitForState(again.url, id, "TASK_FINISHED", 30_000);
});

Deno.test("e2e: `eremetic dev` runs the README's curl example to a finished task with output", async () => {
  await using dir = await tempDir();
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `${REPO_ROOT}/main.ts`,
      "dev",
      "--port",
      String(port),
      "--loglevel",
      "warn",
    ],
    cwd: dir.path,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let log = "";
  const drained = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (c) => void (log += c) }),
  ).catch(() => {});
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor("the dev server", async () => {
      const res = await fetch(`${url}/api/v1/health`);
      const health = await res.json();
      return health.mesos?.state === "subscribed";
    }, { timeoutMs: 60_000, intervalMs: 100 });
    const id = await submit(url, SEED_BODY);
    const task = await waitForState(url, id, "TASK_FINISHED", 30_000);
    assertEquals(task.status.at(-1)?.status, "TASK_FINISHED");
    const out = await (await fetch(`${url}/api/v1/task/${id}/stdout`)).text();
    assertStringIncludes(out, String(new Date().getUTCFullYear()));
    assertEquals((await getTask(url, id)).id, id);
  } finally {
    child.kill("SIGINT");
    const status = await child.status;
    await drained;
    assertEquals(status.code, 0, log);
  }
  // The database lives in the working directory.
  const stat = await Deno.stat(`${dir.path}/db/dev.kv`);
  assert(stat.isFile);
});

Deno.test("serve refuses to start on a master address it cannot use (D20)", async () => {
  await using dir = await tempDir();
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `${REPO_ROOT}/main.ts`,
      "serve",
      "--port",
      "0",
      "--address",
      "127.0.0.1",
      "--database-driver",
      "memory",
      "--master",
      // The config's pattern takes any 5 digits; the ZooKeeper URL parser names the bad port.
      "zk://127.0.0.1:99999/mesos",
    ],
    cwd: dir.path,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  assertEquals(out.code, 1);
  assertStringIncludes(
    new TextDecoder().decode(out.stderr),
    'server 1 \\"127.0.0.1:99999\\" has port 99999',
  );
});
