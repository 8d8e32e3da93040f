import assert from "node:assert/strict";
import fc from "fast-check";
import {
  MESOS_STATES,
  newTaskRecord,
  parseTaskRequestV1,
  type TaskRecord,
  type TaskState,
} from "../task/mod.ts";
import { CODEC_V2, decodeStored, encodeStored, storedName } from "./_codec.ts";
import { TooLargeError } from "./types.ts";

const EXAMPLE = { mem: 22.0, cpu: 1.0, image: "busybox", command: "echo $(date)" };

function record(body: Record<string, unknown> = EXAMPLE, now = 1_764_900_000_123): TaskRecord {
  const parsed = parseTaskRequestV1(body);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return newTaskRecord(parsed.request, { uuid: "0b9f63b1-6a40-4a52-9e59-3f06d1a3c6f2", now });
}

/** What a store can keep at all: the record as JSON represents it (no `undefined`, no -0). */
const asJson = (t: TaskRecord): TaskRecord => JSON.parse(JSON.stringify(t));

const str = fc.string({ unit: "binary", maxLength: 12 });
const strMap = fc.option(fc.dictionary(str, str, { maxKeys: 4 }), { nil: null });
/** The default most of the time, anything of the type otherwise. */
const orDefault = <T>(dflt: T, arb: fc.Arbitrary<T>) =>
  fc.oneof({ arbitrary: fc.constant(dflt), weight: 3 }, { arbitrary: arb, weight: 1 });
const num = fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }));
const state = fc.oneof(
  fc.constantFrom<TaskState>("TASK_QUEUED", "TASK_TERMINATING", ...MESOS_STATES),
  str as fc.Arbitrary<TaskState>,
);
const time = fc.oneof(fc.integer({ min: 0, max: 4_000_000_000 }), num);

const taskRecord: fc.Arbitrary<TaskRecord> = fc.record({
  cpu: num,
  mem: num,
  image: str,
  volumes_from: orDefault(null, fc.array(str, { maxLength: 3 })),
  agent_constraints: orDefault(
    null,
    fc.array(fc.record({ attribute_name: str, attribute_value: str }), { maxLength: 3 }),
  ),
  command: orDefault("", str),
  args: orDefault(null, fc.array(str, { maxLength: 3 })),
  volumes: orDefault(
    null,
    fc.array(fc.record({ container_path: str, host_path: str }), { maxLength: 2 }),
  ),
  ports: orDefault(
    null,
    fc.array(
      fc.record({ container_port: fc.nat(65535), host_port: fc.nat(65535), protocol: str }),
      { maxLength: 2 },
    ),
  ),
  name: fc.oneof(
    str,
    fc.stringMatching(/^Eremetic task [bcdfghjklmnpqrstvwxzBCDFGHJKLMNPQRSTVWXZ1-9]{8}$/),
  ),
  network: orDefault("", fc.constantFrom("HOST", "BRIDGE", "NONE", "USER")),
  dns: orDefault("", str),
  env: strMap,
  masked_env: strMap,
  labels: strMap,
  callback_uri: orDefault("", str),
  fetch: orDefault(
    null,
    fc.array(
      fc.record({ uri: str, extract: fc.boolean(), executable: fc.boolean(), cache: fc.boolean() }),
      { maxLength: 2 },
    ),
  ),
  force_pull_image: fc.boolean(),
  privileged: fc.boolean(),
  disk: orDefault(0, num),
  gpus: orDefault(0, fc.nat()),
  role: orDefault("", str),
  max_retries: orDefault(5, fc.nat(100)),
  timeout_seconds: orDefault(0, num),
  parameters: orDefault(null, fc.array(fc.record({ key: str, value: str }), { maxLength: 2 })),
  callback_events: fc.constantFrom("terminal", "all"),
  id: fc.oneof(fc.uuid().map((u) => `eremetic-task.${u}`), str),
  seq: fc.nat(),
  user: orDefault("root", str),
  status: fc.array(fc.record({ time, status: state }), { maxLength: 6 }),
  framework_id: orDefault("", str),
  agent_id: orDefault("", str),
  hostname: orDefault("", str),
  retry: orDefault(0, fc.nat()),
  sandbox_path: orDefault("", str),
  agent_ip: orDefault("", str),
  agent_port: orDefault(0, fc.nat(65535)),
  mesos_task_id: fc.oneof(fc.constant(""), str),
  submitted_at: fc.oneof(fc.integer({ min: 0, max: 2 ** 45 }), num),
  not_before: orDefault(0, fc.nat()),
}).map((t) => ({ ...t, mesos_task_id: t.mesos_task_id || t.id }) as TaskRecord);

Deno.test("decodeStored(encodeStored(r), seq) returns the record, for any record", () => {
  fc.assert(
    fc.property(taskRecord, (t) => {
      assert.deepStrictEqual(decodeStored(encodeStored(t), t.seq), asJson(t));
    }),
    { numRuns: 2000 },
  );
});

Deno.test("encodeStored() leaves out defaults: the example body's record is small", () => {
  const t = record();
  const bytes = encodeStored(t);
  assert.equal(bytes[0], CODEC_V2);
  const legacy = new TextEncoder().encode(JSON.stringify(t)).length;
  assert.ok(bytes.length < 170, `${bytes.length} bytes`);
  assert.ok(bytes.length * 4 < legacy, `${bytes.length} bytes against ${legacy}`);
  assert.deepStrictEqual(decodeStored(bytes, 7), { ...t, seq: 7 });
});

Deno.test("encodeStored() keeps a record field it does not know", () => {
  const t = { ...record(), later_field: { a: [1, 2] } } as TaskRecord;
  assert.deepStrictEqual(decodeStored(encodeStored(t), t.seq), t);
});

Deno.test("decodeStored() reads version 1 (the whole record as JSON), seq from the key", () => {
  const t = { ...record({ ...EXAMPLE, env: { A: "é€😀" } }), seq: 3, retry: 2 };
  const v1 = new TextEncoder().encode(JSON.stringify(t));
  assert.deepStrictEqual(decodeStored(v1, 3), t);
});

Deno.test("encodeStored() refuses a record over the limit with TooLargeError", () => {
  const t = record({ ...EXAMPLE, env: { BIG: "x".repeat(70_000) } });
  assert.throws(() => encodeStored(t), TooLargeError);
});

Deno.test("storedName() reads a generated name from the first bytes, any other name by decoding", () => {
  const generated = record();
  assert.match(generated.name, /^Eremetic task /);
  assert.equal(storedName(encodeStored(generated)), generated.name);
  const named = { ...generated, name: 'nightly "backup" ✓' };
  assert.equal(storedName(encodeStored(named)), named.name);
  const oddId = { ...generated, id: 'eremetic-task.a"b', mesos_task_id: 'eremetic-task.a"b' };
  assert.equal(storedName(encodeStored(oddId)), oddId.name);
  const v1 = new TextEncoder().encode(JSON.stringify(generated));
  assert.equal(storedName(v1), generated.name);
});

Deno.test("storedName() agrees with decodeStored() on any record", () => {
  fc.assert(fc.property(taskRecord, (t) => {
    const bytes = encodeStored(t);
    assert.equal(storedName(bytes), decodeStored(bytes).name);
  }));
});
