import assert from "node:assert/strict";
import { markStreaming, serveHttp1 } from "./http1.ts";

async function exchange(
  port: number,
  raw: string,
  until: (text: string) => boolean,
): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode(raw));
  let text = "";
  const buf = new Uint8Array(65536);
  while (!until(text)) {
    const n = await conn.read(buf);
    if (n === null) break;
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  conn.close();
  return text;
}

Deno.test("serveHttp1() handles keep-alive, chunked bodies, Expect: 100-continue and bad requests", async () => {
  const server = serveHttp1({ hostname: "127.0.0.1", port: 0 }, async (raw) => {
    const req = raw.toRequest();
    const body = await req.text();
    return new Response(`${req.method} ${new URL(req.url).pathname} ${body}`, {
      headers: { "content-type": "text/plain" },
    });
  });
  try {
    const two = await exchange(
      server.port,
      "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi" +
        "POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
      (t) => t.includes("POST /b abcde"),
    );
    assert.match(two, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(two, /content-length: 10\r\n\r\nPOST \/a hi/);
    assert.ok(two.includes("POST /b abcde"));
    const cont = await exchange(
      server.port,
      "POST /c HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nz",
      (t) => t.includes("POST /c z"),
    );
    assert.match(cont, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK/);
    const bad = await exchange(server.port, "NONSENSE\r\n\r\n", (t) => t.includes("\r\n\r\n"));
    assert.match(bad, /^HTTP\/1\.1 400 Bad Request\r\n/);
    const res = await fetch(`http://127.0.0.1:${server.port}/d`, { method: "POST", body: "x" });
    assert.equal(await res.text(), "POST /d x");
  } finally {
    await server.shutdown();
  }
});

Deno.test("serveHttp1() sends one chunk per stream read and cancels the stream when the client leaves", async () => {
  let cancelled: () => void;
  const gone = new Promise<void>((r) => cancelled = r);
  const server = serveHttp1({ hostname: "127.0.0.1", port: 0 }, () => {
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        for (const s of ["one", "two", "three"]) c.enqueue(new TextEncoder().encode(s));
      },
      cancel() {
        cancelled();
      },
    });
    return markStreaming(new Response(body));
  });
  try {
    const text = await exchange(
      server.port,
      "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
      (t) => t.includes("three"),
    );
    assert.match(text, /transfer-encoding: chunked\r\n/);
    assert.ok(text.endsWith("\r\n\r\n3\r\none\r\n3\r\ntwo\r\n5\r\nthree\r\n"));
    await gone;
  } finally {
    await server.shutdown();
  }
});

Deno.test("serveHttp1() answers pipelined requests in order, plain replies included", async () => {
  const server = serveHttp1(
    { hostname: "127.0.0.1", port: 0 },
    (req) =>
      req.target === "/slow"
        ? Promise.resolve({ status: 400, headers: { "content-type": "text/plain" }, body: "slow" })
        : { status: 202 },
  );
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    const one = (path: string) => `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}`;
    await conn.write(new TextEncoder().encode(one("/a") + one("/b") + one("/slow") + one("/c")));
    let text = "";
    const buf = new Uint8Array(65536);
    while ((text.match(/HTTP\/1\.1/g) ?? []).length < 4) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    conn.close();
    const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]);
    assert.deepEqual(statuses, ["202", "202", "400", "202"]);
    assert.match(text, /^HTTP\/1\.1 202 Accepted\r\ndate: [^\r]+GMT\r\ncontent-length: 0\r\n\r\n/);
    assert.match(
      text,
      /content-type: text\/plain\r\ndate: [^\r]+\r\ncontent-length: 4\r\n\r\nslow/,
    );
  } finally {
    await server.shutdown();
  }
});

Deno.test("close() lets a request in progress answer, drops idle connections and refuses new ones", async () => {
  let release!: () => void;
  const held = new Promise<void>((r) => release = r);
  let entered!: () => void;
  const inHandler = new Promise<void>((r) => entered = r);
  const server = serveHttp1({ hostname: "127.0.0.1", port: 0 }, async (raw) => {
    if (raw.target === "/slow") {
      entered();
      await held;
    }
    return { status: 200, body: raw.target };
  });
  try {
    // An idle keep-alive connection: one exchange, then nothing.
    const idle = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    await idle.write(new TextEncoder().encode("GET /quick HTTP/1.1\r\nHost: x\r\n\r\n"));
    const buf = new Uint8Array(4096);
    assert.ok((await idle.read(buf))! > 0);
    const slow = exchange(
      server.port,
      "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n",
      (t) => t.includes("/slow"),
    );
    await inHandler;
    server.close();
    assert.equal(await idle.read(buf), null, "the idle connection is closed");
    idle.close();
    await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: server.port }));
    release();
    assert.match(await slow, /^HTTP\/1\.1 200 OK\r\n[^]*\/slow$/);
  } finally {
    await server.shutdown();
  }
});
