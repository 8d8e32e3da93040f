/**
 * Mesos faults (issue 13, point 2): the development cluster's failure injection against
 * the real server, one scenario per fault, each with tasks in flight (some running, some
 * submitted while the fault lasts). After each: every task ends `TASK_FINISHED` (none
 * lost), no task reached an agent more often than its retries allow (from the cluster's
 * record of calls and events), Eremetic's final state is the one the cluster reported,
 * and Eremetic subscribed again by itself within a bound (the time is measured and
 * printed; docs/reliability.md, "Mesos faults", holds a run's table).
 *
 * Short (`deno task test`): a few tasks per scenario. Full (`deno task test:reliability`):
 * more tasks, and each scenario twice.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  type DevCluster,
  type DevClusterOptions,
  memoryRecorder,
  zkRegistry,
} from "../../src/devcluster/mod.ts";
import { mesosIdOf } from "../../src/scheduler/mod.ts";
import type { TaskV1 } from "../../src/task/mod.ts";
import { connectZk, parseZkUrl } from "../../src/zk/mod.ts";
import { type Stack, startStack, submit, waitFor } from "../_e2e.ts";
import { zkSuite } from "../_zookeeper.ts";
import { firstSubscribedAfter, type Ledger, parseRecord, readLedger } from "./_ledger.ts";
import { scale } from "./_mode.ts";

/** Tasks running when the fault starts, and tasks submitted while it lasts. */
const TASKS_BEFORE = scale(6, 40);
const TASKS_DURING = scale(4, 20);
const ROUNDS = scale(1, 2);
/** How long a simulated task runs: long enough to be in flight across the fault. */
const TASK_DURATION = "1500ms";
/** Announced heartbeat interval: Eremetic gives up on a silent stream after 5 of them. */
const HEARTBEAT_SECONDS = 0.5;
/** Eremetic must be subscribed again within this (measured from the injection). */
const RECONNECT_BOUND_MS = 15_000;
/** Every task must have ended within this after the fault. */
const SETTLE_BOUND_MS = scale(30_000, 60_000);

/** What one scenario did. */
interface Outcome {
  scenario: string;
  tasks: number;
  /** Tasks launched and not yet ended when the fault began. */
  inFlight: number;
  /** What shows the fault struck (see each scenario's `affected`). */
  affected: number;
  lost: number;
  duplicates: number;
  wrongState: number;
  /** Ms from the injection to the next SUBSCRIBED, or null when the subscription stayed up. */
  reconnectMs: number | null;
}

interface Scenario {
  name: string;
  cluster?: DevClusterOptions;
  /** Extra `serve` flags (the master address for ZooKeeper). */
  flags?: string[];
  /** Retries the tasks may use (a removed agent's tasks need one). */
  maxRetries?: number;
  /** Whether the fault ends the subscription, so Eremetic must subscribe again. */
  resubscribes: boolean;
  /** Injects the fault; `subscribed` resolves once Eremetic has subscribed again. */
  inject(ctx: FaultContext): Promise<void>;
  /**
   * Evidence that the fault struck (must be > 0): dropped launches, retries, resent
   * updates... Scenarios that end the subscription count the tasks in flight.
   */
  affected?(facts: Facts): number | Promise<number>;
}

/** What a scenario left behind. */
interface Facts {
  cluster: DevCluster;
  ledger: Ledger;
  /** Every task at the end. */
  tasks: TaskV1[];
  inFlight: number;
}

/** Tasks whose history holds `state`. */
const reached = (tasks: TaskV1[], state: string) =>
  tasks.filter((t) => t.status.some((x) => x.status === state)).length;

