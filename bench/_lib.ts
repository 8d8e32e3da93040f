// deno-lint-ignore-file no-console
/**
 * Shared helpers of the benchmark scripts: free ports, server subprocesses,
 * RSS of a process, the `wrk` load generator, and the `docs/benchmarks.md`
 * section writer.
 *
 * ```ts
 * import { runWrk, startProcess, writeSection } from "./_lib.ts";
 * // await using srv = await startProcess({ args: ["run", "-A", "bench/_hello.ts", "8000"], healthUrl: "http://127.0.0.1:8000/" });
 * // const r = await runWrk({ url: "http://127.0.0.1:8000/", seconds: 10 });
 * // await writeSection("submit", "| ... |");
 * ```
 *
 * @module
 */

/** The repository root (bench/..). */
export const ROOT = new URL("../", import.meta.url).pathname;
/** The benchmark report. */
export const REPORT_PATH = `${ROOT}docs/benchmarks.md`;

/** A free TCP port on 127.0.0.1 (closed again; a small race is accepted). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** What `serveArgs` builds a `deno run ... main.ts serve` command line from. */
export interface ServeArgsOptions {
  port: number;
  database: string;
  /** `--master`; none when absent. */
  master?: string;
  /** `--database-driver`; the configured default when absent. */
  driver?: string;
  /** Deno flags placed before `main.ts` (e.g. `--cpu-prof`). */
  denoFlags?: string[];
}

/** The arguments of `deno` running Eremetic on loopback for a benchmark, logging warnings only. */
export function serveArgs(
  { port, database, master, driver, denoFlags = [] }: ServeArgsOptions,
): string[] {
  return [
    "run",
    "-A",
    ...denoFlags,
    "main.ts",
    "serve",
    "--address",
    "127.0.0.1",
    "--port",
    String(port),
    ...(driver ? ["--database-driver", driver] : []),
    "--database",
    database,
    ...(master ? ["--master", master] : []),
    "--loglevel",
    "warn",
  ];
}

export interface StartProcessOptions {
  /** Arguments of `deno` (e.g. `["run", "-A", "main.ts", "serve", ...]`). */
  args: string[];
  /** Polled until it answers 2xx. */
  healthUrl: string;
  /** How long to wait for health. */
  timeoutMs?: number;
  env?: Record<string, string>;
  /** Inherit stdout/stderr (default: inherit stderr only). */
  quiet?: boolean;
}

/** A running subprocess started by `startProcess`. */
export interface RunningProcess extends AsyncDisposable {
  pid: number;
  child: Deno.ChildProcess;
  /** Sends SIGTERM, then SIGKILL after 5 s, and waits for the exit. */
  stop(): Promise<void>;
}

