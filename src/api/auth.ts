/**
 * HTTP basic authentication with a constant-time comparison and a challenge on
 * every 401 (fixing D18).
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { json } from "./errors.ts";

export interface BasicCredentials {
  user: string;
  password: string;
}

const encoder = new TextEncoder();

/** Compares two strings (or byte arrays) in time that depends only on their lengths. */
export function timingSafeEqual(a: string | Uint8Array, b: string | Uint8Array): boolean {
  const x = typeof a === "string" ? encoder.encode(a) : a;
  const y = typeof b === "string" ? encoder.encode(b) : b;
  let diff = x.length ^ y.length;
  const n = Math.max(x.length, y.length);
  for (let i = 0; i < n; i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/**
 * Whether an `Authorization` header carries exactly these credentials. The base64
 * decodes to bytes, compared with the UTF-8 of `user:password` (so non-ASCII
 * passwords work as browsers and curl send them).
 */
export function checkBasicAuth(header: string | undefined, creds: BasicCredentials): boolean {
  if (!header?.startsWith("Basic ")) return false;
  let decoded: Uint8Array;
  try {
    decoded = Uint8Array.from(atob(header.slice(6).trim()), (ch) => ch.charCodeAt(0));
  } catch {
    return false;
  }
  return timingSafeEqual(decoded, `${creds.user}:${creds.password}`);
}

export interface BasicAuthOptions {
  /** The 401 page for browsers (`Accept` contains `text/html`); JSON `null` otherwise. */
  htmlPage?: (c: Context) => Response | Promise<Response>;
}

const CHALLENGE = 'Basic realm="Eremetic"';

/** Middleware that answers 401, with a challenge, unless the request carries the credentials. */
export function basicAuth(
  creds: BasicCredentials,
  { htmlPage }: BasicAuthOptions = {},
): MiddlewareHandler {
  return async function requireAuth(c, next) {
    if (checkBasicAuth(c.req.header("authorization"), creds)) return await next();
    if (htmlPage && (c.req.header("accept") ?? "").includes("text/html")) {
      const page = await htmlPage(c);
      page.headers.set("www-authenticate", CHALLENGE);
      return page;
    }
    return json(null, 401, { "www-authenticate": CHALLENGE });
  };
}
