import assert from "node:assert/strict";
import { findSecrets, maskStream, maskWindow, safeEnd, secretsOf } from "./mask.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const b = (s: string) => enc.encode(s);

Deno.test("secretsOf() keeps distinct non-empty values, longest first", () => {
  const s = secretsOf({ masked_env: { A: "ab", B: "", C: "abcd", D: "ab" } });
  assert.deepEqual(s.map((x) => dec.decode(x)), ["abcd", "ab"]);
  assert.deepEqual(secretsOf({ masked_env: null }), []);
});

Deno.test("findSecrets() finds leftmost-longest, non-overlapping matches", () => {
  const secrets = secretsOf({ masked_env: { A: "ab", B: "abcd" } });
  assert.deepEqual(findSecrets(b("xabcdyabab"), secrets), [
    { start: 1, end: 5 },
    { start: 6, end: 8 },
    { start: 8, end: 10 },
  ]);
});

Deno.test("safeEnd() stops before a trailing prefix of a secret only", () => {
  const secrets = secretsOf({ masked_env: { A: "hunter2" } });
  assert.equal(safeEnd(b("log: hun"), secrets), 5);
  assert.equal(safeEnd(b("log: hux"), secrets), 8);
  assert.equal(safeEnd(b("log: hunter2"), secrets), 12);
});

Deno.test("maskWindow() masks a value the window cuts, whole", () => {
  const secrets = secretsOf({ masked_env: { A: "s3cr3t" } });
  const raw = b("0123s3cr3t6789");
  // Window [6, 12) starts in the middle of the value (at 4..10).
  const w = maskWindow(raw, 0, 6, 12, secrets);
  assert.equal(dec.decode(w.bytes), "*******67");
  assert.equal(w.next, 12);
  // Window [0, 6) ends inside it: the whole value is masked and next is after it.
  const v = maskWindow(raw, 0, 0, 6, secrets);
  assert.equal(dec.decode(v.bytes), "0123*******");
  assert.equal(v.next, 10);
  // Hold: a trailing prefix waits.
  const h = maskWindow(b("abc s3c"), 0, 0, Infinity, secrets, true);
  assert.equal(dec.decode(h.bytes), "abc ");
  assert.equal(h.next, 4);
});

Deno.test("maskStream() masks values split across chunks, byte by byte", async () => {
  const secrets = secretsOf({ masked_env: { A: "pässwörd", B: "tok" } });
  const text = "start pässwörd mid tok pässwör end pässwörd";
  const bytes = b(text);
  const body = new ReadableStream<Uint8Array>({
    start(ctl) {
      for (const byte of bytes) ctl.enqueue(new Uint8Array([byte]));
      ctl.close();
    },
  });
  const out = await new Response(maskStream(body, secrets)).text();
  assert.equal(out, "start ******* mid ******* pässwör end *******");
});
