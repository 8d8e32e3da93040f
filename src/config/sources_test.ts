import assert from "node:assert/strict";
import { ConfigError } from "./schema.ts";
import { configFlag, parseConfigYaml, parseFlags, readEnv } from "./sources.ts";

function yamlIssues(text: string, path = "./eremetic.yml"): string[] {
  try {
    parseConfigYaml(text, path);
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.issues;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("parseConfigYaml() returns values and the line of each key", () => {
  const layer = parseConfigYaml(
    "# Eremetic\nport: 8080\n\nmaster: zk://zk:2181/mesos\nqueue_size: 0\nframework_id:\n",
    "e.yml",
  );
  assert.deepEqual(layer.path, "e.yml");
  assert.deepEqual(layer.values, {
    port: 8080,
    master: "zk://zk:2181/mesos",
    queue_size: 0,
    framework_id: null,
  });
  assert.deepEqual(layer.lines, { port: 2, master: 4, queue_size: 5, framework_id: 6 });
});

Deno.test("parseConfigYaml() treats an empty or comment-only file as no values", () => {
  assert.deepEqual(parseConfigYaml("", "e.yml").values, {});
  assert.deepEqual(parseConfigYaml("# port: 8080\n# name: x\n", "e.yml").values, {});
  assert.deepEqual(parseConfigYaml("---\n", "e.yml").values, {});
});

Deno.test("parseConfigYaml() names file, line and column of a syntax error", () => {
  const issues = yamlIssues("port: 8080\nname: [unclosed\n", "/etc/eremetic/eremetic.yml");
  assert.ok(issues.length >= 1);
  for (const issue of issues) {
    assert.match(
      issue,
      /^Cannot parse config file "\/etc\/eremetic\/eremetic\.yml": YAML syntax error at line \d+, column \d+: \S/,
    );
    assert.ok(!issue.includes("\n"));
  }
  assert.deepEqual(yamlIssues("port: 1\nport: 2\n"), [
    'Cannot parse config file "./eremetic.yml": YAML syntax error at line 2, column 1: Map keys must be unique',
  ]);
  assert.match(yamlIssues("port: 1\n\tname: x\n")[0], /at line 2, column 1: /);
});

Deno.test("parseConfigYaml() refuses a top level that is not a mapping", () => {
  assert.deepEqual(yamlIssues("# c\n- port: 1\n"), [
    'Cannot read config file "./eremetic.yml": line 2: expected a mapping of keys to values at ' +
    'the top level, like "port: 8080"',
  ]);
  assert.match(yamlIssues("just a string\n")[0], /expected a mapping/);
});

Deno.test("readEnv() prefers EREMETIC_ names and never reads USER", () => {
  const { values, notices } = readEnv({
    PORT: "1",
    EREMETIC_PORT: "2",
    USER: "alice",
    HOME: "/root",
    MASTER: "",
    ROLE: "x",
  });
  assert.deepEqual(notices, []);
  assert.deepEqual(values, [
    { key: "port", value: "2", source: "env EREMETIC_PORT" },
    { key: "master", value: "", source: "env MASTER" },
  ]);
});

Deno.test("parseFlags() reads values, booleans and --config", () => {
  const parsed = parseFlags([
    "--port",
    "1",
    "--name=x=y",
    "--checkpoint",
    "--gpu-resources=false",
    "--config",
    "c.yml",
  ]);
  assert.deepEqual(parsed.issues, []);
  assert.deepEqual(parsed.config, "c.yml");
  assert.deepEqual(parsed.values, [
    { key: "port", value: "1", source: "flag --port" },
    { key: "name", value: "x=y", source: "flag --name" },
    { key: "checkpoint", value: true, source: "flag --checkpoint" },
    { key: "gpu_resources", value: "false", source: "flag --gpu-resources" },
  ]);
  assert.deepEqual(parseFlags(["--master="]).values, [
    { key: "master", value: "", source: "flag --master" },
  ]);
});

Deno.test("parseFlags() reports each unknown flag once, with its value skipped", () => {
  assert.deepEqual(parseFlags(["--bogus", "1", "--port", "2"]).issues, ['Unknown flag "--bogus"']);
  assert.deepEqual(parseFlags(["--Port=1"]).issues, [
    'Unknown flag "--Port" (did you mean "--port"?)',
  ]);
  assert.deepEqual(parseFlags(["--"]).issues, [
    'Unexpected argument "--": only flags like --port 8080 are accepted',
  ]);
});

Deno.test("configFlag() finds --config in either form", () => {
  assert.deepEqual(configFlag(["--port", "1"]), undefined);
  assert.deepEqual(configFlag(["--config", "a.yml"]), "a.yml");
  assert.deepEqual(configFlag(["--config=b.yml"]), "b.yml");
  assert.deepEqual(configFlag(["--config"]), "");
  assert.deepEqual(configFlag(["--config", "--port", "1"]), "");
});
