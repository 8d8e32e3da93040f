// deno-lint-ignore-file no-console
/**
 * The submission benchmark (issue 3 item 7): with `wrk`, 64 connections over
 * loopback, against real server processes on this machine:
 *
 * - (a) a bare `Deno.serve` hello-world (bench/_hello.ts), the baseline;
 * - (b) durable `POST /api/v1/task` with the seed's example body, fresh database;
 * - (c) `GET /api/v1/task/{id}` of an existing task;
 * - (d) `GET /api/v1/task?limit=100` (first page) with 1,000,000 stored tasks,
 *   seeded beforehand through `openKvStore` + `createTask` (bench/_seed.ts), and
 *   the server's RSS with them stored;
 * - database bytes per stored task: after (b) (tasks submitted over HTTP) and after
 *   seeding (d) (files of the database, write-ahead log included).
 *
 * Writes its results between `<!-- bench:submit:start -->` and
 * `<!-- bench:submit:end -->` in docs/benchmarks.md.
 *
 * Each phase is measured `--repeat` times (default 3) back to back and its median run (by
 * requests/s) reported, with every run's rate: on two shared cores a single run can land
 * 30% off either way (which core wrk's threads share with the server), and the median of
 * three keeps one such run from deciding a ratio.
 *
 * `deno run -A bench/submit.ts [--quick] [--seconds S] [--repeat N] [--tasks N] [--no-write] [--help]`
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  fmt,
  freePort,
  haveWrk,
  type LoadResult,
  machineLine,
  markdownTable,
  memoryOf,
  progress,
  ROOT,
  runWrk,
  serveArgs,
  startProcess,
  writeSection,
  wrkLua,
} from "./_lib.ts";

/** The seed's example body (README of the original Eremetic). */
const EXAMPLE_BODY = '{"mem":22.0,"cpu":1.0,"image":"busybox","command":"echo $(date)"}';
const CONNECTIONS = 64;

interface Phase {
  key: string;
  label: string;
  result: LoadResult;
  rssMb: number;
  peakMb: number;
  /** Requests/s of every measured run, in order (`result` is the median one). */
  runs: number[];
  /** Ratio to (a) is meaningful for this phase. */
  ratio: boolean;
  note?: string;
}

const HELP = `Usage: deno run -A bench/submit.ts [flags]

Hello-world baseline, durable POST, GET by id and list pages with wrk; writes the results
to docs/benchmarks.md (section submit).

  --quick        shorter phases (1 s warm-up, 3 s measured) and 100,000 seeded tasks
  --seconds S    seconds per measured phase (default 10, quick 3)
  --repeat N     measured runs per phase, the median reported (default 3, quick 1)
  --tasks N      tasks seeded for the list phases (default 1,000,000)
  --no-write     print the results only, leave docs/benchmarks.md alone
  --help         this text
`;

