import assert from "node:assert/strict";
import { isArchive, parseTaskRequestV0, parseTaskRequestV1 } from "./request.ts";
import { EXAMPLES } from "./testdata.ts";

const byName = Object.fromEntries(EXAMPLES.map(([name, , body]) => [name, body]));
const E1 = byName.E1;
const V1_EXAMPLES = EXAMPLES.filter(([, path]) => path === "/api/v1/task");
const V0_EXAMPLES = EXAMPLES.filter(([, path]) => path === "/task");

Deno.test("parseTaskRequestV1() accepts the original's v1 examples", () => {
  assert(V1_EXAMPLES.length >= 3);
  for (const [name, , body] of V1_EXAMPLES) {
    const r = parseTaskRequestV1(body);
    assert(r.ok, `${name}: ${JSON.stringify(r)}`);
    assert.deepEqual(r.unknownKeys, [], name);
  }
});

Deno.test("parseTaskRequestV0() accepts the original's legacy examples", () => {
  assert(V0_EXAMPLES.length >= 5);
  for (const [name, , body] of V0_EXAMPLES) {
    const r = parseTaskRequestV0(body);
    assert(r.ok, `${name}: ${JSON.stringify(r)}`);
  }
});

Deno.test("parseTaskRequestV1() fills defaults and keeps null for unset arrays and maps", () => {
  const r = parseTaskRequestV1(E1);
  assert(r.ok);
  assert.deepEqual(r.request.args, null);
  assert.deepEqual(r.request.env, null);
  assert.deepEqual(r.request.volumes, null);
  assert.deepEqual(r.request.network, "");
  assert.deepEqual(r.request.max_retries, 5);
  assert.deepEqual(r.request.callback_events, "terminal");
});

Deno.test("parseTaskRequestV1() rejects {} naming image, cpu and mem", () => {
  const r = parseTaskRequestV1({});
  assert(!r.ok);
  const paths = r.problems.map((p) => p.path).sort();
  assert.deepEqual(paths, ["cpu", "image", "mem"]);
});

Deno.test("parseTaskRequestV1() rejects documents that can never run", async (t) => {
  const cases: [string, Record<string, unknown>, string][] = [
    ["zero cpu", { ...E1, cpu: 0 }, "cpu"],
    ["negative mem", { ...E1, mem: -1 }, "mem"],
    ["empty image", { ...E1, image: "" }, "image"],
    ["port too big", { ...E1, ports: [{ container_port: 70000 }] }, "ports[0].container_port"],
    [
      "bad protocol",
      { ...E1, ports: [{ container_port: 80, protocol: "sctp" }] },
      "ports[0].protocol",
    ],
    ["unknown network", { ...E1, network: "bridge" }, "network"],
    ["callback not http", { ...E1, callback_uri: "ftp://x" }, "callback_uri"],
    ["env value not a string", { ...E1, env: { A: 1 } }, "env.A"],
    ["legacy key on v1", { ...E1, docker_image: "busybox" }, "docker_image"],
    ["cpu as string", { ...E1, cpu: "1" }, "cpu"],
    ["negative max_retries", { ...E1, max_retries: -1 }, "max_retries"],
    ["fractional gpus", { ...E1, gpus: 0.5 }, "gpus"],
  ];
  for (const [name, body, path] of cases) {
    await t.step(name, () => {
      const r = parseTaskRequestV1(body);
      assert(!r.ok, `${name} accepted`);
      assert(r.problems.some((p) => p.path === path), JSON.stringify(r.problems));
    });
  }
});

Deno.test("parseTaskRequestV1() ignores unknown keys but reports them", () => {
  const r = parseTaskRequestV1({ ...E1, colour: "blue", imagee: "x" });
  assert(r.ok);
  assert.deepEqual(r.unknownKeys, ["colour", "imagee"]);
});

Deno.test("parseTaskRequestV1() drops the null volume the original UI sends", () => {
  const r = parseTaskRequestV1({
    ...E1,
    volumes: [null, { container_path: "/a", host_path: "/b" }],
  });
  assert(r.ok);
  assert.deepEqual(r.request.volumes, [{ container_path: "/a", host_path: "/b" }]);
});

Deno.test("parseTaskRequestV1() rejects non-object bodies", () => {
  for (const body of [null, [], "x", 3, true]) assert(!parseTaskRequestV1(body).ok);
});

Deno.test("parseTaskRequestV0() accepts the legacy examples and maps uris", () => {
  const E5 = {
    command: "docker build",
    docker_image: "docker:1.8",
    env: { USER: "dkeis" },
    masked_env: { PASSWORD: "myactualpassword" },
    task_cpus: 0.1,
    task_mem: 100.0,
    uris: ["https://example.com/1.6/alpine/Dockerfile"],
    volumes: [{ container_path: "/var/run/docker.sock", host_path: "/var/run/docker.sock" }],
  };
  const r = parseTaskRequestV0(E5);
  assert(r.ok, JSON.stringify(r));
  assert.deepEqual(r.request.image, "docker:1.8");
  assert.deepEqual(r.request.cpu, 0.1);
  assert.deepEqual(r.request.fetch, [{
    uri: "https://example.com/1.6/alpine/Dockerfile",
    extract: false,
    executable: false,
    cache: false,
  }]);
  const E9 = {
    task_mem: 22.0,
    task_cpus: 1.0,
    docker_image: "private",
    command: "rails",
    uris: ["file:///etc/docker.tar.gz"],
  };
  const r9 = parseTaskRequestV0(E9);
  assert(r9.ok);
  assert.deepEqual(r9.request.fetch?.[0].extract, true);
  const E6 = {
    docker_image: "busybox",
    command: "date",
    task_cpus: 0.1,
    task_mem: 100.0,
    slave_constraints: [{ attribute_name: "role", attribute_value: "build" }],
  };
  const r6 = parseTaskRequestV0(E6);
  assert(r6.ok);
  assert.deepEqual(r6.request.agent_constraints, [{
    attribute_name: "role",
    attribute_value: "build",
  }]);
});

Deno.test("isArchive() knows the fetcher's archive suffixes", () => {
  assert(isArchive("a.tgz") && isArchive("a.tar.xz") && isArchive("a.zip"));
  assert(!isArchive("Dockerfile") && !isArchive("a.tar"));
});

Deno.test("parseTaskRequestV1() says 'is required' only of absent fields", () => {
  const problems = (body: unknown) => {
    const r = parseTaskRequestV1(body);
    assert(!r.ok);
    return r.problems;
  };
  assert.deepEqual(problems({ ...E1, cpu: "1" }), [{ path: "cpu", problem: "must be a number" }]);
  assert.deepEqual(problems({ ...E1, image: null }), [{
    path: "image",
    problem: "must be a string",
  }]);
  assert.deepEqual(problems({ ...E1, env: { A: {} } }), [{
    path: "env.A",
    problem: "must be a string",
  }]);
  assert.deepEqual(problems({ ...E1, env: [] }), [{ path: "env", problem: "must be an object" }]);
  assert.deepEqual(problems({ ...E1, args: "a" }), [{ path: "args", problem: "must be an array" }]);
  assert.deepEqual(problems({ ...E1, volumes: [{}] }), [
    { path: "volumes[0].container_path", problem: "is required" },
  ]);
  assert.deepEqual(problems({ mem: 1, image: "x" }), [{ path: "cpu", problem: "is required" }]);
});
