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

runStoreContract("kv without read cache", () => openKvStore(":memory:", { cacheBytes: 0 }));
runStoreContract("kv with a tiny read cache", () => openKvStore(":memory:", { cacheBytes: 1_500 }));

Deno.test("openKvStore() reads tasks stored under the earlier layout (record under the id key)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/old.kv`;
    const task = { ...sampleTask({ name: "old" }), seq: 1 };
    const bytes = new TextEncoder().encode(JSON.stringify(task));
    const kv = await Deno.openKv(path);
    await kv.atomic()
      .set(["t", task.id], bytes)
      .set(["c", "queued", 1], bytes)
      .set(["m", "seq"], 1)
      .sum(["k", "queued"], 1n)
      .commit();
    kv.close();
    {
      await using store = await openKvStore(path, { cacheBytes: 0 });
      assertEquals((await store.getTask(task.id))?.name, "old");
      // An update that keeps the class still moves the record to the current layout.
      await store.updateTask({ ...task, retry: 1 });
    }
    {
      await using store = await openKvStore(path, { cacheBytes: 0 });
      const again = await store.getTask(task.id);
      assertEquals(again?.retry, 1);
      await store.updateTask({
        ...task,
        status: [...task.status, { time: task.status[0].time + 1, status: "TASK_KILLED" }],
      });
    }
    await using store = await openKvStore(path, { cacheBytes: 0 });
    assertEquals((await store.getTask(task.id))?.status.at(-1)?.status, "TASK_KILLED");
    assertEquals((await store.listTasks({ states: ["queued"] })).tasks, []);
    assertEquals((await store.listTasks({ states: ["terminated"] })).tasks.length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openKvStore() read cache never serves a record older than the last write", async () => {
  await using store = await openKvStore(":memory:", { cacheBytes: 4_000 });
  const made = await Promise.all(
    Array.from({ length: 20 }, () => store.createTask(sampleTask())),
  );
  // Reads racing updates, over a cache too small for all records (evictions happen).
  await Promise.all(made.map(async ({ task }, i) => {
    const reading = store.getTask(task.id);
    await store.updateTask({ ...task, retry: i + 1 });
    await reading;
  }));
  for (const [i, { task }] of made.entries()) {
    assertEquals((await store.getTask(task.id))?.retry, i + 1);
  }
  assert(await store.deleteTask(made[0].task.id));
  assertEquals(await store.getTask(made[0].task.id), null);
});

Deno.test("openKvStore() finds tasks by a generated name (not indexed) and by a given one", async () => {
  await using store = await openKvStore(":memory:");
  const generated = (await store.createTask(sampleTask())).task;
  assert(/^Eremetic task /.test(generated.name), generated.name);
  const given = (await store.createTask(sampleTask({ name: "Eremetic task nightly" }))).task;
  await Promise.all(Array.from({ length: 30 }, () => store.createTask(sampleTask())));
  const byGenerated = await store.listTasks({ name: generated.name });
  assertEquals(byGenerated.tasks.map((t) => t.id), [generated.id]);
  assertEquals(byGenerated.cursor, null);
  assertEquals((await store.listTasks({ name: given.name })).tasks.map((t) => t.id), [given.id]);
  assertEquals((await store.listTasks({ name: generated.name, states: ["active"] })).tasks, []);
});

Deno.test("openKvStore() keeps long records (stored as bytes) and short ones (strings) alike", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/long.kv`;
    const long = sampleTask({ env: { BIG: "x".repeat(40_000) + "é€😀" } });
    const short = sampleTask({ env: { SMALL: "é€😀" } });
    {
      await using store = await openKvStore(path);
      await store.createTask(long);
      await store.createTask(short);
    }
    await using store = await openKvStore(path, { cacheBytes: 0 });
    assertEquals((await store.getTask(long.id))?.env, long.env);
    assertEquals((await store.getTask(short.id))?.env, short.env);
    const page = await store.listTasks({ states: ["queued"] });
    assertEquals(page.tasks.map((t) => t.env), [long.env, short.env]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
