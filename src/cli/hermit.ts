/**
 * The client commands, compatible with the original `hermit` (`run`, `task`, `ls`,
 * `logs`, `kill`, `version`) plus `delete`, `run --wait`, `logs --follow` and `--json`
 * on every command. Each returns an exit code; see {@linkcode EXIT_CODES}.
 *
 * ```ts
 * import { clientCommand, denoIo } from "./hermit.ts";
 * Deno.exit(await clientCommand("ls", ["--all"], denoIo("hermit")));
 * ```
 *
 * @module
 */
import { flagIsOn, type FlagSpecs, parseFlagArgs } from "../config/mod.ts";
import { type Clock, systemClock } from "../runtime.ts";
import { isTerminal } from "../task/mod.ts";
import { buildCommit, VERSION } from "../version.ts";
import { followTask } from "./follow.ts";
import {
  ApiError,
  ConnectionError,
  DEFAULT_EREMETIC_URL,
  EremeticClient,
  type Transport,
  UrlError,
} from "./client.ts";
import {
  EXIT_ERROR,
  EXIT_USAGE,
  exitCodeFor,
  listRows,
  matchesFilter,
  newestFirst,
  numberFlag,
  parseListFilter,
  runBody,
  taskLines,
  type TaskView,
} from "./format.ts";

/** Where a command reads its settings and writes its output. */
export interface ClientIo {
  /** `hermit` or `eremetic`, as invoked (for messages and help). */
  prog: string;
  env: Readonly<Record<string, string | undefined>>;
  stdout: (text: string) => Promise<void>;
  stderr: (text: string) => Promise<void>;
  /** Whether stdout (and stderr) are terminals: the progress line shows only then. */
  interactive: boolean;
  clock: Clock;
  /** Replaces `fetch` (tests). */
  transport?: Transport;
}

/** The real process: Deno's stdout and stderr, environment and clock. */
export function denoIo(prog: string): ClientIo {
  const writer = (file: typeof Deno.stdout) => async (text: string) => {
    const bytes = new TextEncoder().encode(text);
    for (let at = 0; at < bytes.length;) at += await file.write(bytes.subarray(at));
  };
  return {
    prog,
    env: Deno.env.toObject(),
    stdout: writer(Deno.stdout),
    stderr: writer(Deno.stderr),
    interactive: Deno.stdout.isTerminal() && Deno.stderr.isTerminal(),
    clock: systemClock,
  };
}

/** A command line that cannot be run: printed with the command's usage hint. */
class UsageError extends Error {
  override name = "UsageError";
}

/** The task does not exist. */
class NotFoundError extends Error {
  override name = "NotFoundError";
}

interface ClientCommand {
  summary: string;
  usage: string;
  flags: FlagSpecs;
  /** Help lines for the flags, beside the common ones. */
  flagHelp: string[];
  /** `stop`: the first argument that is not a flag starts the task's command. */
  positionals: "any" | "stop";
  run(ctx: Context): Promise<number>;
}

interface Context {
  io: ClientIo;
  client: EremeticClient;
  values: Record<string, string | boolean | string[]>;
  positionals: string[];
  json: boolean;
}

const COMMON: FlagSpecs = {
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
};

const COMMON_HELP = [
  "  --json            print JSON (one document, or one per line while following)",
  "  -h, --help        show this help",
];

function str(ctx: Context, name: string, fallback: string): string {
  const v = ctx.values[name];
  return typeof v === "string" ? v : fallback;
}

function list(ctx: Context, name: string): string[] {
  const v = ctx.values[name];
  return Array.isArray(v) ? v : [];
}

function oneId(ctx: Context): string {
  if (ctx.positionals.length !== 1) {
    throw new UsageError(
      ctx.positionals.length === 0
        ? "Missing the task id"
        : `Expected one task id, got ${ctx.positionals.length} arguments`,
    );
  }
  return ctx.positionals[0];
}

function taskPath(id: string): string {
  return `/api/v1/task/${encodeURIComponent(id)}`;
}

