/**
 * Regenerates the parts of the docs derived from `CONFIG_KEYS`: `eremetic.yml` at the
 * repository root and the table in `docs/configuration.md`.
 *
 * ```sh
 * deno run -A src/config/generate_docs.ts
 * ```
 *
 * @module
 */
import { replaceConfigTable, sampleConfigYaml } from "./docs.ts";

const ROOT = new URL("../../", import.meta.url);

/** Writes `eremetic.yml` and the table of `docs/configuration.md` under `root`, then
 * formats both with `deno fmt` (which aligns the table). */
export async function generateConfigDocs(root: URL = ROOT): Promise<void> {
  const sample = new URL("eremetic.yml", root);
  const doc = new URL("docs/configuration.md", root);
  await Deno.writeTextFile(sample, sampleConfigYaml());
  await Deno.writeTextFile(doc, replaceConfigTable(await Deno.readTextFile(doc)));
  const fmt = new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--quiet", sample.pathname, doc.pathname],
    stdout: "inherit",
    stderr: "inherit",
  });
  const { success } = await fmt.output();
  if (!success) throw new Error("Cannot format the generated docs: deno fmt failed");
}

if (import.meta.main) await generateConfigDocs();
