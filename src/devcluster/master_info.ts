/**
 * A master's `MasterInfo` and the addresses it advertises.
 *
 * @module
 */
import type { MasterInfo } from "../mesos/types.ts";
import { MESOS_VERSION } from "./types.ts";

/** IPv4 `s_addr` read as a little-endian uint32, the deprecated `MasterInfo.ip`. */
export function ipToUint32(ip: string): number {
  const parts = ip.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !(p >= 0 && p <= 255))) return 0;
  return (parts[0] | (parts[1] << 8) | (parts[2] << 16) | (parts[3] << 24)) >>> 0;
}

/** The IPv4 address to advertise for a listen address or hostname (127.0.0.1 unless a literal). */
export function advertisedIp(address: string): string {
  return /^\d+\.\d+\.\d+\.\d+$/.test(address) && address !== "0.0.0.0" ? address : "127.0.0.1";
}

/** The hostname to advertise for a listen address (the machine's name for a wildcard). */
export function advertisedHostname(address: string): string {
  if (address !== "0.0.0.0" && address !== "::") return address;
  try {
    return Deno.hostname();
  } catch {
    return "127.0.0.1";
  }
}

/** The MasterInfo of a master with this id and address. */
export function makeMasterInfo(id: string, hostname: string, port: number): MasterInfo {
  const ip = advertisedIp(hostname);
  return {
    id,
    ip: ipToUint32(ip),
    port,
    pid: `master@${ip}:${port}`,
    hostname,
    version: MESOS_VERSION,
    address: { hostname, ip, port },
    capabilities: [{ type: "AGENT_UPDATE" }, { type: "AGENT_DRAINING" }, { type: "QUOTA_V2" }],
  };
}
