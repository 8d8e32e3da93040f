import assert from "node:assert/strict";
import { newTaskRecord, parseTaskRequestV1, type TaskRecord } from "../task/mod.ts";
import {
  EMPTY_FORM,
  formFromTask,
  type PageBase,
  stateCss,
  stateLabel,
  taskPageModel,
  taskRow,
  timeOf,
} from "./models.ts";

function record(fields: Record<string, unknown> = {}): TaskRecord {
  const r = parseTaskRequestV1({ cpu: 0.5, mem: 64, image: "busybox", command: "date", ...fields });
  assert.ok(r.ok);
  return newTaskRecord(r.request, {
    uuid: "11111111-2222-3333-4444-555555555555",
    now: 1_700_000_000_000,
  });
}

const base: PageBase = {
  title: "t",
  prefix: "/p",
  version: "1.0.0",
  nav: "",
  asset: (p) => `/p/static/v-1/${p}`,
  scripts: [],
};

Deno.test("taskPageModel() never carries a masked value, even one also set in env", () => {
  const t = record({
    env: { SECRET: "hunter2", PLAIN: "shown" },
    masked_env: { SECRET: "hunter2", TOKEN: "s3cret" },
  });
  const model = taskPageModel(t, base);
  const text = JSON.stringify(model);
  assert.ok(!text.includes("hunter2") && !text.includes("s3cret"), text);
  const env = model.task.details.find((g) => g.heading === "Environment")?.fields;
  assert.deepEqual(env?.map((f) => [f.label, f.value]), [
    ["PLAIN", "shown"],
    ["SECRET", "*******"],
    ["TOKEN", "*******"],
  ]);
  assert.deepEqual(
    model.task.details.map((g) => g.heading),
    ["Container", "Resources", "Scheduling", "Environment"],
    "empty groups are left out",
  );
});

Deno.test("taskPageModel() links under the prefix and offers kill or delete by state", () => {
  const queued = taskPageModel(record(), base);
  assert.equal(queued.links.json, `/p/api/v1/task/${encodeURIComponent(queued.task.id)}`);
  assert.equal(queued.links.resubmit, `/p/?from=${encodeURIComponent(queued.task.id)}`);
  assert.equal(queued.canKill, true);
  assert.equal(queued.canDelete, false);
  const t = record();
  const done = taskPageModel({
    ...t,
    status: [...t.status, { time: 1_700_000_001, status: "TASK_FINISHED" }],
  }, base);
  assert.equal(done.canKill, false);
  assert.equal(done.canDelete, true);
  assert.deepEqual(done.history.map((h) => h.stateCss), ["state-queued", "state-finished"]);
  assert.equal(done.history[1].iso, "2023-11-14T22:13:21Z");
});

Deno.test("formFromTask() refills every field but masked values and assigned host ports", () => {
  const form = formFromTask(record({
    name: "n",
    args: ["-c", "x"],
    env: { A: "1", SECRET: "hunter2" },
    masked_env: { SECRET: "hunter2" },
    labels: { team: "web" },
    ports: [{ container_port: 80, host_port: 31000, protocol: "udp" }],
    volumes: [{ host_path: "/h", container_path: "/c" }],
    volumes_from: ["data"],
    fetch: [{ uri: "http://x/a.tgz", extract: true }],
    agent_constraints: [{ attribute_name: "rack", attribute_value: "a1" }],
    network: "BRIDGE",
    privileged: true,
    max_retries: 2,
    timeout_seconds: 30,
  }));
  assert.ok(!JSON.stringify(form).includes("hunter2"));
  assert.equal(form.env, "A=1");
  assert.equal(form.masked_env, "SECRET=");
  assert.equal(form.args, "-c\nx");
  assert.equal(form.ports, "80/udp");
  assert.equal(form.volumes, "/h:/c");
  assert.equal(form.agent_constraints, "rack=a1");
  assert.deepEqual(form.fetch, [{
    uri: "http://x/a.tgz",
    extract: true,
    executable: false,
    cache: false,
  }]);
  assert.equal(form.network, "BRIDGE");
  assert.equal(form.privileged, true);
  assert.equal(form.max_retries, "2");
  assert.equal(form.timeout_seconds, "30");
  assert.equal(formFromTask(record()).fetch, EMPTY_FORM.fetch);
});

Deno.test("taskRow(), stateCss(), stateLabel() and timeOf() format for the templates", () => {
  const row = taskRow(record({ name: "a/b" }), "/p");
  assert.equal(row.href, `/p/task/${encodeURIComponent(row.id)}`);
  assert.equal(row.stateCss, "state-queued");
  assert.equal(row.submitted.iso, "2023-11-14T22:13:20Z");
  assert.equal(stateCss("TASK_GONE_BY_OPERATOR"), "state-gone-by-operator");
  assert.equal(stateLabel("TASK_GONE_BY_OPERATOR"), "gone by operator");
  assert.deepEqual(timeOf(0), { iso: "1970-01-01T00:00:00Z", text: "1970-01-01 00:00:00 UTC" });
});
