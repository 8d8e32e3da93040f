// deno-lint-ignore-file no-console
/**
 * The idle-queue benchmark (issue 9 §4): a long queue that nothing can launch, with a
 * master connected. N queued tasks (1,000,000; `--quick` 100,000) are seeded into a fresh
 * KV database through the real store (`bench/_seed.ts`), then the development cluster is
 * started with agents too small for any task (every offer is declined) and Eremetic
 * (`main.ts serve`) on the database. Measured:
 *
 * - database bytes per queued task (the KV file and its WAL after the seed);
 * - time from the process start to the scheduler loaded and subscribed
 *   (`/api/v1/health` reports `mesos.state: subscribed` only after the queue is loaded);
 * - RSS (and its peak) of Eremetic after the idle period;
 * - CPU share of one core Eremetic uses while idle (`--idle-seconds`, default 30).
 *
 * Writes its section of docs/benchmarks.md (`<!-- bench:queue:* -->`) and prints one JSON
 * line.
 *
 * `deno run -A bench/queue.ts [--quick] [--tasks N] [--idle-seconds S] [--no-write]`
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  cpuMsOf,
  fmt,
  freePort,
  machineBusyMs,
  machineLine,
  markdownTable,
  memoryOf,
  progress,
  ROOT,
  serveArgs,
  startProcess,
  writeSection,
} from "./_lib.ts";

const TARGET_RSS_MB = 300;
const TARGET_IDLE_CPU = 0.01;
const TARGET_BYTES_PER_TASK = 500;
const TARGET_START_SECONDS = 5;
/** Agents too small for the seeded tasks (1 cpu, 22 MiB): every offer is declined. */
const AGENT_RESOURCES = "cpus:0.5;mem:16;disk:100;ports:[31000-31010]";
const AGENTS = 20;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function seed(path: string, n: number): Promise<{ seconds: number; commits: number }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "bench/_seed.ts", path, String(n)],
    cwd: ROOT,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error("Cannot seed the database");
  const last = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!;
  const r = JSON.parse(last);
  return { seconds: r.seconds, commits: r.commits };
}

async function databaseBytes(path: string): Promise<number> {
  let total = 0;
  for (const suffix of ["", "-wal", "-shm"]) {
    try {
      total += (await Deno.stat(path + suffix)).size;
    } catch {
      // absent
    }
  }
  return total;
}

export interface QueueResult {
  tasks: number;
  seedSeconds: number;
  databaseBytes: number;
  bytesPerTask: number;
  startToSubscribedSeconds: number;
  idleSeconds: number;
  idleCpuShare: number;
  rssMb: number;
  peakMb: number;
  otherCores: number;
}

async function run(tmp: string, tasks: number, idleSeconds: number): Promise<QueueResult> {
  const database = `${tmp}/queue.kv`;
  progress(`seeding ${fmt(tasks)} queued tasks`);
  const s = await seed(database, tasks);
  const bytes = await databaseBytes(database);
  progress(`seeded in ${s.seconds.toFixed(1)} s: ${fmt(bytes / tasks)} bytes per task`);
  const clusterPort = freePort();
  const master = `http://127.0.0.1:${clusterPort}`;
  await using _cluster = await startProcess({
    args: [
      "run",
      "-A",
      "main.ts",
      "devcluster",
      "--port",
      String(clusterPort),
      "--agents",
      String(AGENTS),
      "--agent-resources",
      AGENT_RESOURCES,
      "--executor",
      "simulated",
    ],
    healthUrl: `${master}/health`,
    timeoutMs: 60_000,
    quiet: true,
  });
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  const started = performance.now();
  await using srv = await startProcess({
    args: serveArgs({ port, database, master }),
    healthUrl: `${url}/api/v1/health`,
    timeoutMs: 120_000,
    env: { HTTP_CREDENTIALS: "", EREMETIC_HTTP_CREDENTIALS: "" },
  });
  let subscribedAt = NaN;
  while (performance.now() - started < 120_000) {
    const h = await (await fetch(`${url}/api/v1/health`)).json();
    if (h.mesos?.state === "subscribed") {
      subscribedAt = performance.now();
      break;
    }
    await sleep(20);
  }
  if (Number.isNaN(subscribedAt)) throw new Error("Eremetic did not subscribe");
  progress(`subscribed ${((subscribedAt - started) / 1000).toFixed(2)} s after start`);
  // Let the first offers arrive and be declined, then measure the idle process.
  await sleep(5_000);
  const cpu0 = await cpuMsOf(srv.pid);
  const machine0 = await machineBusyMs();
  const t0 = performance.now();
  progress(`measuring idle CPU for ${idleSeconds} s`);
  await sleep(idleSeconds * 1000);
  const elapsed = performance.now() - t0;
  const cpuMs = (await cpuMsOf(srv.pid)) - cpu0;
  const others = (await machineBusyMs()) - machine0 - cpuMs;
  const mem = await memoryOf(srv.pid);
  const result: QueueResult = {
    tasks,
    seedSeconds: s.seconds,
    databaseBytes: bytes,
    bytesPerTask: bytes / tasks,
    startToSubscribedSeconds: (subscribedAt - started) / 1000,
    idleSeconds: elapsed / 1000,
    idleCpuShare: cpuMs / elapsed,
    rssMb: mem.rssMb,
    peakMb: mem.peakMb,
    otherCores: Math.max(0, others / elapsed),
  };
  progress(
    `idle: ${(result.idleCpuShare * 100).toFixed(2)}% of a core, RSS ${fmt(mem.rssMb)} MB ` +
      `(peak ${fmt(mem.peakMb)} MB)`,
  );
  return result;
}

