/**
 * `eremetic serve`: the HTTP API and the scheduler.
 *
 * @module
 */
import { createApp } from "../app.ts";
import { startHa } from "../ha/mod.ts";
import {
  type Config,
  ConfigError,
  type ConfigInput,
  flagsHelp,
  loadConfig,
  redactConfig,
} from "../config/mod.ts";
import { consoleLogger, type Logger, nextHostTurn, systemClock } from "../runtime.ts";
import { VERSION } from "../version.ts";

/** How long stopping waits for open responses before it goes on without them. */
export const SHUTDOWN_GRACE_MS = 5_000;

export interface RunningServer extends AsyncDisposable {
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** Resolves when the server has stopped. */
  finished: Promise<void>;
  shutdown(): Promise<void>;
}

/** Starts the API server for a resolved configuration. */
export async function startServer(config: Config, logger: Logger): Promise<RunningServer> {
  // With ZooKeeper and a master, instances elect one leader (high availability).
  const app = config.database_driver === "zk" && config.master
    ? await startHa(config, { logger, clock: systemClock })
    : await createApp(config, { logger });
  const tls = config.tls_cert && config.tls_key
    ? {
      cert: await Deno.readTextFile(config.tls_cert),
      key: await Deno.readTextFile(config.tls_key),
    }
    : undefined;
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: config.address,
      port: config.port,
      ...(tls ?? {}),
      onListen: () => {},
    }, app.fetch);
  } catch (e) {
    await app.close();
    throw e;
  }
  const addr = server.addr;
  const host = addr.hostname === "0.0.0.0" ? "127.0.0.1" : addr.hostname;
  const url = `${tls ? "https" : "http"}://${host.includes(":") ? `[${host}]` : host}:${addr.port}`;
  let stopping: Promise<void> | null = null;
  let stopped!: () => void;
  const done = new Promise<void>((resolve) => stopped = resolve);
  const shutdown = () =>
    stopping ??= (async () => {
      // Requests that reached the socket before the stop (read once the event loop
      // polls them) are still answered: stopping at once would drop them unread.
      await nextHostTurn();
      // Live streams never end by themselves: end them, or the server waits for them.
      app.closeStreams();
      // A client that stopped reading its response, or sending its request body, keeps
      // its connection (and so the graceful shutdown) from finishing: wait a while, then
      // go on without it. (Its request was answered: an unfinished body gets a 503.)
      const graceful = await Promise.race([
        server.shutdown().then(() => true),
        systemClock.sleep(SHUTDOWN_GRACE_MS, grace.signal).then(() => false, () => true),
      ]);
      grace.abort();
      if (!graceful) {
        logger.warn(
          "Stopping with connections still open: their clients stopped reading or sending",
          {
            waited_ms: SHUTDOWN_GRACE_MS,
          },
        );
      }
      await app.close();
      stopped();
    })();
  const grace = new AbortController();
  return {
    url,
    finished: Promise.race([server.finished.then(() => stopping ?? undefined), done]),
    shutdown,
    [Symbol.asyncDispose]: shutdown,
  };
}

const HELP = `Usage: eremetic serve [flags]

Runs the HTTP API, the web UI and the Mesos scheduler.

Flags (every configuration key; see docs/configuration.md):
`;

/** How `eremetic dev` adapts `serve`. */
export interface ServeCommandOptions {
  /** Called once listening, with the URL and the configuration actually used. */
  onListening?: (url: string, config: Config) => void;
  /** Defaults below the file, environment and flags (`eremetic dev`'s database). */
  defaults?: ConfigInput;
}

/** Loads the configuration, starts the server, and stops it on SIGINT/SIGTERM. */
export async function serveCommand(
  args: string[],
  { onListening, defaults }: ServeCommandOptions = {},
): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    // deno-lint-ignore no-console
    console.log(HELP + flagsHelp());
    return 0;
  }
  let loaded;
  try {
    loaded = await loadConfig(args, { defaults });
  } catch (e) {
    if (e instanceof ConfigError) {
      // deno-lint-ignore no-console
      for (const line of e.issues) console.error(`eremetic: ${line}`);
      return 2;
    }
    throw e;
  }
  const { config, notices, path } = loaded;
  const logger = consoleLogger({ level: config.loglevel, format: config.logformat });
  for (const n of notices) logger.warn(n);
  let server: RunningServer;
  try {
    server = await startServer(config, logger);
  } catch (e) {
    logger.error("Cannot start", { error: (e as Error).message });
    return 1;
  }
  // Listening for signals before saying it is ready: a signal sent right after the
  // announcement (a test, a supervisor, an impatient Ctrl-C) must stop it, not be lost.
  const stop = (signal: string) => {
    logger.info(`Received ${signal}: stopping (running tasks keep running)`);
    server.shutdown();
  };
  const onInt = () => stop("SIGINT");
  const onTerm = () => stop("SIGTERM");
  Deno.addSignalListener("SIGINT", onInt);
  Deno.addSignalListener("SIGTERM", onTerm);
  const safe = redactConfig(config) as { database: string; master: string };
  logger.info(`Eremetic ${VERSION} listening on ${server.url}`, {
    config: path ?? "(none)",
    database: `${config.database_driver}:${safe.database}`,
    master: safe.master || "(none)",
  });
  onListening?.(server.url, config);
  await server.finished;
  Deno.removeSignalListener("SIGINT", onInt);
  Deno.removeSignalListener("SIGTERM", onTerm);
  logger.info("Stopped");
  return 0;
}
