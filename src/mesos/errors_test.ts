import assert from "node:assert/strict";
import {
  FrameworkError,
  frameworkErrorKind,
  isTemporary,
  MesosApiError,
  SubscriptionLostError,
} from "./errors.ts";

Deno.test("frameworkErrorKind() tells failover from removal from any other refusal", () => {
  assert.equal(frameworkErrorKind("Framework failed over"), "failed_over");
  assert.equal(frameworkErrorKind("Framework has been removed"), "removed");
  assert.equal(frameworkErrorKind("Framework removed"), "removed");
  assert.equal(frameworkErrorKind("Not authorized to use role 'x'"), "refused");
  assert.equal(frameworkErrorKind(""), "refused");
});

Deno.test("FrameworkError is a permanent subscription loss that keeps the master's words", () => {
  const e = new FrameworkError("Framework failed over");
  assert.ok(e instanceof SubscriptionLostError);
  assert.equal(e.name, "FrameworkError");
  assert.equal(e.reason, "error_event");
  assert.equal(e.kind, "failed_over");
  assert.equal(e.masterMessage, "Framework failed over");
  assert.equal(e.temporary, false);
  assert.equal(isTemporary(e), false);
});

Deno.test("MesosApiError knows temporary statuses and lost subscriptions", () => {
  assert.equal(new MesosApiError("ACCEPT", 503, "").temporary, true);
  assert.equal(
    new MesosApiError("ACCEPT", 400, "Framework cannot be found").subscriptionLost,
    true,
  );
  assert.equal(new MesosApiError("SUBSCRIBE", 404, "").temporary, true);
  assert.equal(new MesosApiError("ACCEPT", 404, "").temporary, false);
});
