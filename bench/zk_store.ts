// deno-lint-ignore-file no-console
/**
 * `deno run -A bench/zk_store.ts [--quick]`: submissions into the ZooKeeper store against
 * the KV store, in the same run on the same machine.
 *
 * (s) store level, in one process: `createTask()` with 64 creates in flight, N tasks into a
 *     fresh `openKvStore(<tmp file>)` and a fresh `openZkStore(zk://…)`;
 * (h) HTTP: durable `POST /api/v1/task` (example body) with wrk, 64 connections, against
 *     `eremetic serve` with `--database-driver kv` and with `--database-driver zk`.
 *
 * ZooKeeper is a private standalone server (Debian's package, tests/_zookeeper.ts) on
 * loopback with its data dir in /tmp; its JVM's CPU time is reported apart. Writes
 * `<!-- bench:zk_store -->` of docs/benchmarks.md.
 *
 * @module
 */
import { sampleTask } from "../src/store/_contract.ts";
import { openKvStore, openZkStore, type TaskStore } from "../src/store/mod.ts";
import { startZooKeeper } from "../tests/_zookeeper.ts";
import {
  cpuMsOf,
  fmt,
  freePort,
  haveWrk,
  machineBusyMs,
  machineLine,
  markdownTable,
  progress,
  runWrk,
  serveArgs,
  startProcess,
  writeSection,
  wrkLua,
} from "./_lib.ts";

const EXAMPLE_BODY = '{"mem":22.0,"cpu":1.0,"image":"busybox","command":"echo $(date)"}';
const IN_FLIGHT = 64;

async function storeRate(store: TaskStore, n: number, zkPid: number | null) {
  const tasks = Array.from({ length: n }, () => sampleTask());
  const cpu0 = await cpuMsOf(Deno.pid);
  const zk0 = zkPid ? await cpuMsOf(zkPid) : 0;
  const started = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
    while (next < tasks.length) await store.createTask(tasks[next++]);
  }));
  const seconds = (performance.now() - started) / 1000;
  const cpu1 = await cpuMsOf(Deno.pid);
  const ownCpuMs = cpu1 - cpu0;
  const zkCpuMs = zkPid ? (await cpuMsOf(zkPid)) - zk0 : 0;
  return { perSecond: n / seconds, ownCpuUs: (ownCpuMs * 1000) / n, zkCpuUs: (zkCpuMs * 1000) / n };
}

async function main(args: string[]): Promise<number> {
  const quick = args.includes("--quick");
  const n = quick ? 5_000 : 20_000;
  const seconds = quick ? 3 : 10;
  const tmp = await Deno.makeTempDir({ prefix: "eremetic-bench-zk-" });
  const machine = await machineLine();
  const busy0 = await machineBusyMs();
  const t0 = performance.now();
  // The tests' quick-start JVM (C1 only): in a run this short, C2 would spend the run compiling.
  await using zk = await startZooKeeper();
  const rows: (string | number)[][] = [];
  const result: Record<string, number> = {};

  progress(`s: ${fmt(n)} creates into KV`);
  {
    await using kv = await openKvStore(`${tmp}/s.kv`);
    const r = await storeRate(kv, n, null);
    result.storeKv = r.perSecond;
    rows.push([
      "(s) kv",
      "`createTask()`, 64 in flight",
      fmt(r.perSecond),
      "100%",
      fmt(r.ownCpuUs),
      "—",
    ]);
  }
  progress(`s: ${fmt(n)} creates into ZooKeeper`);
  {
    await using store = await openZkStore(zk.url("/bench/s"));
    const r = await storeRate(store, n, zk.pid);
    result.storeZk = r.perSecond;
    rows.push([
      "(s) zk",
      "`createTask()`, 64 in flight",
      fmt(r.perSecond),
      `${fmt((100 * r.perSecond) / result.storeKv)}%`,
      fmt(r.ownCpuUs),
      fmt(r.zkCpuUs),
    ]);
  }

  if (await haveWrk()) {
    for (const driver of ["kv", "zk"] as const) {
      progress(`h: wrk POST for ${seconds} s, database_driver ${driver}`);
      const port = freePort();
      const base = `http://127.0.0.1:${port}`;
      await using srv = await startProcess({
        args: serveArgs({
          port,
          driver,
          database: driver === "kv" ? `${tmp}/h.kv` : zk.url("/bench/h"),
        }),
        healthUrl: `${base}/api/v1/health`,
        env: { MASTER: "", EREMETIC_MASTER: "", HTTP_CREDENTIALS: "" },
      });
      const lua = wrkLua("POST", EXAMPLE_BODY);
      await runWrk({ url: `${base}/api/v1/task`, seconds: 1, lua }); // warm-up
      const zk0 = await cpuMsOf(zk.pid!);
      const r = await runWrk({ url: `${base}/api/v1/task`, seconds, lua, serverPid: srv.pid });
      const zkCpuUs = ((await cpuMsOf(zk.pid!)) - zk0) * 1000 / r.requests;
      const key = driver === "kv" ? "httpKv" : "httpZk";
      result[key] = r.requestsPerSecond;
      rows.push([
        `(h) ${driver}`,
        `durable \`POST /api/v1/task\` (p50 ${fmt(r.p50Ms, 2)} ms, p99 ${fmt(r.p99Ms, 2)} ms, ` +
        `${r.errors} errors)`,
        fmt(r.requestsPerSecond),
        driver === "kv" ? "100%" : `${fmt((100 * r.requestsPerSecond) / result.httpKv)}%`,
        fmt(r.serverCpuUsPerRequest ?? NaN),
        driver === "kv" ? "—" : fmt(zkCpuUs),
      ]);
    }
  } else {
    progress("h: skipped, no wrk on PATH");
  }
  const busyCores = ((await machineBusyMs()) - busy0) / (performance.now() - t0);
  await Deno.remove(tmp, { recursive: true }).catch(() => {});

  const markdown = [
    "### Results",
    "",
    `Machine: ${machine}. ${quick ? "`--quick`: " : ""}${fmt(n)} creates per store; wrk ` +
    `64 connections, 2 threads, 1 s warm-up then ${seconds} s. The whole machine kept ` +
    `${fmt(busyCores, 1)} cores busy on average during the run (this benchmark included).`,
    "",
    markdownTable(
      ["", "what", "per s", "of kv", "Eremetic CPU µs/task", "ZooKeeper CPU µs/task"],
      rows,
    ),
  ].join("\n");
  await writeSection("zk_store", markdown);
  console.log(JSON.stringify(result));
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
