import assert from "node:assert/strict";
import {
  checkCall,
  checkCaller,
  type ReadCall,
  readCall,
  type SchedulerRequest,
} from "./scheduler_request.ts";
import { addFramework, fakeBooks } from "./_fixtures.ts";

function request(
  body: string,
  headers: Record<string, string> = { "content-type": "application/json" },
  method = "POST",
): SchedulerRequest {
  return { method, header: (name) => headers[name] ?? null, text: () => body };
}

/** `status body` of an answer. */
async function answer(res: Response | ReadCall | null): Promise<string> {
  assert.ok(res instanceof Response, "an answer");
  return `${res.status} ${await res.text()}`;
}

const revive = JSON.stringify({ type: "REVIVE", framework_id: { value: "f" } });

Deno.test("readCall() checks method, content type, JSON and conversion in the master's order", async () => {
  assert.match(await answer(readCall(request("", {}, "GET"))), /^405 405 Method Not Allowed/);
  assert.equal(
    await answer(readCall(request("x", {}))),
    "400 Expecting 'Content-Type' to be present",
  );
  assert.match(
    await answer(readCall(request(revive, { "content-type": "application/x-protobuf" }))),
    /^415 /,
  );
  assert.match(await answer(readCall(request("{"))), /^400 Failed to parse body into JSON: /);
  assert.equal(
    await answer(readCall(request('{"type":"REVIVE","revive":{"roles":"a"}}'))),
    "400 Failed to convert JSON into Call protobuf: Not expecting a JSON string for field 'roles'",
  );
  const read = readCall(request(revive)) as ReadCall;
  assert.equal(read.call.type, "REVIVE");
  assert.equal(read.record, revive, "recorded as received");
  const multiline = readCall(request('{\n"type": "REVIVE"\n}')) as ReadCall;
  assert.equal(multiline.record, '{"type":"REVIVE"}', "one line per record");
});

Deno.test("checkCall() validates, then Accept, then the stream id of SUBSCRIBE", async () => {
  const subscribe = {
    type: "SUBSCRIBE" as const,
    subscribe: { framework_info: { user: "u", name: "n" } },
  };
  assert.equal(checkCall(subscribe, request("")), null);
  assert.equal(
    await answer(checkCall({ type: "KILL", framework_id: { value: "f" } }, request(""))),
    "400 Failed to validate scheduler::Call: Expecting 'kill' to be present",
  );
  const protobufOnly = { "accept": "application/x-protobuf" };
  assert.match(await answer(checkCall(subscribe, request("", protobufOnly))), /^406 /);
  assert.equal(
    await answer(checkCall(subscribe, request("", { "mesos-stream-id": "s" }))),
    "400 Subscribe calls should not include the 'Mesos-Stream-Id' header",
  );
  // Only streaming calls care about Accept.
  assert.equal(
    checkCall({ type: "REVIVE", framework_id: { value: "f" } }, request("", protobufOnly)),
    null,
  );
});

Deno.test("checkCaller() wants the framework's principal, a subscription and its stream id", async () => {
  const { books } = fakeBooks();
  const fw = addFramework(books, "f", { principal: "p" });
  const ok = request("", { "mesos-stream-id": "f-stream" });
  assert.equal(checkCaller(fw, ok, "p"), null);
  assert.match(await answer(checkCaller(fw, ok, "q")), /^400 Authenticated principal 'q'/);
  assert.equal(
    await answer(checkCaller(fw, request(""))),
    "400 All non-subscribe calls should include the 'Mesos-Stream-Id' header",
  );
  assert.match(
    await answer(checkCaller(fw, request("", { "mesos-stream-id": "s0" }))),
    /^400 The stream ID 's0' included in this request didn't match .* framework ID f$/,
  );
  fw.sub = null;
  assert.equal(await answer(checkCaller(fw, ok)), "403 Framework is not subscribed");
});
