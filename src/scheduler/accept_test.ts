import assert from "node:assert/strict";
import { offer, task } from "./_testdata.ts";
import { acceptCall, groupByOffer } from "./accept.ts";
import { matchOffers } from "./match.ts";

Deno.test("groupByOffer() and acceptCall() launch each offer's tasks in one ACCEPT", () => {
  const a = offer({ cpus: 1 });
  const b = offer({ cpus: 2 });
  const tasks = [task({ cpu: 1 }), task({ cpu: 1 }), task({ cpu: 1 })];
  const { placements } = matchOffers([a, b], tasks);
  const groups = groupByOffer(placements);
  assert.deepEqual([...groups.keys()], [a, b]);
  assert.deepEqual(groups.get(b)!.map((p) => p.task.id), [tasks[1].id, tasks[2].id]);
  const call = acceptCall(b, groups.get(b)!, 0);
  assert.equal(call.type, "ACCEPT");
  if (call.type !== "ACCEPT") return;
  assert.deepEqual(call.accept.offer_ids, [b.id]);
  assert.equal(call.accept.filters?.refuse_seconds, 0);
  const op = call.accept.operations?.[0];
  assert.equal(op?.type, "LAUNCH");
  if (op?.type !== "LAUNCH") return;
  assert.deepEqual(op.launch.task_infos.map((i) => i.task_id.value), [tasks[1].id, tasks[2].id]);
});
