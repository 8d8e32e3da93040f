import assert from "node:assert/strict";
import { FakeClock } from "../runtime.ts";
import { basicAuthorization } from "./auth.ts";
import { accept, kill, launch, revive, subscribe, suppress } from "./calls.ts";
import { MesosClient, resolveLocation } from "./client.ts";
import {
  CallQueueFullError,
  MesosApiError,
  MesosConnectionError,
  SubscriptionLostError,
} from "./errors.ts";
import type { Event } from "./events.ts";
import { eventsAsBytes, startFakeMaster } from "./_fake_master.ts";

const INFO = { user: "root", name: "test" };
const FAST = { initialMs: 1, maxMs: 4 };

/** Reads events until `n` have arrived. */
async function take(events: AsyncIterable<Event>, n: number): Promise<Event[]> {
  const out: Event[] = [];
  const it = events[Symbol.asyncIterator]();
  while (out.length < n) {
    const r = await it.next();
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

Deno.test("resolveLocation() keeps the scheme of a scheme-less Location", () => {
  const current = new URL("https://m1:5050/api/v1/scheduler");
  assert.deepEqual(
    resolveLocation("//m2:5050/master/api/v1/scheduler", current).href,
    "https://m2:5050/master/api/v1/scheduler",
  );
  assert.deepEqual(resolveLocation("//m2:5050", current).href, "https://m2:5050/api/v1/scheduler");
  assert.deepEqual(resolveLocation("m3:5051", current).href, "https://m3:5051/api/v1/scheduler");
  assert.deepEqual(
    resolveLocation("http://m4:1/master/api/v1/scheduler", current).href,
    "http://m4:1/master/api/v1/scheduler",
  );
});

Deno.test("MesosClient.subscribe() sends SUBSCRIBE with the right headers and reads SUBSCRIBED", async () => {
  await using master = startFakeMaster({
    authorization: basicAuthorization({ principal: "p", secret: "s" }),
  });
  await using client = new MesosClient({
    master: master.url,
    credential: { principal: "p", secret: "s" },
  });
  const sub = await client.subscribe(subscribe(INFO));
  const [req] = master.requests;
  assert.deepEqual(req.path, "/api/v1/scheduler");
  assert.deepEqual(req.method, "POST");
  assert.deepEqual(req.headers.get("Content-Type"), "application/json");
  assert.deepEqual(req.headers.get("Accept"), "application/json");
  assert.deepEqual(req.headers.get("Mesos-Stream-Id"), null);
  assert.deepEqual(req.headers.get("Authorization"), "Basic cDpz");
  assert.deepEqual(req.body, { type: "SUBSCRIBE", subscribe: { framework_info: INFO } });
  const stream = await master.stream(0);
  assert.deepEqual(sub.streamId, stream.streamId);
  assert.deepEqual(sub.frameworkId.value, stream.frameworkId);
  assert.deepEqual(sub.subscribed.heartbeat_interval_seconds, 15);
  assert.equal(client.subscription, sub);
  stream.send({ type: "RESCIND", rescind: { offer_id: { value: "O1" } } });
  const events = await take(sub.events, 3);
  assert.deepEqual(events.map((e) => e.type), ["SUBSCRIBED", "HEARTBEAT", "RESCIND"]);
});

Deno.test("MesosClient.subscribe() decodes records split across and merged into chunks", async () => {
  await using master = startFakeMaster({ afterSubscribed: [] });
  await using client = new MesosClient({ master: master.hostPort });
  const sub = await client.subscribe(subscribe(INFO));
  const stream = await master.stream(0);
  const sent = [
    { type: "HEARTBEAT" },
    { type: "ERROR_NOT", x: "naïve ünïcödé ✓ 🚀" },
    { type: "RESCIND", rescind: { offer_id: { value: "Ö-1" } } },
    { type: "HEARTBEAT" },
  ];
  const bytes = eventsAsBytes(sent);
  // Chunks of 1..7 bytes: length prefixes and multi-byte characters are cut everywhere.
  for (let i = 0, n = 1; i < bytes.length; i += n, n = (n % 7) + 1) {
    stream.sendRaw(bytes.slice(i, i + n));
  }
  stream.sendRaw(eventsAsBytes([{ type: "HEARTBEAT" }, { type: "HEARTBEAT" }]));
  const events = await take(sub.events, 7);
  assert.deepEqual(events.map((e) => e.type), [
    "SUBSCRIBED",
    "HEARTBEAT",
    "UNKNOWN",
    "RESCIND",
    "HEARTBEAT",
    "HEARTBEAT",
    "HEARTBEAT",
  ]);
  const unknown = events[2];
  assert.ok(unknown.type === "UNKNOWN");
  assert.deepEqual(unknown.raw.x, "naïve ünïcödé ✓ 🚀");
  const rescind = events[3];
  assert.ok(rescind.type === "RESCIND");
  assert.deepEqual(rescind.rescind.offer_id.value, "Ö-1");
});

Deno.test("MesosClient.call() sends Mesos-Stream-Id and framework_id, in order", async () => {
  await using master = startFakeMaster();
  await using client = new MesosClient({ master: master.url });
  const sub = await client.subscribe(subscribe(INFO));
  // Slow down the first call: the others must not overtake it.
  const gate = Promise.withResolvers<void>();
  master.script = async (req) => {
    if (req.body.type === "SUPPRESS") await gate.promise;
    return undefined;
  };
  const sent = [
    client.call(suppress()),
    ...Array.from({ length: 20 }, (_, i) => client.call(kill(`t-${i}`))),
  ];
  try {
    // Under load the first call may take a while to arrive; then the others must still wait.
    for (let i = 0; i < 500 && master.calls().length === 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(master.calls().length, 1, "later calls wait for the first");
  } finally {
    // Never leave the fake master's handler waiting, or disposing it hangs.
    gate.resolve();
  }
  await Promise.all(sent);
  const calls = master.calls();
  assert.deepEqual(calls.map((c) => c.body.type), ["SUPPRESS", ...Array(20).fill("KILL")]);
  assert.deepEqual(
    calls.slice(1).map((c) => (c.body.kill as { task_id: { value: string } }).task_id.value),
    Array.from({ length: 20 }, (_, i) => `t-${i}`),
  );
  for (const c of calls) {
    assert.deepEqual(c.headers.get("Mesos-Stream-Id"), sub.streamId);
    assert.deepEqual(c.body.framework_id, sub.frameworkId);
    assert.deepEqual(c.headers.get("Content-Type"), "application/json");
  }
});

Deno.test("MesosClient follows a 307 with a scheme-less Location to the leader", async () => {
  await using leader = startFakeMaster();
  await using follower = startFakeMaster();
  follower.script = () =>
    new Response(null, {
      status: 307,
      headers: { Location: `//${leader.hostPort}/master/api/v1/scheduler` },
    });
  const credential = { principal: "p", secret: "s" };
  await using client = new MesosClient({ master: follower.url, credential });
  const sub = await client.subscribe(subscribe(INFO));
  assert.deepEqual(sub.master.href, `http://${leader.hostPort}/master/api/v1/scheduler`);
  assert.deepEqual(leader.requests[0].path, "/master/api/v1/scheduler");
  assert.deepEqual(leader.requests[0].headers.get("Authorization"), basicAuthorization(credential));
  assert.deepEqual(client.redirectedLeader?.host, leader.hostPort);
  await client.call(revive());
  assert.deepEqual(follower.requests.length, 1, "later calls go straight to the leader");
  assert.deepEqual(leader.calls().map((c) => c.body.type), ["REVIVE"]);
});

Deno.test("MesosClient gives up after too many redirects", async () => {
  await using a = startFakeMaster();
  a.script = () =>
    new Response(null, { status: 307, headers: { Location: `//${a.hostPort}/api/v1/scheduler` } });
  await using client = new MesosClient({ master: a.url, maxRedirects: 3 });
  const err = await client.subscribe(subscribe(INFO)).catch((e) => e);
  assert.ok(err instanceof MesosApiError, String(err));
  assert.ok(err.message.includes("307"), err.message);
  assert.deepEqual((err as MesosApiError).temporary, true);
  assert.deepEqual(a.requests.length, 4);
});

Deno.test("MesosClient.call() retries 503 with back-off, then succeeds", async () => {
  await using master = startFakeMaster();
  await using client = new MesosClient({ master: master.url, callBackoff: FAST });
  await client.subscribe(subscribe(INFO));
  let failures = 2;
  master.script = (req) =>
    req.body.type === "REVIVE" && failures-- > 0
      ? new Response("Master has not finished recovery", { status: 503 })
      : undefined;
  await client.call(revive());
  assert.deepEqual(master.calls().length, 3);
});

Deno.test("MesosClient.call() retries ACCEPT on 503 but never on 500", async () => {
  await using master = startFakeMaster();
  await using client = new MesosClient({ master: master.url, callBackoff: FAST });
  await client.subscribe(subscribe(INFO));
  let status = 503;
  let failures = 1;
  master.script = (req) =>
    req.body.type === "ACCEPT" && failures-- > 0 ? new Response("x", { status }) : undefined;
  await client.call(accept(["O1"], [launch([])]));
  assert.deepEqual(master.calls().length, 2);
  status = 500;
  failures = 1;
  const err = await client.call(accept(["O2"], [])).catch((e) => e);
  assert.ok(err instanceof MesosApiError, String(err));
  assert.ok(err.message.includes("500"), err.message);
  assert.deepEqual((err as MesosApiError).temporary, true);
  assert.deepEqual(master.calls().length, 3);
});

Deno.test("MesosClient.call() surfaces a 400 at once as a permanent error", async () => {
  await using master = startFakeMaster();
  await using client = new MesosClient({ master: master.url, callBackoff: FAST });
  const sub = await client.subscribe(subscribe(INFO));
  master.script = () => new Response("Failed to validate scheduler::Call: bad", { status: 400 });
  const err = await client.call(revive()).catch((e) => e);
  assert.ok(err instanceof MesosApiError, String(err));
  assert.ok(err.message.includes("Cannot REVIVE: master answered 400"), err.message);
  assert.deepEqual((err as MesosApiError).temporary, false);
  assert.deepEqual((err as MesosApiError).body, "Failed to validate scheduler::Call: bad");
  assert.deepEqual(master.calls().length, 1);
  assert.deepEqual(sub.isClosed, false);
});

Deno.test("MesosClient.call() answered 'not subscribed' ends the subscription", async () => {
  await using master = startFakeMaster();
  await using client = new MesosClient({ master: master.url });
  const sub = await client.subscribe(subscribe(INFO));
  master.script = () => new Response("Framework is not subscribed", { status: 403 });
  const err = await client.call(revive()).catch((e) => e);
  assert.ok(err instanceof MesosApiError, String(err));
  assert.deepEqual((err as MesosApiError).subscriptionLost, true);
  const closed = await sub.closed;
  assert.ok(closed instanceof SubscriptionLostError);
  assert.deepEqual(closed.reason, "call_rejected");
  assert.deepEqual(closed.temporary, true);
  assert.deepEqual(client.subscription, null);
  await (await master.stream(0)).done; // the client hung up
  const rejected = await client.call(revive()).catch((e) => e);
  assert.ok(rejected instanceof SubscriptionLostError, String(rejected));
  assert.ok(rejected.message.includes("not subscribed"), rejected.message);
});

Deno.test("MesosClient.subscribe() reports HTTP refusals with their temporariness", async () => {
  await using master = startFakeMaster({ authorization: "Basic nope" });
  await using client = new MesosClient({ master: master.url });
  const e401 = await client.subscribe(subscribe(INFO)).catch((e) => e);
  assert.ok(e401 instanceof MesosApiError, String(e401));
  assert.ok(e401.message.includes("401"), e401.message);
  assert.deepEqual((e401 as MesosApiError).temporary, false);
  await using other = startFakeMaster();
  other.script = () => new Response("No leader elected", { status: 503 });
  await using client2 = new MesosClient({ master: other.url });
  const e503 = await client2.subscribe(subscribe(INFO)).catch((e) => e);
  assert.ok(e503 instanceof MesosApiError, String(e503));
  assert.deepEqual((e503 as MesosApiError).temporary, true);
});

Deno.test("MesosClient.subscribe() rejects permanently on an ERROR event", async () => {
  await using master = startFakeMaster();
  master.script = (req) => {
    if (req.body.type !== "SUBSCRIBE") return undefined;
    const body = eventsAsBytes([{
      type: "ERROR",
      error: { message: "Framework has been removed" },
    }]);
    return new Response(body, { headers: { "Mesos-Stream-Id": "s-1" } });
  };
  await using client = new MesosClient({ master: master.url });
  const err = await client.subscribe(subscribe(INFO, { frameworkId: "F-9" })).catch((e) => e);
  assert.ok(err instanceof SubscriptionLostError, String(err));
  assert.ok(err.message.includes("Framework has been removed"), err.message);
  assert.deepEqual((err as SubscriptionLostError).reason, "error_event");
  assert.deepEqual((err as SubscriptionLostError).temporary, false);
});

Deno.test("MesosClient reports a refused connection as temporary and never processed", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await using client = new MesosClient({ master: `127.0.0.1:${port}` });
  const err = await client.subscribe(subscribe(INFO)).catch((e) => e);
  assert.ok(err instanceof MesosConnectionError, String(err));
  assert.deepEqual((err as MesosConnectionError).temporary, true);
  assert.deepEqual((err as MesosConnectionError).maybeProcessed, false);
});

Deno.test("Subscription ends with stream_ended when the master closes the stream", async () => {
  await using master = startFakeMaster();
  await using client = new MesosClient({ master: master.url });
  const sub = await client.subscribe(subscribe(INFO));
  (await master.stream(0)).end();
  const types: string[] = [];
  for await (const e of sub.events) types.push(e.type);
  assert.deepEqual(types, ["SUBSCRIBED", "HEARTBEAT"]);
  const closed = await sub.closed;
  assert.ok(closed instanceof SubscriptionLostError);
  assert.deepEqual(closed.reason, "stream_ended");
  assert.deepEqual(closed.temporary, true);
});

Deno.test("Subscription.close() hangs up without TEARDOWN and resolves closed with undefined", async () => {
  await using master = startFakeMaster();
  await using client = new MesosClient({ master: master.url });
  const sub = await client.subscribe(subscribe(INFO));
  await sub.close();
  assert.deepEqual(await sub.closed, undefined);
  await (await master.stream(0)).done;
  assert.deepEqual(master.calls().length, 0);
});

Deno.test("Subscription heartbeat watchdog drops a silent stream after the missed heartbeats", async () => {
  const clock = new FakeClock();
  await using master = startFakeMaster({ heartbeatIntervalSeconds: 15 });
  await using client = new MesosClient({ master: master.url, clock });
  const sub = await client.subscribe(subscribe(INFO), { missedHeartbeats: 5 });
  const stream = await master.stream(0);
  const it = sub.events[Symbol.asyncIterator]();
  await it.next(); // SUBSCRIBED
  await it.next(); // HEARTBEAT
  await clock.tick(60_000);
  assert.deepEqual(sub.isClosed, false);
  stream.send({ type: "HEARTBEAT" });
  assert.deepEqual((await it.next()).value?.type, "HEARTBEAT");
  await clock.tick(60_000); // 60 s after the last byte: still fine
  assert.deepEqual(sub.isClosed, false);
  await clock.tick(15_000); // 75 s = 5 × 15 s of silence
  const closed = await sub.closed;
  assert.ok(closed instanceof SubscriptionLostError);
  assert.deepEqual(closed.reason, "heartbeat_timeout");
  assert.deepEqual(closed.temporary, true);
  await stream.done; // the client hung up
});

Deno.test("Subscription heartbeat watchdog: a short heartbeat interval applies from SUBSCRIBED on, not after the SUBSCRIBE deadline", async () => {
  const clock = new FakeClock();
  await using master = startFakeMaster({ heartbeatIntervalSeconds: 1 });
  await using client = new MesosClient({ master: master.url, clock });
  const sub = await client.subscribe(subscribe(INFO), { missedHeartbeats: 5, timeoutMs: 30_000 });
  const stream = await master.stream(0);
  const it = sub.events[Symbol.asyncIterator]();
  await it.next(); // SUBSCRIBED
  await it.next(); // HEARTBEAT
  await clock.tick(4_000);
  assert.deepEqual(sub.isClosed, false);
  await clock.tick(1_000); // 5 × 1 s of silence, long before the 30 s SUBSCRIBE deadline
  assert.deepEqual(sub.isClosed, true, "the silent stream was not dropped");
  const closed = await sub.closed;
  assert.ok(closed instanceof SubscriptionLostError);
  assert.deepEqual(closed.reason, "heartbeat_timeout");
  await stream.done;
});

Deno.test("MesosClient.call() times out a call the master never answers", async () => {
  const clock = new FakeClock();
  await using master = startFakeMaster();
  await using client = new MesosClient({
    master: master.url,
    clock,
    callTimeoutMs: 1000,
    callAttempts: 1,
  });
  await client.subscribe(subscribe(INFO), { heartbeatTimeoutMs: 1e9 });
  const hang = Promise.withResolvers<void>();
  master.script = async (req) => {
    if (req.body.type === "KILL") await hang.promise;
    return undefined;
  };
  try {
    const pending = client.call(kill("t"));
    while (master.calls().length === 0) await new Promise((r) => setTimeout(r, 1));
    await clock.tick(1000);
    const rejected = await pending.catch((e) => e);
    assert.ok(rejected instanceof MesosConnectionError, String(rejected));
    assert.ok(rejected.message.includes("no answer within 1000 ms"), rejected.message);
  } finally {
    hang.resolve();
  }
});

Deno.test("MesosClient.call() rejects at once when its signal aborts while queued", async () => {
  await using master = startFakeMaster();
  await using client = new MesosClient({ master: master.url });
  await client.subscribe(subscribe(INFO));
  const gate = Promise.withResolvers<void>();
  master.script = async (req) => {
    if (req.body.type === "SUPPRESS") await gate.promise;
    return undefined;
  };
  const first = client.call(suppress());
  const ac = new AbortController();
  const second = client.call(revive(), ac.signal);
  ac.abort(new Error("stop"));
  const rejected = await second.catch((e) => e);
  assert.ok(rejected instanceof Error, String(rejected));
  assert.ok(rejected.message.includes("stop"), rejected.message);
  gate.resolve();
  await first;
  await client.call(kill("t"));
  assert.deepEqual(master.calls().map((c) => c.body.type), ["SUPPRESS", "KILL"]);
});

Deno.test("MesosClient.subscribe() closes the previous subscription", async () => {
  await using master = startFakeMaster();
  await using client = new MesosClient({ master: master.url });
  const first = await client.subscribe(subscribe(INFO));
  const second = await client.subscribe(subscribe(INFO, { frameworkId: first.frameworkId }));
  assert.deepEqual(await first.closed, undefined);
  assert.deepEqual(second.frameworkId, first.frameworkId);
  assert.deepEqual(master.requests[1].body.framework_id, first.frameworkId);
  await client.call(revive());
  assert.deepEqual(master.calls()[0].headers.get("Mesos-Stream-Id"), second.streamId);
});

Deno.test("MesosClient.call({ ordered: false }) overtakes ordered calls, many in flight at once", async () => {
  await using master = startFakeMaster();
  await using client = new MesosClient({ master: master.url });
  await client.subscribe(subscribe(INFO));
  const gate = Promise.withResolvers<void>();
  master.script = async (req) => {
    if (req.body.type === "SUPPRESS") await gate.promise;
    return undefined;
  };
  const ordered = client.call(suppress());
  const later = client.call(revive());
  try {
    while (master.calls().length === 0) await new Promise((r) => setTimeout(r, 1));
    // Far more than the former cap of 8 calls in flight, all answered while SUPPRESS waits.
    await Promise.all(
      Array.from({ length: 40 }, (_, i) => client.call(kill(`t-${i}`), { ordered: false })),
    );
    const types = master.calls().map((c) => c.body.type);
    assert.deepEqual(types.length, 41);
    assert.deepEqual(types[0], "SUPPRESS");
    assert.deepEqual(types.includes("REVIVE"), false, "ordered calls still wait for each other");
  } finally {
    gate.resolve();
  }
  await ordered;
  await later;
  assert.deepEqual(master.calls().at(-1)?.body.type, "REVIVE");
});

Deno.test("MesosClient.call({ ordered: false }) refuses calls beyond the bounded queue", async () => {
  await using master = startFakeMaster();
  await using client = new MesosClient({
    master: master.url,
    maxUnorderedInFlight: 1,
    maxQueuedCalls: 2,
  });
  await client.subscribe(subscribe(INFO));
  const gate = Promise.withResolvers<void>();
  master.script = async (req) => {
    if (req.body.type === "KILL") await gate.promise;
    return undefined;
  };
  const accepted = ["a", "b", "c"].map((t) => client.call(kill(t), { ordered: false }));
  const refused = await client.call(kill("d"), { ordered: false }).catch((e) => e);
  gate.resolve();
  await Promise.all(accepted);
  assert.ok(refused instanceof CallQueueFullError);
  assert.deepEqual(refused.temporary, true);
  assert.deepEqual(master.calls().length, 3);
});

Deno.test("Subscription ends with protocol_error on a corrupt stream", async () => {
  await using master = startFakeMaster();
  await using client = new MesosClient({ master: master.url });
  const sub = await client.subscribe(subscribe(INFO));
  const stream = await master.stream(0);
  stream.sendRaw(new TextEncoder().encode("12x\n{}"));
  const closed = await sub.closed;
  assert.ok(closed instanceof SubscriptionLostError);
  assert.deepEqual(closed.reason, "protocol_error");
  assert.deepEqual(closed.temporary, true);
  await stream.done;
});

Deno.test("Subscription ends with protocol_error on an event that is not JSON", async () => {
  await using master = startFakeMaster();
  await using client = new MesosClient({ master: master.url });
  const sub = await client.subscribe(subscribe(INFO));
  (await master.stream(0)).sendRaw(new TextEncoder().encode("3\n{x}"));
  const closed = await sub.closed;
  assert.ok(closed instanceof SubscriptionLostError);
  assert.deepEqual(closed.reason, "protocol_error");
});

Deno.test("MesosClient reads a 2 MB OFFERS event delivered in 1 KiB chunks", async () => {
  await using master = startFakeMaster({ afterSubscribed: [] });
  await using client = new MesosClient({ master: master.url });
  const sub = await client.subscribe(subscribe(INFO));
  const offers = Array.from({ length: 4000 }, (_, i) => ({
    id: { value: `O${i}` },
    framework_id: { value: "F" },
    agent_id: { value: `A-S${i}` },
    hostname: `agent-${i}.example.net`,
    resources: [
      { name: "cpus", type: "SCALAR", scalar: { value: 8 }, role: "*" },
      { name: "mem", type: "SCALAR", scalar: { value: 16384 }, role: "*" },
      {
        name: "ports",
        type: "RANGES",
        ranges: { range: [{ begin: 31000, end: 32000 }] },
        role: "*",
      },
    ],
    attributes: [{ name: "rack", type: "TEXT", text: { value: `r${i % 40}-✓` } }],
  }));
  const bytes = eventsAsBytes([{ type: "OFFERS", offers: { offers } }, { type: "HEARTBEAT" }]);
  assert.ok(bytes.length > 1_500_000);
  const stream = await master.stream(0);
  for (let i = 0; i < bytes.length; i += 1024) stream.sendRaw(bytes.slice(i, i + 1024));
  const [, event, heartbeat] = await take(sub.events, 3);
  assert.ok(event.type === "OFFERS");
  assert.deepEqual(event.offers.offers!.length, 4000);
  assert.deepEqual(event.offers.offers![3999].attributes![0].text!.value, "r39-✓");
  assert.deepEqual(heartbeat.type, "HEARTBEAT");
});

Deno.test("MesosClient.subscribe({ sink }) pushes events straight into the sink, nothing into events", async () => {
  await using master = startFakeMaster();
  await using client = new MesosClient({ master: master.url });
  const got: Event[] = [];
  const sub = await client.subscribe(subscribe(INFO), { sink: { push: (e) => got.push(e) } });
  assert.deepEqual(got.map((e) => e.type), ["SUBSCRIBED", "HEARTBEAT"]);
  const stream = await master.stream(0);
  stream.send({ type: "HEARTBEAT" });
  stream.end();
  assert.ok((await sub.closed) instanceof SubscriptionLostError);
  assert.deepEqual(got.map((e) => e.type), ["SUBSCRIBED", "HEARTBEAT", "HEARTBEAT"]);
  assert.deepEqual(await take(sub.events, 1), []);
  // A refusal rejects subscribe(); its ERROR event never reaches the sink.
  master.script = (req) =>
    req.body.type === "SUBSCRIBE"
      ? new Response(
        eventsAsBytes([{ type: "ERROR", error: { message: "Framework has been removed" } }]),
        {
          headers: { "Mesos-Stream-Id": "s-2" },
        },
      )
      : undefined;
  const refused: Event[] = [];
  await assert.rejects(
    client.subscribe(subscribe(INFO), { sink: { push: (e) => refused.push(e) } }),
    SubscriptionLostError,
  );
  assert.deepEqual(refused, []);
});

Deno.test("MesosClient.callMany() sends every call pipelined, retries each failed one on its own and reports its error", async () => {
  await using master = startFakeMaster();
  await using client = new MesosClient({
    master: master.url,
    callBackoff: FAST,
    maxUnorderedInFlight: 8,
  });
  const sub = await client.subscribe(subscribe(INFO));
  let unavailable = 1;
  master.script = (req) => {
    const id = (req.body.kill as { task_id: { value: string } } | undefined)?.task_id.value;
    if (id === "t-3" && unavailable-- > 0) return new Response("recovering", { status: 503 });
    if (id === "t-5") {
      return new Response("Failed to validate scheduler::Call: bad", { status: 400 });
    }
    return undefined;
  };
  // 12 calls: 8 fit the pipeline as one batch, the other 4 go one by one.
  const calls = Array.from({ length: 12 }, (_, i) => kill(`t-${i}`));
  const errors = await client.callMany(calls);
  assert.deepEqual(errors.map((e, i) => e ? i : -1).filter((i) => i >= 0), [5]);
  assert.ok(errors[5] instanceof MesosApiError, String(errors[5]));
  assert.deepEqual((errors[5] as MesosApiError).status, 400);
  const sent = master.calls();
  const ids = sent.map((c) => (c.body.kill as { task_id: { value: string } }).task_id.value);
  // Every call arrived; t-3 twice (503, then its own retry), t-5 twice (a failed call of
  // the batch is sent again on its own, which reports the error).
  assert.deepEqual(
    [...ids].sort(),
    [...calls.map((_, i) => `t-${i}`), "t-3", "t-5"].sort(),
  );
  for (const c of sent) {
    assert.deepEqual(c.headers.get("Mesos-Stream-Id"), sub.streamId);
    assert.deepEqual(c.body.framework_id, sub.frameworkId);
  }
});

Deno.test("MesosClient.callMany() without a subscription reports each call's error", async () => {
  await using master = startFakeMaster();
  await using client = new MesosClient({ master: master.url });
  const errors = await client.callMany([kill("a"), kill("b")]);
  assert.deepEqual(errors.length, 2);
  for (const e of errors) assert.ok(e instanceof SubscriptionLostError, String(e));
  assert.deepEqual(master.calls().length, 0);
});
