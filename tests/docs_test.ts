/**
 * Docs that cannot drift: every route of the OpenAPI document has a curl example in
 * docs/api.md, and every configuration key is in docs/configuration.md and eremetic.yml.
 */
import assert from "node:assert/strict";
import { openApiDocument } from "../src/api/openapi.ts";
import { CONFIG_KEYS } from "../src/config/mod.ts";
import { REPO_ROOT } from "./_helpers.ts";

interface CurlCall {
  method: string;
  path: string;
}

/** The method and path of every `curl` command line in a Markdown text. */
export function curlCalls(markdown: string): CurlCall[] {
  const calls: CurlCall[] = [];
  for (const line of markdown.split("\n")) {
    const m = /^(?:\$ )?curl (.*)$/.exec(line.trim());
    if (!m) continue;
    const url = /https?:\/\/[^/\s'"]+(\/[^\s'"?]*)/.exec(m[1]);
    if (!url) continue;
    const explicit = /-X ([A-Z]+)/.exec(m[1]);
    const method = explicit ? explicit[1] : / -d /.test(` ${m[1]}`) ? "POST" : "GET";
    calls.push({ method, path: url[1] });
  }
  return calls;
}

Deno.test("docs/api.md has a curl example for every route of the OpenAPI document", async () => {
  const doc = await Deno.readTextFile(`${REPO_ROOT}/docs/api.md`);
  const calls = curlCalls(doc);
  const missing: string[] = [];
  const routes = Object.entries(openApiDocument("test").paths);
  assert.ok(routes.length >= 15, "the OpenAPI document lists the routes");
  for (const [path, ops] of routes) {
    const pattern = new RegExp(`^${path.replace(/\{[^}]+\}/g, "[^/]+").replaceAll(".", "\\.")}$`);
    for (const method of Object.keys(ops)) {
      const found = calls.some((c) => c.method === method.toUpperCase() && pattern.test(c.path));
      if (!found) missing.push(`${method.toUpperCase()} ${path}`);
    }
  }
  assert.deepEqual(missing, [], "routes without a curl example in docs/api.md");
});

Deno.test("curlCalls() reads methods and paths, and so can miss a route", () => {
  const calls = curlCalls([
    "curl -X POST -d '{}' http://localhost:8080/api/v1/task",
    "$ curl -N 'http://localhost:8080/api/v1/task/$ID/stdout?follow=1'",
    "curl -X DELETE http://localhost:8080/task/$ID   # comment",
    "not curl http://x/y",
  ].join("\n"));
  assert.deepEqual(calls, [
    { method: "POST", path: "/api/v1/task" },
    { method: "GET", path: "/api/v1/task/$ID/stdout" },
    { method: "DELETE", path: "/task/$ID" },
  ]);
});

Deno.test("every configuration key is in docs/configuration.md and eremetic.yml", async () => {
  const doc = await Deno.readTextFile(`${REPO_ROOT}/docs/configuration.md`);
  const yml = await Deno.readTextFile(`${REPO_ROOT}/eremetic.yml`);
  for (const spec of CONFIG_KEYS) {
    assert.ok(doc.includes(`\`${spec.key}\``), `docs/configuration.md lacks ${spec.key}`);
    assert.match(yml, new RegExp(`^#? ?${spec.key}:`, "m"), `eremetic.yml lacks ${spec.key}`);
  }
});
