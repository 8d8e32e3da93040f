import assert from "node:assert/strict";
import { FetchError, fetchUris } from "./fetcher.ts";

Deno.test("fetchUris() downloads http URIs, honours output_file, executable and cache", async () => {
  let hits = 0;
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req) => {
    hits++;
    const path = new URL(req.url).pathname;
    if (path === "/tool.sh") return new Response("#!/bin/sh\necho tool\n");
    return new Response("nope", { status: 404 });
  });
  const dir = await Deno.makeTempDir();
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    await Deno.mkdir(`${dir}/a`);
    await fetchUris(
      [
        { value: `${base}/tool.sh?v=1`, executable: true, cache: true },
        { value: `${base}/tool.sh?v=1`, cache: true, output_file: "bin/copy.sh" },
      ],
      `${dir}/a`,
      { cacheDir: `${dir}/cache` },
    );
    assert.equal(hits, 1, "the second fetch came from the cache");
    const info = await Deno.stat(`${dir}/a/tool.sh`);
    assert.equal(info.mode! & 0o111, 0o111);
    assert.equal(await Deno.readTextFile(`${dir}/a/bin/copy.sh`), "#!/bin/sh\necho tool\n");
    await assert.rejects(
      () => fetchUris([{ value: `${base}/missing.tgz` }], `${dir}/a`),
      (err: unknown) => err instanceof FetchError && /HTTP 404/.test(err.message),
    );
    await assert.rejects(() => fetchUris([{ value: "ftp://x/y" }], `${dir}/a`), FetchError);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
