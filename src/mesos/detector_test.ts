import { assertEquals, assertRejects, assertThrows } from "../testing/asserts.ts";
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
    assertEquals(schedulerEndpoint(input).href, expected, input);
  }
});

Deno.test("schedulerEndpoint() rejects other schemes and URL credentials", () => {
  assertThrows(() => schedulerEndpoint("ftp://m1:21"), MasterAddressError, "scheme");
  const err = assertThrows(
    () => schedulerEndpoint("http://user:hunter2@m1:5050"),
    MasterAddressError,
    "credential file",
  );
  assertEquals(err.message.includes("hunter2"), false);
});

Deno.test("detectorFor() explains that zk:// is not available yet, without credentials", () => {
  const err = assertThrows(
    () => detectorFor("zk://bob:hunter2@zk1:2181,zk2:2181/mesos"),
    MasterAddressError,
    "ZooKeeper master detection is not available yet",
  );
  assertEquals(err.message.includes("hunter2"), false);
  assertThrows(() => detectorFor("file:///etc/mesos/zk"), MasterAddressError, "file://");
});

Deno.test("staticDetector() always names the same leader and honours abort", async () => {
  const d = staticDetector("m1:5050");
  assertEquals(d.description, "http://m1:5050");
  assertEquals((await d.leader()).href, "http://m1:5050/api/v1/scheduler");
  assertEquals(d.leaderChanged, undefined);
  const ac = new AbortController();
  ac.abort(new Error("stop"));
  await assertRejects(() => d.leader(ac.signal), Error, "stop");
});

Deno.test("redactAddress() hides credentials", () => {
  assertEquals(redactAddress("zk://u:p@h:2181/mesos"), "zk://*******@h:2181/mesos");
  assertEquals(redactAddress("h:5050"), "h:5050");
});
