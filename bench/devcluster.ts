/**
 * Benchmark of the development cluster's master: task launches per second
 * across ACCEPT calls carrying many tasks, with the simulated executor, and the
 * cluster's CPU per launched task when the scheduler also acknowledges every
 * status update (TASK_STARTING and TASK_RUNNING), as a real scheduler does.
 *
 *   deno run -A bench/devcluster.ts [--quick] [--agents 1000] [--tasks 100000]
 *                                   [--concurrency 32] [--repeat 3] [--no-report]
 *                                   [--url http://127.0.0.1:5050]   (an already running cluster)
 *
 * The cluster runs as its own process (`main.ts devcluster`), as a framework
 * developer would run it; this process is the scheduler (raw `fetch`), reading
 * the event stream while it launches. Writes its section of docs/benchmarks.md
 * (unless `--no-report`) and prints one JSON line last.
 *
 * @module
 */
// deno-lint-ignore-file no-console
import { parseArgs } from "node:util";
import { RecordIODecoder } from "../src/mesos/recordio.ts";
import {
  cpuMsOf,
  freePort,
  machineLine,
  markdownTable,
  memoryOf,
  startProcess,
  writeSection,
} from "./_lib.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    quick: { type: "boolean", default: false },
    agents: { type: "string" },
    tasks: { type: "string" },
    concurrency: { type: "string", default: "32" },
    repeat: { type: "string" },
    "no-report": { type: "boolean", default: false },
    url: { type: "string" },
  },
});
const quick = args.quick;
const agents = Number(args.agents ?? (quick ? 200 : 1000));
const tasks = Number(args.tasks ?? (quick ? 20_000 : 100_000));
const concurrency = Number(args.concurrency);
const repeat = Number(args.repeat ?? (quick ? 1 : 3));
const perAgent = Math.ceil(tasks / agents);

interface Offer {
  id: { value: string };
  agent_id: { value: string };
}

interface RunResult {
  launched: number;
  acceptCalls: number;
  acceptSeconds: number;
  masterCpuSeconds: number;
  deliveredSeconds: number;
  /** ACKNOWLEDGE calls sent (every update of every task: STARTING and RUNNING). */
  acks: number;
  /** From the first ACCEPT to the last ACKNOWLEDGE answered. */
  ackedSeconds: number;
  /** Cluster CPU over that whole span. */
  totalCpuSeconds: number;
  rssMb: number;
}

function acceptBody(frameworkId: string, offer: Offer, n: number, base: number): string {
  const infos = [];
  for (let i = 0; i < n; i++) {
    const id = `bench-${base + i}`;
    infos.push({
      name: id,
      task_id: { value: id },
      agent_id: offer.agent_id,
      resources: [
        { name: "cpus", type: "SCALAR", scalar: { value: 1 } },
        { name: "mem", type: "SCALAR", scalar: { value: 32 } },
      ],
      command: { value: "true" },
    });
  }
  return JSON.stringify({
    type: "ACCEPT",
    framework_id: { value: frameworkId },
    accept: {
      offer_ids: [offer.id],
      operations: [{ type: "LAUNCH", launch: { task_infos: infos } }],
    },
  });
}

const givenUrl = args.url;

/** Calls sent by `concurrency` workers, each waiting for its 202 before the next. */
class CallSender {
  #bodies: string[] = [];
  #head = 0;
  #waiting: (() => void)[] = [];
  #ended = false;
  sent = 0;

  constructor(url: string, streamId: string, workers: number) {
    this.done = Promise.all(Array.from({ length: workers }, async () => {
      while (true) {
        if (this.#head === this.#bodies.length) {
          if (this.#ended) return;
          await new Promise<void>((r) => this.#waiting.push(r));
          continue;
        }
        const body = this.#bodies[this.#head++];
        if (this.#head === this.#bodies.length) {
          this.#bodies = [];
          this.#head = 0;
        }
        const r = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json", "mesos-stream-id": streamId },
          body,
        });
        if (r.status !== 202) throw new Error(`call answered ${r.status}: ${await r.text()}`);
        await r.body?.cancel();
        this.sent++;
      }
    })).then(() => {});
  }

  readonly done: Promise<void>;

  push(body: string): void {
    this.#bodies.push(body);
    this.#waiting.pop()?.();
  }

