/**
 * Types shared by the API modules and the web pages mounted inside the API's
 * middleware (logging, metrics, trailing slash, authentication).
 *
 * @module
 */
import type { Context, Hono } from "hono";

/** Request-scoped values: `handler` names the route in metrics. */
export type ApiEnv = { Variables: { handler: string } };

/**
 * The HTML side, given by `src/app.ts` (built by `src/web`): its routes run behind the
 * API's middleware, and its pages answer browsers where the API would answer JSON.
 */
export interface WebPages {
  /** Page and asset routes; a page route calls `next()` for requests it does not serve. */
  routes: Hono<ApiEnv>;
  /** The 404 page (for a request whose `Accept` contains `text/html`). */
  notFound(c: Context<ApiEnv>): Response | Promise<Response>;
  /** The 401 page; the caller adds the challenge header. */
  unauthorized(c: Context): Response | Promise<Response>;
}
