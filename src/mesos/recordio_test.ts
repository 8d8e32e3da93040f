import assert from "node:assert/strict";
import fc from "fast-check";
import { encodeRecord, encodeRecords, readRecords, RecordIODecoder } from "./recordio.ts";
import { MesosProtocolError } from "./errors.ts";

const decoder = new TextDecoder();
const texts = (records: Uint8Array[]) => records.map((r) => decoder.decode(r));

const SAMPLES = [
  '{"type":"SUBSCRIBED","subscribed":{"framework_id":{"value":"F-0000"}}}',
  '{"type":"HEARTBEAT"}',
  '{"type":"MESSAGE","message":{"data":"héllo wörld ✓ 🚀 日本"}}',
  "x",
  '{"type":"HEARTBEAT"}',
];

Deno.test("encodeRecord() prefixes the UTF-8 byte length, not the character count", () => {
  assert.deepEqual(
    decoder.decode(encodeRecord('{"type":"HEARTBEAT"}')),
    '20\n{"type":"HEARTBEAT"}',
  );
  // "é" is 2 bytes, "🚀" 4 bytes.
  assert.deepEqual(decoder.decode(encodeRecord("é🚀")), "6\né🚀");
});

Deno.test("RecordIODecoder.decode() decodes records split at every byte boundary", () => {
  const bytes = encodeRecords(SAMPLES);
  for (let cut = 0; cut <= bytes.length; cut++) {
    const d = new RecordIODecoder();
    const out = [...d.decode(bytes.subarray(0, cut)), ...d.decode(bytes.subarray(cut))];
    assert.deepEqual(texts(out), SAMPLES, `cut at ${cut}`);
    assert.deepEqual(d.pending, false);
  }
});

Deno.test("RecordIODecoder.decode() decodes records split at every pair of boundaries", () => {
  const bytes = encodeRecords(SAMPLES.slice(0, 3));
  for (let a = 0; a <= bytes.length; a++) {
    for (let b = a; b <= bytes.length; b++) {
      const d = new RecordIODecoder();
      const out = [
        ...d.decode(bytes.subarray(0, a)),
        ...d.decode(bytes.subarray(a, b)),
        ...d.decode(bytes.subarray(b)),
      ];
      assert.deepEqual(texts(out), SAMPLES.slice(0, 3), `cuts at ${a}, ${b}`);
    }
  }
});

Deno.test("RecordIODecoder.decode() decodes one byte at a time and in one piece", () => {
  const bytes = encodeRecords(SAMPLES);
  const d = new RecordIODecoder();
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i++) out.push(...d.decode(bytes.subarray(i, i + 1)));
  assert.deepEqual(texts(out), SAMPLES);
  assert.deepEqual(texts(new RecordIODecoder().decode(bytes)), SAMPLES);
});

Deno.test("RecordIODecoder.decode() does not keep references to the caller's buffer", () => {
  const d = new RecordIODecoder();
  const buf = encodeRecord("abcdef");
  const first = d.decode(buf.subarray(0, 5)); // "6\nabc"
  assert.deepEqual(first, []);
  buf.fill(0x21, 0, 5); // the caller reuses its buffer
  assert.deepEqual(texts(d.decode(buf.subarray(5))), ["abcdef"]);
  const whole = encodeRecord("xyz");
  const [rec] = new RecordIODecoder().decode(whole);
  whole.fill(0x21);
  assert.deepEqual(decoder.decode(rec), "xyz");
});

Deno.test("RecordIODecoder handles a zero-length record and a large one", () => {
  const big = "y".repeat(300_000);
  const bytes = encodeRecords(["", big]);
  const d = new RecordIODecoder();
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += 4096) out.push(...d.decode(bytes.subarray(i, i + 4096)));
  assert.deepEqual(out.length, 2);
  assert.deepEqual(out[0].length, 0);
  assert.deepEqual(decoder.decode(out[1]), big);
});

Deno.test("RecordIODecoder rejects malformed prefixes and oversized records", () => {
  assert.throws(() => new RecordIODecoder().decode(new TextEncoder().encode("1a\nx")), {
    name: "MesosProtocolError",
    message: /not a digit/,
  });
  assert.throws(() => new RecordIODecoder().decode(new TextEncoder().encode("\n")), {
    name: "MesosProtocolError",
    message: /empty length prefix/,
  });
  assert.throws(
    () => new RecordIODecoder({ maxRecordBytes: 10 }).decode(new TextEncoder().encode("11\n")),
    { name: "MesosProtocolError", message: /exceeds 10 bytes/ },
  );
  const d = new RecordIODecoder();
  d.decode(new TextEncoder().encode("5\nab"));
  assert.throws(() => d.finish(), { name: "MesosProtocolError", message: /inside a record/ });
});

Deno.test("readRecords() reads a stream whose chunks split multi-byte characters", async () => {
  const bytes = encodeRecords(SAMPLES);
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      for (let i = 0; i < bytes.length; i += 3) c.enqueue(bytes.slice(i, i + 3));
      c.close();
    },
  });
  const out: string[] = [];
  for await (const r of readRecords(stream)) out.push(decoder.decode(r));
  assert.deepEqual(out, SAMPLES);
});

Deno.test("readRecords() throws when the stream ends inside a record", async () => {
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new TextEncoder().encode('20\n{"type"'));
      c.close();
    },
  });
  let caught: unknown;
  try {
    for await (const _ of readRecords(stream)) { /* nothing */ }
  } catch (err) {
    caught = err;
  }
  assert.deepEqual(caught instanceof MesosProtocolError, true);
});

Deno.test("readRecords() cancels the stream when the consumer stops early", async () => {
  let cancelled = false;
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(encodeRecords(["a", "b"]));
    },
    cancel() {
      cancelled = true;
    },
  });
  for await (const _ of readRecords(stream)) break;
  assert.deepEqual(cancelled, true);
});

Deno.test("RecordIODecoder decodes any payloads under any chunking (property)", () => {
  fc.assert(
    fc.property(
      fc.array(fc.string({ unit: "grapheme", maxLength: 40 }), { maxLength: 8 }),
      fc.array(fc.nat({ max: 60 }), { maxLength: 20 }),
      (payloads, cuts) => {
        const bytes = encodeRecords(payloads);
        const d = new RecordIODecoder();
        const out: Uint8Array[] = [];
        let at = 0;
        for (const cut of cuts) {
          const end = Math.min(bytes.length, at + cut);
          out.push(...d.decode(bytes.subarray(at, end)));
          at = end;
        }
        out.push(...d.decode(bytes.subarray(at)));
        d.finish();
        assert.deepEqual(texts(out), payloads);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("RecordIODecoder({ views: true }) returns records as views of the chunk, not copies", () => {
  const chunk = new TextEncoder().encode("2\nab3\ncde");
  const [a, b] = new RecordIODecoder({ views: true }).decode(chunk);
  assert.equal(a.buffer, chunk.buffer);
  assert.equal(new TextDecoder().decode(b), "cde");
  const [copy] = new RecordIODecoder().decode(chunk);
  assert.notEqual(copy.buffer, chunk.buffer);
});
