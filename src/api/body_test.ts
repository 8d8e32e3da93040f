import assert from "node:assert/strict";
import { HttpError } from "./errors.ts";
import { parseJsonBody, readBody } from "./body.ts";

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

Deno.test("parseJsonBody() refuses malformed JSON and invalid UTF-8 with a 422", () => {
  assert.deepEqual(parseJsonBody(encoder.encode('{"a":1}')), { a: 1 });
  for (const bytes of [encoder.encode('{"a":'), new Uint8Array([0x22, 0xff, 0x22])]) {
    assert.throws(
      () => parseJsonBody(bytes),
      (e) => e instanceof HttpError && e.status === 422,
    );
  }
});
