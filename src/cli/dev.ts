// deno-lint-ignore-file no-console
/**
 * `eremetic dev`: an embedded development Mesos cluster (2 agents running tasks as
 * local processes) and `serve` against it on 127.0.0.1, so a newcomer sees a task
 * run with one command.
 *
 * @module
 */
import { startDevCluster } from "../devcluster/mod.ts";
import { serveCommand } from "./serve.ts";

const HELP = `Usage: eremetic dev [serve flags]

Starts a development Mesos cluster in this process (a master and 2 agents that run
tasks as local processes; Docker images are not pulled, commands run on this host)
and serves Eremetic against it on http://127.0.0.1:8080 with the database db/dev.kv.
Any flag of \`eremetic serve\` may be given (e.g. --port 9090).
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
  const defaults = [
    "--address",
    "127.0.0.1",
    "--database",
    "db/dev.kv",
    "--master",
    cluster.url,
    "--refuse-seconds",
    "1",
  ];
  return await serveCommand([...defaults, ...args], {
    onListening: (url) =>
      console.error(
        `\nEremetic is ready: ${url}/ (Ctrl-C stops it; running tasks are killed with the cluster)\n` +
          `Try:\n  curl -X POST -d '{"mem":22.0,"cpu":1.0,"image":"busybox","command":"echo $(date)"}' ` +
          `${url}/api/v1/task\n  curl ${url}/api/v1/task?state=\n`,
      ),
  });
}
