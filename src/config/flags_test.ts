import assert from "node:assert/strict";
import { flagIsOn, type FlagSpecs, parseFlagArgs } from "./flags.ts";

const RUN: FlagSpecs = {
  cpu: { type: "string" },
  e: { type: "string", short: "e", multiple: true },
  wait: { type: "boolean" },
  q: { type: "boolean", short: "q" },
};

Deno.test("parseFlagArgs() takes Go's -flag form and stops at the first argument in stop mode", () => {
  const p = parseFlagArgs(
    ["-cpu", "0.5", "-e", "A=B=C", "-e=X=1", "--wait", "echo", "-n", "--cpu", "hi"],
    RUN,
    { singleDash: true, positionals: "stop" },
  );
  assert.deepEqual(p.issues, []);
  assert.deepEqual(p.values, { cpu: "0.5", e: ["A=B=C", "X=1"], wait: true });
  assert.deepEqual(p.positionals, ["echo", "-n", "--cpu", "hi"]);
  assert.deepEqual(parseFlagArgs(["--", "-q"], RUN, { positionals: "stop" }).positionals, ["-q"]);
});

Deno.test("parseFlagArgs() reports every problem in one line each", () => {
  assert.deepEqual(parseFlagArgs(["--cpu"], RUN).issues, ["Flag --cpu needs a value"]);
  const p = parseFlagArgs(["--cpu", "--wait", "--bogus", "1", "-zz", "x"], RUN, {
    suggest: (f) => f === "--bogus" ? "--q" : undefined,
    positionalHint: "none allowed",
  });
  assert.deepEqual(p.issues, [
    "Flag --cpu needs a value",
    'Unknown flag "--bogus" (did you mean "--q"?)',
    'Unknown flag "-zz"',
  ]);
  assert.equal(p.values.wait, true);
  assert.deepEqual(parseFlagArgs(["stray"], RUN, { positionalHint: "flags only" }).issues, [
    'Unexpected argument "stray": flags only',
  ]);
});

Deno.test("parseFlagArgs() reads booleans alone, with = and, when asked, as the next argument", () => {
  assert.equal(parseFlagArgs(["--wait=false"], RUN).values.wait, "false");
  assert.equal(flagIsOn(parseFlagArgs(["--wait=false"], RUN).values.wait), false);
  assert.equal(
    parseFlagArgs(["--wait", "false"], RUN, { booleanValueNext: true }).values.wait,
    "false",
  );
  assert.deepEqual(parseFlagArgs(["-q", "x"], RUN, { positionals: "any" }).positionals, ["x"]);
});
