/**
 * The command-line client as users run it (`deno run main.ts <command>`, and as `hermit`
 * through a symlink) against a real server on the development cluster.
 */
import assert from "node:assert/strict";
import { startStack, submit, waitFor, waitForState } from "./_e2e.ts";
import { freePort, REPO_ROOT, SEED_BODY, tempDir } from "./_helpers.ts";

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the program with `args`; `program` replaces the deno executable (a `hermit` link). */
async function cli(
  args: string[],
  env: Record<string, string>,
  program: string = Deno.execPath(),
): Promise<CliResult> {
  const out = await new Deno.Command(program, {
    args: ["run", "-A", `${REPO_ROOT}/main.ts`, ...args],
    env,
    clearEnv: true,
    stdin: "null",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

/** One line on stderr, nothing on stdout, a non-zero code. */
function assertOneLineError(r: CliResult, code: number, pattern: RegExp) {
  assert.equal(r.code, code, `exit code; stderr: ${r.stderr}`);
  assert.equal(r.stdout, "");
  assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
  assert.match(r.stderr, pattern);
}

const PATH = { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", HOME: Deno.env.get("HOME") ?? "/" };

Deno.test("eremetic client commands against a server on the development cluster", async (t) => {
  await using stack = await startStack();
  const env = { ...PATH, EREMETIC_URL: stack.url };

  await t.step("run --wait of the seed example prints the date and exits 0", async () => {
    const r = await cli(
      ["run", "--wait", "--cpu", String(SEED_BODY.cpu), "-mem", "22", SEED_BODY.command],
      env,
    );
    assert.equal(r.code, 0, r.stderr);
    // `echo $(date)` prints e.g. "Sat Dec 5 08:11:00 UTC 2026".
    assert.match(r.stdout, /^\w{3} \w{3} +\d{1,2} \d\d:\d\d:\d\d \w+ \d{4}\n$/);
    assert.match(r.stderr, /^Submitted eremetic-task\.[0-9a-f-]{36}\n$/);
  });

  await t.step("run --wait of a failing command exits with the code of TASK_FAILED", async () => {
    const r = await cli(["run", "-w", "sh", "-c", "'echo out; echo err >&2; exit 3'"], env);
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stdout, "out\n");
    assert.match(r.stderr, /^err$/m);
    assert.match(r.stderr, /ended in TASK_FAILED \(exit code 3\)/);
  });

  await t.step(
    "run --wait of a task killed while queued exits with TASK_KILLED's code",
    async () => {
      // No agent has 1,000 cpus: the task stays queued until it is killed.
      const waiting = cli(["run", "--wait", "--cpu", "1000", "true"], env);
      const id = await waitFor("the queued task", async () => {
        const r = await cli(["ls", "-q", "--state", "queued"], env);
        return r.stdout.trim();
      });
      assert.equal((await cli(["kill", id], env)).code, 0);
      const r = await waiting;
      assert.equal(r.code, 4, r.stderr);
      assert.match(r.stderr, /ended in TASK_KILLED \(exit code 4\)/);
    },
  );

  await t.step("run prints the id; -e values keep their =; --json parses", async () => {
    const r = await cli(["run", "-e", "A=b=c", "--label", "team=cli", "echo", "$A"], env);
    assert.equal(r.code, 0, r.stderr);
    const id = r.stdout.trim();
    assert.match(id, /^eremetic-task\.[0-9a-f-]{36}$/);
    const task = await waitForState(stack.url, id, "TASK_FINISHED");
    assert.deepEqual(task.env, { A: "b=c" });
    const logs = await cli(["logs", id], env);
    assert.equal(logs.stdout, "b=c\n");
    const json = await cli(["run", "--json", "true"], env);
    assert.match(JSON.parse(json.stdout).id, /^eremetic-task\./);
    const waited = JSON.parse((await cli(["run", "--json", "--wait", "true"], env)).stdout);
    assert.equal(waited.state, "TASK_FINISHED");
    assert.equal(waited.exit_code, 0);
    assert.equal(waited.task.id, waited.id);
  });

  await t.step("ls, task, logs --follow, kill and delete, in text and JSON", async () => {
    const id = await submit(stack.url, {
      cpu: 0.1,
      mem: 16,
      image: "busybox",
      name: "cli-follow",
      command: "echo one; sleep 1; echo two; sleep 60",
    });
    await waitForState(stack.url, id, "TASK_RUNNING");
    const ls = await cli(["ls"], env);
    assert.equal(ls.code, 0, ls.stderr);
    const [header, ...rows] = ls.stdout.trimEnd().split("\n");
    assert.match(header, /^TASK ID +NAME +STATE +LAST UPDATED +USER +IMAGE +COMMAND$/);
    const row = rows.find((r) => r.startsWith(id));
    assert.ok(row, ls.stdout);
    assert.match(row, / running /);
    const lsJson = JSON.parse((await cli(["ls", "--json", "--state", "active"], env)).stdout);
    assert.ok(lsJson.some((x: { id: string }) => x.id === id));
    const quiet = await cli(["ls", "-q", "--all", "--filter", "status=running"], env);
    assert.deepEqual(quiet.stdout.trim().split("\n"), [id]);

    const task = await cli(["task", id], env);
    assert.match(task.stdout, new RegExp(`^ID: ${id}\nName: cli-follow\n`));
    assert.match(task.stdout, /^State: running$/m);
    assert.equal(JSON.parse((await cli(["task", "--json", id], env)).stdout).name, "cli-follow");

    // Follow in the background, kill once "two" has been written, and see the follow end.
    const following = cli(["logs", "--follow", "--json", id], env);
    await new Promise((r) => setTimeout(r, 1_500));
    const kill = await cli(["kill", id], env);
    assert.equal(kill.stdout, `Killed task ${id}\n`);
    const followed = await following;
    assert.equal(followed.code, 0, followed.stderr);
    const chunks = followed.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.equal(chunks.map((c) => c.text).join(""), "one\ntwo\n");
    await waitForState(stack.url, id, "TASK_KILLED");

    const again = await cli(["kill", "--json", id], env);
    assertOneLineError(again, 1, /Cannot kill task .*: server answered 409/);
    const del = await cli(["delete", "--json", id], env);
    assert.deepEqual(JSON.parse(del.stdout), { id, deleted: true });
    const version = JSON.parse((await cli(["version", "--json"], env)).stdout);
    assert.equal(typeof version.client.version, "string");
    assert.equal(version.server.version, version.client.version);
  });

  await t.step("as hermit: its usage, its -flag style, version without quotes", async () => {
    await using dir = await tempDir();
    const hermit = `${dir.path}/hermit`;
    await Deno.symlink(Deno.execPath(), hermit);
    const usage = await cli([], env, hermit);
    assert.equal(usage.code, 0);
    assert.match(usage.stdout, /^Usage: hermit COMMAND/m);
    const version = await cli(["version"], env, hermit);
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout, /^Server:\n Version: \d+\.\d+\.\d+\n$/m);
    const run = await cli(
      ["run", "-cpu", "0.2", "-mem", "32", "-image", "busybox", "echo", "hello"],
      env,
      hermit,
    );
    assert.match(run.stdout, /^eremetic-task\.[0-9a-f-]{36}\n$/);
    assertOneLineError(await cli(["frobnicate"], env, hermit), 1, /unknown command "frobnicate"/);
  });

  await t.step("errors: unknown id, bad flag, filter without =", async () => {
    const unknown = "eremetic-task.00000000-0000-7000-8000-000000000000";
    for (
      const args of [["task", unknown], ["logs", unknown], ["kill", unknown], ["delete", unknown]]
    ) {
      assertOneLineError(
        await cli(args, env),
        1,
        /Task "eremetic-task\.0+-0+-7000-8000-0+" not found/,
      );
    }
    assertOneLineError(
      await cli(["ls", "--bogus"], env),
      2,
      /^eremetic ls: Unknown flag "--bogus"/,
    );
    assertOneLineError(
      await cli(["ls", "--filter", "status"], env),
      2,
      /Filter "status" has no value/,
    );
    assertOneLineError(await cli(["run", "-e", "NOEQUALS", "true"], env), 2, /expects KEY=VALUE/);
    assertOneLineError(await cli(["task"], env), 2, /Missing the task id/);
  });

  await t.step("--help of every command", async () => {
    for (const command of ["run", "task", "ls", "logs", "kill", "delete", "version"]) {
      const r = await cli([command, "--help"], env);
      assert.equal(r.code, 0);
      assert.match(r.stdout, new RegExp(`^Usage: eremetic ${command}`));
      assert.match(r.stdout, /--json/);
    }
  });
});

Deno.test("eremetic client: a server that is down is one line and exit 1", async () => {
  const url = `http://127.0.0.1:${freePort()}`;
  const r = await cli(["ls"], { ...PATH, EREMETIC_URL: url });
  assertOneLineError(r, 1, new RegExp(`^eremetic ls: Cannot reach Eremetic at ${url}: `));
});

Deno.test("eremetic client sends the credentials of EREMETIC_URL and never prints them", async () => {
  await using stack = await startStack({ flags: ["--http-credentials", "alice:s3cret"] });
  const withAuth = stack.url.replace("://", "://alice:s3cret@");
  const ok = await cli(["ls", "--json"], { ...PATH, EREMETIC_URL: withAuth });
  assert.equal(ok.code, 0, ok.stderr);
  assert.deepEqual(JSON.parse(ok.stdout), []);
  const wrong = await cli(["ls"], {
    ...PATH,
    EREMETIC_URL: stack.url.replace("://", "://alice:nope@"),
  });
  assertOneLineError(wrong, 1, /server wants credentials/);
  assert.ok(!wrong.stderr.includes("nope"));
});
