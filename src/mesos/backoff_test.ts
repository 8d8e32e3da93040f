import { assertEquals } from "../testing/asserts.ts";
import { backoffDelay } from "./backoff.ts";

Deno.test("backoffDelay() doubles from the initial delay up to the cap", () => {
  const top = () => 1 - Number.EPSILON;
  assertEquals(
    [0, 1, 2, 3, 4, 5, 6, 100].map((a) => backoffDelay(a, { initialMs: 100, maxMs: 2_000 }, top)),
    [100, 200, 400, 800, 1600, 2000, 2000, 2000],
  );
});

Deno.test("backoffDelay() jitters between half and all of the delay", () => {
  assertEquals(backoffDelay(2, { initialMs: 100, maxMs: 10_000 }, () => 0), 200);
  assertEquals(backoffDelay(2, { initialMs: 100, maxMs: 10_000 }, () => 0.5), 300);
  for (let i = 0; i < 100; i++) {
    const d = backoffDelay(3);
    if (d < 1000 || d > 2000) throw new Error(`delay ${d} out of range`);
  }
});
