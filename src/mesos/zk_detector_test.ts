import assert from "node:assert/strict";
import { ipFromUint32, leaderNode, masterInfoEndpoint, MasterInfoError } from "./zk_detector.ts";

Deno.test("leaderNode() picks the lowest json.info_ sequence and ignores other children", () => {
  assert.equal(
    leaderNode(["json.info_0000000012", "log_replicas", "json.info_0000000003", "info_0000000001"]),
    "json.info_0000000003",
  );
  assert.equal(leaderNode(["0000000001", "log_replicas"]), null);
  assert.equal(leaderNode([]), null);
});

Deno.test("ipFromUint32() reads MasterInfo.ip as a little-endian IPv4 address", () => {
  assert.equal(ipFromUint32(83886090), "10.0.0.5");
  assert.equal(ipFromUint32(16777343), "127.0.0.1");
  assert.equal(ipFromUint32(0xffffffff), "255.255.255.255");
});

Deno.test("masterInfoEndpoint() prefers address, then falls back to hostname or ip and port", () => {
  const full = {
    id: "x",
    ip: 83886090,
    port: 5050,
    pid: "master@10.0.0.5:5050",
    hostname: "m1.example.net",
    address: { hostname: "m1.example.net", ip: "10.0.0.5", port: 5051 },
  };
  assert.equal(
    masterInfoEndpoint(JSON.stringify(full)).href,
    "http://m1.example.net:5051/api/v1/scheduler",
  );
  assert.equal(
    masterInfoEndpoint(JSON.stringify({ address: { ip: "10.0.0.6", port: 5050 } })).href,
    "http://10.0.0.6:5050/api/v1/scheduler",
  );
  assert.equal(
    masterInfoEndpoint(new TextEncoder().encode(JSON.stringify({ ip: 16777343, port: 5052 })))
      .href,
    "http://127.0.0.1:5052/api/v1/scheduler",
  );
  assert.equal(
    masterInfoEndpoint(JSON.stringify({ hostname: "m2", ip: 16777343, port: 5053 })).href,
    "http://m2:5053/api/v1/scheduler",
  );
  assert.equal(
    masterInfoEndpoint(JSON.stringify({ address: { ip: "::1", port: 5050 } })).href,
    "http://[::1]:5050/api/v1/scheduler",
  );
});

Deno.test("masterInfoEndpoint() rejects data it cannot use", () => {
  for (const bad of ["master@10.0.0.5:5050", "[]", '{"port":5050}', '{"hostname":"m1"}', "null"]) {
    assert.throws(() => masterInfoEndpoint(bad), MasterInfoError, bad);
  }
});
