import { assert, assertEquals, assertMatch } from "./testing/asserts.ts";
import { collectingLogger, FakeClock, newId, redact } from "./runtime.ts";

Deno.test("newId() makes version 7 UUIDs that sort by time", () => {
  const a = newId(1_700_000_000_000);
  const b = newId(1_700_000_000_001);
  assertMatch(a, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert(a < b);
  assertEquals(a.slice(0, 13), "018bcfe5-6800");
  assert(newId() !== newId());
});

Deno.test("redact() hides secret fields at any depth", () => {
  const out = redact({ a: 1, masked_env: { K: "v" }, nested: { password: "p", ok: "x" } });
  assertEquals(out, { a: 1, masked_env: "*******", nested: { password: "*******", ok: "x" } });
});

Deno.test("collectingLogger() keeps redacted entries", () => {
  const log = collectingLogger();
  log.info("hello", { secret: "s", n: 1 });
  assertEquals(log.entries, [{
    level: "info",
    message: "hello",
    fields: { secret: "*******", n: 1 },
  }]);
});

Deno.test("FakeClock.sleep() resolves only when time is advanced", async () => {
  const clock = new FakeClock(0);
  let done = false;
  const p = clock.sleep(100).then(() => done = true);
  await clock.tick(50);
  assert(!done);
  await clock.tick(50);
  await p;
  assert(done);
});
