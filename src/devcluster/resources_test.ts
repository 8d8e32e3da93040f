import assert from "node:assert/strict";
import {
  flattenAttributes,
  parseAttributeText,
  parseResourceText,
  ResourceParseError,
  ResourceSet,
  validateResources,
} from "./resources.ts";

Deno.test("parseResourceText() reads the agent flag syntax", () => {
  assert.deepEqual(
    parseResourceText("cpus:4;mem:8192;ports:[31000-31004,31006-32000];cpus(batch):2"),
    [
      { name: "cpus", type: "SCALAR", role: "*", scalar: { value: 4 } },
      { name: "mem", type: "SCALAR", role: "*", scalar: { value: 8192 } },
      {
        name: "ports",
        type: "RANGES",
        role: "*",
        ranges: { range: [{ begin: 31000, end: 31004 }, { begin: 31006, end: 32000 }] },
      },
      { name: "cpus", type: "SCALAR", role: "batch", scalar: { value: 2 } },
    ],
  );
  assert.throws(() => parseResourceText("cpus"), ResourceParseError);
  assert.throws(() => parseResourceText("cpus:lots"), ResourceParseError);
});

Deno.test("parseAttributeText() yields the four attribute types", () => {
  const attrs = parseAttributeText("rack:r7;ssd:1;lvl:[1-3];zone:{a,b}");
  assert.deepEqual(attrs.map((a) => a.type), ["TEXT", "SCALAR", "RANGES", "SET"]);
  assert.deepEqual(flattenAttributes(attrs), { rack: "r7", ssd: 1, lvl: "[1-3]", zone: "{a,b}" });
});

Deno.test("ResourceSet arithmetic uses fixed point scalars and range splitting", () => {
  const total = ResourceSet.parse("cpus:1;mem:100;ports:[31000-31010]");
  const task = ResourceSet.parse("cpus:0.1;mem:10;ports:[31005-31005]");
  let left = total;
  for (let i = 0; i < 3; i++) left = left.subtract(ResourceSet.parse("cpus:0.1"));
  assert.equal(left.scalar("cpus"), 0.7);
  assert.ok(total.contains(task));
  const rest = total.subtract(task);
  assert.equal(rest.flatten().ports, "[31000-31004, 31006-31010]");
  assert.ok(!rest.contains(ResourceSet.parse("ports:[31005-31005]")));
  assert.ok(!rest.contains(ResourceSet.parse("gpus:1")));
  assert.equal(rest.add(task).flatten().ports, "[31000-31010]");
  assert.equal(task.toString(), "cpus(*):0.1; mem(*):10; ports(*):[31005-31005]");
  const reserved = ResourceSet.parse("cpus:1;cpus(batch):2");
  assert.equal(reserved.forRole("batch").scalar("cpus"), 3);
  assert.equal(reserved.forRole("other").scalar("cpus"), 1);
  assert.deepEqual(ResourceSet.parse("cpus:2").toJson("r"), [
    {
      name: "cpus",
      type: "SCALAR",
      scalar: { value: 2 },
      role: "*",
      allocation_info: { role: "r" },
    },
  ]);
});

Deno.test("validateResources() rejects non-positive scalars and overlapping ranges", () => {
  assert.equal(
    validateResources([{ name: "cpus", type: "SCALAR", scalar: { value: 0 } }]),
    "Invalid scalar resource: value <= 0",
  );
  assert.equal(
    validateResources([{
      name: "ports",
      type: "RANGES",
      ranges: { range: [{ begin: 5, end: 9 }, { begin: 9, end: 10 }] },
    }]),
    "Invalid ranges resource: overlapping ranges",
  );
  assert.equal(validateResources([{ name: "cpus", type: "SCALAR", scalar: { value: 0.5 } }]), null);
});
