import assert from "node:assert/strict";
import { createAssets, readStaticFiles, serveAsset } from "./assets.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

Deno.test("createAssets() versions the set by its content", async () => {
  const a = await createAssets(new Map([["js/a.js", bytes("1")], ["css/app.css", bytes("x")]]));
  const b = await createAssets(new Map([["js/a.js", bytes("2")], ["css/app.css", bytes("x")]]));
  assert.match(a.version, /^v-[0-9a-f]{12}$/);
  assert.notEqual(a.version, b.version);
  assert.equal(a.files.get("js/a.js")?.contentType, "text/javascript; charset=utf-8");
  assert.equal(a.files.get("css/app.css")?.etag, b.files.get("css/app.css")?.etag);
});

Deno.test("serveAsset() caches this build's URLs for good and revalidates others", async () => {
  const assets = await createAssets(new Map([["js/a.js", bytes("let a;")]]));
  const current = serveAsset(assets, `${assets.version}/js/a.js`, undefined)!;
  assert.equal(current.status, 200);
  assert.equal(current.headers.get("cache-control"), "public, max-age=31536000, immutable");
  assert.equal(await current.text(), "let a;");
  const etag = current.headers.get("etag")!;
  for (const path of ["js/a.js", "v-000000000000/js/a.js"]) {
    const res = serveAsset(assets, path, undefined)!;
    assert.equal(res.headers.get("cache-control"), "no-cache", path);
    await res.body?.cancel();
  }
  const again = serveAsset(assets, "js/a.js", `W/"x", ${etag}`)!;
  assert.equal(again.status, 304);
  assert.equal(serveAsset(assets, "js/missing.js", undefined), null);
  assert.equal(serveAsset(assets, `${assets.version}/../deno.json`, undefined), null);
});

Deno.test("readStaticFiles() reads the shipped assets", async () => {
  const files = await readStaticFiles();
  for (const path of ["css/app.css", "js/page.js", "js/task.js", "js/ansi.js", "favicon.svg"]) {
    assert.ok(files.has(path), path);
  }
});