/** Raises NotFoundError for a 404 of a task route. */
function notFound(e: unknown, id: string): never {
  if (e instanceof ApiError && e.status === 404) {
    throw new NotFoundError(`Task "${id}" not found`);
  }
  throw e;
}

async function getTask(ctx: Context, id: string): Promise<{ text: string; task: TaskView }> {
  const { text } = await ctx.client.expect("GET", taskPath(id), [200], `Cannot get task "${id}"`)
    .catch((e) => notFound(e, id));
  return { text, task: JSON.parse(text) };
}

async function printJson(ctx: Context, value: unknown): Promise<void> {
  await ctx.io.stdout(JSON.stringify(value) + "\n");
}

const COMMANDS: Record<string, ClientCommand> = {
  run: {
    summary: "submit a task; with --wait follow it until it ends",
    usage: "run [flags] COMMAND [ARG...]",
    positionals: "stop",
    flags: {
      cpu: { type: "string" },
      mem: { type: "string" },
      image: { type: "string" },
      port: { type: "string" },
      network: { type: "string" },
      dns: { type: "string" },
      name: { type: "string" },
      e: { type: "string", short: "e", multiple: true },
      uri: { type: "string", multiple: true },
      arg: { type: "string", multiple: true },
      label: { type: "string", multiple: true },
      wait: { type: "boolean", short: "w" },
    },
    flagHelp: [
      "  --cpu N           CPUs (default 0.1)",
      "  --mem MiB         memory (default 128)",
      "  --image IMAGE     Docker image (default busybox)",
      "  --port N          container port to map to a host port (default none)",
      "  --network MODE    BRIDGE, HOST, NONE or USER (default BRIDGE)",
      "  --dns IP          DNS server",
      "  --name NAME       task name",
      "  -e KEY=VALUE      environment variable (repeatable; the value may contain =)",
      "  --uri URL         file to fetch into the sandbox (repeatable; archives are extracted)",
      "  --arg A           argument (repeatable)",
      "  --label KEY=VALUE label (repeatable)",
      "  -w, --wait        follow the task's state and output until it ends; the exit code",
      "                    says how it ended (0 finished, 3 failed, 4 killed, 5 lost, 6 error,",
      "                    7 dropped, 8 gone, 9 gone by operator, 10 unknown)",
    ],
    async run(ctx) {
      const num = (name: string, fallback: number) => {
        const v = ctx.values[name];
        return typeof v === "string" ? numberFlag(`--${name}`, v) : fallback;
      };
      let body: Record<string, unknown>;
      try {
        body = runBody({
          command: ctx.positionals,
          cpu: num("cpu", 0.1),
          mem: num("mem", 128),
          image: str(ctx, "image", "busybox"),
          port: typeof ctx.values.port === "string" ? num("port", 0) : undefined,
          network: str(ctx, "network", "BRIDGE"),
          dns: str(ctx, "dns", ""),
          name: typeof ctx.values.name === "string" ? ctx.values.name : undefined,
          env: list(ctx, "e"),
          uris: list(ctx, "uri"),
          args: list(ctx, "arg"),
          labels: list(ctx, "label"),
        });
      } catch (e) {
        if (e instanceof RangeError) throw new UsageError(e.message);
        throw e;
      }
      const { text } = await ctx.client.expect("POST", "/api/v1/task", [202], "Cannot submit", {
        body: JSON.stringify(body),
      });
      const id = JSON.parse(text) as string;
      if (!flagIsOn(ctx.values.wait)) {
        if (ctx.json) await printJson(ctx, { id });
        else await ctx.io.stdout(id + "\n");
        return 0;
      }
      if (!ctx.json) await ctx.io.stderr(`Submitted ${id}\n`);
      const state = await follow(ctx, id);
      const code = exitCodeFor(state);
      if (ctx.json) {
        const { task } = await getTask(ctx, id);
        await printJson(ctx, { id, state, exit_code: code, task });
      } else if (code !== 0) {
        await ctx.io.stderr(`Task ${id} ended in ${state} (exit code ${code})\n`);
      }
      return code;
    },
  },
  task: {
    summary: "show one task",
    usage: "task ID",
    positionals: "any",
    flags: {},
    flagHelp: [],
    async run(ctx) {
      const id = oneId(ctx);
      const { text, task } = await getTask(ctx, id);
      if (ctx.json) await ctx.io.stdout(text.endsWith("\n") ? text : text + "\n");
      else await ctx.io.stdout(taskLines(task, ctx.io.clock.now()).join("\n") + "\n");
      return 0;
    },
  },
  ls: {
    summary: "list tasks (queued and running unless told otherwise)",
    usage: "ls [flags]",
    positionals: "any",
    flags: {
      filter: { type: "string" },
      n: { type: "string", short: "n" },
      q: { type: "boolean", short: "q" },
      all: { type: "boolean", short: "a" },
      state: { type: "string" },
      label: { type: "string" },
      name: { type: "string" },
    },
    flagHelp: [
      "  -a, --all         every task, finished ones too",
      "  --state CLASSES   queued, active, terminated, comma-separated (default active,queued)",
      "  --label KEY[=V]   tasks with this label (and value)",
      "  --name NAME       tasks with exactly this name",
      "  --filter K=V,...  min_age=5m, max_age=1h, status=running, user=root",
      "  -n N              show at most N tasks, the most recently updated",
      "  -q                print task ids only",
    ],
    async run(ctx) {
      if (ctx.positionals.length > 0) {
        throw new UsageError(`Unexpected argument "${ctx.positionals[0]}"`);
      }
      let filter;
      let limit: number | undefined;
      try {
        filter = parseListFilter(str(ctx, "filter", ""));
        if (typeof ctx.values.n === "string") {
          limit = numberFlag("-n", ctx.values.n);
          if (!Number.isInteger(limit) || limit < 0) {
            throw new RangeError(`Flag -n expects a whole number, got "${ctx.values.n}"`);
          }
        }
      } catch (e) {
        if (e instanceof RangeError) throw new UsageError(e.message);
        throw e;
      }
      const query = new URLSearchParams();
      const state = flagIsOn(ctx.values.all) ? "" : ctx.values.state;
      if (typeof state === "string") query.set("state", state);
      // A status filter means every class: hermit filtered only queued and active tasks.
      else if (filter.status !== undefined) query.set("state", "");
      if (typeof ctx.values.label === "string") query.set("label", ctx.values.label);
      if (typeof ctx.values.name === "string") query.set("name", ctx.values.name);
      const tasks: TaskView[] = [];
      let cursor: string | null = null;
      do {
        if (cursor) query.set("cursor", cursor);
        const res = await ctx.client.expect(
          "GET",
          `/api/v1/task?${query}`,
          [200],
          "Cannot list tasks",
        );
        tasks.push(...JSON.parse(res.text) as TaskView[]);
        cursor = res.headers.get("x-next-cursor");
      } while (cursor);
      const now = ctx.io.clock.now();
      const shown = newestFirst(tasks.filter((t) => matchesFilter(t, filter, now)), limit);
      const quiet = flagIsOn(ctx.values.q);
      if (ctx.json) await printJson(ctx, quiet ? shown.map((t) => t.id) : shown);
      else if (quiet) {
        if (shown.length > 0) await ctx.io.stdout(shown.map((t) => t.id).join("\n") + "\n");
      } else await ctx.io.stdout(listRows(shown, now).join("\n") + "\n");
      return 0;
    },
  },
  logs: {
    summary: "print a task's stdout or stderr; with --follow as it is written",
    usage: "logs [flags] ID",
    positionals: "any",
    flags: {
      file: { type: "string" },
      follow: { type: "boolean", short: "f" },
    },
    flagHelp: [
      "  --file NAME       stdout (default) or stderr",
      "  -f, --follow      keep printing new output until the task ends",
    ],
    async run(ctx) {
      const id = oneId(ctx);
      const file = str(ctx, "file", "stdout");
      if (file !== "stdout" && file !== "stderr") {
        throw new UsageError(`Flag --file expects stdout or stderr, got "${file}"`);
      }
      if (flagIsOn(ctx.values.follow)) {
        const events = ctx.client.stream(
          `${taskPath(id)}/${file}?follow=1`,
          `the ${file} of task "${id}"`,
          { clock: ctx.io.clock },
        );
        try {
          for await (const e of events) {
            if (e.event !== "output") continue;
            const data = e.data as { offset: number; text: string };
            if (ctx.json) await printJson(ctx, data);
            else await ctx.io.stdout(data.text);
          }
        } catch (e) {
          notFound(e, id);
        }
        return 0;
      }
      const res = await ctx.client.expect(
        "GET",
        `${taskPath(id)}/${file}`,
        [200, 204],
        `Cannot read the ${file} of task "${id}"`,
      ).catch((e) => notFound(e, id));
      // 204 is also the answer for an unknown id: tell them apart.
      if (res.status === 204) await getTask(ctx, id);
      if (ctx.json) await printJson(ctx, { id, file, text: res.text });
      else await ctx.io.stdout(res.text);
      return 0;
    },
  },
  kill: {
    summary: "kill a task",
    usage: "kill ID",
    positionals: "any",
    flags: {},
    flagHelp: [],
    async run(ctx) {
      const id = oneId(ctx);
      await ctx.client.expect("POST", `${taskPath(id)}/kill`, [202], `Cannot kill task "${id}"`)
        .catch((e) => notFound(e, id));
      if (ctx.json) await printJson(ctx, { id, killed: true });
      else await ctx.io.stdout(`Killed task ${id}\n`);
      return 0;
    },
  },
  delete: {
    summary: "delete a finished task",
    usage: "delete ID",
    positionals: "any",
    flags: {},
    flagHelp: [],
    async run(ctx) {
      const id = oneId(ctx);
      await ctx.client.expect("DELETE", taskPath(id), [202], `Cannot delete task "${id}"`)
        .catch((e) => notFound(e, id));
      if (ctx.json) await printJson(ctx, { id, deleted: true });
      else await ctx.io.stdout(`Deleted task ${id}\n`);
      return 0;
    },
  },
  version: {
    summary: "print the client's and the server's version",
    usage: "version",
    positionals: "any",
    flags: {},
    flagHelp: [],
    async run(ctx) {
      const client = { version: VERSION, commit: buildCommit() };
      // `eremetic version` is about this binary; the server only when one is named.
      if (ctx.io.prog !== "hermit" && !ctx.io.env.EREMETIC_URL) {
        if (ctx.json) await printJson(ctx, { client });
        else await ctx.io.stdout(`eremetic ${VERSION} (commit ${client.commit})\n`);
        return 0;
      }
      const clientLines = ["Client:", ` Version: ${VERSION}`, ` Commit: ${client.commit}`, ""];
      let server: string;
      try {
        const res = await ctx.client.expect("GET", "/api/v1/version", [200], "Cannot get version");
        server = JSON.parse(res.text);
      } catch (e) {
        if (!ctx.json) await ctx.io.stdout(clientLines.join("\n") + "\n");
        throw e;
      }
      if (ctx.json) await printJson(ctx, { client, server: { version: server } });
      else {
        await ctx.io.stdout([...clientLines, "Server:", ` Version: ${server}`].join("\n") + "\n");
      }
      return 0;
    },
  },
};