async function main(): Promise<number> {
  const { values: options } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean", default: false },
      seconds: { type: "string" },
      repeat: { type: "string" },
      tasks: { type: "string" },
      "no-write": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (options.help) {
    console.log(HELP);
    return 0;
  }
  const quick = options.quick;
  const seconds = Number(options.seconds ?? (quick ? 3 : 10));
  const warmup = quick ? 1 : 3;
  const repeat = Math.max(1, Number(options.repeat ?? (quick ? 1 : 3)));
  const tasks = Number(options.tasks ?? (quick ? 100_000 : 1_000_000));
  const write = !options["no-write"];
  if (!(await haveWrk())) {
    console.error("bench: wrk is not installed (apt-get install -y wrk)");
    return 1;
  }
  const machine = await machineLine();
  const tmp = await Deno.makeTempDir({ prefix: "eremetic-bench-" });
  const phases: Phase[] = [];

  async function load(
    key: string,
    label: string,
    pid: number,
    url: string,
    lua?: string,
    opts: { ratio?: boolean; note?: string } = {},
  ): Promise<Phase> {
    progress(`${key}: warm-up ${warmup} s, ${label}`);
    await runWrk({ url, seconds: warmup, connections: CONNECTIONS, lua });
    const results: LoadResult[] = [];
    for (let i = 1; i <= repeat; i++) {
      progress(`${key}: ${seconds} s, ${label}${repeat > 1 ? ` (run ${i} of ${repeat})` : ""}`);
      results.push(
        await runWrk({ url, seconds, connections: CONNECTIONS, lua, serverPid: pid }),
      );
    }
    const runs = results.map((r) => r.requestsPerSecond);
    const result = [...results].sort((x, y) => x.requestsPerSecond - y.requestsPerSecond)[
      Math.floor((results.length - 1) / 2)
    ];
    const mem = await memoryOf(pid);
    const phase = { key, label, result, runs, ...mem, ratio: opts.ratio ?? true, note: opts.note };
    progress(
      `${key}: ${fmt(result.requestsPerSecond)} req/s${
        repeat > 1 ? ` (median; runs ${runs.map((r) => fmt(r)).join(" / ")})` : ""
      }, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, ` +
        `RSS ${fmt(mem.rssMb)} MB (peak ${fmt(mem.peakMb)}), errors ${result.errors}, ` +
        `server ${fmt(result.serverCpuUsPerRequest ?? NaN)} µs CPU/request, ` +
        `others ${fmt(result.otherCores ?? NaN, 2)} cores`,
    );
    phases.push(phase);
    return phase;
  }

  const serverArgs = (port: number, database: string) => serveArgs({ port, database });
  // Whatever the environment says, the benchmark runs without a master or credentials.
  const serverEnv = { MASTER: "", EREMETIC_MASTER: "", HTTP_CREDENTIALS: "" };

  let seedInfo: { tasks: number; seconds: number; commits: number; id: string } | null = null;
  let idleAfterSeed: { rssMb: number; peakMb: number } | null = null;
  let dbBytes = 0;
  let submitDb: { bytes: number; tasks: number } | null = null;
  /** Bytes of a database's files (the SQLite file, its write-ahead log and shared memory). */
  const filesOf = async (name: string) => {
    let bytes = 0;
    for await (const e of Deno.readDir(tmp)) {
      if (e.name.startsWith(name)) bytes += (await Deno.stat(`${tmp}/${e.name}`)).size;
    }
    return bytes;
  };
  try {
    // (a) hello-world baseline
    {
      const port = freePort();
      const url = `http://127.0.0.1:${port}/`;
      await using hello = await startProcess({
        args: ["run", "-A", "bench/_hello.ts", String(port)],
        healthUrl: url,
      });
      await load("a", "`Deno.serve` hello-world", hello.pid, url);
    }

    // (b) durable POST, (c) GET by id: a fresh database
    {
      const port = freePort();
      const base = `http://127.0.0.1:${port}`;
      await using srv = await startProcess({
        args: serverArgs(port, `${tmp}/submit.kv`),
        healthUrl: `${base}/api/v1/health`,
        env: serverEnv,
      });
      await load(
        "b",
        "durable `POST /api/v1/task` (example body)",
        srv.pid,
        `${base}/api/v1/task`,
        wrkLua("POST", EXAMPLE_BODY),
        { note: "fresh database" },
      );
      const res = await fetch(`${base}/api/v1/task`, { method: "POST", body: EXAMPLE_BODY });
      const id = await res.json() as string;
      const stored = (await (await fetch(`${base}/api/v1/health`)).json()).tasks?.queued;
      submitDb = { bytes: 0, tasks: stored ?? NaN };
      await load("c", "`GET /api/v1/task/{id}`", srv.pid, `${base}/api/v1/task/${id}`, undefined, {
        note: `${fmt(stored ?? NaN)} tasks stored`,
      });
    }

    // The database of (b) and (c), measured with its server stopped (write-ahead log
    // checkpointed into the file).
    if (submitDb) submitDb.bytes = await filesOf("submit.kv");

    // (d) list page with many tasks stored
    {
      const database = `${tmp}/list.kv`;
      progress(`d: seeding ${fmt(tasks)} tasks through openKvStore + createTask`);
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "bench/_seed.ts", database, String(tasks)],
        cwd: ROOT,
        stdout: "piped",
        stderr: "inherit",
      }).output();
      if (out.code !== 0) throw new Error(`Cannot seed: bench/_seed.ts exited with ${out.code}`);
      seedInfo = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
      progress(`d: seeded in ${seedInfo!.seconds.toFixed(1)} s (${seedInfo!.commits} commits)`);
      dbBytes = await filesOf("list.kv");
      const port = freePort();
      const base = `http://127.0.0.1:${port}`;
      await using srv = await startProcess({
        args: serverArgs(port, database),
        healthUrl: `${base}/api/v1/health`,
        env: serverEnv,
      });
      idleAfterSeed = await memoryOf(srv.pid);
      const n = `${fmt(tasks)} tasks stored`;
      await load(
        "d",
        "`GET /api/v1/task?limit=100` (first page, default states)",
        srv.pid,
        `${base}/api/v1/task?limit=100`,
        undefined,
        { ratio: false, note: n },
      );
      await load(
        "c2",
        "`GET /api/v1/task/{id}`",
        srv.pid,
        `${base}/api/v1/task/${seedInfo!.id}`,
        undefined,
        {
          note: n,
        },
      );
      if (!quick) {
        // The page size the API uses without `limit` (1,000): a 3 s quick phase may see no reply.
        await load(
          "d2",
          "`GET /api/v1/task` (default page: 1,000 tasks)",
          srv.pid,
          `${base}/api/v1/task`,
          undefined,
          {
            ratio: false,
            note: n,
          },
        );
      }
    }
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }

  const markdown = report({
    phases,
    machine,
    seconds,
    warmup,
    tasks,
    seedInfo,
    idleAfterSeed,
    dbBytes,
    submitDb,
    quick,
    repeat,
  });
  console.log(markdown);
  if (write) {
    await writeSection("submit", markdown);
    progress("wrote docs/benchmarks.md (section submit)");
  }
  return 0;
}

