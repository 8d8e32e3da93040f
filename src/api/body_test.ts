import assert from "node:assert/strict";
import { FakeClock, Timers } from "../runtime.ts";
import { MAX_JSON_DEPTH, nestsDeeperThan, parseJsonBody, readBody } from "./body.ts";
import { HttpError } from "./errors.ts";

const encoder = new TextEncoder();

/** A request whose body sends `first` and then nothing, until the reader cancels it. */
function stalled(first: string): { req: Request; cancelled: Promise<void> } {
  let cancel!: () => void;
  const cancelled = new Promise<void>((r) => cancel = r);
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(encoder.encode(first));
    },
    cancel() {
      cancel();
    },
  });
  return { req: new Request("http://x/", { method: "POST", body }), cancelled };
}

Deno.test("readBody() answers 408 and cancels a body that does not arrive in time", async () => {
  const clock = new FakeClock();
  const timers = new Timers(clock);
  const { req, cancelled } = stalled("{");
  const reading = readBody(req, { timeout: { ms: 30_000, timers } });
  let settled = false;
  reading.catch(() => {}).finally(() => settled = true);
  await clock.tick(29_000);
  assert.equal(settled, false, "still waiting before the timeout");
  await clock.tick(1_010);
  await cancelled;
  await assert.rejects(reading, (e: unknown) => {
    assert.ok(e instanceof HttpError);
    assert.equal(e.status, 408);
    assert.equal(e.headers.connection, "close");
    assert.deepEqual(e.document.details?.map((d) => d.path), ["(body)"]);
    return true;
  });
  timers.close();
});

Deno.test("readBody() with a timeout reads a body that arrives in time", async () => {
  const clock = new FakeClock();
  const timers = new Timers(clock);
  const req = new Request("http://x/", { method: "POST", body: '{"a":1}' });
  const bytes = await readBody(req, { timeout: { ms: 30_000, timers } });
  assert.equal(new TextDecoder().decode(bytes), '{"a":1}');
  timers.close();
});

Deno.test("readBody() answers 413 beyond the limit, declared or streamed", async () => {
  const declared = new Request("http://x/", {
    method: "POST",
    body: "x".repeat(11),
    headers: { "content-length": "11" },
  });
  await assert.rejects(readBody(declared, { limit: 10 }), (e: unknown) => {
    assert.ok(e instanceof HttpError);
    return e.status === 413;
  });
  const { req, cancelled } = stalled("x".repeat(11));
  await assert.rejects(readBody(req, { limit: 10 }), (e: unknown) => {
    assert.ok(e instanceof HttpError);
    return e.status === 413;
  });
  await cancelled;
});

Deno.test("nestsDeeperThan() counts brackets outside strings only", () => {
  const bytes = (s: string) => encoder.encode(s);
  assert.equal(nestsDeeperThan(bytes("[[[]]]"), 3), false);
  assert.equal(nestsDeeperThan(bytes("[[[[]]]]"), 3), true);
  assert.equal(nestsDeeperThan(bytes('{"a":{"b":[1]}}'), 3), false);
  assert.equal(nestsDeeperThan(bytes('{"a":{"b":[{}]}}'), 3), true);
  assert.equal(nestsDeeperThan(bytes(`["${"[".repeat(100)}"]`), 3), false, "inside a string");
  assert.equal(nestsDeeperThan(bytes(`["\\"${"[".repeat(100)}"]`), 3), false, "after an escape");
  assert.equal(nestsDeeperThan(bytes(`["\\\\",${"[".repeat(10)}`), 3), true, "escaped backslash");
});

Deno.test("parseJsonBody() refuses deep nesting in a large body before parsing it", () => {
  const deep = (n: number) => "[".repeat(n) + "]".repeat(n);
  const big = (inner: string) => encoder.encode(`{"pad":"${"x".repeat(20_000)}","x":${inner}}`);
  assert.throws(() => parseJsonBody(big(deep(MAX_JSON_DEPTH + 1))), (e: unknown) => {
    assert.ok(e instanceof HttpError);
    assert.equal(e.status, 422);
    assert.deepEqual(e.document.details?.map((d) => d.path), ["(body)"]);
    return true;
  });
  assert.deepEqual(
    (parseJsonBody(big(deep(MAX_JSON_DEPTH - 1))) as { pad: string }).pad.length,
    20_000,
  );
  // Small bodies are parsed as they are (a small body cannot nest deep enough to matter).
  assert.deepEqual(
    parseJsonBody(encoder.encode(deep(MAX_JSON_DEPTH + 5))),
    JSON.parse(deep(MAX_JSON_DEPTH + 5)),
  );
});
