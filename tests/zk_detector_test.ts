import assert from "node:assert/strict";
import { startDevCluster, zkRegistry } from "../src/devcluster/mod.ts";
import {
  acceptCall,
  commandTask,
  eventually,
  frameworkInfo,
  updateFor,
} from "../src/devcluster/_test_helpers.ts";
import { acknowledgeStatus, type Event, startDriver } from "../src/mesos/mod.ts";
import { zkDetector } from "../src/mesos/zk_detector.ts";
import { connectZk, parseZkUrl, type ZkClient } from "../src/zk/mod.ts";
import { zkSuite } from "./_zookeeper.ts";

const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

/** Registers a pretend master as a Mesos master does; returns its node path. */
function register(zk: ZkClient, path: string, info: unknown): Promise<string> {
  return zk.create(`${path}/json.info_`, enc(info), { mode: "ephemeral_sequential" });
}

/** Resolves with whether `p` settles within `ms`. */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer!: ReturnType<typeof setTimeout>;
  const timeout = new Promise<boolean>((r) => timer = setTimeout(() => r(false), ms));
  const done = p.then(() => true, () => true);
  const result = await Promise.race([done, timeout]);
  clearTimeout(timer);
  return result;
}

zkSuite("zkDetector() follows the leading Mesos master in ZooKeeper", async (zk, t) => {
  await using writer = await connectZk(parseZkUrl(zk.url("/writer")), {
    sessionTimeoutMs: 30_000,
  });

  await t.step("the lowest json.info_ leads; changes and an empty group are reported", async () => {
    await writer.mkdirp("/m1/mesos");
    await writer.create("/m1/mesos/log_replicas", enc(""));
    const a = await register(writer, "/m1/mesos", {
      id: "a",
      address: { hostname: "127.0.0.1", ip: "127.0.0.1", port: 5051 },
      port: 5051,
    });
    // An older master: hostname absent, the little-endian ip and port only.
    await register(writer, "/m1/mesos", { id: "b", ip: 16777343, port: 5052 });
    const d = zkDetector(parseZkUrl(zk.url("/m1/mesos")));
    try {
      const first = await d.leader();
      assert.equal(first.href, "http://127.0.0.1:5051/api/v1/scheduler");
      const ac = new AbortController();
      const changed = d.leaderChanged!(first, ac.signal);
      assert.equal(await settlesWithin(changed, 300), false);
      await writer.remove(a);
      await changed;
      const second = await d.leader();
      assert.equal(second.href, "http://127.0.0.1:5052/api/v1/scheduler");
      // Nobody left: leaderChanged() resolves and leader() waits for the next master.
      const gone = d.leaderChanged!(second, ac.signal);
      for (const c of (await writer.getChildren("/m1/mesos"))!) {
        if (c.startsWith("json.info_")) await writer.remove(`/m1/mesos/${c}`);
      }
      await gone;
      const next = d.leader();
      assert.equal(await settlesWithin(next, 300), false);
      await register(writer, "/m1/mesos", { address: { ip: "127.0.0.2", port: 5053 } });
      assert.equal((await next).href, "http://127.0.0.2:5053/api/v1/scheduler");
    } finally {
      await d.close!();
    }
  });

  await t.step("a group that does not exist yet is waited for", async () => {
    const d = zkDetector(parseZkUrl(zk.url("/m2/mesos")));
    try {
      const first = d.leader();
      assert.equal(await settlesWithin(first, 300), false);
      await writer.mkdirp("/m2/mesos");
      await register(writer, "/m2/mesos", { address: { ip: "127.0.0.3", port: 5050 } });
      assert.equal((await first).href, "http://127.0.0.3:5050/api/v1/scheduler");
    } finally {
      await d.close!();
    }
  });

  await t.step("an expired session keeps the leader and watches again", async () => {
    await writer.mkdirp("/m3/mesos");
    const a = await register(writer, "/m3/mesos", { address: { ip: "127.0.0.4", port: 1 } });
    await register(writer, "/m3/mesos", { address: { ip: "127.0.0.5", port: 2 } });
    const d = zkDetector(parseZkUrl(zk.url("/m3/mesos")), { sessionTimeoutMs: 2000 });
    try {
      const leader = await d.leader();
      const ac = new AbortController();
      const changed = d.leaderChanged!(leader, ac.signal);
      // Only the detector's 2 s session expires; the writer's 30 s one survives the freeze.
      await zk.pause(3500);
      assert.equal(await settlesWithin(changed, 1500), false);
      assert.equal((await d.leader()).href, leader.href);
      await writer.remove(a);
      await changed;
      assert.equal((await d.leader()).href, "http://127.0.0.5:2/api/v1/scheduler");
    } finally {
      await d.close!();
    }
  });

  await t.step(
    "the driver follows a dev cluster's master failover, same framework id, task kept",
    async () => {
      const url = parseZkUrl(zk.url("/m4/mesos"));
      await using cluster = await startDevCluster({
        masters: 2,
        agents: 1,
        executor: "simulated",
        simulateDurationMs: 60_000,
        allocationIntervalMs: 20,
        agentReregisterDelayMs: 100,
        registry: zkRegistry(await connectZk(url), url.path),
      });
      // The masters registered as Mesos does: two world-readable json.info_ nodes.
      const nodes = (await writer.getChildren(url.path))!.filter((c) => c.startsWith("json.info_"));
      assert.equal(nodes.length, 2);
      await using driver = startDriver({
        master: String(url),
        frameworkInfo: frameworkInfo({ failover_timeout: 60 }),
        backoff: { initialMs: 10, maxMs: 100 },
      });
      const events = driver.events[Symbol.asyncIterator]();
      const seen: string[] = [];
      let pending: Promise<IteratorResult<Event>> | null = null;
      const next = async (pred: (e: Event) => boolean, what: string): Promise<Event> => {
        const deadline = Date.now() + 10_000;
        while (Date.now() < deadline) {
          pending ??= events.next();
          const r = await Promise.race([
            pending,
            new Promise<null>((r) => setTimeout(() => r(null), 500)),
          ]);
          if (r === null) continue;
          pending = null;
          if (r.done) throw new Error(`driver ended while waiting for ${what}`);
          seen.push(r.value.type);
          if (pred(r.value)) return r.value;
        }
        throw new Error(`no ${what} in 10 s; seen ${seen.join(" ")}`);
      };
      const subscribed = await next((e) => e.type === "SUBSCRIBED", "SUBSCRIBED");
      assert.equal(subscribed.type, "SUBSCRIBED");
      const frameworkId = driver.frameworkId;
      const firstMaster = driver.currentStatus.master;
      assert.equal(`http://${firstMaster}`, cluster.masterUrl);
      const offers = await next((e) => e.type === "OFFERS", "OFFERS");
      if (offers.type !== "OFFERS") throw new Error("unreachable");
      const offer = offers.offers.offers![0];
      await driver.call(
        // deno-lint-ignore no-explicit-any
        acceptCall([offer.id.value], [commandTask(offer as any, "kept", { value: "x" })]),
      );
      // Updates come one at a time, each after the previous one's acknowledgement.
      for (;;) {
        const update = await next((e) => updateFor("kept")(e), "an update of the task");
        if (update.type !== "UPDATE") throw new Error("unreachable");
        const ack = acknowledgeStatus(update.update.status);
        if (ack) await driver.call(ack);
        if (update.update.status.state === "TASK_RUNNING") break;
      }

      await cluster.failover();
      // Found through ZooKeeper: the driver resubscribes to the new leader with its id.
      await next((e) => e.type === "SUBSCRIBED", "SUBSCRIBED");
      assert.equal(driver.frameworkId, frameworkId);
      assert.notEqual(driver.currentStatus.master, firstMaster);
      assert.equal(`http://${driver.currentStatus.master}`, cluster.masterUrl);
      // The agent reregisters with the new master, which knows the task running.
      const kept = await eventually(() => taskState(cluster.state(), "kept"));
      assert.equal(kept, "TASK_RUNNING");
    },
  );
});

/** The state of task `id` in a master's `/state` document, or undefined. */
function taskState(state: Record<string, unknown>, id: string): string | undefined {
  const frameworks = (state.frameworks ?? []) as { tasks?: { id: string; state: string }[] }[];
  return frameworks.flatMap((f) => f.tasks ?? []).find((t) => t.id === id)?.state;
}
