/**
 * The accept step: one ACCEPT (LAUNCH) per offer for its staged tasks. Pure: the loop
 * sends the calls.
 *
 * @module
 */
import { accept, type Call, launch, type Offer } from "../mesos/mod.ts";
import type { Placement } from "./match.ts";
import { buildTaskInfo } from "./task_info.ts";

/** Placements grouped by their offer, in order of first appearance. */
export function groupByOffer(placements: readonly Placement[]): Map<Offer, Placement[]> {
  const byOffer = new Map<Offer, Placement[]>();
  for (const p of placements) {
    let list = byOffer.get(p.offer);
    if (!list) byOffer.set(p.offer, list = []);
    list.push(p);
  }
  return byOffer;
}

/**
 * The ACCEPT launching `staged` (all on `offer`). `refuseSeconds` filters what is left of
 * the offer: 0 while tasks wait, so the rest comes back at the next allocation.
 */
export function acceptCall(
  offer: Offer,
  staged: readonly Placement[],
  refuseSeconds: number,
): Call {
  return accept([offer.id], [launch(staged.map((p) => buildTaskInfo(p)))], {
    refuse_seconds: refuseSeconds,
  });
}
