import assert from "node:assert/strict";
import { FakeClock } from "../runtime.ts";
import type { Transport } from "./client.ts";
import { clientCommand, type ClientIo, hermitMain } from "./hermit.ts";

const ID = "eremetic-task.01a24541-a6db-730c-a67d-f10780f472f3";

function sse(events: [string, unknown][]): string {
  return events.map(([event, data], i) =>
    `id: ${i + 1}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`
  )
    .join("");
}

/** A server that accepts one task which ends in `final`, printing "hello" on stdout. */
function fakeServer(final: string): { transport: Transport; requests: string[] } {
  const requests: string[] = [];
  const transport: Transport = (url, init) => {
    const { pathname, search } = new URL(url);
    requests.push(`${init.method} ${pathname}${search}`);
    const text = (body: string, status = 200) => Promise.resolve(new Response(body, { status }));
    if (init.method === "POST" && pathname === "/api/v1/task") return text(JSON.stringify(ID), 202);
    if (pathname === `/api/v1/task/${ID}/events`) {
      return text(sse([
        ["status", { state: "TASK_QUEUED", terminal: false }],
        ["status", { state: "TASK_RUNNING", terminal: false }],
        ["status", { state: final, terminal: true }],
        ["end", {}],
      ]));
    }
    if (pathname === `/api/v1/task/${ID}/stdout`) {
      return text(sse([["output", { offset: 0, text: "hello\n" }], ["end", {}]]));
    }
    if (pathname === `/api/v1/task/${ID}/stderr`) return text(sse([["end", {}]]));
    if (pathname === `/api/v1/task/${ID}`) {
      return text(JSON.stringify({ id: ID, status: [{ time: 1, status: final }] }));
    }
    return text("null", 404);
  };
  return { transport, requests };
}

function capture(transport: Transport, interactive: boolean) {
  const out = { stdout: "", stderr: "" };
  const io: ClientIo = {
    prog: "hermit",
    env: { EREMETIC_URL: "http://h:8000" },
    stdout: (t) => Promise.resolve(void (out.stdout += t)),
    stderr: (t) => Promise.resolve(void (out.stderr += t)),
    interactive,
    clock: new FakeClock(),
    transport,
  };
  return { io, out };
}

Deno.test("run --wait follows states and output; the exit code says how the task ended", async () => {
  for (
    const [final, code] of [["TASK_FINISHED", 0], ["TASK_KILLED", 4], ["TASK_LOST", 5]] as const
  ) {
    const { transport, requests } = fakeServer(final);
    const { io, out } = capture(transport, false);
    assert.equal(await clientCommand("run", ["--wait", "echo", "hello"], io), code);
    assert.equal(out.stdout, "hello\n");
    assert.ok(!out.stderr.includes("\r"), "no progress line when not on a terminal");
    assert.equal(requests[0], "POST /api/v1/task");
    assert.ok(requests.includes(`GET /api/v1/task/${ID}/stdout?follow=1`));
    if (code !== 0) {
      assert.match(
        out.stderr,
        new RegExp(`ended in ${final} \\(exit code ${code}\\)`),
      );
    }
  }
});

Deno.test("run --wait shows a progress line only on a terminal, cleared before output", async () => {
  const { transport } = fakeServer("TASK_FINISHED");
  const { io, out } = capture(transport, true);
  assert.equal(await clientCommand("run", ["-w", "true"], io), 0);
  assert.match(out.stderr, new RegExp(`\\r\\x1b\\[K`));
  assert.ok(out.stderr.includes(`${ID}: TASK_RUNNING`));
  assert.ok(out.stderr.endsWith("\r\x1b[K"), "the line is cleared at the end");
  assert.equal(out.stdout, "hello\n");
});

Deno.test("hermit: usage, unknown commands and flag errors", async () => {
  const { transport } = fakeServer("TASK_FINISHED");
  const { io, out } = capture(transport, false);
  assert.equal(await hermitMain(["-help"], io), 0);
  assert.match(out.stdout, /^hermit 0\./);
  assert.equal(await hermitMain(["nope"], io), 1);
  assert.equal(out.stderr, 'hermit: unknown command "nope" (see hermit --help)\n');
  out.stderr = "";
  assert.equal(await hermitMain(["run", "-cpu"], io), 2);
  assert.equal(out.stderr, "hermit run: Flag --cpu needs a value (see hermit run --help)\n");
  out.stderr = "";
  assert.equal(await hermitMain(["run", "-cpu", "lots", "x"], io), 2);
  assert.match(out.stderr, /Flag --cpu expects a number, got "lots"/);
});
