/**
 * Master registration and leader election, the way Mesos masters use ZooKeeper
 * (src/master/contender/zookeeper.cpp, src/master/detector/zookeeper.cpp): each
 * master creates an ephemeral sequential node `json.info_<10 digits>` holding
 * its MasterInfo as JSON under the group path; the lowest sequence leads.
 *
 * The devcluster elects its masters through this interface. `memoryRegistry()`
 * is the in-process group; a ZooKeeper-backed implementation (for `--zk`) will
 * implement the same interface once the project's ZooKeeper client exists.
 *
 * @module
 */
import type { MasterInfo } from "../mesos/types.ts";

/** One master's membership in the group. */
export interface Membership {
  /** The node name, e.g. `json.info_0000000003`. */
  readonly name: string;
  readonly sequence: number;
  /** Leaves the group (the ephemeral node is deleted). */
  cancel(): Promise<void>;
}

/** A group of masters with leader election by lowest sequence. */
export interface MasterRegistry {
  /** Joins the group with `info` as the node's data. */
  join(info: MasterInfo): Promise<Membership>;
  /** The current leader's MasterInfo, or `null` when the group is empty. */
  leader(): Promise<MasterInfo | null>;
  /** Calls `onChange` whenever the leader may have changed; returns an unsubscribe function. */
  watch(onChange: (leader: MasterInfo | null) => void): () => void;
  close(): Promise<void>;
}

/** Name of the node for a sequence number: `json.info_` + 10 digits. */
export function memberName(sequence: number): string {
  return `json.info_${String(sequence).padStart(10, "0")}`;
}

/** An in-process registry with ZooKeeper's naming and election rules. */
export function memoryRegistry(): MasterRegistry & { nodes(): Map<string, string> } {
  const nodes = new Map<number, string>();
  const watchers = new Set<(leader: MasterInfo | null) => void>();
  let next = 0;
  const current = (): MasterInfo | null => {
    if (!nodes.size) return null;
    const lowest = Math.min(...nodes.keys());
    return JSON.parse(nodes.get(lowest)!) as MasterInfo;
  };
  const notify = () => {
    const leader = current();
    for (const w of watchers) w(leader);
  };
  return {
    join(info) {
      const sequence = next++;
      nodes.set(sequence, JSON.stringify(info));
      notify();
      return Promise.resolve({
        name: memberName(sequence),
        sequence,
        cancel() {
          if (nodes.delete(sequence)) notify();
          return Promise.resolve();
        },
      });
    },
    leader: () => Promise.resolve(current()),
    watch(onChange) {
      watchers.add(onChange);
      return () => watchers.delete(onChange);
    },
    close() {
      nodes.clear();
      watchers.clear();
      return Promise.resolve();
    },
    nodes: () => new Map([...nodes].map(([s, d]) => [memberName(s), d])),
  };
}
