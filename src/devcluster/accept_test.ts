import assert from "node:assert/strict";
import { type AcceptStep, applyAccept, checkOffers, planAccept } from "./accept.ts";
import { addAgentRecord, addFramework, addOffer, fakeAgent, fakeBooks, task } from "./_fixtures.ts";
import type { AcceptBody } from "./model.ts";

const launch = (...tasks: ReturnType<typeof task>[]) => ({
  type: "LAUNCH",
  launch: { task_infos: tasks },
});

/** A step in a short form for assertions. */
function brief(s: AcceptStep): string {
  if (s.kind === "launch") return `launch ${s.task.task_id.value}`;
  if (s.kind === "operation") return `operation ${s.operationId}`;
  return `${s.state} ${s.taskId}: ${s.message}`;
}

Deno.test("checkOffers() validates the named offers in the master's order", () => {
  const { books } = fakeBooks();
  addAgentRecord(books, fakeAgent("a1"));
  addAgentRecord(books, fakeAgent("a2"));
  const f = addFramework(books, "f");
  const g = addFramework(books, "g", { roles: ["x", "y"], capabilities: [{ type: "MULTI_ROLE" }] });
  addOffer(books, "o1", f, "a1", "cpus:1");
  addOffer(books, "o2", f, "a2", "cpus:1");
  addOffer(books, "o3", g, "a1", "cpus:1", "x");
  addOffer(books, "o4", g, "a1", "cpus:1", "y");
  const error = (fw = f, ...ids: string[]) => checkOffers(fw, ids, books.offers).error;
  assert.equal(error(f), "No offers specified");
  assert.equal(error(f, "o1", "o1"), "Duplicate offer o1 in offer list");
  assert.equal(error(f, "zz"), "Offer zz is no longer valid");
  assert.equal(error(f, "o3"), "Offer o3 has invalid framework g while framework f is expected");
  assert.match(error(f, "o1", "o2")!, /^Aggregated offers must belong to one single agent/);
  assert.match(error(g, "o3", "o4")!, /^Aggregated offers must be allocated to the same role/);
  const ok = checkOffers(f, ["o1"], books.offers);
  assert.equal(ok.error, null);
  assert.deepEqual(ok.offers.map((o) => o.id), ["o1"]);
  // The valid offers before the invalid one are reported: they are used up too.
  assert.deepEqual(checkOffers(f, ["o1", "zz"], books.offers).offers.map((o) => o.id), ["o1"]);
});

Deno.test("planAccept() decides each operation and task in order", async (t) => {
  await t.step("invalid offers lose every task (DROPPED when partition-aware)", () => {
    const { books } = fakeBooks();
    const f = addFramework(books, "f", { capabilities: [{ type: "PARTITION_AWARE" }] });
    const plan = planAccept(
      f,
      { offer_ids: [{ value: "gone" }], operations: [launch(task("t1", "a1"))] },
      books.offers,
      books.agents,
    );
    assert.equal(plan.error, "Offer gone is no longer valid");
    assert.deepEqual(plan.steps.map(brief), [
      "TASK_DROPPED t1: Task launched with invalid offers: Offer gone is no longer valid",
    ]);
  });
  await t.step("tasks consume what is left; overuse, duplicates and bad ids are errors", () => {
    const { books } = fakeBooks();
    addAgentRecord(books, fakeAgent("a1"));
    const f = addFramework(books, "f");
    addOffer(books, "o1", f, "a1", "cpus:2;mem:256");
    const body: AcceptBody = {
      offer_ids: [{ value: "o1" }],
      operations: [
        launch(task("t1", "a1"), task("t1", "a1"), task("t2", "a9"), task("t3", "a1")),
        { type: "RESERVE", id: { value: "op1" } },
        { type: "LAUNCH_GROUP", launch_group: { task_group: { tasks: [task("g1", "a1")] } } },
        launch(task("t4", "a1")),
      ],
    };
    const plan = planAccept(f, body, books.offers, books.agents);
    assert.equal(plan.error, null);
    assert.deepEqual(plan.steps.slice(0, 6).map(brief), [
      "launch t1",
      "TASK_ERROR t1: Task has duplicate ID: t1",
      "TASK_ERROR t2: Task uses invalid agent a9 while agent a1 is expected",
      "launch t3",
      "operation op1",
      "TASK_ERROR g1: LAUNCH_GROUP is not supported by the development cluster",
    ]);
    assert.match(brief(plan.steps[6]), /^TASK_ERROR t4: Total resources .* is more than available/);
    assert.equal(plan.remaining!.scalar("cpus"), 0);
    assert.equal(plan.agentId, "a1");
    // Planning changes nothing.
    assert.equal(books.offers.size, 1);
    assert.equal(f.tasks.size, 0);
  });
  await t.step("an agent that is no longer active loses the tasks", () => {
    const { books } = fakeBooks();
    addAgentRecord(books, fakeAgent("a1")).state = "unreachable";
    const f = addFramework(books, "f");
    addOffer(books, "o1", f, "a1", "cpus:2;mem:256");
    const plan = planAccept(
      f,
      { offer_ids: [{ value: "o1" }], operations: [launch(task("t1", "a1"))] },
      books.offers,
      books.agents,
    );
    assert.deepEqual(plan.steps.map(brief), ["TASK_LOST t1: Agent is not available"]);
  });
});

Deno.test("applyAccept() launches on the agent, sends errors, declines the rest", () => {
  const { books } = fakeBooks();
  const agent = fakeAgent("a1");
  const rec = addAgentRecord(books, agent);
  const f = addFramework(books, "f");
  addOffer(books, "o1", f, "a1", "cpus:2;mem:256");
  assert.equal(f.allocCpus, 2, "an offer is charged to the framework");
  const declined: string[] = [];
  const soon: string[][] = [];
  applyAccept(books, f, {
    offer_ids: [{ value: "o1" }],
    operations: [launch(task("t1", "a1"), task("t1", "a1"))],
    filters: { refuse_seconds: 30 },
  }, {
    decline: (_fw, agentId, role, resources, seconds) =>
      declined.push(`${agentId} ${role} cpus:${resources.scalar("cpus")} ${seconds}s`),
    allocateSoon: (ids) => soon.push(ids),
  });
  assert.equal(books.offers.size, 0, "the offer is used up");
  assert.deepEqual(agent.calls, ["run t1"]);
  assert.equal(f.tasks.get("t1")?.state, "TASK_STAGING");
  assert.equal(rec.used.scalar("cpus"), 1);
  assert.equal(rec.offered.scalar("cpus"), 0);
  assert.equal(f.allocCpus, 1, "the offer's charge is replaced by the task's");
  assert.equal(books.stats.tasksLaunched, 1);
  assert.deepEqual(
    f.events.map((e) => e.type === "UPDATE" ? e.update.status.state : e.type),
    ["TASK_ERROR"],
  );
  assert.deepEqual(declined, ["a1 * cpus:1 30s"]);
  assert.deepEqual(soon, [["a1"]]);
});
