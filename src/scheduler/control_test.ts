import { assertEquals } from "../testing/asserts.ts";
import { createMetrics } from "../metrics/mod.ts";
import { FakeClock } from "../runtime.ts";
import { sampleTask } from "../store/_contract.ts";
import { memoryStore } from "../store/mod.ts";
import { queueOnlyControl } from "./control.ts";

Deno.test("queueOnlyControl() applies concurrent kills of one queued task once", async () => {
  await using store = memoryStore();
  const metrics = createMetrics();
  const { task } = await store.createTask(sampleTask());
  metrics.queueSize.set(1);
  const killed: string[] = [];
  const control = queueOnlyControl({
    store,
    clock: new FakeClock(),
    metrics,
    onTransition: (t) => void killed.push(t.id),
  });
  const outcomes = await Promise.all(Array.from({ length: 5 }, () => control.killTask(task.id)));
  assertEquals(outcomes.sort(), ["killed", "terminal", "terminal", "terminal", "terminal"]);
  assertEquals(metrics.queueSize.get(), 0);
  assertEquals(killed, [task.id]);
  assertEquals(await control.killTask("nope"), "not_found");
});
