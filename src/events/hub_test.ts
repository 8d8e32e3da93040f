import assert from "node:assert/strict";
import { FakeClock } from "../runtime.ts";
import { type TaskRecord, type TaskState } from "../task/mod.ts";
import { EventHub, type StateEvent, type TaskUpdate } from "./hub.ts";

function task(id: string, ...states: TaskState[]): TaskRecord {
  return {
    id,
    name: `name of ${id}`,
    status: states.map((status, i) => ({ status, time: 100 + i })),
  } as TaskRecord;
}

Deno.test("EventHub.publish() reaches global and per-task subscribers", () => {
  const clock = new FakeClock(5_000);
  const hub = new EventHub({ clock });
  assert.equal(hub.head, 5_000);
  const all: StateEvent[] = [];
  const a: TaskUpdate[] = [];
  const b: TaskUpdate[] = [];
  const offAll = hub.subscribeAll((e) => all.push(e));
  const offA = hub.subscribeTask("a", (u) => a.push(u));
  hub.subscribeTask("b", (u) => b.push(u));
  assert.deepEqual(hub.subscribers, { all: 1, tasks: 2 });

  hub.publish(task("a", "TASK_QUEUED"), false);
  hub.publish(task("a", "TASK_QUEUED", "TASK_RUNNING", "TASK_FINISHED"), true);
  assert.deepEqual(all, [
    {
      seq: 5_001,
      task_id: "a",
      name: "name of a",
      state: "TASK_QUEUED",
      time: 100,
      terminal: false,
    },
    {
      seq: 5_002,
      task_id: "a",
      name: "name of a",
      state: "TASK_FINISHED",
      time: 102,
      terminal: true,
    },
  ]);
  assert.deepEqual(a.map((u) => [u.history.length, u.terminal]), [[1, false], [3, true]]);
  assert.deepEqual(b, []);

  offAll();
  offA();
  hub.publish(task("a", "TASK_QUEUED", "TASK_KILLED"), true);
  assert.equal(all.length, 2);
  assert.equal(a.length, 2);
  assert.deepEqual(hub.subscribers, { all: 0, tasks: 1 });
});

Deno.test("EventHub.since() replays the buffer, null outside it", () => {
  const hub = new EventHub({ clock: new FakeClock(1_000), bufferSize: 3 });
  assert.deepEqual(hub.since(1_000), [], "the starting point is a valid id");
  assert.equal(hub.since(999), null);
  for (let i = 0; i < 5; i++) hub.publish(task(`t${i}`, "TASK_QUEUED"), false);
  assert.equal(hub.head, 1_005);
  assert.deepEqual(hub.since(1_002)!.map((e) => e.task_id), ["t2", "t3", "t4"]);
  assert.deepEqual(hub.since(1_004)!.map((e) => e.seq), [1_005]);
  assert.deepEqual(hub.since(1_005), []);
  assert.equal(hub.since(1_001), null, "older than the buffer");
  assert.equal(hub.since(1_006), null, "from the future: another run of the server");
  assert.equal(hub.since(0), null);
  assert.equal(hub.since(1.5), null);
});

Deno.test("EventHub keeps publishing when a subscriber throws", () => {
  const hub = new EventHub({ clock: new FakeClock() });
  const got: string[] = [];
  hub.subscribeAll(() => {
    throw new Error("broken client");
  });
  hub.subscribeAll((e) => got.push(e.task_id));
  hub.publish(task("x", "TASK_QUEUED"), false);
  assert.deepEqual(got, ["x"]);
});

Deno.test("EventHub.close() tells every stream once and stops publishing", () => {
  const hub = new EventHub({ clock: new FakeClock() });
  let closes = 0;
  hub.onClose(() => closes++);
  const off = hub.onClose(() => closes += 100);
  off();
  const got: StateEvent[] = [];
  hub.subscribeAll((e) => got.push(e));
  hub.close();
  hub.close();
  assert.equal(closes, 1);
  hub.publish(task("x", "TASK_QUEUED"), false);
  assert.deepEqual(got, []);
  // A stream opened after close ends at once.
  hub.onClose(() => closes++);
  assert.equal(closes, 2);
  assert.throws(() => new EventHub({ clock: new FakeClock(), bufferSize: 0 }), RangeError);
});
