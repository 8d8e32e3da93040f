/**
 * Hostile input, by hand (issue 13, point 4): oversized bodies, headers and URLs, bodies
 * that never finish, deeply nested JSON, invalid UTF-8, huge maps and arrays, edge numbers,
 * sent over raw TCP to `eremetic serve` running as a child process with a 1 s body timeout.
 * Each is refused early with a 4xx JSON naming the field where there is one; the server's
 * resident memory (from /proc) stays bounded and it keeps answering.
 *
 * Results: docs/reliability.md, "Hostile input".
 */
import assert from "node:assert/strict";
import { request, SEED_BODY, type SpawnedServer, spawnServer, tempDir } from "../_helpers.ts";
import { scale } from "./_mode.ts";

const JSON_TYPE = "application/json; charset=UTF-8";
const MIB = 1_048_576;
/** The body timeout the server runs with here (the default is 30 s). */
const BODY_TIMEOUT_SECONDS = 1;
/** How long the client waits for any answer: far beyond the body timeout. */
const WAIT_MS = 15_000;
const ROUNDS = scale(3, 20);
/**
 * How much the server's resident memory may grow over the whole file. Megabyte bodies of
 * 50,000-key maps make V8 grow its heap, which it keeps: resident memory climbs to about
 * 210 MB over the first hundred and then creeps, while the live heap after a collection stays
 * at 17 MB (measured in-process with `--expose-gc`, 360 such bodies: docs/reliability.md).
 */
const RSS_BOUND_MB = 192;

const encoder = new TextEncoder();

/** Resident memory of a process, in MiB (Linux). */
async function rssMb(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kb = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)![1]);
  return Math.round(kb / 102.4) / 10;
}

interface RawAnswer {
  status: number;
  headers: Headers;
  text: string;
  /** Parsed JSON body, when it is JSON. */
  body: unknown;
  /** Milliseconds from the last byte written to the answer. */
  ms: number;
}

