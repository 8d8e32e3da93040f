/**
 * A private ZooKeeper server for tests: Debian's `zookeeper` package (Java) started on a
 * free loopback port with a temporary data dir, ready once it answers `ruok` with
 * `imok` and `srvr` with its mode, and stopped (process ended, data dir removed) afterwards.
 *
 * Tests that need it use {@linkcode zkSuite}: one server per test file, shared by the
 * steps. Without Java or the ZooKeeper jars the suite is skipped with a notice, except
 * under `CI=true`, where it fails saying what is missing.
 *
 * Locally: `sudo apt-get install -y zookeeper`, then `deno test -A tests/zk_*_test.ts`.
 * `ZOOKEEPER_JARS` names another directory holding the jars (default `/usr/share/java`).
 *
 * @module
 */
import { freePort } from "./_helpers.ts";

const JAR_DIR = Deno.env.get("ZOOKEEPER_JARS") ?? "/usr/share/java";
/** The jars ZooKeeperServerMain needs (Debian names, without versions). */
const JARS = [
  "zookeeper",
  "zookeeper-jute",
  "slf4j-api",
  "slf4j-nop",
  "netty-handler",
  "netty-common",
  "netty-buffer",
  "netty-transport",
  "netty-codec",
  "netty-resolver",
  "netty-transport-native-epoll",
  "netty-transport-native-unix-common",
  "commons-io",
  "metrics-core",
  "snappy-java",
];
const IN_CI = Deno.env.get("CI") === "true";
const START_TIMEOUT_MS = 30_000;

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function findJava(): string | null {
  const home = Deno.env.get("JAVA_HOME");
  if (home && exists(`${home}/bin/java`)) return `${home}/bin/java`;
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir && exists(`${dir}/java`)) return `${dir}/java`;
  }
  return null;
}

/** Why a server cannot start here, or `null` when it can. */
export function zookeeperMissing(): string | null {
  if (!findJava()) return "no java on PATH (install Debian's zookeeper package)";
  const absent = JARS.filter((j) => !exists(`${JAR_DIR}/${j}.jar`));
  if (absent.length) {
    return `no ${absent.map((j) => `${j}.jar`).join(", ")} in ${JAR_DIR} ` +
      "(install Debian's zookeeper package or set ZOOKEEPER_JARS)";
  }
  return null;
}

/** A running test server. */
export interface TestZooKeeper extends AsyncDisposable {
  /** `127.0.0.1:port`. */
  readonly connect: string;
  readonly port: number;
  /** The server process's pid (for CPU measurements), or `null` once stopped. */
  readonly pid: number | null;
  /** A `zk://` URL for `path` on this server, e.g. `zk://127.0.0.1:2181/mesos`. */
  url(path: string): string;
  /** Sends a four-letter command (`ruok`, `srvr`, ...) and returns the answer. */
  command(word: string): Promise<string>;
  /**
   * Freezes the server (SIGSTOP) for `ms`, then lets it go on: clients lose their
   * connection, and sessions with a shorter timeout are expired when it wakes, as
   * after a network partition.
   */
  pause(ms: number): Promise<void>;
  /** Kills the server and starts it again on the same port with the same data. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Sends a four-letter word to `port` and reads the answer until the server closes; gives
 * up after `timeoutMs` (a server still starting may accept and never answer).
 */
async function fourLetters(port: number, word: string, timeoutMs = 2000): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    try {
      conn.close();
    } catch { /* closed by the response */ }
  };
  const timer = setTimeout(close, timeoutMs);
  try {
    await conn.write(new TextEncoder().encode(word));
    const decoder = new TextDecoder();
    const buf = new Uint8Array(4096);
    let text = "";
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += decoder.decode(buf.subarray(0, n), { stream: true });
    }
    return text + decoder.decode();
  } finally {
    clearTimeout(timer);
    close();
  }
}

export interface StartZooKeeperOptions {
  /**
   * JVM flags for a quick start (C1 compiler only, 128 MiB heap), the default for tests;
   * `false` runs the JVM's defaults, as a production server would (benchmarks).
   */
  quickStart?: boolean;
}

