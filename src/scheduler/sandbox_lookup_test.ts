import assert from "node:assert/strict";
import { FakeClock, Timers } from "../runtime.ts";
import { SandboxLookups } from "./sandbox_lookup.ts";

const FW = "fw-1";
const dirOf = (id: string) => `/work/slaves/a1/frameworks/${FW}/executors/${id}/runs/c1`;

/** An agent whose `/state` holds the given task ids; counts the fetches. */
function fakeAgent(ids: () => string[]) {
  const fetched: string[] = [];
  const fetchFn = ((input: string | URL | Request) => {
    fetched.push(String(input));
    const state = {
      frameworks: [{
        id: FW,
        executors: ids().map((id) => ({ id, directory: dirOf(id), tasks: [{ id }] })),
      }],
    };
    return Promise.resolve(Response.json(state));
  }) as typeof fetch;
  return { fetched, fetchFn };
}

const task = (id: string) => ({ id, framework_id: FW, mesos_task_id: id });
const settle = () => new Promise((r) => setTimeout(r, 0));

Deno.test("SandboxLookups fetches an agent's /state once per interval for every task started meanwhile", async () => {
  const clock = new FakeClock();
  const timers = new Timers(clock);
  const running = ["t1", "t2"];
  const agent = fakeAgent(() => running);
  const found = new Map<string, string>();
  const lookups = new SandboxLookups({
    timers,
    fetch: agent.fetchFn,
    timeoutMs: 1000,
    minIntervalMs: 1000,
    maxWaiting: 3,
    found: (t, dir) => found.set(t.id, dir),
    failed: (_, e) => assert.fail(e),
  });
  try {
    assert.equal(lookups.request("http://a1:5051", task("t1")), true);
    assert.equal(lookups.request("http://a1:5051", task("t2")), true);
    await clock.tick(0);
    for (let i = 0; i < 5 && found.size < 2; i++) await settle();
    assert.equal(agent.fetched.length, 1, "one /state for both tasks");
    assert.deepEqual([...found], [["t1", dirOf("t1")], ["t2", dirOf("t2")]]);
    // Within the interval: the next tasks wait for one more fetch, not one each.
    running.push("t3", "t4");
    lookups.request("http://a1:5051", task("t3"));
    lookups.request("http://a1:5051", task("t4"));
    await clock.tick(500);
    await settle();
    assert.equal(agent.fetched.length, 1);
    await clock.tick(500);
    for (let i = 0; i < 5 && found.size < 4; i++) await settle();
    assert.equal(agent.fetched.length, 2);
    assert.equal(found.get("t4"), dirOf("t4"));
    // Beyond maxWaiting per agent, tasks are skipped (the sandbox reader finds them itself).
    for (const id of ["t5", "t6", "t7"]) {
      assert.equal(lookups.request("http://a1:5051", task(id)), true);
    }
    assert.equal(lookups.request("http://a1:5051", task("t8")), false);
    assert.equal(lookups.waiting, 3);
  } finally {
    lookups.close();
    timers.close();
  }
  assert.equal(lookups.request("http://a1:5051", task("t9")), false, "closed");
});

Deno.test("SandboxLookups reports an agent that cannot answer and tries again for later tasks", async () => {
  const clock = new FakeClock();
  const timers = new Timers(clock);
  const errors: string[] = [];
  let calls = 0;
  const fetchFn = (() => {
    calls++;
    return Promise.resolve(new Response("busy", { status: 500 }));
  }) as typeof fetch;
  const lookups = new SandboxLookups({
    timers,
    fetch: fetchFn,
    timeoutMs: 1000,
    minIntervalMs: 1000,
    maxWaiting: 10,
    found: () => assert.fail("nothing to find"),
    failed: (agent) => errors.push(agent),
  });
  try {
    lookups.request("http://a2:5051", task("t1"));
    await clock.tick(0);
    for (let i = 0; i < 5 && errors.length < 1; i++) await settle();
    assert.deepEqual(errors, ["http://a2:5051"]);
    lookups.request("http://a2:5051", task("t2"));
    await clock.tick(1000);
    for (let i = 0; i < 5 && errors.length < 2; i++) await settle();
    assert.equal(calls >= 2, true);
    assert.equal(errors.length, 2);
  } finally {
    lookups.close();
    timers.close();
  }
});