/** Follows a task until it ends (see {@linkcode followTask}); returns the final state. */
async function follow(ctx: Context, id: string): Promise<string> {
  const { io } = ctx;
  let state: string;
  try {
    state = await followTask(ctx.client, id, {
      clock: io.clock,
      stdout: io.stdout,
      stderr: io.stderr,
      output: !ctx.json,
      progress: io.interactive && !ctx.json,
      onOutputError: (e) => io.stderr(`${io.prog}: ${e.message}\n`),
    });
  } catch (e) {
    notFound(e, id);
  }
  return isTerminal(state) ? state : (await getTask(ctx, id)).task.status.at(-1)?.status ?? state;
}

/** Names of the client commands. */
export const CLIENT_COMMANDS: readonly string[] = Object.keys(COMMANDS);

/** One-line summaries of the client commands, for the usage text. */
export function clientSummaries(): [string, string][] {
  return Object.entries(COMMANDS).map(([name, c]) => [name, c.summary]);
}

/** A command's help text. */
export function commandHelp(prog: string, name: string): string {
  const c = COMMANDS[name];
  return [
    `Usage: ${prog} ${c.usage}`,
    "",
    `${c.summary[0].toUpperCase()}${c.summary.slice(1)}.`,
    "",
    "Flags (one or two dashes: -cpu 1 and --cpu=1 are the same):",
    ...c.flagHelp,
    ...COMMON_HELP,
    "",
    `The server is $EREMETIC_URL (default ${DEFAULT_EREMETIC_URL}); credentials go in it,`,
    "e.g. https://user:password@host:8443. HERMIT_INSECURE=1 skips the certificate check.",
    ...(name === "run"
      ? ["", "Exit codes: 0 done, 1 error, 2 bad command line; with --wait see above."]
      : ["", "Exit codes: 0 done, 1 error (unknown task, HTTP error, server down), 2 bad flags."]),
  ].join("\n");
}

