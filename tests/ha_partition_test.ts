/**
 * "No two schedulers at once", end to end: two `eremetic serve` processes share a real
 * ZooKeeper and the development cluster; ZooKeeper freezes (SIGSTOP) for twice the
 * session timeout, as in a partition, while tasks are submitted. The leader stops leading
 * during the freeze, before ZooKeeper (which expires sessions only when it runs again)
 * can let anyone else in; at no sampled moment do both instances lead; afterwards one
 * leads, and every task answered 202 is launched exactly once (the cluster's `--record`).
 */
import assert from "node:assert/strict";
import { startDevCluster } from "../src/devcluster/mod.ts";
import { getTask, launchedTaskIds, small, waitFor } from "./_e2e.ts";
import { postJson, spawnServer, tempDir } from "./_helpers.ts";
import { haHealth, zkServeFlags, zkSuite } from "./_zookeeper.ts";

const SESSION_TIMEOUT_S = 3;
/** Every answer counts here: a 503 still names the instance's role. */
const ANY = { anyStatus: true };

zkSuite(
  "HA: a ZooKeeper freeze past the session timeout never makes two schedulers",
  async (zk) => {
    await using dir = await tempDir();
    const record = `${dir.path}/record.jsonl`;
    await using cluster = await startDevCluster({ allocationIntervalMs: 50, record });
    const flags = [
      ...zkServeFlags(cluster.url, zk.url("/partition/eremetic"), SESSION_TIMEOUT_S),
      "--hostname",
      "127.0.0.1",
    ];
    const spawn = () => spawnServer({ dbPath: `${dir.path}/unused.kv`, flags });
    await using a = await spawn();
    await waitFor("A to lead", async () => (await haHealth(a.url, ANY))?.ha.role === "leader");
    await using b = await spawn();
    await waitFor("B to follow", async () => (await haHealth(b.url, ANY))?.ha.leader === a.url);

    // Both instances sampled together, all along.
    const samples: { at: number; a: string | null; b: string | null }[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const [ha, hb] = await Promise.all([haHealth(a.url, ANY), haHealth(b.url, ANY)]);
        samples.push({ at: performance.now(), a: ha?.ha.role ?? null, b: hb?.ha.role ?? null });
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    // Submissions to both, one at a time each.
    const accepted: string[] = [];
    let submitting = true;
    const submitter = (target: string) =>
      (async () => {
        for (let i = 0; submitting; i++) {
          const res = await postJson(target, "/api/v1/task", small(`echo p-${i}`), {})
            .catch(() => null);
          if (res?.status === 202) accepted.push(res.body as string);
          else await new Promise((r) => setTimeout(r, 100));
        }
      })();
    const submitters = [submitter(a.url), submitter(b.url)];
    await waitFor("some submissions", () => Promise.resolve(accepted.length >= 6));

    const frozenAt = performance.now();
    await zk.pause(SESSION_TIMEOUT_S * 2 * 1000);
    const thawedAt = performance.now();
    await waitFor("one leader again, subscribed", async () => {
      const [ha, hb] = await Promise.all([haHealth(a.url, ANY), haHealth(b.url, ANY)]);
      const leaders = [ha, hb].filter((h) => h?.ha.role === "leader");
      return leaders.length === 1 && leaders[0]!.mesos?.state === "subscribed";
    }, { timeoutMs: 30_000 });
    const before = accepted.length;
    await waitFor(
      "submissions after the freeze",
      () => Promise.resolve(accepted.length >= before + 4),
    );
    submitting = false;
    await Promise.all(submitters);
    sampling = false;
    await sampler;

    for (const s of samples) {
      assert.ok(!(s.a === "leader" && s.b === "leader"), `both led at ${Math.round(s.at)} ms`);
    }
    // A stopped leading during the freeze, while ZooKeeper could not yet expire anything.
    const stopped = samples.find((s) => s.at > frozenAt && s.a !== null && s.a !== "leader");
    assert.ok(stopped, "A answered as not leading after the freeze began");
    assert.ok(stopped.at < thawedAt, "A stopped before ZooKeeper woke up");

    assert.equal(new Set(accepted).size, accepted.length);
    const url = (await haHealth(a.url, ANY))?.ha.role === "leader" ? a.url : b.url;
    await waitFor("every accepted task to finish", async () => {
      const tasks = await Promise.all(accepted.map((id) => getTask(url, id)));
      return tasks.every((t) => t.status.at(-1)?.status === "TASK_FINISHED");
    }, { timeoutMs: 30_000 });
    const launched = await launchedTaskIds(record);
    for (const id of accepted) {
      const attempts = launched.filter((m) => m === id || m.startsWith(`${id}.retry-`));
      assert.equal(attempts.length, 1, `${id} was launched ${attempts.length} times`);
    }
  },
);
