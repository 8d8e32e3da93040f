import assert from "node:assert/strict";
import { zkSuite } from "./_zookeeper.ts";

zkSuite("startZooKeeper() serves on a private port and stops without a trace", async (zk, t) => {
  await t.step("it answers ruok and srvr", async () => {
    assert.equal(await zk.command("ruok"), "imok");
    assert.match(await zk.command("srvr"), /Mode: standalone/);
  });
  await t.step("restart() comes back on the same port", async () => {
    await zk.restart();
    assert.equal(await zk.command("ruok"), "imok");
  });
  await t.step("stop() ends the server", async () => {
    await zk.stop();
    await assert.rejects(() => zk.command("ruok"));
  });
});