/** Runs client command `name` with `args`; returns the exit code. */
export async function clientCommand(name: string, args: string[], io: ClientIo): Promise<number> {
  const command = COMMANDS[name];
  const parsed = parseFlagArgs(args, { ...command.flags, ...COMMON }, {
    singleDash: true,
    positionals: command.positionals,
  });
  if (flagIsOn(parsed.values.help)) {
    await io.stdout(commandHelp(io.prog, name) + "\n");
    return 0;
  }
  const fail = async (message: string, code: number) => {
    await io.stderr(`${io.prog} ${name}: ${message}\n`);
    return code;
  };
  if (parsed.issues.length > 0) {
    return await fail(`${parsed.issues[0]} (see ${io.prog} ${name} --help)`, EXIT_USAGE);
  }
  try {
    const client = new EremeticClient(io.env.EREMETIC_URL || DEFAULT_EREMETIC_URL, {
      insecure: Boolean(io.env.HERMIT_INSECURE),
      transport: io.transport,
    });
    return await command.run({
      io,
      client,
      values: parsed.values,
      positionals: parsed.positionals,
      json: flagIsOn(parsed.values.json),
    });
  } catch (e) {
    if (e instanceof UsageError) {
      return await fail(`${e.message} (see ${io.prog} ${name} --help)`, EXIT_USAGE);
    }
    if (
      e instanceof ApiError || e instanceof ConnectionError || e instanceof NotFoundError ||
      e instanceof UrlError
    ) {
      return await fail(e.message, EXIT_ERROR);
    }
    throw e;
  }
}

