import assert from "node:assert/strict";
import {
  allocationRound,
  DEFAULT_REFUSE_SECONDS,
  MAX_REFUSE_SECONDS,
  offerJson,
  refuseFilter,
} from "./allocator.ts";
import { addAgentRecord, addFramework, fakeAgent, fakeBooks } from "./_fixtures.ts";
import { ResourceSet } from "./resources.ts";

/** Who got which agent in a round, as `framework:agent:role`. */
function decisions(round: ReturnType<typeof allocationRound>): string[] {
  return round.map((a) => `${a.framework.id}:${a.agent.agent.id}:${a.role}`);
}

Deno.test("allocationRound() offers each agent's free resources to one framework role", () => {
  const { books, clock } = fakeBooks();
  const a1 = addAgentRecord(books, fakeAgent("a1", "cpus:4;mem:1024"));
  addAgentRecord(books, fakeAgent("a2", "cpus:2;mem:512"));
  const f = addFramework(books, "f");
  const round = allocationRound({
    frameworks: [f],
    agents: books.agents,
    round: 0,
    now: clock.now,
  });
  assert.deepEqual(decisions(round), ["f:a1:*", "f:a2:*"]);
  assert.equal(round[0].resources.scalar("cpus"), 4);

  // Used and offered resources are not free; nothing allocatable, no offer.
  a1.used.addInPlace(ResourceSet.parse("cpus:3;mem:512"));
  a1.offered.addInPlace(ResourceSet.parse("cpus:1;mem:500"));
  const next = allocationRound({ frameworks: [f], agents: books.agents, round: 1, now: clock.now });
  assert.deepEqual(decisions(next), ["f:a2:*"]);

  // `only` limits the round to some agents; unknown ids are skipped.
  const only = allocationRound({
    frameworks: [f],
    agents: books.agents,
    only: new Set(["a2", "nope"]),
    round: 2,
    now: clock.now,
  });
  assert.deepEqual(decisions(only), ["f:a2:*"]);
});

Deno.test("allocationRound() puts the smallest dominant share first, counting this round's offers", () => {
  const { books, clock } = fakeBooks();
  for (const id of ["a1", "a2", "a3", "a4"]) addAgentRecord(books, fakeAgent(id, "cpus:1;mem:100"));
  const big = addFramework(books, "big");
  const small = addFramework(books, "small");
  big.allocCpus = 2; // half the cluster's cpus, held elsewhere
  const round = allocationRound({
    frameworks: [big, small],
    agents: books.agents,
    round: 0,
    now: clock.now,
  });
  // small (share 0) takes a1 and a2, reaching big's 0.5; the tie goes to big (rank 0 in
  // round 0), whose share then exceeds small's again.
  assert.deepEqual(decisions(round), ["small:a1:*", "small:a2:*", "big:a3:*", "small:a4:*"]);
  // The round decides only: the frameworks' allocations are left to the master.
  assert.equal(small.allocCpus, 0);
});

Deno.test("allocationRound() rotates ties between rounds", () => {
  const { books, clock } = fakeBooks();
  addAgentRecord(books, fakeAgent("a1"));
  const f1 = addFramework(books, "f1");
  const f2 = addFramework(books, "f2");
  const first = (round: number) =>
    decisions(
      allocationRound({ frameworks: [f1, f2], agents: books.agents, round, now: clock.now }),
    );
  assert.deepEqual(first(0), ["f1:a1:*"]);
  assert.deepEqual(first(1), ["f2:a1:*"]);
  assert.deepEqual(first(2), ["f1:a1:*"]);
});

Deno.test("allocationRound() honours roles, reservations, suppression, GPUs and live filters", async (t) => {
  await t.step("a reservation goes only to its role, with the unreserved resources", () => {
    const { books, clock } = fakeBooks();
    addAgentRecord(books, fakeAgent("a1", "cpus(web):2;cpus:1;mem:256"));
    const f = addFramework(books, "f", {
      roles: ["db", "web"],
      capabilities: [{ type: "MULTI_ROLE" }],
    });
    const [a] = allocationRound({
      frameworks: [f],
      agents: books.agents,
      round: 0,
      now: clock.now,
    });
    assert.equal(a.role, "db", "the first role that can take something");
    assert.equal(a.resources.scalar("cpus"), 1);
    f.suppressed.add("db");
    const [b] = allocationRound({
      frameworks: [f],
      agents: books.agents,
      round: 1,
      now: clock.now,
    });
    assert.equal(b.role, "web");
    assert.equal(b.resources.scalar("cpus"), 3);
    const json = offerJson("O1", b);
    assert.deepEqual(json.allocation_info, { role: "web" });
    assert.equal(json.agent_id.value, "a1");
    assert.ok(json.resources?.every((r) => r.allocation_info?.role === "web"));
  });
  await t.step("GPU agents go only to GPU_RESOURCES frameworks", () => {
    const { books, clock } = fakeBooks();
    addAgentRecord(books, fakeAgent("gpu", "cpus:4;mem:1024;gpus:1"));
    const plain = addFramework(books, "plain");
    const gpu = addFramework(books, "gpu", { capabilities: [{ type: "GPU_RESOURCES" }] });
    const round = allocationRound({
      frameworks: [plain, gpu],
      agents: books.agents,
      round: 0,
      now: clock.now,
    });
    assert.deepEqual(decisions(round), ["gpu:gpu:*"]);
  });
  await t.step("a refusal filter covering the free resources holds until it expires", () => {
    const { books, clock } = fakeBooks();
    addAgentRecord(books, fakeAgent("a1", "cpus:2;mem:256"));
    const f = addFramework(books, "f");
    const filter = refuseFilter(
      "a1",
      "*",
      ResourceSet.parse("cpus:2;mem:256"),
      10,
      1000,
      clock.now,
    );
    f.filters.push(filter!);
    const round = (now: number) =>
      decisions(allocationRound({ frameworks: [f], agents: books.agents, round: 0, now }));
    assert.deepEqual(round(clock.now + 9_999), []);
    assert.deepEqual(round(clock.now + 10_000), ["f:a1:*"]);
  });
  await t.step("inactive agents are skipped", () => {
    const { books, clock } = fakeBooks();
    addAgentRecord(books, fakeAgent("a1")).state = "unreachable";
    const f = addFramework(books, "f");
    assert.deepEqual(
      allocationRound({ frameworks: [f], agents: books.agents, round: 0, now: clock.now }),
      [],
    );
  });
});

Deno.test("refuseFilter() applies DECLINE's refuse_seconds rules", () => {
  const r = ResourceSet.parse("cpus:1");
  const at = (seconds: number | undefined, intervalMs = 1000) =>
    refuseFilter("a", "*", r, seconds, intervalMs, 0)?.expiresAt ?? null;
  assert.equal(at(undefined), DEFAULT_REFUSE_SECONDS * 1000);
  assert.equal(at(-1), DEFAULT_REFUSE_SECONDS * 1000);
  assert.equal(at(NaN), DEFAULT_REFUSE_SECONDS * 1000);
  assert.equal(at(0), null, "0 installs no filter");
  assert.equal(at(Infinity), MAX_REFUSE_SECONDS * 1000);
  assert.equal(at(1e12), MAX_REFUSE_SECONDS * 1000);
  assert.equal(at(0.1, 2000), 2000, "at least one allocation interval");
  assert.equal(refuseFilter("a", "*", new ResourceSet(), 5, 1000, 0), null, "nothing declined");
});
