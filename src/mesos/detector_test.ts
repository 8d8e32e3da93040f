import assert from "node:assert/strict";
import {
  detectorFor,
  MasterAddressError,
  redactAddress,
  schedulerEndpoint,
  staticDetector,
} from "./detector.ts";

Deno.test("schedulerEndpoint() accepts the address forms users write", () => {
  const cases: [string, string][] = [
    ["127.0.0.1:5050", "http://127.0.0.1:5050/api/v1/scheduler"],
    ["master@10.0.0.5:5050", "http://10.0.0.5:5050/api/v1/scheduler"],
    ["http://m1:5050", "http://m1:5050/api/v1/scheduler"],
    ["http://m1:5050/", "http://m1:5050/api/v1/scheduler"],
    ["https://m1.example.net", "https://m1.example.net/api/v1/scheduler"],
    ["https://proxy/mesos/", "https://proxy/mesos/api/v1/scheduler"],
    ["http://m1:5050/api/v1/scheduler", "http://m1:5050/api/v1/scheduler"],
    [" m1:5050 ", "http://m1:5050/api/v1/scheduler"],
  ];
  for (const [input, expected] of cases) {
    assert.equal(schedulerEndpoint(input).href, expected, input);
  }
});

Deno.test("schedulerEndpoint() rejects other schemes and URL credentials", () => {
  assert.throws(() => schedulerEndpoint("ftp://m1:21"), (e: unknown) => {
    return e instanceof MasterAddressError && e.message.includes("scheme");
  });
  assert.throws(() => schedulerEndpoint("http://user:hunter2@m1:5050"), (e: unknown) => {
    assert.ok(e instanceof MasterAddressError);
    assert.ok(e.message.includes("credential file"), e.message);
    assert.ok(!e.message.includes("hunter2"), e.message);
    return true;
  });
});

Deno.test("detectorFor() makes a ZooKeeper detector for zk:// without connecting yet", async () => {
  const d = detectorFor("zk://bob:hunter2@zk1:2181,zk2:2181/mesos");
  assert.equal(d.description, "zk://*******@zk1:2181,zk2:2181/mesos");
  assert.equal(typeof d.leaderChanged, "function");
  await d.close?.();
});

Deno.test("detectorFor() names what is wrong with a zk:// URL, without credentials", () => {
  assert.throws(() => detectorFor("zk://bob:hunter2@zk1/mesos"), (e: unknown) => {
    assert.ok(e instanceof MasterAddressError);
    assert.ok(e.message.includes('server 1 "zk1" is not host:port'), e.message);
    assert.ok(!e.message.includes("hunter2"), e.message);
    return true;
  });
  assert.throws(() => detectorFor("zk://zk1:2181/"), MasterAddressError);
  assert.throws(() => detectorFor("file:///etc/mesos/zk"), (e: unknown) => {
    return e instanceof MasterAddressError && e.message.includes("file://");
  });
});

Deno.test("staticDetector() always names the same leader and honours abort", async () => {
  const d = staticDetector("m1:5050");
  assert.equal(d.description, "http://m1:5050");
  assert.equal((await d.leader()).href, "http://m1:5050/api/v1/scheduler");
  assert.equal(d.leaderChanged, undefined);
  const ac = new AbortController();
  ac.abort(new Error("stop"));
  await assert.rejects(() => d.leader(ac.signal), /stop/);
});

Deno.test("redactAddress() hides credentials", () => {
  assert.equal(redactAddress("zk://u:p@h:2181/mesos"), "zk://*******@h:2181/mesos");
  assert.equal(redactAddress("h:5050"), "h:5050");
});
