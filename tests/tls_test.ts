/**
 * HTTPS served directly from `tls_cert`/`tls_key`, with a self-signed certificate made
 * for the test by `openssl`, and the client over https:// with and without HERMIT_INSECURE.
 */
import assert from "node:assert/strict";
import { startStack } from "./_e2e.ts";
import { REPO_ROOT, tempDir } from "./_helpers.ts";

async function selfSigned(dir: string): Promise<{ cert: string; key: string }> {
  const [cert, key] = [`${dir}/cert.pem`, `${dir}/key.pem`];
  const out = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      key,
      "-out",
      cert,
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
      "-addext",
      "basicConstraints=critical,CA:FALSE",
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return { cert, key };
}

async function cli(args: string[], env: Record<string, string>) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${REPO_ROOT}/main.ts`, ...args],
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", ...env },
    clearEnv: true,
    stdin: "null",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

Deno.test("tls_cert and tls_key serve HTTPS; the client speaks https:// and honours HERMIT_INSECURE", async (t) => {
  await using dir = await tempDir();
  const { cert, key } = await selfSigned(dir.path);
  await using server = await startStack({
    flags: ["--tls-cert", cert, "--tls-key", key, "--http-credentials", "ops:pa55"],
  });
  assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);

  await t.step("HTTPS answers with the certificate trusted", async () => {
    using client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(cert)] });
    const res = await fetch(`${server.url}/api/v1/health`, { client });
    assert.equal(res.status, 200);
    assert.equal(typeof (await res.json()).version, "string");
  });

  await t.step("plain HTTP on the same port is not served", async () => {
    const plain = server.url.replace("https:", "http:");
    await assert.rejects(async () => {
      const res = await fetch(`${plain}/api/v1/health`);
      await res.body?.cancel();
    });
  });

  const url = server.url.replace("https://", "https://ops:pa55@");
  await t.step(
    "the client with HERMIT_INSECURE lists, submits and follows over HTTPS",
    async () => {
      const ls = await cli(["ls", "--json"], { EREMETIC_URL: url, HERMIT_INSECURE: "1" });
      assert.equal(ls.code, 0, ls.stderr);
      assert.deepEqual(JSON.parse(ls.stdout), []);
      // --wait follows the live streams through the insecure transport too.
      const insecure = { EREMETIC_URL: url, HERMIT_INSECURE: "1" };
      const run = await cli(["run", "--wait", "echo", "hi"], insecure);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, "hi\n");
      const id = /Submitted (\S+)/.exec(run.stderr)![1];
      const task = await cli(["task", "--json", id], insecure);
      assert.equal(JSON.parse(task.stdout).status.at(-1).status, "TASK_FINISHED");
      const version = await cli(["version"], { EREMETIC_URL: url, HERMIT_INSECURE: "1" });
      assert.match(version.stdout, /^Server:\n Version: \d/m);
    },
  );

  await t.step(
    "without HERMIT_INSECURE the self-signed certificate is refused in one line",
    async () => {
      const r = await cli(["ls"], { EREMETIC_URL: url });
      assert.equal(r.code, 1);
      assert.equal(r.stdout, "");
      assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
      assert.match(r.stderr, /^eremetic ls: Cannot reach Eremetic at https:\/\/127\.0\.0\.1:\d+: /);
      assert.ok(!r.stderr.includes("pa55"));
    },
  );
});