export function report(machine: string, args: string, r: QueueResult): string {
  const ok = (b: boolean) => (b ? "met" : "**missed**");
  return [
    "### A long idle queue with a master connected (`bench/queue.ts`)",
    "",
    `${machine}; \`deno run -A bench/queue.ts${args}\`. ${fmt(r.tasks)} queued tasks ` +
    `(1 cpu, 22 MiB) seeded through \`openKvStore\` + \`createTask\` ` +
    `(${r.seedSeconds.toFixed(1)} s), then the development cluster with ${AGENTS} agents ` +
    `too small for any of them (${AGENT_RESOURCES}: every offer is declined) and Eremetic on ` +
    `the database (KV store, log level warn). Other processes kept ${
      fmt(r.otherCores, 2)
    } cores busy meanwhile.`,
    "",
    markdownTable(["measure", "result", "target", ""], [
      [
        "database bytes per queued task (KV file + WAL)",
        fmt(r.bytesPerTask),
        `≤ ${TARGET_BYTES_PER_TASK}`,
        ok(r.bytesPerTask <= TARGET_BYTES_PER_TASK),
      ],
      [
        "process start → queue loaded and subscribed",
        `${fmt(r.startToSubscribedSeconds, 2)} s`,
        `≤ ${TARGET_START_SECONDS} s`,
        ok(r.startToSubscribedSeconds <= TARGET_START_SECONDS),
      ],
      [
        `RSS after ${fmt(r.idleSeconds)} s idle (peak)`,
        `${fmt(r.rssMb)} MB (${fmt(r.peakMb)} MB)`,
        `≤ ${TARGET_RSS_MB} MB`,
        ok(r.peakMb <= TARGET_RSS_MB),
      ],
      [
        "CPU while idle, share of one core",
        `${fmt(r.idleCpuShare * 100, 2)}%`,
        `< ${TARGET_IDLE_CPU * 100}%`,
        ok(r.idleCpuShare < TARGET_IDLE_CPU),
      ],
    ]),
    "",
    "The scheduler holds a window of the queue's head (10,000 records), refilled from the " +
    "store by cursor as it drains, and counts the rest: nothing proportional to the whole " +
    "queue is kept in memory or done per offer round.",
  ].join("\n");
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean", default: false },
      tasks: { type: "string" },
      "idle-seconds": { type: "string" },
      "no-write": { type: "boolean", default: false },
    },
  });
  const tasks = Number(values.tasks ?? (values.quick ? 100_000 : 1_000_000));
  const idleSeconds = Number(values["idle-seconds"] ?? (values.quick ? 10 : 30));
  const machine = await machineLine();
  const tmp = await Deno.makeTempDir({ prefix: "eremetic-bench-queue-" });
  try {
    const r = await run(tmp, tasks, idleSeconds);
    const passed = Deno.args.filter((a) => a !== "--no-write");
    if (!values["no-write"]) {
      await writeSection("queue", report(machine, passed.length ? ` ${passed.join(" ")}` : "", r));
      progress("wrote the queue section of docs/benchmarks.md");
    }
    console.log(JSON.stringify(r));
    return 0;
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) Deno.exit(await main());
