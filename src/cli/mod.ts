// deno-lint-ignore-file no-console
/**
 * Command-line entry: `main(args)` dispatches to a subcommand and returns an exit code.
 *
 * ```ts
 * import { main } from "./src/cli/mod.ts";
 * Deno.exit(await main(["version"]));
 * ```
 *
 * @module
 */
import process from "node:process";
import { buildCommit, VERSION } from "../version.ts";

/** A subcommand: receives the arguments after its name, returns an exit code. */
export type Command = (args: string[]) => Promise<number>;

interface CommandEntry {
  summary: string;
  load: () => Promise<Command>;
}

const client = (name: string): CommandEntry["load"] => async () => {
  const { clientCommand, denoIo } = await import("./hermit.ts");
  return (args) => clientCommand(name, args, denoIo("eremetic"));
};

/** Subcommands, loaded lazily so a client command does not pay for the server. */
const COMMANDS: Record<string, CommandEntry> = {
  serve: {
    summary: "run the HTTP API and the Mesos scheduler (default)",
    load: async () => (await import("./serve.ts")).serveCommand,
  },
  dev: {
    summary: "run serve against an embedded development Mesos cluster",
    load: async () => (await import("./dev.ts")).devCommand,
  },
  devcluster: {
    summary: "run the development Mesos cluster alone",
    load: async () => (await import("./devcluster.ts")).devclusterCommand,
  },
  run: { summary: "submit a task; --wait follows it to its end (hermit run)", load: client("run") },
  ls: { summary: "list tasks (hermit ls)", load: client("ls") },
  task: { summary: "show one task (hermit task)", load: client("task") },
  logs: { summary: "print a task's stdout or stderr; --follow", load: client("logs") },
  kill: { summary: "kill a task", load: client("kill") },
  delete: { summary: "delete a finished task", load: client("delete") },
  version: {
    summary: "print the version and commit (and the server's, with EREMETIC_URL)",
    load: client("version"),
  },
};

/** Usage text listing every subcommand. */
export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) =>
    `  ${name.padEnd(width)}  ${c.summary}`
  );
  return [
    `eremetic ${VERSION}: run one-shot tasks on Apache Mesos`,
    "",
    "Usage: eremetic [command] [flags]",
    "",
    "Commands:",
    ...lines,
    "",
    "Run `eremetic <command> --help` for a command's flags.",
  ].join("\n");
}

/**
 * Whether this program was invoked as `hermit`: a symlink to the binary (its argv[0]; the
 * executable's own path is the link's target) or to main.ts.
 */
export function invokedAsHermit(
  argv0: string = process.argv0,
  mainModule: string = Deno.mainModule,
): boolean {
  const base = (p: string) =>
    p.replace(/[?#].*$/, "").split(/[\\/]/).pop()!.replace(/\.(exe|ts|js)$/, "");
  return base(argv0) === "hermit" || base(mainModule) === "hermit";
}

/** Runs the command named by `args[0]` (default `serve`) and returns its exit code. */
export async function main(args: string[]): Promise<number> {
  if (invokedAsHermit()) {
    const { hermitMain } = await import("./hermit.ts");
    return await hermitMain(args);
  }
  const [first, ...rest] = args;
  if (first === "-h" || first === "--help" || first === "help") {
    console.log(usage());
    return 0;
  }
  if (first === "--version" || first === "-v") {
    console.log(`${VERSION} (commit ${buildCommit()})`);
    return 0;
  }
  // No command, or flags first: serve.
  if (first === undefined || first.startsWith("-")) {
    return await (await COMMANDS.serve.load())(args);
  }
  const entry = COMMANDS[first];
  if (!entry) {
    console.error(`eremetic: unknown command "${first}"\n\n${usage()}`);
    return 2;
  }
  return await (await entry.load())(rest);
}
