import assert from "node:assert/strict";
import { FrameworkError } from "../mesos/mod.ts";
import { createMetrics } from "../metrics/mod.ts";
import { collectingLogger, FakeClock } from "../runtime.ts";
import { memoryStore, type TaskStore } from "../store/mod.ts";
import { currentState, type TaskRecord, type TaskState } from "../task/mod.ts";
import { FakeDriver, type SentCall, status } from "./_fake_driver.ts";
import { offer, task } from "./_testdata.ts";
import {
  CLOSE_DRAIN_MS,
  OFFER_HOLD_MS,
  RESUBSCRIBE_DELAY_MS,
  type Scheduler,
  type SchedulerOptions,
  startScheduler,
} from "./loop.ts";

/** Lets every pending promise and zero-delay job run (no time passes). */
async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setTimeout(r, 0));
}

interface Harness extends AsyncDisposable {
  scheduler: Scheduler;
  store: TaskStore;
  clock: FakeClock;
  drivers: FakeDriver[];
  driver: () => FakeDriver;
  heard: [string, TaskState, boolean][];
  /** The last record of each task whose write resolved. */
  written: Map<string, TaskRecord>;
  submit(fields?: Record<string, unknown>): Promise<TaskRecord>;
}

async function harness(
  { store: inner = memoryStore(), ...options }: Partial<SchedulerOptions> = {},
): Promise<Harness> {
  const written = new Map<string, TaskRecord>();
  const store: TaskStore = Object.create(inner);
  store.updateTask = async (r) => {
    await inner.updateTask(r);
    written.set(r.id, r);
  };
  const clock = new FakeClock();
  const drivers: FakeDriver[] = [];
  const heard: [string, TaskState, boolean][] = [];
  const scheduler = startScheduler({
    master: "http://127.0.0.1:5050",
    frameworkInfo: { user: "root", name: "eremetic", roles: ["*"] },
    store,
    logger: collectingLogger(),
    clock,
    metrics: createMetrics(),
    refuseSeconds: 5,
    listener: {
      taskChanged(t, state, _time, terminal) {
        heard.push([t.id, state, terminal]);
      },
    },
    startDriver: (o) => {
      const d = new FakeDriver(o);
      drivers.push(d);
      return d;
    },
    ...options,
  });
  await scheduler.ready;
  await settle();
  const submit = async (fields: Record<string, unknown> = {}) => {
    const { task: t } = await store.createTask(task({ cpu: 1, mem: 64, ...fields }));
    scheduler.taskCreated(t);
    await settle();
    return t;
  };
  return {
    scheduler,
    store,
    clock,
    drivers,
    driver: () => drivers.at(-1)!,
    heard,
    written,
    submit,
    async [Symbol.asyncDispose]() {
      await scheduler.close();
    },
  };
}

const launchedIds = (calls: SentCall[]): string[] =>
  calls.flatMap((c) =>
    (c.accept?.operations ?? []).flatMap((o: SentCall) =>
      (o.launch?.task_infos ?? []).map((t: SentCall) => t.task_id.value as string)
    )
  );

const stateOf = async (store: TaskStore, id: string) => currentState((await store.getTask(id))!);

/** A store whose task writes wait until `release()` (to catch a step half done). */
function gatedStore(inner = memoryStore()) {
  let gate: PromiseWithResolvers<void> | null = null;
  const store: TaskStore = Object.create(inner);
  store.updateTask = async (t) => {
    if (gate) await gate.promise;
    return inner.updateTask(t);
  };
  return {
    store,
    hold() {
      gate = Promise.withResolvers<void>();
    },
    release() {
      gate?.resolve();
      gate = null;
    },
  };
}

Deno.test("scheduler: STAGING is durable before the ACCEPT leaves", async () => {
  await using h = await harness();
  const t = await h.submit();
  const d = h.driver();
  d.subscribed();
  await settle();
  const seenAtAccept: (TaskState | undefined)[] = [];
  d.onCall = (call) => {
    if (call.type === "ACCEPT") {
      // Read synchronously from the memory store's map: what is durable right now.
      void h.store.getTask(t.id).then((r) => seenAtAccept.push(currentState(r!)));
    }
  };
  d.offers(offer());
  await settle();
  assert.deepEqual(launchedIds(d.sent("ACCEPT")), [t.id]);
  assert.deepEqual(seenAtAccept, ["TASK_STAGING"]);
  assert.deepEqual(h.heard.at(-1), [t.id, "TASK_STAGING", false]);
});

