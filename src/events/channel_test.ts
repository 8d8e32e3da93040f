import assert from "node:assert/strict";
import { Channel } from "./channel.ts";

const decoder = new TextDecoder();

async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  let out = "";
  for await (const chunk of stream) out += decoder.decode(chunk, { stream: true });
  return out;
}

Deno.test("Channel delivers queued frames in order, then ends", async () => {
  const ch = new Channel();
  assert.equal(ch.send("a"), true);
  assert.equal(ch.send("b"), true);
  const reading = readAll(ch.readable);
  await Promise.resolve();
  ch.send("c");
  ch.end();
  assert.equal(ch.send("d"), false, "nothing after end()");
  assert.equal(await reading, "abc");
  assert.equal(await ch.closed, "ended");
  assert.equal(ch.signal.aborted, true);
});

Deno.test("Channel drops a client that does not read, and frees what it held", async () => {
  const ch = new Channel({ maxBytes: 10 });
  // Nobody reads: the producer never waits, sends just start failing.
  assert.equal(ch.send("12345"), true);
  assert.equal(ch.send("67890"), true);
  assert.equal(ch.pendingBytes, 10);
  assert.equal(ch.send("x"), false);
  assert.equal(ch.pendingBytes, 0);
  assert.equal(ch.open, false);
  assert.equal(await ch.closed, "overflow");
  // The client sees the stream end (without an `end` event) and reconnects.
  assert.equal(await readAll(ch.readable), "");
});

Deno.test("Channel.drained() resolves once the client has read everything", async () => {
  const ch = new Channel();
  ch.send("hello");
  let drained = false;
  const waiting = ch.drained().then(() => drained = true);
  await Promise.resolve();
  assert.equal(drained, false);
  const reader = ch.readable.getReader();
  assert.equal(decoder.decode((await reader.read()).value), "hello");
  await waiting;
  assert.equal(drained, true);
  await ch.drained();
  reader.releaseLock();
});

Deno.test("Channel ends as cancelled when the client goes away, as shutdown on shutdown()", async () => {
  const a = new Channel();
  a.send("x");
  await a.readable.cancel();
  assert.equal(await a.closed, "cancelled");
  assert.equal(a.send("y"), false);

  const b = new Channel();
  b.send("dropped");
  b.shutdown();
  assert.equal(await b.closed, "shutdown");
  assert.equal(await readAll(b.readable), "");
});
