import assert from "node:assert/strict";
import {
  ago,
  EXIT_CODES,
  EXIT_ERROR,
  EXIT_USAGE,
  exitCodeFor,
  listRows,
  matchesFilter,
  newestFirst,
  parseGoDuration,
  parseListFilter,
  runBody,
  shortState,
  taskLines,
  type TaskView,
} from "./format.ts";

const NOW_MS = 1_800_000_000_000;

function task(id: string, updatedSec: number, state = "TASK_RUNNING"): TaskView {
  return {
    id,
    name: `n-${id}`,
    command: "echo hi",
    image: "busybox",
    cpu: 0.1,
    mem: 16,
    user: "root",
    env: { B: "2", A: "x=y" },
    status: [{ time: updatedSec, status: state }],
  };
}

Deno.test("exitCodeFor() gives each final state its own code, 0 only for TASK_FINISHED", () => {
  const codes = Object.values(EXIT_CODES);
  assert.equal(new Set(codes).size, codes.length);
  assert.equal(exitCodeFor("TASK_FINISHED"), 0);
  assert.equal(codes.filter((c) => c === 0).length, 1);
  assert.ok(!codes.includes(EXIT_ERROR) && !codes.includes(EXIT_USAGE));
  assert.equal(exitCodeFor("TASK_FAILED"), 3);
  assert.notEqual(exitCodeFor("TASK_SOMETHING_NEW"), 0);
});

Deno.test("ago() and shortState() read like hermit", () => {
  const now = NOW_MS / 1000;
  assert.equal(ago(now, NOW_MS), "");
  assert.equal(ago(now - 1, NOW_MS), "1 second ago");
  assert.equal(ago(now - 125, NOW_MS), "2 minutes ago");
  assert.equal(ago(now - 7300, NOW_MS), "About 2 hours ago");
  assert.equal(shortState("TASK_RUNNING"), "running");
  assert.equal(shortState(undefined), "unknown");
});

Deno.test("parseGoDuration() reads Go durations and refuses the rest", () => {
  assert.equal(parseGoDuration("1h30m"), 5_400_000);
  assert.equal(parseGoDuration("1.5s"), 1500);
  assert.equal(parseGoDuration("300ms"), 300);
  for (const bad of ["", "5", "5 m", "m", "1h30"]) {
    assert.throws(() => parseGoDuration(bad), RangeError);
  }
});

Deno.test("parseListFilter() refuses a term without = and unknown keys", () => {
  assert.deepEqual(parseListFilter("status=Running,min_age=5m,user=root"), {
    status: "running",
    minAgeMs: 300_000,
    user: "root",
  });
  assert.throws(() => parseListFilter("status"), /has no value/);
  assert.throws(() => parseListFilter("colour=red"), /Unknown filter "colour"/);
  const t = task("a", NOW_MS / 1000 - 600);
  assert.equal(matchesFilter(t, parseListFilter("min_age=5m"), NOW_MS), true);
  assert.equal(matchesFilter(t, parseListFilter("max_age=5m"), NOW_MS), false);
  assert.equal(matchesFilter(t, parseListFilter("status=finished"), NOW_MS), false);
});

Deno.test("listRows() sorts by last update before limiting (hermit limited first)", () => {
  const shown = newestFirst([task("old", 100), task("new", 300), task("mid", 200)], 2);
  assert.deepEqual(shown.map((t) => t.id), ["new", "mid"]);
  const rows = listRows(shown, NOW_MS);
  assert.equal(rows.length, 3);
  assert.match(rows[0], /^TASK ID {2}NAME/);
  assert.ok(rows[1].startsWith("new "));
  assert.ok(rows[2].startsWith("mid "));
  assert.match(rows[1], /"echo hi"$/);
});

Deno.test("taskLines() prints hermit's lines with the environment as a Go map", () => {
  const lines = taskLines(task("a", NOW_MS / 1000 - 3), NOW_MS);
  assert.equal(lines[0], "ID: a");
  assert.equal(lines[6], "Environment Variables: map[A:x=y B:2]");
  assert.equal(lines[7], "State: running");
  assert.equal(lines[8], "Last updated: 3 seconds ago");
});

Deno.test("runBody() builds the v1 request without hermit's defects", () => {
  const base = {
    cpu: 0.2,
    mem: 32,
    image: "busybox",
    network: "BRIDGE",
    dns: "",
    env: ["A=b=c"],
    uris: ["http://h/x.tar.gz", "http://h/run.sh"],
    args: [],
    labels: [],
  };
  const body = runBody({ ...base, command: ["echo", "hello"] });
  assert.equal(body.command, "echo hello");
  assert.deepEqual(body.env, { A: "b=c" });
  assert.equal(body.ports, undefined, "no port unless asked for");
  assert.deepEqual(body.fetch, [
    { uri: "http://h/x.tar.gz", executable: false, extract: true, cache: false },
    { uri: "http://h/run.sh", executable: false, extract: false, cache: false },
  ]);
  assert.deepEqual(runBody({ ...base, command: ["x"], port: 80 }).ports, [
    { container_port: 80, protocol: "tcp" },
  ]);
  assert.throws(() => runBody({ ...base, command: ["x"], env: ["NOVALUE"] }), /KEY=VALUE/);
  assert.throws(() => runBody({ ...base, command: [] }), /Nothing to run/);
});
