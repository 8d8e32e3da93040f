import assert from "node:assert/strict";
import { runStoreContract, sampleTask } from "./_contract.ts";
import { openKvStore } from "./kv.ts";
import { NotFoundError, StoreUnavailableError } from "./types.ts";
import { TASK_ID_PREFIX, type TaskRecord } from "../task/mod.ts";
import { newId, uuidSeq } from "../runtime.ts";

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
    assert.deepStrictEqual(new Set(page.tasks.map((t) => t.id)), new Set(ids));
    const seqs = page.tasks.map((t) => t.seq);
    assert.deepStrictEqual(seqs, [...seqs].sort((a, b) => a - b));
    assert.deepStrictEqual(await store.getFrameworkId(), "fw-9");
    assert.deepStrictEqual((await store.countTasks()).queued, 50);
    const next = await store.createTask(sampleTask());
    assert.ok(next.task.seq > Math.max(...seqs), "seq continues after reopen");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openKvStore() group-commits concurrent writes into few commits", async () => {
  await using store = await openKvStore(":memory:");
  const before = (store as unknown as { commits: number }).commits;
  await Promise.all(Array.from({ length: 500 }, () => store.createTask(sampleTask())));
  const commits = (store as unknown as { commits: number }).commits - before;
  assert.ok(commits < 50, `500 creates took ${commits} commits`);
  assert.deepStrictEqual((await store.countTasks()).queued, 500);
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
      assert.deepStrictEqual((await store.getTask(task.id))?.name, "old");
      // An update that keeps the class still moves the record to the current layout.
      await store.updateTask({ ...task, retry: 1 });
    }
    {
      await using store = await openKvStore(path, { cacheBytes: 0 });
      const again = await store.getTask(task.id);
      assert.deepStrictEqual(again?.retry, 1);
      await store.updateTask({
        ...task,
        status: [...task.status, { time: task.status[0].time + 1, status: "TASK_KILLED" }],
      });
    }
    await using store = await openKvStore(path, { cacheBytes: 0 });
    assert.deepStrictEqual((await store.getTask(task.id))?.status.at(-1)?.status, "TASK_KILLED");
    assert.deepStrictEqual((await store.listTasks({ states: ["queued"] })).tasks, []);
    assert.deepStrictEqual((await store.listTasks({ states: ["terminated"] })).tasks.length, 1);
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
    assert.deepStrictEqual((await store.getTask(task.id))?.retry, i + 1);
  }
  assert.ok(await store.deleteTask(made[0].task.id));
  assert.deepStrictEqual(await store.getTask(made[0].task.id), null);
});

Deno.test("openKvStore() keeps a listed page for the next caller, but not one read once", async () => {
  await using store = await openKvStore(":memory:");
  for (let i = 0; i < 5; i++) await store.createTask(sampleTask());
  const kept = await store.listTasks({ states: ["queued"], limit: 3 });
  // A kept page is shared between callers: frozen, and the same objects the next time.
  assert.ok(Object.isFrozen(kept.tasks[0]));
  assert.strictEqual(
    (await store.listTasks({ states: ["queued"], limit: 3 })).tasks[0],
    kept.tasks[0],
  );
  const once = await store.listTasks({ states: ["queued"], limit: 3, readOnce: true });
  assert.deepStrictEqual(once, kept);
  assert.notStrictEqual(once.tasks[0], kept.tasks[0]);
  assert.ok(!Object.isFrozen(once.tasks[0]));
  const next = await store.listTasks({ states: ["queued"], cursor: once.cursor, readOnce: true });
  assert.deepStrictEqual(next.tasks.length, 2);
  assert.deepStrictEqual(next.cursor, null);
});

