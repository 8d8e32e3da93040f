/**
 * `eremetic devcluster --zk zk://... --masters 3` from the command line, against a real
 * ZooKeeper: the masters register as Mesos masters do, the non-leading ones answer
 * scheduler calls with a 307 to the leader, and killing the leader promotes the next one,
 * which learns the agents and their tasks as they reregister. Eremetic, pointed at the
 * zk:// URL, follows the new leader as the same framework: every task finishes and none
 * is launched twice (the cluster's `--record`).
 */
import assert from "node:assert/strict";
import { connectZk, parseZkUrl } from "../src/zk/mod.ts";
import { getTask, launchedTaskIds, launchesPerTask, small, submit, waitFor } from "./_e2e.ts";
import { collectText, REPO_ROOT, startTestServer, tempDir } from "./_helpers.ts";
import { zkSuite } from "./_zookeeper.ts";

interface ClusterState {
  leader: string | null;
  masters: { url: string; id: string; leading: boolean; killed: boolean }[];
}

/** `main.ts devcluster` as a child process; resolves once it printed its URL. */
async function spawnDevcluster(args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${REPO_ROOT}/main.ts`, "devcluster", ...args],
    cwd: REPO_ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = collectText(child.stderr);
  const drained = stderr.done;
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!out.includes("\n")) {
    const { value, done } = await lines.read();
    if (done) {
      await child.status;
      await drained;
      throw new Error(`devcluster exited before printing its URL:\n${stderr.text()}`);
    }
    out += value;
  }
  const rest = (async () => {
    while (!(await lines.read()).done) { /* drain */ }
  })();
  let stopping: Promise<Deno.CommandStatus> | null = null;
  const stop = () =>
    stopping ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      const [status] = await Promise.all([child.status, drained, rest]);
      return status;
    })();
  return {
    url: out.trim(),
    log: stderr.text,
    stop,
    [Symbol.asyncDispose]: async () => void await stop(),
  };
}

async function clusterState(url: string): Promise<ClusterState> {
  return await (await fetch(`${url}/devcluster/state`)).json();
}

const SUBSCRIBE = JSON.stringify({
  type: "SUBSCRIBE",
  subscribe: { framework_info: { user: "probe", name: "probe" } },
});

zkSuite(
  "devcluster --zk --masters 3: 307 to the leader, a killed leader's successor recovers, Eremetic follows",
  async (zk) => {
    await using dir = await tempDir();
    const record = `${dir.path}/record.jsonl`;
    const zkUrl = zk.url("/cli/mesos");
    await using cluster = await spawnDevcluster([
      "--port=0",
      "--masters=3",
      "--agents=2",
      "--executor=simulated",
      "--simulate-duration=2s",
      "--allocation-interval=50ms",
      `--zk=${zkUrl}`,
      `--record=${record}`,
    ]);

    // Three masters registered as Mesos does; the first one printed leads.
    const before = await clusterState(cluster.url);
    assert.equal(before.masters.length, 3);
    assert.equal(before.leader, cluster.url);
    await using reader = await connectZk(parseZkUrl(zkUrl));
    const nodes = (await reader.getChildren("/cli/mesos"))!.filter((n) =>
      n.startsWith("json.info_")
    );
    assert.equal(nodes.length, 3);
    const leaderHost = new URL(cluster.url).host;
    const followers = before.masters.filter((m) => !m.leading).map((m) => m.url);

    // Followers answer scheduler calls with 307 and a protocol-relative Location, as Mesos.
    for (const follower of followers) {
      for (const path of ["/api/v1/scheduler", "/master/api/v1/scheduler"]) {
        const res = await fetch(`${follower}${path}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: SUBSCRIBE,
          redirect: "manual",
        });
        await res.body?.cancel();
        assert.equal(res.status, 307, `${follower}${path}`);
        assert.equal(res.headers.get("location"), `//${leaderHost}/master/api/v1/scheduler`);
      }
    }

    await using server = await startTestServer({
      driver: "kv",
      flags: ["--master", zkUrl, "--refuse-seconds", "1"],
    });
    const health = async () => await (await fetch(`${server.url}/api/v1/health`)).json();
    const frameworkId = await waitFor("Eremetic to subscribe", async () => {
      const h = await health();
      return h.mesos.state === "subscribed" ? h.mesos.framework_id as string : null;
    });
    const lastState = async (id: string) => (await getTask(server.url, id)).status.at(-1)?.status;
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(await submit(server.url, small(`echo before-${i}`)));
    await waitFor("tasks running on the first leader", async () => {
      const states = await Promise.all(ids.map(lastState));
      return states.filter((s) => s === "TASK_RUNNING").length >= 3;
    });

    // Kill the leader through a follower's control API.
    const killRes = await fetch(`${followers[0]}/devcluster/master/kill`, { method: "POST" });
    assert.equal(killRes.status, 200);
    assert.deepEqual(await killRes.json(), { killed: cluster.url });
    await assert.rejects(fetch(`${cluster.url}/health`), "the killed master is gone");
    for (let i = 0; i < 6; i++) ids.push(await submit(server.url, small(`echo after-${i}`)));

    // The next master in the group leads; the last one redirects to it.
    const after = await waitFor("a new leader", async () => {
      const s = await clusterState(followers[0]);
      return s.leader === followers[0] ? s : null;
    });
    assert.deepEqual(after.masters.map((m) => [m.leading, m.killed]), [
      [false, true],
      [true, false],
      [false, false],
    ]);
    const redirect = await fetch(`${followers[1]}/api/v1/scheduler`, {
      method: "POST",
      body: SUBSCRIBE,
      redirect: "manual",
    });
    await redirect.body?.cancel();
    assert.equal(
      redirect.headers.get("location"),
      `//${new URL(followers[0]).host}/master/api/v1/scheduler`,
    );
    const remaining = (await reader.getChildren("/cli/mesos"))!.filter((n) =>
      n.startsWith("json.info_")
    );
    assert.equal(remaining.length, 2, "the killed master's node is gone");

    // Eremetic follows through ZooKeeper as the same framework; nothing lost, nothing twice.
    await waitFor("every task to finish", async () => {
      const states = await Promise.all(ids.map(lastState));
      return states.every((s) => s === "TASK_FINISHED");
    }, { timeoutMs: 40_000 });
    const h = await health();
    assert.equal(h.mesos.state, "subscribed");
    assert.equal(h.mesos.framework_id, frameworkId);
    const launches = launchesPerTask(await launchedTaskIds(record));
    for (const id of ids) assert.equal(launches.get(id), 1, `${id} launches`);
    // The new leader learned the tasks that ran across the failover from the agents.
    const state = await (await fetch(`${followers[0]}/master/state`)).json();
    const known = (state.frameworks as { id: string; tasks: { id: string }[] }[])
      .filter((f) => f.id === frameworkId)
      .flatMap((f) => f.tasks.map((t) => t.id));
    const completed = (state.frameworks as { id: string; completed_tasks: { id: string }[] }[])
      .filter((f) => f.id === frameworkId)
      .flatMap((f) => f.completed_tasks.map((t) => t.id));
    assert.ok(
      ids.slice(0, 6).some((id) => [...known, ...completed].includes(id)),
      "tasks launched before the kill are known to the new leader",
    );

    const status = await cluster.stop();
    assert.equal(status.code, 0, cluster.log());
  },
);
