/**
 * One behaviour suite for every `TaskStore` implementation.
 *
 * @module
 */
import { assert, assertEquals, assertRejects } from "../testing/asserts.ts";
import { newTaskRecord, parseTaskRequestV1, type TaskRecord } from "../task/mod.ts";
import { ConflictError, NotFoundError, type TaskStore, TooLargeError } from "./types.ts";

let counter = 0;

/** A queued task record for tests. */
export function sampleTask(overrides: Record<string, unknown> = {}): TaskRecord {
  const parsed = parseTaskRequestV1({
    cpu: 1,
    mem: 22,
    image: "busybox",
    command: "echo hi",
    ...overrides,
  });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  const n = (++counter).toString(16).padStart(12, "0");
  return newTaskRecord(parsed.request, {
    uuid: `00000000-0000-4000-8000-${n}`,
    now: 1_700_000_000_000 + counter,
  });
}

function withState(t: TaskRecord, status: TaskRecord["status"][number]["status"]): TaskRecord {
  return { ...t, status: [...t.status, { time: t.status[0].time + 1, status }] };
}

/** Runs the shared store behaviour against the store `open()` returns. */
export function runStoreContract(name: string, open: () => Promise<TaskStore>) {
  Deno.test(`TaskStore contract (${name})`, async (t) => {
    await t.step(
      "createTask() assigns increasing seq and getTask() returns the record",
      async () => {
        await using store = await open();
        const a = await store.createTask(sampleTask());
        const b = await store.createTask(sampleTask());
        assert(a.created && b.created);
        assert(b.task.seq > a.task.seq);
        assertEquals(await store.getTask(a.task.id), a.task);
        assertEquals(await store.getTask("eremetic-task.nope"), null);
      },
    );

    await t.step(
      "records are copies: mutating a returned task changes nothing stored",
      async () => {
        await using store = await open();
        const { task } = await store.createTask(sampleTask({ masked_env: { S: "secret" } }));
        task.masked_env!.S = "changed";
        assertEquals((await store.getTask(task.id))!.masked_env, { S: "secret" });
      },
    );

    await t.step("listTasks() filters by state class, in submission order", async () => {
      await using store = await open();
      const q1 = (await store.createTask(sampleTask())).task;
      const r = (await store.createTask(sampleTask())).task;
      const f = (await store.createTask(sampleTask())).task;
      const q2 = (await store.createTask(sampleTask())).task;
      await store.updateTask(withState(r, "TASK_RUNNING"));
      await store.updateTask(withState(f, "TASK_FINISHED"));
      const ids = async (states: ("queued" | "active" | "terminated")[] | null) =>
        (await store.listTasks({ states })).tasks.map((t) => t.id);
      assertEquals(await ids(["queued"]), [q1.id, q2.id]);
      assertEquals(await ids(["active", "queued"]), [q1.id, r.id, q2.id]);
      assertEquals(await ids(["terminated"]), [f.id]);
      assertEquals(await ids(null), [q1.id, r.id, f.id, q2.id]);
      assertEquals(await store.countTasks(), { queued: 2, active: 1, terminated: 1 });
    });

    await t.step("listTasks() filters by exact name and by label", async () => {
      await using store = await open();
      const a = (await store.createTask(sampleTask({ name: "nightly", labels: { team: "a" } })))
        .task;
      await store.createTask(sampleTask({ name: "Nightly", labels: { team: "b" } }));
      const c = (await store.createTask(sampleTask({ name: "nightly" }))).task;
      assertEquals((await store.listTasks({ name: "nightly" })).tasks.map((t) => t.id), [
        a.id,
        c.id,
      ]);
      assertEquals(
        (await store.listTasks({ label: { key: "team", value: "a" } })).tasks.map((t) => t.id),
        [a.id],
      );
      assertEquals((await store.listTasks({ label: { key: "team" } })).tasks.length, 2);
      assertEquals((await store.listTasks({ name: "nightly", states: ["terminated"] })).tasks, []);
    });

    await t.step("listTasks() pages with a cursor and visits every task once", async () => {
      await using store = await open();
      const created: string[] = [];
      for (let i = 0; i < 25; i++) created.push((await store.createTask(sampleTask())).task.id);
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: Awaited<ReturnType<TaskStore["listTasks"]>> = await store.listTasks({
          limit: 10,
          cursor,
        });
        seen.push(...page.tasks.map((t) => t.id));
        cursor = page.cursor;
      } while (cursor);
      assertEquals(seen, created);
    });

    await t.step("listTasks() sees every write, also when it repeats a list", async () => {
      await using store = await open();
      const a = (await store.createTask(sampleTask())).task;
      const ids = async () =>
        (await store.listTasks({ states: ["queued"] })).tasks.map((t) => t.id);
      assertEquals(await ids(), [a.id]);
      assertEquals(await ids(), [a.id]);
      const b = (await store.createTask(sampleTask())).task;
      assertEquals(await ids(), [a.id, b.id]);
      await store.updateTask(withState(a, "TASK_RUNNING"));
      assertEquals(await ids(), [b.id]);
      assertEquals((await store.listTasks({ states: ["active"] })).tasks[0].status.length, 2);
      await store.updateTask(withState(withState(a, "TASK_RUNNING"), "TASK_FINISHED"));
      assertEquals((await store.listTasks({ states: ["active"] })).tasks, []);
      // Changing a listed record, where allowed at all, changes nothing stored.
      const listed = (await store.listTasks({ states: ["queued"] })).tasks[0];
      try {
        listed.name = "changed";
      } catch { /* frozen */ }
      assertEquals((await store.listTasks({ states: ["queued"] })).tasks[0].name, b.name);
    });

    await t.step("listTasks() rejects a cursor it did not make", async () => {
      await using store = await open();
      await assertRejects(() => store.listTasks({ cursor: "garbage" }), RangeError);
      // Well-formed but beyond any seq (past 2^53).
      await assertRejects(() => store.listTasks({ cursor: "szzzzzzzzzzz" }), RangeError);
      await assertRejects(
        () => store.listTasks({ cursor: "szzzzzzzzzzz", name: "n" }),
        RangeError,
      );
    });

    await t.step("an over-long id finds nothing, without an error", async () => {
      await using store = await open();
      const id = "x".repeat(3000);
      assertEquals(await store.getTask(id), null);
      assertEquals(await store.deleteTask(id), false);
      await assertRejects(() => store.updateTask({ ...sampleTask(), id }), NotFoundError);
    });

    await t.step("updateTask() keeps the seq and name given at creation", async () => {
      await using store = await open();
      const { task } = await store.createTask(sampleTask({ name: "fixed" }));
      await store.updateTask({ ...withState(task, "TASK_STAGING"), seq: 999, name: "renamed" });
      const got = (await store.getTask(task.id))!;
      assertEquals([got.seq, got.name, got.status.at(-1)!.status], [
        task.seq,
        "fixed",
        "TASK_STAGING",
      ]);
      assertEquals((await store.listTasks({ name: "fixed" })).tasks.map((t) => t.id), [task.id]);
      assertEquals((await store.listTasks({ name: "renamed" })).tasks, []);
    });

    await t.step("updateTask() of a deleted task throws NotFoundError", async () => {
      await using store = await open();
      const { task } = await store.createTask(sampleTask());
      assert(await store.deleteTask(task.id));
      assert(!(await store.deleteTask(task.id)));
      await assertRejects(() => store.updateTask(task), NotFoundError);
      assertEquals((await store.listTasks({ states: null })).tasks, []);
      assertEquals(await store.countTasks(), { queued: 0, active: 0, terminated: 0 });
    });

    await t.step(
      "idempotency key: same body returns the first task, another body conflicts",
      async () => {
        await using store = await open();
        const first = await store.createTask(sampleTask(), {
          idempotencyKey: "k1",
          fingerprint: "a",
        });
        const again = await store.createTask(sampleTask(), {
          idempotencyKey: "k1",
          fingerprint: "a",
        });
        assert(first.created && !again.created);
        assertEquals(again.task.id, first.task.id);
        await assertRejects(
          () => store.createTask(sampleTask(), { idempotencyKey: "k1", fingerprint: "b" }),
          ConflictError,
        );
        assertEquals((await store.listTasks()).tasks.length, 1);
      },
    );

    await t.step("concurrent creates with one idempotency key create one task", async () => {
      await using store = await open();
      const results = await Promise.all(
        Array.from(
          { length: 20 },
          () => store.createTask(sampleTask(), { idempotencyKey: "same", fingerprint: "x" }),
        ),
      );
      assertEquals(new Set(results.map((r) => r.task.id)).size, 1);
      assertEquals(results.filter((r) => r.created).length, 1);
    });

    await t.step("a record over the size limit is refused with TooLargeError", async () => {
      await using store = await open();
      const big = sampleTask({ env: { BIG: "x".repeat(70_000) } });
      await assertRejects(() => store.createTask(big), TooLargeError);
    });

    await t.step("framework id and outbox items are kept", async () => {
      await using store = await open();
      assertEquals(await store.getFrameworkId(), null);
      await store.setFrameworkId("fw-1");
      assertEquals(await store.getFrameworkId(), "fw-1");
      await store.putOutbox("callback", { id: "c1", value: { n: 1 } });
      await store.putOutbox("callback", { id: "c2", value: { n: 2 } });
      await store.deleteOutbox("callback", "c1");
      assertEquals(await store.listOutbox("callback"), [{ id: "c2", value: { n: 2 } }]);
    });

    await t.step("many concurrent creates and updates all land", async () => {
      await using store = await open();
      const tasks = await Promise.all(
        Array.from({ length: 300 }, () => store.createTask(sampleTask()).then((r) => r.task)),
      );
      await Promise.all(tasks.map((t) => store.updateTask(withState(t, "TASK_STAGING"))));
      await Promise.all(
        tasks.slice(0, 100).map((t) =>
          store.updateTask(withState(withState(t, "TASK_STAGING"), "TASK_FINISHED"))
        ),
      );
      assertEquals(await store.countTasks(), { queued: 0, active: 200, terminated: 100 });
      assertEquals((await store.listTasks({ states: ["active"] })).tasks.length, 200);
      const seqs = tasks.map((t) => t.seq);
      assertEquals(new Set(seqs).size, 300);
    });
  });
}
