import { assert, assertEquals } from "../testing/asserts.ts";
import { runStoreContract, sampleTask } from "./_contract.ts";
import { openKvStore } from "./kv.ts";

runStoreContract("kv", () => openKvStore(":memory:"));

Deno.test("openKvStore() keeps tasks, order, counts and framework id across reopen", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/nested/eremetic.kv`;
    const ids: string[] = [];
    {
      await using store = await openKvStore(path);
      const made = await Promise.all(
        Array.from({ length: 50 }, () => store.createTask(sampleTask())),
      );
      ids.push(...made.map((r) => r.task.id));
      await store.setFrameworkId("fw-9");
    }
    await using store = await openKvStore(path);
    const page = await store.listTasks({ states: ["queued"] });
    assertEquals(new Set(page.tasks.map((t) => t.id)), new Set(ids));
    const seqs = page.tasks.map((t) => t.seq);
    assertEquals(seqs, [...seqs].sort((a, b) => a - b));
    assertEquals(await store.getFrameworkId(), "fw-9");
    assertEquals((await store.countTasks()).queued, 50);
    const next = await store.createTask(sampleTask());
    assert(next.task.seq > Math.max(...seqs), "seq continues after reopen");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openKvStore() group-commits concurrent writes into few commits", async () => {
  await using store = await openKvStore(":memory:");
  const before = (store as unknown as { commits: number }).commits;
  await Promise.all(Array.from({ length: 500 }, () => store.createTask(sampleTask())));
  const commits = (store as unknown as { commits: number }).commits - before;
  assert(commits < 50, `500 creates took ${commits} commits`);
  assertEquals((await store.countTasks()).queued, 500);
});
