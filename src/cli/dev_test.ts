import assert from "node:assert/strict";
import { systemClock } from "../runtime.ts";

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
  // A process that does not stop fails this test with its log, not the whole run by hanging.
  const patience = new AbortController();
  const stuck = systemClock.sleep(STOP_PATIENCE_MS, patience.signal).then(() => true, () => false);
  const exited = (async () => {
    for (let r = await reader.read(); !r.done; r = await reader.read()) log += r.value;
    await child.status;
    return false;
  })();
  const hung = await Promise.race([exited, stuck]);
  patience.abort();
  if (hung) {
    child.kill("SIGKILL");
    await exited;
  }
  assert.equal(
    hung,
    false,
    `eremetic dev did not stop within ${STOP_PATIENCE_MS} ms of SIGTERM:\n${log}`,
  );
  return log;
}

/** How long a SIGTERM may take to stop `eremetic dev` (it takes well under a second). */
const STOP_PATIENCE_MS = 30_000;

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