Deno.test("scheduler: a turn of updates is stored, then every one acknowledged", async () => {
  await using h = await harness();
  const a = await h.submit();
  const b = await h.submit();
  const d = h.driver();
  d.subscribed();
  d.offers(offer({ cpus: 4 }));
  await settle();
  assert.deepEqual(launchedIds(d.sent("ACCEPT")), [a.id, b.id]);
  const updates = [
    status(a.id, "TASK_STARTING"),
    status(a.id, "TASK_RUNNING"),
    status(b.id, "TASK_RUNNING"),
  ];
  // At each ACKNOWLEDGE, the history written holds the state it acknowledges.
  const storedAtAck: boolean[] = [];
  d.onCall = (call) => {
    if (call.type !== "ACKNOWLEDGE") return;
    const { task_id, uuid } = (call as SentCall).acknowledge;
    const acked = updates.find((u) => u.uuid === uuid)!.state;
    const written = h.written.get(task_id.value);
    storedAtAck.push(written?.status.some((s) => s.status === acked) ?? false);
  };
  d.updates(...updates);
  await settle();
  assert.equal(d.sent("ACKNOWLEDGE").length, 3);
  assert.deepEqual(storedAtAck, [true, true, true]);
  const stored = (await h.store.getTask(a.id))!;
  assert.deepEqual(stored.status.map((s) => s.status), [
    "TASK_QUEUED",
    "TASK_STAGING",
    "TASK_STARTING",
    "TASK_RUNNING",
  ]);
});

Deno.test("scheduler: duplicates, agent resends and late updates change nothing but are acknowledged", async () => {
  await using h = await harness();
  const t = await h.submit();
  const d = h.driver();
  d.subscribed();
  d.offers(offer());
  await settle();
  d.updates(status(t.id, "TASK_RUNNING"));
  await settle();
  // A resend of RUNNING, then a late STARTING (out of order).
  d.updates(status(t.id, "TASK_RUNNING"), status(t.id, "TASK_STARTING"));
  await settle();
  const stored = (await h.store.getTask(t.id))!;
  assert.deepEqual(stored.status.map((s) => s.status), [
    "TASK_QUEUED",
    "TASK_STAGING",
    "TASK_RUNNING",
  ]);
  assert.equal(d.sent("ACKNOWLEDGE").length, 3);
  // An update for a task never stored is acknowledged and creates nothing (D3).
  d.updates(status("eremetic-task.nope", "TASK_RUNNING"));
  await settle();
  assert.equal(d.sent("ACKNOWLEDGE").length, 4);
  assert.equal(await h.store.getTask("eremetic-task.nope"), null);
});

Deno.test("scheduler: offers are held while tasks wait, dropped on RESCIND, declined when the queue empties", async () => {
  await using h = await harness();
  const d = h.driver();
  d.subscribed();
  await settle();
  // The queue is empty: an offer is declined at once.
  const first = offer();
  d.offers(first);
  await settle();
  assert.equal(d.sent("DECLINE").length, 1);
  // A task in back-off: offers are held, not declined.
  const waiting = await h.store.createTask(task({ cpu: 1, mem: 64 }));
  const backoff = { ...waiting.task, not_before: h.clock.now() + 5_000 };
  await h.store.updateTask(backoff);
  h.scheduler.taskCreated(backoff);
  await settle();
  const held = offer();
  const rescinded = offer();
  d.offers(held, rescinded);
  await settle();
  assert.equal(d.sent("DECLINE").length, 1, "held, not declined");
  d.rescind(rescinded.id.value);
  await settle();
  await h.clock.tick(5_000);
  await settle();
  const accepts = d.sent("ACCEPT");
  assert.equal(accepts.length, 1);
  assert.deepEqual(accepts[0].accept.offer_ids, [held.id], "never the rescinded offer");
  // The queue is empty again: a new offer is declined, and offers are suppressed.
  d.offers(offer());
  await settle();
  assert.equal(d.sent("DECLINE").length, 2);
  assert.ok(d.sent("SUPPRESS").length >= 1);
});