Deno.test("openKvStore() finds tasks by a generated name (not indexed) and by a given one", async () => {
  await using store = await openKvStore(":memory:");
  const generated = (await store.createTask(sampleTask())).task;
  assert.ok(/^Eremetic task /.test(generated.name), generated.name);
  const given = (await store.createTask(sampleTask({ name: "Eremetic task nightly" }))).task;
  await Promise.all(Array.from({ length: 30 }, () => store.createTask(sampleTask())));
  const byGenerated = await store.listTasks({ name: generated.name });
  assert.deepStrictEqual(byGenerated.tasks.map((t) => t.id), [generated.id]);
  assert.deepStrictEqual(byGenerated.cursor, null);
  assert.deepStrictEqual((await store.listTasks({ name: given.name })).tasks.map((t) => t.id), [
    given.id,
  ]);
  assert.deepStrictEqual(
    (await store.listTasks({ name: generated.name, states: ["active"] })).tasks,
    [],
  );
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
    assert.deepStrictEqual((await store.getTask(long.id))?.env, long.env);
    assert.deepStrictEqual((await store.getTask(short.id))?.env, short.env);
    const page = await store.listTasks({ states: ["queued"] });
    assert.deepStrictEqual(page.tasks.map((t) => t.env), [long.env, short.env]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openKvStore() never hands out a seq twice after a failed commit and a restart", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/fail.kv`;
    const acknowledged: TaskRecord[] = [];
    {
      let commits = 0;
      // Small batches, so several are sealed at once; the first commit fails.
      await using store = await openKvStore(path, {
        maxBatchMutations: 12,
        commit: (op) => ++commits === 1 ? Promise.reject(new Error("injected")) : op.commit(),
      });
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, () => store.createTask(sampleTask())),
      );
      for (const r of results) if (r.status === "fulfilled") acknowledged.push(r.value.task);
      assert.ok(
        acknowledged.length > 0 && acknowledged.length < 20,
        `${acknowledged.length} stored`,
      );
    }
    {
      await using store = await openKvStore(path);
      const more = await Promise.all(
        Array.from({ length: 20 }, () => store.createTask(sampleTask())),
      );
      const seqs = [...acknowledged, ...more.map((r) => r.task)].map((t) => t.seq);
      assert.deepStrictEqual(new Set(seqs).size, seqs.length, `seqs reused: ${seqs}`);
    }
    await using store = await openKvStore(path, { cacheBytes: 0 });
    for (const t of acknowledged) assert.deepStrictEqual(await store.getTask(t.id), t);
    assert.deepStrictEqual(
      (await store.listTasks({ states: ["queued"] })).tasks.length,
      acknowledged.length + 20,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openKvStore() reads show only committed writes", async () => {
  let hold: PromiseWithResolvers<void> | null = null;
  let holding = Promise.withResolvers<void>();
  await using store = await openKvStore(":memory:", {
    commit: async (op) => {
      if (hold) {
        holding.resolve();
        await hold.promise;
      }
      return await op.commit();
    },
  });
  const { task } = await store.createTask(sampleTask());
  const running = {
    ...task,
    status: [...task.status, { time: task.status[0].time + 1, status: "TASK_RUNNING" as const }],
  };
  const fresh = sampleTask();
  try {
    // An update whose commit is held: reads still see the committed record.
    hold = Promise.withResolvers();
    const updating = store.updateTask(running);
    await holding.promise;
    assert.deepStrictEqual(await store.getTask(task.id), task);
    assert.deepStrictEqual((await store.listTasks({ states: ["queued"] })).tasks, [task]);
    hold.resolve();
    await updating;
    assert.deepStrictEqual(await store.getTask(task.id), running);
    // A create whose commit is held: nothing to read yet.
    hold = Promise.withResolvers();
    holding = Promise.withResolvers();
    const creating = store.createTask(fresh);
    await holding.promise;
    assert.deepStrictEqual(await store.getTask(fresh.id), null);
    hold.resolve();
    const created = (await creating).task;
    assert.deepStrictEqual(await store.getTask(fresh.id), created);
  } finally {
    hold?.resolve();
    hold = null;
  }
});

