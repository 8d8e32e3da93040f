import assert from "node:assert/strict";
import { FakeClock, Timers } from "../runtime.ts";
import { MAX_JSON_DEPTH, nestsDeeperThan, parseJsonBody, readBody } from "./body.ts";
import { HttpError } from "./errors.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

function refusal(body: Uint8Array): HttpError {
  try {
    parseJsonBody(body);
  } catch (e) {
    assert.ok(e instanceof HttpError);
    return e;
  }
  assert.fail("the body was accepted");
}

Deno.test("parseJsonBody() parses a JSON document whatever its type", () => {
  assert.deepEqual(parseJsonBody(bytes('{"a":[1,null]}')), { a: [1, null] });
  assert.equal(parseJsonBody(bytes("null")), null);
});

Deno.test("parseJsonBody() refuses malformed JSON with 422 without quoting the body", () => {
  // V8's own message quotes the text around the error: here, the unquoted secret.
  for (
    const text of ['{"masked_env":{"K": hunter2secret}}', "hunter2secret", '{"K":"hunter2secret"']
  ) {
    const e = refusal(bytes(text));
    assert.equal(e.status, 422);
    assert.deepEqual(e.document, {
      error: "body is not valid JSON",
      message: "Unable to parse body into a valid request.",
      details: [{ path: "(body)", problem: "must be valid UTF-8 JSON" }],
    });
    assert.ok(!JSON.stringify(e.document).includes("hunter2"));
  }
});

Deno.test("parseJsonBody() refuses invalid UTF-8 with 422", () => {
  const e = refusal(new Uint8Array([0x7b, 0xff, 0x7d]));
  assert.equal(e.status, 422);
  assert.equal(e.document.error, "body is not valid UTF-8");
});

/** A body whose stream fails after a few bytes, as Deno's does when the client goes or the server stops. */
function failingBody(): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(bytes('{"image":'));
      c.error(new Deno.errors.BadResource("Cannot read body as underlying resource unavailable"));
    },
  });
}

Deno.test("readBody() answers 503 when the body cannot be read to its end", async () => {
  const declared = new Headers({ "content-length": "100" });
  for (const headers of [declared, new Headers()]) {
    const req = new Request("http://x/", { method: "POST", body: failingBody(), headers });
    const e = await readBody(req).then(() => null, (e) => e);
    assert.ok(e instanceof HttpError);
    assert.equal(e.status, 503);
    assert.equal(e.document.error, "request body not received");
    assert.equal(e.headers.connection, "close");
  }
});

const encoder = new TextEncoder();

/** A request whose `body` getter counts its uses (the getter builds a stream on a served request). */
function countingBodyReads(req: Request): { req: Request; bodyReads: () => number } {
  let reads = 0;
  const proto = Object.getPrototypeOf(req);
  const getter = Object.getOwnPropertyDescriptor(Request.prototype, "body")!.get!;
  Object.setPrototypeOf(
    req,
    Object.create(proto, {
      body: {
        get() {
          reads++;
          return getter.call(this);
        },
      },
    }),
  );
  return { req, bodyReads: () => reads };
}

/** A request with a streamed body of `chunks` and no Content-Length (chunked). */
function chunked(chunks: string[]): Request {
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      for (const s of chunks) c.enqueue(encoder.encode(s));
      c.close();
    },
  });
  return new Request("http://x/", { method: "POST", body: stream });
}

Deno.test("readBody() reads a body of declared length whole, without its stream", async () => {
  const text = '{"cpu":1}';
  const { req, bodyReads } = countingBodyReads(
    new Request("http://x/", {
      method: "POST",
      body: text,
      headers: { "content-length": String(text.length) },
    }),
  );
  assert.deepEqual(await readBody(req), encoder.encode(text));
  assert.equal(bodyReads(), 0);
});

Deno.test("readBody() answers 413 for a declared length over the limit, unread", async () => {
  const { req, bodyReads } = countingBodyReads(
    new Request("http://x/", {
      method: "POST",
      body: "x".repeat(11),
      headers: { "content-length": "11" },
    }),
  );
  await assert.rejects(
    () => readBody(req, { limit: 10 }),
    (e) => e instanceof HttpError && e.status === 413,
  );
  assert.equal(bodyReads(), 0);
});

Deno.test("readBody() reads a chunked body, 413 once it passes the limit", async () => {
  assert.deepEqual(await readBody(chunked(["ab", "cd"]), { limit: 10 }), encoder.encode("abcd"));
  await assert.rejects(
    () => readBody(chunked(["abcdef", "ghijkl"]), { limit: 10 }),
    (e) => e instanceof HttpError && e.status === 413,
  );
});

Deno.test("readBody() of a request without a body is empty", async () => {
  assert.equal((await readBody(new Request("http://x/", { method: "POST" }))).length, 0);
});

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

Deno.test("readBody() answers 408 for a body of declared length that does not arrive in time", async () => {
  const clock = new FakeClock();
  const timers = new Timers(clock);
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(encoder.encode("{"));
    },
  });
  const req = new Request("http://x/", {
    method: "POST",
    body,
    headers: { "content-length": "100" },
  });
  const reading = readBody(req, { timeout: { ms: 30_000, timers } });
  await clock.tick(30_010);
  await assert.rejects(reading, (e: unknown) => e instanceof HttpError && e.status === 408);
  timers.close();
});

Deno.test("readBody() times out each of several reads at its own time, with one timeout", async () => {
  const clock = new FakeClock();
  const timers = new Timers(clock);
  const timeout = { ms: 30_000, timers };
  const settled: string[] = [];
  const track = (name: string, p: Promise<Uint8Array>) =>
    p.then(() => settled.push(`${name} read`), (e) => settled.push(`${name} ${e.status}`));
  const first = track("first", readBody(stalled("{").req, { timeout }));
  await clock.tick(10_000);
  const second = track("second", readBody(stalled("{").req, { timeout }));
  const quick = new Request("http://x/", { method: "POST", body: "{}" });
  await track("quick", readBody(quick, { timeout }));
  await clock.tick(20_010);
  await first;
  assert.deepEqual(settled, ["quick read", "first 408"]);
  await clock.tick(9_000);
  assert.deepEqual(settled.length, 2, "the second is not due yet");
  await clock.tick(1_010);
  await second;
  assert.deepEqual(settled, ["quick read", "first 408", "second 408"]);
  timers.close();
});
