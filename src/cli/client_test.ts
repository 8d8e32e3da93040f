import assert from "node:assert/strict";
import { FakeClock } from "../runtime.ts";
import {
  ApiError,
  ConnectionError,
  EremeticClient,
  parseServerUrl,
  type StreamEvent,
  UrlError,
} from "./client.ts";

Deno.test("parseServerUrl() moves credentials into an Authorization header", () => {
  const { base, authorization } = parseServerUrl("https://al%40ice:p%3Ass@host:8443/prefix/");
  assert.equal(base, "https://host:8443/prefix");
  assert.equal(authorization, `Basic ${btoa("al@ice:p:ss")}`);
  assert.equal(parseServerUrl("http://h:1").authorization, undefined);
  assert.throws(() => parseServerUrl("localhost:8000"), UrlError);
  assert.throws(() => parseServerUrl("ftp://h"), UrlError);
});

Deno.test("EremeticClient.expect() turns statuses into ApiError with the server's message", async () => {
  const client = new EremeticClient("http://u:p@h", {
    transport: (url, init) => {
      assert.equal(url, "http://h/api/v1/task");
      assert.equal(new Headers(init.headers).get("authorization"), `Basic ${btoa("u:p")}`);
      return Promise.resolve(
        Response.json({ error: "invalid task", message: "Task is invalid: cpu must be > 0" }, {
          status: 422,
        }),
      );
    },
  });
  const err = await client.expect("POST", "/api/v1/task", [202], "Cannot submit").catch((e) => e);
  assert.ok(err instanceof ApiError);
  assert.equal(err.status, 422);
  assert.equal(err.message, "Cannot submit: server answered 422: Task is invalid: cpu must be > 0");
  assert.ok(!err.message.includes("u:p"));
});

Deno.test("EremeticClient.stream() resumes with Last-Event-ID after a dropped connection", async () => {
  const seen: (string | null)[] = [];
  const bodies = [
    'id: 1\nevent: status\ndata: {"state":"TASK_QUEUED"}\n\n',
    'id: 2\nevent: status\ndata: {"state":"TASK_FINISHED"}\n\nevent: end\ndata: {}\n\n',
  ];
  const client = new EremeticClient("http://h", {
    transport: (_url, init) => {
      seen.push(new Headers(init.headers).get("last-event-id"));
      const body = bodies.shift();
      if (body === undefined) return Promise.reject(new TypeError("refused"));
      return Promise.resolve(new Response(body, { status: 200 }));
    },
  });
  const clock = new FakeClock();
  const events: StreamEvent[] = [];
  const run = (async () => {
    for await (const e of client.stream("/s", "the stream", { clock, retryMs: 10 })) events.push(e);
  })();
  for (let i = 0; i < 20 && events.length < 3; i++) {
    await new Promise((r) => setTimeout(r, 0)); // let the reads run
    await clock.tick(10);
  }
  await run;
  assert.deepEqual(seen, [null, "1"]);
  assert.deepEqual(events.map((e) => e.event), ["status", "status", "end"]);
  assert.deepEqual(events[1].data, { state: "TASK_FINISHED" });
});

Deno.test("EremeticClient.request() reports an unreachable server as ConnectionError", async () => {
  const client = new EremeticClient("http://h:1", {
    transport: () => Promise.reject(new TypeError("fetch failed")),
  });
  await assert.rejects(client.request("GET", "/x"), ConnectionError);
});
