import assert from "node:assert/strict";
import { FakeClock } from "../runtime.ts";
import { Timers } from "./timers.ts";

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
  assert.equal(fired.includes("never"), false);
});