interface ReportInput {
  phases: Phase[];
  machine: string;
  seconds: number;
  warmup: number;
  tasks: number;
  seedInfo: { tasks: number; seconds: number; commits: number } | null;
  idleAfterSeed: { rssMb: number; peakMb: number } | null;
  dbBytes: number;
  submitDb: { bytes: number; tasks: number } | null;
  quick: boolean;
  repeat: number;
}

function report(r: ReportInput): string {
  const base = r.phases.find((p) => p.key === "a")!;
  const get = (k: string) => r.phases.find((p) => p.key === k);
  const rows = r.phases.map((p) => [
    `(${p.key})`,
    p.label,
    p.note ?? "",
    p.runs.length > 1
      ? `${fmt(p.result.requestsPerSecond)} (${p.runs.map((x) => fmt(x)).join(" / ")})`
      : fmt(p.result.requestsPerSecond),
    p.ratio ? `${fmt((100 * p.result.requestsPerSecond) / base.result.requestsPerSecond)}%` : "—",
    fmt(p.result.p50Ms, 2),
    fmt(p.result.p99Ms, 2),
    fmt(p.result.serverCpuUsPerRequest ?? NaN),
    fmt(p.rssMb),
    fmt(p.peakMb),
    fmt(p.result.errors),
    fmt(p.result.otherCores ?? NaN, 2),
  ]);
  const share = (k: string) => {
    const p = get(k);
    return p ? (100 * p.result.requestsPerSecond) / base.result.requestsPerSecond : NaN;
  };
  const verdict = (ok: boolean) => (ok ? "met" : "**missed**");
  const b = get("b"), c = get("c2") ?? get("c"), d = get("d");
  const rss = Math.max(d?.peakMb ?? NaN, get("c2")?.peakMb ?? 0, get("d2")?.peakMb ?? 0);
  const perTask = r.seedInfo ? r.dbBytes / r.seedInfo.tasks : NaN;
  const perSubmitted = r.submitDb ? r.submitDb.bytes / r.submitDb.tasks : NaN;
  const targets = markdownTable(["target (2 cores)", "measured", "verdict"], [
    [
      "(b) durable POST ≥ 30% of (a), p99 ≤ 25 ms",
      `${fmt(share("b"), 1)}%, p99 ${fmt(b?.result.p99Ms ?? NaN, 2)} ms`,
      verdict(share("b") >= 30 && (b?.result.p99Ms ?? Infinity) <= 25),
    ],
    [
      `(c) GET by id ≥ 40% of (a)`,
      `${fmt(share("c"), 1)}% (fresh db), ${fmt(share("c2"), 1)}% (${fmt(r.tasks)} tasks)`,
      verdict(share("c") >= 40 && (c ? share(c.key) >= 40 : false)),
    ],
    [
      `(d) list page p99 ≤ 20 ms at ${fmt(r.tasks)} tasks`,
      `p99 ${fmt(d?.result.p99Ms ?? NaN, 2)} ms`,
      verdict((d?.result.p99Ms ?? Infinity) <= 20),
    ],
    [
      "database ≤ 500 bytes per queued task",
      `${fmt(perTask)} bytes (${fmt(r.tasks)} seeded), ${fmt(perSubmitted)} bytes (${
        fmt(r.submitDb?.tasks ?? NaN)
      } submitted in (b))`,
      verdict(perTask <= 500 && perSubmitted <= 500),
    ],
    [
      `server RSS ≤ 300 MB with ${fmt(r.tasks)} tasks`,
      `${fmt(rss)} MB peak (${fmt(r.idleAfterSeed?.rssMb ?? NaN)} MB idle after start)`,
      verdict(rss <= 300),
    ],
  ]);
  const seed = r.seedInfo
    ? `Seeding ${fmt(r.seedInfo.tasks)} tasks (bench/_seed.ts: \`openKvStore\` + \`createTask\`, ` +
      `4,000 creates in flight) took **${fmt(r.seedInfo.seconds, 1)} s** ` +
      `(${fmt(r.seedInfo.tasks / r.seedInfo.seconds)} tasks/s, ${
        fmt(r.seedInfo.commits)
      } atomic commits); ` +
      `the database is ${fmt(r.dbBytes / 2 ** 20)} MiB on disk (${fmt(perTask)} bytes per task).`
    : "";
  return [
    `### Results${r.quick ? " (quick run: not the reference numbers)" : ""}`,
    "",
    `Machine: ${r.machine}. wrk ${CONNECTIONS} connections, 2 threads, loopback; ` +
    `${r.warmup} s warm-up then ${r.seconds} s per run; ` +
    (r.repeat > 1
      ? `${r.repeat} runs per phase back to back, the median run reported (every run's req/s in brackets, in order); `
      : "") +
    "one server process per phase group.",
    "",
    markdownTable(
      [
        "",
        "phase",
        "data",
        "req/s",
        "of (a)",
        "p50 ms",
        "p99 ms",
        "server CPU µs/req",
        "RSS MB",
        "peak RSS MB",
        "errors",
        "other load (cores)",
      ],
      rows,
    ),
    "",
    seed,
    "",
    targets,
  ].join("\n");
}

if (import.meta.main) Deno.exit(await main());
