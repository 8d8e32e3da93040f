import assert from "node:assert/strict";

/** Starts `eremetic dev` in `cwd`, returns its log once ready, then stops it. */
async function devStartup(cwd: string, env: Record<string, string>, args: string[] = []) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../../main.ts", import.meta.url).pathname,
      "dev",
      "--port",
      "0",
      ...args,
    ],
    cwd,
    env,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let log = "";
  while (!/^Try:/m.test(log)) {
    const { value, done } = await reader.read();
    if (done) break;
    log += value;
  }
  child.kill("SIGTERM");
  while (!(await reader.read()).done) { /* drain */ }
  await child.status;
  return log;
}

Deno.test("eremetic dev: its defaults sit below the environment and eremetic.yml, and it names the database", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "eremetic-dev-" });
  try {
    await t.step("DATABASE in the environment wins over db/dev.kv", async () => {
      const log = await devStartup(dir, { DATABASE: `${dir}/from-env.kv` });
      assert.match(log, new RegExp(`^Database: kv ${dir}/from-env\\.kv$`, "m"));
      assert.match(log, new RegExp(`database="kv:${dir}/from-env\\.kv"`));
      await Deno.stat(`${dir}/from-env.kv`);
    });
    await t.step(
      "eremetic.yml wins over db/dev.kv; the master stays the embedded cluster",
      async () => {
        await Deno.writeTextFile(
          `${dir}/eremetic.yml`,
          `database: ${dir}/from-yaml.kv\nmaster: http://192.0.2.1:5050\n`,
        );
        const log = await devStartup(dir, {});
        assert.match(log, new RegExp(`^Database: kv ${dir}/from-yaml\\.kv$`, "m"));
        assert.match(log, /master="http:\/\/127\.0\.0\.1:\d+"/);
      },
    );
    await t.step("a flag wins over both", async () => {
      const log = await devStartup(dir, {}, ["--database-driver", "memory"]);
      assert.match(log, /^Database: memory \(nothing is kept\)$/m);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