/** A raw connection: write bytes as we like, read one HTTP/1.1 answer. */
class RawConnection implements AsyncDisposable {
  #conn: Deno.TcpConn;
  #buffer = new Uint8Array(0);
  #closed = false;
  lastWrite = performance.now();
  written = 0;

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
  }

  static async open(base: string): Promise<RawConnection> {
    const { hostname, port } = new URL(base);
    return new RawConnection(await Deno.connect({ hostname, port: Number(port) }));
  }

  /** Writes all of `data`; false once the server no longer takes bytes. */
  async write(data: string | Uint8Array): Promise<boolean> {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    try {
      let at = 0;
      while (at < bytes.length) at += await this.#conn.write(bytes.subarray(at));
      this.written += bytes.length;
      this.lastWrite = performance.now();
      return true;
    } catch {
      return false;
    }
  }

  async #fill(deadline: number): Promise<boolean> {
    const chunk = new Uint8Array(65_536);
    const left = deadline - performance.now();
    if (left <= 0) return false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<null>((r) => timer = setTimeout(() => r(null), left));
    try {
      const n = await Promise.race([this.#conn.read(chunk), timeout]);
      if (n === null) return false;
      const next = new Uint8Array(this.#buffer.length + n);
      next.set(this.#buffer);
      next.set(chunk.subarray(0, n), this.#buffer.length);
      this.#buffer = next;
      return true;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Reads one answer (Content-Length framed or up to the close), or null when none comes. */
  async answer(waitMs = WAIT_MS): Promise<RawAnswer | null> {
    const deadline = performance.now() + waitMs;
    const decoder = new TextDecoder();
    let head = -1;
    while ((head = decoder.decode(this.#buffer).indexOf("\r\n\r\n")) < 0) {
      if (!(await this.#fill(deadline))) return null;
    }
    const ms = performance.now() - this.lastWrite;
    const text = decoder.decode(this.#buffer);
    const [statusLine, ...lines] = text.slice(0, head).split("\r\n");
    const headers = new Headers();
    for (const line of lines) {
      const colon = line.indexOf(":");
      headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    }
    const length = Number(headers.get("content-length") ?? "NaN");
    const bodyStart = encoder.encode(text.slice(0, head + 4)).length;
    while (
      Number.isInteger(length) ? this.#buffer.length < bodyStart + length : true
    ) {
      if (!(await this.#fill(deadline))) break;
    }
    const bodyText = decoder.decode(this.#buffer.subarray(bodyStart));
    let body: unknown = undefined;
    try {
      body = bodyText === "" ? undefined : JSON.parse(bodyText);
    } catch {
      // Not JSON.
    }
    return { status: Number(statusLine.split(" ")[1]), headers, text: bodyText, body, ms };
  }

  close() {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Closed by the server.
    }
  }

  [Symbol.asyncDispose]() {
    this.close();
    return Promise.resolve();
  }
}

function head(method: string, path: string, headers: Record<string, string> = {}): string {
  const lines = [`${method} ${path} HTTP/1.1`, "host: 127.0.0.1"];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  return lines.join("\r\n") + "\r\n\r\n";
}

/** A POST of `body` (bytes or text) with its Content-Length, in one write. */
function post(path: string, body: string | Uint8Array, headers: Record<string, string> = {}) {
  const bytes = typeof body === "string" ? encoder.encode(body) : body;
  const h = encoder.encode(
    head("POST", path, { "content-length": String(bytes.length), ...headers }),
  );
  const out = new Uint8Array(h.length + bytes.length);
  out.set(h);
  out.set(bytes, h.length);
  return out;
}

async function send(base: string, bytes: string | Uint8Array): Promise<RawAnswer> {
  await using conn = await RawConnection.open(base);
  assert.ok(await conn.write(bytes), "the request is written");
  const answer = await conn.answer();
  assert.ok(answer, "an answer comes");
  return answer;
}

/** A 4xx with the error document; `field` is named in its details when given. */
function assertRefused(a: RawAnswer, status: number, field?: string | RegExp, what = "") {
  assert.equal(a.status, status, `${what}: ${a.status} ${a.text.slice(0, 300)}`);
  assert.equal(a.headers.get("content-type"), JSON_TYPE, what);
  const doc = a.body as { error: string; message: string; details?: { path: string }[] };
  assert.equal(typeof doc.error, "string", what);
  assert.equal(typeof doc.message, "string", what);
  if (field !== undefined) {
    const paths = (doc.details ?? []).map((d) => d.path);
    assert.ok(
      paths.some((p) => (typeof field === "string" ? p === field : field.test(p))),
      `${what}: details name ${field}: ${JSON.stringify(paths)}`,
    );
  }
}

/** The server still answers and its process is alive. */
async function assertUp(server: SpawnedServer) {
  const res = await request(`${server.url}/api/v1/health`);
  assert.equal(res.status, 200, res.text);
}

Deno.test("hostile input: refused early, bounded memory, the server stays up", async (t) => {
  await using dir = await tempDir();
  await using server = await spawnServer({
    dbPath: `${dir.path}/input.kv`,
    flags: ["--body-timeout-seconds", String(BODY_TIMEOUT_SECONDS)],
  });
  const base = server.url;
  // Warm up (first request compiles the routes), then take the baseline.
  for (let i = 0; i < 20; i++) {
    await request(`${base}/api/v1/task`, { method: "POST", body: JSON.stringify(SEED_BODY) });
  }
  const rss: Record<string, number> = { start: await rssMb(server.pid) };
  const figures: Record<string, unknown> = {};

  await t.step("a declared body over 1 MiB → 413 before any of it is read", async () => {
    for (const declared of [MIB + 1, 1024 * MIB, 2 ** 53]) {
      await using conn = await RawConnection.open(base);
      await conn.write(head("POST", "/api/v1/task", { "content-length": String(declared) }));
      // Nothing of the body is sent: a server waiting for it would answer 408, not 413.
      const a = await conn.answer();
      assert.ok(a);
      assertRefused(a, 413, "(body)", `Content-Length ${declared}`);
    }
    rss.declared = await rssMb(server.pid);
  });

  await t.step(`a chunked body of 64 MiB → 413 after about 1 MiB (${ROUNDS} rounds)`, async () => {
    const chunk = `${(65_536).toString(16)}\r\n${"x".repeat(65_536)}\r\n`;
    const written: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      await using conn = await RawConnection.open(base);
      await conn.write(head("POST", "/api/v1/task", { "transfer-encoding": "chunked" }));
      const answered = conn.answer();
      let done = false;
      void answered.then(() => done = true);
      // Write until the answer comes or the server stops taking bytes.
      for (let i = 0; i < 1024 && !done; i++) if (!(await conn.write(chunk))) break;
      const a = await answered;
      assert.ok(a);
      assertRefused(a, 413, "(body)", "chunked");
      written.push(conn.written);
    }
    // How much the client wrote before it read the 413 varies from run to run (4 to 64 MiB):
    // once the app has refused the body, Deno reads and drops what follows, without keeping it.
    figures.chunked_mib_written_before_413 = {
      min: Math.round(Math.min(...written) / MIB),
      max: Math.round(Math.max(...written) / MIB),
    };
    rss.chunked = await rssMb(server.pid);
  });

  await t.step("oversized headers and URLs → refused by the HTTP layer, server up", async () => {
    const cases: [string, string][] = [
      ["a 1 MiB header", head("GET", "/api/v1/version", { "x-big": "a".repeat(MIB) })],
      ["a 256 KiB URL", head("GET", `/api/v1/task/${"a".repeat(256 * 1024)}`)],
      [
        "2,000 headers",
        head(
          "GET",
          "/api/v1/version",
          Object.fromEntries(
            Array.from({ length: 2000 }, (_, i) => [`x-h${i}`, "v"]),
          ),
        ),
      ],
    ];
    const seen: Record<string, number> = {};
    for (const [what, bytes] of cases) {
      await using conn = await RawConnection.open(base);
      await conn.write(bytes);
      const a = await conn.answer();
      // Deno's HTTP layer refuses these before the app sees them, with an empty 400 or 431.
      assert.ok(a, what);
      assert.ok([400, 413, 414, 431].includes(a.status), `${what}: ${a.status}`);
      seen[what] = a.status;
    }
    figures.oversized_headers = seen;
    // Within the HTTP layer's limits, the app names the field.
    const key = await send(
      base,
      post("/api/v1/task", JSON.stringify(SEED_BODY), { "idempotency-key": "k".repeat(16_000) }),
    );
    assertRefused(key, 422, "Idempotency-Key", "a 16,000-character Idempotency-Key");
    const longId = await send(base, head("GET", `/api/v1/task/${"a".repeat(60_000)}`));
    assert.equal(longId.status, 404, "a 60,000-character task id names no task");
    await assertUp(server);
  });

  await t.step(`bodies that never finish → 408 after ${BODY_TIMEOUT_SECONDS} s`, async () => {
    const times: number[] = [];
    // Declared length, one byte sent.
    {
      await using conn = await RawConnection.open(base);
      await conn.write(head("POST", "/api/v1/task", { "content-length": "100" }) + "{");
      const a = await conn.answer();
      assert.ok(a, "an answer without the rest of the body");
      assertRefused(a, 408, "(body)", "declared, never sent");
      assert.match(a.headers.get("connection") ?? "", /close/);
      times.push(a.ms);
    }
    // Chunked, trickling a byte every 100 ms for ever: the limit is on the whole body.
    {
      await using conn = await RawConnection.open(base);
      await conn.write(head("POST", "/api/v1/task", { "transfer-encoding": "chunked" }));
      const started = performance.now();
      const answered = conn.answer();
      let done = false;
      void answered.then(() => done = true);
      while (!done && performance.now() - started < WAIT_MS) {
        await conn.write("1\r\n \r\n");
        await new Promise((r) => setTimeout(r, 100));
      }
      const a = await answered;
      assert.ok(a, "an answer while bytes still trickle in");
      assertRefused(a, 408, "(body)", "trickled");
      times.push(performance.now() - started);
    }
    // Fifty at once: each ends, and the server answers others meanwhile.
    const conns = await Promise.all(
      Array.from({ length: 50 }, () => RawConnection.open(base)),
    );
    try {
      await Promise.all(
        conns.map((c) => c.write(head("POST", "/api/v1/task", { "content-length": "1000" }) + "{")),
      );
      await assertUp(server);
      const answers = await Promise.all(conns.map((c) => c.answer()));
      for (const a of answers) {
        assert.ok(a);
        assertRefused(a, 408, "(body)", "one of fifty");
      }
      times.push(...answers.map((a) => a!.ms));
    } finally {
      for (const c of conns) c.close();
    }
    figures.slow_body_answer_ms = {
      min: Math.round(Math.min(...times)),
      max: Math.round(Math.max(...times)),
    };
    rss.slow = await rssMb(server.pid);
  });

  await t.step("headers that never finish: held by Deno, bounded memory, server up", async () => {
    // Deno's HTTP server has no header timeout and gives the app no way to close a
    // connection: 200 such connections stay open until their clients go. What they cost:
    const before = await rssMb(server.pid);
    const conns = await Promise.all(Array.from({ length: 200 }, () => RawConnection.open(base)));
    try {
      await Promise.all(conns.map((c) => c.write("GET /api/v1/version HTTP/1.1\r\nhost: x\r\n")));
      await assertUp(server);
      figures.slow_header_connections_200_rss_mb =
        Math.round((await rssMb(server.pid) - before) * 10) / 10;
    } finally {
      for (const c of conns) c.close();
    }
  });

  await t.step("deeply nested JSON → 422 naming the body, or the field when shallow", async () => {
    const deep = (n: number, leaf = "1") => "[".repeat(n) + leaf + "]".repeat(n);
    const task = (extra: string) => `{"cpu":1,"mem":1,"image":"a",${extra}}`;
    const cases: [string, string, string | RegExp][] = [
      // Refused before parsing: deeper than 64 levels in a body over 16 KiB.
      ["500,000 nested arrays", deep(500_000), "(body)"],
      ["150,000 nested objects", '{"a":'.repeat(150_000) + "1" + "}".repeat(150_000), "(body)"],
      ["100,000 levels in env", task(`"env":{"K":${deep(100_000)}}`), "(body)"],
      ["100,000 levels in args", task(`"args":${deep(100_000)}`), "(body)"],
      ["100,000 levels in cpu", `{"cpu":${deep(100_000)},"mem":1,"image":"a"}`, "(body)"],
      ["100,000 levels in an unknown key", task(`"x":${deep(100_000)}`), "(body)"],
      // Small bodies are parsed, and validation names the field.
      ["60 levels in env", task(`"env":{"K":${deep(60)}}`), "env.K"],
      ["60 levels in labels", task(`"labels":${deep(60)}`), "labels"],
      ["60 levels in args", task(`"args":${deep(60)}`), /^args/],
    ];
    for (const [what, body, field] of cases) {
      assertRefused(await send(base, post("/api/v1/task", body)), 422, field, what);
      // The legacy route shares the body reader: the same refusal.
      if (field === "(body)") {
        assertRefused(await send(base, post("/task", body)), 422, field, `${what} on /task`);
      }
    }
    // Nested inside a key nobody reads: ignored, and said so.
    const ignored = await send(
      base,
      post("/api/v1/task", JSON.stringify(SEED_BODY).slice(0, -1) + `,"x":${deep(60)}}`),
    );
    assert.equal(ignored.status, 202, ignored.text);
    assert.match(ignored.headers.get("warning") ?? "", /Unknown keys ignored: x/);
    rss.nested = await rssMb(server.pid);
  });

  await t.step("invalid UTF-8 → 422 naming the body", async () => {
    const json = (inner: number[]) =>
      new Uint8Array([
        ...encoder.encode('{"cpu":1,"mem":1,"image":"'),
        ...inner,
        ...encoder.encode('"}'),
      ]);
    const cases: [string, Uint8Array][] = [
      ["a lone continuation byte", json([0x80])],
      ["0xff", json([0xff, 0xfe])],
      ["an overlong slash", json([0xc0, 0xaf])],
      ["an encoded surrogate", json([0xed, 0xa0, 0x80])],
      ["beyond U+10FFFF", json([0xf4, 0x90, 0x80, 0x80])],
      [
        "a truncated sequence at the end",
        new Uint8Array([...encoder.encode('{"a":"'), 0xe2, 0x82]),
      ],
      ["UTF-16", new Uint8Array([0xff, 0xfe, 0x7b, 0x00, 0x7d, 0x00])],
    ];
    for (const [what, bytes] of cases) {
      for (const path of ["/api/v1/task", "/task"]) {
        assertRefused(await send(base, post(path, bytes)), 422, "(body)", `${what} on ${path}`);
      }
    }
    // In a header and in the URL: no 5xx.
    const header = new Uint8Array([
      ...encoder.encode(
        head("POST", "/api/v1/task", {
          "content-length": String(JSON.stringify(SEED_BODY).length),
        }).slice(0, -2),
      ),
      ...encoder.encode("idempotency-key: k"),
      0xff,
      0xfe,
      ...encoder.encode("\r\n\r\n"),
      ...encoder.encode(JSON.stringify(SEED_BODY)),
    ]);
    const h = await send(base, header);
    assert.ok(h.status < 500, `invalid UTF-8 in a header: ${h.status} ${h.text}`);
    for (
      const path of [
        "/api/v1/task/%ff%fe",
        "/api/v1/task?name=%ff&label=%c0%af",
        "/tasks?name=%ed%a0%80",
      ]
    ) {
      const a = await send(
        base,
        head("GET", path, { accept: path.startsWith("/tasks") ? "text/html" : "*/*" }),
      );
      assert.ok(a.status < 500, `${path}: ${a.status} ${a.text.slice(0, 200)}`);
    }
  });

  await t.step(`huge maps and arrays → 413 naming the field (${ROUNDS} rounds)`, async () => {
    const many = (n: number) =>
      Object.fromEntries(Array.from({ length: n }, (_, i) => [`K${i}`, "v"]));
    const cases: [string, Record<string, unknown>, string][] = [
      ["50,000 env entries", { env: many(50_000) }, "env"],
      ["50,000 masked_env entries", { masked_env: many(50_000) }, "masked_env"],
      ["50,000 labels", { labels: many(50_000) }, "labels"],
      ["100,000 args", { args: Array(100_000).fill("x") }, "args"],
      ["20,000 volumes", { volumes: Array(20_000).fill({ container_path: "/x" }) }, "volumes"],
      ["one 900 KB command", { command: "x".repeat(900_000) }, "command"],
    ];
    const bodies = cases.map(([what, fields, field]) => {
      const body = JSON.stringify({ ...SEED_BODY, ...fields });
      assert.ok(body.length < MIB, `${what} fits in the 1 MiB body limit`);
      return [what, post("/api/v1/task", body), field] as const;
    });
    const after: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (const [what, bytes, field] of bodies) {
        assertRefused(await send(base, bytes), 413, field, what);
      }
      after.push(await rssMb(server.pid));
    }
    rss.huge = after.at(-1)!;
    figures.huge_rounds_rss_mb = { first: after[0], highest: Math.max(...after), last: rss.huge };
  });

  await t.step("edge numbers: 1e999 refused naming the field, centuries accepted", async () => {
    for (const field of ["cpu", "mem", "disk", "timeout_seconds", "gpus", "max_retries"]) {
      for (const literal of ["1e999", "-1e999"]) {
        const body = JSON.stringify({ ...SEED_BODY, [field]: 0 }).replace(
          `"${field}":0`,
          `"${field}":${literal}`,
        );
        assertRefused(
          await send(base, post("/api/v1/task", body)),
          422,
          field,
          `${field}=${literal}`,
        );
      }
      for (const value of [-1, "NaN", "1", null]) {
        const body = JSON.stringify({ ...SEED_BODY, [field]: value });
        const a = await send(base, post("/api/v1/task", body));
        // null is "unset" for the optional fields.
        if (value === null && !["cpu", "mem"].includes(field)) continue;
        assertRefused(a, 422, field, `${field}=${JSON.stringify(value)}`);
      }
    }
    // A timeout of a thousand years is a long timeout, not an error; the task is stored with it.
    const years = 1000 * 365.25 * 24 * 3600;
    const a = await send(
      base,
      post("/api/v1/task", JSON.stringify({ ...SEED_BODY, timeout_seconds: years })),
    );
    assert.equal(a.status, 202, a.text);
    const task = await request(`${base}/api/v1/task/${a.body}`);
    assert.equal((task.body as { timeout_seconds: number }).timeout_seconds, years);
  });

  rss.end = await rssMb(server.pid);
  await assertUp(server);
  const status = await server.kill("SIGTERM");
  assert.equal(status.code, 0, server.stderr().slice(-2_000));
  assert.ok(!/Request failed|Uncaught/.test(server.stderr()), server.stderr().slice(0, 2_000));
  const growth = Math.max(...Object.values(rss)) - rss.start;
  // deno-lint-ignore no-console
  console.log(`input: ${JSON.stringify({ rounds: ROUNDS, rss_mb: rss, ...figures })}`);
  assert.ok(growth < RSS_BOUND_MB, `resident memory grew ${growth} MB: ${JSON.stringify(rss)}`);
});
