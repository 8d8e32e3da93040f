/**
 * One behaviour suite for every `TaskStore` implementation.
 *
 * @module
 */
import assert from "node:assert/strict";
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
  Deno.test(`TaskStore contract (${name})`, (t) => storeContractSteps(t, open));
}

/** The contract's steps inside a test of the caller's (e.g. one sharing a ZooKeeper server). */
export async function storeContractSteps(
  t: Deno.TestContext,
  open: () => Promise<TaskStore>,
): Promise<void> {
  {
    await t.step(
      "createTask() assigns increasing seq and getTask() returns the record",
      async () => {
        await using store = await open();
        const a = await store.createTask(sampleTask());
        const b = await store.createTask(sampleTask());
        assert.ok(a.created && b.created);
        assert.ok(b.task.seq > a.task.seq);
        assert.deepStrictEqual(await store.getTask(a.task.id), a.task);
        assert.deepStrictEqual(await store.getTask("eremetic-task.nope"), null);
      },
    );

    await t.step(
      "records are copies: mutating a returned task changes nothing stored",
      async () => {
        await using store = await open();
        const { task } = await store.createTask(sampleTask({ masked_env: { S: "secret" } }));
        task.masked_env!.S = "changed";
        assert.deepStrictEqual((await store.getTask(task.id))!.masked_env, { S: "secret" });
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
      assert.deepStrictEqual(await ids(["queued"]), [q1.id, q2.id]);
      assert.deepStrictEqual(await ids(["active", "queued"]), [q1.id, r.id, q2.id]);
      assert.deepStrictEqual(await ids(["terminated"]), [f.id]);
      assert.deepStrictEqual(await ids(null), [q1.id, r.id, f.id, q2.id]);
      assert.deepStrictEqual(await store.countTasks(), { queued: 2, active: 1, terminated: 1 });
    });

    await t.step("listTasks() filters by exact name and by label", async () => {
      await using store = await open();
      const a = (await store.createTask(sampleTask({ name: "nightly", labels: { team: "a" } })))
        .task;
      await store.createTask(sampleTask({ name: "Nightly", labels: { team: "b" } }));
      const c = (await store.createTask(sampleTask({ name: "nightly" }))).task;
      assert.deepStrictEqual((await store.listTasks({ name: "nightly" })).tasks.map((t) => t.id), [
        a.id,
        c.id,
      ]);
      assert.deepStrictEqual(
        (await store.listTasks({ label: { key: "team", value: "a" } })).tasks.map((t) => t.id),
        [a.id],
      );
      assert.deepStrictEqual((await store.listTasks({ label: { key: "team" } })).tasks.length, 2);
      assert.deepStrictEqual(
        (await store.listTasks({ name: "nightly", states: ["terminated"] })).tasks,
        [],
      );
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
      assert.deepStrictEqual(seen, created);
    });

    await t.step("listTasks() sees every write, also when it repeats a list", async () => {
      await using store = await open();
      const a = (await store.createTask(sampleTask())).task;
      const ids = async () =>
        (await store.listTasks({ states: ["queued"] })).tasks.map((t) => t.id);
      assert.deepStrictEqual(await ids(), [a.id]);
      assert.deepStrictEqual(await ids(), [a.id]);
      const b = (await store.createTask(sampleTask())).task;
      assert.deepStrictEqual(await ids(), [a.id, b.id]);
      await store.updateTask(withState(a, "TASK_RUNNING"));
      assert.deepStrictEqual(await ids(), [b.id]);
      assert.deepStrictEqual(
        (await store.listTasks({ states: ["active"] })).tasks[0].status.length,
        2,
      );
      await store.updateTask(withState(withState(a, "TASK_RUNNING"), "TASK_FINISHED"));
      assert.deepStrictEqual((await store.listTasks({ states: ["active"] })).tasks, []);
      // Changing a listed record, where allowed at all, changes nothing stored.
      const listed = (await store.listTasks({ states: ["queued"] })).tasks[0];
      try {
        listed.name = "changed";
      } catch { /* frozen */ }
      assert.deepStrictEqual((await store.listTasks({ states: ["queued"] })).tasks[0].name, b.name);
    });

    await t.step("listTasks() rejects a cursor it did not make", async () => {
      await using store = await open();
      await assert.rejects(() => store.listTasks({ cursor: "garbage" }), RangeError);
      // Well-formed but beyond any seq (past 2^53).
      await assert.rejects(() => store.listTasks({ cursor: "szzzzzzzzzzz" }), RangeError);
      await assert.rejects(
        () => store.listTasks({ cursor: "szzzzzzzzzzz", name: "n" }),
        RangeError,
      );
    });

    await t.step("an over-long id finds nothing, without an error", async () => {
      await using store = await open();
      const id = "x".repeat(3000);
      assert.deepStrictEqual(await store.getTask(id), null);
      assert.deepStrictEqual(await store.deleteTask(id), false);
      await assert.rejects(() => store.updateTask({ ...sampleTask(), id }), NotFoundError);
    });

    await t.step("getTaskView() renders the committed task, again once it changed", async () => {
      await using store = await open();
      const rendered: string[] = [];
      const render = (t: TaskRecord) => {
        rendered.push(t.id);
        return `${t.id} ${t.status.at(-1)!.status} ${t.retry}`;
      };
      const text = (id: string) => store.getTaskView(id, render);
      const { task } = await store.createTask(sampleTask());
      assert.deepStrictEqual(await text(task.id), `${task.id} TASK_QUEUED 0`);
      assert.deepStrictEqual(await text(task.id), `${task.id} TASK_QUEUED 0`);
      await store.updateTask({ ...withState(task, "TASK_STAGING"), retry: 1 });
      assert.deepStrictEqual(await text(task.id), `${task.id} TASK_STAGING 1`);
      await store.updateTask({ ...withState(task, "TASK_STAGING"), retry: 2 });
      assert.deepStrictEqual(await text(task.id), `${task.id} TASK_STAGING 2`);
      // Another renderer is another view.
      const other = (t: TaskRecord) => t.name;
      assert.equal(await store.getTaskView(task.id, other), task.name);
      assert.ok(await store.deleteTask(task.id));
      assert.deepStrictEqual(await text(task.id), null);
      assert.deepStrictEqual(await text("eremetic-task.nope"), null);
      assert.ok(rendered.length >= 3);
    });

    await t.step("updateTask() keeps the seq and name given at creation", async () => {
      await using store = await open();
      const { task } = await store.createTask(sampleTask({ name: "fixed" }));
      await store.updateTask({ ...withState(task, "TASK_STAGING"), seq: 999, name: "renamed" });
      const got = (await store.getTask(task.id))!;
      assert.deepStrictEqual([got.seq, got.name, got.status.at(-1)!.status], [
        task.seq,
        "fixed",
        "TASK_STAGING",
      ]);
      assert.deepStrictEqual((await store.listTasks({ name: "fixed" })).tasks.map((t) => t.id), [
        task.id,
      ]);
      assert.deepStrictEqual((await store.listTasks({ name: "renamed" })).tasks, []);
    });

    await t.step("updateTask() of a deleted task throws NotFoundError", async () => {
      await using store = await open();
      const { task } = await store.createTask(sampleTask());
      assert.ok(await store.deleteTask(task.id));
      assert.ok(!(await store.deleteTask(task.id)));
      await assert.rejects(() => store.updateTask(task), NotFoundError);
      assert.deepStrictEqual((await store.listTasks({ states: null })).tasks, []);
      assert.deepStrictEqual(await store.countTasks(), { queued: 0, active: 0, terminated: 0 });
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
        assert.ok(first.created && !again.created);
        assert.deepStrictEqual(again.task.id, first.task.id);
        await assert.rejects(
          () => store.createTask(sampleTask(), { idempotencyKey: "k1", fingerprint: "b" }),
          ConflictError,
        );
        assert.deepStrictEqual((await store.listTasks()).tasks.length, 1);
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
      assert.deepStrictEqual(new Set(results.map((r) => r.task.id)).size, 1);
      assert.deepStrictEqual(results.filter((r) => r.created).length, 1);
    });

    await t.step("a record over the size limit is refused with TooLargeError", async () => {
      await using store = await open();
      const big = sampleTask({ env: { BIG: "x".repeat(70_000) } });
      await assert.rejects(() => store.createTask(big), TooLargeError);
    });

    await t.step("framework id and outbox items are kept", async () => {
      await using store = await open();
      assert.deepStrictEqual(await store.getFrameworkId(), null);
      await store.setFrameworkId("fw-1");
      assert.deepStrictEqual(await store.getFrameworkId(), "fw-1");
      await store.putOutbox("callback", { id: "c1", value: { n: 1 } });
      await store.putOutbox("callback", { id: "c2", value: { n: 2 } });
      await store.deleteOutbox("callback", "c1");
      assert.deepStrictEqual(await store.listOutbox("callback"), [{ id: "c2", value: { n: 2 } }]);
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
      assert.deepStrictEqual(await store.countTasks(), { queued: 0, active: 200, terminated: 100 });
      assert.deepStrictEqual((await store.listTasks({ states: ["active"] })).tasks.length, 200);
      const seqs = tasks.map((t) => t.seq);
      assert.deepStrictEqual(new Set(seqs).size, 300);
    });
  }
}