Deno.test("scheduler: a held offer is given back after OFFER_HOLD_MS", async () => {
  await using h = await harness();
  const d = h.driver();
  d.subscribed();
  const t = await h.store.createTask(task({ cpu: 1, mem: 64 }));
  const later = { ...t.task, not_before: h.clock.now() + 10 * OFFER_HOLD_MS };
  await h.store.updateTask(later);
  h.scheduler.taskCreated(later);
  const o = offer();
  d.offers(o);
  await settle();
  assert.equal(d.sent("DECLINE").length, 0);
  await h.clock.tick(OFFER_HOLD_MS);
  await settle();
  const declines = d.sent("DECLINE");
  assert.equal(declines.length, 1);
  assert.deepEqual(declines[0].decline.offer_ids, [o.id]);
  assert.equal(declines[0].decline.filters?.refuse_seconds, 0);
});

Deno.test("scheduler: placements made before a resubscribe go back to the queue without a retry", async () => {
  const gated = gatedStore();
  await using h = await harness({ store: gated.store });
  const t = await h.submit();
  const d = h.driver();
  d.subscribed();
  await settle();
  gated.hold();
  d.offers(offer());
  await settle();
  // The master restarted meanwhile: a new subscription, the old offers are void.
  d.subscribed();
  await settle();
  gated.release();
  await settle();
  assert.equal(d.sent("ACCEPT").length, 0, "nothing sent with the old subscription's offer");
  const back = (await h.store.getTask(t.id))!;
  assert.equal(currentState(back), "TASK_QUEUED");
  assert.equal(back.retry, 0);
  d.offers(offer());
  await settle();
  assert.deepEqual(launchedIds(d.sent("ACCEPT")), [t.id]);
});

Deno.test("scheduler: a kill during staging is sent after the ACCEPT", async () => {
  const gated = gatedStore();
  await using h = await harness({ store: gated.store });
  const t = await h.submit();
  const d = h.driver();
  d.subscribed();
  await settle();
  gated.hold();
  d.offers(offer());
  await settle();
  const killed = h.scheduler.killTask(t.id);
  await settle();
  assert.equal(d.sent("KILL").length, 0);
  gated.release();
  assert.equal(await killed, "killing");
  const order = d.calls.map((c) => c.type).filter((x) => x === "ACCEPT" || x === "KILL");
  assert.deepEqual(order, ["ACCEPT", "KILL"]);
  assert.equal(await stateOf(h.store, t.id), "TASK_TERMINATING");
  d.updates(status(t.id, "TASK_KILLED"));
  await settle();
  assert.equal(await stateOf(h.store, t.id), "TASK_KILLED");
});

Deno.test("scheduler: one task's pending write does not hold back another task's update", async () => {
  const inner = memoryStore();
  let slowId = "";
  const slow = Promise.withResolvers<void>();
  const store: TaskStore = Object.create(inner);
  store.updateTask = async (t) => {
    if (t.id === slowId && currentState(t) === "TASK_RUNNING") await slow.promise;
    return inner.updateTask(t);
  };
  await using h = await harness({ store });
  const a = await h.submit();
  const b = await h.submit();
  slowId = a.id;
  const d = h.driver();
  d.subscribed();
  d.offers(offer({ cpus: 4 }));
  await settle();
  d.updates(status(a.id, "TASK_RUNNING"));
  await settle();
  d.updates(status(a.id, "TASK_FINISHED"), status(b.id, "TASK_RUNNING"));
  await settle();
  assert.equal(await stateOf(h.store, b.id), "TASK_RUNNING", "b went on");
  assert.equal(await stateOf(h.store, a.id), "TASK_STAGING", "a waits for its own write");
  slow.resolve();
  await settle();
  assert.equal(await stateOf(h.store, a.id), "TASK_FINISHED");
  assert.equal(d.sent("ACKNOWLEDGE").length, 3);
});

