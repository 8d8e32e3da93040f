import { assert, assertEquals, assertStrictEquals, assertThrows } from "../testing/asserts.ts";
import {
  dispatchEvent,
  type Event,
  type EventHandlers,
  parseEvent,
  taskStatusOf,
} from "./events.ts";
import { MesosProtocolError } from "./errors.ts";
import { RecordIODecoder } from "./recordio.ts";

const testdata = new URL("./testdata/", import.meta.url);
const lines = Deno.readTextFileSync(new URL("events.jsonl", testdata)).split("\n").filter(Boolean);

function recorded(): Event[] {
  const bytes = Deno.readFileSync(new URL("events.recordio", testdata));
  return new RecordIODecoder().decode(bytes).map(parseEvent);
}

Deno.test("parseEvent() types every event of a recorded stream", () => {
  const events = recorded();
  assertEquals(events.map((e) => e.type), [
    "SUBSCRIBED",
    "HEARTBEAT",
    "OFFERS",
    "UPDATE",
    "UPDATE",
    "UPDATE",
    "RESCIND",
    "INVERSE_OFFERS",
    "RESCIND_INVERSE_OFFER",
    "UPDATE_OPERATION_STATUS",
    "MESSAGE",
    "FAILURE",
    "ERROR",
    "UNKNOWN",
  ]);
  assertEquals(events.length, lines.length);
});

Deno.test("parseEvent() reads SUBSCRIBED with framework id, heartbeat interval and master", () => {
  const e = parseEvent(lines[0]);
  assert(e.type === "SUBSCRIBED");
  assertEquals(e.subscribed.framework_id.value, "5b0e7b3a-1c2d-4e5f-8a9b-0c1d2e3f4a5b-0000");
  assertEquals(e.subscribed.heartbeat_interval_seconds, 15);
  assertEquals(e.subscribed.master_info?.address?.ip, "10.0.0.5");
});

Deno.test("parseEvent() reads offers with scalar, ranges and set values and attributes", () => {
  const e = parseEvent(lines[2]);
  assert(e.type === "OFFERS");
  const [o1, o2] = e.offers.offers!;
  assertEquals(o1.id.value, "5b0e7b3a-1c2d-4e5f-8a9b-0c1d2e3f4a5b-O42");
  assertEquals(o1.resources!.find((r) => r.name === "ports")!.ranges!.range, [
    { begin: 31000, end: 31004 },
    { begin: 31006, end: 32000 },
  ]);
  const reserved = o1.resources!.filter((r) => r.name === "cpus" && r.role === "batch");
  assertEquals(reserved[0].reservation, { principal: "ops" });
  assertEquals(o1.attributes!.map((a) => a.type), ["TEXT", "SCALAR", "SET", "RANGES"]);
  assertEquals(o1.allocation_info, { role: "batch" });
  assertEquals(o2.resources![0].reservations![0].role, "batch");
});

Deno.test("parseEvent() keeps TimeInfo nanoseconds exact as bigint", () => {
  const e = parseEvent(lines[2]);
  assert(e.type === "OFFERS");
  // 1718000000532117001 is not representable as a double (it would read ...117000).
  assertStrictEquals(e.offers.offers![1].unavailability!.start.nanoseconds, 1718000000532117001n);
  assertStrictEquals(e.offers.offers![1].unavailability!.duration!.nanoseconds, 3600000000000n);
  const u = parseEvent(lines[4]);
  assert(u.type === "UPDATE");
  assertStrictEquals(u.update.status.unreachable_time!.nanoseconds, 1718000050123456789n);
  // Doubles stay numbers.
  assertStrictEquals(u.update.status.timestamp, 1718000100.25);
});

