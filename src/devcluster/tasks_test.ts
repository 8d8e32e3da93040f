import assert from "node:assert/strict";
import { startDevCluster } from "./mod.ts";
import {
  acceptCall,
  ackCall,
  commandTask,
  eventually,
  frameworkInfo,
  type Json,
  subscribe,
  type TestSubscription,
  updateFor,
} from "./_test_helpers.ts";

const offersEvent = (e: Json) => e.type === "OFFERS";

function scalar(offer: Json, name: string): number {
  return offer.resources.filter((r: Json) => r.name === name)
    .reduce((s: number, r: Json) => s + r.scalar.value, 0);
}

/** Runs a task to its terminal state, acknowledging every update; returns the updates. */
async function runToEnd(sub: TestSubscription, taskId: string): Promise<Json[]> {
  const seen: Json[] = [];
  while (true) {
    const u = await sub.next(updateFor(taskId), 10_000);
    seen.push(u);
    if (u.update.status.uuid) assert.equal((await sub.call(ackCall(u))).status, 202);
    if (!["TASK_STARTING", "TASK_RUNNING", "TASK_KILLING"].includes(u.update.status.state)) {
      return seen;
    }
  }
}

Deno.test("launch → TASK_STARTING → TASK_RUNNING → TASK_FINISHED, stdout readable via /files/read", async () => {
  await using c = await startDevCluster({ agents: 1, allocationIntervalMs: 20 });
  const sub = await subscribe(c.schedulerUrl);
  const offer = (await sub.next(offersEvent)).offers.offers[0];
  assert.equal(offer.id.value.startsWith(`${c.master!.id}-O`), true);
  assert.equal(offer.agent_id.value, c.agents[0].id);
  assert.deepEqual(offer.url.address.port, c.agents[0].port);
  const task = commandTask(offer, "hello-1", {
    value: 'echo "hello $GREETING from $MESOS_TASK_ID"; echo oops >&2; pwd',
    environment: { variables: [{ name: "GREETING", value: "world" }] },
  });
  assert.equal((await sub.call(acceptCall([offer.id.value], [task]))).status, 202);
  const updates = await runToEnd(sub, "hello-1");
  assert.deepEqual(updates.map((u) => u.update.status.state), [
    "TASK_STARTING",
    "TASK_RUNNING",
    "TASK_FINISHED",
  ]);
  for (const u of updates) {
    const s = u.update.status;
    assert.equal(s.source, "SOURCE_EXECUTOR");
    assert.equal(s.executor_id.value, "hello-1");
    assert.equal(s.agent_id.value, c.agents[0].id);
    assert.equal(typeof s.timestamp, "number");
    assert.equal(atob(s.uuid).length, 16);
  }
  assert.equal(updates[2].update.status.message, "Command exited with status 0");

  // The scheduler's way to the sandbox: agent /state → executor directory → /files/read.
  const agentUrl = `http://${offer.url.address.hostname}:${offer.url.address.port}`;
  const state = await (await fetch(`${agentUrl}/state`)).json();
  const executors = state.frameworks.flatMap((f: Json) => [
    ...f.executors,
    ...f.completed_executors,
  ]);
  const exec = executors.find((e: Json) => e.id === "hello-1");
  assert.ok(exec.directory.startsWith(c.workDir));
  const path = encodeURIComponent(`${exec.directory}/stdout`);
  const probe = await (await fetch(`${agentUrl}/files/read?path=${path}&offset=-1`)).json();
  const expected = `hello world from hello-1\n${exec.directory}\n`;
  assert.deepEqual(probe, { data: "", offset: new TextEncoder().encode(expected).length });
  const all = await (await fetch(`${agentUrl}/files/read?path=${path}&offset=0`)).json();
  assert.deepEqual(all, { data: expected, offset: 0 });
  const part = await (await fetch(`${agentUrl}/files/read?path=${path}&offset=6&length=5`)).json();
  assert.deepEqual(part, { data: "world", offset: 6 });
  const past = await (await fetch(`${agentUrl}/files/read?path=${path}&offset=9999`)).json();
  assert.deepEqual(past, { data: "", offset: 9999 });
  const virtual = encodeURIComponent(
    `/frameworks/${sub.frameworkId}/executors/hello-1/runs/latest/stderr`,
  );
  const err = await (await fetch(`${agentUrl}/files/read?path=${virtual}&offset=0`)).json();
  assert.equal(err.data, "oops\n");
  const negative = await fetch(`${agentUrl}/files/read?path=${path}&offset=-2`);
  assert.equal(negative.status, 400);
  assert.equal(await negative.text(), "Negative offset provided: -2");
  const missing = await fetch(`${agentUrl}/files/read?path=%2Fnope`);
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
  const dir = await fetch(`${agentUrl}/files/read?path=${encodeURIComponent(exec.directory)}`);
  assert.equal(dir.status, 400);
  await dir.body?.cancel();
  const browse = await (await fetch(
    `${agentUrl}/files/browse?path=${encodeURIComponent(exec.directory)}`,
  )).json();
  assert.deepEqual(browse.map((e: Json) => e.path.slice(exec.directory.length)), [
    "/stderr",
    "/stdout",
  ]);
  assert.equal(browse[1].mode, "-rw-r--r--".slice(0, 1) + browse[1].mode.slice(1));
  const download = await fetch(`${agentUrl}/files/download?path=${path}`);
  assert.equal(download.headers.get("content-disposition"), "attachment; filename=stdout");
  assert.equal(await download.text(), expected);
  await sub.close();
});

