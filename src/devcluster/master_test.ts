import assert from "node:assert/strict";
import { RecordIODecoder } from "../mesos/recordio.ts";
import { memoryRecorder, startDevCluster } from "./mod.ts";
import { frameworkInfo, type Json, post, subscribe } from "./_test_helpers.ts";

const SUBSCRIBE = { type: "SUBSCRIBE", subscribe: { framework_info: frameworkInfo() } };

Deno.test("scheduler endpoint answers every HTTP check with the master's status codes", async (t) => {
  await using c = await startDevCluster({ agents: 0 });
  const url = `${c.url}/api/v1/scheduler`;

  await t.step("404 for an unknown path, trailing slash accepted", async () => {
    const res = await fetch(`${c.url}/api/v1/nothing`);
    assert.equal(res.status, 404);
    assert.equal(await res.text(), "404 Not Found.");
    const slash = await post(`${url}/`, { type: "REVIVE" });
    assert.equal(slash.status, 400); // reached the scheduler handler
  });

  await t.step("405 with Allow: POST for GET", async () => {
    const res = await fetch(url);
    assert.equal(res.status, 405);
    assert.equal(res.headers.get("allow"), "POST");
    assert.equal(
      await res.text(),
      "405 Method Not Allowed. Expecting one of { 'POST' }, but received 'GET'.",
    );
  });

  await t.step("400 without Content-Type", async () => {
    const res = await fetch(url, { method: "POST", body: new Blob([JSON.stringify(SUBSCRIBE)]) });
    assert.equal(res.status, 400);
    assert.equal(await res.text(), "Expecting 'Content-Type' to be present");
  });

  await t.step(
    "415 for any Content-Type but exactly application/json, even with a bad body",
    async () => {
      for (const type of ["application/json; charset=utf-8", "Application/JSON", "text/plain"]) {
        const res = await post(url, "not json", { "content-type": type });
        assert.equal(res.status, 415, type);
        assert.equal(
          res.text_,
          "Expecting 'Content-Type' of application/json or application/x-protobuf",
        );
      }
      const proto = await post(url, "\x08\x01", { "content-type": "application/x-protobuf" });
      assert.equal(proto.status, 415);
    },
  );

  await t.step("400 for malformed JSON and protobuf conversion failures", async () => {
    const bad = await post(url, "{");
    assert.equal(bad.status, 400);
    assert.match(bad.text_, /^Failed to parse body into JSON: /);
    const missing = await post(url, { type: "SUBSCRIBE", subscribe: { framework_info: {} } });
    assert.equal(missing.status, 400);
    assert.equal(
      missing.text_,
      "Failed to convert JSON into Call protobuf: Missing required fields: subscribe.framework_info.user, subscribe.framework_info.name",
    );
    const number = await post(url, { type: 1 });
    assert.equal(
      number.text_,
      "Failed to convert JSON into Call protobuf: Not expecting a JSON number for field 'type'",
    );
    const bytes = await post(url, {
      type: "ACKNOWLEDGE",
      framework_id: { value: "f" },
      acknowledge: { agent_id: { value: "a" }, task_id: { value: "t" }, uuid: "%%%" },
    });
    assert.equal(
      bytes.text_,
      "Failed to convert JSON into Call protobuf: Failed to base64 decode bytes field 'uuid'",
    );
  });

  await t.step("400 for call validation", async () => {
    const cases: [Json, string][] = [
      [{ type: "NOT_A_TYPE" }, "Expecting 'type' to be present"],
      [{ type: "SUBSCRIBE" }, "Expecting 'subscribe' to be present"],
      [{ type: "REVIVE" }, "Expecting 'framework_id' to be present"],
      [{ type: "ACCEPT", framework_id: { value: "f" } }, "Expecting 'accept' to be present"],
      [
        {
          type: "ACKNOWLEDGE",
          framework_id: { value: "f" },
          acknowledge: { agent_id: { value: "a" }, task_id: { value: "t" }, uuid: "AAAA" },
        },
        "Not a valid UUID",
      ],
      [
        { ...SUBSCRIBE, framework_id: { value: "x" } },
        "'framework_id' differs from 'subscribe.framework_info.id'",
      ],
    ];
    for (const [body, reason] of cases) {
      const res = await post(url, body);
      assert.equal(res.status, 400);
      assert.equal(res.text_, `Failed to validate scheduler::Call: ${reason}`);
    }
  });

  await t.step("406 when Accept excludes JSON; 400 for a stream id on SUBSCRIBE", async () => {
    const proto = await post(url, SUBSCRIBE, { accept: "application/x-protobuf" });
    assert.equal(proto.status, 406);
    assert.equal(
      proto.text_,
      "Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'",
    );
    const withId = await post(url, SUBSCRIBE, { "mesos-stream-id": crypto.randomUUID() });
    assert.equal(withId.status, 400);
    assert.equal(withId.text_, "Subscribe calls should not include the 'Mesos-Stream-Id' header");
  });

  await t.step(
    "non-SUBSCRIBE calls: unknown framework, stream id missing or wrong, 202, 501",
    async () => {
      const unknown = await post(url, { type: "REVIVE", framework_id: { value: "nope" } });
      assert.equal(unknown.status, 400);
      assert.equal(unknown.text_, "Framework cannot be found");
      const sub = await subscribe(url);
      const fid = { value: sub.frameworkId };
      const noId = await post(url, { type: "REVIVE", framework_id: fid });
      assert.equal(noId.status, 400);
      assert.equal(
        noId.text_,
        "All non-subscribe calls should include the 'Mesos-Stream-Id' header",
      );
      const wrong = await post(url, { type: "REVIVE", framework_id: fid }, {
        "mesos-stream-id": "x",
      });
      assert.equal(wrong.status, 400);
      assert.equal(
        wrong.text_,
        `The stream ID 'x' included in this request didn't match the stream ID currently associated with framework ID ${sub.frameworkId}`,
      );
      const ok = await sub.call({ type: "REVIVE" });
      assert.equal(ok.status, 202);
      assert.equal(ok.text_, "");
      const unknownType = await sub.call({ type: "UNKNOWN" });
      assert.equal(unknownType.status, 501);
      await sub.close();
    },
  );
});

