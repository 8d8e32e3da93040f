import { assert, assertEquals, assertThrows } from "../testing/asserts.ts";
import { FakeClock } from "../runtime.ts";
import { basicAuthorization } from "./auth.ts";
import { revive } from "./calls.ts";
import type { MasterDetector } from "./detector.ts";
import { type ConnectionStatus, type Driver, startDriver } from "./driver.ts";
import { FrameworkError, SubscriptionLostError } from "./errors.ts";
import type { Event } from "./events.ts";
import { startFakeMaster } from "./_fake_master.ts";

const INFO = { user: "root", name: "test", failover_timeout: 3600 };
const FAST = { initialMs: 1, maxMs: 4 };

/** Resolves with the first status matching `pred` (the current one included). */
async function waitFor(
  driver: Driver,
  pred: (s: ConnectionStatus) => boolean,
): Promise<ConnectionStatus> {
  for await (const s of driver.status()) if (pred(s)) return s;
  throw new Error(`driver closed before the awaited status: ${driver.currentStatus.state}`);
}

async function take(events: AsyncIterator<Event>, n: number): Promise<string[]> {
  const out: string[] = [];
  while (out.length < n) {
    const r = await events.next();
    if (r.done) break;
    out.push(r.value.type);
  }
  return out;
}

Deno.test("startDriver() subscribes, forwards events and sends calls", async () => {
  await using master = startFakeMaster();
  const seen: string[] = [];
  await using driver = startDriver({
    master: master.url,
    frameworkInfo: INFO,
    onStatus: (s) => seen.push(s.state),
  });
  const it = driver.events[Symbol.asyncIterator]();
  assertEquals(await take(it, 2), ["SUBSCRIBED", "HEARTBEAT"]);
  const status = await waitFor(driver, (s) => s.state === "subscribed");
  const stream = await master.stream(0);
  assertEquals(status.frameworkId, stream.frameworkId);
  assertEquals(status.streamId, stream.streamId);
  assertEquals(status.master, master.hostPort);
  assertEquals(driver.frameworkId, stream.frameworkId);
  await driver.call(revive());
  assertEquals(master.calls()[0].headers.get("Mesos-Stream-Id"), stream.streamId);
  assertEquals(seen, ["connecting", "subscribed"]);
});

Deno.test("Driver resubscribes with the framework id after the master drops the stream", async () => {
  await using master = startFakeMaster();
  await using driver = startDriver({ master: master.url, frameworkInfo: INFO, backoff: FAST });
  const it = driver.events[Symbol.asyncIterator]();
  assertEquals(await take(it, 2), ["SUBSCRIBED", "HEARTBEAT"]);
  const first = await master.stream(0);
  first.end();
  assertEquals(await take(it, 2), ["SUBSCRIBED", "HEARTBEAT"]);
  const second = await master.stream(1);
  const sub = master.requests.filter((r) => r.body.type === "SUBSCRIBE")[1].body;
  assertEquals(sub.framework_id, { value: first.frameworkId });
  assertEquals(
    (sub.subscribe as { framework_info: { id: unknown } }).framework_info.id,
    { value: first.frameworkId },
  );
  assertEquals(second.frameworkId, first.frameworkId);
  const status = await waitFor(driver, (s) => s.state === "subscribed");
  assertEquals(status.streamId, second.streamId);
  await driver.call(revive());
  assertEquals(master.calls()[0].headers.get("Mesos-Stream-Id"), second.streamId);
});

Deno.test("Driver subscribes as a new framework after a drop when failover_timeout is 0", async () => {
  await using master = startFakeMaster();
  await using driver = startDriver({
    master: master.url,
    frameworkInfo: { user: "root", name: "x" },
    backoff: FAST,
  });
  const it = driver.events[Symbol.asyncIterator]();
  await take(it, 2);
  (await master.stream(0)).end();
  await take(it, 2);
  const subs = master.requests.filter((r) => r.body.type === "SUBSCRIBE");
  assertEquals(subs[1].body.framework_id, undefined);
});

