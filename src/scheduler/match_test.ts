import assert from "node:assert/strict";
import { offer, task } from "./_testdata.ts";
import { inMaintenance, matchOffers, satisfiesConstraints } from "./match.ts";

Deno.test("matchOffers() packs several tasks into one offer", () => {
  const tasks = [
    task({ cpu: 1, mem: 100 }),
    task({ cpu: 1, mem: 100 }),
    task({ cpu: 1, mem: 100 }),
  ];
  const r = matchOffers([offer({ cpus: 2, mem: 1000 }), offer({ cpus: 4 })], tasks);
  assert.deepStrictEqual(r.placements.map((p) => p.offer.id.value), [
    "offer-1",
    "offer-1",
    "offer-2",
  ]);
  assert.deepStrictEqual(r.unused, []);
  assert.deepStrictEqual(r.unplaced, []);
});

Deno.test("matchOffers() does not let a task that fits nowhere block the ones behind it (D14)", () => {
  const big = task({ cpu: 64, mem: 100 });
  const small = task({ cpu: 1, mem: 100 });
  const r = matchOffers([offer({ cpus: 2 })], [big, small]);
  assert.deepStrictEqual(r.placements.map((p) => p.task.id), [small.id]);
  assert.deepStrictEqual(r.unplaced.map((t) => t.id), [big.id]);
});

Deno.test("matchOffers() places at most `limit` tasks, in queue order, after skipping misfits", () => {
  const big = task({ cpu: 64, mem: 100 });
  const small = [1, 2, 3].map(() => task({ cpu: 1, mem: 100 }));
  const offers = [offer({ cpus: 8 }), offer({ cpus: 8 })];
  const r = matchOffers(offers, [big, ...small], { limit: 2 });
  assert.deepStrictEqual(r.placements.map((p) => p.task.id), [small[0].id, small[1].id]);
  assert.deepStrictEqual(r.unplaced.map((t) => t.id), [big.id], "the task after the limit untried");
  assert(r.unused.length === 1 && r.unused[0] === offers[1]);
  assert(r.limited, "stopped at the limit");
  assert(!matchOffers(offers, [big, ...small], { limit: 4 }).limited);
});

Deno.test("matchOffers() returns unused offers to decline", () => {
  const r = matchOffers([offer(), offer()], [task({ cpu: 1, mem: 1 })]);
  assert.deepStrictEqual(r.unused.map((o) => o.id.value).length, 1);
});

Deno.test("matchOffers() claims exact port ranges in request order (D12)", () => {
  const t = task({ cpu: 1, mem: 10, ports: [{ container_port: 80 }, { container_port: 443 }] });
  const r = matchOffers([offer({ ports: [[31000, 31000], [31005, 31010]] })], [t]);
  const p = r.placements[0];
  assert.deepStrictEqual(p.hostPorts, [31000, 31005]);
  const ports = p.resources.filter((x) => x.name === "ports").map((x) => x.ranges?.range);
  assert.deepStrictEqual(ports, [[{ begin: 31000, end: 31000 }, { begin: 31005, end: 31005 }]]);
});

Deno.test("matchOffers() needs enough ports, disk and gpus", () => {
  const t = task({ cpu: 1, mem: 10, ports: [{}, {}, {}] });
  assert.deepStrictEqual(
    matchOffers([offer({ ports: [[31000, 31001]] })], [t]).placements.length,
    0,
  );
  const d = task({ cpu: 1, mem: 10, disk: 500 });
  assert.deepStrictEqual(matchOffers([offer({ disk: 100 })], [d]).placements.length, 0);
  assert.deepStrictEqual(matchOffers([offer({ disk: 1000 })], [d]).placements.length, 1);
  const g = task({ cpu: 1, mem: 10, gpus: 1 });
  assert.deepStrictEqual(matchOffers([offer()], [g]).placements.length, 0);
  assert.deepStrictEqual(matchOffers([offer({ gpus: 2 })], [g]).placements.length, 1);
});

Deno.test("matchOffers() claims only what the tasks need, with the offer's role", () => {
  const r = matchOffers([offer({ cpus: 4, mem: 1000, role: "batch" })], [
    task({ cpu: 1.5, mem: 100, role: "batch" }),
  ]);
  const res = r.placements[0].resources;
  assert.deepStrictEqual(res.find((x) => x.name === "cpus")?.scalar?.value, 1.5);
  assert.deepStrictEqual(res.find((x) => x.name === "mem")?.scalar?.value, 100);
  assert.deepStrictEqual(res[0].allocation_info?.role, "batch");
  const other = matchOffers([offer({ role: "batch" })], [task({ cpu: 1, mem: 1, role: "web" })]);
  assert.deepStrictEqual(other.placements.length, 0);
});

Deno.test("satisfiesConstraints() matches TEXT, SCALAR, SET and RANGES attributes", () => {
  const attrs = [
    { name: "zone", type: "TEXT" as const, text: { value: "a" } },
    { name: "rack", type: "SCALAR" as const, scalar: { value: 3 } },
    { name: "tags", type: "SET" as const, set: { item: ["ssd", "gpu"] } },
    { name: "slots", type: "RANGES" as const, ranges: { range: [{ begin: 1, end: 4 }] } },
  ];
  const c = (
    attribute_name: string,
    attribute_value: string,
  ) => [{ attribute_name, attribute_value }];
  assert(satisfiesConstraints(attrs, c("zone", "a")));
  assert(!satisfiesConstraints(attrs, c("zone", "b")));
  assert(satisfiesConstraints(attrs, c("rack", "3")));
  assert(satisfiesConstraints(attrs, c("tags", "ssd")));
  assert(satisfiesConstraints(attrs, c("slots", "2")));
  assert(!satisfiesConstraints(attrs, c("missing", "x")));
  assert(satisfiesConstraints(attrs, []));
});

Deno.test("matchOffers() honours agent constraints", () => {
  const t = task({
    cpu: 1,
    mem: 1,
    agent_constraints: [{ attribute_name: "zone", attribute_value: "b" }],
  });
  const a = offer({ attributes: [{ name: "zone", type: "TEXT", text: { value: "a" } }] });
  const b = offer({ attributes: [{ name: "zone", type: "TEXT", text: { value: "b" } }] });
  assert.deepStrictEqual(matchOffers([a, b], [t]).placements[0].offer, b);
});

Deno.test("inMaintenance() rejects agents in a started window", () => {
  const o = offer();
  const now = 1_000_000;
  o.unavailability = { start: { nanoseconds: BigInt(now - 10) * 1_000_000n } };
  assert(inMaintenance(o, now));
  o.unavailability.duration = { nanoseconds: 5_000_000n };
  assert(!inMaintenance(o, now));
  assert.deepStrictEqual(
    matchOffers([{ ...o, unavailability: { start: { nanoseconds: 0n } } }], [task()], { now })
      .placements.length,
    0,
  );
});
