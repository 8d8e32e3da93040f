import assert from "node:assert/strict";
import { sampleTask, storeContractSteps } from "../src/store/_contract.ts";
import {
  FencedWriteError,
  openStore,
  openZkStore,
  StoreUnavailableError,
} from "../src/store/mod.ts";
import { collectingLogger } from "../src/runtime.ts";
import type { TaskRecord, TaskState } from "../src/task/mod.ts";
import { connectZk, parseZkUrl } from "../src/zk/mod.ts";
import { zkSuite } from "./_zookeeper.ts";

let roots = 0;

zkSuite("ZooKeeper task store", async (zk, t) => {
  await t.step("the TaskStore contract", async (t) => {
    await storeContractSteps(t, () => openZkStore(zk.url(`/contract/r${++roots}/eremetic`)));
  });

  await t.step("tasks, framework id, idempotency and outbox survive reopening", async () => {
    const url = zk.url(`/reopen/eremetic`);
    const first = await openZkStore(url);
    const a = (await first.createTask(sampleTask(), { idempotencyKey: "k/1", fingerprint: "f" }))
      .task;
    const b = (await first.createTask(sampleTask({ name: "second" }))).task;
    await first.setFrameworkId("fw-7");
    await first.putOutbox("callback", { id: "c/1", value: { n: 1 } });
    await first.close();
    await using again = await openStore({ driver: "zk", database: url });
    assert.deepEqual(await again.getTask(a.id), a);
    assert.deepEqual((await again.listTasks()).tasks.map((t) => t.id), [a.id, b.id]);
    assert.equal(await again.getFrameworkId(), "fw-7");
    assert.deepEqual(await again.listOutbox("callback"), [{ id: "c/1", value: { n: 1 } }]);
    const repeat = await again.createTask(sampleTask(), {
      idempotencyKey: "k/1",
      fingerprint: "f",
    });
    assert.equal(repeat.created, false);
    assert.equal(repeat.task.id, a.id);
    const c = (await again.createTask(sampleTask())).task;
    assert.ok(c.seq > b.seq);
  });

  await t.step("a write is in ZooKeeper when it resolves", async () => {
    const url = zk.url(`/durable/eremetic`);
    await using store = await openZkStore(url);
    await using reader = await connectZk(parseZkUrl(url));
    const results = await Promise.all(
      Array.from({ length: 50 }, () => store.createTask(sampleTask())),
    );
    for (const { task } of results) {
      const node = await reader.getData(`/durable/eremetic/${task.id}`);
      assert.ok(node, task.id);
      assert.equal(JSON.parse(new TextDecoder().decode(node.data)).seq, task.seq);
    }
  });

  await t.step("an original Eremetic's task node is read and adopted", async () => {
    await using writer = await connectZk(parseZkUrl(zk.url("/orig/eremetic")));
    await writer.mkdirp("/orig/eremetic");
    // The original's layout (reference §3.5): Go field names, snake_case inside.
    const original = {
      TaskCPUs: 0.5,
      TaskMem: 64,
      Command: "echo hello",
      Args: null,
      User: "root",
      Environment: { A: "1" },
      MaskedEnvironment: { SECRET: "s3cret" },
      Labels: { team: "x" },
      Image: "busybox",
      Volumes: [{ container_path: "/data", host_path: "/mnt/data" }],
      Ports: null,
      Status: [
        { time: 1_600_000_000, status: "TASK_QUEUED" },
        { time: 1_600_000_005, status: "TASK_STAGING" },
        { time: 1_600_000_010, status: "TASK_FINISHED" },
      ],
      ID: "eremetic-task.5b0e7b3a-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
      Name: "old job",
      Network: "",
      DNS: "",
      FrameworkID: "fw-old",
      AgentID: "agent-1",
      AgentConstraints: null,
      Hostname: "node-1",
      Retry: 0,
      CallbackURI: "",
      SandboxPath: "/var/lib/mesos/sandbox",
      AgentIP: "10.0.0.9",
      AgentPort: 5051,
      ForcePullImage: false,
      Privileged: false,
      FetchURIs: [{ uri: "http://x/y.tgz", extract: true, executable: false, cache: false }],
    };
    await writer.create(
      `/orig/eremetic/${original.ID}`,
      new TextEncoder().encode(JSON.stringify(original)),
      { acl: "open" },
    );
    await using store = await openZkStore(zk.url("/orig/eremetic"));
    const task = await store.getTask(original.ID);
    assert.ok(task);
    assert.equal(task.cpu, 0.5);
    assert.equal(task.mem, 64);
    assert.equal(task.image, "busybox");
    assert.equal(task.command, "echo hello");
    assert.equal(task.name, "old job");
    assert.deepEqual(task.masked_env, { SECRET: "s3cret" });
    assert.deepEqual(task.labels, { team: "x" });
    assert.equal(task.volumes?.[0].host_path, "/mnt/data");
    assert.equal(task.status.at(-1)!.status, "TASK_FINISHED");
    assert.equal(task.agent_ip, "10.0.0.9");
    assert.equal(task.submitted_at, 1_600_000_000_000);
    assert.ok(task.seq > 0);
    assert.deepEqual(await store.countTasks(), { queued: 0, active: 0, terminated: 1 });
    const fresh = (await store.createTask(sampleTask())).task;
    assert.ok(fresh.seq > task.seq);
    await store.close();
    // Adopted: rewritten in our layout, with the same seq on the next opening.
    await using reopened = await openZkStore(zk.url("/orig/eremetic"));
    assert.deepEqual(await reopened.getTask(original.ID), task);
  });

  await t.step(
    "fencing: a deposed writer's late writes are refused, logged and not applied",
    async () => {
      const url = zk.url("/fence/eremetic");
      await using raw = await connectZk(parseZkUrl(url));
      const stored = async (id: string) => {
        const node = await raw.getData(`/fence/eremetic/${id}`);
        return node && JSON.parse(new TextDecoder().decode(node.data)) as TaskRecord;
      };
      const withState = (task: TaskRecord, status: TaskState): TaskRecord => ({
        ...task,
        status: [...task.status, { time: 1_700_000_000, status }],
      });
      const oldLog = collectingLogger();
      await using old = await openZkStore(url, { logger: oldLog });
      const a = (await old.createTask(sampleTask({ name: "a" }))).task;
      const b = (await old.createTask(sampleTask({ name: "b" }))).task;
      await old.setFrameworkId("fw-old");

      // A new leader opens the store and writes.
      const newLog = collectingLogger();
      await using next = await openZkStore(url, { logger: newLog });
      await next.updateTask(withState(a, "TASK_RUNNING"));

      // The old leader's late writes, alone and in one batch: all refused.
      const deposed = (e: unknown) =>
        e instanceof FencedWriteError && e.reason === "deposed" &&
        e instanceof StoreUnavailableError;
      await assert.rejects(() => old.updateTask(withState(a, "TASK_FAILED")), deposed);
      const late = await Promise.allSettled([
        old.updateTask(withState(b, "TASK_LOST")),
        old.createTask(sampleTask({ name: "late" })),
        old.deleteTask(b.id),
        old.setFrameworkId("fw-late"),
        old.putOutbox("callback", { id: "late", value: 1 }),
      ]);
      for (const r of late) {
        assert.equal(r.status, "rejected");
        assert.ok(deposed(r.reason), String(r.reason));
      }
      // Not applied: ZooKeeper holds what the new leader wrote.
      assert.equal((await stored(a.id))?.status.at(-1)?.status, "TASK_RUNNING");
      assert.equal((await stored(b.id))?.status.at(-1)?.status, "TASK_QUEUED");
      assert.deepEqual(
        (await raw.getChildren("/fence/eremetic"))!.filter((n) => !n.startsWith("_")).sort(),
        [a.id, b.id].sort(),
      );
      const fw = await raw.getData("/fence/eremetic/_eremetic/framework_id");
      assert.equal(new TextDecoder().decode(fw!.data), "fw-old");
      assert.deepEqual(
        (await raw.getChildren("/fence/eremetic/_eremetic/outbox/callback")) ?? [],
        [],
      );
      // Logged once, as an error naming the store, never as a warning per write.
      const errors = oldLog.entries.filter((e) => e.level === "error");
      assert.equal(errors.length, 1);
      assert.equal(errors[0].fields?.path, "/fence/eremetic/_eremetic/writer");
      // The new leader goes on writing.
      await next.updateTask(withState(withState(a, "TASK_RUNNING"), "TASK_FINISHED"));
      await next.setFrameworkId("fw-new");
      assert.equal((await stored(a.id))?.status.at(-1)?.status, "TASK_FINISHED");

      // A task node changed behind the writer's back (another program): refused too,
      // and the store then shows what ZooKeeper holds and writes from there.
      const node = await raw.getData(`/fence/eremetic/${b.id}`);
      const theirs = withState(b, "TASK_KILLED");
      await raw.setData(
        `/fence/eremetic/${b.id}`,
        new TextEncoder().encode(JSON.stringify(theirs)),
        node!.version,
      );
      await assert.rejects(
        () => next.updateTask(withState(b, "TASK_STAGING")),
        (e: unknown) =>
          e instanceof FencedWriteError && e.reason === "version" &&
          e.path === `/fence/eremetic/${b.id}`,
      );
      assert.equal((await stored(b.id))?.status.at(-1)?.status, "TASK_KILLED");
      assert.equal((await next.getTask(b.id))?.status.at(-1)?.status, "TASK_KILLED");
      assert.ok(
        newLog.entries.some((e) =>
          e.level === "warn" && e.fields?.path === `/fence/eremetic/${b.id}`
        ),
      );
      assert.equal(await next.deleteTask(b.id), true);
      assert.equal(await stored(b.id), null);
    },
  );

  await t.step(
    "an unreachable ZooKeeper: ping() fails, writes give up after the session timeout",
    async () => {
      await using store = await openZkStore(zk.url("/ping/eremetic"), { sessionTimeoutMs: 2000 });
      await store.ping();
      await zk.stop();
      const unavailable = (e: unknown) => e instanceof StoreUnavailableError;
      await assert.rejects(() => store.ping(), unavailable);
      await assert.rejects(() => store.createTask(sampleTask()), unavailable);
      await assert.rejects(() => store.setFrameworkId("fw"), unavailable);
      assert.deepEqual(await store.countTasks(), { queued: 0, active: 0, terminated: 0 });
    },
  );
});