Deno.test("Driver subscribes first with the seeded framework id and suppressed roles", async () => {
  await using master = startFakeMaster();
  await using driver = startDriver({
    master: master.url,
    frameworkInfo: { ...INFO, roles: ["a"], capabilities: [{ type: "MULTI_ROLE" }] },
    frameworkId: "F-seed",
    suppressedRoles: () => ["a"],
  });
  await waitFor(driver, (s) => s.state === "subscribed");
  const body = master.requests[0].body;
  assertEquals(body.framework_id, { value: "F-seed" });
  assertEquals((body.subscribe as { suppressed_roles: string[] }).suppressed_roles, ["a"]);
  assertEquals(driver.frameworkId, "F-seed");
});

Deno.test("Driver heartbeat watchdog drops a silent stream and resubscribes", async () => {
  const clock = new FakeClock();
  await using master = startFakeMaster({ heartbeatIntervalSeconds: 15 });
  await using driver = startDriver({
    master: master.url,
    frameworkInfo: INFO,
    clock,
    random: () => 0,
    backoff: { initialMs: 1000, maxMs: 1000 },
  });
  const it = driver.events[Symbol.asyncIterator]();
  await take(it, 2);
  await clock.tick(74_999);
  assertEquals(driver.currentStatus.state, "subscribed");
  await clock.tick(1);
  const lost = await waitFor(driver, (s) => s.state === "disconnected");
  assert(lost.error instanceof SubscriptionLostError);
  assertEquals(lost.error.reason, "heartbeat_timeout");
  assertEquals(lost.retryInMs, 500); // 1000 ms with the lowest jitter
  await (await master.stream(0)).done; // the silent stream was hung up
  await clock.tick(500);
  assertEquals(await take(it, 2), ["SUBSCRIBED", "HEARTBEAT"]);
  await waitFor(driver, (s) => s.state === "subscribed");
  assertEquals(master.streams.length, 2);
});

Deno.test("Driver retries temporary subscription failures with growing back-off", async () => {
  await using master = startFakeMaster();
  let refusals = 3;
  master.script = (req) =>
    req.body.type === "SUBSCRIBE" && refusals-- > 0
      ? new Response("No leader elected", { status: 503 })
      : undefined;
  const statuses: ConnectionStatus[] = [];
  await using driver = startDriver({
    master: master.url,
    frameworkInfo: INFO,
    random: () => 1 - Number.EPSILON,
    backoff: { initialMs: 2, maxMs: 8 },
    onStatus: (s) => statuses.push(s),
  });
  await waitFor(driver, (s) => s.state === "subscribed");
  const waits = statuses.filter((s) => s.state === "disconnected");
  assertEquals(waits.map((s) => [s.attempt, s.retryInMs]), [[1, 2], [2, 4], [3, 8]]);
  assertEquals(waits[0].error?.message.includes("No leader elected"), true);
});

Deno.test("Driver stops on a permanent error: another instance took over", async () => {
  await using master = startFakeMaster();
  await using driver = startDriver({ master: master.url, frameworkInfo: INFO, backoff: FAST });
  await waitFor(driver, (s) => s.state === "subscribed");
  await using other = startDriver({
    master: master.url,
    frameworkInfo: INFO,
    frameworkId: driver.frameworkId,
  });
  await waitFor(other, (s) => s.state === "subscribed");
  const result = await driver.closed;
  assert(result instanceof FrameworkError);
  assertEquals(result.reason, "error_event");
  assertEquals(result.kind, "failed_over");
  assertEquals(driver.frameworkId, other.frameworkId, "the id is kept: it is still ours to claim");
  const types: string[] = [];
  for await (const e of driver.events) types.push(e.type);
  assertEquals(types, ["SUBSCRIBED", "HEARTBEAT", "ERROR"]);
  assertEquals(driver.currentStatus.state, "closed");
  assertEquals(master.streams.filter((s) => s.open).length, 1);
});

Deno.test("Driver stops on 401 rather than spinning", async () => {
  await using master = startFakeMaster({ authorization: "Basic other" });
  await using driver = startDriver({ master: master.url, frameworkInfo: INFO, backoff: FAST });
  const result = await driver.closed;
  assertEquals((result as Error).message.includes("401"), true);
  assertEquals(master.requests.length, 1);
});

