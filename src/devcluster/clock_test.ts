import assert from "node:assert/strict";
import { FakeClock } from "../runtime.ts";
import { startDevCluster } from "./mod.ts";
import { eventually, frameworkInfo, subscribe } from "./_test_helpers.ts";

Deno.test("with a FakeClock, heartbeats and the failover timeout follow the clock exactly", async () => {
  const clock = new FakeClock();
  await using c = await startDevCluster({ agents: 0, clock });
  const sub = await subscribe(c.schedulerUrl, frameworkInfo({ failover_timeout: 30 }));
  await sub.next((e) => e.type === "HEARTBEAT"); // the immediate one
  await clock.tick(14_999);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(sub.events.filter((e) => e.type === "HEARTBEAT").length, 1);
  await clock.tick(1);
  await sub.next((e) => e.type === "HEARTBEAT");

  await sub.close();
  await eventually(async () => (await sub.call({ type: "REVIVE" })).status === 403);
  await clock.tick(29_999);
  assert.equal((await sub.call({ type: "REVIVE" })).status, 403);
  await clock.tick(1);
  const gone = await sub.call({ type: "REVIVE" });
  assert.equal(gone.status, 400);
  assert.equal(gone.text_, "Framework cannot be found");
});
