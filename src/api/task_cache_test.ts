import assert from "node:assert/strict";
import { sampleTask } from "../store/_contract.ts";
import { memoryStore, openKvStore, type TaskStore } from "../store/mod.ts";
import { toTaskV0, toTaskV1 } from "../task/mod.ts";
import { JSON_TYPE } from "./errors.ts";
import { taskViewResponder } from "./task_cache.ts";

for (
  const [name, open] of [["kv", () => openKvStore(":memory:")], ["memory", memoryStore]] as const
) {
  Deno.test(`taskViewResponder() answers the task's current view (${name} store)`, async () => {
    await using store: TaskStore = await open();
    const { task } = await store.createTask(sampleTask({ masked_env: { S: "secret" } }));
    const v1 = taskViewResponder(store, "v1");
    const v0 = taskViewResponder(store, "v0");
    for (let i = 0; i < 2; i++) {
      const res = await v1(task.id);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), JSON_TYPE);
      const text = await res.text();
      assert.equal(text, JSON.stringify(toTaskV1(task)) + "\n");
      assert.ok(!text.includes("secret"));
    }
    assert.equal(await (await v0(task.id)).text(), JSON.stringify(toTaskV0(task)) + "\n");
    const changed = { ...task, retry: 3 };
    await store.updateTask(changed);
    assert.equal(await (await v1(task.id)).text(), JSON.stringify(toTaskV1(changed)) + "\n");
    const missing = await v1("eremetic-task.none");
    assert.equal(missing.status, 404);
    assert.equal(await missing.text(), "null\n");
  });
}

Deno.test("taskViewResponder() answers the committed task while a change of it is being committed", async () => {
  let hold: PromiseWithResolvers<void> | null = null;
  const holding = Promise.withResolvers<void>();
  await using store = await openKvStore(":memory:", {
    commit: async (op) => {
      if (hold) {
        holding.resolve();
        await hold.promise;
      }
      return await op.commit();
    },
  });
  const v1 = taskViewResponder(store, "v1");
  const { task } = await store.createTask(sampleTask());
  const before = await (await v1(task.id)).text();
  hold = Promise.withResolvers();
  try {
    const updating = store.updateTask({ ...task, retry: 1 });
    await holding.promise;
    assert.equal(await (await v1(task.id)).text(), before);
    hold.resolve();
    await updating;
  } finally {
    hold.resolve();
  }
  assert.equal(
    await (await v1(task.id)).text(),
    JSON.stringify(toTaskV1({ ...task, retry: 1 })) + "\n",
  );
});
