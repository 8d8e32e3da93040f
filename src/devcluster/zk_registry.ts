/**
 * The development cluster's masters registered in a real ZooKeeper, as Mesos masters do
 * (src/master/contender/zookeeper.cpp): an ephemeral sequential `json.info_<seq>` node
 * per master under the group path, holding its `MasterInfo` as JSON, world-readable so
 * schedulers can find the leader; the lowest sequence leads. Backs `devcluster --zk`.
 *
 * @module
 */
import { leaderNode, MASTER_INFO_LABEL } from "../mesos/zk_detector.ts";
import type { ZkClient } from "../zk/mod.ts";
import type { MasterRegistry, Membership } from "./registry.ts";
import type { MasterInfo } from "../mesos/types.ts";

/**
 * A {@linkcode MasterRegistry} over `client` under `path`. Memberships come back with a new
 * node after an expired session (ephemeral nodes die with it). `close()` closes the client.
 */
export function zkRegistry(client: ZkClient, path: string): MasterRegistry {
  const encoder = new TextEncoder();
  const members = new Set<{ info: MasterInfo; node: string | null; cancelled: boolean }>();
  const watchers = new Set<(leader: MasterInfo | null) => void>();
  let closed = false;

  const register = async (info: MasterInfo): Promise<string> => {
    await client.mkdirp(path, { acl: "readable" });
    return await client.create(
      `${path}/${MASTER_INFO_LABEL}_`,
      encoder.encode(JSON.stringify(info)),
      { mode: "ephemeral_sequential", acl: "readable" },
    );
  };

  const leader = async (): Promise<MasterInfo | null> => {
    for (;;) {
      const name = leaderNode((await client.getChildren(path)) ?? []);
      if (name === null) return null;
      const node = await client.getData(`${path}/${name}`);
      if (node) return JSON.parse(new TextDecoder().decode(node.data)) as MasterInfo;
      // The leader left between the two reads: elect again.
    }
  };

  const notify = async () => {
    if (closed || !watchers.size) return;
    // Re-arm the children watch first, so no change between reading and watching is missed.
    // ZooKeeper sets no watch on a node that does not exist: create the group first.
    const watch = () => void notify().catch(() => {});
    if ((await client.getChildren(path, watch)) === null) {
      await client.mkdirp(path, { acl: "readable" });
      await client.getChildren(path, watch);
    }
    const current = await leader();
    for (const w of watchers) w(current);
  };

  client.onSessionLost(() => {
    for (const m of members) {
      if (m.cancelled) continue;
      void register(m.info).then((node) => m.node = node, () => {});
    }
    void notify().catch(() => {});
  });

  return {
    async join(info: MasterInfo): Promise<Membership> {
      const member = { info, node: null as string | null, cancelled: false };
      member.node = await register(info);
      members.add(member);
      const name = member.node.slice(path.length + 1);
      return {
        name,
        sequence: Number(name.slice(MASTER_INFO_LABEL.length + 1)),
        async cancel() {
          member.cancelled = true;
          members.delete(member);
          if (member.node) await client.remove(member.node);
        },
      };
    },
    leader,
    watch(onChange) {
      watchers.add(onChange);
      if (watchers.size === 1) void notify().catch(() => {});
      return () => watchers.delete(onChange);
    },
    async close() {
      closed = true;
      watchers.clear();
      members.clear();
      await client.close();
    },
  };
}
