/**
 * Benchmark of the development cluster's master: task launches per second
 * across ACCEPT calls carrying many tasks, with the simulated executor.
 *
 *   deno run -A bench/devcluster.ts [--quick] [--agents 1000] [--tasks 100000]
 *                                   [--concurrency 8] [--repeat 3] [--no-report]
 *
 * The scheduler side is raw fetch in the same process, as an external framework
 * would send it; it reads the event stream while launching. Writes its section
 * of docs/benchmarks.md (unless `--no-report`) and prints one JSON line last.
 *
 * @module
 */
// deno-lint-ignore-file no-console
import { RecordIoDecoder, startDevCluster } from "../src/devcluster/mod.ts";
import { machineLine, markdownTable, writeSection } from "./_lib.ts";

function flag(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}

const quick = Deno.args.includes("--quick");
const agents = flag("agents", quick ? 200 : 1000);
const tasks = flag("tasks", quick ? 20_000 : 100_000);
const concurrency = flag("concurrency", 8);
const repeat = flag("repeat", quick ? 1 : 3);
const perAgent = Math.ceil(tasks / agents);

/** CPU time of this process (all threads), in ms, from /proc/self/stat (100 ticks/s). */
async function cpuMs(): Promise<number> {
  try {
    const f = (await Deno.readTextFile("/proc/self/stat")).split(") ")[1].split(" ");
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return NaN;
  }
}

/** Heap in use, after a full GC when V8 exposes it (`--v8-flags=--expose-gc`). */
function heapMb(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return Math.round(Deno.memoryUsage().heapUsed / 1e6);
}

interface RunResult {
  cpuSeconds: number;
  launched: number;
  acceptCalls: number;
  acceptSeconds: number;
  deliveredSeconds: number;
  firstOffersMs: number;
  heapMb: number;
}

async function run(): Promise<RunResult> {
  await using cluster = await startDevCluster({
    agents,
    executor: "simulated",
    simulateDurationMs: 3_600_000,
    agentResources: `cpus:${perAgent};mem:${perAgent * 32};ports:[31000-32000]`,
    allocationIntervalMs: 60_000,
    agentHttp: false,
  });
  const startup = performance.now();

  const res = await fetch(cluster.schedulerUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      type: "SUBSCRIBE",
      subscribe: { framework_info: { user: "bench", name: "bench" } },
    }),
  });
  const streamId = res.headers.get("mesos-stream-id")!;
  const reader = res.body!.getReader();
  const decoder = new RecordIoDecoder();
  let frameworkId = "";
  let updates = 0;
  let offers: { id: { value: string }; agent_id: { value: string } }[] = [];
  let gotOffers = () => {};
  const offersReady = new Promise<void>((r) => gotOffers = r);
  const reading = (async () => {
    while (true) {
      const { value, done } = await reader.read();
      if (done) return;
      for (const record of decoder.decode(value)) {
        // Cheap type sniffing: parsing 100,000 updates fully is the scheduler's cost, not ours.
        if (record.startsWith('{"type":"UPDATE"')) {
          updates++;
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
  const offersAt = performance.now();

  function accept(offer: typeof offers[number], n: number, base: number): string {
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

  // Bodies are built before the clock starts: the benchmark measures the master.
  const bodies: string[] = [];
  let planned = 0;
  for (const offer of offers) {
    const n = Math.min(perAgent, tasks - planned);
    if (n <= 0) break;
    bodies.push(accept(offer, n, planned));
    planned += n;
  }

  const cpuStart = await cpuMs();
  const start = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < bodies.length) {
      const body = bodies[next++];
      const r = await fetch(cluster.schedulerUrl, {
        method: "POST",
        headers: { "content-type": "application/json", "mesos-stream-id": streamId },
        body,
      });
      if (r.status !== 202) throw new Error(`ACCEPT answered ${r.status}: ${await r.text()}`);
      await r.body?.cancel();
    }
  }));
  const accepted = performance.now();
  const cpuSeconds = (await cpuMs() - cpuStart) / 1000;
  while (updates < planned) await new Promise((r) => setTimeout(r, 5));
  const delivered = performance.now();

  const launched = cluster.master!.stats.tasksLaunched;
  await reader.cancel();
  await reading;
  return {
    cpuSeconds,
    launched,
    acceptCalls: bodies.length,
    acceptSeconds: (accepted - start) / 1000,
    deliveredSeconds: (delivered - start) / 1000,
    firstOffersMs: offersAt - startup,
    heapMb: heapMb(),
  };
}

const runs: RunResult[] = [];
for (let i = 0; i < repeat; i++) runs.push(await run());
const rates = runs.map((r) => r.launched / r.acceptSeconds).sort((a, b) => a - b);
const median = rates[Math.floor(rates.length / 2)];
const rows = runs.map((r, i) => [
  i + 1,
  r.launched.toLocaleString("en-US"),
  r.acceptCalls,
  r.acceptSeconds.toFixed(2),
  Math.round(r.launched / r.acceptSeconds).toLocaleString("en-US"),
  Math.round(r.launched / r.cpuSeconds).toLocaleString("en-US"),
  r.deliveredSeconds.toFixed(2),
  r.heapMb,
]);
const markdown = `## Development cluster launches (\`bench/devcluster.ts\`)

Method: one process runs \`startDevCluster\` with ${agents} agents, the simulated executor
(tasks never finish during the run), agent HTTP endpoints off, and a raw-\`fetch\` scheduler that
subscribes, takes the first OFFERS event (one offer per agent) and sends one ACCEPT per offer with
${perAgent} LAUNCH tasks each (1 cpu, 32 MB), ${concurrency} calls in flight. Request bodies are
built before the clock starts. "launches/s" = tasks launched / time from the first ACCEPT sent to
the last 202 (the master validates, accounts and hands each task to its agent before answering);
"updates delivered" = time until the scheduler has read every task's first update (TASK_STARTING)
from its RecordIO stream. "launches per CPU-second" divides by the CPU time the whole process
(master, agents and the scheduler's client side) used during the ACCEPT phase, the figure least
disturbed by other load on a shared machine. Target: ≥ 20,000 launches/s. Median of ${runs.length}: **${
  Math.round(median).toLocaleString("en-US")
} launches/s**.

Machine: ${await machineLine()}

${
  markdownTable(
    [
      "run",
      "tasks",
      "ACCEPT calls",
      "seconds",
      "launches/s",
      "launches per CPU-second",
      "updates delivered (s)",
      "heap MB",
    ],
    rows,
  )
}
`;
if (!Deno.args.includes("--no-report")) await writeSection("devcluster", markdown);
console.error(markdown);
console.log(JSON.stringify({
  agents,
  tasks,
  tasks_per_accept: perAgent,
  concurrency,
  launches_per_second_median: Math.round(median),
  launches_per_second: rates.map(Math.round),
  launches_per_cpu_second: runs.map((r) => Math.round(r.launched / r.cpuSeconds)),
}));
