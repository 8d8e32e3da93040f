/**
 * Finding the leading master (reference §8). A {@linkcode MasterDetector} yields the
 * scheduler endpoint of the current leader; the static one serves a fixed address,
 * `zkDetector()` (zk_detector.ts) follows the leader of a ZooKeeper group (`zk://…`).
 *
 * @module
 */

import { isZkUrl, parseZkUrl, ZkUrlError } from "../zk/mod.ts";
import { zkDetector, type ZkDetectorOptions } from "./zk_detector.ts";

/** The path of the scheduler API below a master's base URL. */
export const SCHEDULER_PATH = "/api/v1/scheduler";

/** Finds the leading master. */
export interface MasterDetector {
  /** A printable description without credentials, e.g. `http://m1:5050`. */
  readonly description: string;
  /**
   * The scheduler endpoint (`…/api/v1/scheduler`) of the current leader. Waits while no
   * leader is known; rejects with the signal's reason when aborted.
   */
  leader(signal?: AbortSignal): Promise<URL>;
  /**
   * Resolves when the leader is no longer `current` (a new election, or no leader at all),
   * so the subscription to `current` can be dropped. Detectors that never change leader
   * (the static one) omit it.
   */
  leaderChanged?(current: URL, signal: AbortSignal): Promise<void>;
  /** Releases resources (ZooKeeper sessions). */
  close?(): Promise<void>;
}

/** The master address given by the user is not usable. */
export class MasterAddressError extends Error {
  override name = "MasterAddressError";
}

/** Removes credentials from an address before it is shown anywhere. */
export function redactAddress(address: string): string {
  return address.replace(/^([a-z]+:\/\/)[^@/]*@/i, "$1*******@");
}

/**
 * The scheduler endpoint for `http(s)://host:port[/prefix]`, `host:port` or
 * `master@host:port`. A path prefix (a master behind a proxy) is kept.
 */
export function schedulerEndpoint(address: string): URL {
  let text = address.trim();
  if (text.startsWith("master@")) text = text.slice("master@".length);
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) text = `http://${text}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new MasterAddressError(
      `Cannot use master "${redactAddress(address)}": expected http(s)://host:port or host:port`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new MasterAddressError(
      `Cannot use master "${redactAddress(address)}": scheme "${url.protocol}" is not supported`,
    );
  }
  if (url.username || url.password) {
    throw new MasterAddressError(
      `Cannot use master "${
        redactAddress(address)
      }": credentials in the URL are not supported, use a credential file`,
    );
  }
  if (url.hostname === "") {
    throw new MasterAddressError(`Cannot use master "${redactAddress(address)}": no host`);
  }
  const prefix = url.pathname.replace(/\/+$/, "");
  const base = prefix.endsWith(SCHEDULER_PATH) ? prefix.slice(0, -SCHEDULER_PATH.length) : prefix;
  return new URL(`${url.protocol}//${url.host}${base}${SCHEDULER_PATH}`);
}

/** A detector for one fixed master; redirects from a non-leader are followed by the client. */
export function staticDetector(address: string): MasterDetector {
  const endpoint = schedulerEndpoint(address);
  return {
    description: `${endpoint.protocol}//${endpoint.host}`,
    // The same URL every time (per call, not parsed again): callers only read it.
    leader(signal?: AbortSignal): Promise<URL> {
      if (signal?.aborted) return Promise.reject(signal.reason);
      return Promise.resolve(endpoint);
    },
  };
}

/**
 * A detector for a master address as users write it: `zk://…` follows the masters'
 * ZooKeeper group, anything else is a fixed master. Throws {@linkcode MasterAddressError}
 * for addresses it cannot use (naming the problem, never the credentials).
 */
export function detectorFor(address: string, options: ZkDetectorOptions = {}): MasterDetector {
  const text = address.trim();
  if (isZkUrl(text)) {
    try {
      return zkDetector(parseZkUrl(text), options);
    } catch (err) {
      if (err instanceof ZkUrlError) {
        throw new MasterAddressError(
          `Cannot use master "${redactAddress(text)}": ${err.reason}`,
          { cause: err },
        );
      }
      throw err;
    }
  }
  if (/^file:\/\//i.test(text)) {
    throw new MasterAddressError(
      `Cannot use master "${redactAddress(text)}": file:// addresses are not supported`,
    );
  }
  return staticDetector(text);
}