/** hermit's usage text: the commands and the environment it reads. */
export function hermitUsage(prog = "hermit"): string {
  const width = Math.max(...CLIENT_COMMANDS.map((c) => c.length));
  return [
    `${prog} ${VERSION}: the command-line client of Eremetic`,
    "",
    `Usage: ${prog} COMMAND [flags] [arguments]`,
    "",
    "Commands:",
    ...clientSummaries().map(([name, summary]) => `  ${name.padEnd(width)}  ${summary}`),
    "",
    `Environment: EREMETIC_URL (default ${DEFAULT_EREMETIC_URL}; https://user:password@host`,
    "for basic auth), HERMIT_INSECURE (non-empty: do not verify the server's certificate).",
    `Run \`${prog} COMMAND --help\` for a command's flags.`,
  ].join("\n");
}

/** The program invoked as `hermit`: the client commands only. */
export async function hermitMain(args: string[], io: ClientIo = denoIo("hermit")): Promise<number> {
  const [first, ...rest] = args;
  if (first === undefined || ["-h", "-help", "--help", "help"].includes(first)) {
    await io.stdout(hermitUsage(io.prog) + "\n");
    return 0;
  }
  if (!Object.hasOwn(COMMANDS, first)) {
    await io.stderr(`${io.prog}: unknown command "${first}" (see ${io.prog} --help)\n`);
    return EXIT_ERROR;
  }
  return await clientCommand(first, rest, io);
}
