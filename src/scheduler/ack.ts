/**
 * The ack step: ACKNOWLEDGE calls for a batch of status updates, only for those whose
 * write is durable (or that changed nothing). An update left unacknowledged is sent
 * again by the agent, which is how a failed write is retried.
 *
 * @module
 */
import { acknowledgeStatus, type Call } from "../mesos/mod.ts";
import { publicIdOf, type UpdateEffect } from "./update.ts";

/** The acknowledgements to send after the batch's commit; `failed`: ids not written. */
export function acknowledgements(
  effects: readonly UpdateEffect[],
  failed: ReadonlySet<string> | ReadonlyMap<string, unknown>,
): Call[] {
  const calls: Call[] = [];
  for (const e of effects) {
    if (e.kind === "changed" && failed.has(publicIdOf(e.status.task_id.value))) continue;
    const ack = acknowledgeStatus(e.status);
    if (ack) calls.push(ack);
  }
  return calls;
}
