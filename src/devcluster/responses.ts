/**
 * Plain-text and JSON answers as a Mesos master writes them, and `Accept` negotiation.
 *
 * @module
 */
import { encodeJson } from "./json.ts";

const TEXT = { "content-type": "text/plain; charset=utf-8" };

export function textResponse(
  status: number,
  body: string,
  headers: Record<string, string> = {},
): Response {
  return new Response(body, { status, headers: { ...TEXT, ...headers } });
}

export function jsonResponse(value: unknown): Response {
  return new Response(encodeJson(value), { headers: { "content-type": "application/json" } });
}

/** Whether JSON is acceptable per `Accept` (JSON is preferred over protobuf regardless of order). */
export function acceptsJson(accept: string | null): boolean {
  if (accept === null || accept.trim() === "") return true;
  for (const part of accept.split(",")) {
    const [type, ...params] = part.trim().split(";").map((s) => s.trim().toLowerCase());
    const q = params.find((p) => p.startsWith("q="));
    if (q && Number(q.slice(2)) === 0) continue;
    if (type === "application/json" || type === "*/*" || type === "application/*") return true;
  }
  return false;
}

/**
 * Where a non-leading master sends a request (Mesos `Master::Http::redirect`): a
 * protocol-relative URL on the leader, `//host:port`, followed by the request's
 * target as the `master` process sees it (`/api/v1/scheduler` is
 * `/master/api/v1/scheduler`); `/redirect` and `/master/redirect` go to the bare
 * `//host:port`.
 */
export function leaderLocation(leader: { hostname: string; port: number }, target: string): string {
  const base = `//${leader.hostname}:${leader.port}`;
  const path = target.split("?")[0];
  if (path === "/redirect" || path === "/master/redirect") return base;
  const owned = path === "/master" || path.startsWith("/master/");
  return base + (owned ? target : `/master${target}`);
}

/** A 307 to the leading master (see `leaderLocation`). */
export function leaderRedirect(
  leader: { hostname: string; port: number },
  target: string,
): Response {
  return new Response(null, { status: 307, headers: { location: leaderLocation(leader, target) } });
}