interface FaultContext {
  cluster: DevCluster;
  frameworkId: string;
  /** Agents running at least one of the tasks, busiest first. */
  busyAgents: string[];
  /** Resolves when the cluster has sent SUBSCRIBED again since the injection. */
  subscribed: () => Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function listAll(url: string): Promise<TaskV1[]> {
  const res = await fetch(`${url}/api/v1/task?state=&limit=10000`);
  assert.equal(res.status, 200);
  return await res.json();
}

const lastState = (t: TaskV1) => t.status.at(-1)?.status;

async function runScenario(s: Scenario): Promise<Outcome> {
  const recorder = memoryRecorder();
  await using stack: Stack = await startStack({
    cluster: {
      agents: 3,
      executor: "simulated",
      allocationIntervalMs: 50,
      heartbeatIntervalSeconds: HEARTBEAT_SECONDS,
      statusUpdateRetryMs: 500,
      statusUpdateRetryMaxMs: 2_000,
      record: recorder,
      ...s.cluster,
    },
    flags: s.flags,
  });
  const { cluster, url } = stack;
  const body = (i: number) => ({
    cpu: 0.1,
    mem: 16,
    image: "busybox",
    command: `echo ${i}`,
    labels: { "devcluster.duration": TASK_DURATION },
    max_retries: s.maxRetries ?? 0,
  });
  const ids: string[] = [];
  for (let i = 0; i < TASKS_BEFORE; i++) ids.push(await submit(url, body(i)));
  // In flight: every task of the first batch launched, some running.
  await waitFor("the first tasks to run", async () => {
    const tasks = await listAll(url);
    const launched = tasks.filter((t) => lastState(t) !== "TASK_QUEUED");
    return launched.length === ids.length &&
      tasks.some((t) => lastState(t) === "TASK_RUNNING");
  }, { timeoutMs: 20_000 });
  const frameworkId = cluster.master!.frameworkIds()[0];
  const perAgent = new Map<string, number>();
  let inFlight = 0;
  for (const t of await listAll(url)) {
    if (t.agent_id) perAgent.set(t.agent_id, (perAgent.get(t.agent_id) ?? 0) + 1);
    if (lastState(t) !== "TASK_FINISHED") inFlight++;
  }
  const busyAgents = [...perAgent].sort((a, b) => b[1] - a[1]).map(([id]) => id);
  const t0 = Date.now();
  const subscribed = () =>
    waitFor(
      "Eremetic to subscribe again",
      () => Promise.resolve(firstSubscribedAfter(readLedger(parseRecord(recorder.lines)), t0)),
      { timeoutMs: RECONNECT_BOUND_MS, intervalMs: 20 },
    ).then(() => {});
  const injecting = s.inject({ cluster, frameworkId, busyAgents, subscribed });
  // More work arrives while the fault lasts: accepted and kept.
  for (let i = 0; i < TASKS_DURING; i++) ids.push(await submit(url, body(TASKS_BEFORE + i)));
  await injecting;
  await waitFor("every task to end", async () => {
    const tasks = await listAll(url);
    return tasks.length === ids.length &&
      tasks.every((t) =>
        !["TASK_QUEUED", "TASK_STAGING", "TASK_STARTING", "TASK_RUNNING"]
          .includes(lastState(t) ?? "") && lastState(t) !== "TASK_UNREACHABLE"
      );
  }, { timeoutMs: SETTLE_BOUND_MS, intervalMs: 100 });
  const health = await waitFor("Eremetic subscribed", async () => {
    const h = await (await fetch(`${url}/api/v1/health`)).json();
    return h.mesos?.state === "subscribed" ? h : null;
  });
  assert.equal(health.mesos.state, "subscribed");

  const ledger = readLedger(parseRecord(recorder.lines));
  const tasks = await listAll(url);
  const byId = new Map(tasks.map((t) => [t.id, t]));
  let lost = 0;
  let duplicates = 0;
  let wrongState = 0;
  const problems: string[] = [];
  for (const id of ids) {
    const task = byId.get(id);
    const facts = ledger.tasks.get(id);
    if (!task || lastState(task) !== "TASK_FINISHED") {
      lost++;
      problems.push(`${id} ended ${task ? task.status.map((x) => x.status).join(">") : "missing"}`);
      continue;
    }
    // Each retry is one more legitimate launch; anything beyond is a duplicate.
    const allowed = 1 + task.retry;
    const started = facts?.started ?? 0;
    if (started > allowed) {
      duplicates += started - allowed;
      problems.push(`${id} reached an agent ${started} times, ${allowed} allowed`);
    }
    const reported = facts?.lastState.get(mesosIdOf(task.id, task.retry));
    if (reported !== lastState(task)) {
      wrongState++;
      problems.push(`${id} is ${lastState(task)} in Eremetic, ${reported} in the cluster`);
    }
  }
  const reconnect = firstSubscribedAfter(ledger, t0);
  const affected = await (s.affected ?? ((f: Facts) => f.inFlight))({
    cluster,
    ledger,
    tasks,
    inFlight,
  });
  const outcome: Outcome = {
    scenario: s.name,
    tasks: ids.length,
    inFlight,
    affected,
    lost,
    duplicates,
    wrongState,
    reconnectMs: reconnect === null ? null : reconnect - t0,
  };
  // deno-lint-ignore no-console
  console.log(`mesos fault: ${JSON.stringify(outcome)}`);
  assert.deepEqual(problems, [], `${s.name}: ${problems.length} problems`);
  assert.ok(inFlight > 0, `${s.name}: no task was in flight when the fault began`);
  assert.ok(affected > 0, `${s.name}: the fault left no trace`);
  if (s.resubscribes) {
    assert.ok(outcome.reconnectMs !== null, `${s.name}: Eremetic never subscribed again`);
    assert.ok(outcome.reconnectMs <= RECONNECT_BOUND_MS, `${s.name}: reconnect too late`);
  } else {
    assert.equal(outcome.reconnectMs, null, `${s.name}: the subscription was dropped`);
  }
  return outcome;
}

const SCENARIOS: Scenario[] = [
  {
    name: "master restart with memory (503 while recovering, 1 s)",
    resubscribes: true,
    async inject({ cluster, subscribed }) {
      await cluster.restartMaster({ memory: true, recoveryMs: 1_000 });
      await subscribed();
    },
  },
  {
    name: "master restart without memory (agents back after 500 ms)",
    cluster: { agentReregisterDelayMs: 500 },
    resubscribes: true,
    async inject({ cluster, subscribed }) {
      await cluster.restartMaster({ memory: false });
      await subscribed();
    },
  },
  {
    name: "subscription stream dropped",
    resubscribes: true,
    async inject({ cluster, frameworkId, subscribed }) {
      cluster.dropStream(frameworkId);
      await subscribed();
    },
  },
  {
    name: "heartbeats stopped (stream open)",
    resubscribes: true,
    async inject({ cluster, frameworkId, subscribed }) {
      cluster.stopHeartbeats(frameworkId);
      await subscribed();
      cluster.resumeHeartbeats(frameworkId);
    },
  },
  {
    name: "stream stalled (half-open: open, nothing arrives)",
    resubscribes: true,
    async inject({ cluster, frameworkId, subscribed }) {
      cluster.stallStream(frameworkId);
      await subscribed();
      cluster.unstallStream(frameworkId);
    },
  },
  {
    name: "acknowledgements delayed 1.5 s (for 3 s)",
    resubscribes: false,
    async inject({ cluster }) {
      cluster.delayAcks(1_500);
      await sleep(3_000);
      cluster.delayAcks(0);
    },
    // Updates the agents sent again, their acknowledgement being late.
    affected: ({ ledger }) => ledger.resent,
  },
  {
    name: "agent removed (tasks there retried once)",
    maxRetries: 1,
    resubscribes: false,
    async inject({ cluster, busyAgents }) {
      await cluster.removeAgent(busyAgents[0]);
    },
    // Tasks relaunched elsewhere.
    affected: ({ tasks }) => tasks.filter((t) => t.retry > 0).length,
  },
  {
    name: "agent partitioned for 2 s, then back",
    resubscribes: false,
    async inject({ cluster, busyAgents }) {
      cluster.partitionAgent(busyAgents[0]);
      await sleep(2_000);
      cluster.healAgent(busyAgents[0]);
    },
    affected: ({ tasks }) => reached(tasks, "TASK_UNREACHABLE"),
  },
  {
    name: "offers rescinded during launch (3 ACCEPTs)",
    resubscribes: false,
    inject({ cluster }) {
      cluster.rescindBeforeAccept(3);
      return Promise.resolve();
    },
    // Launches Mesos dropped, queued again.
    affected: ({ tasks }) => reached(tasks, "TASK_DROPPED"),
  },
  {
    name: "master answering 503 to the next 30 calls",
    resubscribes: false,
    inject({ cluster }) {
      cluster.injectResponses({
        status: 503,
        count: 30,
        body: "Master has not finished recovery",
      });
      return Promise.resolve();
    },
    // Calls answered 503.
    affected: async ({ cluster }) => {
      const state = await (await fetch(`${cluster.url}/devcluster/state`)).json();
      return 30 - state.faults.injected_responses;
    },
  },
];

for (const s of SCENARIOS) {
  Deno.test(`mesos faults: ${s.name}`, async () => {
    for (let round = 0; round < ROUNDS; round++) await runScenario(s);
  });
}

zkSuite("mesos faults: master failover through ZooKeeper", async (zk) => {
  for (let round = 0; round < ROUNDS; round++) {
    const url = parseZkUrl(zk.url(`/faults${round}/mesos`));
    await runScenario({
      name: "master failover through ZooKeeper (500 ms leaderless)",
      cluster: {
        masters: 2,
        agentReregisterDelayMs: 200,
        registry: zkRegistry(await connectZk(url), url.path),
      },
      flags: ["--master", String(url)],
      resubscribes: true,
      async inject({ cluster, subscribed }) {
        await cluster.failover({ gapMs: 500 });
        await subscribed();
      },
    });
  }
});
