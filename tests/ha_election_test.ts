/** Leader election (src/ha) against a real ZooKeeper: hand-over and no two leaders. */
import assert from "node:assert/strict";
import { Election } from "../src/ha/mod.ts";
import { silentLogger, systemClock } from "../src/runtime.ts";
import { connectZk, parseZkUrl, type ZkClient } from "../src/zk/mod.ts";
import { waitFor } from "./_e2e.ts";
import { zkSuite } from "./_zookeeper.ts";

const TIMEOUT_MS = 2000;

zkSuite("HA leader election", async (zk, t) => {
  const url = parseZkUrl(zk.url("/election/eremetic"));
  /** How many instances lead right now, and the most that ever did at once. */
  let leading = 0;
  let most = 0;
  let deposals = 0;
  const sessions: ZkClient[] = [];
  const join = async (address: string) => {
    const client = await connectZk(url, { sessionTimeoutMs: TIMEOUT_MS });
    sessions.push(client);
    const election = new Election(client, url.path, address, {
      elected: () => void (most = Math.max(most, ++leading)),
      deposed: () => void (leading--, deposals++),
    }, { clock: systemClock, logger: silentLogger, sessionTimeoutMs: client.sessionTimeoutMs });
    await election.start();
    return election;
  };
  try {
    const a = await join("http://a");
    const b = await join("http://b");
    await t.step("the first to join leads; the other knows its address", async () => {
      assert.equal(a.leading, true);
      assert.equal(b.leading, false);
      await waitFor("b to know the leader", () => Promise.resolve(b.leader === "http://a"));
    });
    await t.step("when the leader leaves, the follower leads", async () => {
      await a.close();
      await waitFor("b to lead", () => Promise.resolve(b.leading));
      assert.equal(b.leader, "http://b");
    });
    await t.step(
      "a ZooKeeper freeze past the session timeout never makes two leaders",
      async () => {
        const c = await join("http://c");
        await waitFor("c to follow", () => Promise.resolve(c.leader === "http://b"));
        const before = deposals;
        await zk.pause(TIMEOUT_MS * 2);
        assert.ok(deposals > before, "the leader stopped during the freeze");
        await waitFor("a leader again", () => Promise.resolve(b.leading || c.leading), {
          timeoutMs: 15_000,
        });
        assert.equal([b, c].filter((e) => e.leading).length, 1);
        assert.equal(most, 1, "never two leaders at once");
        await b.close();
        await c.close();
      },
    );
  } finally {
    for (const s of sessions) await s.close();
  }
});
