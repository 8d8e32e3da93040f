import assert from "node:assert/strict";
import { assertEquals, assertThrows } from "../testing/asserts.ts";
import {
  accept,
  acknowledge,
  acknowledgeOperationStatus,
  acknowledgeStatus,
  decline,
  decodeBase64,
  encodeBase64,
  encodeCall,
  kill,
  launch,
  message,
  reconcile,
  revive,
  shutdown,
  subscribe,
  suppress,
  teardown,
  updateFramework,
  withFrameworkId,
} from "./calls.ts";
import type { Call } from "./calls.ts";
import type { FrameworkInfo, TaskInfo } from "./types.ts";

const INFO: FrameworkInfo = {
  user: "deploy",
  name: "eremetic",
  failover_timeout: 604800,
  checkpoint: true,
  roles: ["batch"],
  capabilities: [{ type: "MULTI_ROLE" }, { type: "PARTITION_AWARE" }],
};

const TASK: TaskInfo = {
  name: "t",
  task_id: { value: "t-1" },
  agent_id: { value: "A-S1" },
  resources: [{ name: "cpus", type: "SCALAR", scalar: { value: 0.5 }, role: "*" }],
  command: { shell: true, value: "date" },
  kill_policy: { grace_period: { nanoseconds: 5_000_000_000 } },
  max_completion_time: { nanoseconds: 60_000_000_000 },
};

Deno.test("subscribe() builds a first SUBSCRIBE without any framework id", () => {
  assertEquals(subscribe(INFO), { type: "SUBSCRIBE", subscribe: { framework_info: INFO } });
});

Deno.test("subscribe() puts a resubscribing framework id in both places", () => {
  const call = subscribe(INFO, { frameworkId: "F-0001", suppressedRoles: ["batch"] });
  assertEquals(call.framework_id, { value: "F-0001" });
  assertEquals(call.subscribe.framework_info.id, { value: "F-0001" });
  assertEquals(call.subscribe.suppressed_roles, ["batch"]);
  const fromInfo = subscribe({ ...INFO, id: { value: "F-2" } });
  assertEquals(fromInfo.framework_id, { value: "F-2" });
  assertEquals(INFO.id, undefined, "input not mutated");
});

Deno.test("subscribe() rejects FrameworkInfo without user or name, or role with MULTI_ROLE", () => {
  assertThrows(() => subscribe({ ...INFO, user: "" }), TypeError, "user is required");
  assertThrows(() => subscribe({ ...INFO, name: "" }), TypeError, "name is required");
  assertThrows(() => subscribe({ ...INFO, role: "batch" }), TypeError, "MULTI_ROLE");
});

Deno.test("updateFramework() requires the id and sets it at the top level", () => {
  assertThrows(() => updateFramework(INFO), TypeError, "id is required");
  const call = updateFramework({ ...INFO, id: { value: "F" } });
  assertEquals(call.framework_id, { value: "F" });
  assertEquals(call.update_framework.framework_info.id, { value: "F" });
});

Deno.test("accept() and launch() build an ACCEPT with LAUNCH and filters", () => {
  assertEquals(accept(["O1", { value: "O2" }], [launch([TASK])], { refuse_seconds: 3600 }), {
    type: "ACCEPT",
    accept: {
      offer_ids: [{ value: "O1" }, { value: "O2" }],
      operations: [{ type: "LAUNCH", launch: { task_infos: [TASK] } }],
      filters: { refuse_seconds: 3600 },
    },
  });
  assertThrows(() => accept([], [launch([TASK])]), TypeError, "no offer ids");
});

Deno.test("decline() builds a DECLINE with an optional filter", () => {
  assertEquals(decline(["O1"]), { type: "DECLINE", decline: { offer_ids: [{ value: "O1" }] } });
  assertEquals(decline(["O1"], { refuse_seconds: 0 }).type, "DECLINE");
  assertThrows(() => decline([]), TypeError);
});

Deno.test("revive() and suppress() use the roles list (docs erratum), all roles when empty", () => {
  assertEquals(revive(), { type: "REVIVE" });
  assertEquals(revive(["batch"]), { type: "REVIVE", revive: { roles: ["batch"] } });
  assertEquals(suppress(), { type: "SUPPRESS" });
  assertEquals(suppress(["a", "b"]), { type: "SUPPRESS", suppress: { roles: ["a", "b"] } });
});

Deno.test("kill() builds a KILL with optional agent and kill policy", () => {
  assertEquals(kill("t-1"), { type: "KILL", kill: { task_id: { value: "t-1" } } });
  assertEquals(
    kill({ value: "t-1" }, "A", { killPolicy: { grace_period: { nanoseconds: 1 } } }),
    {
      type: "KILL",
      kill: {
        task_id: { value: "t-1" },
        agent_id: { value: "A" },
        kill_policy: { grace_period: { nanoseconds: 1 } },
      },
    },
  );
  assertThrows(() => kill(""), TypeError, "non-empty");
});

