import assert from "node:assert/strict";
import { makeMasterInfo } from "./master_info.ts";
import { memberName, memoryRegistry } from "./registry.ts";

Deno.test("memoryRegistry() elects the lowest json.info_ sequence", async () => {
  const registry = memoryRegistry();
  const seen: (string | null)[] = [];
  const stop = registry.watch((leader) => seen.push(leader?.id ?? null));
  const a = await registry.join(makeMasterInfo("a", "127.0.0.1", 5050));
  const b = await registry.join(makeMasterInfo("b", "127.0.0.1", 5051));
  assert.equal(a.name, "json.info_0000000000");
  assert.equal(b.name, memberName(1));
  assert.equal((await registry.leader())?.id, "a");
  const data = JSON.parse(registry.nodes().get(b.name)!);
  assert.equal(data.address.port, 5051);
  assert.equal(data.ip, 16777343);
  await a.cancel();
  assert.equal((await registry.leader())?.id, "b");
  await b.cancel();
  assert.equal(await registry.leader(), null);
  stop();
  assert.deepEqual(seen, ["a", "a", "b", null]);
  await registry.close();
});
