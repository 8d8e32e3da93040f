/**
 * `GET /api/v1/task/{id}` (and the legacy `GET /task/{id}`) from the JSON text of the
 * task's view, which the store keeps with its cached record until the task changes
 * (`TaskStore.getTaskView`): a read of a cached task renders nothing.
 *
 * @module
 */
import type { TaskStore } from "../store/mod.ts";
import { type TaskRecord, toTaskV0, toTaskV1 } from "../task/mod.ts";
import { json, JSON_HEADERS } from "./errors.ts";

/** The body `json(view(task))` sends. */
const renderer = (view: (t: TaskRecord) => object) => (t: TaskRecord): string =>
  JSON.stringify(view(t)) + "\n";

/** One renderer per view for the whole process: the store caches by renderer. */
const RENDERERS = { v1: renderer(toTaskV1), v0: renderer(toTaskV0) } as const;

/** Answers a task's view: 200 with its JSON, or 404 with `null`. */
export function taskViewResponder(
  store: TaskStore,
  version: "v1" | "v0",
): (id: string) => Promise<Response> {
  const render = RENDERERS[version];
  return async function taskView(id: string): Promise<Response> {
    const body = await store.getTaskView(id, render);
    if (body === null) return json(null, 404);
    return new Response(body, { status: 200, headers: JSON_HEADERS });
  };
}
