// deno-lint-ignore-file no-console
import assert from "node:assert/strict";
import { devclusterCommand, FlagError, parseDevclusterFlags } from "./devcluster.ts";

Deno.test("parseDevclusterFlags() maps flags to startDevCluster options with the issue's defaults", () => {
  const { options, help, zk } = parseDevclusterFlags([]);
  assert.deepEqual(options, { port: 5050, agents: 2 });
  assert.equal(help, false);
  assert.equal(zk, undefined);
  const parsed = parseDevclusterFlags([
    "--port=0",
    "--agents",
    "3",
    "--agent-resources",
    "cpus:2;mem:1024",
    "--agent-resources",
    "1=cpus:1;mem:512",
    "--agent-attributes=rack:a",
    "--executor",
    "simulated",
    "--allocation-interval",
    "200ms",
    "--simulate-duration",
    "2s",
    "--heartbeat-interval",
    "1s",
    "--record",
    "/tmp/r.jsonl",
  ]).options;
  assert.equal(parsed.port, 0);
  assert.equal(parsed.agentResources, "cpus:2;mem:1024");
  assert.equal(parsed.agentAttributes, "rack:a");
  assert.deepEqual(parsed.agents, [{}, { resources: "cpus:1;mem:512" }, {}]);
  assert.equal(parsed.executor, "simulated");
  assert.equal(parsed.allocationIntervalMs, 200);
  assert.equal(parsed.simulateDurationMs, 2000);
  assert.equal(parsed.heartbeatIntervalSeconds, 1);
  assert.equal(parsed.record, "/tmp/r.jsonl");
  assert.throws(() => parseDevclusterFlags(["--executor", "vm"]), FlagError);
  assert.throws(() => parseDevclusterFlags(["--nope"]), FlagError);
  assert.throws(() => parseDevclusterFlags(["--agents"]), FlagError);
  assert.equal(parseDevclusterFlags(["--zk", "zk://h:2181/mesos"]).zk, "zk://h:2181/mesos");
});

Deno.test("eremetic devcluster prints the master URL, serves, and stops cleanly on SIGTERM", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../../main.ts", import.meta.url).pathname,
      "devcluster",
      "--port",
      "0",
      "--agents",
      "1",
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.getReader();
  let out = "";
  while (!out.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    out += new TextDecoder().decode(value);
  }
  const url = out.trim();
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const state = await (await fetch(`${url}/master/state`)).json();
  assert.equal(state.slaves.length, 1);
  const stderr = new Response(child.stderr).text();
  child.kill("SIGTERM");
  const rest = (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })();
  const [status, log] = await Promise.all([child.status, stderr, rest]);
  assert.equal(status.code, 0);
  assert.match(log, /Stopping the development cluster/);
});

Deno.test("parseDevclusterFlags() names the flag in each error", () => {
  assert.throws(() => parseDevclusterFlags(["--nope"]), { message: 'Unknown flag "--nope"' });
  assert.throws(() => parseDevclusterFlags(["--agents"]), {
    message: "Flag --agents needs a value",
  });
  assert.throws(() => parseDevclusterFlags(["--port", "--agents", "1"]), {
    message: "Flag --port needs a value",
  });
  assert.throws(() => parseDevclusterFlags(["extra"]), { message: 'Unexpected argument "extra"' });
  assert.equal(parseDevclusterFlags(["-h"]).help, true);
});

Deno.test("devclusterCommand() refuses a malformed --zk URL before starting, without its password", async () => {
  const printed: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => printed.push(args.join(" "));
  try {
    assert.equal(await devclusterCommand(["--zk", "zk://bob:hunter2@zk1/mesos"]), 2);
  } finally {
    console.error = original;
  }
  assert.match(
    printed.join("\n"),
    /--zk: Cannot use ZooKeeper URL .*server 1 "zk1" is not host:port/,
  );
  assert.ok(!printed.join("\n").includes("hunter2"));
});
