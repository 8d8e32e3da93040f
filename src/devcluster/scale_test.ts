import assert from "node:assert/strict";
import { RecordIODecoder } from "../mesos/recordio.ts";
import { startDevCluster } from "./mod.ts";
import {
  acceptCall,
  ackCall,
  eventually,
  frameworkInfo,
  type Json,
  post,
  subscribe,
} from "./_test_helpers.ts";

function tasksFor(offer: Json, count: number, prefix: string, labels?: Json): Json[] {
  return Array.from({ length: count }, (_, i) => ({
    name: `${prefix}-${i}`,
    task_id: { value: `${prefix}-${i}` },
    agent_id: offer.agent_id,
    resources: [
      { name: "cpus", type: "SCALAR", scalar: { value: 0.01 } },
      { name: "mem", type: "SCALAR", scalar: { value: 1 } },
    ],
    command: { value: "true" },
    ...(labels ? { labels } : {}),
  }));
}

Deno.test("simulated executor: 1,000 agents take 100,000 tasks", async () => {
  await using c = await startDevCluster({
    agents: 1000,
    executor: "simulated",
    simulateDurationMs: 3_600_000,
    agentResources: "cpus:1;mem:100",
    allocationIntervalMs: 60_000,
    agentHttp: false,
    statusUpdateRetryMs: 600_000, // no resends while the test runs, so updates can be counted
  });
  // A lean scheduler: it counts UPDATE records instead of parsing 100,000 of them.
  const res = await fetch(c.schedulerUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ type: "SUBSCRIBE", subscribe: { framework_info: frameworkInfo() } }),
  });
  const streamId = res.headers.get("mesos-stream-id")!;
  const reader = res.body!.getReader();
  const decoder = new RecordIODecoder();
  const text = new TextDecoder();
  let frameworkId = "";
  let offers: Json[] = [];
  let updates = 0;
  const reading = (async () => {
    while (true) {
      const { value, done } = await reader.read();
      if (done) return;
      for (const bytes of decoder.decode(value)) {
        const record = text.decode(bytes);
        if (record.startsWith('{"type":"UPDATE"')) updates++;
        else if (record.startsWith('{"type":"SUBSCRIBED"')) {
          frameworkId = JSON.parse(record).subscribed.framework_id.value;
        } else if (record.startsWith('{"type":"OFFERS"')) offers = JSON.parse(record).offers.offers;
      }
    }
  })();
  await eventually(() => offers.length > 0);
  assert.equal(offers.length, 1000);
  let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < offers.length) {
      const offer = offers[next++];
      const call = acceptCall([offer.id.value], tasksFor(offer, 100, offer.agent_id.value));
      const r = await post(c.schedulerUrl, { ...call, framework_id: { value: frameworkId } }, {
        "mesos-stream-id": streamId,
      });
      assert.equal(r.status, 202);
    }
  }));
  assert.equal(c.master!.stats.tasksLaunched, 100_000);
  assert.equal(c.agents.reduce((n, a) => n + a.activeTaskCount, 0), 100_000);
  await eventually(() => updates >= 100_000, 60_000);
  assert.equal(c.master!.stats.updatesSent, 100_000); // one TASK_STARTING each, waiting for its ACK
  await reader.cancel();
  await reading;
});

Deno.test("simulated executor: tasks finish after the devcluster.duration label and free their resources", async () => {
  await using c = await startDevCluster({
    agents: 10,
    executor: "simulated",
    agentResources: "cpus:1;mem:100",
    allocationIntervalMs: 20,
    agentHttp: false,
  });
  const sub = await subscribe(c.schedulerUrl, frameworkInfo());
  const offers = (await sub.next((e) => e.type === "OFFERS")).offers.offers;
  const labels = { labels: [{ key: "devcluster.duration", value: "20ms" }] };
  for (const offer of offers) {
    await sub.call(
      acceptCall([offer.id.value], tasksFor(offer, 10, offer.agent_id.value, labels), 0),
    );
  }
  let finished = 0;
  while (finished < 100) {
    const u = await sub.next((e) => e.type === "UPDATE");
    await sub.call(ackCall(u));
    if (u.update.status.state === "TASK_FINISHED") finished++;
    else assert.ok(["TASK_STARTING", "TASK_RUNNING"].includes(u.update.status.state));
  }
  await eventually(() =>
    (c.state() as Json).slaves.every((s: Json) => s.used_resources.cpus === 0)
  );
  await sub.close();
});
