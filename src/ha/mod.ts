/**
 * High availability: leader election over ZooKeeper and the instance front that runs the
 * app as leader or forwards to the leader as follower.
 *
 * @module
 */
export {
  Election,
  type ElectionEvents,
  type ElectionOptions,
  lowestMember,
  memberSeq,
} from "./election.ts";
export { advertisedAddress, forward, FORWARDED_HEADER, type HaApp, startHa } from "./front.ts";
