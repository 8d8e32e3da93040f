// The pure parts of the page scripts (static/js), run under Deno.
import assert from "node:assert/strict";
import { AnsiParser } from "../../static/js/ansi.js";
import { fieldOfProblem, formToBody } from "../../static/js/form.js";

Deno.test("formToBody() turns the form's lines into the API's body", () => {
  const { body, problems } = formToBody({
    image: " busybox ",
    command: "echo hi",
    args: "",
    cpu: "0.5",
    mem: "64",
    disk: "",
    gpus: "1",
    name: "",
    env: "A=1\n\nB=x=y",
    masked_env: "TOKEN=s",
    labels: "team=web",
    ports: "8080\n31000:53/UDP",
    volumes: "/h:/c\n/only",
    volumes_from: "data\n",
    fetch: [{ uri: "http://x/a.tgz", extract: true }, { uri: " " }],
    agent_constraints: "rack = a1",
    network: "BRIDGE",
    dns: "",
    privileged: true,
    force_pull_image: false,
    callback_uri: "",
    max_retries: "3",
    timeout_seconds: "",
  });
  assert.deepEqual(problems, []);
  assert.deepEqual(body, {
    image: "busybox",
    command: "echo hi",
    network: "BRIDGE",
    cpu: 0.5,
    mem: 64,
    gpus: 1,
    max_retries: 3,
    env: { A: "1", B: "x=y" },
    masked_env: { TOKEN: "s" },
    labels: { team: "web" },
    ports: [{ container_port: 8080, protocol: "tcp" }, {
      container_port: 53,
      protocol: "udp",
      host_port: 31000,
    }],
    volumes: [{ host_path: "/h", container_path: "/c" }, { container_path: "/only" }],
    volumes_from: ["data"],
    agent_constraints: [{ attribute_name: "rack", attribute_value: "a1" }],
    fetch: [{ uri: "http://x/a.tgz", extract: true, executable: false, cache: false }],
    privileged: true,
  });
});

Deno.test("formToBody() names the field of each line it cannot read", () => {
  const { problems } = formToBody({
    cpu: "x",
    env: "A=1\nnoequals\nEMPTY=",
    masked_env: "TOKEN=\nKEY=k",
    ports: "80/tcp\nhttp",
  });
  assert.deepEqual(problems, [
    { path: "cpu", problem: "must be a number" },
    { path: "env", problem: "line 2: expected NAME=value" },
    { path: "masked_env", problem: "line 1: enter the value of TOKEN (never shown again)" },
    {
      path: "ports",
      problem: "line 2: expected container_port/protocol or host_port:container_port/protocol",
    },
  ]);
});

Deno.test("fieldOfProblem() maps the API's detail paths to form fields", () => {
  assert.deepEqual(fieldOfProblem({ path: "cpu", problem: "must be > 0" }), {
    field: "cpu",
    message: "must be > 0",
  });
  assert.deepEqual(fieldOfProblem({ path: "ports[1].protocol", problem: "must be tcp or udp" }), {
    field: "ports",
    message: "entry 2: protocol must be tcp or udp",
  });
  assert.deepEqual(fieldOfProblem({ path: "env.A", problem: "must be a string" }), {
    field: "env",
    message: "A: must be a string",
  });
  assert.equal(fieldOfProblem({ path: "(body)", problem: "must be JSON" }).field, null);
});

Deno.test("AnsiParser turns SGR colours into classes and drops other escapes", () => {
  const p = new AnsiParser();
  assert.deepEqual(p.push("plain \x1b[1;31mred\x1b[0m \x1b[92mgreen\x1b[39m"), [
    { text: "plain ", classes: "" },
    { text: "red", classes: "fg-red bold" },
    { text: " ", classes: "" },
    { text: "green", classes: "fg-bright-green" },
  ]);
  assert.deepEqual(p.push("\x1b]0;title\x07\x1b[2Kok\x07"), [{ text: "ok", classes: "" }]);
  assert.deepEqual(p.push("\x1b[38;5;4mblue\x1b[48;2;1;2;3mrgb"), [
    { text: "blue", classes: "fg-blue" },
    { text: "rgb", classes: "fg-blue" },
  ]);
});

Deno.test("AnsiParser keeps an escape split across chunks", () => {
  const p = new AnsiParser();
  assert.deepEqual(p.push("a\x1b[3"), [{ text: "a", classes: "" }]);
  assert.deepEqual(p.push("2mb\x1b"), [{ text: "b", classes: "fg-green" }]);
  assert.deepEqual(p.push("[0mc"), [{ text: "c", classes: "" }]);
});

Deno.test("AnsiParser passes markup through as text for the caller to insert as text", () => {
  const p = new AnsiParser();
  assert.deepEqual(p.push("<script>alert(1)</script>"), [
    { text: "<script>alert(1)</script>", classes: "" },
  ]);
});