Deno.test("resource accounting: launched resources leave the next offer; overuse is TASK_ERROR", async () => {
  await using c = await startDevCluster({
    agents: 1,
    allocationIntervalMs: 20,
    agentResources: "cpus:2;mem:1024;ports:[31000-31009]",
  });
  const sub = await subscribe(c.schedulerUrl);
  const offer = (await sub.next(offersEvent)).offers.offers[0];
  assert.equal(scalar(offer, "cpus"), 2);
  const big = commandTask(offer, "too-big", { value: "true" }, { cpus: 3 });
  const ok = commandTask(offer, "sleeper", { value: "sleep 30" }, {
    cpus: 1,
    mem: 256,
    extra: {
      resources: [
        { name: "cpus", type: "SCALAR", scalar: { value: 1 }, role: "*" },
        { name: "mem", type: "SCALAR", scalar: { value: 256 } },
        { name: "ports", type: "RANGES", ranges: { range: [{ begin: 31005, end: 31005 }] } },
      ],
    },
  });
  await sub.call(acceptCall([offer.id.value], [big, ok], 0));
  const error = await sub.next(updateFor("too-big"));
  const s = error.update.status;
  assert.equal(s.state, "TASK_ERROR");
  assert.equal(s.source, "SOURCE_MASTER");
  assert.equal(s.reason, "REASON_TASK_INVALID");
  assert.equal(s.uuid, undefined);
  assert.match(
    s.message,
    /^Total resources cpus\(\*\):3; mem\(\*\):32 required by task and its executor is more than available/,
  );
  const next = (await sub.next(offersEvent)).offers.offers[0];
  assert.notEqual(next.id.value, offer.id.value);
  assert.equal(scalar(next, "cpus"), 1);
  assert.equal(scalar(next, "mem"), 768);
  const ports = next.resources.find((r: Json) => r.name === "ports");
  assert.deepEqual(ports.ranges.range, [{ begin: 31000, end: 31004 }, {
    begin: 31006,
    end: 31009,
  }]);
  const state = c.state() as Json;
  assert.equal(state.slaves[0].used_resources.cpus, 1);
  assert.equal(state.slaves[0].used_resources.ports, "[31005-31005]");
  const task = state.frameworks[0].tasks[0];
  assert.equal(task.executor_id, "");
  assert.equal(task.slave_id, c.agents[0].id);

  // A used offer id: TASK_LOST (not partition aware), REASON_INVALID_OFFERS, no uuid.
  await sub.call(acceptCall([offer.id.value], [commandTask(offer, "late", { value: "true" })]));
  const lost = (await sub.next(updateFor("late"))).update.status;
  assert.equal(lost.state, "TASK_LOST");
  assert.equal(lost.reason, "REASON_INVALID_OFFERS");
  assert.equal(
    lost.message,
    `Task launched with invalid offers: Offer ${offer.id.value} is no longer valid`,
  );
  assert.equal(lost.uuid, undefined);
  await sub.close();
});

