import assert from "node:assert/strict";
import { type Clock, FakeClock, systemClock } from "../runtime.ts";
import { CallConnection, connectTo, openStream } from "./connection.ts";
import { MesosConnectionError } from "./errors.ts";
import { encodePost } from "./http1.ts";

/** A raw TCP server that hands each connection's request bytes to `answer`. */
function rawServer(answer: (requests: string[], conn: Deno.Conn) => string | null) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const received: string[] = [];
  const serving = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      (async () => {
        const buf = new Uint8Array(65536);
        let pending = "";
        while (true) {
          const n = await conn.read(buf).catch(() => null);
          if (n === null) return;
          pending += new TextDecoder().decode(buf.subarray(0, n));
          // Whole requests only: head, then Content-Length bytes (ASCII bodies here).
          const requests: string[] = [];
          while (true) {
            const end = pending.indexOf("\r\n\r\n");
            if (end < 0) break;
            const length = Number(/Content-Length: (\d+)/.exec(pending.slice(0, end))?.[1] ?? 0);
            if (pending.length < end + 4 + length) break;
            requests.push(pending.slice(end + 4, end + 4 + length));
            pending = pending.slice(end + 4 + length);
          }
          if (!requests.length) continue;
          received.push(...requests);
          const reply = answer(requests, conn);
          if (reply === null) continue;
          await conn.write(new TextEncoder().encode(reply)).catch(() => {});
        }
      })();
    }
  })();
  const url = new URL(`http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/api/v1/scheduler`);
  return {
    url,
    received,
    async [Symbol.asyncDispose]() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await serving;
    },
  };
}

const post = (url: URL, body: string) => encodePost(url.host, url.pathname, {}, body);
const ok = (body: string) => `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

Deno.test("CallConnection writes calls made in one turn in one write and reads answers in order", async () => {
  await using server = rawServer((requests) => requests.map((r) => ok(`re:${r}`)).join(""));
  let writes = 0;
  let sleeps = 0;
  const clock: Clock = {
    now: () => systemClock.now(),
    sleep: (ms, signal) => (sleeps++, systemClock.sleep(ms, signal)),
  };
  const conn = new CallConnection(server.url, {
    clock,
    timeoutMs: 30_000,
    connect: async (url) => {
      const c = await connectTo(url);
      const write = c.write.bind(c);
      c.write = (p) => (writes++, write(p));
      return c;
    },
  });
  try {
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => conn.send("ACKNOWLEDGE", post(server.url, `${i}`))),
    );
    assert.deepEqual(answers.map((a) => a.body), Array.from({ length: 20 }, (_, i) => `re:${i}`));
    assert.equal(writes, 1, "twenty calls, one write");
    assert.equal(sleeps, 1, "one watchdog for the connection, no timer per call");
    assert.equal(conn.load, 0);
    // The connection is kept alive for the next calls.
    assert.equal((await conn.send("ACKNOWLEDGE", post(server.url, "x"))).body, "re:x");
    assert.equal(server.received.length, 21);
  } finally {
    conn.close();
  }
});

Deno.test("CallConnection fails every outstanding call when the master stays silent", async () => {
  await using server = rawServer(() => null);
  const clock = new FakeClock();
  const conn = new CallConnection(server.url, { clock, timeoutMs: 1000 });
  const calls = [1, 2, 3].map((i) => conn.send("KILL", post(server.url, `${i}`)).catch((e) => e));
  while (server.received.length < 3) await new Promise((r) => setTimeout(r, 1));
  await clock.tick(999);
  assert.equal(conn.alive, true);
  await clock.tick(1);
  for (const err of await Promise.all(calls)) {
    assert.ok(err instanceof MesosConnectionError);
    assert.equal(err.maybeProcessed, true);
    assert.match(err.message, /no answer within 1000 ms/);
  }
  assert.equal(conn.alive, false);
});

Deno.test("CallConnection: calls after a Connection: close answer were not processed", async () => {
  await using server = rawServer((requests) =>
    `HTTP/1.1 202 Accepted\r\nConnection: close\r\nContent-Length: 0\r\n\r\n${
      requests.slice(1).map(() => ok("late")).join("")
    }`
  );
  const conn = new CallConnection(server.url, { clock: systemClock, timeoutMs: 30_000 });
  const [first, ...rest] = await Promise.allSettled(
    [1, 2, 3].map((i) => conn.send("ACCEPT", post(server.url, `${i}`))),
  );
  assert.equal(first.status === "fulfilled" && first.value.status, 202);
  for (const r of rest) {
    assert.ok(r.status === "rejected" && r.reason instanceof MesosConnectionError);
    assert.equal(r.reason.maybeProcessed, false);
  }
});

Deno.test("CallConnection: a refused connection fails its calls as never processed", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const url = new URL(`http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/api/v1/scheduler`);
  listener.close();
  const conn = new CallConnection(url, { clock: systemClock, timeoutMs: 30_000 });
  const err = await conn.send("ACCEPT", post(url, "{}")).catch((e) => e);
  assert.ok(err instanceof MesosConnectionError);
  assert.equal(err.maybeProcessed, false);
  assert.equal(err.temporary, true);
  assert.equal(conn.alive, false);
  const again = await conn.send("ACCEPT", post(url, "{}")).catch((e) => e);
  assert.ok(again instanceof MesosConnectionError);
});

Deno.test("CallConnection: the master hanging up with calls outstanding may have seen them", async () => {
  await using server = rawServer((_requests, conn) => {
    conn.close();
    return null;
  });
  const conn = new CallConnection(server.url, { clock: systemClock, timeoutMs: 30_000 });
  const err = await conn.send("ACCEPT", post(server.url, "{}")).catch((e) => e);
  assert.ok(err instanceof MesosConnectionError);
  assert.equal(err.maybeProcessed, true);
});

Deno.test("openStream() resolves at the head, then hands out the chunked body as it arrives", async () => {
  const sent = Promise.withResolvers<Deno.Conn>();
  await using server = rawServer((_requests, conn) => {
    sent.resolve(conn);
    return "HTTP/1.1 200 OK\r\nMesos-Stream-Id: s-1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\none\r\n";
  });
  const res = await openStream("SUBSCRIBE", server.url, post(server.url, "{}"));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("mesos-stream-id"), "s-1");
  assert.equal(new TextDecoder().decode((await res.body.read())!), "one");
  const conn = await sent.promise;
  await conn.write(new TextEncoder().encode("3\r\ntwo\r\n0\r\n\r\n"));
  assert.equal(new TextDecoder().decode((await res.body.read())!), "two");
  assert.equal(await res.body.read(), null);
});

Deno.test("openStream() reports a refused connection as never processed", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const url = new URL(`http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/api/v1/scheduler`);
  listener.close();
  const err = await openStream("SUBSCRIBE", url, post(url, "{}")).catch((e) => e);
  assert.ok(err instanceof MesosConnectionError);
  assert.equal(err.maybeProcessed, false);
});
