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
import { VERSION } from "../version.ts";

/** A subcommand: receives the arguments after its name, returns an exit code. */
export type Command = (args: string[]) => Promise<number>;

interface CommandEntry {
  summary: string;
  load: () => Promise<Command>;
}

const notYet = (what: string): Command => (_args) => {
  console.error(`eremetic: "${what}" is not available yet in this version`);
  return Promise.resolve(2);
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
  run: { summary: "submit a task (hermit run)", load: () => Promise.resolve(notYet("run")) },
  ls: { summary: "list tasks (hermit ls)", load: () => Promise.resolve(notYet("ls")) },
  task: { summary: "show one task (hermit task)", load: () => Promise.resolve(notYet("task")) },
  logs: { summary: "print a task's stdout or stderr", load: () => Promise.resolve(notYet("logs")) },
  kill: { summary: "kill a task", load: () => Promise.resolve(notYet("kill")) },
  delete: {
    summary: "delete a terminated task",
    load: () => Promise.resolve(notYet("delete")),
  },
  version: {
    summary: "print the version",
    load: () =>
      Promise.resolve(() => {
        console.log(VERSION);
        return Promise.resolve(0);
      }),
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

/** Runs the command named by `args[0]` (default `serve`) and returns its exit code. */
export async function main(args: string[]): Promise<number> {
  const [first, ...rest] = args;
  if (first === "-h" || first === "--help" || first === "help") {
    console.log(usage());
    return 0;
  }
  if (first === "--version" || first === "-v") {
    console.log(VERSION);
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