Deno.test("scheduler: a failure before running is retried after its back-off with a new Mesos id", async () => {
  await using h = await harness();
  const t = await h.submit({ max_retries: 1 });
  const d = h.driver();
  d.subscribed();
  d.offers(offer());
  await settle();
  d.updates(status(t.id, "TASK_FAILED"));
  await settle();
  const queued = (await h.store.getTask(t.id))!;
  assert.equal(currentState(queued), "TASK_QUEUED");
  assert.equal(queued.retry, 1);
  d.offers(offer());
  await settle();
  assert.equal(d.sent("ACCEPT").length, 1, "held during the back-off");
  await h.clock.tick(1_000);
  await settle();
  assert.deepEqual(launchedIds(d.sent("ACCEPT")), [t.id, `${t.id}.retry-1`]);
  // An update of the first attempt is acknowledged and ignored.
  d.updates(status(t.id, "TASK_FAILED"));
  await settle();
  assert.equal((await h.store.getTask(t.id))!.retry, 1);
});

Deno.test("scheduler: timeout_seconds kills a running task when due, even 35 days later", async () => {
  await using h = await harness();
  const short = await h.submit({ timeout_seconds: 2 });
  const long = await h.submit({ timeout_seconds: 3_000_000 });
  const d = h.driver();
  d.subscribed();
  d.offers(offer({ cpus: 4 }));
  await settle();
  d.updates(status(short.id, "TASK_RUNNING"), status(long.id, "TASK_RUNNING"));
  await settle();
  const killed = () => d.sent("KILL").map((c) => c.kill.task_id.value as string);
  await h.clock.tick(2_000);
  await settle();
  assert.deepEqual(killed(), [short.id]);
  for (let i = 0; i < 10; i++) await h.clock.tick(60_000);
  await settle();
  assert.deepEqual(killed().filter((id) => id === long.id), [], "not after minutes");
  await h.clock.tick(3_000_000_000);
  await settle();
  assert.ok(killed().includes(long.id), "killed at 35 days");
  assert.equal(await stateOf(h.store, long.id), "TASK_TERMINATING");
});

Deno.test("scheduler: another instance taking the framework over stops scheduling and keeps the id", async () => {
  await using h = await harness();
  const d = h.driver();
  d.subscribed("fw-7");
  await settle();
  d.end(new FrameworkError("Framework failed over"));
  await settle();
  await h.clock.tick(RESUBSCRIBE_DELAY_MS * 10);
  await settle();
  assert.equal(h.drivers.length, 1, "no new subscription");
  assert.equal(await h.store.getFrameworkId(), "fw-7");
  const s = h.scheduler.status();
  assert.equal(s.state, "disconnected");
  assert.equal(s.frameworkId, "fw-7");
  assert.match(s.detail ?? "", /another instance/);
});

Deno.test("scheduler: a removed framework forgets its id and subscribes afresh", async () => {
  await using h = await harness();
  h.driver().subscribed("fw-8");
  await settle();
  h.driver().end(new FrameworkError("Framework has been removed"));
  await settle();
  assert.equal(await h.store.getFrameworkId(), null);
  await h.clock.tick(RESUBSCRIBE_DELAY_MS);
  await settle();
  assert.equal(h.drivers.length, 2);
  assert.equal(h.driver().options.frameworkId, undefined);
});

Deno.test("scheduler: failover of the master resubscribes with the same id and reconciles", async () => {
  await using h = await harness();
  const t = await h.submit();
  h.driver().subscribed("fw-9");
  h.driver().offers(offer());
  await settle();
  h.driver().updates(status(t.id, "TASK_RUNNING"));
  await settle();
  h.driver().end(new Error("stream broke"));
  await settle();
  await h.clock.tick(RESUBSCRIBE_DELAY_MS);
  await settle();
  assert.equal(h.drivers.length, 2);
  assert.equal(h.driver().options.frameworkId, "fw-9");
  h.driver().subscribed("fw-9");
  await settle();
  const reconciles = h.driver().sent("RECONCILE");
  assert.deepEqual(reconciles[0].reconcile.tasks?.map((x: SentCall) => x.task_id.value), [t.id]);
});

