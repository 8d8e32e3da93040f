import assert from "node:assert/strict";
import { formatSse, readSse, sseComment, SseParser } from "./sse.ts";

Deno.test("formatSse() writes id, type and one data line per line of data", () => {
  assert.equal(
    formatSse({ id: 3, event: "status", data: '{"a":1}' }),
    'id: 3\nevent: status\ndata: {"a":1}\n\n',
  );
  assert.equal(formatSse({ data: "a\nb\r\nc" }), "data: a\ndata: b\ndata: c\n\n");
  assert.throws(() => formatSse({ id: "1\n2", data: "" }), TypeError);
  assert.throws(() => formatSse({ event: "a\rb", data: "" }), TypeError);
  assert.equal(sseComment("ping"), ": ping\n\n");
  assert.equal(sseComment("a\nb"), ": a b\n\n");
});

Deno.test("SseParser reads what formatSse() writes, whatever the chunking", () => {
  const frames = [
    formatSse({ id: 1, event: "status", data: '{"state":"TASK_QUEUED"}' }),
    sseComment("ping"),
    formatSse({ id: 2, event: "output", data: "line one\nline two\n" }),
    formatSse({ event: "end", data: "{}" }),
  ];
  const text = frames.join("");
  const expected = [
    { id: "1", event: "status", data: '{"state":"TASK_QUEUED"}' },
    { id: "2", event: "output", data: "line one\nline two\n" },
    // The id persists: a reconnect after `end` would resume at 2.
    { id: "2", event: "end", data: "{}" },
  ];
  for (let size = 1; size <= text.length; size++) {
    const comments: string[] = [];
    const parser = new SseParser((c) => comments.push(c));
    const got = [];
    for (let i = 0; i < text.length; i += size) got.push(...parser.feed(text.slice(i, i + size)));
    assert.deepEqual(got, expected, `chunks of ${size}`);
    assert.deepEqual(comments, ["ping"]);
    assert.equal(parser.lastEventId, "2");
  }
});

Deno.test("SseParser follows the specification's line and field rules", async (t) => {
  await t.step("CR, LF and CRLF end lines, also when CRLF is split across chunks", () => {
    const p = new SseParser();
    assert.deepEqual(p.feed("data: a\r"), []);
    assert.deepEqual(p.feed("\ndata: b\r\r"), [{ id: "", event: "message", data: "a\nb" }]);
    assert.deepEqual(p.feed("\ndata: c\n\n"), [{ id: "", event: "message", data: "c" }]);
  });
  await t.step("a leading BOM is ignored, once", () => {
    const p = new SseParser();
    assert.deepEqual(p.feed("\ufeffdata: x\n\n"), [{ id: "", event: "message", data: "x" }]);
    assert.deepEqual(p.feed("\ufeffdata: y\n\n"), []);
  });
  await t.step("no space after the colon, a field without colon, unknown fields", () => {
    const p = new SseParser();
    assert.deepEqual(p.feed("data:x\ndata\nfoo: bar\nevent:e\n\n"), [
      { id: "", event: "e", data: "x\n" },
    ]);
  });
  await t.step("an event without data is not dispatched, but its id is kept", () => {
    const p = new SseParser();
    assert.deepEqual(p.feed("id: 7\n\nevent: status\n\n"), []);
    assert.equal(p.lastEventId, "7");
    assert.deepEqual(p.feed("data: z\n\n"), [{ id: "7", event: "message", data: "z" }]);
  });
  await t.step("an id with NUL is ignored; retry takes digits only", () => {
    const p = new SseParser();
    assert.deepEqual(p.feed("id: 1\nid: 2\0\nretry: 1500\ndata: a\n\nretry: x\ndata: b\n\n"), [
      { id: "1", event: "message", data: "a", retry: 1500 },
      { id: "1", event: "message", data: "b" },
    ]);
  });
  await t.step("an event type resets after each dispatch", () => {
    const p = new SseParser();
    assert.deepEqual(p.feed("event: a\ndata: 1\n\ndata: 2\n\n").map((m) => m.event), [
      "a",
      "message",
    ]);
  });
});

Deno.test("readSse() yields events from a byte stream, multi-byte characters split", async () => {
  const bytes = new TextEncoder().encode(formatSse({ id: 5, data: "héllo ✓" }) + "data: cut");
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      for (const b of bytes) c.enqueue(new Uint8Array([b]));
      c.close();
    },
  });
  const got = [];
  for await (const m of readSse(body)) got.push(m);
  // The unfinished last event is dropped.
  assert.deepEqual(got, [{ id: "5", event: "message", data: "héllo ✓" }]);
});

Deno.test("readSse() cancels the body when the reader stops early", async () => {
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    pull(c) {
      c.enqueue(new TextEncoder().encode("data: x\n\n"));
    },
    cancel() {
      cancelled = true;
    },
  });
  for await (const m of readSse(body)) {
    assert.equal(m.data, "x");
    break;
  }
  assert.equal(cancelled, true);
});
