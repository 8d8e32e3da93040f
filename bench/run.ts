// deno-lint-ignore-file no-console
/**
 * `deno task bench [-- --quick] [-- --only NAME]`: runs every benchmark script of
 * bench/ (files not starting with `_`), each as its own subprocess, in sequence:
 * `submit.ts` first, then `devcluster.ts` and `launch.ts` when present, then any
 * other. Arguments are passed on to every script (`--quick`: smaller phases).
 *
 * Each script writes its own section of docs/benchmarks.md between
 * `<!-- bench:NAME:start -->` and `<!-- bench:NAME:end -->` (see `writeSection`
 * in `_lib.ts`). A script that leaves the report untouched but prints a JSON line
 * last gets a generic section with that JSON.
 *
 * @module
 */
import { machineLine, REPORT_PATH, ROOT, writeSection } from "./_lib.ts";

const FIRST = ["submit", "devcluster", "launch"];

async function readReport(): Promise<string> {
  try {
    return await Deno.readTextFile(REPORT_PATH);
  } catch {
    return "";
  }
}

async function main(args: string[]): Promise<number> {
  const rest = args.filter((a) => a !== "--");
  const onlyAt = rest.indexOf("--only");
  const only = onlyAt >= 0 ? rest.splice(onlyAt, 2)[1]?.split(",") : undefined;
  const names: string[] = [];
  for await (const e of Deno.readDir(`${ROOT}bench`)) {
    if (e.isFile && e.name.endsWith(".ts") && !e.name.startsWith("_") && e.name !== "run.ts") {
      names.push(e.name.slice(0, -3));
    }
  }
  const rank = (n: string) => (FIRST.includes(n) ? FIRST.indexOf(n) : FIRST.length);
  names.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  const selected = only ? names.filter((n) => only.includes(n)) : names;
  const failed: string[] = [];
  for (const name of selected) {
    console.error(`\n[bench] === ${name} (bench/${name}.ts ${rest.join(" ")}) ===`);
    const before = await readReport();
    const started = performance.now();
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `bench/${name}.ts`, ...rest],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    await Deno.stdout.write(out.stdout);
    const seconds = (performance.now() - started) / 1000;
    if (out.code !== 0) {
      console.error(
        `[bench] ${name} failed with exit code ${out.code} after ${seconds.toFixed(0)} s`,
      );
      failed.push(name);
      continue;
    }
    console.error(`[bench] ${name} done in ${seconds.toFixed(0)} s`);
    if ((await readReport()) === before) {
      const last = stdout.trim().split("\n").at(-1) ?? "";
      try {
        const result = JSON.parse(last);
        await writeSection(
          name,
          `### ${name}\n\n${await machineLine()}; \`deno run -A bench/${name}.ts ${
            rest.join(" ")
          }\`:\n\n\`\`\`json\n${JSON.stringify(result, null, 2)}\n\`\`\``,
        );
        console.error(`[bench] wrote its JSON result into docs/benchmarks.md (section ${name})`);
      } catch {
        // Not JSON: the script reports elsewhere.
      }
    }
  }
  if (failed.length) {
    console.error(`[bench] failed: ${failed.join(", ")}`);
    return 1;
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
