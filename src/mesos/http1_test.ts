import assert from "node:assert/strict";
import { MesosProtocolError } from "./errors.ts";
import { encodePost, encodePosts, ResponseParser } from "./http1.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("encodePost() writes the head, the headers given and the UTF-8 body length", () => {
  const text = new TextDecoder().decode(
    encodePost("m:5050", "/api/v1/scheduler", { "Mesos-Stream-Id": "s-1" }, '{"x":"é"}'),
  );
  assert.equal(
    text,
    "POST /api/v1/scheduler HTTP/1.1\r\nHost: m:5050\r\nContent-Type: application/json\r\n" +
      "Accept: application/json\r\nMesos-Stream-Id: s-1\r\nContent-Length: 10\r\n\r\n" +
      '{"x":"é"}',
  );
});

Deno.test("encodePosts() writes each request as encodePost() does, back to back", () => {
  const headers = { "Mesos-Stream-Id": "s-1", "Authorization": "Basic eDp5" };
  const bodies = ['{"x":"é"}', '{"a":1}', "", '{"y":"\u2603 and \0"}'];
  const one = bodies.map((b) => encodePost("m:5050", "/api/v1/scheduler", headers, b));
  const expected = new Uint8Array(one.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of one) {
    expected.set(b, at);
    at += b.length;
  }
  assert.deepEqual(encodePosts("m:5050", "/api/v1/scheduler", headers, bodies), expected);
});

Deno.test("ResponseParser reads pipelined responses in order, across any split", () => {
  const wire = "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n" +
    "HTTP/1.1 100 Continue\r\n\r\n" +
    "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 26\r\n\r\n" +
    "Framework cannot be found!" +
    "HTTP/1.1 307 Temporary Redirect\r\nLocation: //m2:5050/master/api/v1/scheduler\r\n" +
    "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n" +
    "HTTP/1.1 204 No Content\r\n\r\n";
  const all = bytes(wire);
  for (const size of [1, 2, 7, 64, all.length]) {
    const parser = new ResponseParser();
    const out = [];
    for (let i = 0; i < all.length; i += size) out.push(...parser.feed(all.slice(i, i + size)));
    assert.deepEqual(out.map((r) => [r.status, r.body, r.close]), [
      [202, "", false],
      [400, "Framework cannot be found!", false],
      [307, "abcde", false],
      [204, "", false],
    ], `split every ${size} bytes`);
    assert.equal(out[2].headers.get("location"), "//m2:5050/master/api/v1/scheduler");
    assert.equal(parser.busy, false);
    assert.equal(parser.end(), null);
  }
});

Deno.test("ResponseParser marks Connection: close, HTTP/1.0 and bodies that run until the end", () => {
  const parser = new ResponseParser();
  const [closing] = parser.feed(
    bytes("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 2\r\n\r\nno"),
  );
  assert.equal(closing.status, 503);
  assert.equal(closing.close, true);
  const old = new ResponseParser();
  assert.equal(
    old.feed(bytes("HTTP/1.0 202 Accepted\r\nContent-Length: 0\r\n\r\n"))[0].close,
    true,
  );
  const open = new ResponseParser();
  assert.deepEqual(open.feed(bytes("HTTP/1.1 500 Internal Server Error\r\n\r\nsome")), []);
  open.feed(bytes(" text"));
  const last = open.end();
  assert.equal(last?.body, "some text");
  assert.equal(last?.close, true);
});

Deno.test("ResponseParser rejects what is not HTTP/1.x and responses cut short", () => {
  assert.throws(() => new ResponseParser().feed(bytes("SSH-2.0-x\r\n\r\n")), MesosProtocolError);
  assert.throws(
    () => new ResponseParser().feed(bytes("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n")),
    MesosProtocolError,
  );
  assert.throws(
    () =>
      new ResponseParser().feed(
        bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
      ),
    MesosProtocolError,
  );
  const cut = new ResponseParser();
  cut.feed(bytes("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab"));
  assert.throws(() => cut.end(), MesosProtocolError);
});

Deno.test("ResponseParser reuses a repeated head's parse and still reads a different one", () => {
  const accepted = "HTTP/1.1 202 Accepted\r\nDate: Sat, 05 Dec 2026 12:00:00 GMT\r\n" +
    "Content-Length: 0\r\n\r\n";
  const closing = "HTTP/1.1 202 Accepted\r\nDate: Sat, 05 Dec 2026 12:00:00 GMT\r\n" +
    "Content-Length: 0\r\nConnection: close\r\n\r\n";
  const notFound = "HTTP/1.1 404 Not Found\r\nDate: Sat, 05 Dec 2026 12:00:00 GMT\r\n" +
    "Content-Length: 4\r\n\r\nnope";
  const parser = new ResponseParser();
  const out = parser.feed(bytes(accepted + accepted + notFound + accepted + closing));
  assert.deepEqual(out.map((r) => [r.status, r.body, r.close]), [
    [202, "", false],
    [202, "", false],
    [404, "nope", false],
    [202, "", false],
    [202, "", true],
  ]);
  assert.equal(out[0].headers.get("date"), "Sat, 05 Dec 2026 12:00:00 GMT");
  assert.equal(out[2].headers.get("content-length"), "4");
  assert.equal(out[4].headers.get("connection"), "close");
});