Deno.test("invalid tasks get TASK_ERROR in the master's order; PARTITION_AWARE gets TASK_DROPPED", async () => {
  await using c = await startDevCluster({ agents: 1, allocationIntervalMs: 20 });
  const sub = await subscribe(
    c.schedulerUrl,
    frameworkInfo({ capabilities: [{ type: "PARTITION_AWARE" }] }),
  );
  const offer = (await sub.next(offersEvent)).offers.offers[0];
  const base = (id: string, extra: Json = {}) =>
    commandTask(offer, id, { value: "true" }, { extra });
  const tasks = [
    base("dup"),
    base("dup"),
    base("wrong-agent", { agent_id: { value: "elsewhere" } }),
    base("no-resources", { resources: [] }),
    base("both", { executor: { executor_id: { value: "e" } } }),
    base("docker-no-info", { container: { type: "DOCKER" } }),
    base("docker-name", {
      container: {
        type: "DOCKER",
        docker: { image: "x", parameters: [{ key: "name", value: "n" }] },
      },
    }),
  ];
  await sub.call(acceptCall([offer.id.value], tasks));
  const messages: Record<string, string> = {};
  for (let i = 0; i < 6; i++) {
    const u = await sub.next((e) => e.type === "UPDATE" && e.update.status.state === "TASK_ERROR");
    messages[u.update.status.task_id.value] = u.update.status.message;
  }
  assert.equal(messages["dup"], "Task has duplicate ID: dup");
  assert.equal(
    messages["wrong-agent"],
    `Task uses invalid agent elsewhere while agent ${offer.agent_id.value} is expected`,
  );
  assert.equal(messages["no-resources"], "Task uses no resources");
  assert.equal(
    messages["both"],
    "Task should have at least one (but not both) of CommandInfo or ExecutorInfo present",
  );
  assert.match(messages["docker-no-info"], /DockerInfo 'docker' is not set/);
  assert.match(messages["docker-name"], /must not be 'name'/);
  await sub.call(acceptCall(["no-such-offer"], [base("x")]));
  const dropped = (await sub.next(updateFor("x"))).update.status;
  assert.equal(dropped.state, "TASK_DROPPED");
  assert.equal(dropped.reason, "REASON_INVALID_OFFERS");
  await sub.close();
});

Deno.test("a failing command reports TASK_FAILED with its exit code", async () => {
  await using c = await startDevCluster({ agents: 1, allocationIntervalMs: 20 });
  const sub = await subscribe(c.schedulerUrl);
  const offer = (await sub.next(offersEvent)).offers.offers[0];
  await sub.call(acceptCall([offer.id.value], [
    commandTask(offer, "fails", { value: "exit 3" }),
    commandTask(offer, "argv", {
      shell: false,
      value: "/bin/sh",
      arguments: ["sh", "-c", "exit 0"],
    }),
  ]));
  const failed = await runToEnd(sub, "fails");
  assert.equal(failed.at(-1).update.status.state, "TASK_FAILED");
  assert.equal(failed.at(-1).update.status.message, "Command exited with status 3");
  const argv = await runToEnd(sub, "argv");
  assert.equal(argv.at(-1).update.status.state, "TASK_FINISHED");
  await sub.close();
});

Deno.test("a Docker TaskInfo runs its command on the host and says the image was not run", async () => {
  await using c = await startDevCluster({ agents: 1, allocationIntervalMs: 20 });
  const sub = await subscribe(c.schedulerUrl);
  const offer = (await sub.next(offersEvent)).offers.offers[0];
  await sub.call(acceptCall([offer.id.value], [
    commandTask(offer, "docker-1", { value: "echo in-docker" }, {
      extra: { container: { type: "DOCKER", docker: { image: "busybox:1", network: "HOST" } } },
    }),
  ]));
  const updates = await runToEnd(sub, "docker-1");
  const running = updates.find((u) => u.update.status.state === "TASK_RUNNING");
  assert.match(running.update.status.message, /^Docker image "busybox:1" was not run/);
  assert.equal(updates.at(-1).update.status.message, "Container exited with status 0");
  await sub.close();
});

