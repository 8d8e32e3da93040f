/**
 * Live streams over HTTP against the real server and the development cluster:
 * task events, resumption with `Last-Event-ID`, output following, the global
 * stream, and stalled readers.
 */
import assert from "node:assert/strict";
import { readSse, type SseMessage } from "../src/events/mod.ts";
import { getTask, small, startStack, states, submit, waitFor, waitForState } from "./_e2e.ts";
import { startTestServer, tempDir } from "./_helpers.ts";

/** Reads a stream's events until `end` (included) or until the body ends. */
async function collect(res: Response, until = (_: SseMessage) => false): Promise<SseMessage[]> {
  const out: SseMessage[] = [];
  for await (const m of readSse(res.body!)) {
    out.push(m);
    if (m.event === "end" || until(m)) break;
  }
  return out;
}

function stream(url: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { headers: { accept: "text/event-stream", ...headers } });
}

Deno.test("e2e: a task's events arrive TASK_QUEUED..TASK_FINISHED, then end", async () => {
  await using stack = await startStack();
  const id = await submit(stack.url, small("echo hello; sleep 0.3"));
  const res = await stream(`${stack.url}/api/v1/task/${id}/events`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/event-stream");
  const got = await collect(res);
  const end = got.pop()!;
  assert.deepEqual([end.event, end.data], ["end", "{}"]);
  const stored = await getTask(stack.url, id);
  assert.deepEqual(
    got.map((m) => [m.id, m.event, JSON.parse(m.data)]),
    stored.status.map((s, i) => [
      String(i + 1),
      "status",
      {
        task_id: id,
        state: s.status,
        time: s.time,
        terminal: i === stored.status.length - 1,
      },
    ]),
  );
  assert.equal(states(stored)[0], "TASK_QUEUED");
  assert.equal(states(stored).at(-1), "TASK_FINISHED");
  // The stream is over: a client resuming at its last id is told so (EventSource stops).
  const again = await stream(`${stack.url}/api/v1/task/${id}/events`, {
    "last-event-id": got.at(-1)!.id,
  });
  assert.equal(again.status, 204);
});

Deno.test("e2e: a client that disconnects mid-stream and resumes with Last-Event-ID loses no event", async () => {
  await using stack = await startStack();
  const id = await submit(stack.url, small("sleep 1"));
  const first = await collect(await stream(`${stack.url}/api/v1/task/${id}/events`), () => true);
  assert.equal(first.length, 1);
  assert.equal(JSON.parse(first[0].data).state, "TASK_QUEUED");
  // Disconnected (the loop above cancelled the body); changes happen meanwhile.
  await waitForState(stack.url, id, "TASK_RUNNING");
  const rest = await collect(
    await stream(`${stack.url}/api/v1/task/${id}/events`, { "last-event-id": first[0].id }),
  );
  assert.equal(rest.pop()!.event, "end");
  const stored = await getTask(stack.url, id);
  assert.deepEqual(
    [...first, ...rest].map((m) => [Number(m.id), JSON.parse(m.data).state]),
    stored.status.map((s, i) => [i + 1, s.status]),
  );
  assert(rest.length >= 2, "changes happened while disconnected");
});

Deno.test("e2e: stdout?follow=1 delivers the output of a task that prints over time, then end", async () => {
  await using stack = await startStack();
  const id = await submit(
    stack.url,
    small("for i in 1 2 3 4 5; do echo line $i; sleep 0.3; done; echo done >&2"),
  );
  const res = await stream(`${stack.url}/api/v1/task/${id}/stdout?follow=1`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/event-stream");
  const got = await collect(res);
  assert.equal(got.pop()!.event, "end");
  assert(got.every((m) => m.event === "output"));
  // Output came in several pieces, while the task ran.
  assert(got.length >= 2, `${got.length} output events`);
  let offset = 0;
  let text = "";
  for (const m of got) {
    const data = JSON.parse(m.data);
    assert.equal(data.offset, offset, "chunks are contiguous");
    text += data.text;
    offset = Number(m.id);
    assert.equal(offset, data.offset + new TextEncoder().encode(data.text).length);
  }
  assert.equal(text, "line 1\nline 2\nline 3\nline 4\nline 5\n");
  assert.equal((await getTask(stack.url, id)).status.at(-1)?.status, "TASK_FINISHED");
  // The whole file, as the plain route serves it.
  assert.equal(await (await fetch(`${stack.url}/api/v1/task/${id}/stdout`)).text(), text);
  // stderr, resumed from an offset.
  const err = await collect(
    await stream(`${stack.url}/api/v1/task/${id}/stderr?follow=1&last_event_id=2`),
  );
  assert.deepEqual(err.map((m) => [m.event, m.data]), [
    ["output", JSON.stringify({ offset: 2, text: "ne\n" })],
    ["end", "{}"],
  ]);
});

Deno.test("e2e: /api/v1/events carries every change, resumes with Last-Event-ID, resets when too old", async () => {
  await using stack = await startStack();
  const res = await stream(`${stack.url}/api/v1/events`);
  assert.equal(res.status, 200);
  const id = await submit(stack.url, small("true", { name: "global-stream" }));
  const got = await collect(
    res,
    (m) => m.event === "status" && JSON.parse(m.data).terminal,
  );
  const mine = got.filter((m) => JSON.parse(m.data).task_id === id);
  const stored = await getTask(stack.url, id);
  assert.deepEqual(mine.map((m) => JSON.parse(m.data).state), states(stored));
  assert(mine.every((m) => JSON.parse(m.data).name === "global-stream"));
  const ids = got.map((m) => Number(m.id));
  assert.deepEqual(ids, [...ids].sort((a, b) => a - b), "ids increase");

  // Resuming after the first change replays the rest from the buffer.
  const resumed = await collect(
    await stream(`${stack.url}/api/v1/events`, { "last-event-id": got[0].id }),
    (m) => m.id === got.at(-1)!.id,
  );
  assert.deepEqual(resumed.map((m) => m.id), got.slice(1).map((m) => m.id));

  // An id from before the buffer (or another run of the server): reload first.
  const reset = await collect(
    await stream(`${stack.url}/api/v1/events?last_event_id=1`),
    () => true,
  );
  assert.deepEqual([reset[0].event, reset[0].data], ["reset", "{}"]);
});

Deno.test("e2e: stalled readers delay no other stream and no task; the one far behind is dropped", async () => {
  await using stack = await startStack();
  const { hostname, port } = new URL(stack.url);
  const encoder = new TextEncoder();
  // Raw connections that ask for streams and never read a byte.
  const stalled: Deno.Conn[] = [];
  const stall = async (path: string) => {
    const conn = await Deno.connect({ hostname, port: Number(port) });
    await conn.write(encoder.encode(`GET ${path} HTTP/1.1\r\nhost: ${hostname}\r\n\r\n`));
    stalled.push(conn);
  };
  try {
    const victim = await submit(stack.url, small("sleep 30"));
    await stall("/api/v1/events");
    await stall(`/api/v1/task/${victim}/events`);
    await stall(`/api/v1/task/${victim}/stdout?follow=1`);
    const live = await stream(`${stack.url}/api/v1/events`);
    const seen = collect(live, (m) => m.event === "status" && JSON.parse(m.data).name === "last");
    // A flood of changes: tasks no offer can hold, killed while queued (two changes each,
    // long names make them 8 KB each), until the kernel's socket buffers and then the
    // stalled global reader's outbox are full, and it is dropped.
    const metric = /http_sse_streams_closed_total\{[^}]*reason="overflow"[^}]*\} (\d+)/;
    let flooded = 0;
    const big = small("true", { cpu: 1_000, name: "x".repeat(8_000) });
    while (!metric.test(await (await fetch(`${stack.url}/metrics`)).text())) {
      assert(flooded < 10_000, "the stalled reader was never dropped");
      await Promise.all(Array.from({ length: 10 }, async () => {
        const id = await submit(stack.url, big);
        const res = await fetch(`${stack.url}/api/v1/task/${id}/kill`, { method: "POST" });
        await res.body?.cancel();
      }));
      flooded += 10;
    }
    const metrics = await (await fetch(`${stack.url}/metrics`)).text();
    assert.equal(metrics.match(metric)![1], "1", "only the stalled reader was dropped");
    // Meanwhile a real task runs to its end, its stream and the reading global stream keep up.
    const id = await submit(stack.url, small("echo ok", { name: "last" }));
    const events = await collect(await stream(`${stack.url}/api/v1/task/${id}/events`));
    assert.equal(events.at(-2)?.data && JSON.parse(events.at(-2)!.data).state, "TASK_FINISHED");
    const all = await seen;
    const states = new Map<string, number>();
    for (const m of all) {
      const s = JSON.parse(m.data).state;
      states.set(s, (states.get(s) ?? 0) + 1);
    }
    assert.equal(states.get("TASK_KILLED"), flooded, "the reading client got every change");
    // The stalled per-task streams are still open and cost only their few events.
    assert.match(metrics, /http_sse_streams\{route="task_events"\} 1/);
    assert.match(metrics, /http_sse_streams\{route="stdout"\} 1/);
  } finally {
    for (const conn of stalled) conn.close();
  }
});

