/**
 * High availability against a real ZooKeeper and the development cluster: two `eremetic
 * serve` processes elect a leader, the follower serves reads (tasks, lists, stdout, live
 * stream, health) from its own mirror of ZooKeeper and forwards writes, and when the
 * leader is SIGKILLed during a stream of submissions the follower keeps answering reads
 * while it takes over; every submission answered 202 exists, is launched exactly once
 * (the cluster's `--record`) and finishes.
 */
import assert from "node:assert/strict";
import { startDevCluster } from "../src/devcluster/mod.ts";
import { getTask, launchedTaskIds, small, waitFor, waitForState } from "./_e2e.ts";
import { postJson, request, type SpawnedServer, spawnServer, tempDir } from "./_helpers.ts";
import { haHealth, zkServeFlags, zkSuite } from "./_zookeeper.ts";

const SESSION_TIMEOUT_S = 3;

/** Reads an SSE response's text as it comes, until closed. */
function collectStream(res: Response): { text: () => string; done: Promise<void> } {
  let text = "";
  const decoder = new TextDecoder();
  const done = (async () => {
    try {
      for await (const chunk of res.body!) text += decoder.decode(chunk, { stream: true });
    } catch {
      // Cancelled at the end of the test.
    }
  })();
  return { text: () => text, done };
}

zkSuite(
  "HA: the follower takes over a SIGKILLed leader; no 202 lost, none launched twice",
  async (zk) => {
    await using dir = await tempDir();
    const record = `${dir.path}/record.jsonl`;
    await using cluster = await startDevCluster({ allocationIntervalMs: 50, record });
    const flags = [
      ...zkServeFlags(cluster.url, zk.url("/ha/eremetic"), SESSION_TIMEOUT_S),
      "--hostname",
      "127.0.0.1",
    ];
    const spawn = () => spawnServer({ dbPath: `${dir.path}/unused.kv`, flags });
    await using a = await spawn();
    await waitFor("A to lead", async () => (await haHealth(a.url))?.ha.role === "leader");
    await using b = await spawn();
    const bHealth = await waitFor("B to follow A", async () => {
      const h = await haHealth(b.url);
      return h?.ha.role === "follower" && h.ha.leader === a.url ? h : null;
    });
    assert.equal(bHealth.ha.leader, a.url);

    // The follower answers reads itself, from its read-only mirror of ZooKeeper.
    await waitFor("B's mirror", async () => (await haHealth(b.url))?.mesos?.state === "standby");
    const own = (await haHealth(b.url))!;
    assert.equal(own.status, "ok");
    assert.match(own.store?.description ?? "", /read-only/);
    const streamAbort = new AbortController();
    const bStream = await fetch(`${b.url}/api/v1/events`, { signal: streamAbort.signal });
    assert.equal(bStream.status, 200);
    const bEvents = collectStream(bStream);
    // Read your writes on either instance: a submit through one is found at once on both.
    for (const [via, other] of [[a, b], [b, a]]) {
      const res = await postJson(via.url, "/api/v1/task", small("echo ryw"));
      assert.equal(res.status, 202, res.text);
      const id = res.body as string;
      for (const server of [via, other]) {
        const got = await request(`${server.url}/api/v1/task/${id}`);
        assert.equal(got.status, 200, `${id} on ${server === a ? "A" : "B"}: ${got.text}`);
      }
    }
    const first = await postJson(a.url, "/api/v1/task", small("echo from-a-to-b"));
    const firstId = first.body as string;
    await waitForState(b.url, firstId, "TASK_FINISHED");
    const stdout = await request(`${b.url}/api/v1/task/${firstId}/stdout`);
    assert.equal(stdout.status, 200);
    assert.match(stdout.text, /from-a-to-b/);
    // The follower's live stream heard the leader's task finish, from the watches.
    await waitFor(
      "B's stream to carry the task's end",
      () =>
        Promise.resolve(/TASK_FINISHED/.test(bEvents.text()) && bEvents.text().includes(firstId)),
    );
    const page = await request(`${b.url}/`, { headers: { accept: "text/html" } });
    assert.equal(page.status, 200);
    // Kill and delete through the follower: forwarded, and seen there at once.
    const long = await postJson(b.url, "/api/v1/task", small("sleep 60"));
    const longId = long.body as string;
    await waitForState(b.url, longId, "TASK_RUNNING");
    const kill = await request(`${b.url}/api/v1/task/${longId}/kill`, { method: "POST" });
    assert.equal(kill.status, 202, kill.text);
    await waitForState(b.url, longId, "TASK_KILLED");
    const del = await request(`${b.url}/api/v1/task/${longId}`, { method: "DELETE" });
    assert.equal(del.status, 202, del.text);
    assert.equal((await request(`${b.url}/api/v1/task/${longId}`)).status, 404);
    assert.equal((await request(`${a.url}/api/v1/task/${longId}`)).status, 404);

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
            assert.ok(res.headers.get("retry-after"), "503 with Retry-After");
            assert.equal(typeof (res.body as { error?: unknown }).error, "string", res.text);
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
    // Until B leads, it answers reads from its mirror; writes it cannot place get 503.
    let readsDuringFailover = 0;
    while ((await haHealth(b.url))?.ha.role !== "leader") {
      const got = await request(`${b.url}/api/v1/task/${firstId}`);
      assert.equal(got.status, 200, got.text);
      const list = await request(`${b.url}/api/v1/task?state=`);
      assert.equal(list.status, 200, list.text);
      readsDuringFailover++;
      if (performance.now() - killedAt > (SESSION_TIMEOUT_S + 10) * 1000) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(readsDuringFailover > 0, "B was read during the failover");
    await waitFor(
      "B to lead",
      async () => (await haHealth(b.url))?.ha.role === "leader",
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
    streamAbort.abort();
    await bEvents.done;
    const bState = await haHealth(b.url);
    assert.equal(bState?.mesos?.state, "subscribed");
    assert.equal(bState?.ha.leader, b.url);
  },
);
