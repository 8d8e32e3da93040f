import assert from "node:assert/strict";
import type { TaskPage } from "../store/mod.ts";
import type { TaskRecord } from "../task/mod.ts";
import { task } from "./_testdata.ts";
import { TaskQueue } from "./queue.ts";

function queued(n: number): TaskRecord[] {
  return Array.from({ length: n }, (_, i) => ({ ...task(), seq: i + 1 }));
}

/** A store listing of `tasks` by seq cursor, as `listTasks` pages them. */
function lister(tasks: TaskRecord[]) {
  const calls: [string | null, number][] = [];
  const list = (cursor: string | null, limit: number): Promise<TaskPage> => {
    calls.push([cursor, limit]);
    const after = cursor === null ? 0 : Number(cursor);
    const page = tasks.filter((t) => t.seq > after).slice(0, limit);
    const more = tasks.some((t) => t.seq > (page.at(-1)?.seq ?? Infinity));
    return Promise.resolve({ tasks: page, cursor: more ? String(page.at(-1)!.seq) : null });
  };
  return { list, calls };
}

Deno.test("TaskQueue holds a window of the head and counts the rest", async () => {
  const all = queued(10);
  const q = new TaskQueue({ window: 4 });
  q.setTotal(10);
  const { list } = lister(all);
  await q.refill(list);
  assert.equal(q.held, 4);
  assert.equal(q.size, 10);
  assert.deepEqual([...q.eligible(0)].map((t) => t.seq), [1, 2, 3, 4]);
  assert.equal(q.needsRefill(), false);
  q.remove(all[0].id);
  q.remove(all[1].id);
  q.remove(all[2].id);
  assert.equal(q.size, 7);
  assert.equal(q.needsRefill(), true);
  await q.refill(list);
  assert.deepEqual([...q.eligible(0)].map((t) => t.seq), [4, 5, 6, 7]);
});

Deno.test("TaskQueue keeps seq order for a retried task and skips tasks in back-off", async () => {
  const all = queued(3);
  const q = new TaskQueue({ window: 10 });
  await q.refill(lister(all).list);
  assert.equal(q.complete, true);
  assert.equal(q.size, 3);
  q.remove(all[0].id);
  q.add({ ...all[0], not_before: 5_000 });
  assert.deepEqual([...q.eligible(0)].map((t) => t.seq), [2, 3]);
  assert.deepEqual([...q.eligible(5_000)].map((t) => t.seq), [1, 2, 3]);
  assert.equal(q.nextNotBefore(0), 5_000);
  assert.equal(q.size, 3);
});

Deno.test("TaskQueue: a task removed and added again is held once", async () => {
  const [t] = queued(1);
  const q = new TaskQueue();
  await q.refill(lister([t]).list);
  q.remove(t.id);
  q.add(t);
  q.add(t);
  assert.deepEqual([...q.eligible(0)].map((x) => x.id), [t.id]);
  assert.equal(q.size, 1);
});

Deno.test("TaskQueue: a task created while a page is read is not lost", async () => {
  const q = new TaskQueue({ window: 10 });
  const late = { ...task(), seq: 9 };
  const gate = Promise.withResolvers<TaskPage>();
  const reading = q.refill(() => gate.promise);
  q.add(late); // created after the page was read
  gate.resolve({ tasks: [], cursor: null });
  await reading;
  assert.deepEqual([...q.eligible(0)].map((t) => t.id), [late.id]);
  assert.equal(q.size, 1);
});

Deno.test("TaskQueue: new tasks beyond a full window are read from the store later", async () => {
  const all = queued(6);
  const q = new TaskQueue({ window: 4 });
  await q.refill(lister(all.slice(0, 2)).list);
  assert.equal(q.complete, true);
  for (const t of all.slice(2)) q.add(t);
  assert.equal(q.held, 4);
  assert.equal(q.size, 6);
  assert.equal(q.complete, false);
  for (const t of all.slice(0, 3)) q.remove(t.id);
  const { list, calls } = lister(all.slice(3));
  await q.refill(list);
  assert.deepEqual(calls[0][0], null, "from the start: the position was lost");
  assert.deepEqual([...q.eligible(0)].map((t) => t.seq), [4, 5, 6]);
});

Deno.test("TaskQueue skips listed tasks the scheduler already placed", async () => {
  const all = queued(3);
  const q = new TaskQueue();
  await q.refill(lister(all).list, (id) => id === all[1].id);
  assert.deepEqual([...q.eligible(0)].map((t) => t.seq), [1, 3]);
});

Deno.test("TaskQueue remembers the smallest demand and the next back-off until it changes", async () => {
  const [a, b] = queued(2);
  const q = new TaskQueue();
  await q.refill(lister([{ ...a, cpu: 2, mem: 100 }, { ...b, cpu: 0.5, mem: 300 }]).list);
  assert.deepEqual(q.smallestDemand(), { cpus: 0.5, mem: 100 });
  q.remove(b.id);
  assert.deepEqual(q.smallestDemand(), { cpus: 2, mem: 100 });
  const [c, d] = queued(2).map((t) => ({ ...t, cpu: 1, mem: 100 }));
  q.add(c);
  q.add(d);
  q.remove(c.id);
  assert.deepEqual(q.smallestDemand(), { cpus: 1, mem: 100 }, "one task still needs that little");
  q.remove(d.id);
  assert.deepEqual(q.smallestDemand(), { cpus: 2, mem: 100 });
  assert.equal(q.nextNotBefore(0), Infinity);
  q.add({ ...b, not_before: 50 });
  assert.equal(q.nextNotBefore(10), 50);
  assert.equal(q.nextNotBefore(60), Infinity, "due by then");
});

Deno.test("TaskQueue skips the removed head, and a task added before it again is eligible", async () => {
  const tasks = queued(4);
  const q = new TaskQueue();
  await q.refill(lister(tasks).list);
  q.remove(tasks[0].id);
  q.remove(tasks[1].id);
  assert.deepEqual([...q.eligible(0)].map((t) => t.seq), [3, 4]);
  q.add(tasks[0]); // placed, then back to the queue without a retry
  assert.deepEqual([...q.eligible(0)].map((t) => t.seq), [1, 3, 4]);
  assert.equal(q.take(tasks[2].id)?.seq, 3);
  assert.deepEqual([...q.eligible(0)].map((t) => t.seq), [1, 4]);
});
