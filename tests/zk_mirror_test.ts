/**
 * The followers' read-only mirror of the ZooKeeper store (src/store/zk_mirror.ts) against
 * a real ZooKeeper: it follows a writer through watches, finds a task written a moment
 * ago, refuses writes, never shows a refused (fenced) write, and follows again after its
 * session expired.
 */
import assert from "node:assert/strict";
import { sampleTask } from "../src/store/_contract.ts";
import {
  FencedWriteError,
  openZkMirror,
  openZkStore,
  StoreUnavailableError,
} from "../src/store/mod.ts";
import { PING_TIMEOUT_MS } from "../src/store/zk.ts";
import type { TaskRecord, TaskState } from "../src/task/mod.ts";
import { connectZk } from "../src/zk/mod.ts";
import { waitFor } from "./_e2e.ts";
import { zkSuite } from "./_zookeeper.ts";

const withState = (task: TaskRecord, status: TaskState): TaskRecord => ({
  ...task,
  status: [...task.status, { time: 1_700_000_000, status }],
});
const stateOf = (task: TaskRecord | null) => task?.status.at(-1)?.status ?? null;

zkSuite("ZooKeeper store mirror (HA followers)", async (zk, t) => {
  await t.step("follows the writer's creates, updates and deletes", async () => {
    const url = zk.url("/follow/eremetic");
    await using writer = await openZkStore(url);
    const before = (await writer.createTask(sampleTask({ name: "before" }))).task;
    await using mirror = await openZkMirror(url);
    assert.deepEqual(await mirror.getTask(before.id), before);
    const seen: [string, TaskState | null, TaskState | null][] = [];
    mirror.onTaskChanged((id, task, prior) => seen.push([id, stateOf(task), stateOf(prior)]));

    const after = (await writer.createTask(sampleTask({ name: "after" }))).task;
    await writer.updateTask(withState(before, "TASK_STAGING"));
    await waitFor("the mirror to see both writes", async () => {
      const page = await mirror.listTasks({ states: null });
      return page.tasks.length === 2 &&
        stateOf(await mirror.getTask(before.id)) === "TASK_STAGING";
    });
    // Submission order is the writer's.
    assert.deepEqual((await mirror.listTasks({ states: null })).tasks.map((x) => x.id), [
      before.id,
      after.id,
    ]);
    assert.deepEqual(await mirror.countTasks(), { queued: 1, active: 1, terminated: 0 });
    assert.deepEqual(seen.find(([id]) => id === before.id), [
      before.id,
      "TASK_STAGING",
      "TASK_QUEUED",
    ]);

    await writer.deleteTask(after.id);
    await waitFor("the mirror to see the delete", async () => {
      return (await mirror.listTasks({ states: null })).tasks.length === 1;
    });
    assert.deepEqual(seen.at(-1), [after.id, null, "TASK_QUEUED"]);
    // A task ZooKeeper no longer holds is not found, also by a direct read.
    assert.equal(await mirror.getTask(after.id), null);
  });

  await t.step("finds a task acknowledged a moment ago, before its watch fires", async () => {
    const url = zk.url("/fresh/eremetic");
    await using writer = await openZkStore(url);
    await using mirror = await openZkMirror(url);
    for (let i = 0; i < 20; i++) {
      const { task } = await writer.createTask(sampleTask());
      // No wait: the 202 was sent, a client asks a follower at once.
      assert.deepEqual(await mirror.getTask(task.id), task);
    }
  });

  await t.step("opened before any writer, it follows the first one", async () => {
    const url = zk.url("/early/eremetic");
    await using mirror = await openZkMirror(url);
    await using writer = await openZkStore(url);
    const { task } = await writer.createTask(sampleTask());
    await waitFor("the mirror to list the task", async () => {
      return (await mirror.listTasks({ states: null })).tasks.length === 1;
    });
    assert.deepEqual((await mirror.listTasks()).tasks, [task]);
  });

  await t.step("lookups of unknown ids share their syncs", async () => {
    let syncs = 0;
    await using mirror = await openZkMirror(zk.url("/syncs/eremetic"), {
      connect: async (url, options) => {
        const client = await connectZk(url, options);
        const sync = client.sync.bind(client);
        client.sync = (path) => (syncs++, sync(path));
        return client;
      },
    });
    const found = await Promise.all(
      Array.from({ length: 200 }, (_, i) => mirror.getTask(`eremetic-task.unknown-${i}`)),
    );
    assert.ok(found.every((x) => x === null));
    // The first starts one; all who came while it was in flight share the next.
    assert.equal(syncs, 2);
  });

  await t.step("refuses every write: only the leader writes", async () => {
    await using mirror = await openZkMirror(zk.url("/readonly/eremetic"));
    const refused = (e: unknown) => e instanceof StoreUnavailableError;
    const task = sampleTask();
    await assert.rejects(() => mirror.createTask(task), refused);
    await assert.rejects(() => mirror.updateTask(task), refused);
    await assert.rejects(() => mirror.deleteTask(task.id), refused);
    await assert.rejects(() => mirror.setFrameworkId("fw"), refused);
    await assert.rejects(() => mirror.putOutbox("callback", { id: "x", value: 1 }), refused);
    assert.deepEqual(await mirror.listOutbox("callback"), []);
  });

  await t.step("never shows a deposed leader's refused write", async () => {
    const url = zk.url("/committed/eremetic");
    await using old = await openZkStore(url);
    const task = (await old.createTask(sampleTask())).task;
    await using mirror = await openZkMirror(url);
    await using next = await openZkStore(url);
    await next.updateTask(withState(task, "TASK_STAGING"));
    await assert.rejects(
      () => old.updateTask(withState(task, "TASK_LOST")),
      (e: unknown) => e instanceof FencedWriteError && e.reason === "deposed",
    );
    await next.updateTask(withState(withState(task, "TASK_STAGING"), "TASK_RUNNING"));
    const seen: (TaskState | null)[] = [];
    mirror.onTaskChanged((_id, t) => seen.push(stateOf(t)));
    await waitFor("the mirror to see the new leader's last write", async () => {
      return stateOf(await mirror.getTask(task.id)) === "TASK_RUNNING";
    });
    assert.ok(!seen.includes("TASK_LOST"), `seen: ${seen.join(", ")}`);
    assert.ok(!(await mirror.getTask(task.id))!.status.some((s) => s.status === "TASK_LOST"));
  });

  await t.step("ping() gives up within its timeout while ZooKeeper is frozen", async () => {
    await using mirror = await openZkMirror(zk.url("/frozen/eremetic"));
    await mirror.ping();
    const frozen = zk.pause(PING_TIMEOUT_MS + 2000);
    // The stop signal takes effect when the server's threads next run: let it.
    await new Promise((r) => setTimeout(r, 300));
    const started = performance.now();
    await assert.rejects(() => mirror.ping(), StoreUnavailableError);
    // Well before the freeze ends: a health check gets its 503 in time.
    assert.ok(performance.now() - started < PING_TIMEOUT_MS + 1000);
    await frozen;
    await waitFor("ZooKeeper to answer again", () => mirror.ping().then(() => true));
  });

  await t.step("after its session expired it reads everything again and follows", async () => {
    const url = zk.url("/expiry/eremetic");
    await using first = await openZkStore(url);
    const a = (await first.createTask(sampleTask())).task;
    await using mirror = await openZkMirror(url, { sessionTimeoutMs: 2000 });
    assert.ok(await mirror.getTask(a.id));
    await zk.pause(5000);
    // A writer opened after the pause (the first one's session is gone too).
    await using writer = await openZkStore(url);
    await writer.updateTask(withState(a, "TASK_STAGING"));
    const b = (await writer.createTask(sampleTask())).task;
    await waitFor("the mirror to follow the writes after the expiry", async () => {
      const page = await mirror.listTasks({ states: null });
      return page.tasks.length === 2 && stateOf(page.tasks[0]) === "TASK_STAGING";
    }, { timeoutMs: 20_000 });
    // Watches are set again: a later change is seen too.
    await writer.updateTask(withState(b, "TASK_STAGING"));
    await waitFor("a later change", async () => {
      const page = await mirror.listTasks({ states: null });
      return page.tasks.every((x) => stateOf(x) === "TASK_STAGING");
    });
  });
});
