import assert from "node:assert/strict";
import { startDevCluster } from "./mod.ts";
import {
  acceptCall,
  ackCall,
  commandTask,
  eventually,
  frameworkInfo,
  type Json,
  post,
  stateOf,
  subscribe,
  updateFor,
} from "./_test_helpers.ts";

const offersEvent = (e: Json) => e.type === "OFFERS";
const simulated = { executor: "simulated" as const, simulateDurationMs: 60_000 };

Deno.test("failover timeout: 403 while disconnected, then the framework is removed and its tasks killed", async () => {
  await using c = await startDevCluster({ agents: 1, allocationIntervalMs: 20, ...simulated });
  const sub = await subscribe(c.schedulerUrl, frameworkInfo({ failover_timeout: 0.3 }));
  const offer = (await sub.next(offersEvent)).offers.offers[0];
  await sub.call(acceptCall([offer.id.value], [commandTask(offer, "orphan", { value: "x" })]));
  await sub.next(updateFor("orphan", "TASK_STARTING"));
  await sub.close();
  const notSubscribed = await eventually(async () => {
    const r = await sub.call({ type: "REVIVE" });
    return r.status === 403 ? r : null;
  });
  assert.equal(notSubscribed!.text_, "Framework is not subscribed");
  assert.equal(c.agents[0].activeTaskCount, 1);
  await eventually(async () => (await sub.call({ type: "REVIVE" })).status === 400);
  const gone = await sub.call({ type: "REVIVE" });
  assert.equal(gone.text_, "Framework cannot be found");
  assert.equal(c.agents[0].activeTaskCount, 0);
  const state = c.state() as Json;
  assert.equal(state.completed_frameworks[0].completed_tasks[0].state, "TASK_KILLED");
  const res = await post(c.schedulerUrl, {
    type: "SUBSCRIBE",
    framework_id: { value: sub.frameworkId },
    subscribe: { framework_info: frameworkInfo({ id: { value: sub.frameworkId } }) },
  });
  assert.equal(res.status, 200);
  assert.match(res.text_, /\{"type":"ERROR","error":\{"message":"Framework has been removed"\}\}$/);
});

Deno.test("resubscribing within the failover timeout keeps tasks and resends unacknowledged updates", async () => {
  await using c = await startDevCluster({ agents: 1, allocationIntervalMs: 20, ...simulated });
  const info = frameworkInfo({ failover_timeout: 60 });
  const sub = await subscribe(c.schedulerUrl, info);
  const offer = (await sub.next(offersEvent)).offers.offers[0];
  await sub.call(acceptCall([offer.id.value], [commandTask(offer, "keep", { value: "x" })]));
  const starting = await sub.next(updateFor("keep", "TASK_STARTING"));
  c.dropStream(sub.frameworkId);
  await sub.closed;
  const again = await subscribe(c.schedulerUrl, info, { frameworkId: sub.frameworkId });
  const resent = await again.next(updateFor("keep"));
  assert.equal(resent.update.status.uuid, starting.update.status.uuid);
  await again.call(ackCall(resent));
  assert.equal((await again.next(updateFor("keep"))).update.status.state, "TASK_RUNNING");
  await again.call({ type: "TEARDOWN" });
  await again.closed;
  assert.ok(!again.events.some((e) => e.type === "ERROR"));
  assert.equal(c.agents[0].activeTaskCount, 0);
});

Deno.test("removing an agent: TASK_GONE for a PARTITION_AWARE framework, then FAILURE", async () => {
  await using c = await startDevCluster({ agents: 2, allocationIntervalMs: 20, ...simulated });
  const pa = await subscribe(
    c.schedulerUrl,
    frameworkInfo({ capabilities: [{ type: "PARTITION_AWARE" }] }),
  );
  const offers = (await pa.next(offersEvent)).offers.offers;
  const target = c.agents[0].id;
  const onTarget = offers.find((o: Json) => o.agent_id.value === target)!;
  await pa.call(acceptCall([onTarget.id.value], [commandTask(onTarget, "doomed", { value: "x" })]));
  await pa.next(updateFor("doomed", "TASK_STARTING"));
  await c.removeAgent(target);
  const gone = (await pa.next(updateFor("doomed", "TASK_GONE"))).update.status;
  assert.equal(gone.reason, "REASON_AGENT_REMOVED");
  assert.equal(gone.source, "SOURCE_MASTER");
  assert.equal(gone.uuid, undefined);
  const failure = await pa.next((e) => e.type === "FAILURE");
  assert.deepEqual(failure.failure, { agent_id: { value: target } });
  await pa.close();
});

