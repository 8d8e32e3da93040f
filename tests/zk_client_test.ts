import assert from "node:assert/strict";
import { connectZk, parseZkUrl, ZK_CODES, ZkError, ZkUnavailableError } from "../src/zk/mod.ts";
import { freePort } from "./_helpers.ts";
import { zkSuite } from "./_zookeeper.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

zkSuite("ZkClient against a real ZooKeeper", async (zk, t) => {
  await t.step("create, read, write, list and remove nodes", async () => {
    await using c = await connectZk(parseZkUrl(zk.url("/t1")), { sessionTimeoutMs: 4000 });
    await c.mkdirp("/t1/a/b");
    assert.equal(await c.create("/t1/a/b/n", enc("one")), "/t1/a/b/n");
    const node = await c.getData("/t1/a/b/n");
    assert.equal(dec(node!.data), "one");
    await c.setData("/t1/a/b/n", enc("two"), node!.version);
    assert.equal(dec((await c.getData("/t1/a/b/n"))!.data), "two");
    await assert.rejects(() => c.setData("/t1/a/b/n", enc("x"), node!.version), (e: unknown) => {
      assert.ok(e instanceof ZkError);
      assert.equal(e.code, ZK_CODES.BAD_VERSION);
      assert.equal(e.temporary, false);
      return true;
    });
    await assert.rejects(() => c.create("/t1/a/b/n", enc("")), (e: unknown) => {
      return e instanceof ZkError && e.code === ZK_CODES.NODE_EXISTS;
    });
    assert.deepEqual(await c.getChildren("/t1/a/b"), ["n"]);
    assert.equal(await c.getChildren("/t1/none"), null);
    assert.equal(await c.getData("/t1/none"), null);
    assert.equal(await c.remove("/t1/a/b/n"), true);
    assert.equal(await c.remove("/t1/a/b/n"), false);
  });

  await t.step("multi() applies all operations or none", async () => {
    await using c = await connectZk(parseZkUrl(zk.url("/t2")));
    await c.mkdirp("/t2");
    await c.multi([
      { op: "create", path: "/t2/x", data: enc("x") },
      { op: "create", path: "/t2/y", data: enc("y") },
    ]);
    assert.deepEqual((await c.getChildren("/t2"))!.sort(), ["x", "y"]);
    await assert.rejects(
      () =>
        c.multi([
          { op: "create", path: "/t2/z", data: enc("z") },
          { op: "create", path: "/t2/x", data: enc("again") },
        ]),
      (e: unknown) => e instanceof ZkError && e.code === ZK_CODES.NODE_EXISTS,
    );
    assert.deepEqual((await c.getChildren("/t2"))!.sort(), ["x", "y"]);
  });

  await t.step("multi() checks versions, 0 included, and names the failing operation", async () => {
    await using c = await connectZk(parseZkUrl(zk.url("/t7")));
    await c.mkdirp("/t7");
    await c.create("/t7/n", enc("v0"));
    assert.equal(await c.setData("/t7/n", enc("v1"), 0), 1);
    // The library alone would send version 0 as -1 ("any") and let this pass.
    await assert.rejects(
      () =>
        c.multi([
          { op: "create", path: "/t7/m", data: enc("") },
          { op: "check", path: "/t7/n", version: 0 },
        ]),
      (e: unknown) => e instanceof ZkError && e.code === ZK_CODES.BAD_VERSION && e.opIndex === 1,
    );
    await assert.rejects(
      () => c.multi([{ op: "set", path: "/t7/n", data: enc("x"), version: 0 }]),
      (e: unknown) => e instanceof ZkError && e.code === ZK_CODES.BAD_VERSION && e.opIndex === 0,
    );
    assert.equal(dec((await c.getData("/t7/n"))!.data), "v1");
    assert.equal(await c.getData("/t7/m"), null);
    await c.multi([{ op: "check", path: "/t7/n", version: 1 }]);
    await c.sync("/");
  });

  await t.step("ephemeral sequential nodes go with their session", async () => {
    await using watcher = await connectZk(parseZkUrl(zk.url("/t3")));
    await watcher.mkdirp("/t3");
    const c = await connectZk(parseZkUrl(zk.url("/t3")));
    const path = await c.create("/t3/json.info_", enc("{}"), { mode: "ephemeral_sequential" });
    assert.match(path, /^\/t3\/json\.info_\d{10}$/);
    let changed!: () => void;
    const fired = new Promise<void>((r) => changed = r);
    assert.equal((await watcher.getChildren("/t3", () => changed()))!.length, 1);
    await c.close();
    await fired;
    assert.deepEqual(await watcher.getChildren("/t3"), []);
  });

  await t.step("digest credentials: nodes are the creator's, others cannot read", async () => {
    await using owner = await connectZk(parseZkUrl(`zk://bob:hunter2@${zk.connect}/t4`));
    await owner.mkdirp("/t4");
    await owner.create("/t4/secret", enc("s"), { acl: "private" });
    await owner.create("/t4/public", enc("p"), { acl: "readable" });
    assert.equal(dec((await owner.getData("/t4/secret"))!.data), "s");
    await using other = await connectZk(parseZkUrl(`zk://eve:nope@${zk.connect}/t4`));
    await assert.rejects(
      () => other.getData("/t4/secret"),
      (e: unknown) => e instanceof ZkError && e.code === ZK_CODES.NO_AUTH,
    );
    assert.equal(dec((await other.getData("/t4/public"))!.data), "p");
    await assert.rejects(() => other.setData("/t4/public", enc("x")), ZkError);
  });

  await t.step("an expired session is replaced and listeners are told", async () => {
    await using c = await connectZk(parseZkUrl(zk.url("/t5")), { sessionTimeoutMs: 2000 });
    await c.mkdirp("/t5");
    await c.create("/t5/mine", enc(""), { mode: "ephemeral" });
    const before = c.sessionId;
    let lost!: () => void;
    const told = new Promise<void>((r) => lost = r);
    c.onSessionLost(() => lost());
    await zk.pause(3500);
    // Bounded: a session that survived the pause must fail this step, not hang the suite.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      told,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error("the session was not reported lost")), 20_000);
      }),
    ]).finally(() => clearTimeout(timer));
    await c.ready(10_000);
    assert.notEqual(c.sessionId, before);
    assert.equal(await c.getData("/t5/mine"), null);
    await c.create("/t5/mine", enc(""), { mode: "ephemeral" });
  });

  await t.step("reconnects after ZooKeeper restarts in the middle of answers", async () => {
    await using c = await connectZk(parseZkUrl(zk.url("/t6")), { sessionTimeoutMs: 4000 });
    await c.mkdirp("/t6");
    for (let i = 0; i < 20; i++) await c.create(`/t6/node-${i}`, enc("x".repeat(200)));
    // Reads in flight all the time, so the restart cuts the connection inside an answer.
    let reading = true;
    const reads = (async () => {
      while (reading) {
        await Promise.all(Array.from({ length: 8 }, () => c.getChildren("/t6").catch(() => null)));
        if (!c.connected) await new Promise((r) => setTimeout(r, 10));
      }
    })();
    await new Promise((r) => setTimeout(r, 200));
    await zk.restart();
    await c.ready(10_000);
    reading = false;
    await reads;
    assert.equal((await c.getChildren("/t6"))?.length, 20);
  });
});

Deno.test("connectZk() gives up after its connect timeout when nobody listens", async () => {
  const url = parseZkUrl(`zk://bob:hunter2@127.0.0.1:${freePort()}/x`);
  await assert.rejects(() => connectZk(url, { connectTimeoutMs: 300 }), (e: unknown) => {
    assert.ok(e instanceof ZkUnavailableError);
    assert.ok(!e.message.includes("hunter2"), e.message);
    return true;
  });
});
