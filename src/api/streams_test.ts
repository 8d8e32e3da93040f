import assert from "node:assert/strict";
import { EventHub, readSse, type SseMessage, SseParser } from "../events/mod.ts";
import { createMetrics } from "../metrics/mod.ts";
import { FakeClock, silentLogger } from "../runtime.ts";
import { queueOnlyControl } from "../scheduler/mod.ts";
import { memoryStore, type TaskStore } from "../store/mod.ts";
import {
  appendStatus,
  newTaskRecord,
  parseTaskRequestV1,
  type TaskRecord,
  type TaskState,
} from "../task/mod.ts";
import { createApi } from "./mod.ts";
import { FOLLOW_EVENT_CHARS, pieces } from "./streams.ts";
import { openApiDocument } from "./openapi.ts";
import type { SandboxReader } from "./tasks.ts";

interface Harness {
  app: ReturnType<typeof createApi>;
  store: TaskStore;
  hub: EventHub;
  clock: FakeClock;
  metrics: ReturnType<typeof createMetrics>;
  /** Stores a new task in TASK_QUEUED and publishes it, as app.ts does. */
  create(fields?: Partial<TaskRecord>): Promise<TaskRecord>;
  /** Appends a state, stores and publishes it, as the scheduler's listener does. */
  move(task: TaskRecord, state: TaskState, fields?: Partial<TaskRecord>): Promise<TaskRecord>;
}

function harness(
  { sandbox, channelMaxBytes }: { sandbox?: SandboxReader; channelMaxBytes?: number } = {},
): Harness {
  const clock = new FakeClock(Date.UTC(2026, 0, 1));
  const store = memoryStore();
  const hub = new EventHub({ clock, bufferSize: 8 });
  const metrics = createMetrics();
  let n = 0;
  const app = createApi({
    store,
    control: queueOnlyControl({ store, clock }),
    clock,
    logger: silentLogger,
    metrics,
    newId: () => crypto.randomUUID(),
    version: "test",
    events: hub,
    sandbox,
    streams: { channelMaxBytes, followIntervalMs: { min: 100, max: 400 } },
  });
  const parsed = parseTaskRequestV1({ image: "busybox", cpu: 0.1, mem: 16, command: "true" });
  assert(parsed.ok);
  return {
    app,
    store,
    hub,
    clock,
    metrics,
    async create(fields = {}) {
      const record = {
        ...newTaskRecord(parsed.request, {
          uuid: `00000000-0000-7000-8000-${String(++n).padStart(12, "0")}`,
          now: clock.now(),
        }),
        ...fields,
      };
      const { task } = await store.createTask(record);
      hub.publish(task, false);
      return task;
    },
    async move(task, state, fields = {}) {
      const next = {
        ...task,
        ...fields,
        status: appendStatus(task.status, state, Math.floor(clock.now() / 1000)),
      };
      await store.updateTask(next);
      hub.publish(next, ["TASK_FINISHED", "TASK_FAILED", "TASK_KILLED"].includes(state));
      return next;
    },
  };
}

/** Reads events one at a time (the test decides when to tick the clock in between). */
function events(res: Response, comments: string[] = []) {
  const it = readSse(res.body!, new SseParser((c) => comments.push(c)));
  return {
    next: async (): Promise<SseMessage | null> => {
      const r = await it.next();
      return r.done ? null : r.value;
    },
    close: () => it.return(),
  };
}

const json = (m: SseMessage | null) => JSON.parse(m!.data);

