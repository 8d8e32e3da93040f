import { assert, assertEquals, assertMatch, assertThrows } from "../testing/asserts.ts";
import { ConfigError } from "./schema.ts";
import { configFlag, parseConfigYaml, parseFlags, readEnv } from "./sources.ts";

function yamlIssues(text: string, path = "./eremetic.yml"): string[] {
  return (assertThrows(() => parseConfigYaml(text, path), ConfigError) as ConfigError).issues;
}

Deno.test("parseConfigYaml() returns values and the line of each key", () => {
  const layer = parseConfigYaml(
    "# Eremetic\nport: 8080\n\nmaster: zk://zk:2181/mesos\nqueue_size: 0\nframework_id:\n",
    "e.yml",
  );
  assertEquals(layer.path, "e.yml");
  assertEquals(layer.values, {
    port: 8080,
    master: "zk://zk:2181/mesos",
    queue_size: 0,
    framework_id: null,
  });
  assertEquals(layer.lines, { port: 2, master: 4, queue_size: 5, framework_id: 6 });
});

Deno.test("parseConfigYaml() treats an empty or comment-only file as no values", () => {
  assertEquals(parseConfigYaml("", "e.yml").values, {});
  assertEquals(parseConfigYaml("# port: 8080\n# name: x\n", "e.yml").values, {});
  assertEquals(parseConfigYaml("---\n", "e.yml").values, {});
});

Deno.test("parseConfigYaml() names file, line and column of a syntax error", () => {
  const issues = yamlIssues("port: 8080\nname: [unclosed\n", "/etc/eremetic/eremetic.yml");
  assert(issues.length >= 1);
  for (const issue of issues) {
    assertMatch(
      issue,
      /^Cannot parse config file "\/etc\/eremetic\/eremetic\.yml": YAML syntax error at line \d+, column \d+: \S/,
    );
    assert(!issue.includes("\n"));
  }
  assertEquals(yamlIssues("port: 1\nport: 2\n"), [
    'Cannot parse config file "./eremetic.yml": YAML syntax error at line 2, column 1: Map keys must be unique',
  ]);
  assertMatch(yamlIssues("port: 1\n\tname: x\n")[0], /at line 2, column 1: /);
});

Deno.test("parseConfigYaml() refuses a top level that is not a mapping", () => {
  assertEquals(yamlIssues("# c\n- port: 1\n"), [
    'Cannot read config file "./eremetic.yml": line 2: expected a mapping of keys to values at ' +
    'the top level, like "port: 8080"',
  ]);
  assertMatch(yamlIssues("just a string\n")[0], /expected a mapping/);
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
  assertEquals(notices, []);
  assertEquals(values, [
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
  assertEquals(parsed.issues, []);
  assertEquals(parsed.config, "c.yml");
  assertEquals(parsed.values, [
    { key: "port", value: "1", source: "flag --port" },
    { key: "name", value: "x=y", source: "flag --name" },
    { key: "checkpoint", value: true, source: "flag --checkpoint" },
    { key: "gpu_resources", value: "false", source: "flag --gpu-resources" },
  ]);
  assertEquals(parseFlags(["--master="]).values, [
    { key: "master", value: "", source: "flag --master" },
  ]);
});

Deno.test("parseFlags() reports each unknown flag once, with its value skipped", () => {
  assertEquals(parseFlags(["--bogus", "1", "--port", "2"]).issues, ['Unknown flag "--bogus"']);
  assertEquals(parseFlags(["--Port=1"]).issues, [
    'Unknown flag "--Port" (did you mean "--port"?)',
  ]);
  assertEquals(parseFlags(["--"]).issues, [
    'Unexpected argument "--": only flags like --port 8080 are accepted',
  ]);
});

Deno.test("configFlag() finds --config in either form", () => {
  assertEquals(configFlag(["--port", "1"]), undefined);
  assertEquals(configFlag(["--config", "a.yml"]), "a.yml");
  assertEquals(configFlag(["--config=b.yml"]), "b.yml");
  assertEquals(configFlag(["--config"]), "");
  assertEquals(configFlag(["--config", "--port", "1"]), "");
});