Deno.test("acknowledge() echoes the uuid exactly and checks it is 16 bytes", () => {
  const uuid = "nyxqHkt9TD6PECprXE0+IQ==";
  assertEquals(acknowledge({ value: "A" }, "t-1", uuid), {
    type: "ACKNOWLEDGE",
    acknowledge: { agent_id: { value: "A" }, task_id: { value: "t-1" }, uuid },
  });
  assertEquals(encodeCall(acknowledge("A", "t", uuid)).includes(`"uuid":"${uuid}"`), true);
  assertThrows(() => acknowledge("A", "t", ""), TypeError, "0 bytes");
  assertThrows(() => acknowledge("A", "t", "aGVsbG8="), TypeError, "5 bytes");
  assertThrows(() => acknowledge("A", "t", "***"), TypeError, "not base64");
});

Deno.test("acknowledgeStatus() acknowledges only updates that carry a uuid", () => {
  const status = {
    task_id: { value: "t" },
    state: "TASK_RUNNING" as const,
    agent_id: { value: "A" },
    uuid: "AAECAwQFRgcICQoLDA0ODw==",
  };
  assertEquals(acknowledgeStatus(status), acknowledge("A", "t", status.uuid));
  assertEquals(acknowledgeStatus({ ...status, uuid: undefined }), null);
  assertThrows(
    () => acknowledgeStatus({ ...status, agent_id: undefined }),
    TypeError,
    "no agent_id",
  );
});

Deno.test("acknowledgeOperationStatus() sends the uuid value as bytes and operation_id as object", () => {
  const call = acknowledgeOperationStatus({
    state: "OPERATION_FINISHED",
    operation_id: { value: "op" },
    agent_id: { value: "A" },
    uuid: { value: "nyxqHkt9TD6PECprXE0+IQ==" },
  });
  assertEquals(call, {
    type: "ACKNOWLEDGE_OPERATION_STATUS",
    acknowledge_operation_status: {
      agent_id: { value: "A" },
      uuid: "nyxqHkt9TD6PECprXE0+IQ==",
      operation_id: { value: "op" },
    },
  });
  assertEquals(acknowledgeOperationStatus({ state: "OPERATION_FINISHED" }), null);
});

Deno.test("reconcile() is implicit when empty and explicit per task otherwise", () => {
  assertEquals(reconcile(), { type: "RECONCILE", reconcile: {} });
  assertEquals(reconcile([{ task_id: "t", agent_id: "A" }, { task_id: { value: "u" } }]), {
    type: "RECONCILE",
    reconcile: {
      tasks: [{ task_id: { value: "t" }, agent_id: { value: "A" } }, { task_id: { value: "u" } }],
    },
  });
});

Deno.test("message(), shutdown() and teardown() build their calls", () => {
  assertEquals(message("A", "e", "héllo"), {
    type: "MESSAGE",
    message: { agent_id: { value: "A" }, executor_id: { value: "e" }, data: "aMOpbGxv" },
  });
  assertEquals(shutdown("e", "A"), {
    type: "SHUTDOWN",
    shutdown: { executor_id: { value: "e" }, agent_id: { value: "A" } },
  });
  assertEquals(teardown(), { type: "TEARDOWN" });
});

Deno.test("withFrameworkId() sets the id without mutating the call", () => {
  const call = revive();
  assertEquals(withFrameworkId(call, "F"), { type: "REVIVE", framework_id: { value: "F" } });
  assertEquals(call, { type: "REVIVE" });
  const sub = withFrameworkId(subscribe(INFO), { value: "F" });
  assertEquals(sub.subscribe.framework_info.id, { value: "F" });
});

Deno.test("encodeCall() writes bigint nanoseconds as exact JSON numbers", () => {
  const big = { ...TASK, max_completion_time: { nanoseconds: 9007199254740993n } };
  const text = encodeCall(accept(["O"], [launch([big])]));
  assertEquals(text.includes('"max_completion_time":{"nanoseconds":9007199254740993}'), true);
  assertEquals(text.includes('"grace_period":{"nanoseconds":5000000000}'), true);
});

Deno.test("encodeBase64() and decodeBase64() round-trip arbitrary bytes", () => {
  const bytes = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 7) & 0xff);
  assertEquals(decodeBase64(encodeBase64(bytes)), bytes);
  assertEquals(encodeBase64(new Uint8Array([0xff, 0xfe])), "//4=");
});

Deno.test("encodeCall() writes ACKNOWLEDGE as the JSON of the call object", () => {
  const uuid = "AAECAwQFBgcICQoLDA0ODw==";
  const plain = acknowledge('agent-"1"', "eremetic-task.é", uuid);
  for (const call of [plain, withFrameworkId(plain, "fw-1")]) {
    assert.equal(encodeCall(call), JSON.stringify(call));
  }
  // Any other field: the generic path, which keeps it.
  const extra = { ...plain, extra: { x: 1 } } as unknown as Call;
  assert.deepEqual(JSON.parse(encodeCall(extra)), JSON.parse(JSON.stringify(extra)));
});
