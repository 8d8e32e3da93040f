import { assert, assertEquals } from "../testing/asserts.ts";
import { offer, task } from "./_testdata.ts";
import { matchOffers } from "./match.ts";
import { assignPorts, buildTaskInfo } from "./task_info.ts";

function placed(fields: Record<string, unknown>) {
  const r = matchOffers([offer()], [task({ cpu: 1, mem: 22, ...fields })]);
  assertEquals(r.placements.length, 1);
  return r.placements[0];
}

Deno.test("buildTaskInfo() runs a non-empty command through the shell and drops args", () => {
  const info = buildTaskInfo(placed({ command: "echo $(date)", args: ["+%s"] }));
  assertEquals(info.command?.shell, true);
  assertEquals(info.command?.value, "echo $(date)");
  assertEquals(info.command?.arguments, undefined);
  assertEquals(info.container?.type, "DOCKER");
  assertEquals(info.container?.docker?.image, "busybox");
  assertEquals(info.container?.docker?.network, "BRIDGE");
});

Deno.test("buildTaskInfo() passes args to the entrypoint when there is no command", () => {
  const info = buildTaskInfo(placed({ command: "", args: ["-c", "true"] }));
  assertEquals(info.command?.shell, false);
  assertEquals(info.command?.arguments, ["-c", "true"]);
});

Deno.test("buildTaskInfo() sets env, masked env, PORT0 = first requested port and MESOS_TASK_ID", () => {
  const p = placed({
    env: { A: "1", S: "plain" },
    masked_env: { S: "secret" },
    ports: [{ container_port: 80 }, { container_port: 0, protocol: "udp" }],
  });
  const info = buildTaskInfo(p);
  const env = Object.fromEntries(
    info.command!.environment!.variables!.map((v) => [v.name, v.value]),
  );
  assertEquals(env.A, "1");
  assertEquals(env.S, "secret");
  assertEquals(env.PORT0, String(p.hostPorts[0]));
  assertEquals(env.PORT1, String(p.hostPorts[1]));
  assertEquals(env.PORT, env.PORT0);
  assertEquals(env.MESOS_TASK_ID, p.task.id);
  assertEquals(info.container?.docker?.port_mappings, [
    { host_port: p.hostPorts[0], container_port: 80, protocol: "tcp" },
    { host_port: p.hostPorts[1], container_port: p.hostPorts[1], protocol: "udp" },
  ]);
});

Deno.test("buildTaskInfo() maps docker parameters, volumes, uris, labels and timeout", () => {
  const info = buildTaskInfo(placed({
    dns: "10.0.0.2",
    volumes_from: ["data"],
    parameters: [{ key: "cap-add", value: "SYS_ADMIN" }],
    volumes: [{ container_path: "/c", host_path: "/h" }],
    fetch: [{ uri: "http://x/a.tgz", extract: true }],
    labels: { team: "a" },
    timeout_seconds: 2.5,
    privileged: true,
    force_pull_image: true,
  }));
  assertEquals(info.container?.docker?.parameters, [
    { key: "dns", value: "10.0.0.2" },
    { key: "volumes-from", value: "data" },
    { key: "cap-add", value: "SYS_ADMIN" },
  ]);
  assertEquals(info.container?.volumes, [{ container_path: "/c", host_path: "/h", mode: "RW" }]);
  assertEquals(info.command?.uris, [{
    value: "http://x/a.tgz",
    extract: true,
    executable: false,
    cache: false,
  }]);
  assertEquals(info.labels, { labels: [{ key: "team", value: "a" }] });
  assertEquals(info.max_completion_time, { nanoseconds: 2_500_000_000 });
  assert(info.container?.docker?.privileged && info.container?.docker?.force_pull_image);
});

Deno.test("assignPorts() fills host ports in request order and defaults container ports", () => {
  assertEquals(
    assignPorts([{ container_port: 80, host_port: 0, protocol: "tcp" }, {
      container_port: 0,
      host_port: 0,
      protocol: "tcp",
    }], [31000, 31001]),
    [
      { container_port: 80, host_port: 31000, protocol: "tcp" },
      { container_port: 31001, host_port: 31001, protocol: "tcp" },
    ],
  );
});