Deno.test("scheduler: the queue window holds the head of a long queue and refills as it drains", async () => {
  const store = memoryStore();
  const ids: string[] = [];
  for (let i = 0; i < 25; i++) {
    ids.push((await store.createTask(task({ cpu: 1, mem: 64 }))).task.id);
  }
  await using h = await harness({ store, queueWindow: 10 });
  const d = h.driver();
  d.subscribed();
  await settle();
  const launched: string[] = [];
  for (let round = 0; round < 6 && launched.length < 25; round++) {
    d.offers(offer({ cpus: 5 }));
    await settle();
    launched.splice(0, launched.length, ...launchedIds(d.sent("ACCEPT")));
  }
  assert.deepEqual(launched, ids, "all of them, in submission order");
});

Deno.test("scheduler: a kill of a queued task ends it at once and it is never launched", async () => {
  await using h = await harness();
  const t = await h.submit();
  assert.equal(await h.scheduler.killTask(t.id), "killed");
  const d = h.driver();
  d.subscribed();
  d.offers(offer());
  await settle();
  assert.equal(d.sent("ACCEPT").length, 0);
  assert.deepEqual(h.heard.at(-1), [t.id, "TASK_KILLED", true]);
});

Deno.test("scheduler: an unanswered ACCEPT is reconciled, never launched again", async () => {
  await using h = await harness();
  const t = await h.submit();
  const d = h.driver();
  d.subscribed();
  await settle();
  d.onCall = (call) => {
    if (call.type === "ACCEPT") throw new Error("connection reset");
  };
  d.offers(offer());
  await settle();
  d.onCall = () => {};
  await h.clock.tick(1_000);
  await settle();
  const asked = d.sent("RECONCILE").flatMap((c) => c.reconcile.tasks ?? []);
  assert.ok(asked.some((x: SentCall) => x.task_id.value === t.id));
  assert.equal(await stateOf(h.store, t.id), "TASK_STAGING");
});

Deno.test("scheduler: a kill waiting for its commit holds back no event, and its task is never placed", async () => {
  const inner = memoryStore();
  const slow = Promise.withResolvers<void>();
  const store: TaskStore = Object.create(inner);
  store.updateTask = async (t) => {
    if (currentState(t) === "TASK_KILLED") await slow.promise;
    return inner.updateTask(t);
  };
  await using h = await harness({ store });
  const r = await h.submit();
  const d = h.driver();
  d.subscribed();
  d.offers(offer());
  await settle();
  assert.deepEqual(launchedIds(d.sent("ACCEPT")), [r.id]);
  const k = await h.submit();
  const killed = h.scheduler.killTask(k.id);
  await settle();
  d.offers(offer());
  d.updates(status(r.id, "TASK_RUNNING"));
  await settle();
  assert.equal(await stateOf(h.store, r.id), "TASK_RUNNING", "the update went on");
  assert.equal(d.sent("ACCEPT").length, 1, "the task being killed was not placed");
  slow.resolve();
  assert.equal(await killed, "killed");
  assert.equal(await stateOf(h.store, k.id), "TASK_KILLED");
  d.offers(offer());
  await settle();
  assert.equal(d.sent("ACCEPT").length, 1);
});

Deno.test("scheduler: at most maxPlaced tasks placed and not running; offers held until room frees", async () => {
  await using h = await harness({ maxPlaced: 4 });
  const tasks = [];
  for (let i = 0; i < 8; i++) tasks.push(await h.submit());
  const d = h.driver();
  d.subscribed();
  // One task per offer: an offer a round uses part of is not held for the next.
  d.offers(...Array.from({ length: 8 }, () => offer({ cpus: 1 })));
  await settle();
  assert.deepEqual(launchedIds(d.sent("ACCEPT")), tasks.slice(0, 4).map((t) => t.id));
  assert.equal(d.sent("DECLINE").length, 0, "the offers left are held, not declined");
  // One task running frees a quarter of the room: a round places one more.
  d.updates(status(tasks[0].id, "TASK_RUNNING"));
  await settle();
  assert.deepEqual(launchedIds(d.sent("ACCEPT")), tasks.slice(0, 5).map((t) => t.id));
  d.updates(...tasks.slice(1, 5).map((t) => status(t.id, "TASK_RUNNING")));
  await settle();
  assert.deepEqual(launchedIds(d.sent("ACCEPT")), tasks.map((t) => t.id));
  assert.equal(d.sent("DECLINE").length, 0);
  for (const t of tasks.slice(5)) assert.equal(await stateOf(h.store, t.id), "TASK_STAGING");
});

