import assert from "node:assert/strict";
import { checkEmbedded, embeddedEntries, parseSize } from "./compile.ts";

// What `deno compile` prints (colours included), cut short.
const OUTPUT = [
  "\x1b[0m\x1b[1mEmbedded Files\x1b[0m",
  "",
  "eremetic",
  "\x1b[0m\x1b[38;5;245m├──\x1b[0m main.ts (632B)",
  "├─┬ src (1.54MB)",
  "│ ├─┬ api (128.07KB)",
  "│ │ ├── auth.ts (5.05KB)",
  "├── static/* (2KB)",
  "└── templates/* (1000B)",
  "",
  "Files: 24.15MB",
].join("\n");

Deno.test("embeddedEntries() reads the top level of deno compile's tree", () => {
  const entries = embeddedEntries(OUTPUT);
  assert.deepEqual([...entries.keys()], ["main.ts", "src", "static", "templates"]);
  assert.equal(entries.get("static"), 2048);
  assert.equal(parseSize("1.5MB"), 1.5 * 1024 * 1024);
  assert.throws(() => parseSize("12 parsecs"), RangeError);
});

Deno.test("checkEmbedded() fails on a missing directory or one of another size", async () => {
  const root = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${root}/static/css`, { recursive: true });
    await Deno.mkdir(`${root}/templates`);
    await Deno.writeFile(`${root}/static/css/a.css`, new Uint8Array(2048));
    await Deno.writeFile(`${root}/templates/index.eta`, new Uint8Array(1000));
    assert.deepEqual(await checkEmbedded(OUTPUT, root), []);
    const withoutStatic = OUTPUT.replace("├── static/* (2KB)\n", "");
    assert.deepEqual(await checkEmbedded(withoutStatic, root), [
      "static/ is not in the embedded files (a missing --include static?)",
    ]);
    await Deno.writeFile(`${root}/templates/task.eta`, new Uint8Array(500));
    assert.deepEqual(await checkEmbedded(OUTPUT, root), [
      "templates/ embedded with 1000 bytes, 1500 on disk",
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
