import assert from "node:assert/strict";
import { AgentLifecycle, goneState } from "./agents.ts";
import { taskKey } from "./books.ts";
import type { MasterLink } from "./agent.ts";
import { addFramework, addOffer, fakeAgent, fakeBooks, report, task } from "./_fixtures.ts";
import type { Event } from "../mesos/events.ts";

const link: MasterLink = { statusUpdate() {}, latestState() {} };

function lifecycle() {
  const { books, clock } = fakeBooks();
  const soon: string[][] = [];
  const life = new AgentLifecycle(books, {
    link,
    hostname: "master.test",
    allocateSoon: (ids) => soon.push(ids),
  });
  return { books, clock, soon, life };
}

/** `TYPE` or `UPDATE state reason` of each event. */
function brief(events: Event[]): string[] {
  return events.map((e) => {
    if (e.type !== "UPDATE") return e.type;
    const s = (e.update as { status: { state: string; reason: string } }).status;
    return `UPDATE ${s.state} ${s.reason}`;
  });
}

Deno.test("goneState() follows the framework's partition awareness", () => {
  assert.equal(goneState(false, true), "TASK_LOST");
  assert.equal(goneState(true, false), "TASK_GONE");
  assert.equal(goneState(true, true), "TASK_GONE_BY_OPERATOR");
});

Deno.test("register(): a reregistering agent's tasks are recovered, resources charged once", () => {
  const { books, soon, life } = lifecycle();
  books.recovering.add("a1");
  books.removedIds.add("old");
  const agent = fakeAgent("a1");
  agent.reports = [
    report("f", task("t1", "a1", "cpus:1;mem:128"), "TASK_RUNNING"),
    report("f", task("t2", "a1", "cpus:1;mem:128"), "TASK_FINISHED"),
    report("old", task("t3", "a1"), "TASK_RUNNING"),
  ];
  life.register(agent);
  const rec = books.agents.get("a1")!;
  assert.equal(rec.state, "active");
  assert.equal(books.recovering.has("a1"), false, "no longer awaited");
  // The framework is known from the report only: inactive until it resubscribes.
  const fw = books.frameworks.get("f")!;
  assert.equal(fw.active, false);
  assert.equal(fw.recovered, true);
  assert.equal(fw.tasks.get("t1")!.state, "TASK_RUNNING");
  assert.equal(rec.used.scalar("cpus"), 1, "only the live task holds resources");
  assert.equal(fw.allocCpus, 1);
  assert.deepEqual(agent.calls, ["shutdown old", "attached", "resume"]);
  assert.deepEqual(soon, [["a1"]]);
  // Registering again (a heal) counts nothing twice.
  life.register(agent);
  assert.equal(rec.used.scalar("cpus"), 1);
  assert.equal(fw.allocCpus, 1);
});

Deno.test("unreachable() then register(): tasks UNREACHABLE (or LOST), offers rescinded, then back", () => {
  const { books, clock, life } = lifecycle();
  const agent = fakeAgent("a1");
  life.register(agent);
  const pa = addFramework(books, "pa", { capabilities: [{ type: "PARTITION_AWARE" }] });
  const old = addFramework(books, "old");
  agent.reports = [
    report("pa", task("t1", "a1"), "TASK_RUNNING"),
    report("old", task("t2", "a1"), "TASK_RUNNING"),
  ];
  life.register(agent);
  addOffer(books, "o1", old, "a1", "cpus:1");
  life.unreachable("a1");
  const rec = books.agents.get("a1")!;
  assert.equal(rec.state, "unreachable");
  assert.equal(rec.used.scalar("cpus"), 0);
  assert.equal(books.offers.size, 0);
  assert.deepEqual(brief(pa.events), ["UPDATE TASK_UNREACHABLE REASON_AGENT_REMOVED", "FAILURE"]);
  assert.deepEqual(brief(old.events), [
    "RESCIND",
    "UPDATE TASK_LOST REASON_AGENT_REMOVED",
    "FAILURE",
  ]);
  const t1 = pa.unreachable.get("t1")!;
  assert.equal(t1.unreachableTime, clock.now);
  assert.equal(pa.tasks.has("t1"), false);
  assert.equal(agent.calls.at(-1), "detached");
  // Healed: the agent reregisters and its tasks are running again.
  life.register(agent);
  assert.equal(pa.tasks.get("t1"), t1, "the same record comes back");
  assert.equal(pa.unreachable.size, 0);
  assert.equal(rec.used.scalar("cpus"), 2);
  assert.ok(rec.tasks.has(taskKey("pa", "t1")));
});

Deno.test("remove() and restarted(): tasks end GONE or LOST, terminal ones silently", () => {
  const { books, life } = lifecycle();
  const agent = fakeAgent("a1");
  const pa = addFramework(books, "pa", { capabilities: [{ type: "PARTITION_AWARE" }] });
  agent.reports = [
    report("pa", task("t1", "a1"), "TASK_RUNNING"),
    report("pa", task("t2", "a1"), "TASK_RUNNING"),
    report("pa", task("t3", "a1"), "TASK_FINISHED"),
  ];
  life.register(agent);
  life.restarted("a1", [{ frameworkId: "pa", taskId: "t1" }]);
  assert.deepEqual(brief(pa.events), ["UPDATE TASK_GONE REASON_AGENT_RESTARTED"]);
  assert.equal(pa.completed.map((t) => t.info.task_id.value).join(), "t1");
  pa.events.length = 0;
  life.remove("a1", { byOperator: true });
  assert.deepEqual(brief(pa.events), [
    "UPDATE TASK_GONE_BY_OPERATOR REASON_AGENT_REMOVED_BY_OPERATOR",
    "FAILURE",
  ]);
  assert.equal(books.agents.get("a1")!.state, "gone");
  assert.equal(pa.tasks.size, 0);
  assert.deepEqual(pa.completed.map((t) => t.info.task_id.value), ["t1", "t2", "t3"]);
  assert.equal(pa.allocCpus, 0, "everything freed");
  // Unknown agents change nothing.
  life.remove("nope");
  assert.equal(books.agents.has("nope"), false);
});

Deno.test("reregistrationTimedOut(): only an agent still awaited becomes unreachable", () => {
  const { books, life } = lifecycle();
  const late = fakeAgent("late");
  const back = fakeAgent("back");
  books.recovering.add("late").add("back");
  life.register(back);
  assert.equal(life.reregistrationTimedOut(back), false);
  assert.equal(books.agents.get("back")!.state, "active");
  assert.equal(life.reregistrationTimedOut(late), true);
  assert.equal(books.agents.get("late")!.state, "unreachable");
  assert.equal(books.recovering.size, 0);
});