Deno.test("fetcher: file URIs copied, archives extracted, executable honoured; a bad URI fails the launch", async () => {
  await using c = await startDevCluster({ agents: 1, allocationIntervalMs: 20 });
  const src = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${src}/script.sh`, "#!/bin/sh\necho from-script\n");
    await Deno.mkdir(`${src}/pkg`);
    await Deno.writeTextFile(`${src}/pkg/data.txt`, "packed\n");
    const tar = await new Deno.Command("tar", {
      args: ["-czf", `${src}/pkg.tgz`, "-C", src, "pkg"],
    })
      .output();
    assert.ok(tar.success);
    const sub = await subscribe(c.schedulerUrl);
    const offer = (await sub.next(offersEvent)).offers.offers[0];
    await sub.call(acceptCall([offer.id.value], [
      commandTask(offer, "fetch-1", {
        value: "./script.sh && cat pkg/data.txt",
        uris: [
          { value: `file://${src}/script.sh`, executable: true },
          { value: `${src}/pkg.tgz`, cache: true },
        ],
      }),
      commandTask(offer, "fetch-2", { value: "true", uris: [{ value: `${src}/missing` }] }),
    ]));
    const ok = await runToEnd(sub, "fetch-1");
    assert.equal(ok.at(-1).update.status.state, "TASK_FINISHED");
    const bad = await runToEnd(sub, "fetch-2");
    assert.equal(bad.at(-1).update.status.state, "TASK_FAILED");
    assert.equal(bad.at(-1).update.status.reason, "REASON_CONTAINER_LAUNCH_FAILED");
    const agentState = c.agents[0].state() as Json;
    const dir = agentState.frameworks[0].completed_executors
      .find((e: Json) => e.id === "fetch-1").directory;
    assert.equal(await Deno.readTextFile(`${dir}/stdout`), "from-script\npacked\n");
    await sub.close();
  } finally {
    await Deno.remove(src, { recursive: true });
  }
});

Deno.test("an unacknowledged update is resent with the same uuid and blocks the next one", async () => {
  await using c = await startDevCluster({
    agents: 1,
    allocationIntervalMs: 20,
    statusUpdateRetryMs: 40,
  });
  const sub = await subscribe(c.schedulerUrl);
  const offer = (await sub.next(offersEvent)).offers.offers[0];
  await sub.call(acceptCall([offer.id.value], [commandTask(offer, "slow-ack", { value: "true" })]));
  const first = await sub.next(updateFor("slow-ack"));
  const again = await sub.next(updateFor("slow-ack"));
  assert.equal(first.update.status.state, "TASK_STARTING");
  assert.equal(again.update.status.state, "TASK_STARTING");
  assert.equal(again.update.status.uuid, first.update.status.uuid);
  // A wrong uuid is ignored; the right one releases TASK_RUNNING.
  const wrong = ackCall(first);
  wrong.acknowledge.uuid = btoa(
    String.fromCharCode(
      ...crypto.getRandomValues(new Uint8Array(16)).map((b, i) => i === 6 ? 0x40 : b),
    ),
  );
  await sub.call(wrong);
  assert.equal((await sub.next(updateFor("slow-ack"))).update.status.state, "TASK_STARTING");
  await sub.call(ackCall(first));
  const rest = await runToEnd(sub, "slow-ack");
  // With a 40 ms retry a busy machine may see any update resent before its ACK lands:
  // a resend carries the same uuid, so count each update once.
  const byUuid = new Map<string, string>(
    rest.map((u) => [u.update.status.uuid, u.update.status.state]),
  );
  assert.deepEqual(
    [...byUuid.values()].filter((s) => s !== "TASK_STARTING"),
    ["TASK_RUNNING", "TASK_FINISHED"],
  );
  // Resources were freed when TASK_FINISHED was known; the task is forgotten after its ACK.
  await eventually(() => (c.state() as Json).frameworks[0].completed_tasks.length === 1);
  await sub.close();
});