Deno.test("partition and heal: TASK_UNREACHABLE, then the task reports TASK_RUNNING again", async () => {
  await using c = await startDevCluster({
    agents: 1,
    allocationIntervalMs: 20,
    statusUpdateRetryMs: 50,
    ...simulated,
  });
  const sub = await subscribe(
    c.schedulerUrl,
    frameworkInfo({ capabilities: [{ type: "PARTITION_AWARE" }] }),
  );
  const offer = (await sub.next(offersEvent)).offers.offers[0];
  await sub.call(acceptCall([offer.id.value], [commandTask(offer, "p1", { value: "x" })]));
  await sub.call(ackCall(await sub.next(updateFor("p1", "TASK_STARTING"))));
  const running = await sub.next(updateFor("p1", "TASK_RUNNING"));
  c.partitionAgent(offer.agent_id.value);
  const unreachable = (await sub.next(updateFor("p1", "TASK_UNREACHABLE"))).update.status;
  assert.ok(unreachable.unreachable_time.nanoseconds > 0);
  await sub.next((e) => e.type === "FAILURE");
  // Explicit reconciliation of an unreachable task.
  await sub.call({ type: "RECONCILE", reconcile: { tasks: [{ task_id: { value: "p1" } }] } });
  assert.equal(
    (await sub.next(updateFor("p1"))).update.status.message,
    "Reconciliation: Task is unreachable",
  );
  c.healAgent(offer.agent_id.value);
  const back = await sub.next(updateFor("p1", "TASK_RUNNING"));
  assert.equal(back.update.status.uuid, running.update.status.uuid);
  await sub.close();
});

Deno.test("dropped acknowledgements: the update keeps coming until an ACK gets through", async () => {
  await using c = await startDevCluster({
    agents: 1,
    allocationIntervalMs: 20,
    statusUpdateRetryMs: 30,
    ...simulated,
  });
  const sub = await subscribe(c.schedulerUrl);
  const offer = (await sub.next(offersEvent)).offers.offers[0];
  await sub.call(acceptCall([offer.id.value], [commandTask(offer, "a1", { value: "x" })]));
  const first = await sub.next(updateFor("a1", "TASK_STARTING"));
  c.dropAcks(1);
  await sub.call(ackCall(first));
  await sub.next(updateFor("a1", "TASK_STARTING"));
  await sub.call(ackCall(first));
  await sub.next(updateFor("a1", "TASK_RUNNING"));
  await sub.close();
});

Deno.test("stopped heartbeats: none arrive until resumed", async () => {
  await using c = await startDevCluster({ agents: 0, heartbeatIntervalSeconds: 0.02 });
  c.stopHeartbeats();
  const sub = await subscribe(c.schedulerUrl);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(sub.events.filter((e) => e.type === "HEARTBEAT").length, 0);
  c.resumeHeartbeats();
  await sub.next((e) => e.type === "HEARTBEAT");
  await sub.close();
});