/** Holds the driver's ACCEPT answers until released; notes when the stream closes. */
function holdAccepts(d: FakeDriver) {
  const answer = Promise.withResolvers<void>();
  const order: string[] = [];
  const call = d.call.bind(d);
  d.call = (c, o) =>
    c.type === "ACCEPT"
      ? call(c, o).then(() => answer.promise).then(() => void order.push("ACCEPT answered"))
      : call(c, o);
  const close = d.close.bind(d);
  d.close = () => {
    order.push("stream closed");
    return close();
  };
  return { order, release: () => answer.resolve() };
}

Deno.test("scheduler: close() lets an ACCEPT under way finish before it closes the stream", async () => {
  const h = await harness();
  const t = await h.submit();
  const d = h.driver();
  d.subscribed();
  await settle();
  const held = holdAccepts(d);
  d.offers(offer());
  await settle();
  assert.deepEqual(launchedIds(d.sent("ACCEPT")), [t.id]);
  const closing = h.scheduler.close();
  await settle();
  assert.deepEqual(held.order, [], "the stream stays open while the ACCEPT is unanswered");
  held.release();
  await closing;
  assert.deepEqual(held.order, ["ACCEPT answered", "stream closed"]);
  assert.equal(await stateOf(h.store, t.id), "TASK_STAGING");
});

Deno.test("scheduler: close() waits for an unanswered ACCEPT at most CLOSE_DRAIN_MS", async () => {
  const h = await harness();
  await h.submit();
  const d = h.driver();
  d.subscribed();
  await settle();
  const held = holdAccepts(d);
  d.offers(offer());
  await settle();
  let closed = false;
  const closing = h.scheduler.close().then(() => closed = true);
  await settle();
  await h.clock.tick(CLOSE_DRAIN_MS - 1);
  await settle();
  assert.equal(closed, false);
  await h.clock.tick(1);
  await closing;
  assert.deepEqual(held.order, ["stream closed"]);
  held.release();
});

Deno.test("scheduler: an offer none of whose tasks can be staged is declined, and the task launches once writes work", async () => {
  const inner = memoryStore();
  let failing = true;
  const store: TaskStore = Object.create(inner);
  store.updateTask = (t) => failing ? Promise.reject(new Error("disk full")) : inner.updateTask(t);
  await using h = await harness({ store });
  const t = await h.submit();
  const d = h.driver();
  d.subscribed();
  await settle();
  const first = offer();
  d.offers(first);
  await settle();
  assert.deepEqual(d.sent("ACCEPT"), []);
  const declines = d.sent("DECLINE");
  assert.equal(declines.length, 1, "the offer is given back");
  assert.deepEqual(declines[0].decline.offer_ids, [first.id]);
  assert.equal(await stateOf(inner, t.id), "TASK_QUEUED");
  // The store works again: the next offer launches the task, once.
  failing = false;
  d.offers(offer());
  await settle();
  assert.deepEqual(launchedIds(d.sent("ACCEPT")), [t.id]);
});

Deno.test("scheduler: close() while the framework id is being read starts no stream and returns", async () => {
  const inner = memoryStore();
  const read = Promise.withResolvers<void>();
  const store: TaskStore = Object.create(inner);
  let reading = false;
  store.getFrameworkId = async () => {
    reading = true;
    await read.promise;
    return inner.getFrameworkId();
  };
  const drivers: FakeDriver[] = [];
  const scheduler = startScheduler({
    master: "http://127.0.0.1:5050",
    frameworkInfo: { user: "root", name: "eremetic", roles: ["*"] },
    store,
    logger: collectingLogger(),
    clock: new FakeClock(),
    metrics: createMetrics(),
    refuseSeconds: 5,
    listener: { taskChanged() {} },
    startDriver: (o) => {
      const d = new FakeDriver(o);
      drivers.push(d);
      return d;
    },
  });
  await scheduler.ready;
  await settle();
  assert.equal(reading, true, "the subscription loop waits for the framework id");
  const closing = scheduler.close();
  read.resolve();
  await closing;
  assert.equal(drivers.length, 0, "no stream was opened after close()");
});