  /** No more calls: the workers stop once the queue is empty. */
  end(): void {
    this.#ended = true;
    this.push = () => {
      throw new Error("CallSender ended");
    };
    for (const wake of this.#waiting.splice(0)) wake();
  }
}

async function run(): Promise<RunResult> {
  const port = freePort();
  const url = givenUrl ?? `http://127.0.0.1:${port}`;
  await using cluster = givenUrl
    ? { pid: 0, [Symbol.asyncDispose]: () => Promise.resolve() }
    : await startProcess({
      args: [
        "run",
        "-A",
        "main.ts",
        "devcluster",
        "--port",
        String(port),
        "--agents",
        String(agents),
        "--executor",
        "simulated",
        "--simulate-duration",
        "1h",
        "--agent-resources",
        `cpus:${perAgent};mem:${perAgent * 32};ports:[31000-32000]`,
        "--allocation-interval",
        "60s",
        "--status-update-retry",
        "10m",
      ],
      healthUrl: `${url}/health`,
      timeoutMs: 120_000,
      quiet: true,
    });
  const schedulerUrl = `${url}/api/v1/scheduler`;
  const res = await fetch(schedulerUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      type: "SUBSCRIBE",
      subscribe: { framework_info: { user: "bench", name: "bench" } },
    }),
  });
  const streamId = res.headers.get("mesos-stream-id")!;
  const reader = res.body!.getReader();
  const decoder = new RecordIODecoder();
  const text = new TextDecoder();
  let frameworkId = "";
  let updates = 0;
  let acksPlanned = 0;
  let acker = null as CallSender | null;
  const pendingUpdates: string[] = [];
  let offers: Offer[] = [];
  let gotOffers = () => {};
  const offersReady = new Promise<void>((r) => gotOffers = r);
  const reading = (async () => {
    while (true) {
      const { value, done } = await reader.read();
      if (done) return;
      for (const bytes of decoder.decode(value)) {
        const record = text.decode(bytes);
        // Type sniffing only: parsing 100,000 updates is the scheduler's cost, not the master's.
        if (record.startsWith('{"type":"UPDATE"')) {
          if (JSON.parse(record).update.status.state === "TASK_STARTING") updates++;
          if (acker) acker.push(ackBody(frameworkId, record));
          else pendingUpdates.push(record);
          acksPlanned++;
          continue;
        }
        const event = JSON.parse(record);
        if (event.type === "SUBSCRIBED") frameworkId = event.subscribed.framework_id.value;
        if (event.type === "OFFERS" && !offers.length) {
          offers = event.offers.offers;
          gotOffers();
        }
      }
    }
  })();
  await offersReady;

  // Bodies are built before the clock starts: the benchmark measures the master.
  const bodies: string[] = [];
  let planned = 0;
  for (const offer of offers) {
    const n = Math.min(perAgent, tasks - planned);
    if (n <= 0) break;
    bodies.push(acceptBody(frameworkId, offer, n, planned));
    planned += n;
  }

  const cpuOf = (pid: number) => pid ? cpuMsOf(pid) : Promise.resolve(NaN);
  const cpuStart = await cpuOf(cluster.pid);
  const start = performance.now();
  let next = 0;
  // ACKNOWLEDGE calls go on their own connections while the ACCEPTs are sent.
  acker = new CallSender(schedulerUrl, streamId, concurrency);
  for (const record of pendingUpdates.splice(0)) acker.push(ackBody(frameworkId, record));
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < bodies.length) {
      const body = bodies[next++];
      const r = await fetch(schedulerUrl, {
        method: "POST",
        headers: { "content-type": "application/json", "mesos-stream-id": streamId },
        body,
      });
      if (r.status !== 202) throw new Error(`ACCEPT answered ${r.status}: ${await r.text()}`);
      await r.body?.cancel();
    }
  }));
  const accepted = performance.now();
  const masterCpuSeconds = (await cpuOf(cluster.pid) - cpuStart) / 1000;
  while (updates < planned) await new Promise((r) => setTimeout(r, 5));
  const delivered = performance.now();
  // Every task sends TASK_STARTING, then TASK_RUNNING once STARTING is acknowledged.
  while (acksPlanned < 2 * planned || acker.sent < acksPlanned) {
    await new Promise((r) => setTimeout(r, 5));
  }
  const acked = performance.now();
  const totalCpuSeconds = (await cpuOf(cluster.pid) - cpuStart) / 1000;
  acker.end();
  await acker.done;
  const { rssMb } = cluster.pid ? await memoryOf(cluster.pid) : { rssMb: NaN };
  await reader.cancel();
  await reading;
  return {
    launched: planned,
    acceptCalls: bodies.length,
    acceptSeconds: (accepted - start) / 1000,
    masterCpuSeconds,
    deliveredSeconds: (delivered - start) / 1000,
    acks: acker.sent,
    ackedSeconds: (acked - start) / 1000,
    totalCpuSeconds,
    rssMb: Math.round(rssMb),
  };
}

