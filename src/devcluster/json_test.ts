import assert from "node:assert/strict";
import fc from "fast-check";
import { encodeJson, encodeRecord, RecordIoDecoder, RecordIoError } from "./json.ts";

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

Deno.test("RecordIoDecoder decodes records however the bytes are chunked", () => {
  fc.assert(
    fc.property(
      fc.array(fc.string({ unit: "grapheme", maxLength: 40 }), { minLength: 1, maxLength: 8 }),
      fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 20 }),
      (records, cuts) => {
        const parts = records.map((r) => encodeRecord(r));
        const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
        let at = 0;
        for (const p of parts) {
          all.set(p, at);
          at += p.length;
        }
        const decoder = new RecordIoDecoder();
        const out: string[] = [];
        let pos = 0;
        let i = 0;
        while (pos < all.length) {
          const n = cuts[i++ % cuts.length];
          out.push(...decoder.decode(all.subarray(pos, pos + n)));
          pos += n;
        }
        assert.deepEqual(out, records);
      },
    ),
  );
});

Deno.test("RecordIoDecoder counts bytes, not characters, and rejects a bad prefix", () => {
  const record = encodeRecord('{"m":"héllo ✓"}');
  assert.equal(new TextDecoder().decode(record).split("\n")[0], "18");
  assert.deepEqual(new RecordIoDecoder().decode(record), ['{"m":"héllo ✓"}']);
  assert.throws(
    () => new RecordIoDecoder().decode(new TextEncoder().encode("x1\n{}")),
    RecordIoError,
  );
});
