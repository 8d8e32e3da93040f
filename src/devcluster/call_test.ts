import assert from "node:assert/strict";
import { CallParseError, convertCall, isValidUuidBytes, validateCall } from "./call.ts";

Deno.test("convertCall() applies stout's JSON rules", async (t) => {
  await t.step("unknown keys are ignored and null means unset", () => {
    const call = convertCall({
      type: "REVIVE",
      framework_id: { value: "f" },
      role: "x",
      revive: null,
    });
    assert.equal(call.type, "REVIVE");
    assert.equal(call.revive, undefined);
    assert.equal(JSON.stringify(call.framework_id), '{"value":"f"}');
    assert.equal(validateCall(call), null);
  });
  await t.step("numeric and boolean strings are accepted", () => {
    const call = convertCall({
      type: "SUBSCRIBE",
      subscribe: {
        framework_info: { user: "u", name: "n", failover_timeout: "60", checkpoint: "true" },
      },
    });
    const info = (call.subscribe as { framework_info: Record<string, unknown> }).framework_info;
    assert.equal(info.failover_timeout, 60);
    assert.equal(info.checkpoint, true);
  });
  await t.step("an unknown optional enum string is dropped", () => {
    assert.equal(convertCall({ type: "FLY" }).type, undefined);
  });
  await t.step("an unknown required enum string fails", () => {
    assert.throws(
      () =>
        convertCall({
          type: "ACCEPT",
          framework_id: { value: "f" },
          accept: {
            operations: [{
              type: "LAUNCH",
              launch: {
                task_infos: [{
                  name: "t",
                  task_id: { value: "t" },
                  agent_id: { value: "a" },
                  resources: [{ name: "cpus", type: "SCALARISH" }],
                }],
              },
            }],
          },
        }),
      { message: "Failed to find enum for 'SCALARISH'" },
    );
  });
  await t.step("a repeated field given a scalar fails", () => {
    assert.throws(
      () => convertCall({ type: "REVIVE", framework_id: { value: "f" }, revive: { roles: "a" } }),
      new CallParseError("Not expecting a JSON string for field 'roles'"),
    );
  });
  await t.step("a value of the wrong kind is reported before any missing field", () => {
    // stout converts the whole body first; proto2's required check comes after.
    assert.throws(
      () => convertCall({ framework_id: {}, type: "ACCEPT", accept: { offer_ids: "o" } }),
      new CallParseError("Not expecting a JSON string for field 'offer_ids'"),
    );
  });
  await t.step("missing required fields are listed with their paths", () => {
    assert.throws(
      () =>
        convertCall({
          type: "ACCEPT",
          framework_id: { value: "f" },
          accept: { operations: [{ type: "LAUNCH", launch: { task_infos: [{ task_id: {} }] } }] },
        }),
      {
        message:
          "Missing required fields: accept.operations[0].launch.task_infos[0].name, accept.operations[0].launch.task_infos[0].task_id.value, accept.operations[0].launch.task_infos[0].agent_id",
      },
    );
  });
});

Deno.test("validateCall() follows scheduler::call::validate", () => {
  assert.equal(validateCall({ type: "TEARDOWN", framework_id: { value: "f" } }), null);
  assert.equal(
    validateCall({ type: "KILL", framework_id: { value: "f" } }),
    "Expecting 'kill' to be present",
  );
  const sub = {
    type: "SUBSCRIBE" as const,
    subscribe: { framework_info: { user: "u", name: "n", principal: "p" } },
  };
  assert.equal(validateCall(sub), null);
  assert.match(
    validateCall(sub, "q")!,
    /^Authenticated principal 'q' does not match principal 'p'/,
  );
  assert.equal(
    validateCall({
      type: "UPDATE_FRAMEWORK",
      framework_id: { value: "f" },
      update_framework: { framework_info: { user: "u", name: "n" } },
    }),
    "'framework_id' differs from 'update_framework.framework_info.id'",
  );
});

Deno.test("isValidUuidBytes() wants 16 bytes with an RFC 4122 version", () => {
  assert.equal(isValidUuidBytes("nyxqHkt9TD6PECprXE0+IQ=="), true);
  assert.equal(isValidUuidBytes(btoa("short")), false);
  assert.equal(isValidUuidBytes(btoa("\x00".repeat(16))), false);
});

Deno.test("randomUuidBase64() yields valid, distinct v4 UUID bytes", async () => {
  const { randomUuidBase64 } = await import("./agent.ts");
  const { decodeBase64, encodeBase64 } = await import("./call.ts");
  const seen = new Set<string>();
  for (let i = 0; i < 5000; i++) {
    const u = randomUuidBase64();
    assert.equal(isValidUuidBytes(u), true);
    assert.equal(encodeBase64(decodeBase64(u)), u);
    assert.equal(decodeBase64(u)[6] >> 4, 4);
    seen.add(u);
  }
  assert.equal(seen.size, 5000);
});

Deno.test("convertCall() names every missing field in the master's order, whatever the key order", () => {
  const call = () => ({
    accept: {
      operations: [{
        launch: {
          task_infos: [{
            resources: [{ scalar: { value: "1" }, name: "cpus" }],
            task_id: { value: "t" },
          }],
        },
        type: "LAUNCH",
      }],
    },
    framework_id: { value: "f" },
    type: "ACCEPT",
  });
  assert.throws(() => convertCall(call()), {
    name: "CallParseError",
    message: "Missing required fields: accept.operations[0].launch.task_infos[0].name, " +
      "accept.operations[0].launch.task_infos[0].agent_id, " +
      "accept.operations[0].launch.task_infos[0].resources[0].type",
  });
  const complete = call();
  const task = complete.accept.operations[0].launch.task_infos[0] as Record<string, unknown>;
  Object.assign(task, { name: "n", agent_id: { value: "a" } });
  (task.resources as Record<string, unknown>[])[0].type = "SCALAR";
  const converted = convertCall(complete);
  const resource = (converted.accept as typeof complete.accept).operations[0].launch
    .task_infos[0].resources[0];
  assert.equal(resource.scalar.value, 1 as unknown as string, "numeric strings converted");
});
