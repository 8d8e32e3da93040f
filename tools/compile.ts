/**
 * `deno task compile`: builds `dist/eremetic-<os>-<arch>` for Linux x64 and arm64 and
 * macOS (darwin) arm64, with `templates/` and `static/` embedded and the commit recorded
 * in `dist/build.json` (what `eremetic version` prints). After each compile it reads the
 * embedded-file list `deno compile` prints and fails when the templates or static files
 * are missing from it or differ in size from the ones on disk, so a missing `--include`
 * cannot reach a release.
 *
 *   deno task compile                       # every target (downloads Deno's runtime, denort)
 *   deno task compile --target host         # this machine only
 *   deno task compile --target host --output dist/eremetic
 *
 * With `DENORT_BIN` set to the local `deno` executable (CI, machines without internet),
 * `--target host` runs the whole module-graph and embedding step; the file it writes is
 * not a working standalone binary.
 *
 * @module
 */
// deno-lint-ignore-file no-console
import { parseArgs } from "node:util";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** Deno's target triples by our file-name suffix. */
export const TARGETS: Readonly<Record<string, string>> = {
  "linux-x64": "x86_64-unknown-linux-gnu",
  "linux-arm64": "aarch64-unknown-linux-gnu",
  "darwin-arm64": "aarch64-apple-darwin",
};

/** Directories that must be embedded, whole. */
export const EMBEDDED_DIRS = ["templates", "static"] as const;

function hostTarget(): string {
  const arch = Deno.build.arch === "x86_64" ? "x64" : "arm64";
  return `${Deno.build.os}-${arch}`;
}

/** Bytes of a size as `deno compile` prints it (`632B`, `27.43KB`, `1.5MB`). */
export function parseSize(text: string): number {
  const m = /^([\d.]+)(B|KB|MB|GB)$/.exec(text);
  if (!m) throw new RangeError(`Cannot read size "${text}"`);
  const unit = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 }[m[2]]!;
  return Number(m[1]) * unit;
}

/**
 * The top-level entries of the "Embedded Files" tree `deno compile` prints (ANSI colours
 * removed), with their sizes: `templates/*` → 18523 bytes (rounded as printed).
 */
export function embeddedEntries(output: string): Map<string, number> {
  // deno-lint-ignore no-control-regex
  const plain = output.replace(/\x1b\[[0-9;]*m/g, "");
  const entries = new Map<string, number>();
  for (const line of plain.split("\n")) {
    // Top level: "├── name (size)" or "└─┬ name (size)" with nothing before the branch.
    const m = /^[├└]─[─┬] (\S+) \(([\d.]+[KMG]?B)/.exec(line);
    if (m) entries.set(m[1].replace(/\/\*$/, ""), parseSize(m[2]));
  }
  return entries;
}

/** Total bytes of the files under `dir`. */
async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) total += await dirBytes(path);
    else if (entry.isFile) total += (await Deno.stat(path)).size;
  }
  return total;
}

/** Problems with the embedded list: a directory missing, or of another size than on disk. */
export async function checkEmbedded(output: string, root = ROOT): Promise<string[]> {
  const entries = embeddedEntries(output);
  const problems: string[] = [];
  for (const dir of EMBEDDED_DIRS) {
    const embedded = entries.get(dir);
    const onDisk = await dirBytes(`${root}/${dir}`);
    if (embedded === undefined) {
      problems.push(`${dir}/ is not in the embedded files (a missing --include ${dir}?)`);
    } else if (Math.abs(embedded - onDisk) > Math.max(onDisk * 0.005, 1)) {
      problems.push(`${dir}/ embedded with ${embedded} bytes, ${onDisk} on disk`);
    }
  }
  return problems;
}

async function gitCommit(): Promise<string> {
  try {
    const out = await new Deno.Command("git", {
      args: ["rev-parse", "--short=12", "HEAD"],
      cwd: ROOT,
      stderr: "null",
    }).output();
    if (out.success) return new TextDecoder().decode(out.stdout).trim();
  } catch {
    // No git here (a Docker build context): fall back below.
  }
  return Deno.env.get("EREMETIC_COMMIT") ?? Deno.env.get("GITHUB_SHA")?.slice(0, 12) ?? "unknown";
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      target: { type: "string", multiple: true },
      output: { type: "string" },
    },
  });
  const names = (values.target ?? Object.keys(TARGETS)).map((t) => t === "host" ? hostTarget() : t);
  for (const name of names) {
    if (!TARGETS[name]) {
      console.error(
        `compile: unknown target "${name}": expected host, ${Object.keys(TARGETS).join(", ")}`,
      );
      return 2;
    }
  }
  if (values.output && names.length !== 1) {
    console.error("compile: --output needs exactly one --target");
    return 2;
  }
  const { VERSION } = await import("../src/version.ts");
  const commit = await gitCommit();
  await Deno.mkdir(`${ROOT}/dist`, { recursive: true });
  await Deno.writeTextFile(
    `${ROOT}/dist/build.json`,
    JSON.stringify({ version: VERSION, commit }) + "\n",
  );
  try {
    return await compileAll(names, values.output, `${VERSION}, commit ${commit}`);
  } finally {
    // Only binaries carry it: from source, `eremetic version` must not claim a compile's commit.
    await Deno.remove(`${ROOT}/dist/build.json`).catch(() => {});
  }
}

async function compileAll(
  names: readonly string[],
  outputPath: string | undefined,
  build: string,
): Promise<number> {
  for (const name of names) {
    const output = outputPath ?? `dist/eremetic-${name}`;
    console.log(`--- compile ${output} (${TARGETS[name]}, ${build})`);
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "compile",
        "-A",
        "--target",
        TARGETS[name],
        ...EMBEDDED_DIRS.flatMap((d) => ["--include", d]),
        "--include",
        "dist/build.json",
        "--output",
        output,
        "main.ts",
      ],
      cwd: ROOT,
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    console.log(text);
    if (!out.success) {
      console.error(`compile: deno compile failed for ${name} (exit ${out.code})`);
      return 1;
    }
    const problems = await checkEmbedded(text);
    if (problems.length > 0) {
      for (const p of problems) console.error(`compile: ${name}: ${p}`);
      return 1;
    }
    console.log(`--- ${output}: ${EMBEDDED_DIRS.map((d) => `${d}/`).join(" and ")} embedded`);
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
