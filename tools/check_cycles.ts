// deno-lint-ignore-file no-console
/**
 * Checks that imports between the folders of src/ point one way (STYLE.md):
 * no folder may import a folder that (transitively) imports it back.
 *
 * Run: `deno run -A tools/check_cycles.ts`
 *
 * @module
 */

const SRC = new URL("../src/", import.meta.url);

async function* walk(dir: URL): AsyncGenerator<URL> {
  for await (const e of Deno.readDir(dir)) {
    const u = new URL(e.name + (e.isDirectory ? "/" : ""), dir);
    if (e.isDirectory) yield* walk(u);
    else if (e.name.endsWith(".ts") && !e.name.endsWith("_test.ts")) yield u;
  }
}

/** The top-level folder (or file) of src/ a URL is in. */
function unitOf(u: URL): string {
  return u.pathname.slice(SRC.pathname.length).split("/")[0].replace(/\.ts$/, "");
}

const edges = new Map<string, Set<string>>();
for await (const file of walk(SRC)) {
  const text = await Deno.readTextFile(file);
  const from = unitOf(file);
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*["'](\.[^"']+)["']/g)) {
    const target = new URL(m[1], file);
    if (!target.pathname.startsWith(SRC.pathname)) continue;
    const to = unitOf(target);
    if (to === from) continue;
    if (!edges.has(from)) edges.set(from, new Set());
    edges.get(from)!.add(to);
  }
}

// Tarjan-free: DFS for a cycle path.
const cycles: string[] = [];
const state = new Map<string, "visiting" | "done">();
function visit(n: string, path: string[]) {
  if (state.get(n) === "done") return;
  if (state.get(n) === "visiting") {
    cycles.push([...path.slice(path.indexOf(n)), n].join(" → "));
    return;
  }
  state.set(n, "visiting");
  for (const m of edges.get(n) ?? []) visit(m, [...path, n]);
  state.set(n, "done");
}
for (const n of edges.keys()) visit(n, []);

if (cycles.length) {
  console.error("Import cycles between folders of src/:");
  for (const c of cycles) console.error(`  ${c}`);
  Deno.exit(1);
}
console.log(`No import cycles between ${edges.size} folders of src/`);