/** Starts `deno <args>` and waits until `healthUrl` answers 2xx. */
export async function startProcess(
  { args, healthUrl, timeoutMs = 60_000, env, quiet = false }: StartProcessOptions,
): Promise<RunningProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env,
    stdin: "null",
    stdout: quiet ? "null" : "inherit",
    stderr: quiet ? "null" : "inherit",
  }).spawn();
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  let stopping: Promise<void> | null = null;
  const stop = () =>
    stopping ??= (async () => {
      if (!exited) {
        try {
          child.kill("SIGTERM");
        } catch { /* already gone */ }
        const timer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch { /* already gone */ }
        }, 5_000);
        await status;
        clearTimeout(timer);
      }
    })();
  const deadline = Date.now() + timeoutMs;
  while (true) {
    if (exited) {
      throw new Error(
        `Cannot start "deno ${args.join(" ")}": it exited with ${(await status).code}`,
      );
    }
    try {
      const res = await fetch(healthUrl);
      await res.body?.cancel();
      if (res.ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`Cannot start "deno ${args.join(" ")}": no answer at ${healthUrl}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { pid: child.pid, child, stop, [Symbol.asyncDispose]: stop };
}

/** Runs `deno <args>` to completion, inheriting output; throws on a non-zero exit. */
export async function runDeno(args: string[], env?: Record<string, string>): Promise<void> {
  const { code } = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env,
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) throw new Error(`Cannot run "deno ${args.join(" ")}": it exited with ${code}`);
}

/** Resident memory of a process, in MB. */
export interface ProcessMemory {
  /** VmRSS. */
  rssMb: number;
  /** VmHWM: the RSS's peak. */
  peakMb: number;
  /** RssAnon (heap, stacks) and RssFile (mapped files) of the RSS. */
  anonMb: number;
  fileMb: number;
}

/** Resident memory from /proc/<pid>/status (fields it lacks are NaN). */
export async function memoryOf(pid: number): Promise<ProcessMemory> {
  const text = await Deno.readTextFile(`/proc/${pid}/status`);
  const mb = (field: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text);
    return m ? Number(m[1]) / 1024 : NaN;
  };
  return {
    rssMb: mb("VmRSS"),
    peakMb: mb("VmHWM"),
    anonMb: mb("RssAnon"),
    fileMb: mb("RssFile"),
  };
}

/** CPU time (user + system, all threads) a process has used, in ms. */
export async function cpuMsOf(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields 14 and 15 (utime, stime) in clock ticks of 10 ms (USER_HZ = 100 on Linux).
  return (Number(f[11]) + Number(f[12])) * 10;
}

/** Busy CPU time of the whole machine (all cores, all processes), in ms. */
export async function machineBusyMs(): Promise<number> {
  const line = (await Deno.readTextFile("/proc/stat")).split("\n")[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal ...
  return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) * 10;
}

/** What one `wrk` run measured. */
export interface LoadResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Non-2xx/3xx responses plus socket errors. */
  errors: number;
  /** Server CPU per request (all its threads), when `serverPid` was given. */
  serverCpuUsPerRequest?: number;
  /** Cores busy with other processes than the server and wrk during the run (0-nproc). */
  otherCores?: number;
}

export interface WrkOptions {
  url: string;
  seconds: number;
  connections?: number;
  threads?: number;
  /** A Lua script (its text), e.g. to POST a body. */
  lua?: string;
  /** The server's pid, to measure its CPU per request and the machine's other load. */
  serverPid?: number;
}

/** Whether the `wrk` binary is on PATH. */
export async function haveWrk(): Promise<boolean> {
  try {
    const { code } = await new Deno.Command("wrk", { args: ["-v"], stdout: "null", stderr: "null" })
      .output();
    return code === 0 || code === 1;
  } catch {
    return false;
  }
}

/** Runs `wrk --latency` and parses its report. */
export async function runWrk(
  { url, seconds, connections = 64, threads = 2, lua, serverPid }: WrkOptions,
): Promise<LoadResult> {
  const args = [
    "--latency",
    "-t",
    String(threads),
    "-c",
    String(connections),
    "-d",
    `${seconds}s`,
    "--timeout",
    "10s",
  ];
  let script: string | null = null;
  if (lua) {
    script = await Deno.makeTempFile({ suffix: ".lua" });
    await Deno.writeTextFile(script, lua);
    args.push("-s", script);
  }
  args.push(url);
  try {
    const server0 = serverPid ? await cpuMsOf(serverPid) : 0;
    const busy0 = await machineBusyMs();
    const started = performance.now();
    const child = new Deno.Command("wrk", { args, stdout: "piped", stderr: "piped" }).spawn();
    // wrk's own CPU, sampled until it exits (the last half second is extrapolated).
    let wrkMs = 0;
    let sampledAt = started;
    let done = false;
    const output = child.output().finally(() => done = true);
    while (!done) {
      await Promise.race([output, new Promise((r) => setTimeout(r, 500))]);
      if (done) break;
      try {
        wrkMs = await cpuMsOf(child.pid);
        sampledAt = performance.now();
      } catch { /* exited */ }
    }
    const out = await output;
    const elapsed = performance.now() - started;
    const busy = await machineBusyMs() - busy0;
    const serverMs = serverPid ? await cpuMsOf(serverPid) - server0 : 0;
    wrkMs *= elapsed / Math.max(1, sampledAt - started);
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    if (out.code !== 0) throw new Error(`Cannot run wrk: exit ${out.code}: ${text}`);
    const result = parseWrk(text);
    if (serverPid) {
      result.serverCpuUsPerRequest = (serverMs * 1000) / result.requests;
      result.otherCores = Math.max(0, (busy - serverMs - wrkMs) / elapsed);
    }
    return result;
  } finally {
    if (script) await Deno.remove(script);
  }
}

/** Parses the text `wrk --latency` prints. */
export function parseWrk(text: string): LoadResult {
  const num = (re: RegExp) => {
    const m = re.exec(text);
    return m ? Number(m[1]) : NaN;
  };
  const ms = (pct: string) => {
    const m = new RegExp(`^\\s+${pct}%\\s+([\\d.]+)(us|ms|s)\\b`, "m").exec(text);
    if (!m) return NaN;
    const v = Number(m[1]);
    return m[2] === "us" ? v / 1000 : m[2] === "s" ? v * 1000 : v;
  };
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const socketErrors = socket ? socket.slice(1).reduce((n, s) => n + Number(s), 0) : 0;
  return {
    requestsPerSecond: num(/Requests\/sec:\s+([\d.]+)/),
    p50Ms: ms("50"),
    p99Ms: ms("99"),
    requests: num(/(\d+) requests in/),
    errors: (num(/Non-2xx or 3xx responses: (\d+)/) || 0) + socketErrors,
  };
}

/** A Lua script making `wrk` send `method` with a JSON body. */
export function wrkLua(method: string, body: string): string {
  return `wrk.method = ${JSON.stringify(method)}
wrk.body = ${JSON.stringify(body)}
wrk.headers["Content-Type"] = "application/json"
`;
}

/** A markdown table. */
export function markdownTable(headers: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(" | ")} |`;
  return [line(headers), line(headers.map(() => "---")), ...rows.map(line)].join("\n");
}

/** The machine a run happened on, as one markdown line. */
export async function machineLine(): Promise<string> {
  let cpu = "unknown CPU";
  try {
    const info = await Deno.readTextFile("/proc/cpuinfo");
    cpu = /^model name\s*:\s*(.+)$/m.exec(info)?.[1].trim() ?? cpu;
  } catch { /* not Linux */ }
  const mem = Deno.systemMemoryInfo();
  return `${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC; ` +
    `${navigator.hardwareConcurrency} cores (${cpu}), ${
      Math.round(mem.total / 2 ** 30)
    } GiB RAM; ` +
    `Deno ${Deno.version.deno} (V8 ${Deno.version.v8}); ${Deno.build.os}/${Deno.build.arch}; ` +
    `load average at start ${Deno.loadavg()[0].toFixed(1)}`;
}

/**
 * Replaces the text between `<!-- bench:NAME:start -->` and `<!-- bench:NAME:end -->`
 * in docs/benchmarks.md (appending the section if absent). Other text is kept.
 */
export async function writeSection(name: string, markdown: string, path = REPORT_PATH) {
  let doc = "";
  try {
    doc = await Deno.readTextFile(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  await Deno.writeTextFile(path, replaceSection(doc, name, markdown));
  // Keep the report as `deno fmt --check` wants it (aligned tables, blank lines).
  await new Deno.Command(Deno.execPath(), { args: ["fmt", "--quiet", path], stdout: "null" })
    .output();
}

/** The pure part of `writeSection`. */
export function replaceSection(doc: string, name: string, markdown: string): string {
  const start = `<!-- bench:${name}:start -->`;
  const end = `<!-- bench:${name}:end -->`;
  const block = `${start}\n\n${markdown.trim()}\n\n${end}`;
  const i = doc.indexOf(start);
  const j = doc.indexOf(end);
  if (i >= 0 && j > i) return doc.slice(0, i) + block + doc.slice(j + end.length);
  return `${doc.trimEnd()}\n\n${block}\n`;
}

/** Formats a number with thousands separators and `digits` decimals. */
export function fmt(n: number, digits = 0): string {
  if (!Number.isFinite(n)) return "n/a";
  return n.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** Prints a progress line to stderr. */
export function progress(message: string) {
  console.error(`[bench] ${message}`);
}
