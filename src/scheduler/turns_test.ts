import assert from "node:assert/strict";
import { AsyncQueue } from "../mesos/_queue.ts";
import { readTurns } from "./turns.ts";

/** An async iterable the test pushes into. */
function source<T>() {
  const items: T[] = [];
  let waiter: ((r: IteratorResult<T>) => void) | null = null;
  let ended = false;
  return {
    push(...xs: T[]) {
      for (const x of xs) {
        const w = waiter;
        waiter = null;
        if (w) w({ done: false, value: x });
        else items.push(x);
      }
    },
    end() {
      ended = true;
      waiter?.({ done: true, value: undefined });
    },
    [Symbol.asyncIterator]: () => ({
      next: (): Promise<IteratorResult<T>> => {
        const x = items.shift();
        if (x !== undefined) return Promise.resolve({ done: false, value: x });
        if (ended) return Promise.resolve({ done: true, value: undefined });
        return new Promise((r) => waiter = r);
      },
    }),
  };
}

Deno.test("readTurns() hands what arrived during a turn to the next one, in order", async () => {
  const events = source<number>();
  const turns: number[][] = [];
  const slow = Promise.withResolvers<void>();
  const done = readTurns(events, async (turn) => {
    turns.push(turn);
    if (turns.length === 1) await slow.promise;
  });
  events.push(1);
  await new Promise((r) => setTimeout(r, 0));
  events.push(2, 3, 4);
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(turns, [[1]], "the first turn is still running");
  slow.resolve();
  events.end();
  await done;
  assert.deepEqual(turns, [[1], [2, 3, 4]]);
});

Deno.test("readTurns() stops reading while maxWaiting events wait", async () => {
  let read = 0;
  async function* many() {
    for (let i = 0; i < 100; i++) {
      read++;
      yield i;
    }
  }
  const gate = Promise.withResolvers<void>();
  const sizes: number[] = [];
  const done = readTurns(many(), async (turn) => {
    sizes.push(turn.length);
    if (sizes.length === 1) await gate.promise;
  }, { maxWaiting: 10 });
  await new Promise((r) => setTimeout(r, 0));
  assert.ok(read <= 10 + sizes[0] + 1, `read ${read} while the first turn ran`);
  gate.resolve();
  await done;
  assert.equal(sizes.reduce((a, b) => a + b, 0), 100);
  assert.ok(sizes.every((n) => n <= 10));
});

Deno.test("readTurns() takes the events waiting in a drainable source together, in order, within maxWaiting", async () => {
  const queue = new AsyncQueue<number>();
  for (let i = 0; i < 25; i++) queue.push(i);
  const turns: number[][] = [];
  const done = readTurns(queue, async (turn) => {
    turns.push(turn);
    await null;
  }, { maxWaiting: 10 });
  await new Promise((r) => setTimeout(r, 10));
  for (let i = 25; i < 30; i++) queue.push(i);
  queue.close();
  await done;
  assert.deepEqual(turns.flat(), Array.from({ length: 30 }, (_, i) => i));
  for (const t of turns) assert.ok(t.length <= 10, `a turn of ${t.length}`);
  // The 10 that fit were taken at once (one event per awaited read would gather ~2).
  assert.deepEqual(turns[0].length, 10);
});