Deno.test("two masters: the follower redirects with a scheme-less Location; fail-over elects it", async () => {
  await using c = await startDevCluster({
    agents: 1,
    masters: 2,
    allocationIntervalMs: 20,
    ...simulated,
  });
  const [leader, follower] = c.masterUrls;
  const leaderHost = new URL(leader).host;
  const res = await fetch(`${follower}/api/v1/scheduler`, {
    method: "POST",
    headers: { "content-type": "text/plain" },
    body: "anything",
    redirect: "manual",
  });
  assert.equal(res.status, 307);
  assert.equal(res.headers.get("location"), `//${leaderHost}/master/api/v1/scheduler`);
  await res.body?.cancel();
  const state = await fetch(`${follower}/state?x=1`, { redirect: "manual" });
  assert.equal(state.headers.get("location"), `//${leaderHost}/master/state?x=1`);
  await state.body?.cancel();

  const info = frameworkInfo({ failover_timeout: 60, capabilities: [{ type: "PARTITION_AWARE" }] });
  const sub = await subscribe(`${leader}/api/v1/scheduler`, info);
  const offer = (await sub.next(offersEvent)).offers.offers[0];
  await sub.call(acceptCall([offer.id.value], [commandTask(offer, "survivor", { value: "x" })]));
  const starting = await sub.next(updateFor("survivor", "TASK_STARTING"));
  const oldMasterId = c.master!.id;
  await c.failover();
  await sub.closed;
  assert.equal(c.masterUrl, follower);
  assert.notEqual(c.master!.id, oldMasterId);
  const back = await fetch(`${leader}/master/redirect`, { redirect: "manual" });
  assert.equal(back.headers.get("location"), `//${new URL(follower).host}`);
  await back.body?.cancel();
  // The new master has amnesia, but the agent reregisters with the task: resubscribing works.
  const again = await subscribe(c.schedulerUrl, info, { frameworkId: sub.frameworkId });
  const resent = await again.next(updateFor("survivor"));
  assert.equal(resent.update.status.uuid, starting.update.status.uuid);
  const offers = (await again.next(offersEvent)).offers.offers[0];
  assert.ok(offers.id.value.startsWith(c.master!.id));
  await again.close();
});

Deno.test("three masters: killing the leader (over HTTP, on itself) promotes the next, which recovers the tasks", async () => {
  await using c = await startDevCluster({
    agents: 1,
    masters: 3,
    allocationIntervalMs: 20,
    ...simulated,
  });
  const [first, second, third] = c.masterUrls;
  const info = frameworkInfo({ failover_timeout: 60 });
  const sub = await subscribe(`${first}/api/v1/scheduler`, info);
  const offer = (await sub.next(offersEvent)).offers.offers[0];
  await sub.call(acceptCall([offer.id.value], [commandTask(offer, "kept", { value: "x" })]));
  await sub.next(updateFor("kept", "TASK_STARTING"));
  // The request asking for the kill reaches the leader itself and still gets its answer.
  const killed = await post(`${first}/devcluster/master/kill`, {});
  assert.equal(killed.status, 200);
  assert.deepEqual(JSON.parse(killed.text_), { killed: first });
  await sub.closed;
  await assert.rejects(fetch(`${first}/health`), "the killed master is gone");
  assert.equal(c.masterUrl, second);
  const redirect = await fetch(`${third}/api/v1/scheduler`, { method: "POST", redirect: "manual" });
  assert.equal(redirect.status, 307);
  assert.equal(
    redirect.headers.get("location"),
    `//${new URL(second).host}/master/api/v1/scheduler`,
  );
  await redirect.body?.cancel();
  // The agent reregistered with its task: the new leader knows it and resends its update.
  const again = await subscribe(c.schedulerUrl, info, { frameworkId: sub.frameworkId });
  await again.next(updateFor("kept", "TASK_STARTING"));
  const tasks = (c.state().frameworks as { tasks: { id: string }[] }[])[0].tasks;
  assert.deepEqual(tasks.map((t) => t.id), ["kept"]);
  const state = await (await fetch(`${second}/devcluster/state`)).json();
  assert.deepEqual(
    state.masters.map((m: { leading: boolean; killed: boolean }) => [m.leading, m.killed]),
    [[false, true], [true, false], [false, false]],
  );
  await c.killMaster();
  await assert.rejects(c.killMaster(), /last one alive/);
  await again.close();
});

