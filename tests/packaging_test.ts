/** The delivery files say what docs/operations.md says they do. */
import assert from "node:assert/strict";
import { REPO_ROOT } from "./_helpers.ts";

const read = (path: string) => Deno.readTextFile(`${REPO_ROOT}/${path}`);

Deno.test("Dockerfile: templates and static copied, a health check, not root", async () => {
  const text = await read("Dockerfile");
  assert.match(text, /^COPY templates \.\/templates$/m);
  assert.match(text, /^COPY static \.\/static$/m);
  assert.match(
    text,
    /^HEALTHCHECK .*\n\s+CMD curl -fsS "http:\/\/127\.0\.0\.1:\$\{PORT\}\/api\/v1\/health"/m,
  );
  const user = /^USER (\S+)$/m.exec(text);
  assert.ok(user && user[1] !== "root" && user[1] !== "0");
  // The compile step is the one that checks the embedded files.
  assert.match(text, /deno run -A tools\/compile\.ts --target host/);
});

Deno.test("misc/eremetic.json: Marathon app with a ZooKeeper database and a health check", async () => {
  const app = JSON.parse(await read("misc/eremetic.json"));
  assert.equal(app.instances, 1);
  assert.equal(app.env.DATABASE_DRIVER, "zk");
  assert.match(app.env.DATABASE, /^zk:\/\/[^/]+\/\S+$/);
  assert.equal(app.env.PORT, String(app.container.docker.portMappings[0].containerPort));
  assert.deepEqual(
    app.healthChecks.map((h: { path: string; portIndex: number }) => [h.path, h.portIndex]),
    [["/api/v1/health", 0]],
  );
});

Deno.test("misc/eremetic.service: serve with the config file, not as root, SIGTERM", async () => {
  const text = await read("misc/eremetic.service");
  assert.match(
    text,
    /^ExecStart=\/usr\/local\/bin\/eremetic serve --config \/etc\/eremetic\/eremetic\.yml$/m,
  );
  assert.match(text, /^User=eremetic$/m);
  assert.match(text, /^KillSignal=SIGTERM$/m);
});
