import assert from "node:assert/strict";
import { startDevCluster } from "./mod.ts";
import {
  acceptCall,
  commandTask,
  frameworkInfo,
  type Json,
  subscribe,
  updateFor,
} from "./_test_helpers.ts";

const offersEvent = (e: Json) => e.type === "OFFERS";

Deno.test("MULTI_ROLE offers carry allocation_info; reserved resources go only to their role", async () => {
  await using c = await startDevCluster({
    agents: 1,
    allocationIntervalMs: 20,
    agentResources: "cpus:2;cpus(batch):1;mem:512",
    agentAttributes: "rack:r7;ssd:1;lvl:[1-3];zone:{a,b}",
  });
  const sub = await subscribe(
    c.schedulerUrl,
    frameworkInfo({ roles: ["batch"], capabilities: [{ type: "MULTI_ROLE" }] }),
  );
  const offer = (await sub.next(offersEvent)).offers.offers[0];
  assert.deepEqual(offer.allocation_info, { role: "batch" });
  assert.ok(offer.resources.every((r: Json) => r.allocation_info?.role === "batch"));
  const cpus = offer.resources.filter((r: Json) => r.name === "cpus");
  assert.deepEqual(cpus.map((r: Json) => [r.role, r.scalar.value]), [["*", 2], ["batch", 1]]);
  assert.deepEqual(offer.attributes.map((a: Json) => a.type), ["TEXT", "SCALAR", "RANGES", "SET"]);
  await sub.close();

  const plain = await subscribe(c.schedulerUrl);
  const other = (await plain.next(offersEvent)).offers.offers[0];
  assert.equal(other.allocation_info, undefined);
  assert.deepEqual(
    other.resources.filter((r: Json) => r.name === "cpus").map((r: Json) => r.role),
    ["*"],
  );
  await plain.close();
});

Deno.test("GPU agents are offered only to GPU_RESOURCES frameworks", async () => {
  await using c = await startDevCluster({
    agents: [{ resources: "cpus:1;mem:128;gpus:1" }, {}],
    allocationIntervalMs: 20,
  });
  const plain = await subscribe(c.schedulerUrl);
  const offers = (await plain.next(offersEvent)).offers.offers;
  assert.deepEqual(offers.map((o: Json) => o.agent_id.value), [c.agents[1].id]);
  await plain.close();
  const gpu = await subscribe(
    c.schedulerUrl,
    frameworkInfo({ capabilities: [{ type: "GPU_RESOURCES" }] }),
  );
  const all = [];
  while (all.length < 2) all.push(...(await gpu.next(offersEvent)).offers.offers);
  assert.ok(all.some((o) => o.resources.some((r: Json) => r.name === "gpus")));
  await gpu.close();
});

Deno.test("UPDATE_FRAMEWORK is synchronous: 200 when applied, 400 for an immutable field", async () => {
  await using c = await startDevCluster({ agents: 0 });
  const sub = await subscribe(c.schedulerUrl);
  const info = { ...frameworkInfo(), id: { value: sub.frameworkId } };
  const renamed = await sub.call({
    type: "UPDATE_FRAMEWORK",
    update_framework: { framework_info: { ...info, name: "renamed" } },
  });
  assert.equal(renamed.status, 200);
  assert.equal((c.state() as Json).frameworks[0].name, "renamed");
  const user = await sub.call({
    type: "UPDATE_FRAMEWORK",
    update_framework: { framework_info: { ...info, user: "root" } },
  });
  assert.equal(user.status, 400);
  assert.match(user.text_, /^FrameworkInfo update is not valid: /);
  await sub.close();
});

Deno.test("removing an agent: TASK_LOST for a framework that is not PARTITION_AWARE; RESCIND of its offers", async () => {
  await using c = await startDevCluster({
    agents: 1,
    allocationIntervalMs: 20,
    executor: "simulated",
    simulateDurationMs: 60_000,
    agentResources: "cpus:2;mem:256",
  });
  const sub = await subscribe(c.schedulerUrl);
  const offer = (await sub.next(offersEvent)).offers.offers[0];
  await sub.call(
    acceptCall([offer.id.value], [commandTask(offer, "l1", { value: "x" }, { cpus: 1 })], 0),
  );
  await sub.next(updateFor("l1", "TASK_STARTING"));
  const rest = (await sub.next(offersEvent)).offers.offers[0];
  await c.removeAgent(offer.agent_id.value, { byOperator: true });
  const lost = (await sub.next(updateFor("l1", "TASK_LOST"))).update.status;
  assert.equal(lost.reason, "REASON_AGENT_REMOVED_BY_OPERATOR");
  const rescind = await sub.next((e) => e.type === "RESCIND");
  assert.deepEqual(rescind.rescind.offer_id, rest.id);
  await sub.call({
    type: "RECONCILE",
    reconcile: { tasks: [{ task_id: { value: "l1" }, agent_id: offer.agent_id }] },
  });
  assert.equal((await sub.next(updateFor("l1"))).update.status.state, "TASK_LOST");
  await sub.close();
});

Deno.test("offerTimeoutMs rescinds an unanswered offer and offers its resources again", async () => {
  await using c = await startDevCluster({
    agents: 1,
    allocationIntervalMs: 20,
    offerTimeoutMs: 50,
  });
  const sub = await subscribe(c.schedulerUrl);
  const offer = (await sub.next(offersEvent)).offers.offers[0];
  const rescind = await sub.next((e) => e.type === "RESCIND");
  assert.deepEqual(rescind.rescind.offer_id, offer.id);
  const again = (await sub.next(offersEvent)).offers.offers[0];
  assert.notEqual(again.id.value, offer.id.value);
  await sub.close();
});

Deno.test("operations asking for feedback get OPERATION_ERROR; RECONCILE_OPERATIONS answers OPERATION_UNKNOWN", async () => {
  await using c = await startDevCluster({ agents: 1, allocationIntervalMs: 20 });
  const sub = await subscribe(c.schedulerUrl);
  const offer = (await sub.next(offersEvent)).offers.offers[0];
  const accept = await sub.call({
    type: "ACCEPT",
    accept: {
      offer_ids: [offer.id],
      operations: [{ type: "RESERVE", id: { value: "op-1" }, reserve: {} }],
    },
  });
  assert.equal(accept.status, 202);
  const error = await sub.next((e) => e.type === "UPDATE_OPERATION_STATUS");
  assert.equal(error.update_operation_status.status.state, "OPERATION_ERROR");
  assert.deepEqual(error.update_operation_status.status.operation_id, { value: "op-1" });
  await sub.call({
    type: "RECONCILE_OPERATIONS",
    reconcile_operations: { operations: [{ operation_id: { value: "op-2" } }] },
  });
  const unknown = await sub.next((e) => e.type === "UPDATE_OPERATION_STATUS");
  assert.equal(unknown.update_operation_status.status.state, "OPERATION_UNKNOWN");
  await sub.close();
});