Deno.test("fail-over: the registry's unreachable and removed agents are known to the new leader, not awaited", async () => {
  await using c = await startDevCluster({ agents: 3, masters: 2, ...simulated });
  const [up, cut, removed] = c.agents.map((a) => a.id);
  c.partitionAgent(cut);
  await c.removeAgent(removed);
  await c.failover();
  const info = frameworkInfo({ capabilities: [{ type: "PARTITION_AWARE" }] });
  const sub = await subscribe(c.schedulerUrl, info);
  await eventually(() => c.master!.recoveringAgents.size === 0);
  const reconcile = (taskId: string, agentId: string) =>
    sub.call({
      type: "RECONCILE",
      reconcile: { tasks: [{ task_id: { value: taskId }, agent_id: { value: agentId } }] },
    });
  await reconcile("t-cut", cut);
  assert.equal(stateOf(await sub.next(updateFor("t-cut"))), "TASK_UNREACHABLE");
  await reconcile("t-removed", removed);
  assert.equal(stateOf(await sub.next(updateFor("t-removed"))), "TASK_GONE_BY_OPERATOR");
  await reconcile("t-up", up);
  assert.equal(stateOf(await sub.next(updateFor("t-up"))), "TASK_GONE");
  const state = c.state();
  assert.equal(state.activated_slaves, 1);
  assert.equal(state.unreachable_slaves, 1);
  // The partitioned agent heals: it registers with the new leader as usual.
  c.healAgent(cut);
  assert.equal(c.state().activated_slaves, 2);
  await sub.close();
});

Deno.test("restart without memory: reconciliation is withheld while agents are recovering", async () => {
  await using c = await startDevCluster({
    agents: 1,
    allocationIntervalMs: 20,
    agentReregisterDelayMs: 200,
    ...simulated,
  });
  const info = frameworkInfo({ failover_timeout: 60, capabilities: [{ type: "PARTITION_AWARE" }] });
  const sub = await subscribe(c.schedulerUrl, info);
  await sub.next(offersEvent);
  await c.restartMaster({ memory: false });
  await sub.closed;
  const again = await subscribe(c.schedulerUrl, info, { frameworkId: sub.frameworkId });
  await again.call({ type: "RECONCILE", reconcile: { tasks: [{ task_id: { value: "nobody" } }] } });
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(!again.events.some(updateFor("nobody")));
  await new Promise((r) => setTimeout(r, 250));
  await again.call({ type: "RECONCILE", reconcile: { tasks: [{ task_id: { value: "nobody" } }] } });
  assert.equal((await again.next(updateFor("nobody"))).update.status.state, "TASK_UNKNOWN");
  await again.close();
});

Deno.test("restart with memory and a recovery window answers 503 first", async () => {
  await using c = await startDevCluster({ agents: 0 });
  const sub = await subscribe(c.schedulerUrl, frameworkInfo({ failover_timeout: 60 }));
  await c.restartMaster({ memory: true, recoveryMs: 100 });
  await sub.closed;
  const busy = await post(c.schedulerUrl, { type: "REVIVE" });
  assert.equal(busy.status, 503);
  assert.equal(busy.text_, "Master has not finished recovery");
  await new Promise((r) => setTimeout(r, 120));
  const again = await subscribe(c.schedulerUrl, frameworkInfo({ failover_timeout: 60 }), {
    frameworkId: sub.frameworkId,
  });
  assert.equal(again.frameworkId, sub.frameworkId);
  await again.close();
});

