import assert from "node:assert/strict";
import {
  containsRanges,
  countRanges,
  formatRanges,
  normalizeRanges,
  subtractRanges,
  toRanges,
} from "./ranges.ts";

const r = (begin: number, end: number) => ({ begin, end });

Deno.test("toRanges() coalesces ports", () => {
  assert.deepEqual(toRanges([3, 1, 2, 7]), [r(1, 3), r(7, 7)]);
  assert.deepEqual(toRanges([]), []);
});

Deno.test("normalizeRanges() sorts and merges overlapping and adjacent ranges", () => {
  assert.deepEqual(normalizeRanges([r(10, 12), r(1, 3), r(4, 5), r(11, 20)]), [r(1, 5), r(10, 20)]);
  const input = [r(1, 2)];
  const out = normalizeRanges(input);
  out[0].end = 9;
  assert.equal(input[0].end, 2);
});

Deno.test("subtractRanges() splits and drops ranges", () => {
  assert.deepEqual(subtractRanges([r(1, 10)], [r(3, 4), r(10, 10)]), [r(1, 2), r(5, 9)]);
  assert.deepEqual(subtractRanges([r(1, 3)], [r(0, 5)]), []);
});

Deno.test("containsRanges() needs each range inside one range", () => {
  assert.equal(containsRanges([r(1, 5), r(7, 9)], [r(2, 3), r(7, 7)]), true);
  assert.equal(containsRanges([r(1, 5), r(7, 9)], [r(5, 7)]), false);
});

Deno.test("countRanges() and formatRanges()", () => {
  assert.equal(countRanges([r(1, 3), r(7, 7)]), 4);
  assert.equal(formatRanges([r(31000, 31004), r(31006, 32000)]), "[31000-31004, 31006-32000]");
});
