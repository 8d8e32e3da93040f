/**
 * High availability against a real ZooKeeper and the development cluster: two `eremetic
 * serve` processes elect a leader, the follower forwards writes, and when the leader is
 * SIGKILLed during a stream of submissions the follower takes over; every submission
 * answered 202 exists, is launched exactly once (the cluster's `--record`) and finishes.
 */
import assert from "node:assert/strict";
import { startDevCluster } from "../src/devcluster/mod.ts";
import { getTask, launchedTaskIds, small, waitFor } from "./_e2e.ts";
import { postJson, type SpawnedServer, spawnServer, tempDir } from "./_helpers.ts";
import { zkSuite } from "./_zookeeper.ts";

const SESSION_TIMEOUT_S = 3;

interface Health {
  ha: { role: string; leader: string | null };
  mesos?: { state: string };
}

async function health(url: string): Promise<Health | null> {
  try {
    const res = await fetch(`${url}/api/v1/health`);
    return res.ok ? await res.json() : (await res.body?.cancel(), null);
  } catch {
    return null;
  }
}

zkSuite(
  "HA: the follower takes over a SIGKILLed leader; no 202 lost, none launched twice",
  async (zk) => {
    await using dir = await tempDir();
    const record = `${dir.path}/record.jsonl`;
    await using cluster = await startDevCluster({ allocationIntervalMs: 50, record });
    const flags = [
      "--master",
      cluster.url,
      "--refuse-seconds",
      "1",
      "--database-driver",
      "zk",
      "--database",
      zk.url("/ha/eremetic"),
      "--zk-session-timeout-seconds",
      String(SESSION_TIMEOUT_S),
      "--hostname",
      "127.0.0.1",
    ];
    const spawn = () => spawnServer({ dbPath: `${dir.path}/unused.kv`, flags });
    await using a = await spawn();
    await waitFor("A to lead", async () => (await health(a.url))?.ha.role === "leader");
    await using b = await spawn();
    const bHealth = await waitFor("B to follow A", async () => {
      const h = await health(b.url);
      return h?.ha.role === "follower" && h.ha.leader === a.url ? h : null;
    });
    assert.equal(bHealth.ha.leader, a.url);

    // A stream of submissions to both instances, four at a time.
    const accepted: string[] = [];
    const refused: number[] = [];
    let stop = false;
    let aDead = false;
    let n = 0;
    const worker = async () => {
      while (!stop) {
        const i = n++;
        const target: SpawnedServer = i % 2 === 0 && !aDead ? a : b;
        try {
          const res = await postJson(target.url, "/api/v1/task", small(`echo ha-${i}`));
          if (res.status === 202) {
            assert.match(res.headers.get("location") ?? "", /\/api\/v1\/task\//);
            accepted.push(res.body as string);
          } else {
            assert.equal(res.status, 503, res.text);
            refused.push(i);
            await new Promise((r) => setTimeout(r, 100));
          }
        } catch (e) {
          // Only A, being killed, may fail to answer.
          assert.ok(target === a, `B failed: ${(e as Error).message}`);
        }
      }
    };
    const workers = Array.from({ length: 4 }, worker);
    await waitFor(
      "some submissions through both",
      async () => await Promise.resolve(accepted.length >= 16),
    );
    const killedAt = performance.now();
    aDead = true;
    const status = await a.kill("SIGKILL");
    assert.equal(status.signal, "SIGKILL");
    await waitFor(
      "B to lead",
      async () => (await health(b.url))?.ha.role === "leader",
      { timeoutMs: (SESSION_TIMEOUT_S + 10) * 1000 },
    );
    const takeoverMs = performance.now() - killedAt;
    assert.ok(
      takeoverMs <= (SESSION_TIMEOUT_S + 5) * 1000,
      `takeover took ${Math.round(takeoverMs)} ms`,
    );
    const acceptedBefore = accepted.length;
    await waitFor(
      "submissions accepted by the new leader",
      async () => await Promise.resolve(accepted.length >= acceptedBefore + 8),
    );
    stop = true;
    await Promise.all(workers);

    assert.equal(new Set(accepted).size, accepted.length, "ids are unique");
    await waitFor("every accepted task to finish", async () => {
      const tasks = await Promise.all(accepted.map((id) => getTask(b.url, id)));
      return tasks.every((t) => t.status.at(-1)?.status === "TASK_FINISHED");
    }, { timeoutMs: 30_000 });
    const launched = await launchedTaskIds(record);
    for (const id of accepted) {
      const attempts = launched.filter((m) => m === id || m.startsWith(`${id}.retry-`));
      assert.equal(attempts.length, 1, `${id} was launched ${attempts.length} times`);
    }
    const bState = await health(b.url);
    assert.equal(bState?.mesos?.state, "subscribed");
    assert.equal(bState?.ha.leader, b.url);
  },
);