Deno.test("parseEvent() keeps the update uuid as the exact base64 text", () => {
  const e = parseEvent(lines[3]);
  const status = taskStatusOf(e)!;
  assertEquals(status.uuid, "nyxqHkt9TD6PECprXE0+IQ==");
  assertEquals(status.state, "TASK_RUNNING");
  assertEquals(status.source, "SOURCE_EXECUTOR");
  assertEquals(
    status.container_status?.network_infos?.[0].ip_addresses?.[0].ip_address,
    "172.17.0.4",
  );
  const reconciled = taskStatusOf(parseEvent(lines[4]))!;
  assertEquals(reconciled.uuid, undefined);
  assertEquals(reconciled.reason, "REASON_RECONCILIATION");
  assertEquals(taskStatusOf(parseEvent(lines[1])), null);
});

Deno.test("parseEvent() reads ERROR in its real shape (docs erratum)", () => {
  const e = parseEvent(lines[12]);
  assert(e.type === "ERROR");
  assertEquals(e.error.message, "Framework failed over");
  assertThrows(
    () => parseEvent('{"type":"ERROR","message":"Framework failed over"}'),
    MesosProtocolError,
    '"error" is missing',
  );
});

Deno.test("parseEvent() turns an unknown type into UNKNOWN with the raw object", () => {
  const e = parseEvent(lines[13]);
  assert(e.type === "UNKNOWN");
  assertEquals(e.original_type, "UPDATE_AGENT_SOMETHING");
  assertEquals(e.raw.update_agent_something, { x: 1 });
  const missing = parseEvent("{}");
  assert(missing.type === "UNKNOWN");
  assertEquals(missing.original_type, "");
});

Deno.test("parseEvent() rejects malformed JSON and known events without their fields", () => {
  assertThrows(() => parseEvent("{"), MesosProtocolError, "Cannot parse event");
  assertThrows(() => parseEvent("[1]"), MesosProtocolError, "not a JSON object");
  assertThrows(
    () => parseEvent('{"type":"SUBSCRIBED","subscribed":{}}'),
    MesosProtocolError,
    "framework_id",
  );
  assertThrows(
    () => parseEvent('{"type":"UPDATE","update":{"status":{"state":"TASK_RUNNING"}}}'),
    MesosProtocolError,
    "task_id",
  );
  assertThrows(() => parseEvent('{"type":"RESCIND","rescind":{}}'), MesosProtocolError, "offer_id");
  assertThrows(
    () => parseEvent('{"type":"OFFERS","offers":{"offers":[{}]}}'),
    MesosProtocolError,
    "offer",
  );
});

Deno.test("parseEvent() accepts bytes with multi-byte UTF-8", () => {
  const e = parseEvent(
    new TextEncoder().encode('{"type":"ERROR","error":{"message":"rôle “batch” ✗"}}'),
  );
  assert(e.type === "ERROR");
  assertEquals(e.error.message, "rôle “batch” ✗");
});

Deno.test("dispatchEvent() calls the handler of the event's type", () => {
  const seen: string[] = [];
  const handlers: EventHandlers = {
    SUBSCRIBED: (e) => void seen.push(`subscribed ${e.subscribed.framework_id.value}`),
    OFFERS: (e) => void seen.push(`offers ${e.offers.offers?.length}`),
    INVERSE_OFFERS: () => void seen.push("inverse"),
    RESCIND: (e) => void seen.push(`rescind ${e.rescind.offer_id.value.slice(-2)}`),
    RESCIND_INVERSE_OFFER: () => void seen.push("rescind inverse"),
    UPDATE: (e) => void seen.push(`update ${e.update.status.state}`),
    UPDATE_OPERATION_STATUS: () => void seen.push("op"),
    MESSAGE: () => void seen.push("message"),
    FAILURE: () => void seen.push("failure"),
    ERROR: (e) => void seen.push(`error ${e.error.message}`),
    HEARTBEAT: () => void seen.push("heartbeat"),
    UNKNOWN: (e) => void seen.push(`unknown ${e.original_type}`),
  };
  for (const e of recorded()) dispatchEvent(e, handlers);
  assertEquals(seen[0], "subscribed 5b0e7b3a-1c2d-4e5f-8a9b-0c1d2e3f4a5b-0000");
  assertEquals(seen.slice(1, 4), ["heartbeat", "offers 2", "update TASK_RUNNING"]);
  assertEquals(seen.at(-1), "unknown UPDATE_AGENT_SOMETHING");
});
