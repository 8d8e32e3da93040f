/**
 * The web pages over HTTP (no browser): content types, the Content-Security-Policy,
 * no inline script or style, escaping, secrets, url_prefix, basic auth, asset caching.
 */
import assert from "node:assert/strict";
import { request, SEED_BODY, startTestServer } from "./_helpers.ts";
import { submit } from "./_e2e.ts";

const HTML = { accept: "text/html,application/xhtml+xml" };

/** Every `href`/`src`/`action` of a page. */
function urlsOf(html: string): string[] {
  return [...html.matchAll(/\s(?:href|src|action|data-[\w-]+)="([^"]*)"/g)].map((m) => m[1])
    .filter((u) => u.startsWith("/"));
}

function assertSafePage(html: string, what: string) {
  for (const m of html.matchAll(/<script\b[^>]*>/g)) {
    assert.match(m[0], /\ssrc="/, `${what}: inline script ${m[0]}`);
  }
  assert.doesNotMatch(html, /<style\b/, `${what}: inline style`);
  // Attribute names inside tags only: escaped text and values may well read "onerror=".
  const tags = html.replace(/"[^"]*"/g, '""');
  assert.doesNotMatch(tags, /<[a-z][^>]*\sstyle=/i, `${what}: style attribute`);
  assert.doesNotMatch(tags, /<[a-z][^>]*\son[a-z]+=/i, `${what}: event handler attribute`);
}

Deno.test("web pages: policy, escaping, secrets, links under url_prefix", async (t) => {
  await using server = await startTestServer({ flags: ["--url-prefix", "/svc/e"] });
  const base = server.url;
  const id = await submit(base, {
    ...SEED_BODY,
    name: "<img src=x onerror=alert(1)>",
    env: { SHOWN: "visible" },
    masked_env: { SECRET: "hunter2" },
    labels: { "<b>k": "<i>v" },
  });

  for (const path of ["/", "/tasks", "/tasks?state=all", `/task/${id}`, `/?from=${id}`]) {
    await t.step(`GET ${path} is a safe page`, async () => {
      const res = await request(`${base}${path}`, { headers: HTML });
      assert.equal(res.status, 200);
      assert.equal(res.contentType, "text/html; charset=UTF-8");
      const csp = res.headers.get("content-security-policy") ?? "";
      assert.match(csp, /script-src 'self'/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
      assertSafePage(res.text, path);
      assert.ok(!res.text.includes("hunter2"), `${path} shows a secret`);
      assert.ok(!res.text.includes("<img src=x"), `${path} shows raw markup`);
      for (const url of urlsOf(res.text)) {
        assert.ok(url === "/svc/e" || url.startsWith("/svc/e/"), `${path}: ${url}`);
      }
    });
  }

  await t.step("the task page shows the fields, the masked value as asterisks", async () => {
    const res = await request(`${base}/task/${id}`, { headers: HTML });
    assert.ok(res.text.includes("&lt;img src=x onerror=alert(1)&gt;"));
    assert.ok(res.text.includes("visible"));
    assert.ok(res.text.includes("*******"));
    assert.ok(res.text.includes("&lt;b&gt;k"));
  });

  await t.step("the index lists queued tasks, then finished ones newest first", async () => {
    const first = await submit(base, { ...SEED_BODY, name: "killed first" });
    const second = await submit(base, { ...SEED_BODY, name: "killed second" });
    for (const killed of [first, second]) {
      assert.equal(
        (await request(`${base}/api/v1/task/${killed}/kill`, { method: "POST" })).status,
        202,
      );
    }
    const page = await request(`${base}/`, { headers: HTML });
    const [queued, finished] = page.text.split('id="finished-title"');
    assert.ok(queued.includes(id) && !queued.includes(first), "queued section");
    assert.ok(finished.indexOf(second) < finished.indexOf(first), "newest first");
    assert.ok(!finished.includes(id));
    await request(`${base}/api/v1/task/${second}`, { method: "DELETE" });
    const after = await request(`${base}/`, { headers: HTML });
    assert.ok(!after.text.includes(second), "a deleted task is left out");
  });

  await t.step("JSON clients keep the JSON of /task/{id} and the 204 of /", async () => {
    const task = await request(`${base}/task/${id}`);
    assert.equal(task.status, 200);
    assert.equal((task.body as { id: string }).id, id);
    assert.equal((await request(`${base}/`)).status, 204);
    const v1 = await request(`${base}/api/v1/task/${id}`, { headers: HTML });
    assert.match(v1.contentType, /^application\/json/);
  });

  await t.step("the 404 page for browsers, null for the rest", async () => {
    const page = await request(`${base}/task/eremetic-task.none`, { headers: HTML });
    assert.equal(page.status, 404);
    assert.match(page.contentType, /^text\/html/);
    assertSafePage(page.text, "404");
    assert.equal((await request(`${base}/task/eremetic-task.none`)).text, "null\n");
    assert.equal((await request(`${base}/tasks`, { method: "POST" })).status, 405);
  });

  await t.step("assets: versioned URLs cached for good, ETags revalidate", async () => {
    const page = await request(`${base}/`, { headers: HTML });
    const css = urlsOf(page.text).find((u) => u.endsWith("/css/app.css"))!;
    assert.match(css, /^\/svc\/e\/static\/v-[0-9a-f]{12}\/css\/app\.css$/);
    const res = await request(`${base}${css.slice("/svc/e".length)}`);
    assert.equal(res.status, 200);
    assert.equal(res.contentType, "text/css; charset=utf-8");
    assert.equal(res.headers.get("cache-control"), "public, max-age=31536000, immutable");
    const etag = res.headers.get("etag")!;
    const again = await request(`${base}/static/css/app.css`, {
      headers: { "if-none-match": etag },
    });
    assert.equal(again.status, 304);
    assert.equal((await request(`${base}/static/nothing.js`)).status, 404);
  });
});

Deno.test("web pages with basic authentication: 401 page for browsers, assets protected", async () => {
  await using server = await startTestServer({ flags: ["--http-credentials", "u:p4ss"] });
  const base = server.url;
  const auth = { authorization: `Basic ${btoa("u:p4ss")}` };
  for (const path of ["/", "/tasks", "/task/x", "/static/css/app.css"]) {
    const page = await request(`${base}${path}`, { headers: HTML });
    assert.equal(page.status, 401, path);
    assert.match(page.contentType, /^text\/html/, path);
    assert.equal(page.headers.get("www-authenticate"), 'Basic realm="Eremetic"', path);
    assert.match(page.text, /401 Unauthorized/, path);
    assertSafePage(page.text, path);
    const ok = await request(`${base}${path}`, { headers: { ...HTML, ...auth } });
    assert.equal(ok.status, path === "/task/x" ? 404 : 200, path);
  }
});
