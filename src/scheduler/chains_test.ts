import assert from "node:assert/strict";
import { TaskChains } from "./chains.ts";

Deno.test("TaskChains orders one task's operations and lets other tasks pass", async () => {
  const chains = new TaskChains();
  const log: string[] = [];
  const slow = Promise.withResolvers<void>();
  chains.track(["a"], slow.promise);
  const a2 = chains.run("a", () => Promise.resolve(log.push("a2")));
  const b = chains.run("b", () => Promise.resolve(log.push("b")));
  await b;
  assert.deepEqual(log, ["b"], "b did not wait for a's pending write");
  assert.equal(chains.busy("a"), true);
  slow.resolve();
  await a2;
  assert.deepEqual(log, ["b", "a2"]);
  await chains.all();
  assert.equal(chains.size, 0);
});

Deno.test("TaskChains goes on after a failed operation", async () => {
  const chains = new TaskChains();
  await assert.rejects(chains.run("a", () => Promise.reject(new Error("write failed"))));
  assert.equal(await chains.run("a", () => Promise.resolve(7)), 7);
  await chains.all();
});