Deno.test("control API under /devcluster and injected responses", async () => {
  await using c = await startDevCluster({ agents: 1, allocationIntervalMs: 20 });
  const state = await (await fetch(`${c.url}/devcluster/state`)).json();
  assert.equal(state.agents.length, 1);
  const ctl = (path: string) => fetch(`${c.url}/devcluster/${path}`, { method: "POST" });
  const inject = await ctl("faults/next?status=503&type=SUBSCRIBE&body=No%20leader%20elected");
  await inject.body?.cancel();
  const refused = await post(c.schedulerUrl, {
    type: "SUBSCRIBE",
    subscribe: { framework_info: frameworkInfo() },
  });
  assert.equal(refused.status, 503);
  assert.equal(refused.text_, "No leader elected");
  const sub = await subscribe(c.schedulerUrl);
  await sub.next(offersEvent);
  const added = await (await ctl("agents")).json();
  assert.match(added.id, /-S1$/);
  const partition = await ctl(`agents/${encodeURIComponent(c.agents[0].id)}/partition`);
  assert.equal(partition.status, 200);
  await partition.body?.cancel();
  await sub.next((e) => e.type === "FAILURE");
  const drop = await ctl(`frameworks/${sub.frameworkId}/drop-stream`);
  await drop.body?.cancel();
  await sub.closed;
  const unknown = await ctl("nothing");
  assert.equal(unknown.status, 404);
  await unknown.body?.cancel();
});