Deno.test("SUBSCRIBE streams RecordIO: SUBSCRIBED with 15.0, an immediate HEARTBEAT, then heartbeats", async () => {
  await using c = await startDevCluster({ agents: 0, heartbeatIntervalSeconds: 0.05 });
  const res = await fetch(`${c.url}/master/api/v1/scheduler`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(SUBSCRIBE),
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/json");
  assert.match(res.headers.get("mesos-stream-id")!, /^[0-9a-f-]{36}$/);
  assert.equal(res.headers.get("content-length"), null);
  const reader = res.body!.getReader();
  let raw = new Uint8Array(0);
  const records: string[] = [];
  const decoder = new RecordIODecoder();
  const utf8 = new TextDecoder();
  while (records.length < 4) {
    const { value } = await reader.read();
    const joined = new Uint8Array(raw.length + value!.length);
    joined.set(raw);
    joined.set(value!, raw.length);
    raw = joined;
    records.push(...decoder.decode(value!).map((r) => utf8.decode(r)));
  }
  await reader.cancel();
  const text = new TextDecoder().decode(raw);
  const first = records[0];
  assert.ok(text.startsWith(`${new TextEncoder().encode(first).length}\n{"type":"SUBSCRIBED"`));
  assert.match(first, /"heartbeat_interval_seconds":0\.05/);
  assert.equal(records[1], '{"type":"HEARTBEAT"}');
  assert.ok(text.includes('20\n{"type":"HEARTBEAT"}'));
  assert.equal(records[2], '{"type":"HEARTBEAT"}');
  const subscribed = JSON.parse(first).subscribed;
  assert.equal(subscribed.master_info.port, Number(new URL(c.url).port));
  assert.equal(subscribed.master_info.ip, 16777343);
  assert.match(subscribed.framework_id.value, new RegExp(`^${subscribed.master_info.id}-0000$`));
});

Deno.test("SUBSCRIBED writes heartbeat_interval_seconds as 15.0 by default", async () => {
  const recorder = memoryRecorder();
  await using c = await startDevCluster({ agents: 0, record: recorder });
  const sub = await subscribe(c.schedulerUrl);
  await sub.close();
  assert.match(recorder.lines[0], /^\{"dir":"call","at":"[^"]+","body":\{"type":"SUBSCRIBE"/);
  assert.match(recorder.lines[1], /"dir":"event".*"heartbeat_interval_seconds":15\.0,/);
  assert.match(recorder.lines[2], /"body":\{"type":"HEARTBEAT"\}\}$/);
});

Deno.test("a RecordIO record split across chunks decodes the same", async () => {
  await using c = await startDevCluster({ agents: 1, allocationIntervalMs: 20 });
  c.splitChunks(7);
  const sub = await subscribe(c.schedulerUrl);
  const offers = await sub.next((e) => e.type === "OFFERS");
  assert.equal(offers.offers.offers.length, 1);
  assert.ok(sub.chunks.length > sub.events.length, "records arrived in several chunks");
  await sub.close();
});

Deno.test("FrameworkInfo problems are 200 then ERROR and a closed stream", async () => {
  await using c = await startDevCluster({ agents: 0 });
  const res = await fetch(c.schedulerUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      type: "SUBSCRIBE",
      subscribe: { framework_info: frameworkInfo({ roles: ["a"] }) },
    }),
  });
  assert.equal(res.status, 200);
  const body = await res.text();
  assert.match(
    body,
    /\{"type":"ERROR","error":\{"message":"'FrameworkInfo.roles' must not be set when the framework is not MULTI_ROLE capable"\}\}$/,
  );
});

