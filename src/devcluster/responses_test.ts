import assert from "node:assert/strict";
import { acceptsJson, leaderLocation } from "./responses.ts";

Deno.test("leaderLocation() is protocol-relative, with the path as the master process sees it", () => {
  const leader = { hostname: "m2", port: 5051 };
  assert.equal(leaderLocation(leader, "/api/v1/scheduler"), "//m2:5051/master/api/v1/scheduler");
  assert.equal(
    leaderLocation(leader, "/master/api/v1/scheduler"),
    "//m2:5051/master/api/v1/scheduler",
  );
  assert.equal(leaderLocation(leader, "/state?jsonp=x"), "//m2:5051/master/state?jsonp=x");
  assert.equal(leaderLocation(leader, "/redirect"), "//m2:5051");
  assert.equal(leaderLocation(leader, "/master/redirect"), "//m2:5051");
  // Only the `master` process's own prefix counts, not a look-alike.
  assert.equal(leaderLocation(leader, "/mastery"), "//m2:5051/master/mastery");
});

Deno.test("acceptsJson() takes JSON, wildcards and no preference", () => {
  assert.equal(acceptsJson(null), true);
  assert.equal(acceptsJson("application/x-protobuf, application/json;q=0.5"), true);
  assert.equal(acceptsJson("*/*"), true);
  assert.equal(acceptsJson("application/json;q=0"), false);
  assert.equal(acceptsJson("application/x-protobuf"), false);
});
