/**
 * `run --wait`: a task's states and output followed live through the SSE routes, with a
 * progress line (rewritten in place, cleared before output) on a terminal.
 *
 * @module
 */
import type { Clock } from "../runtime.ts";
import type { EremeticClient } from "./client.ts";

export interface FollowTaskOptions {
  clock: Clock;
  stdout: (text: string) => Promise<void>;
  stderr: (text: string) => Promise<void>;
  /** Copy the task's stdout and stderr to ours. */
  output: boolean;
  /** Show `<id>: <state>` on stderr, rewritten at each change. */
  progress: boolean;
  /** An output stream that failed after the task ended (reported, not fatal). */
  onOutputError: (error: Error) => Promise<void>;
}

/**
 * Follows task `id` until its state stream ends (after the final state) and its output
 * streams have delivered everything. Returns the last state seen (`""` when the stream
 * was already past the end); throws what the state stream throws (an `ApiError` 404 for
 * an unknown task), after stopping the output streams.
 */
export async function followTask(
  client: EremeticClient,
  id: string,
  { clock, stdout, stderr, output, progress, onOutputError }: FollowTaskOptions,
): Promise<string> {
  const path = `/api/v1/task/${encodeURIComponent(id)}`;
  const stop = new AbortController();
  let shown = "";
  let atLineStart = true;
  const clear = async () => {
    if (shown) await stderr("\r\x1b[K");
  };
  const redraw = async () => {
    if (shown && atLineStart) await stderr(shown);
  };
  const outputs = !output ? [] : (["stdout", "stderr"] as const).map(async (file) => {
    const events = client.stream(`${path}/${file}?follow=1`, `the ${file} of "${id}"`, {
      clock,
      signal: stop.signal,
    });
    for await (const e of events) {
      if (e.event !== "output") continue;
      const { text } = e.data as { text: string };
      await clear();
      await (file === "stdout" ? stdout : stderr)(text);
      atLineStart = text.endsWith("\n");
      await redraw();
    }
  });
  let state = "";
  try {
    for await (const e of client.stream(`${path}/events`, `the states of "${id}"`, { clock })) {
      if (e.event !== "status") continue;
      state = (e.data as { state: string }).state;
      if (progress) {
        await clear();
        shown = `${id}: ${state}`;
        await redraw();
      }
    }
  } catch (e) {
    stop.abort();
    await Promise.allSettled(outputs);
    throw e;
  }
  try {
    await Promise.all(outputs);
  } catch (e) {
    await onOutputError(e as Error);
  }
  await clear();
  return state;
}
