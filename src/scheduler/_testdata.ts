/**
 * Offers and tasks for scheduler tests.
 *
 * @module
 */
import type { Attribute, Offer, Resource } from "../mesos/mod.ts";
import { sampleTask } from "../store/_contract.ts";
import type { TaskRecord } from "../task/mod.ts";

let n = 0;

export interface OfferSpec {
  cpus?: number;
  mem?: number;
  disk?: number;
  gpus?: number;
  ports?: [number, number][];
  attributes?: Attribute[];
  role?: string;
  agent?: string;
}

/** An offer in the JSON shape a master sends. */
export function offer(spec: OfferSpec = {}): Offer {
  const id = ++n;
  const scalar = (name: string, value: number): Resource => ({
    name,
    type: "SCALAR",
    scalar: { value },
    allocation_info: { role: spec.role ?? "*" },
  });
  const resources: Resource[] = [scalar("cpus", spec.cpus ?? 4), scalar("mem", spec.mem ?? 8192)];
  if (spec.disk !== undefined) resources.push(scalar("disk", spec.disk));
  if (spec.gpus !== undefined) resources.push(scalar("gpus", spec.gpus));
  resources.push({
    name: "ports",
    type: "RANGES",
    ranges: { range: (spec.ports ?? [[31000, 32000]]).map(([begin, end]) => ({ begin, end })) },
    allocation_info: { role: spec.role ?? "*" },
  });
  return {
    id: { value: `offer-${id}` },
    framework_id: { value: "fw" },
    agent_id: { value: spec.agent ?? `agent-${id}` },
    hostname: `host-${id}`,
    url: { scheme: "http", address: { hostname: `host-${id}`, ip: "127.0.0.1", port: 5051 } },
    resources,
    attributes: spec.attributes,
    allocation_info: { role: spec.role ?? "*" },
  };
}

/** A queued task with the given request fields. */
export function task(fields: Record<string, unknown> = {}): TaskRecord {
  return sampleTask(fields);
}
