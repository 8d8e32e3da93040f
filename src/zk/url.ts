/**
 * `zk://` URLs as Mesos and the original Eremetic write them
 * (include/mesos/zookeeper/url.hpp): `zk://[user:pass@]host1:port,host2:port/path`.
 *
 * @module
 */

/** A parsed `zk://` URL. Its `toString()` never shows the credentials. */
export interface ZkUrl {
  /** `host:port` of every server, in the given order. */
  readonly servers: readonly string[];
  /** The node path, starting with `/`, without a trailing `/` (never `/` alone). */
  readonly path: string;
  /** Digest credentials (`user:password`), or `null`. Never print it. */
  readonly auth: string | null;
  /** `zk://host:port,host:port/path`, with `*******@` in place of credentials. */
  toString(): string;
}

/** A `zk://` URL that cannot be used; the message never holds the credentials. */
export class ZkUrlError extends Error {
  override name = "ZkUrlError";
  /**
   * @param reason what is wrong, without the URL (e.g. `server 1 "zk1" is not host:port`)
   */
  constructor(message: string, readonly problem: ZkUrlProblem, readonly reason: string) {
    super(message);
  }
}

/** What is wrong with a `zk://` URL. */
export type ZkUrlProblem =
  | "scheme"
  | "servers"
  | "server"
  | "port"
  | "path"
  | "credentials";

const SERVER = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s/,:@\[\]]+)):(\d{1,5})$/;

/** Whether `text` starts with `zk://` (any case). */
export function isZkUrl(text: string): boolean {
  return /^zk:\/\//i.test(text.trim());
}

/** The URL with its credentials replaced, for messages and logs. */
export function redactZkUrl(text: string): string {
  const trimmed = text.trim();
  const rest = trimmed.replace(/^zk:\/\//i, "");
  const slash = rest.indexOf("/");
  const authority = slash < 0 ? rest : rest.slice(0, slash);
  const at = authority.lastIndexOf("@");
  if (at < 0) return trimmed;
  return `zk://*******@${authority.slice(at + 1)}${slash < 0 ? "" : rest.slice(slash)}`;
}

/**
 * Parses `zk://[user:pass@]host:port[,host:port]/path`. After `zk://` the path starts at
 * the first `/`; credentials are everything before the last `@` of what precedes it.
 * Throws {@linkcode ZkUrlError} naming what is wrong.
 */
export function parseZkUrl(text: string): ZkUrl {
  const shown = redactZkUrl(text);
  const fail = (problem: ZkUrlProblem, why: string): never => {
    throw new ZkUrlError(`Cannot use ZooKeeper URL "${shown}": ${why}`, problem, why);
  };
  const trimmed = text.trim();
  if (!isZkUrl(trimmed)) fail("scheme", "expected it to start with zk://");
  const rest = trimmed.slice("zk://".length);
  const slash = rest.indexOf("/");
  if (slash < 0) fail("path", "no path, expected zk://host:port/path");
  const authority = rest.slice(0, slash);
  const at = authority.lastIndexOf("@");
  let auth: string | null = null;
  if (at >= 0) {
    auth = authority.slice(0, at);
    const colon = auth.indexOf(":");
    if (colon <= 0 || colon === auth.length - 1) {
      fail("credentials", "credentials must be user:password (digest)");
    }
  }
  const hosts = authority.slice(at + 1);
  if (hosts === "") fail("servers", "no server, expected host:port");
  const servers = hosts.split(",").map((s, i) => {
    const m = SERVER.exec(s);
    if (!m) fail("server", `server ${i + 1} "${s}" is not host:port`);
    const port = Number(m![3]);
    if (port < 1 || port > 65535) fail("port", `server ${i + 1} "${s}" has port ${port}`);
    return s;
  });
  let path = rest.slice(slash).replace(/\/+$/, "");
  if (path === "") fail("path", 'the path "/" alone is not allowed, name a node');
  if (path.split("/").slice(1).some((p) => p === "" || p === "." || p === "..")) {
    fail("path", `path "${path}" has an empty, "." or ".." part`);
  }
  if (/\s/.test(path)) fail("path", `path "${path}" contains white space`);
  path = path.normalize();
  const printable = `zk://${auth === null ? "" : "*******@"}${servers.join(",")}${path}`;
  return Object.freeze({
    servers: Object.freeze(servers),
    path,
    auth,
    toString: () => printable,
    toJSON: () => printable,
  });
}
