/**
 * ZooKeeper: `zk://` URLs and a promise-based session over `npm:node-zookeeper-client`,
 * shared by master detection (`mesos/`), the ZooKeeper task store (`store/`) and the
 * development cluster's registration. Imports nothing else of ours.
 *
 * ```ts
 * import { parseZkUrl } from "./mod.ts";
 * const url = parseZkUrl("zk://zk1:2181,zk2:2181/mesos");
 * console.log(url.servers, url.path, String(url)); // credentials never printed
 * ```
 *
 * @module
 */
export {
  isZkUrl,
  parseZkUrl,
  redactZkUrl,
  type ZkUrl,
  ZkUrlError,
  type ZkUrlProblem,
} from "./url.ts";
export {
  connectZk,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_SESSION_TIMEOUT_MS,
  ZK_CODES,
  type ZkAcl,
  ZkClient,
  type ZkClientOptions,
  type ZkCreateMode,
  ZkError,
  type ZkNode,
  type ZkOp,
  ZkUnavailableError,
} from "./client.ts";
