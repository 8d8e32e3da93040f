import { assertEquals } from "../testing/asserts.ts";
import { AsyncQueue } from "./_queue.ts";

Deno.test("AsyncQueue delivers pushed items in order, then ends after close()", async () => {
  const q = new AsyncQueue<number>();
  const got: number[] = [];
  const reading = (async () => {
    for await (const n of q) got.push(n);
  })();
  for (let i = 0; i < 3000; i++) q.push(i);
  q.close();
  assertEquals(q.push(1), false);
  await reading;
  assertEquals(got, Array.from({ length: 3000 }, (_, i) => i));
});

Deno.test("AsyncQueue calls onReturn when the consumer stops early", async () => {
  let stopped = false;
  const q = new AsyncQueue<number>(() => stopped = true);
  q.push(1);
  q.push(2);
  for await (const _ of q) break;
  assertEquals(stopped, true);
  assertEquals(q.size, 1);
});

Deno.test("AsyncQueue.takeAll() hands over waiting items in order, at most max", async () => {
  const q = new AsyncQueue<number>();
  for (let i = 0; i < 5; i++) q.push(i);
  assertEquals((await q.next()).value, 0);
  assertEquals(q.takeAll(2), [1, 2]);
  assertEquals(q.takeAll(), [3, 4]);
  assertEquals(q.takeAll(), []);
  q.push(5);
  assertEquals(q.size, 1);
  assertEquals((await q.next()).value, 5);
});
