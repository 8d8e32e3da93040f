import { assert, assertEquals, assertStringIncludes } from "../testing/asserts.ts";
import {
  CONFIG_KEYS,
  configTable,
  DEFAULT_CONFIG,
  extractConfigTable,
  flagsHelp,
  normalizeTable,
  parseConfigYaml,
  replaceConfigTable,
  resolveConfig,
  sampleConfigYaml,
  TABLE_END,
  TABLE_START,
} from "./mod.ts";

const ROOT = new URL("../../", import.meta.url);
const REGENERATE = "run `deno run -A src/config/generate_docs.ts` to regenerate it";

Deno.test("configTable() has one row per key with env vars, flag and default", () => {
  const lines = configTable().split("\n");
  assertEquals(lines.length, CONFIG_KEYS.length + 2);
  for (const [i, spec] of CONFIG_KEYS.entries()) {
    const row = lines[i + 2];
    assert(row.startsWith(`| \`${spec.key}\` |`), row);
    for (const env of spec.env) assertStringIncludes(row, `\`${env}\``);
    assertStringIncludes(row, `\`${spec.flag}\``);
  }
  assertStringIncludes(configTable(), "| `user` | `EREMETIC_USER` | `--user` | `root` |");
});

Deno.test("docs/configuration.md holds the current table and names every key", async () => {
  const doc = await Deno.readTextFile(new URL("docs/configuration.md", ROOT));
  const table = extractConfigTable(doc);
  assert(table !== null, `docs/configuration.md has no ${TABLE_START} ... ${TABLE_END}`);
  assertEquals(
    normalizeTable(table),
    normalizeTable(configTable()),
    `docs/configuration.md is out of date: ${REGENERATE}`,
  );
  for (const spec of CONFIG_KEYS) {
    assertStringIncludes(doc, `\`${spec.key}\``);
    for (const env of spec.env) assertStringIncludes(doc, env);
    assertStringIncludes(doc, spec.flag);
  }
});

Deno.test("eremetic.yml is the generated sample and changes nothing when loaded", async () => {
  const text = await Deno.readTextFile(new URL("eremetic.yml", ROOT));
  assertEquals(text, sampleConfigYaml(), `eremetic.yml is out of date: ${REGENERATE}`);
  for (const spec of CONFIG_KEYS) {
    assertStringIncludes(text, `\n# ${spec.key}: `);
    for (const env of spec.env) assertStringIncludes(text, env);
  }
  const layer = parseConfigYaml(text, "eremetic.yml");
  assertEquals(layer.values, {});
  const { config } = resolveConfig({ file: layer }, { readTextFileSync: () => "" });
  assertEquals({ ...config }, { ...DEFAULT_CONFIG });
});

Deno.test("sampleConfigYaml() with every key uncommented resolves to the defaults", () => {
  const uncommented = sampleConfigYaml().split("\n").map((line) => {
    const m = /^# ([a-z_]+): /.exec(line);
    return m && CONFIG_KEYS.some((s) => s.key === m[1]) ? line.slice(2) : line;
  }).join("\n");
  const layer = parseConfigYaml(uncommented, "eremetic.yml");
  assertEquals(Object.keys(layer.values), CONFIG_KEYS.map((s) => s.key));
  const { config, notices } = resolveConfig({ file: layer });
  assertEquals(notices, []);
  assertEquals({ ...config }, { ...DEFAULT_CONFIG });
});

Deno.test("replaceConfigTable() rewrites only the marked section", () => {
  const doc = `# Title\n\n${TABLE_START}\nold\n${TABLE_END}\n\nAfter.\n`;
  const out = replaceConfigTable(doc);
  assertEquals(out, `# Title\n\n${TABLE_START}\n${configTable()}\n${TABLE_END}\n\nAfter.\n`);
  assertEquals(replaceConfigTable(out), out);
});

Deno.test("flagsHelp() lists every flag and hides secret defaults", () => {
  const help = flagsHelp();
  assertStringIncludes(help, "--config PATH");
  for (const spec of CONFIG_KEYS) assertStringIncludes(help, `  ${spec.flag}`);
  assertStringIncludes(help, "--checkpoint[=BOOL]");
  assertStringIncludes(help, "(default 8080)");
});
