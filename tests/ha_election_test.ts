/**
 * Leader election (src/ha) against a real ZooKeeper: hand-over and no two leaders. The
 * freeze step is the "no two schedulers at once" argument of docs/operations.md measured:
 * the leader cut off from ZooKeeper stops (the front closes its scheduler on `deposed`)
 * before ZooKeeper can expire its session, and the next leader is elected only after
 * that expiry, so the two never overlap.
 */
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
  /** When each instance was elected and deposed (performance.now() ms). */
  const timeline: { address: string; event: "elected" | "deposed"; at: number }[] = [];
  const sessions: ZkClient[] = [];
  const join = async (address: string) => {
    const client = await connectZk(url, { sessionTimeoutMs: TIMEOUT_MS });
    sessions.push(client);
    const election = new Election(client, url.path, address, {
      elected: () => {
        most = Math.max(most, ++leading);
        timeline.push({ address, event: "elected", at: performance.now() });
      },
      deposed: () => {
        leading--;
        deposals++;
        timeline.push({ address, event: "deposed", at: performance.now() });
      },
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
        const frozenAt = performance.now();
        const from = timeline.length;
        await zk.pause(TIMEOUT_MS * 2);
        assert.ok(deposals > before, "the leader stopped during the freeze");
        await waitFor("a leader again", () => Promise.resolve(b.leading || c.leading), {
          timeoutMs: 15_000,
        });
        assert.equal([b, c].filter((e) => e.leading).length, 1);
        assert.equal(most, 1, "never two leaders at once");
        const events = timeline.slice(from);
        const stopped = events.find((e) => e.address === "http://b" && e.event === "deposed");
        assert.ok(stopped, "b stopped");
        // b stopped before ZooKeeper could expire its session (a session timeout after it
        // last heard from b, which is no earlier than the freeze)...
        assert.ok(
          stopped.at - frozenAt < TIMEOUT_MS,
          `b stopped ${Math.round(stopped.at - frozenAt)} ms into the freeze`,
        );
        // ...and whoever leads next was elected after b stopped.
        const next = events.find((e) => e.event === "elected");
        assert.ok(next, "a leader was elected after the freeze");
        assert.ok(next.at > stopped.at, "the next leader started after b stopped");
        await b.close();
        await c.close();
      },
    );
  } finally {
    for (const s of sessions) await s.close();
  }
});
