import assert from "node:assert/strict";
import { parseJsonBody, readBody } from "./body.ts";
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

Deno.test("readBody() answers 413 beyond the limit, declared or streamed", async () => {
  const declared = new Request("http://x/", {
    method: "POST",
    body: "x".repeat(20),
    headers: { "content-length": "20" },
  });
  assert.equal((await readBody(declared, 10).catch((e) => e)).status, 413);
  const streamed = new Request("http://x/", {
    method: "POST",
    body: new ReadableStream({
      start(c) {
        c.enqueue(bytes("x".repeat(8)));
        c.enqueue(bytes("x".repeat(8)));
        c.close();
      },
    }),
  });
  assert.equal((await readBody(streamed, 10).catch((e) => e)).status, 413);
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
    () => readBody(req, 10),
    (e) => e instanceof HttpError && e.status === 413,
  );
  assert.equal(bodyReads(), 0);
});

Deno.test("readBody() reads a chunked body, 413 once it passes the limit", async () => {
  assert.deepEqual(await readBody(chunked(["ab", "cd"]), 10), encoder.encode("abcd"));
  await assert.rejects(
    () => readBody(chunked(["abcdef", "ghijkl"]), 10),
    (e) => e instanceof HttpError && e.status === 413,
  );
});

Deno.test("readBody() of a request without a body is empty", async () => {
  assert.equal((await readBody(new Request("http://x/", { method: "POST" }))).length, 0);
});
