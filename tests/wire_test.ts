/**
 * Wire compatibility to the key: every create example of the original (reference §11) is
 * read back through every v1 and v0 response that carries a task (one task, lists), and
 * the order of every key, top level and nested, is the original's.
 */
import assert from "node:assert/strict";
import { EXAMPLES, NESTED_KEYS, V0_KEYS, V1_KEYS } from "../src/task/testdata.ts";
import { startStack, submit, waitForState } from "./_e2e.ts";
import { postJson, request, startTestServer } from "./_helpers.ts";

/** Checks the key order of a task object, top level and nested. */
function assertKeyOrder(task: Record<string, unknown>, version: "v1" | "v0", where: string) {
  const keys = Object.keys(task);
  if (version === "v1") assert.deepEqual(keys.slice(0, V1_KEYS.length), V1_KEYS, where);
  else assert.deepEqual(keys, V0_KEYS, where);
  for (const [key, nested] of Object.entries(NESTED_KEYS)) {
    const list = task[key];
    if (list === undefined || list === null) continue;
    assert.ok(Array.isArray(list), `${where}: ${key}`);
    for (const [i, item] of list.entries()) {
      assert.deepEqual(Object.keys(item), nested, `${where}: ${key}[${i}]`);
    }
  }
}

Deno.test("every v1 and v0 response keeps the original key order for every example", async (t) => {
  await using server = await startTestServer();
  const ids = new Map<string, string>();
  for (const [name, path, body] of EXAMPLES) {
    const res = await postJson(server.url, path, body);
    assert.equal(res.status, 202, `${name}: ${res.text}`);
    ids.set(name, res.body as string);
  }
  await t.step("GET one task, v1 and v0", async () => {
    for (const [name, id] of ids) {
      const v1 = await request(`${server.url}/api/v1/task/${id}`);
      assert.equal(v1.status, 200);
      assertKeyOrder(v1.body as Record<string, unknown>, "v1", `${name} v1`);
      const v0 = await request(`${server.url}/task/${id}`, {
        headers: { accept: "application/json" },
      });
      assert.equal(v0.status, 200);
      assertKeyOrder(v0.body as Record<string, unknown>, "v0", `${name} v0`);
    }
  });
  await t.step("lists, v1 and v0", async () => {
    const v1 = await request(`${server.url}/api/v1/task?state=`);
    const v0 = await request(`${server.url}/task`, { headers: { accept: "application/json" } });
    for (const [list, version] of [[v1, "v1"], [v0, "v0"]] as const) {
      const items = list.body as Record<string, unknown>[];
      assert.equal(items.length, EXAMPLES.length);
      for (const item of items) assertKeyOrder(item, version, `${version} list ${item.id}`);
    }
  });
  await t.step(
    "fetch URIs are serialized as uri, executable, extract, cache, byte for byte",
    async () => {
      // E2 sends extract before executable; E9's legacy uris become fetch entries.
      const e2 = await request(`${server.url}/api/v1/task/${ids.get("E2")}`);
      assert.ok(
        e2.text.includes(
          '"fetch":[{"uri":"http://server.local/another_resource","executable":false,"extract":false,"cache":false}]',
        ),
        e2.text,
      );
      const e9 = await request(`${server.url}/task/${ids.get("E9")}`, {
        headers: { accept: "application/json" },
      });
      assert.ok(
        e9.text.includes(
          '"fetch":[{"uri":"file:///etc/docker.tar.gz","executable":false,"extract":true,"cache":false}]',
        ),
        e9.text,
      );
    },
  );
});

Deno.test("a launched task's ports and status keep the original key order", async () => {
  await using stack = await startStack();
  const id = await submit(stack.url, {
    cpu: 0.1,
    mem: 16,
    image: "busybox",
    command: "true",
    ports: [{ protocol: "tcp", container_port: 0 }],
    fetch: [],
  });
  await waitForState(stack.url, id, "TASK_FINISHED");
  const v1 = (await request(`${stack.url}/api/v1/task/${id}`)).body as Record<string, unknown>;
  assertKeyOrder(v1, "v1", "launched v1");
  const ports = v1.ports as { host_port: number }[];
  assert.ok(ports[0].host_port > 0, "the host port was assigned");
  const v0 = (await request(`${stack.url}/task/${id}`, { headers: { accept: "application/json" } }))
    .body as Record<string, unknown>;
  assertKeyOrder(v0, "v0", "launched v0");
});
