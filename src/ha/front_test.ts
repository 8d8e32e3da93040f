import assert from "node:assert/strict";
import { FakeClock } from "../runtime.ts";
import { forward, FORWARDED_HEADER, touchedTaskId } from "./front.ts";

Deno.test("touchedTaskId() names the task of a kill, a delete, or a submit's Location", () => {
  const res = (location?: string) =>
    new Response(null, { status: 202, headers: location ? { location } : {} });
  const req = (path: string, method = "POST") => new Request(`http://b:8080${path}`, { method });
  assert.equal(touchedTaskId(req("/api/v1/task/t-1/kill"), res(), ""), "t-1");
  assert.equal(touchedTaskId(req("/task/t-2", "DELETE"), res(), ""), "t-2");
  assert.equal(touchedTaskId(req("/ui/api/v1/task/t-3", "DELETE"), res(), "/ui"), "t-3");
  assert.equal(
    touchedTaskId(req("/api/v1/task"), res("http://b:8080/api/v1/task/eremetic-task.x"), ""),
    "eremetic-task.x",
  );
  assert.equal(touchedTaskId(req("/api/v1/task"), res(), ""), null);
});

Deno.test("forward() passes the leader's answer on and marks the request", async () => {
  const seen: { path: string; marked: string | null; body: string }[] = [];
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      seen.push({
        path: new URL(req.url).pathname,
        marked: req.headers.get(FORWARDED_HEADER),
        body: await req.text(),
      });
      return new Response('"t-9"', { status: 202, headers: { location: "http://x/task/t-9" } });
    },
  );
  const leader = `http://127.0.0.1:${server.addr.port}/ui`;
  const res = await forward(
    new Request("http://b:8080/ui/api/v1/task", { method: "POST", body: '{"cpu":1}' }),
    leader,
    "/ui",
    { clock: new FakeClock(), headersTimeoutMs: 10_000 },
  );
  assert.equal(res.status, 202);
  assert.equal(res.headers.get("location"), "http://x/task/t-9");
  assert.equal(await res.text(), '"t-9"');
  assert.deepEqual(seen, [{ path: "/ui/api/v1/task", marked: "1", body: '{"cpu":1}' }]);
});

Deno.test("forward() answers 503 with Retry-After when the leader never answers", async () => {
  // Accepts connections and never answers: a leader whose machine froze.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const c of listener) conns.push(c);
  })();
  const clock = new FakeClock();
  const pending = forward(
    new Request("http://b:8080/api/v1/task/t-1", { method: "DELETE" }),
    `http://127.0.0.1:${listener.addr.port}`,
    "",
    { clock, headersTimeoutMs: 3000 },
  );
  let settled = false;
  void pending.then(() => settled = true);
  await clock.tick(2000);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(settled, false, "still waiting before the timeout");
  await clock.tick(1000);
  const res = await pending;
  assert.equal(res.status, 503);
  assert.equal(res.headers.get("retry-after"), "1");
  assert.equal(typeof (await res.json()).error, "string");
  listener.close();
  await accepting.catch(() => {});
  for (const c of conns) c.close();
});
