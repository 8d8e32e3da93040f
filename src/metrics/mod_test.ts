import assert from "node:assert/strict";
import { Counter, Histogram } from "./mod.ts";

Deno.test("a counter series counts into the series of its labels", () => {
  const a = new Counter("c", "h");
  const b = new Counter("c", "h");
  const s = a.series({ handler: "AddTask", code: "202" });
  s.inc();
  s.inc(2);
  a.inc({ code: "202", handler: "AddTask" });
  b.inc({ handler: "AddTask", code: "202" }, 4);
  assert.equal(a.get({ handler: "AddTask", code: "202" }), 4);
  assert.equal(a.render(), b.render());
});

Deno.test("a histogram series renders nothing until it observes, then as observe()", () => {
  const a = new Histogram("h", "help", [1, 10]);
  const b = new Histogram("h", "help", [1, 10]);
  const s = a.series({ handler: "Status" });
  assert.equal(a.render(), "# HELP h help\n# TYPE h histogram");
  s.observe(5);
  s.observe(0.5);
  b.observe(5, { handler: "Status" });
  b.observe(0.5, { handler: "Status" });
  assert.equal(a.render(), b.render());
  assert.equal(a.count({ handler: "Status" }), 2);
});