Deno.test("openKvStore() never gives the seq of a deleted task again, also after reopen", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/deleted.kv`;
    let last: TaskRecord;
    {
      await using store = await openKvStore(path);
      await store.createTask(sampleTask());
      last = (await store.createTask(sampleTask())).task;
      await store.updateTask({
        ...last,
        status: [...last.status, { time: last.status[0].time + 1, status: "TASK_KILLED" }],
      });
      assert.ok(await store.deleteTask(last.id));
    }
    await using store = await openKvStore(path);
    assert.ok((await store.createTask(sampleTask())).task.seq > last.seq);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

for (const cacheBytes of [0, undefined]) {
  Deno.test(`openKvStore() reads tasks stored under the second layout (id key holding [class, seq]), cacheBytes ${cacheBytes}`, async () => {
    const dir = await Deno.makeTempDir();
    try {
      const path = `${dir}/second.kv`;
      const a = { ...sampleTask({ name: "a" }), seq: 1 };
      const b = { ...sampleTask({ name: "b" }), seq: 2 };
      const json = (t: TaskRecord) => new TextEncoder().encode(JSON.stringify(t));
      const kv = await Deno.openKv(path);
      await kv.atomic()
        .set(["t", a.id], ["queued", 1])
        .set(["c", "queued", 1], json(a))
        .set(["t", b.id], ["queued", 2])
        .set(["c", "queued", 2], json(b))
        .set(["m", "seq"], 5)
        .sum(["k", "queued"], 2n)
        .commit();
      kv.close();
      {
        await using store = await openKvStore(path, { cacheBytes });
        assert.deepStrictEqual(await store.getTask(a.id), a);
        assert.deepStrictEqual((await store.listTasks({ states: ["queued"] })).tasks, [a, b]);
        const staging = {
          ...a,
          status: [...a.status, { time: a.status[0].time + 1, status: "TASK_STAGING" as const }],
        };
        await store.updateTask(staging);
        assert.deepStrictEqual(await store.getTask(a.id), staging);
        // The seq continues after the one earlier versions recorded.
        assert.deepStrictEqual((await store.createTask(sampleTask())).task.seq, 6);
      }
      const raw = await Deno.openKv(path);
      assert.deepStrictEqual(
        (await raw.get(["t", a.id])).value,
        new Deno.KvU64(1n),
        "rewritten as the seq alone",
      );
      assert.deepStrictEqual(
        (await raw.get(["t", b.id])).value,
        ["queued", 2],
        "untouched until updated",
      );
      raw.close();
      await using store = await openKvStore(path, { cacheBytes: 0 });
      assert.deepStrictEqual((await store.getTask(a.id))?.status.at(-1)?.status, "TASK_STAGING");
      assert.deepStrictEqual(await store.getTask(b.id), b);
      assert.deepStrictEqual(await store.countTasks(), { queued: 2, active: 1, terminated: 0 });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("openKvStore() cuts batches at KV's limits of mutations and bytes per commit", async () => {
  await using store = await openKvStore(":memory:");
  const commits = () => (store as unknown as { commits: number }).commits;
  // 2,000 creates of 2 keyed rows each: more than the 1,000 mutations one commit may hold.
  const before = commits();
  await Promise.all(Array.from({ length: 2_000 }, () => store.createTask(sampleTask())));
  assert.ok(commits() - before >= 5, `${commits() - before} commits`);
  // 30 records of ~40 kB: more than the 819,200 bytes one commit may hold.
  const big = await Promise.all(
    Array.from(
      { length: 30 },
      (_, i) => store.createTask(sampleTask({ env: { BIG: "x".repeat(40_000), N: `${i}` } })),
    ),
  );
  assert.deepStrictEqual((await store.countTasks()).queued, 2_030);
  assert.deepStrictEqual((await store.getTask(big[29].task.id))?.env?.N, "29");
});

Deno.test("openKvStore() ping() fails after a failed commit until a write works again", async () => {
  let failing = false;
  await using store = await openKvStore(":memory:", {
    commit: (op) => failing ? Promise.reject(new Error("disk full")) : op.commit(),
  });
  await store.ping();
  failing = true;
  await assert.rejects(() => store.createTask(sampleTask()), StoreUnavailableError);
  // Reads still work, but the store cannot take writes: unavailable.
  await assert.rejects(() => store.ping(), StoreUnavailableError);
  failing = false;
  await store.ping();
  await store.createTask(sampleTask());
});

Deno.test("openKvStore() updates a listed task without reading it back when the cache has no room", async () => {
  // A cache too small to take listed records: only their places are remembered.
  await using store = await openKvStore(":memory:", { cacheBytes: 1_000 });
  const made = await Promise.all(Array.from({ length: 30 }, () => store.createTask(sampleTask())));
  const deleted = made[1].task.id;
  const page = await store.listTasks({ states: ["queued"], limit: 100 });
  assert.deepStrictEqual(page.tasks.length, 30);
  assert.ok(await store.deleteTask(deleted));
  const reads = { n: 0 };
  const get = Deno.Kv.prototype.get;
  const getMany = Deno.Kv.prototype.getMany;
  Deno.Kv.prototype.get = function (this: Deno.Kv, ...a: Parameters<Deno.Kv["get"]>) {
    reads.n++;
    return get.apply(this, a);
  } as Deno.Kv["get"];
  Deno.Kv.prototype.getMany = function (this: Deno.Kv, ...a: Parameters<Deno.Kv["getMany"]>) {
    reads.n++;
    return getMany.apply(this, a);
  } as Deno.Kv["getMany"];
  const staging = (t: TaskRecord): TaskRecord => ({
    ...t,
    status: [...t.status, { time: t.status[0].time + 1, status: "TASK_STAGING" as const }],
  });
  let missing: unknown;
  try {
    const listed = page.tasks.filter((t) => t.id !== deleted);
    await Promise.all(listed.slice(-20).map((t) => store.updateTask(staging(t))));
    assert.deepStrictEqual(reads.n, 0, "no KV read to locate the listed tasks");
    // A task deleted after it was listed is not written back.
    missing = await store.updateTask(staging(page.tasks[1])).catch((e) => e);
  } finally {
    Deno.Kv.prototype.get = get;
    Deno.Kv.prototype.getMany = getMany;
  }
  assert.ok(missing instanceof NotFoundError);
  assert.deepStrictEqual(await store.countTasks(), { queued: 9, active: 20, terminated: 0 });
  const active = await store.listTasks({ states: ["active"], limit: 100 });
  assert.deepStrictEqual(active.tasks.map((t) => t.id), page.tasks.slice(-20).map((t) => t.id));
  assert.deepStrictEqual(await store.getTask(deleted), null);
});

Deno.test("openKvStore() lists a task once when the class indexes read show it in two classes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/eremetic.kv`;
    let seq: number;
    {
      await using store = await openKvStore(path);
      await store.createTask(sampleTask());
      seq = (await store.createTask(sampleTask())).task.seq;
      await store.createTask(sampleTask());
    }
    // What a listing sees when the task moves from queued to terminated between the
    // batches it reads: the task under both classes.
    const kv = await Deno.openKv(path);
    const entry = await kv.get<Uint8Array>(["c", "queued", seq]);
    assert.ok(entry.value, "the class index holds the task");
    await kv.set(["c", "terminated", seq], entry.value);
    kv.close();
    await using store = await openKvStore(path);
    const page = await store.listTasks({ states: null, limit: 10 });
    const seqs = page.tasks.map((t) => t.seq);
    assert.deepStrictEqual(seqs, [...new Set(seqs)].sort((a, b) => a - b));
    assert.equal(seqs.length, 3);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A sample task under the id of `uuid`. */
function taskWithId(uuid: string): TaskRecord {
  return {
    ...sampleTask(),
    id: `${TASK_ID_PREFIX}${uuid}`,
    mesos_task_id: `${TASK_ID_PREFIX}${uuid}`,
  };
}

Deno.test("openKvStore() stores a task whose id carries its seq as one row, and finds it by id", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/own.kv`;
    const uuid = newId();
    const made = taskWithId(uuid);
    {
      await using store = await openKvStore(path, { cacheBytes: 0 });
      const { task } = await store.createTask(made);
      assert.equal(task.seq, uuidSeq(uuid));
    }
    const kv = await Deno.openKv(path);
    const rows = await Array.fromAsync(kv.list({ prefix: [] }));
    kv.close();
    assert.deepEqual(
      rows.map((r) => r.key).filter((k) => k[0] !== "k"),
      [["c", "queued", uuidSeq(uuid)]],
      "no id row",
    );
    await using store = await openKvStore(path, { cacheBytes: 0 });
    assert.equal((await store.getTask(made.id))?.seq, uuidSeq(uuid));
    // A class change moves the record; the id still finds it; a delete removes it.
    await store.updateTask({
      ...made,
      status: [...made.status, { time: made.status[0].time + 1, status: "TASK_STAGING" }],
    });
    assert.equal((await store.getTask(made.id))?.status.at(-1)?.status, "TASK_STAGING");
    assert.equal(await store.deleteTask(made.id), true);
    assert.equal(await store.getTask(made.id), null);
    // The next task gets a seq above the deleted one's, also after a reopen.
    const next = await store.createTask(sampleTask());
    assert.ok(next.task.seq > uuidSeq(uuid));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openKvStore() gives an id whose seq is taken or out of order the next seq and an id row", async () => {
  for (const cacheBytes of [0, undefined]) {
    await using store = await openKvStore(":memory:", { cacheBytes });
    const later = newId();
    const a = taskWithId(later);
    // Same millisecond and counter, other random bits: it carries the same seq.
    const twin = taskWithId(later.slice(0, 19) + (later[19] === "8" ? "9" : "8") + later.slice(20));
    assert.equal(uuidSeq(twin.id.slice(TASK_ID_PREFIX.length)), uuidSeq(later));
    const earlier = taskWithId(newId(Date.now() - 60_000));
    const plain = sampleTask(); // no seq in its id
    const created = [];
    for (const t of [a, twin, earlier, plain]) created.push((await store.createTask(t)).task);
    assert.equal(created[0].seq, uuidSeq(later));
    const seqs = created.map((t) => t.seq);
    assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), "seqs follow creation");
    assert.equal(new Set(seqs).size, 4);
    for (const t of created) {
      const found = await store.getTask(t.id);
      assert.equal(found?.id, t.id, `${t.id} is found as itself`);
      assert.equal(found?.seq, t.seq);
    }
    const page = await store.listTasks({ states: ["queued"] });
    assert.deepEqual(page.tasks.map((t) => t.id), created.map((t) => t.id));
    for (const t of created) assert.equal(await store.deleteTask(t.id), true);
    assert.deepEqual((await store.countTasks()).queued, 0);
  }
});
