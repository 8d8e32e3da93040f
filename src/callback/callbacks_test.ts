import { createMetrics } from "../metrics/mod.ts";
import { collectingLogger, FakeClock, silentLogger } from "../runtime.ts";
import { sampleTask } from "../store/_contract.ts";
import { memoryStore, openKvStore } from "../store/mod.ts";
import type { TaskRecord, TaskState } from "../task/mod.ts";
import { assert, assertEquals, assertStringIncludes } from "../testing/asserts.ts";
import {
  CALLBACK_OUTBOX_KIND,
  callbackBody,
  callbackDeliveryId,
  createCallbacks,
  redactUri,
  signCallback,
} from "./mod.ts";

interface Received {
  headers: Headers;
  body: string;
}

type Answer = number | "hang";

/** A real HTTP receiver on a free loopback port answering each request per `script` (then 200). */
function receiver(script: Answer[] = []) {
  const received: Received[] = [];
  const hanging: (() => void)[] = [];
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    async (req) => {
      const body = await req.text();
      const answer = script.shift() ?? 200;
      if (answer === "hang") {
        // Held until the receiver is disposed (the client gave up long before).
        await new Promise<void>((resolve) => hanging.push(resolve));
        return new Response("late");
      }
      received.push({ headers: req.headers, body });
      return new Response(answer === 200 ? "ok" : "nope", { status: answer });
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}/hook`,
    port: server.addr.port,
    received,
    async [Symbol.asyncDispose]() {
      for (const h of hanging) h();
      await server.shutdown();
    },
  };
}

/** Waits (bounded) until `cond()` holds; fails the test otherwise. */
async function until(cond: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`Timed out waiting for ${what}`);
}

function finished(overrides: Record<string, unknown>, state: TaskState = "TASK_FINISHED") {
  const t = sampleTask(overrides);
  return { ...t, status: [...t.status, { time: t.status[0].time + 5, status: state }] };
}

/** A fetch that never answers until its signal aborts. */
const hangingFetch: typeof fetch = (_input, init) =>
  new Promise((_resolve, reject) => {
    init?.signal?.addEventListener("abort", () => reject(init.signal!.reason), { once: true });
  });

Deno.test("callbackBody() keeps the original key order", () => {
  assertEquals(
    callbackBody("eremetic-task.x", "TASK_FINISHED", 1700000000),
    '{"time":1700000000,"status":"TASK_FINISHED","task_id":"eremetic-task.x"}',
  );
});

Deno.test("redactUri() hides user info and keeps everything else", () => {
  assertEquals(redactUri("http://user:pa55@host:8080/p?q=1"), "http://***@host:8080/p?q=1");
  assertEquals(redactUri("https://host/p"), "https://host/p");
  assertEquals(redactUri("weird://u:p@[bad/x"), "weird://***@[bad/x");
});

Deno.test("callbackDeliveryId() differs per history position and state", () => {
  const t = finished({ callback_uri: "http://h/" });
  assertEquals(callbackDeliveryId(t, "TASK_FINISHED"), `${t.id}/1/TASK_FINISHED`);
  assertEquals(callbackDeliveryId(t, "TASK_QUEUED"), `${t.id}/0/TASK_QUEUED`);
  const retried: TaskRecord = {
    ...t,
    status: [...t.status, { time: 9, status: "TASK_QUEUED" }, {
      time: 10,
      status: "TASK_FINISHED",
    }],
  };
  assertEquals(callbackDeliveryId(retried, "TASK_FINISHED"), `${t.id}/3/TASK_FINISHED`);
});

Deno.test("createCallbacks() POSTs the payload with a verifiable signature", async () => {
  await using hook = receiver();
  const store = memoryStore();
  const metrics = createMetrics();
  const secret = "top-secret";
  await using callbacks = createCallbacks({ store, logger: silentLogger, secret, metrics });
  await callbacks.start();
  const task = finished({ callback_uri: hook.url });
  await callbacks.enqueue(task, "TASK_FINISHED", 1700000123);
  await until(() => hook.received.length >= 1, "the callback");
  const [got] = hook.received;
  assertEquals(
    got.body,
    `{"time":1700000123,"status":"TASK_FINISHED","task_id":"${task.id}"}`,
  );
  assertEquals(got.headers.get("content-type"), "application/json");
  assertEquals(got.headers.get("x-eremetic-delivery"), `${task.id}/1/TASK_FINISHED`);
  const signature = got.headers.get("x-eremetic-signature")!;
  assertEquals(signature, await signCallback(secret, got.body));
  // Verify independently, as a receiver would.
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["verify"],
  );
  const mac = new Uint8Array(
    signature.slice("sha256=".length).match(/../g)!.map((h) => parseInt(h, 16)),
  );
  assert(await crypto.subtle.verify("HMAC", key, mac, new TextEncoder().encode(got.body)));
  await until(
    async () => (await store.listOutbox(CALLBACK_OUTBOX_KIND)).length === 0,
    "the outbox to empty",
  );
  assertEquals(metrics.callbacksSent.get({ outcome: "delivered" }), 1);
});

Deno.test("createCallbacks() sends no signature without a secret", async () => {
  await using hook = receiver();
  await using callbacks = createCallbacks({ store: memoryStore(), logger: silentLogger });
  await callbacks.enqueue(finished({ callback_uri: hook.url }), "TASK_FINISHED", 1);
  await until(() => hook.received.length >= 1, "the callback");
  assertEquals(hook.received[0].headers.get("x-eremetic-signature"), null);
});

Deno.test("createCallbacks() retries after 500s, then delivers once", async () => {
  await using hook = receiver([500, 503, 200]);
  const store = memoryStore();
  const metrics = createMetrics();
  const logger = collectingLogger();
  await using callbacks = createCallbacks({
    store,
    logger,
    metrics,
    initialDelayMs: 5,
    maxDelayMs: 20,
  });
  await callbacks.enqueue(finished({ callback_uri: hook.url }), "TASK_FAILED", 7);
  await until(
    async () => (await store.listOutbox(CALLBACK_OUTBOX_KIND)).length === 0,
    "the delivery",
  );
  assertEquals(hook.received.length, 3);
  assertEquals(metrics.callbacksSent.get({ outcome: "failed" }), 2);
  assertEquals(metrics.callbacksSent.get({ outcome: "delivered" }), 1);
  const retries = logger.entries.filter((e) => e.message === "Callback failed, will retry");
  assertEquals(retries.map((e) => e.fields?.reason), [
    "receiver answered 500",
    "receiver answered 503",
  ]);
});

Deno.test("createCallbacks() abandons an attempt after timeoutMs and retries", async () => {
  await using hook = receiver(["hang", 200]);
  const store = memoryStore();
  const logger = collectingLogger();
  await using callbacks = createCallbacks({
    store,
    logger,
    timeoutMs: 50,
    initialDelayMs: 5,
    maxDelayMs: 5,
  });
  await callbacks.enqueue(finished({ callback_uri: hook.url }), "TASK_KILLED", 7);
  await until(() => hook.received.length >= 1, "the retried callback");
  const retry = logger.entries.find((e) => e.message === "Callback failed, will retry");
  assertEquals(retry?.fields?.reason, "no answer within 50 ms");
});

Deno.test("createCallbacks() never blocks enqueue on the receiver", async () => {
  const store = memoryStore();
  await using callbacks = createCallbacks({ store, logger: silentLogger, fetch: hangingFetch });
  // Resolves although the receiver never answers.
  await callbacks.enqueue(finished({ callback_uri: "http://10.0.0.1/x" }), "TASK_FINISHED", 1);
  assertEquals((await store.listOutbox(CALLBACK_OUTBOX_KIND)).length, 1);
});

Deno.test("createCallbacks() delivers after a restart what the last run left pending", async () => {
  await using hook = receiver();
  const store = memoryStore();
  const task = finished({ callback_uri: hook.url });
  const first = createCallbacks({ store, logger: silentLogger, fetch: hangingFetch });
  await first.start();
  await first.enqueue(task, "TASK_FINISHED", 42);
  await first.close();
  const pending = await store.listOutbox(CALLBACK_OUTBOX_KIND);
  assertEquals(pending.map((p) => p.id), [`${task.id}/1/TASK_FINISHED`]);
  assertEquals(hook.received.length, 0);

  await using second = createCallbacks({ store, logger: silentLogger });
  await second.start();
  await until(() => hook.received.length >= 1, "the resumed callback");
  assertEquals(hook.received[0].body, callbackBody(task.id, "TASK_FINISHED", 42));
  await until(
    async () => (await store.listOutbox(CALLBACK_OUTBOX_KIND)).length === 0,
    "the outbox to empty",
  );
});

Deno.test("createCallbacks() gives up maxAgeMs after the first attempt", async () => {
  const clock = new FakeClock();
  const t0 = clock.now();
  const store = memoryStore();
  const metrics = createMetrics();
  const logger = collectingLogger();
  const attempts: number[] = [];
  const failing: typeof fetch = () => {
    attempts.push(clock.now() - t0);
    return Promise.resolve(new Response("down", { status: 503 }));
  };
  await using callbacks = createCallbacks({
    store,
    logger,
    clock,
    metrics,
    fetch: failing,
    maxAgeMs: 10_000,
    initialDelayMs: 1_000,
    maxDelayMs: 4_000,
    random: () => 0.5,
  });
  await callbacks.enqueue(
    finished({ callback_uri: "http://u:hunter2@127.0.0.1:9/x" }),
    "TASK_LOST",
    1,
  );
  const gaveUp = () => logger.entries.some((e) => e.level === "warn");
  for (let i = 0; i < 200 && !gaveUp(); i++) {
    // Let the previous step settle (its back-off sleep registered) before time moves.
    await new Promise((r) => setTimeout(r, 0));
    await clock.tick(250);
  }
  assert(gaveUp(), "gave up");
  // Equal jitter at 0.5 gives 3/4 of 1 s, 2 s, 4 s, 4 s; the last waits only until the deadline.
  assertEquals(attempts, [0, 750, 2_250, 5_250, 8_250, 10_000]);
  assertEquals(metrics.callbacksSent.get({ outcome: "gave_up" }), 1);
  assertEquals(metrics.callbacksSent.get({ outcome: "failed" }), 6);
  assertEquals((await store.listOutbox(CALLBACK_OUTBOX_KIND)).length, 0);
  const warn = logger.entries.find((e) => e.level === "warn")!;
  assertStringIncludes(warn.message, "giving up");
  assertEquals(warn.fields?.uri, "http://***@127.0.0.1:9/x");
  assert(!JSON.stringify(logger.entries).includes("hunter2"), "no credentials in logs");
});

Deno.test("createCallbacks() keeps the deadline of the first attempt across a restart", async () => {
  const clock = new FakeClock();
  const store = memoryStore();
  const failing: typeof fetch = () => Promise.resolve(new Response("", { status: 500 }));
  const options = { store, logger: silentLogger, clock, maxAgeMs: 5_000, random: () => 0 };
  const first = createCallbacks({ ...options, fetch: failing });
  await first.enqueue(finished({ callback_uri: "http://127.0.0.1:9/x" }), "TASK_FINISHED", 1);
  await until(async () => {
    const [item] = await store.listOutbox<{ first_attempt_at: number | null }>(
      CALLBACK_OUTBOX_KIND,
    );
    return item?.value.first_attempt_at === clock.now();
  }, "the first attempt to be recorded");
  await first.close();
  await clock.tick(6_000);
  const logger = collectingLogger();
  const attempts: number[] = [];
  await using second = createCallbacks({
    ...options,
    logger,
    fetch: () => {
      attempts.push(clock.now());
      return failing("");
    },
  });
  await second.start();
  await until(() => logger.entries.some((e) => e.level === "warn"), "the give-up");
  assertEquals(attempts.length, 1);
});

Deno.test("createCallbacks() stores one delivery per transition", async () => {
  await using hook = receiver();
  const store = memoryStore();
  await using callbacks = createCallbacks({ store, logger: silentLogger, fetch: hangingFetch });
  const task = finished({ callback_uri: hook.url });
  await Promise.all([
    callbacks.enqueue(task, "TASK_FINISHED", 1),
    callbacks.enqueue(task, "TASK_FINISHED", 1),
  ]);
  await callbacks.enqueue(task, "TASK_FINISHED", 2);
  assertEquals((await store.listOutbox(CALLBACK_OUTBOX_KIND)).length, 1);
});

Deno.test("createCallbacks() does not repeat a delivered transition", async () => {
  await using hook = receiver();
  const store = memoryStore();
  await using callbacks = createCallbacks({ store, logger: silentLogger });
  const task = finished({ callback_uri: hook.url });
  await callbacks.enqueue(task, "TASK_FINISHED", 1);
  await until(
    async () => (await store.listOutbox(CALLBACK_OUTBOX_KIND)).length === 0,
    "the delivery",
  );
  await callbacks.enqueue(task, "TASK_FINISHED", 1);
  assertEquals((await store.listOutbox(CALLBACK_OUTBOX_KIND)).length, 0);
  assertEquals(hook.received.length, 1);
});

Deno.test("createCallbacks() passes URL credentials as basic auth and never logs them", async () => {
  await using hook = receiver([500, 200]);
  const logger = collectingLogger();
  const store = memoryStore();
  await using callbacks = createCallbacks({ store, logger, initialDelayMs: 1, maxDelayMs: 1 });
  const uri = `http://alice:s3cret@127.0.0.1:${hook.port}/hook`;
  await callbacks.enqueue(finished({ callback_uri: uri }), "TASK_FINISHED", 1);
  await until(() => hook.received.length >= 2, "the retried callback");
  assertEquals(hook.received[1].headers.get("authorization"), `Basic ${btoa("alice:s3cret")}`);
  assert(logger.entries.length > 0);
  assert(!JSON.stringify(logger.entries).includes("s3cret"), "no credentials in logs");
});