Deno.test("--record writes one JSON line per call and event", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/traffic.jsonl`;
    {
      await using c = await startDevCluster({ agents: 1, allocationIntervalMs: 20, record: file });
      const sub = await subscribe(c.schedulerUrl);
      await sub.next(offersEvent);
      await sub.call({ type: "SUPPRESS" });
      await sub.close();
    }
    const lines = (await Deno.readTextFile(file)).trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(lines.slice(0, 3).map((l) => [l.dir, l.body.type]), [
      ["call", "SUBSCRIBE"],
      ["event", "SUBSCRIBED"],
      ["event", "HEARTBEAT"],
    ]);
    assert.ok(lines.some((l) => l.dir === "call" && l.body.type === "SUPPRESS"));
    assert.ok(lines.every((l) => !Number.isNaN(Date.parse(l.at))));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a stalled stream stays open and silent; a corrupt stream breaks the decoder", async () => {
  await using c = await startDevCluster({ agents: 0, heartbeatIntervalSeconds: 0.02 });
  const sub = await subscribe(c.schedulerUrl);
  await sub.next((e) => e.type === "HEARTBEAT");
  c.stallStream(sub.frameworkId);
  await new Promise((r) => setTimeout(r, 30));
  const before = sub.events.length;
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(sub.events.length, before);
  assert.equal((await sub.call({ type: "REVIVE" })).status, 202); // still subscribed
  c.unstallStream(sub.frameworkId);
  await sub.next((e) => e.type === "HEARTBEAT");
  c.corruptStream(sub.frameworkId);
  await sub.closed; // the helper's decoder throws on "garbage" and stops reading
  await sub.close();
});

Deno.test("a stall covers the open stream only: resubscribing opens a working one", async () => {
  await using c = await startDevCluster({ agents: 0, heartbeatIntervalSeconds: 0.02 });
  const info = frameworkInfo({ failover_timeout: 60 });
  const sub = await subscribe(c.schedulerUrl, info);
  c.stallStream(sub.frameworkId);
  const again = await subscribe(c.schedulerUrl, info, { frameworkId: sub.frameworkId });
  // The helper returned once SUBSCRIBED arrived; heartbeats flow too.
  await again.next((e) => e.type === "HEARTBEAT");
  assert.ok(!sub.events.some((e) => e.type === "ERROR"), "the stalled stream carried nothing");
  await sub.close();
  await again.close();
});

Deno.test("restarting an agent keeps checkpointed tasks and loses the others", async () => {
  await using c = await startDevCluster({
    agents: 1,
    allocationIntervalMs: 20,
    executor: "simulated",
    simulateDurationMs: 60_000,
  });
  const keeper = await subscribe(
    c.schedulerUrl,
    frameworkInfo({ checkpoint: true, name: "keeper" }),
  );
  const offer = (await keeper.next(offersEvent)).offers.offers[0];
  // The default filter (5 s) keeps the rest of the agent away from "keeper", so "loser" is
  // offered it (with refuse_seconds 0 the fair-share order may hand it back to "keeper").
  await keeper.call(acceptCall([offer.id.value], [commandTask(offer, "kept", { value: "x" })]));
  const starting = await keeper.next(updateFor("kept", "TASK_STARTING"));
  const loser = await subscribe(c.schedulerUrl, frameworkInfo({ name: "loser" }));
  const offer2 = (await loser.next(offersEvent)).offers.offers[0];
  await loser.call(acceptCall([offer2.id.value], [commandTask(offer2, "lost", { value: "x" })]));
  await loser.next(updateFor("lost", "TASK_STARTING"));
  c.restartAgent(offer.agent_id.value);
  const lost = (await loser.next(updateFor("lost", "TASK_LOST"))).update.status;
  assert.equal(lost.reason, "REASON_AGENT_RESTARTED");
  const resent = await keeper.next(updateFor("kept"));
  assert.equal(resent.update.status.uuid, starting.update.status.uuid);
  assert.equal(c.agents[0].activeTaskCount, 1);
  await keeper.close();
  await loser.close();
});

Deno.test("simulated hang labels: a task that never reports, one stuck in TASK_STARTING", async () => {
  await using c = await startDevCluster({
    agents: 1,
    allocationIntervalMs: 20,
    executor: "simulated",
  });
  const sub = await subscribe(c.schedulerUrl);
  const offer = (await sub.next(offersEvent)).offers.offers[0];
  const hang = (value: string) => ({ labels: { labels: [{ key: "devcluster.hang", value }] } });
  await sub.call(acceptCall([offer.id.value], [
    commandTask(offer, "silent", { value: "x" }, { extra: hang("staging") }),
    commandTask(offer, "stuck", { value: "x" }, { extra: hang("starting") }),
  ]));
  await sub.call(ackCall(await sub.next(updateFor("stuck", "TASK_STARTING"))));
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(!sub.events.some(updateFor("silent")));
  assert.equal(sub.events.filter(updateFor("stuck")).length, 1);
  await sub.call({ type: "RECONCILE", reconcile: { tasks: [{ task_id: { value: "silent" } }] } });
  assert.equal((await sub.next(updateFor("silent"))).update.status.state, "TASK_STAGING");
  await sub.close();
});

Deno.test("a delayed response is answered normally after the delay", async () => {
  await using c = await startDevCluster({ agents: 0 });
  const sub = await subscribe(c.schedulerUrl);
  c.injectResponses({ delayMs: 80, type: "REVIVE" });
  const started = Date.now();
  assert.equal((await sub.call({ type: "REVIVE" })).status, 202);
  assert.ok(Date.now() - started >= 70);
  await sub.close();
});

Deno.test("rescind before accept: the ACCEPT meets a RESCIND and its tasks are dropped, once", async () => {
  await using c = await startDevCluster({ agents: 1, allocationIntervalMs: 20, ...simulated });
  const pa = await subscribe(
    c.schedulerUrl,
    frameworkInfo({ capabilities: [{ type: "PARTITION_AWARE" }] }),
  );
  const ctl = await fetch(`${c.url}/devcluster/offers/rescind-before-accept?count=1`, {
    method: "POST",
  });
  assert.equal(ctl.status, 200);
  await ctl.body?.cancel();
  const offer = (await pa.next(offersEvent)).offers.offers[0];
  await pa.call(acceptCall([offer.id.value], [commandTask(offer, "late", { value: "x" })]));
  const rescind = await pa.next((e) => e.type === "RESCIND");
  assert.equal(rescind.rescind.offer_id.value, offer.id.value);
  const dropped = (await pa.next(updateFor("late"))).update.status;
  assert.equal(dropped.state, "TASK_DROPPED");
  assert.equal(dropped.reason, "REASON_INVALID_OFFERS");
  // The resources come back in a new offer, and the next ACCEPT goes through.
  const again = (await pa.next(offersEvent)).offers.offers[0];
  assert.notEqual(again.id.value, offer.id.value);
  await pa.call(acceptCall([again.id.value], [commandTask(again, "next", { value: "x" })]));
  assert.equal((await pa.next(updateFor("next"))).update.status.state, "TASK_STARTING");
  assert.equal(c.agents[0].activeTaskCount, 1);
  await pa.call({ type: "TEARDOWN" });
  await pa.closed;
});
