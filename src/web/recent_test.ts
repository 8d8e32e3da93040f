import assert from "node:assert/strict";
import { RecentlyFinished } from "./recent.ts";

Deno.test("RecentlyFinished keeps the last final states, newest first, each task once", () => {
  const recent = new RecentlyFinished(2);
  recent.note({ task_id: "a", terminal: true });
  recent.note({ task_id: "b", terminal: false });
  recent.note({ task_id: "b", terminal: true });
  assert.deepEqual(recent.ids(), ["b", "a"]);
  recent.note({ task_id: "a", terminal: true });
  assert.deepEqual(recent.ids(), ["a", "b"]);
  recent.note({ task_id: "c", terminal: true });
  assert.deepEqual(recent.ids(), ["c", "a"]);
  assert.throws(() => new RecentlyFinished(0), RangeError);
});
