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
