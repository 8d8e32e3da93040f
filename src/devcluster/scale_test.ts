import assert from "node:assert/strict";
import { startDevCluster } from "./mod.ts";
import {
  acceptCall,
  ackCall,
  eventually,
  frameworkInfo,
  type Json,
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
  const sub = await subscribe(c.schedulerUrl);
  const offers = (await sub.next((e) => e.type === "OFFERS")).offers.offers;
  assert.equal(offers.length, 1000);
  let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < offers.length) {
      const offer = offers[next++];
      const res = await sub.call(
        acceptCall([offer.id.value], tasksFor(offer, 100, offer.agent_id.value)),
      );
      assert.equal(res.status, 202);
    }
  }));
  assert.equal(c.master!.stats.tasksLaunched, 100_000);
  assert.equal(c.agents.reduce((n, a) => n + a.activeTaskCount, 0), 100_000);
  await eventually(() => sub.events.length >= 100_000, 30_000);
  assert.equal(c.master!.stats.updatesSent, 100_000); // one TASK_STARTING each, waiting for its ACK
  await sub.close();
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