Deno.test("a second SUBSCRIBE with the same id fails the first stream over", async () => {
  await using c = await startDevCluster({ agents: 1, allocationIntervalMs: 20 });
  const info = frameworkInfo({ failover_timeout: 60 });
  const first = await subscribe(c.schedulerUrl, info);
  await first.next((e) => e.type === "OFFERS");
  const second = await subscribe(c.schedulerUrl, info, { frameworkId: first.frameworkId });
  assert.equal(second.frameworkId, first.frameworkId);
  assert.notEqual(second.streamId, first.streamId);
  const err = await first.next((e) => e.type === "ERROR");
  assert.equal(err.error.message, "Framework failed over");
  await first.closed;
  assert.ok(!first.events.some((e) => e.type === "RESCIND"));
  const stale = await first.call({ type: "REVIVE" });
  assert.equal(stale.status, 400);
  assert.match(stale.text_, /^The stream ID/);
  await second.next((e) => e.type === "OFFERS");
  await second.close();
});

Deno.test("basic authentication: 401 with the scheduler realm, then accepted", async () => {
  await using c = await startDevCluster({
    agents: 0,
    credentials: [{ principal: "eremetic", secret: "s3cret" }],
  });
  const none = await post(c.schedulerUrl, SUBSCRIBE);
  assert.equal(none.status, 401);
  assert.equal(none.headers.get("www-authenticate"), 'Basic realm="mesos-master-scheduler"');
  assert.equal(none.text_, "401 Unauthorized.");
  const wrong = await post(c.schedulerUrl, SUBSCRIBE, {
    authorization: `Basic ${btoa("eremetic:nope")}`,
  });
  assert.equal(wrong.status, 401);
  const auth = { authorization: `Basic ${btoa("eremetic:s3cret")}` };
  const sub = await subscribe(c.schedulerUrl, frameworkInfo(), { headers: auth });
  assert.ok(sub.frameworkId);
  const mismatch = await post(c.schedulerUrl, {
    type: "SUBSCRIBE",
    subscribe: { framework_info: frameworkInfo({ principal: "other" }) },
  }, auth);
  assert.equal(mismatch.status, 400);
  assert.match(mismatch.text_, /does not match principal 'other'/);
  assert.equal((await sub.call({ type: "REVIVE" })).status, 202);
  await sub.close();
});

Deno.test("/health, /version, /master/redirect and /master/state", async () => {
  await using c = await startDevCluster({ agents: 1 });
  assert.equal((await fetch(`${c.url}/health`)).status, 200);
  const version = await (await fetch(`${c.url}/version`)).json();
  assert.equal(version.version, "1.11.0");
  const redirect = await fetch(`${c.url}/master/redirect`, { redirect: "manual" });
  assert.equal(redirect.status, 307);
  assert.equal(redirect.headers.get("location"), `//${new URL(c.url).host}`);
  await redirect.body?.cancel();
  const state = await (await fetch(`${c.url}/master/state`)).json();
  assert.equal(state.slaves.length, 1);
  assert.equal(state.slaves[0].resources.ports, "[31000-32000]");
  assert.equal(state.slaves[0].resources.cpus, 4);
  assert.deepEqual(state.orphan_tasks, []);
  const json = await fetch(`${c.url}/master/state.json`);
  assert.equal(json.status, 404);
  await json.body?.cancel();
  const raw = await (await fetch(`${c.url}/state`)).text();
  assert.match(raw, /"cpus":4\.0/);
});

Deno.test("each RecordIO record travels as exactly one HTTP chunk, as a real master sends it", async () => {
  await using c = await startDevCluster({ agents: 2, allocationIntervalMs: 20 });
  const { hostname, port } = new URL(c.url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  const body = JSON.stringify(SUBSCRIBE);
  await conn.write(new TextEncoder().encode(
    `POST /api/v1/scheduler HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${body.length}\r\n\r\n${body}`,
  ));
  let raw = "";
  const buf = new Uint8Array(65536);
  const decoder = new TextDecoder();
  // Read until the chunked body holds SUBSCRIBED, HEARTBEAT and OFFERS.
  while (!raw.includes('{"type":"OFFERS"')) {
    const n = await conn.read(buf);
    if (n === null) break;
    raw += decoder.decode(buf.subarray(0, n), { stream: true });
  }
  conn.close();
  const [head, chunked] = raw.split("\r\n\r\n", 2);
  assert.match(head, /^HTTP\/1\.1 200 OK/);
  assert.match(head.toLowerCase(), /transfer-encoding: chunked/);
  let rest = chunked;
  const chunks: string[] = [];
  while (rest.length) {
    const nl = rest.indexOf("\r\n");
    const size = parseInt(rest.slice(0, nl), 16);
    if (Number.isNaN(size) || rest.length < nl + 2 + size) break;
    chunks.push(rest.slice(nl + 2, nl + 2 + size));
    rest = rest.slice(nl + 2 + size + 2);
  }
  assert.ok(chunks.length >= 3, JSON.stringify(raw.slice(0, 600)));
  for (const chunk of chunks) {
    const nl = chunk.indexOf("\n");
    assert.equal(Number(chunk.slice(0, nl)), new TextEncoder().encode(chunk.slice(nl + 1)).length);
    JSON.parse(chunk.slice(nl + 1));
  }
  assert.deepEqual(
    chunks.slice(0, 3).map((c) => JSON.parse(c.slice(c.indexOf("\n") + 1)).type),
    ["SUBSCRIBED", "HEARTBEAT", "OFFERS"],
  );
});
