import assert from "node:assert/strict";
import { parseZkUrl, redactZkUrl, ZkUrlError } from "./url.ts";

Deno.test("parseZkUrl() reads servers, path and digest credentials", () => {
  const url = parseZkUrl("zk://bob:s3cr:et@zk1:2181,10.0.0.2:2182,[::1]:2183/mesos/");
  assert.deepEqual(url.servers, ["zk1:2181", "10.0.0.2:2182", "[::1]:2183"]);
  assert.equal(url.path, "/mesos");
  // Credentials are everything before the last "@" (url.hpp); the password may hold ":".
  assert.equal(url.auth, "bob:s3cr:et");
  const plain = parseZkUrl(" zk://127.0.0.1:2181/a/b ");
  assert.equal(plain.auth, null);
  assert.equal(plain.path, "/a/b");
  assert.equal(String(plain), "zk://127.0.0.1:2181/a/b");
});

Deno.test("parseZkUrl() results never print the credentials", () => {
  const url = parseZkUrl("zk://bob:hunter2@zk1:2181/mesos");
  for (const shown of [String(url), `${url}`, JSON.stringify(url), JSON.stringify({ url })]) {
    assert.ok(!shown.includes("hunter2"), shown);
    assert.ok(shown.includes("zk://*******@zk1:2181/mesos"), shown);
  }
});

Deno.test("parseZkUrl() names what is wrong, without credentials", async (t) => {
  const cases: [string, string, string][] = [
    ["http://zk1:2181/mesos", "scheme", "zk://"],
    ["zk://zk1:2181", "path", "no path"],
    ["zk://zk1:2181/", "path", '"/" alone'],
    ["zk://zk1:2181/a//b", "path", "empty"],
    ["zk://zk1:2181/a/../b", "path", '".."'],
    ["zk:///mesos", "servers", "no server"],
    ["zk://zk1/mesos", "server", 'server 1 "zk1" is not host:port'],
    ["zk://zk1:2181,,zk2:2181/mesos", "server", "server 2"],
    ["zk://zk1:99999/mesos", "port", "port 99999"],
    ["zk://zk1:0/mesos", "port", "port 0"],
    ["zk://hunter2@zk1:2181/mesos", "credentials", "user:password"],
    ["zk://bob:@zk1:2181/mesos", "credentials", "user:password"],
    ["zk://bob:hunter2@zk1/mesos", "server", "zk1"],
  ];
  for (const [input, problem, words] of cases) {
    await t.step(input.replace(/hunter2/, "***"), () => {
      assert.throws(() => parseZkUrl(input), (err: unknown) => {
        assert.ok(err instanceof ZkUrlError);
        assert.equal(err.problem, problem);
        assert.ok(err.message.includes(words), err.message);
        assert.ok(!err.message.includes("hunter2"), err.message);
        return true;
      });
    });
  }
});

Deno.test("redactZkUrl() hides credentials and keeps the rest", () => {
  assert.equal(redactZkUrl("zk://a:b@c@zk1:1/p"), "zk://*******@zk1:1/p");
  assert.equal(redactZkUrl("zk://zk1:1/p@x"), "zk://zk1:1/p@x");
  assert.equal(redactZkUrl("zk://zk1:1/p"), "zk://zk1:1/p");
});
