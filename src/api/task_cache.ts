/**
 * `GET /api/v1/task/{id}` (and the legacy `GET /task/{id}`) from the JSON bytes of the
 * task's view, which the store keeps with its cached record until the task changes
 * (`TaskStore.getTaskView`): a read of a cached task renders nothing.
 *
 * @module
 */
import type { TaskStore } from "../store/mod.ts";
import { type TaskRecord, toTaskV0, toTaskV1 } from "../task/mod.ts";
import { json, JSON_TYPE } from "./errors.ts";

const encoder = new TextEncoder();

/** The body `json(view(task))` sends, as bytes. */
const renderer = (view: (t: TaskRecord) => object) => (t: TaskRecord): Uint8Array =>
  encoder.encode(JSON.stringify(view(t)) + "\n");

/** One renderer per view for the whole process: the store caches by renderer. */
const RENDERERS = { v1: renderer(toTaskV1), v0: renderer(toTaskV0) } as const;

/** Answers a task's view: 200 with its JSON, or 404 with `null`. */
export function taskViewResponder(
  store: TaskStore,
  version: "v1" | "v0",
): (id: string) => Promise<Response> {
  const render = RENDERERS[version];
  return async function taskView(id: string): Promise<Response> {
    const bytes = await store.getTaskView(id, render);
    if (bytes === null) return json(null, 404);
    // A `Response` copies its body: the cached bytes stay intact.
    return new Response(bytes as Uint8Array<ArrayBuffer>, {
      status: 200,
      headers: { "content-type": JSON_TYPE },
    });
  };
}
