import assert from "node:assert/strict";
import {
  collectingLogger,
  FakeClock,
  ID_EPOCH_MS,
  newId,
  redact,
  systemClock,
  Timers,
  uuidSeq,
} from "./runtime.ts";

Deno.test("newId() makes version 7 UUIDs that sort by time", () => {
  const a = newId(1_700_000_000_000);
  const b = newId(1_700_000_000_001);
  assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.ok(a < b);
  assert.deepEqual(a.slice(0, 13), "018bcfe5-6800");
  assert.ok(newId() !== newId());
});

Deno.test("newId() stays unique and well-formed across refills of its random pool", () => {
  const ids = Array.from({ length: 600 }, () => newId(1_700_000_000_000));
  assert.equal(new Set(ids).size, ids.length);
  for (const id of ids) {
    assert.match(id, /^018bcfe5-6800-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  }
});

Deno.test("newId() numbers ids within a millisecond; uuidSeq() reads the order back", () => {
  const ms = Date.UTC(2030, 0, 1);
  const ids = Array.from({ length: 5_000 }, () => newId(ms));
  assert.deepEqual([...ids].sort(), ids, "in creation order");
  const seqs = ids.map(uuidSeq);
  assert.equal(seqs[0], (ms - ID_EPOCH_MS) * 4096);
  // 4,096 ids per millisecond, then the next millisecond is borrowed.
  assert.deepEqual(seqs, seqs.map((_, i) => seqs[0] + i));
  assert.equal(ids[4096].slice(0, 13), newIdAt(ms + 1));
  // A clock stepped back a little: still after the last id.
  const back = newId(ms - 500);
  assert.ok(back > ids.at(-1)! && uuidSeq(back) === seqs.at(-1)! + 1);
  // Far back (a caller's own time): that time, not in order.
  assert.ok(newId(ms - 60_000) < ids[0]);
  // Not an id of newId(): no number.
  for (const other of ["", "x", crypto.randomUUID(), newId(ID_EPOCH_MS - 1)]) {
    assert.equal(uuidSeq(other), 0, other);
  }
});

/** The time part (`xxxxxxxx-xxxx`) of an id made at `ms`. */
function newIdAt(ms: number): string {
  const hex = ms.toString(16).padStart(12, "0");
  return `${hex.slice(0, 8)}-${hex.slice(8)}`;
}

Deno.test("redact() hides secret fields at any depth", () => {
  const out = redact({ a: 1, masked_env: { K: "v" }, nested: { password: "p", ok: "x" } });
  assert.deepEqual(out, { a: 1, masked_env: "*******", nested: { password: "*******", ok: "x" } });
});

Deno.test("collectingLogger() keeps redacted entries", () => {
  const log = collectingLogger();
  log.info("hello", { secret: "s", n: 1 });
  assert.deepEqual(log.entries, [{
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
  assert.ok(!done);
  await clock.tick(50);
  await p;
  assert.ok(done);
});

Deno.test("Timers on a FakeClock: after, every, coarse, cancel and close", async () => {
  const clock = new FakeClock();
  const timers = new Timers(clock);
  const fired: string[] = [];
  timers.after(100, () => fired.push("after"));
  const cancelled = timers.after(50, () => fired.push("cancelled"));
  cancelled.cancel();
  const tick = timers.every(40, () => fired.push("every"));
  timers.coarse(85, () => fired.push("coarse-85"));
  const dropped = timers.coarse(95, () => fired.push("dropped"));
  dropped.cancel();
  timers.coarse(205, () => fired.push("coarse-205"));
  for (let i = 0; i < 12; i++) await clock.tick(10);
  assert.deepEqual(fired, ["every", "every", "coarse-85", "after", "every"]);
  tick.cancel();
  for (let i = 0; i < 12; i++) await clock.tick(10);
  assert.deepEqual(fired.slice(5), ["coarse-205"]);
  timers.coarse(10, () => fired.push("never"));
  timers.close();
  await clock.tick(100);
  assert.deepEqual(fired.includes("never"), false);
});

Deno.test("Timers on the real clock chain delays beyond 2^31-1 ms instead of firing at once", () => {
  const armed: { fn: () => void; ms: number }[] = [];
  const host = {
    setTimeout: (fn: () => void, ms: number) => armed.push({ fn, ms }),
    clearTimeout: () => {},
  };
  const timers = new Timers(systemClock, host);
  const max = 2 ** 31 - 1;
  const days35 = 35 * 86_400_000;
  let fired = 0;
  timers.after(days35, () => fired++);
  assert.deepEqual(armed.map((a) => a.ms), [max]);
  armed[0].fn();
  assert.deepEqual(fired, 0);
  assert.deepEqual(armed.map((a) => a.ms), [max, days35 - max]);
  armed[1].fn();
  assert.deepEqual(fired, 1);
  assert.deepEqual(timers.size, 0);
});
