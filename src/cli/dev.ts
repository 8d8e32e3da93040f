// deno-lint-ignore-file no-console
/**
 * `eremetic dev`: an embedded development Mesos cluster (2 agents running tasks as
 * local processes) and `serve` against it on 127.0.0.1, so a newcomer sees a task
 * run with one command.
 *
 * @module
 */
import { startDevCluster } from "../devcluster/mod.ts";
import type { ConfigInput } from "../config/mod.ts";
import { serveCommand } from "./serve.ts";

/** `eremetic dev`'s defaults: below the YAML file, the environment and flags. */
export const DEV_DEFAULTS: ConfigInput = Object.freeze({
  address: "127.0.0.1",
  database: "db/dev.kv",
  refuse_seconds: 1,
});

const HELP = `Usage: eremetic dev [serve flags]

Starts a development Mesos cluster in this process (a master and 2 agents that run
tasks as local processes; Docker images are not pulled, commands run on this host)
and serves Eremetic against it. The configuration is read as for \`eremetic serve\`
(eremetic.yml, environment, flags), with these defaults in place of serve's:
address 127.0.0.1, database db/dev.kv, refuse_seconds 1. The master is always the
embedded cluster. Any flag of \`eremetic serve\` may be given (e.g. --port 9090).
`;

/** Runs the development cluster and `serve` until SIGINT/SIGTERM. */
export async function devCommand(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(HELP);
    return 0;
  }
  await using cluster = await startDevCluster({ executor: "process", agents: 2 });
  console.error(
    `eremetic dev: development Mesos cluster at ${cluster.url} with ${cluster.agents.length} agents ` +
      "(tasks run as local processes; Docker images are not pulled)",
  );
  // The master is what `dev` is for: it comes last, over any other source.
  return await serveCommand([...args, "--master", cluster.url], {
    defaults: DEV_DEFAULTS,
    onListening: (url, config) =>
      console.error(
        `\nEremetic is ready: ${url}/ (Ctrl-C stops it; running tasks are killed with the cluster)\n` +
          `Database: ${config.database_driver} ${
            config.database_driver === "memory" ? "(nothing is kept)" : config.database
          }\n` +
          `Try:\n  EREMETIC_URL=${url} ${selfCommand()} run --wait 'echo $(date)'\n` +
          `  curl -X POST -d '{"mem":22.0,"cpu":1.0,"image":"busybox","command":"echo $(date)"}' ` +
          `${url}/api/v1/task\n`,
      ),
  });
}

/** How to run this program again: the binary, or `deno run -A main.ts` from source. */
function selfCommand(): string {
  const exe = Deno.execPath().split(/[\\/]/).pop() ?? "";
  return /^deno(\.exe)?$/.test(exe) ? "deno run -A main.ts" : exe;
}
