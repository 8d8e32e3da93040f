import assert from "node:assert/strict";
import { encodeJson } from "./json.ts";

Deno.test("encodeJson() writes integral doubles with .0 only for double fields", () => {
  assert.equal(
    encodeJson({
      heartbeat_interval_seconds: 15,
      scalar: { value: 4 },
      port: 5050,
      s: '{"value":5}',
    }),
    '{"heartbeat_interval_seconds":15.0,"scalar":{"value":4.0},"port":5050,"s":"{\\"value\\":5}"}',
  );
  assert.equal(
    encodeJson({ value: 0.5, ranges: [{ begin: 1, end: 2 }] }),
    '{"value":0.5,"ranges":[{"begin":1,"end":2}]}',
  );
});