/** Starts a server on a free port; rejects if it does not answer `imok` in time. */
export async function startZooKeeper(
  { quickStart = true }: StartZooKeeperOptions = {},
): Promise<TestZooKeeper> {
  const missing = zookeeperMissing();
  if (missing) throw new Error(`Cannot start ZooKeeper: ${missing}`);
  const java = findJava()!;
  const dir = await Deno.makeTempDir({ prefix: "eremetic-zk-" });
  const port = freePort();
  await Deno.mkdir(`${dir}/data`);
  await Deno.writeTextFile(
    `${dir}/zoo.cfg`,
    [
      "tickTime=500",
      `dataDir=${dir}/data`,
      `clientPort=${port}`,
      "clientPortAddress=127.0.0.1",
      "admin.enableServer=false",
      "4lw.commands.whitelist=ruok,srvr,stat",
      // Sessions as short as 1 s, so expiry tests stay quick (the default minimum is 2 ticks).
      "minSessionTimeout=1000",
      "maxSessionTimeout=30000",
      "maxClientCnxns=0",
    ].join("\n") + "\n",
  );
  let child: Deno.ChildProcess | null = null;
  const launch = () => {
    child = new Deno.Command(java, {
      args: [
        "-Xshare:auto",
        ...(quickStart ? ["-XX:TieredStopAtLevel=1", "-Xmx128m"] : []),
        "-cp",
        JARS.map((j) => `${JAR_DIR}/${j}.jar`).join(":"),
        "org.apache.zookeeper.server.ZooKeeperServerMain",
        `${dir}/zoo.cfg`,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    return child;
  };
  const waitReady = async (proc: Deno.ChildProcess) => {
    let exited = false;
    proc.status.then(() => exited = true);
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline && !exited) {
      try {
        // `imok` only says the process runs; `srvr` shows a Mode once it serves requests.
        if (
          (await fourLetters(port, "ruok")) === "imok" &&
          (await fourLetters(port, "srvr")).includes("Mode:")
        ) return;
      } catch { /* not listening yet */ }
      await new Promise((r) => setTimeout(r, 50));
    }
    await kill(proc);
    const err = await new Response(proc.stderr).text().catch(() => "");
    throw new Error(
      `Cannot start ZooKeeper on port ${port}: ${exited ? "it exited" : "no imok in time"}` +
        (err ? `\n${err.slice(-2000)}` : ""),
    );
  };
  const kill = async (proc: Deno.ChildProcess) => {
    try {
      proc.kill("SIGKILL");
    } catch { /* already gone */ }
    await proc.status;
    await proc.stderr.cancel().catch(() => {});
  };
  try {
    await waitReady(launch());
  } catch (err) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw err;
  }
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (child) await kill(child);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  return {
    connect: `127.0.0.1:${port}`,
    port,
    get pid() {
      return stopped || !child ? null : (child as Deno.ChildProcess).pid;
    },
    url: (path) => `zk://127.0.0.1:${port}${path.startsWith("/") ? path : `/${path}`}`,
    command: (word) => fourLetters(port, word),
    async pause(ms) {
      child!.kill("SIGSTOP");
      await new Promise((r) => setTimeout(r, ms));
      child!.kill("SIGCONT");
    },
    async restart() {
      if (child) await kill(child);
      await waitReady(launch());
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/**
 * One test per file whose steps share one ZooKeeper server (starting the JVM costs
 * about a second). Skipped with a notice when ZooKeeper is missing; under `CI=true` it
 * fails with what is missing.
 */
export function zkSuite(
  name: string,
  fn: (zk: TestZooKeeper, t: Deno.TestContext) => Promise<void>,
): void {
  const missing = zookeeperMissing();
  if (missing && !IN_CI) {
    // deno-lint-ignore no-console
    console.warn(`NOTICE: "${name}" skipped: ${missing} (with CI=true it fails)`);
    Deno.test({ name, ignore: true, fn: () => {} });
    return;
  }
  Deno.test({
    name,
    // node-zookeeper-client keeps sockets and timers of its own between steps.
    sanitizeOps: false,
    sanitizeResources: false,
    async fn(t) {
      if (missing) throw new Error(`Cannot run ZooKeeper tests (CI=true): ${missing}`);
      await using zk = await startZooKeeper();
      await fn(zk, t);
    },
  });
}

/**
 * `eremetic serve` flags for one instance of high availability: the development
 * cluster at `master`, the `zk` store at `database` with a session of `sessionSeconds`.
 */
export function zkServeFlags(master: string, database: string, sessionSeconds: number): string[] {
  return [
    "--master",
    master,
    "--refuse-seconds",
    "1",
    "--database-driver",
    "zk",
    "--database",
    database,
    "--zk-session-timeout-seconds",
    String(sessionSeconds),
  ];
}

/** What the HA tests read of `/api/v1/health`. */
export interface HaHealth {
  status: string;
  ha: { role: string; leader: string | null };
  mesos?: { state: string };
  store?: { description: string };
}

/**
 * An instance's health, or null when it does not answer within a second; with
 * `anyStatus`, a 503's document too (a role is named even while the store is down).
 */
export async function haHealth(
  url: string,
  { anyStatus = false } = {},
): Promise<HaHealth | null> {
  try {
    const res = await fetch(`${url}/api/v1/health`, { signal: AbortSignal.timeout(1000) });
    return res.ok || anyStatus ? await res.json() : (await res.body?.cancel(), null);
  } catch {
    return null;
  }
}
