/**
 * `eremetic dev`: serve on 127.0.0.1 with a local database, for a first look.
 *
 * @module
 */
import { serveCommand } from "./serve.ts";

/** Runs `serve` with development defaults; flags given win. */
export function devCommand(args: string[]): Promise<number> {
  const defaults = ["--address", "127.0.0.1", "--database", "db/dev.kv"];
  // deno-lint-ignore no-console
  console.error(
    "eremetic dev: no Mesos master is attached yet (the development cluster is not available " +
      "in this version); tasks are accepted and stay queued",
  );
  return serveCommand([...defaults, ...args]);
}