Deno.test("e2e: the streams are behind basic auth", async () => {
  await using server = await startTestServer({ flags: ["--http-credentials", "u:p"] });
  for (
    const path of ["/api/v1/events", "/api/v1/task/x/events", "/api/v1/task/x/stdout?follow=1"]
  ) {
    const res = await fetch(`${server.url}${path}`);
    assert.equal(res.status, 401, path);
    await res.body?.cancel();
  }
  const ok = await fetch(`${server.url}/api/v1/events`, {
    headers: { authorization: `Basic ${btoa("u:p")}` },
  });
  assert.equal(ok.status, 200);
  await ok.body?.cancel();
  const unknown = await fetch(`${server.url}/api/v1/task/eremetic-task.x/events`, {
    headers: { authorization: `Basic ${btoa("u:p")}` },
  });
  assert.equal(unknown.status, 404);
  await waitFor("the stream to be closed", async () => {
    const m = await (await fetch(`${server.url}/metrics`, {
      headers: { authorization: `Basic ${btoa("u:p")}` },
    })).text();
    return /http_sse_streams\{route="events"\} 0/.test(m);
  });
  await unknown.body?.cancel();
});

Deno.test("e2e: task events resume across a restart of the server; the global stream resets", async () => {
  await using dir = await tempDir();
  const flags = ["--database", `${dir.path}/eremetic.kv`];
  let id: string;
  let first: SseMessage[];
  let global: SseMessage[];
  let lingering: Response;
  {
    await using before = await startTestServer({ driver: "kv", flags });
    const all = await stream(`${before.url}/api/v1/events`);
    id = await submit(before.url, small("true"));
    first = await collect(await stream(`${before.url}/api/v1/task/${id}/events`), () => true);
    global = await collect(all, (m) => m.event === "status");
    lingering = await stream(`${before.url}/api/v1/task/${id}/events`);
  }
  // Shutting down ended the open stream (instead of waiting for it), without an `end`.
  const cut = await collect(lingering);
  assert(!cut.some((m) => m.event === "end"), "not ended as if the task had finished");
  await using after = await startTestServer({ driver: "kv", flags });
  // Killed while the client was away (no master: the queued task ends at once).
  const kill = await fetch(`${after.url}/api/v1/task/${id}/kill`, { method: "POST" });
  assert.equal(kill.status, 202);
  await kill.body?.cancel();
  const rest = await collect(
    await stream(`${after.url}/api/v1/task/${id}/events`, { "last-event-id": first[0].id }),
  );
  assert.deepEqual(
    [...first, ...rest].map((
      m,
    ) => [m.id, m.event, m.event === "end" ? m.data : JSON.parse(m.data).state]),
    [["1", "status", "TASK_QUEUED"], ["2", "status", "TASK_KILLED"], ["2", "end", "{}"]],
  );
  const resumed = await collect(
    await stream(`${after.url}/api/v1/events`, { "last-event-id": global.at(-1)!.id }),
    () => true,
  );
  assert.equal(resumed[0].event, "reset");
});

Deno.test("e2e: stopping the server does not wait forever for a client that stopped reading", async () => {
  const server = await startTestServer();
  const { hostname, port } = new URL(server.url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  try {
    await conn.write(
      new TextEncoder().encode(`GET /api/v1/events HTTP/1.1\r\nhost: ${hostname}\r\n\r\n`),
    );
    // Enough changes to fill the socket buffers: the response can no longer finish.
    const big = small("true", { name: "x".repeat(8_000) });
    const metric = /reason="overflow",route="events"\} 1/;
    for (let n = 0; !metric.test(await (await fetch(`${server.url}/metrics`)).text()); n += 10) {
      assert(n < 10_000, "the stalled reader was never dropped");
      await Promise.all(Array.from({ length: 10 }, async () => {
        const id = await submit(server.url, big);
        await (await fetch(`${server.url}/api/v1/task/${id}/kill`, { method: "POST" })).body
          ?.cancel();
      }));
    }
    await server.shutdown();
    assert(
      server.logs.some((l) => l.message.startsWith("Stopping with connections still open")),
      "the forced stop is logged",
    );
  } finally {
    conn.close();
  }
});
