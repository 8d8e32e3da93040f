import assert from "node:assert/strict";
import { memoryStore } from "../store/mod.ts";
import { currentState } from "../task/mod.ts";
import { offer, task } from "./_testdata.ts";
import { matchOffers } from "./match.ts";
import { agentAddress, stagePlacements, stagingRecord } from "./stage.ts";

Deno.test("stagingRecord() marks the task TASK_STAGING on the offer's agent with its ports", () => {
  const t = task({ ports: [{ container_port: 80 }] });
  const o = offer({ ports: [[31000, 31010]] });
  const [p] = matchOffers([o], [t]).placements;
  const r = stagingRecord(p, { frameworkId: "fw", now: 1_700_000_000_500 });
  assert.equal(currentState(r), "TASK_STAGING");
  assert.equal(r.status.at(-1)!.time, 1_700_000_000);
  assert.equal(r.agent_id, o.agent_id.value);
  assert.equal(r.framework_id, "fw");
  assert.equal(r.agent_ip, "127.0.0.1");
  assert.equal(r.ports![0].host_port, 31000);
  assert.equal(currentState(t), "TASK_QUEUED", "the placed record is not changed");
});

Deno.test("agentAddress() falls back to the hostname and port 5051", () => {
  const o = { ...offer(), url: undefined };
  assert.deepEqual(agentAddress(o), { ip: o.hostname, port: 5051 });
});

Deno.test("stagePlacements() writes every staging record and reports the ones that failed", async () => {
  const store = memoryStore();
  const ok = (await store.createTask(task())).task;
  const gone = task(); // never stored: its update fails
  const result = matchOffers([offer({ cpus: 4 })], [ok, gone]);
  const staged = await stagePlacements(result.placements, store, { frameworkId: "fw", now: 0 });
  assert.deepEqual(staged.staged.map((p) => p.task.id), [ok.id]);
  assert.deepEqual(staged.failed.map((f) => f.placement.task.id), [gone.id]);
  assert.equal(currentState((await store.getTask(ok.id))!), "TASK_STAGING");
});
