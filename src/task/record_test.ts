import { assert, assertEquals, assertMatch } from "../testing/asserts.ts";
import { parseTaskRequestV1 } from "./request.ts";
import { defaultTaskName, MASK, newTaskRecord, toTaskV0, toTaskV1 } from "./record.ts";
import { V0_KEYS, V1_KEYS } from "./testdata.ts";

function record() {
  const r = parseTaskRequestV1({
    cpu: 1,
    mem: 22,
    image: "busybox",
    command: "echo $SECRET",
    masked_env: { SECRET: "hunter2" },
  });
  assert(r.ok);
  return newTaskRecord(r.request, {
    uuid: "0a7f3bbc-4548-41ee-90ac-12c11dd3fc36",
    now: 1_700_000_000_500,
  });
}

Deno.test("newTaskRecord() queues the task with an eremetic id and a default name", () => {
  const t = record();
  assertEquals(t.id, "eremetic-task.0a7f3bbc-4548-41ee-90ac-12c11dd3fc36");
  assertEquals(t.status, [{ time: 1_700_000_000, status: "TASK_QUEUED" }]);
  assertEquals(t.user, "root");
  assertMatch(t.name, /^Eremetic task [b-zB-Z1-9]{8}$/);
  assertMatch(defaultTaskName(), /^Eremetic task .{8}$/);
});

Deno.test("toTaskV1() keeps the original key order first and masks masked_env", () => {
  const v1 = toTaskV1(record());
  assertEquals(Object.keys(v1).slice(0, V1_KEYS.length), V1_KEYS);
  assertEquals(v1.masked_env, { SECRET: MASK });
  assertEquals(v1.args, null);
  assert(!JSON.stringify(v1).includes("hunter2"));
});

Deno.test("toTaskV0() has exactly the legacy key set", () => {
  const v0 = toTaskV0(record());
  assertEquals(Object.keys(v0), V0_KEYS);
  assertEquals(v0.masked_env, { SECRET: MASK });
});

Deno.test("toTaskV1() and toTaskV0() mask an env key that masked_env also sets", () => {
  const t = { ...record(), env: { SECRET: "hunter2", PLAIN: "shown" } };
  for (const view of [toTaskV1(t), toTaskV0(t)]) {
    assertEquals(view.env, { SECRET: MASK, PLAIN: "shown" });
    assert(!JSON.stringify(view).includes("hunter2"));
  }
  assertEquals(t.env, { SECRET: "hunter2", PLAIN: "shown" }, "the record is not changed");
  const plain = { ...record(), env: { PLAIN: "shown" } };
  assertEquals(toTaskV1(plain).env, { PLAIN: "shown" });
});
