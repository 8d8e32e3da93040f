import assert from "node:assert/strict";
import { parseJsonBody } from "./body.ts";
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