Deno.test("KILL: TASK_KILLING with the capability, then TASK_KILLED; unknown task gets a reconciliation answer", async () => {
  await using c = await startDevCluster({ agents: 1, allocationIntervalMs: 20 });
  const sub = await subscribe(
    c.schedulerUrl,
    frameworkInfo({ capabilities: [{ type: "TASK_KILLING_STATE" }] }),
  );
  const offer = (await sub.next(offersEvent)).offers.offers[0];
  await sub.call(acceptCall([offer.id.value], [
    commandTask(offer, "victim", { value: "sleep 30" }, {
      extra: { kill_policy: { grace_period: { nanoseconds: 100_000_000 } } },
    }),
  ]));
  for (const state of ["TASK_STARTING", "TASK_RUNNING"]) {
    const u = await sub.next(updateFor("victim"));
    assert.equal(u.update.status.state, state);
    await sub.call(ackCall(u));
  }
  assert.equal(
    (await sub.call({ type: "KILL", kill: { task_id: { value: "victim" } } })).status,
    202,
  );
  const rest = await runToEnd(sub, "victim");
  assert.deepEqual(rest.map((u) => u.update.status.state), ["TASK_KILLING", "TASK_KILLED"]);
  assert.match(rest[1].update.status.message, /^Command terminated with signal SIG/);
  await sub.call({ type: "KILL", kill: { task_id: { value: "ghost" } } });
  const ghost = (await sub.next(updateFor("ghost"))).update.status;
  assert.equal(ghost.state, "TASK_LOST");
  assert.equal(ghost.reason, "REASON_RECONCILIATION");
  assert.equal(ghost.uuid, undefined);
  await sub.close();
});

Deno.test("RECONCILE: explicit and implicit answers, per PARTITION_AWARE", async () => {
  await using c = await startDevCluster({
    agents: 1,
    allocationIntervalMs: 20,
    executor: "simulated",
    simulateDurationMs: 60_000,
  });
  const sub = await subscribe(
    c.schedulerUrl,
    frameworkInfo({ capabilities: [{ type: "PARTITION_AWARE" }] }),
  );
  const offer = (await sub.next(offersEvent)).offers.offers[0];
  await sub.call(acceptCall([offer.id.value], [commandTask(offer, "r1", { value: "x" })]));
  const starting = await sub.next(updateFor("r1", "TASK_STARTING"));
  await sub.call(ackCall(starting));
  await sub.next(updateFor("r1", "TASK_RUNNING"));
  // Not acknowledged yet: RUNNING was forwarded, so reconciliation reports RUNNING.
  await sub.call({ type: "RECONCILE", reconcile: { tasks: [] } });
  const implicit = (await sub.next(updateFor("r1"))).update.status;
  assert.equal(implicit.state, "TASK_RUNNING");
  assert.equal(implicit.reason, "REASON_RECONCILIATION");
  assert.equal(implicit.message, "Reconciliation: Latest task state");
  assert.equal(implicit.source, "SOURCE_MASTER");
  assert.equal(implicit.uuid, undefined);
  await sub.call({
    type: "RECONCILE",
    reconcile: {
      tasks: [
        { task_id: { value: "r1" } },
        { task_id: { value: "gone-1" }, agent_id: { value: offer.agent_id.value } },
        { task_id: { value: "unknown-1" } },
      ],
    },
  });
  assert.equal((await sub.next(updateFor("r1"))).update.status.state, "TASK_RUNNING");
  const gone = (await sub.next(updateFor("gone-1"))).update.status;
  assert.equal(gone.state, "TASK_GONE");
  assert.equal(gone.message, "Reconciliation: Task is unknown to the agent");
  assert.equal((await sub.next(updateFor("unknown-1"))).update.status.state, "TASK_UNKNOWN");
  await sub.close();
});

Deno.test("DECLINE filters an agent for refuse_seconds; REVIVE clears it; SUPPRESS stops offers", async () => {
  await using c = await startDevCluster({ agents: 1, allocationIntervalMs: 20 });
  const sub = await subscribe(c.schedulerUrl);
  const offer = (await sub.next(offersEvent)).offers.offers[0];
  await sub.call({
    type: "DECLINE",
    decline: { offer_ids: [offer.id], filters: { refuse_seconds: 3600 } },
  });
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(sub.events.filter(offersEvent).length, 1);
  await sub.call({ type: "REVIVE" });
  const again = (await sub.next(offersEvent)).offers.offers[0];
  assert.notEqual(again.id.value, offer.id.value);
  await sub.call({ type: "SUPPRESS" });
  await sub.call({
    type: "DECLINE",
    decline: { offer_ids: [again.id], filters: { refuse_seconds: 0 } },
  });
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(sub.events.filter(offersEvent).length, 2);
  await sub.close();
});
