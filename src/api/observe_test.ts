import assert from "node:assert/strict";
import { createMetrics } from "../metrics/mod.ts";
import { RequestMetrics } from "./observe.ts";

Deno.test("RequestMetrics records as labelled calls would", () => {
  const kept = createMetrics();
  const plain = createMetrics();
  const r = new RequestMetrics(kept);
  for (
    const [handler, method, code, micros, req, res] of [
      ["AddTask", "POST", 202, 120, 66, 0],
      ["AddTask", "POST", 202, 90, 66, 0],
      ["Status", "GET", 200, 30, 0, 300],
      ["Status", "GET", 404, 20, 0, 0],
      ["NotFound", "PATCH", 404, 10, 0, 0],
    ] as const
  ) {
    r.record(handler, method, code, micros, req, res);
    plain.httpRequests.inc({ handler, method: method.toLowerCase(), code: String(code) });
    plain.httpDuration.observe(micros, { handler });
    if (req) plain.httpRequestSize.observe(req, { handler });
    if (res) plain.httpResponseSize.observe(res, { handler });
  }
  assert.equal(kept.httpRequests.get({ handler: "AddTask", method: "post", code: "202" }), 2);
  for (
    const m of ["httpRequests", "httpDuration", "httpRequestSize", "httpResponseSize"] as const
  ) {
    assert.equal(kept[m].render(), plain[m].render(), m);
  }
});
