// deno-lint-ignore-file no-console
/**
 * In-process CPU per request of the API (no sockets): `app.fetch` of `src/app.ts` with a
 * KV database in a temp dir, no Mesos master, log level warn. Durable `POST /api/v1/task`
 * (the seed's example body, 64 in flight so group commits fill as under `wrk`) and
 * `GET /api/v1/task/{id}` of one cached task. CPU is the whole process's (all threads:
 * the main thread, SQLite's writer thread, garbage-collection workers) from
 * `process.cpuUsage()`, divided by the requests.
 *
 * `--root DIR` measures another tree (e.g. an exported earlier commit), so that before and
 * after run alternately on the same machine:
 *
 * ```sh
 * git archive OLD | tar -x -C /tmp/before
 * for i in 1 2 3; do
 *   deno run -A bench/_api_micro.ts --root /tmp/before; deno run -A bench/_api_micro.ts
 * done
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import process from "node:process";
import { pathToFileURL } from "node:url";
const toFileUrl = pathToFileURL;

const { values } = parseArgs({
  options: {
    root: { type: "string", default: new URL("..", import.meta.url).pathname },
    posts: { type: "string", default: "20000" },
    gets: { type: "string", default: "60000" },
    inflight: { type: "string", default: "64" },
  },
});
const root = values.root!.replace(/\/$/, "");
const posts = Number(values.posts);
const gets = Number(values.gets);
const inflight = Number(values.inflight);

const { createApp } = await import(toFileUrl(`${root}/src/app.ts`).href);
const { resolveConfig } = await import(toFileUrl(`${root}/src/config/mod.ts`).href);
const { consoleLogger } = await import(toFileUrl(`${root}/src/runtime.ts`).href);

const dir = await Deno.makeTempDir({ prefix: "api-micro-" });
const { config } = resolveConfig({
  flags: ["--database", `${dir}/micro.kv`, "--loglevel", "warn"],
});
const app = await createApp(config, { logger: consoleLogger({ level: "warn" }) });

const BODY = JSON.stringify({ mem: 22.0, cpu: 1.0, image: "busybox", command: "echo $(date)" });
const post = () =>
  new Request("http://127.0.0.1:8000/api/v1/task", {
    method: "POST",
    headers: { host: "127.0.0.1:8000", "content-type": "application/json" },
    body: BODY,
  });

/** Runs `n` requests, `inflight` at a time; returns CPU µs per request and a sample body. */
async function phase(n: number, make: () => Request, status: number) {
  let sent = 0;
  let last = "";
  const worker = async () => {
    while (sent < n) {
      sent++;
      const res = await app.fetch(make());
      if (res.status !== status) throw new Error(`status ${res.status}: ${await res.text()}`);
      last = await res.text();
    }
  };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inflight }, worker));
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { cpuUs: (cpu.user + cpu.system) / n, perSec: n / wall * 1000, last };
}

// Warm-up, then measured phases.
await phase(Math.min(2000, posts), post, 202);
const p = await phase(posts, post, 202);
const id = JSON.parse(p.last) as string;
const get = () =>
  new Request(`http://127.0.0.1:8000/api/v1/task/${id}`, { headers: { host: "127.0.0.1:8000" } });
await phase(Math.min(5000, gets), get, 200);
const g = await phase(gets, get, 200);
console.log(JSON.stringify({
  root,
  post_cpu_us: Math.round(p.cpuUs * 10) / 10,
  post_per_s: Math.round(p.perSec),
  get_cpu_us: Math.round(g.cpuUs * 10) / 10,
  get_per_s: Math.round(g.perSec),
}));
await app.close();
await Deno.remove(dir, { recursive: true });