Deno.test("GET /api/v1/task/{id}/events replays the history, streams changes, ends", async () => {
  const h = harness();
  let task = await h.create();
  task = await h.move(task, "TASK_STAGING");
  const res = await h.app.request(`/api/v1/task/${task.id}/events`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/event-stream");
  assert.equal(res.headers.get("cache-control"), "no-cache");
  const sse = events(res);
  const first = await sse.next();
  assert.equal(first!.id, "1");
  assert.equal(first!.event, "status");
  assert.deepEqual(json(first), {
    task_id: task.id,
    state: "TASK_QUEUED",
    time: task.status[0].time,
    terminal: false,
  });
  assert.equal(json(await sse.next()).state, "TASK_STAGING");
  task = await h.move(task, "TASK_RUNNING");
  task = await h.move(task, "TASK_FINISHED");
  const running = await sse.next();
  assert.deepEqual([running!.id, json(running).state], ["3", "TASK_RUNNING"]);
  const finished = await sse.next();
  assert.deepEqual([finished!.id, json(finished).state, json(finished).terminal], [
    "4",
    "TASK_FINISHED",
    true,
  ]);
  const end = await sse.next();
  assert.deepEqual([end!.event, end!.data], ["end", "{}"]);
  assert.equal(await sse.next(), null, "the stream closes after end");
  assert.deepEqual(h.hub.subscribers, { all: 0, tasks: 0 });
});

Deno.test("task events resume after Last-Event-ID (header or query), 204 past the end", async () => {
  const h = harness();
  let task = await h.create();
  for (const s of ["TASK_STAGING", "TASK_RUNNING", "TASK_FAILED"] as const) {
    task = await h.move(task, s);
  }
  const byHeader = await h.app.request(`/api/v1/task/${task.id}/events`, {
    headers: { "last-event-id": "2" },
  });
  const a = events(byHeader);
  assert.deepEqual([(await a.next())!.id, (await a.next())!.id], ["3", "4"]);
  assert.equal((await a.next())!.event, "end");
  const byQuery = await h.app.request(`/api/v1/task/${task.id}/events?last_event_id=3`);
  const b = events(byQuery);
  assert.equal(json(await b.next()).state, "TASK_FAILED");

  const past = await h.app.request(`/api/v1/task/${task.id}/events`, {
    headers: { "last-event-id": "4" },
  });
  assert.equal(past.status, 204);
  assert.equal(await past.text(), "");

  const unknown = await h.app.request("/api/v1/task/eremetic-task.nope/events");
  assert.equal(unknown.status, 404);
  assert.equal(await unknown.text(), "null\n");

  const bad = await h.app.request(`/api/v1/task/${task.id}/events`, {
    headers: { "last-event-id": "-1" },
  });
  assert.equal(bad.status, 422);
  assert.equal((await bad.json()).details[0].path, "Last-Event-ID");
  assert.deepEqual(h.hub.subscribers, { all: 0, tasks: 0 });
});

Deno.test("a retry's failure is not terminal on the task stream; the stream goes on", async () => {
  const h = harness();
  let task = await h.create();
  task = await h.move(task, "TASK_STAGING");
  const sse = events(await h.app.request(`/api/v1/task/${task.id}/events?last_event_id=2`));
  // What the scheduler does on a retry: the failure, then the new TASK_QUEUED, one write.
  const failed = { ...task, status: appendStatus(task.status, "TASK_FAILED", 1) };
  const requeued = { ...failed, status: appendStatus(failed.status, "TASK_QUEUED", 1) };
  await h.store.updateTask(requeued);
  h.hub.publish(failed, false);
  h.hub.publish(requeued, false);
  const f = await sse.next();
  assert.deepEqual([f!.id, json(f).state, json(f).terminal], ["3", "TASK_FAILED", false]);
  assert.deepEqual((await sse.next())!.id, "4");
  await h.move(requeued, "TASK_KILLED");
  assert.equal(json(await sse.next()).terminal, true);
  assert.equal((await sse.next())!.event, "end");
});

Deno.test("keep-alive pings come from the clock, and re-read the store", async () => {
  const h = harness();
  const task = await h.create();
  const comments: string[] = [];
  const sse = events(await h.app.request(`/api/v1/task/${task.id}/events`), comments);
  assert.equal((await sse.next())!.id, "1");
  // A change stored without a notification (another instance wrote it): the ping finds it.
  await h.store.updateTask({ ...task, status: appendStatus(task.status, "TASK_KILLED", 2) });
  await h.clock.tick(15_000);
  const killed = await sse.next();
  assert.deepEqual([killed!.id, json(killed).state, json(killed).terminal], [
    "2",
    "TASK_KILLED",
    true,
  ]);
  assert.deepEqual(comments, ["ping"]);
  assert.equal((await sse.next())!.event, "end");
});

Deno.test("GET /api/v1/events streams every change, resumes in the buffer, resets outside", async () => {
  const h = harness();
  const fresh = events(await h.app.request("/api/v1/events"));
  const a = await h.create();
  const first = await fresh.next();
  assert.equal(first!.event, "status");
  assert.deepEqual(json(first), {
    task_id: a.id,
    name: a.name,
    state: "TASK_QUEUED",
    time: a.status[0].time,
    terminal: false,
  });
  const firstId = Number(first!.id);
  assert.equal(firstId, h.hub.head);
  await h.move(a, "TASK_KILLED");
  const killed = await fresh.next();
  assert.equal(Number(killed!.id), firstId + 1);
  assert.equal(json(killed).terminal, true);

  const resumed = events(
    await h.app.request("/api/v1/events", { headers: { "last-event-id": String(firstId) } }),
  );
  assert.equal((await resumed.next())!.id, killed!.id);

  // The buffer holds 8 changes: after 10 more, the first id is too old.
  let t = await h.create();
  for (let i = 0; i < 9; i++) t = await h.move(t, i % 2 ? "TASK_STAGING" : "TASK_RUNNING");
  const stale = events(
    await h.app.request("/api/v1/events", { headers: { "last-event-id": String(firstId) } }),
  );
  const reset = await stale.next();
  assert.deepEqual([reset!.event, reset!.data, reset!.id], ["reset", "{}", String(h.hub.head)]);
  await h.move(t, "TASK_KILLED");
  const after = await stale.next();
  assert.deepEqual([after!.event, Number(after!.id)], ["status", h.hub.head]);
  // Nothing (not even a reset) before the first change for a client without an id;
  // its Last-Event-ID is set to the head at once, so a reconnect resumes from there.
  const late = await h.app.request("/api/v1/events");
  const parser = new SseParser();
  const reader = late.body!.getReader();
  assert.deepEqual(parser.feed(new TextDecoder().decode((await reader.read()).value)), []);
  assert.equal(parser.lastEventId, String(h.hub.head));
  await reader.cancel();
  for (const s of [fresh, resumed, stale]) await s.close();
});

Deno.test("a reader that never reads is dropped; other streams and the publisher go on", async () => {
  const h = harness({ channelMaxBytes: 2_000 });
  const stalled = await h.app.request("/api/v1/events"); // never read
  const live = events(await h.app.request("/api/v1/events"));
  const total = 61;
  const seen: string[] = [];
  const reading = (async () => {
    while (seen.length < total) seen.push(json(await live.next()).state);
  })();
  let task = await h.create();
  const states: TaskState[] = ["TASK_STAGING", "TASK_STARTING", "TASK_RUNNING"];
  for (let i = 1; i < total; i++) {
    // Publishing is synchronous: it never waits for a client.
    task = await h.move(task, states[i % states.length]);
    // A reading client gets its turn (the stalled one never takes it).
    await new Promise((r) => setTimeout(r, 0));
  }
  await reading;
  assert.equal(seen.length, total);
  assert.equal(h.metrics.sseStreamsClosed.get({ route: "events", reason: "overflow" }), 1);
  assert.deepEqual(h.hub.subscribers, { all: 1, tasks: 0 });
  assert.equal(h.metrics.sseStreams.get({ route: "events" }), 1);
  // The dropped client sees its stream end early, and may resume with Last-Event-ID.
  const dropped = new SseParser().feed(await stalled.text());
  assert(dropped.length < total, `${dropped.length} events before the drop`);
  assert(!dropped.some((m) => m.event === "end"));
  await live.close();
});

/** A sandbox whose stdout grows when the test says; 204 until the task has an agent. */
function fakeSandbox() {
  const files = new Map<string, string>();
  const reads: number[] = [];
  const sandbox: SandboxReader = {
    read(task, file, { offset = 0 }) {
      reads.push(offset);
      const text = files.get(`${task.id}/${file}`);
      if (!task.agent_id || text === undefined) {
        return Promise.resolve(new Response(null, { status: 204 }));
      }
      const bytes = new TextEncoder().encode(text);
      const chunk = new TextDecoder().decode(bytes.slice(offset));
      return Promise.resolve(
        new Response(chunk, {
          headers: { "x-sandbox-next-offset": String(Math.max(offset, bytes.length)) },
        }),
      );
    },
  };
  return { sandbox, files, reads };
}

Deno.test("GET stdout?follow=1 waits for a sandbox, streams output as it grows, then ends", async () => {
  const { sandbox, files, reads } = fakeSandbox();
  const h = harness({ sandbox });
  let task = await h.create();
  const res = await h.app.request(`/api/v1/task/${task.id}/stdout?follow=1`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/event-stream");
  const sse = events(res);
  const next = sse.next();
  // No agent yet: nothing is read until the task is launched.
  await h.clock.tick(1_000);
  assert.deepEqual(reads, []);
  files.set(`${task.id}/stdout`, "one\n");
  task = await h.move(task, "TASK_RUNNING", { agent_id: "agent-1" });
  const one = await next;
  assert.deepEqual([one!.id, one!.event, json(one)], ["4", "output", { offset: 0, text: "one\n" }]);
  files.set(`${task.id}/stdout`, "one\ntwo ✓\n");
  const two = sse.next();
  await h.clock.tick(100);
  await h.clock.tick(200);
  const got = await two;
  assert.deepEqual([got!.id, json(got)], ["12", { offset: 4, text: "two ✓\n" }]);
  await h.move(task, "TASK_FINISHED");
  assert.equal((await sse.next())!.event, "end");
  assert.equal(await sse.next(), null);

  // Resuming at the end of a finished task's output: just the end.
  const again = events(
    await h.app.request(`/api/v1/task/${task.id}/stdout?follow=1`, {
      headers: { "last-event-id": "12" },
    }),
  );
  assert.equal((await again.next())!.event, "end");
  // From the middle: the rest.
  const middle = events(
    await h.app.request(`/api/v1/task/${task.id}/stdout?follow=true&last_event_id=4`),
  );
  assert.deepEqual(json(await middle.next()), { offset: 4, text: "two ✓\n" });
  assert.equal((await middle.next())!.event, "end");
  assert.equal(h.metrics.sseStreams.get({ route: "stdout" }), 0);
});

Deno.test("GET stderr without follow is unchanged; unknown task 404", async () => {
  const { sandbox } = fakeSandbox();
  const h = harness({ sandbox });
  const task = await h.create();
  const plain = await h.app.request(`/api/v1/task/${task.id}/stderr?follow=0`);
  assert.equal(plain.status, 204);
  const unknown = await h.app.request("/api/v1/task/eremetic-task.nope/stderr?follow=1");
  assert.equal(unknown.status, 404);
  await unknown.body?.cancel();
});

Deno.test("the OpenAPI document describes the streams, without legacy twins", () => {
  const paths = openApiDocument("test").paths;
  assert("/api/v1/task/{taskId}/events" in paths);
  assert("/api/v1/events" in paths);
  assert(!("/task/{taskId}/events" in paths));
  const names = (p: string) => (paths[p].get.parameters as { name: string }[]).map((x) => x.name);
  assert(names("/api/v1/task/{taskId}/stdout").includes("follow"));
  assert(names("/api/v1/task/{taskId}/stderr").includes("Last-Event-ID"));
  assert(!names("/task/{taskId}/stdout").includes("follow"));
});

Deno.test("pieces() cuts text at a length, never inside a surrogate pair", () => {
  assert.deepEqual([...pieces("abcdefg", 3)], ["abc", "def", "g"]);
  assert.deepEqual([...pieces("", 3)], []);
  // "a😀b": the emoji is two UTF-16 units; a cut after "a" + its first half moves back.
  assert.deepEqual([...pieces("a\u{1F600}b", 2)], ["a", "\u{1F600}", "b"]);
  assert.throws(() => [...pieces("x", 1)], RangeError);
});

Deno.test("follow sends a large read as several events with exact byte offsets", async () => {
  const { sandbox, files } = fakeSandbox();
  const h = harness({ sandbox });
  const task = await h.create({ agent_id: "agent-1" });
  const text = "é".repeat(FOLLOW_EVENT_CHARS - 1) + "\u{1F600}" + "x".repeat(FOLLOW_EVENT_CHARS);
  files.set(`${task.id}/stdout`, text);
  await h.move(task, "TASK_FINISHED");
  const sse = events(await h.app.request(`/api/v1/task/${task.id}/stdout?follow=1`));
  let got = "";
  let offset = 0;
  let count = 0;
  for (let m = await sse.next(); m && m.event === "output"; m = await sse.next()) {
    const data = json(m);
    assert.equal(data.offset, offset);
    offset = Number(m.id);
    assert.equal(offset - data.offset, new TextEncoder().encode(data.text).length);
    got += data.text;
    count++;
  }
  assert.equal(got, text);
  assert.equal(count, 3);
  assert.equal(offset, new TextEncoder().encode(text).length);
});

Deno.test("follow reports an unreachable agent once, and gives up on a finished task", async () => {
  let reads = 0;
  const doc = { error: "agent unavailable", message: "Cannot read stdout: connection refused" };
  const sandbox: SandboxReader = {
    read() {
      reads++;
      return Promise.resolve(
        new Response(JSON.stringify(doc) + "\n", {
          status: 502,
          headers: { "content-type": "application/json" },
        }),
      );
    },
  };
  const h = harness({ sandbox });
  let task = await h.create({ agent_id: "agent-1" });
  const sse = events(await h.app.request(`/api/v1/task/${task.id}/stdout?follow=1`));
  const failed = await sse.next();
  assert.deepEqual([failed!.event, json(failed)], ["agent_error", doc]);
  // Still running: it keeps trying, without repeating the report.
  await h.clock.tick(100);
  await h.clock.tick(200);
  assert(reads >= 2, `${reads} reads`);
  task = await h.move(task, "TASK_FINISHED");
  for (let i = 0; i < 5; i++) await h.clock.tick(400);
  const end = await sse.next();
  assert.deepEqual([end!.event, json(end)], ["end", doc]);
  assert.equal(await sse.next(), null);
});

Deno.test("HEAD on a stream answers its headers without opening a stream", async () => {
  const { sandbox } = fakeSandbox();
  const h = harness({ sandbox });
  const task = await h.create();
  for (
    const path of [
      "/api/v1/events",
      `/api/v1/task/${task.id}/events`,
      `/api/v1/task/${task.id}/stdout?follow=1`,
    ]
  ) {
    const res = await h.app.request(path, { method: "HEAD" });
    assert.equal(res.status, 200, path);
    assert.equal(res.headers.get("content-type"), "text/event-stream", path);
    assert.equal(res.body, null, path);
  }
  const unknown = await h.app.request("/api/v1/task/eremetic-task.nope/events", { method: "HEAD" });
  assert.equal(unknown.status, 404);
  assert.deepEqual(h.hub.subscribers, { all: 0, tasks: 0 });
  for (const route of ["events", "task_events", "stdout"]) {
    assert.equal(h.metrics.sseStreams.get({ route }), 0, route);
  }
});
