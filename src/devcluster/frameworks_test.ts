import assert from "node:assert/strict";
import { FakeClock, Timers } from "../runtime.ts";
import { noFaults } from "./faults.ts";
import { FrameworkLifecycle, subscribeRefusal, updateProblem } from "./frameworks.ts";
import { makeMasterInfo } from "./master_info.ts";
import { MasterBooks } from "./books.ts";
import { addAgentRecord, addFramework, addOffer, fakeAgent, task } from "./_fixtures.ts";
import { taskKey } from "./books.ts";
import type { MasterTask } from "./model.ts";
import { ResourceSet } from "./resources.ts";
import type { FrameworkInfo } from "../mesos/types.ts";

const info = (extra: Partial<FrameworkInfo> = {}): FrameworkInfo => ({
  user: "u",
  name: "n",
  ...extra,
});

Deno.test("subscribeRefusal() refuses invalid info, removed ids and a changed principal", () => {
  const books = new MasterBooks(() => 0);
  const known = addFramework(books, "f", { principal: "p" });
  assert.equal(subscribeRefusal(info(), [], undefined, false), null);
  assert.equal(
    subscribeRefusal(info({ role: "a", roles: ["b"] }), [], undefined, false),
    "'FrameworkInfo.roles' must not be set when the framework is not MULTI_ROLE capable",
  );
  assert.equal(subscribeRefusal(info(), [], undefined, true), "Framework has been removed");
  assert.equal(
    subscribeRefusal(info({ principal: "q" }), [], known, false),
    "Changing framework's principal is not allowed.",
  );
  assert.equal(subscribeRefusal(info({ principal: "p" }), [], known, false), null);
});

Deno.test("updateProblem() keeps user, checkpoint and a set principal", () => {
  const current = info({ principal: "p" });
  assert.equal(updateProblem(current, info({ name: "renamed" }), []), null, "principal kept");
  assert.equal(
    updateProblem(current, info({ user: "v" }), []),
    "FrameworkInfo update is not valid: Updating 'FrameworkInfo.user' is unsupported",
  );
  assert.equal(
    updateProblem(current, info({ checkpoint: true }), []),
    "FrameworkInfo update is not valid: Updating 'FrameworkInfo.checkpoint' is unsupported",
  );
  assert.equal(updateProblem(current, info({ checkpoint: false }), []), null, "false = unset");
  assert.match(updateProblem(current, info(), ["x"])!, /^Supplied FrameworkInfo is not valid: /);
});

function lifecycle() {
  const clock = new FakeClock();
  const timers = new Timers(clock);
  const books = new MasterBooks(() => clock.now());
  let soon = 0;
  const life = new FrameworkLifecycle(books, {
    masterInfo: makeMasterInfo("M", "127.0.0.1", 5050),
    timers,
    faults: noFaults(),
    heartbeatIntervalSeconds: 15,
    allocateSoon: () => void soon++,
    closed: () => false,
  });
  return { clock, timers, books, life, soon: () => soon };
}

Deno.test("disconnect(): inactive at once, removed when failover_timeout runs out", async () => {
  const { clock, timers, books, life } = lifecycle();
  try {
    const agent = fakeAgent("a1");
    addAgentRecord(books, agent);
    const fw = addFramework(books, "f", { failover_timeout: 30 });
    addOffer(books, "o1", fw, "a1", "cpus:1");
    life.disconnect("f");
    assert.equal(fw.active, false);
    assert.equal(fw.sub, null);
    assert.equal(books.offers.size, 0, "offers recovered");
    assert.equal(fw.unregisteredTime, clock.now() / 1000);
    await clock.tick(29_999);
    assert.ok(books.frameworks.has("f"));
    await clock.tick(1);
    assert.equal(books.frameworks.has("f"), false);
    assert.ok(books.removedIds.has("f"));
    assert.deepEqual(agent.calls, ["shutdown f"]);
    assert.deepEqual(books.completedFrameworks.map((f) => f.id), ["f"]);
  } finally {
    timers.close();
  }
});

Deno.test("remove(): tasks killed and completed, resources freed, the id refused afterwards", () => {
  const { timers, books, life } = lifecycle();
  try {
    const rec = addAgentRecord(books, fakeAgent("a1"));
    const fw = addFramework(books, "f");
    const resources = ResourceSet.parse("cpus:1;mem:128");
    const t: MasterTask = {
      info: task("t1", "a1"),
      frameworkId: "f",
      agentId: "a1",
      role: "*",
      state: "TASK_RUNNING",
      statuses: [],
      resources,
      freed: false,
    };
    fw.tasks.set("t1", t);
    rec.tasks.set(taskKey("f", "t1"), t);
    rec.used.addInPlace(resources);
    books.charge("f", resources, 1);
    life.remove("f");
    assert.equal(t.state, "TASK_KILLED");
    assert.deepEqual(fw.completed, [t]);
    assert.equal(rec.used.scalar("cpus"), 0);
    assert.equal(rec.tasks.size, 0);
    const again = info({ id: { value: "f" } });
    assert.equal(
      subscribeRefusal(again, [], books.frameworks.get("f"), books.removedIds.has("f")),
      "Framework has been removed",
    );
  } finally {
    timers.close();
  }
});

Deno.test("update(): offers of a dropped role are rescinded, its filters cleared", () => {
  const { timers, books, life, soon } = lifecycle();
  try {
    addAgentRecord(books, fakeAgent("a1"));
    const multi = { capabilities: [{ type: "MULTI_ROLE" as const }] };
    const fw = addFramework(books, "f", { roles: ["a", "b"], ...multi });
    addOffer(books, "oa", fw, "a1", "cpus:1", "a");
    addOffer(books, "ob", fw, "a1", "cpus:1", "b");
    fw.filters.push({
      agentId: "a1",
      role: "b",
      resources: ResourceSet.parse("cpus:1"),
      expiresAt: Infinity,
    });
    const res = life.update(fw, {
      type: "UPDATE_FRAMEWORK",
      update_framework: {
        framework_info: { ...info({ roles: ["a"], ...multi }), id: { value: "f" } },
      },
    });
    assert.equal(res.status, 200);
    assert.deepEqual([...books.offers.keys()], ["oa"]);
    assert.deepEqual(fw.events.map((e) => e.type), ["RESCIND"]);
    assert.deepEqual(fw.filters, []);
    assert.equal(soon(), 1);
    const bad = life.update(fw, {
      type: "UPDATE_FRAMEWORK",
      update_framework: { framework_info: info({ user: "other" }) },
    });
    assert.equal(bad.status, 400);
  } finally {
    timers.close();
  }
});
