/**
 * A Mesos v1 HTTP scheduler API client that knows nothing about Eremetic.
 *
 * Layers, each usable alone (reference `mesos-v1.md`):
 * - `recordio.ts`: bytes → records, across arbitrary chunk boundaries;
 * - `events.ts`: JSON → the typed {@linkcode Event} union (+ {@linkcode dispatchEvent});
 * - `calls.ts`: pure call builders ({@linkcode subscribe}, {@linkcode accept}, {@linkcode acknowledge}, …);
 * - `client.ts`: HTTP — SUBSCRIBE stream, ordered calls with `Mesos-Stream-Id`, 307 leader
 *   redirects, retries, heartbeat watchdog;
 * - `connection.ts` + `http1.ts`: the keep-alive HTTP/1.1 connections calls travel on,
 *   pipelined (several calls per write, answers read in order, one watchdog per connection),
 *   and the SUBSCRIBE stream's own connection;
 * - `driver.ts`: the subscribe loop that keeps a subscription alive;
 * - `detector.ts`: where the leading master is (`http(s)://host:port`, `host:port`);
 *   `zk_detector.ts`: the leader of the masters' ZooKeeper group (`zk://…`, over `../zk/`);
 * - `errors.ts`: errors that know whether they are `temporary`.
 *
 * ```ts
 * import { acknowledgeStatus, decline, startDriver } from "./mod.ts";
 *
 * await using driver = startDriver({
 *   master: "127.0.0.1:5050",
 *   frameworkInfo: { user: "root", name: "demo", failover_timeout: 604800 },
 * });
 * for await (const event of driver.events) {
 *   if (event.type === "OFFERS") {
 *     await driver.call(decline(event.offers.offers!.map((o) => o.id), { refuse_seconds: 60 }));
 *   } else if (event.type === "UPDATE") {
 *     const ack = acknowledgeStatus(event.update.status);
 *     if (ack) await driver.call(ack);
 *   }
 * }
 * ```
 *
 * @module
 */
export * from "./types.ts";
export * from "./errors.ts";
export * from "./recordio.ts";
export * from "./json.ts";
export * from "./ranges.ts";
export * from "./events.ts";
export * from "./calls.ts";
export * from "./auth.ts";
export * from "./backoff.ts";
export * from "./detector.ts";
export {
  ipFromUint32,
  leaderNode,
  masterInfoEndpoint,
  MasterInfoError,
  zkDetector,
  type ZkDetectorOptions,
} from "./zk_detector.ts";
export * from "./client.ts";
export * from "./driver.ts";