/** The ACKNOWLEDGE of an UPDATE record (parsed here: the scheduler's cost, not the master's). */
function ackBody(frameworkId: string, record: string): string {
  const status = JSON.parse(record).update.status;
  return JSON.stringify({
    type: "ACKNOWLEDGE",
    framework_id: { value: frameworkId },
    acknowledge: { agent_id: status.agent_id, task_id: status.task_id, uuid: status.uuid },
  });
}

const runs: RunResult[] = [];
for (let i = 0; i < repeat; i++) runs.push(await run());
const rates = runs.map((r) => r.launched / r.acceptSeconds).sort((a, b) => a - b);
const median = rates[Math.floor(rates.length / 2)];
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const rows = runs.map((r, i) => [
  i + 1,
  fmt(r.launched),
  r.acceptCalls,
  r.acceptSeconds.toFixed(2),
  fmt(r.launched / r.acceptSeconds),
  fmt(r.launched / r.masterCpuSeconds),
  r.deliveredSeconds.toFixed(2),
  fmt(r.acks),
  r.ackedSeconds.toFixed(2),
  fmt(r.totalCpuSeconds * 1e6 / r.launched),
  r.rssMb,
]);
const markdown = `## Development cluster launches (\`bench/devcluster.ts\`)

Method: \`main.ts devcluster\` runs in its own process with ${agents} agents, the simulated executor
(tasks do not finish during the run) and resends of unacknowledged updates pushed out of the run;
the benchmark process is a raw-\`fetch\` scheduler that subscribes, takes the first OFFERS event
(one offer per agent) and sends one ACCEPT per offer with ${perAgent} LAUNCH tasks each (1 cpu,
32 MB), ${concurrency} calls in flight, while it reads the event stream. Request bodies are built
before the clock starts. "launches/s" = tasks launched / time from the first ACCEPT sent to the last
202 (the master validates, accounts and hands each task to its agent before it answers); "per
master CPU-second" divides by the CPU time of the cluster process over the same span (all its
threads, from \`/proc/<pid>/stat\`), the figure least disturbed by other load on a shared machine;
"updates delivered" = time until the scheduler has read every task's first update (TASK_STARTING).
Meanwhile the scheduler acknowledges every update it reads (${concurrency} more calls in flight,
\`fetch\`, one call per request), so each task also costs the cluster two status updates (TASK_STARTING,
then TASK_RUNNING once STARTING is acknowledged) and two ACKNOWLEDGE calls; "all acknowledged" is the
time until the last of them is answered, and "cluster CPU per task" the cluster's CPU over that whole
span divided by the tasks launched: what a real scheduler's launches cost it. Target: ≥ 20,000
launches/s. Median of ${runs.length}: **${fmt(median)} launches/s**.

Machine: ${await machineLine()}

${
  markdownTable(
    [
      "run",
      "tasks",
      "ACCEPT calls",
      "seconds",
      "launches/s",
      "launches per master CPU-second",
      "updates delivered (s)",
      "ACKs",
      "all acknowledged (s)",
      "cluster CPU per task µs",
      "cluster RSS MB",
    ],
    rows,
  )
}
`;
if (!args["no-report"]) await writeSection("devcluster", markdown);
console.error(markdown);
console.log(JSON.stringify({
  agents,
  tasks,
  tasks_per_accept: perAgent,
  concurrency,
  launches_per_second_median: Math.round(median),
  launches_per_second: runs.map((r) => Math.round(r.launched / r.acceptSeconds)),
  launches_per_master_cpu_second: runs.map((r) => Math.round(r.launched / r.masterCpuSeconds)),
  cluster_cpu_us_per_task: runs.map((r) => Math.round(r.totalCpuSeconds * 1e6 / r.launched)),
}));
