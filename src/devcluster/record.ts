/**
 * `--record FILE`: every scheduler call received and every event sent, one JSON
 * object per line, `{"dir":"call"|"event","at":"<ISO time>","body":<JSON as it travelled>}`.
 * The body is spliced in as the exact text, so the line holds the bytes that travelled.
 *
 * @module
 */
import { type Clock, systemClock } from "../runtime.ts";

/** Where recorded traffic goes. */
export interface Recorder {
  call(body: string): void;
  event(body: string): void;
  close(): void;
}

const encoder = new TextEncoder();

/** A recorder appending JSON lines to `path` (created or truncated). */
export function fileRecorder(path: string, clock: Clock = systemClock): Recorder {
  const file = Deno.openSync(path, { write: true, create: true, truncate: true });
  let open = true;
  const write = (dir: string, body: string) => {
    if (!open) return;
    const at = new Date(clock.now()).toISOString();
    file.writeSync(encoder.encode(`{"dir":"${dir}","at":"${at}","body":${body}}\n`));
  };
  return {
    call: (body) => write("call", body),
    event: (body) => write("event", body),
    close() {
      if (!open) return;
      open = false;
      file.close();
    },
  };
}

/** A recorder keeping lines in memory, for tests. */
export function memoryRecorder(clock: Clock = systemClock): Recorder & { lines: string[] } {
  const lines: string[] = [];
  const write = (dir: string, body: string) =>
    lines.push(`{"dir":"${dir}","at":"${new Date(clock.now()).toISOString()}","body":${body}}`);
  return {
    lines,
    call: (body) => write("call", body),
    event: (body) => write("event", body),
    close() {},
  };
}