Deno.test("createCallbacks() ignores tasks without a usable callback_uri", async () => {
  const store = memoryStore();
  const logger = collectingLogger();
  const metrics = createMetrics();
  await using callbacks = createCallbacks({ store, logger, metrics, fetch: hangingFetch });
  await callbacks.enqueue(finished({}), "TASK_FINISHED", 1);
  const bad = { ...finished({}), callback_uri: "ftp://u:pw@host/x" };
  await callbacks.enqueue(bad, "TASK_FINISHED", 1);
  assertEquals((await store.listOutbox(CALLBACK_OUTBOX_KIND)).length, 0);
  assertEquals(metrics.callbacksSent.get({ outcome: "invalid" }), 1);
  assertEquals(logger.entries[0].fields?.uri, "ftp://***@host/x");
});

Deno.test("createCallbacks() resumes a pending delivery from a reopened KV store", async () => {
  await using hook = receiver();
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/eremetic.kv`;
    const task = finished({ callback_uri: hook.url });
    {
      await using store = await openKvStore(path);
      await using first = createCallbacks({ store, logger: silentLogger, fetch: hangingFetch });
      await first.enqueue(task, "TASK_FINISHED", 42);
    }
    await using store = await openKvStore(path);
    await using second = createCallbacks({ store, logger: silentLogger });
    await second.start();
    await until(() => hook.received.length >= 1, "the resumed callback");
    assertEquals(hook.received[0].body, callbackBody(task.id, "TASK_FINISHED", 42));
    await until(
      async () => (await store.listOutbox(CALLBACK_OUTBOX_KIND)).length === 0,
      "the outbox to empty",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