Deno.test("Driver authenticates with the credential and uses its principal", async () => {
  const credential = { principal: "eremetic", secret: "s3cret" };
  await using master = startFakeMaster({ authorization: basicAuthorization(credential) });
  await using driver = startDriver({ master: master.url, frameworkInfo: INFO, credential });
  await waitFor(driver, (s) => s.state === "subscribed");
  await driver.call(revive());
  const info = (master.requests[0].body.subscribe as { framework_info: { principal: string } })
    .framework_info;
  assertEquals(info.principal, "eremetic");
  assertEquals(master.calls()[0].headers.get("Authorization"), basicAuthorization(credential));
  assertThrows(
    () =>
      startDriver({ master: master.url, frameworkInfo: { ...INFO, principal: "x" }, credential }),
    TypeError,
    "differs",
  );
});

Deno.test("Driver.close() hangs up without TEARDOWN and ends events and statuses", async () => {
  await using master = startFakeMaster();
  const driver = startDriver({ master: master.url, frameworkInfo: INFO });
  const statuses = driver.status()[Symbol.asyncIterator]();
  await waitFor(driver, (s) => s.state === "subscribed");
  await driver.close();
  assertEquals(await driver.closed, undefined);
  assertEquals(driver.currentStatus.state, "closed");
  await (await master.stream(0)).done;
  assertEquals(master.calls().length, 0);
  const seen: string[] = [];
  for (let r = await statuses.next(); !r.done; r = await statuses.next()) seen.push(r.value.state);
  assertEquals(seen, ["connecting", "subscribed", "closed"]);
  const types: string[] = [];
  for await (const e of driver.events) types.push(e.type);
  assertEquals(types[0], "SUBSCRIBED");
});

Deno.test("Driver closes when its signal aborts, even while backing off", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const ac = new AbortController();
  const driver = startDriver({
    master: `127.0.0.1:${port}`,
    frameworkInfo: INFO,
    backoff: { initialMs: 60_000, maxMs: 60_000 },
    signal: ac.signal,
  });
  await waitFor(driver, (s) => s.state === "disconnected");
  ac.abort();
  assertEquals(await driver.closed, undefined);
});

Deno.test("Driver follows a detector's leader change to the new master", async () => {
  await using m1 = startFakeMaster();
  await using m2 = startFakeMaster();
  let leader = new URL(`${m1.url}/api/v1/scheduler`);
  let changed = Promise.withResolvers<void>();
  const detector: MasterDetector = {
    description: "test",
    leader: () => Promise.resolve(leader),
    leaderChanged: (_current, signal) =>
      new Promise((resolve, reject) => {
        changed.promise.then(resolve);
        signal.addEventListener("abort", () => reject(signal.reason), { once: true });
      }),
  };
  await using driver = startDriver({ master: detector, frameworkInfo: INFO, backoff: FAST });
  const first = await waitFor(driver, (s) => s.state === "subscribed");
  assertEquals(first.master, m1.hostPort);
  leader = new URL(`${m2.url}/api/v1/scheduler`);
  const old = changed;
  changed = Promise.withResolvers<void>();
  old.resolve();
  const lost = await waitFor(driver, (s) => s.state === "disconnected");
  assertEquals((lost.error as SubscriptionLostError).reason, "leader_changed");
  const second = await waitFor(driver, (s) => s.state === "subscribed");
  assertEquals(second.master, m2.hostPort);
  assertEquals(m2.requests[0].body.framework_id, { value: first.frameworkId });
});

Deno.test("Driver.subscribed() waits for the subscription, or rejects when the driver stops", async () => {
  await using master = startFakeMaster();
  await using driver = startDriver({ master: master.url, frameworkInfo: INFO });
  const status = await driver.subscribed();
  assertEquals(status.state, "subscribed");
  assertEquals((await driver.subscribed()).streamId, status.streamId);
  await using refused = startFakeMaster({ authorization: "Basic x" });
  const failing = startDriver({ master: refused.url, frameworkInfo: INFO });
  const err = await failing.subscribed().catch((e) => e);
  assertEquals(String(err.message).includes("401"), true);
  await failing.close();
  const ac = new AbortController();
  const stuck = startDriver({
    master: refused.url,
    frameworkInfo: INFO,
    // A master that never answers; fetch gives up when its signal aborts.
    fetch: (_url, init) =>
      new Promise((_, reject) => {
        const signal = init!.signal!;
        signal.addEventListener("abort", () => reject(signal.reason), { once: true });
      }),
    subscribeTimeoutMs: 60_000,
  });
  const waiting = stuck.subscribed(ac.signal);
  ac.abort(new Error("gave up"));
  assertEquals((await waiting.catch((e) => e)).message, "gave up");
  await stuck.close();
});
