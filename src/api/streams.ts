/**
 * Live streams as Server-Sent Events: a task's status history
 * (`/api/v1/task/{id}/events`), its output (`/api/v1/task/{id}/stdout?follow=1`)
 * and every state change (`/api/v1/events`). Each client gets a bounded outbox
 * (`Channel`): producers never wait for a client, a client too far behind is
 * dropped and resumes with `Last-Event-ID`.
 *
 * @module
 */
import {
  Channel,
  DEFAULT_CHANNEL_MAX_BYTES,
  type EventHub,
  formatSse,
  sseComment,
  type StateEvent,
} from "../events/mod.ts";
import type { Metrics } from "../metrics/mod.ts";
import type { Clock } from "../runtime.ts";
import type { TaskStore } from "../store/mod.ts";
import { isTerminal, stateOf, type StatusEntry, type TaskRecord } from "../task/mod.ts";
import { HttpError, json } from "./errors.ts";
import type { SandboxReader } from "./tasks.ts";

/** Comment keep-alives, so proxies and load balancers keep idle streams open. */
export const SSE_PING_INTERVAL_MS = 15_000;
/** Output polling starts at this interval after new output or a state change... */
export const FOLLOW_MIN_INTERVAL_MS = 250;
/** ...and slows down to this one while nothing is written. */
export const FOLLOW_MAX_INTERVAL_MS = 1_000;
/** Output events carry at most this many UTF-16 units of text. */
export const FOLLOW_EVENT_CHARS = 16_384;
/** Consecutive agent failures after which following a finished task's output gives up. */
export const FOLLOW_MAX_FAILURES_TERMINAL = 3;

const END = formatSse({ event: "end", data: "{}" });
const SSE_HEADERS = {
  "content-type": "text/event-stream",
  "cache-control": "no-cache",
  // nginx and similar proxies: do not buffer the stream.
  "x-accel-buffering": "no",
};

export interface StreamDeps {
  store: TaskStore;
  hub: EventHub;
  clock: Clock;
  sandbox?: SandboxReader;
  metrics?: Metrics;
  /** Default 15 s. */
  pingIntervalMs?: number;
  /** Unread bytes one client may have waiting; default 1 MiB. */
  channelMaxBytes?: number;
  /** Output polling bounds; default 250 ms .. 1 s. */
  followIntervalMs?: { min: number; max: number };
}

/** The three stream handlers, given a request (and the task id where there is one). */
export interface Streams {
  taskEvents(req: Request, id: string): Promise<Response>;
  allEvents(req: Request): Response;
  followOutput(req: Request, id: string, file: "stdout" | "stderr"): Promise<Response>;
}

/**
 * `Last-Event-ID` from the header, or from `?last_event_id=` for clients that cannot
 * set headers; `null` when absent. Ids are non-negative integers on every stream.
 */
export function lastEventIdOf(req: Request): number | null {
  const raw = req.headers.get("last-event-id") ??
    new URL(req.url).searchParams.get("last_event_id");
  if (raw === null || raw.trim() === "") return null;
  const n = Number(raw.trim());
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new HttpError(422, {
      error: "invalid Last-Event-ID",
      message: "Last-Event-ID must be a non-negative integer",
      details: [{ path: "Last-Event-ID", problem: "must be a non-negative integer" }],
    });
  }
  return n;
}

/** The JSON of one status entry on a task's stream. */
export function statusData(taskId: string, entry: StatusEntry, terminal: boolean): string {
  return JSON.stringify({ task_id: taskId, state: entry.status, time: entry.time, terminal });
}

/** The JSON of one change on the global stream. */
export function stateEventData(e: StateEvent): string {
  return JSON.stringify({
    task_id: e.task_id,
    name: e.name,
    state: e.state,
    time: e.time,
    terminal: e.terminal,
  });
}

const encoder = new TextEncoder();

/** `text` cut into pieces of at most `max` UTF-16 units, never inside a surrogate pair. */
export function* pieces(text: string, max: number): Generator<string> {
  if (max < 2) throw new RangeError(`max must be at least 2, got ${max}`);
  for (let i = 0; i < text.length;) {
    let end = Math.min(i + max, text.length);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end--;
    yield text.slice(i, end);
    i = end;
  }
}

/** Builds the stream handlers. */
export function createStreams(deps: StreamDeps): Streams {
  const { store, hub, clock, metrics } = deps;
  const pingMs = deps.pingIntervalMs ?? SSE_PING_INTERVAL_MS;
  const maxBytes = deps.channelMaxBytes ?? DEFAULT_CHANNEL_MAX_BYTES;
  const follow = deps.followIntervalMs ??
    { min: FOLLOW_MIN_INTERVAL_MS, max: FOLLOW_MAX_INTERVAL_MS };

  /** A channel that pings (then calls `onPing`), ends on shutdown, and is counted. */
  function open(route: string, onPing?: () => void): Channel {
    const channel = new Channel({ maxBytes });
    const offClose = hub.onClose(() => channel.shutdown());
    metrics?.sseStreams.inc({ route });
    void channel.closed.then((end) => {
      offClose();
      metrics?.sseStreams.dec({ route });
      metrics?.sseStreamsClosed.inc({ route, reason: end });
    });
    void (async () => {
      while (channel.open) {
        try {
          await clock.sleep(pingMs, channel.signal);
        } catch {
          return;
        }
        channel.send(sseComment("ping"));
        onPing?.();
      }
    })();
    return channel;
  }

  function respond(channel: Channel): Response {
    return new Response(channel.readable, { status: 200, headers: SSE_HEADERS });
  }

  /** HEAD: the stream's headers, and no stream (nobody would ever read or cancel it). */
  const headOnly = () => new Response(null, { status: 200, headers: SSE_HEADERS });

  async function taskEvents(req: Request, id: string): Promise<Response> {
    const after = lastEventIdOf(req) ?? 0;
    let sent = after;
    let done = false;
    let channel: Channel | null = null;
    // Changes that arrive while the store is read wait here, then go to the channel.
    const early: [readonly StatusEntry[], boolean][] = [];
    const deliver = (history: readonly StatusEntry[], lastTerminal: boolean) => {
      if (done || !channel) return;
      for (let i = sent; i < history.length; i++) {
        const terminal = lastTerminal && i === history.length - 1;
        channel.send(
          formatSse({ id: i + 1, event: "status", data: statusData(id, history[i], terminal) }),
        );
        if (terminal) {
          done = true;
          channel.send(END);
          channel.end();
          break;
        }
      }
      sent = Math.max(sent, history.length);
    };
    const unsubscribe = hub.subscribeTask(id, (u) => {
      if (channel) deliver(u.history, u.terminal);
      else early.push([u.history, u.terminal]);
    });
    let task: TaskRecord | null;
    try {
      task = await store.getTask(id);
    } catch (e) {
      unsubscribe();
      throw e;
    }
    if (!task) {
      unsubscribe();
      return json(null, 404);
    }
    const terminal = isTerminal(stateOf(task));
    // A final history never grows: changes heard meanwhile cannot add to it.
    if (terminal && after >= task.status.length) {
      // Nothing left to send, ever: 204 stops an EventSource from reconnecting.
      unsubscribe();
      return new Response(null, { status: 204 });
    }
    if (req.method === "HEAD") {
      unsubscribe();
      return headOnly();
    }
    const refresh = () =>
      void store.getTask(id).then((t) => {
        if (t) deliver(t.status, isTerminal(stateOf(t)));
        else if (!done && channel) {
          // Deleted: it was finished, and its history is gone with it.
          done = true;
          channel.send(END);
          channel.end();
        }
      }).catch(() => {/* the next ping tries again */});
    channel = open("task_events", refresh);
    void channel.closed.then(unsubscribe);
    deliver(task.status, terminal);
    for (const [history, t] of early) deliver(history, t);
    return respond(channel);
  }

  // Every global stream sends the same frame for a change: encode it once, not per client.
  let frameSeq = -1;
  let frame = "";
  const frameOf = (e: StateEvent) => {
    if (e.seq !== frameSeq) {
      frame = formatSse({ id: e.seq, event: "status", data: stateEventData(e) });
      frameSeq = e.seq;
    }
    return frame;
  };

  function allEvents(req: Request): Response {
    const after = lastEventIdOf(req);
    if (req.method === "HEAD") return headOnly();
    const channel = open("events");
    const send = (e: StateEvent) => channel.send(frameOf(e));
    // Everything below runs in one turn: no change can slip between backlog and subscription.
    const backlog = after === null ? [] : hub.since(after);
    if (backlog === null) {
      channel.send(formatSse({ id: hub.head, event: "reset", data: "{}" }));
    } else if (backlog.length === 0) {
      // An id without data sets the client's Last-Event-ID without an event, so a
      // client that reconnects before any change resumes from here.
      channel.send(`id: ${hub.head}\n\n`);
    } else {
      for (const e of backlog) send(e);
    }
    const unsubscribe = hub.subscribeAll(send);
    void channel.closed.then(unsubscribe);
    return respond(channel);
  }

  async function followOutput(
    req: Request,
    id: string,
    file: "stdout" | "stderr",
  ): Promise<Response> {
    const start = lastEventIdOf(req) ?? 0;
    const first = await store.getTask(id);
    if (!first) return json(null, 404);
    if (req.method === "HEAD") return headOnly();
    const channel = open(file);
    // A state change (a sandbox appears, the task ends) cuts the current wait short.
    const wake = { pending: false, interrupt: null as (() => void) | null };
    const unsubscribe = hub.subscribeTask(id, () => {
      wake.pending = true;
      wake.interrupt?.();
    });
    void channel.closed.then(unsubscribe);
    const pause = async (ms: number) => {
      if (wake.pending) {
        wake.pending = false;
        return false;
      }
      const ctl = new AbortController();
      const stop = () => ctl.abort();
      wake.interrupt = stop;
      channel.signal.addEventListener("abort", stop, { once: true });
      try {
        await clock.sleep(ms, ctl.signal);
        return true;
      } catch {
        wake.pending = false;
        return false;
      } finally {
        wake.interrupt = null;
        channel.signal.removeEventListener("abort", stop);
      }
    };
    void pumpOutput(first, start, file, channel, pause).catch(() => channel.shutdown());
    return respond(channel);
  }

  /**
   * Polls the agent for bytes after `offset` and sends them, until the task is
   * final and everything is sent. The next read waits until the client has taken
   * the previous chunk, so a slow client slows only its own polling.
   */
  async function pumpOutput(
    first: TaskRecord,
    offset: number,
    file: "stdout" | "stderr",
    channel: Channel,
    pause: (ms: number) => Promise<boolean>,
  ): Promise<void> {
    let task: TaskRecord | null = first;
    let delay = follow.min;
    let failures = 0;
    let reported = false;
    const finish = (data = "{}") => {
      channel.send(formatSse({ event: "end", data }));
      channel.end();
    };
    while (channel.open) {
      if (!task) return finish();
      const terminal = isTerminal(stateOf(task));
      let progressed = false;
      let failure: string | null = null;
      if (task.agent_id && deps.sandbox) {
        // While the task runs, the reader holds back what may begin a masked value.
        const res = await deps.sandbox.read(task, file, { offset, hold: !terminal });
        if (!channel.open) {
          await res.body?.cancel();
          return;
        }
        if (res.status === 200) {
          const text = await res.text();
          const next = Number(res.headers.get("x-sandbox-next-offset"));
          if (text !== "" && Number.isSafeInteger(next) && next > offset) {
            // Masked values change the length: then only the last piece's id (`next`) is exact.
            const exact = encoder.encode(text).length === next - offset;
            const parts = [...pieces(text, FOLLOW_EVENT_CHARS)];
            // One read may hold up to 1 MiB: sent in pieces, each far below the client's bound.
            for (const [i, piece] of parts.entries()) {
              if (channel.pendingBytes > maxBytes / 4) await channel.drained();
              if (!channel.open) return;
              const last = i === parts.length - 1;
              const end = last ? next : offset + encoder.encode(piece).length;
              channel.send(formatSse({
                id: exact || last ? end : undefined,
                event: "output",
                data: JSON.stringify({ offset, text: piece }),
              }));
              if (exact) offset = end;
            }
            offset = next;
            progressed = true;
          }
          failures = 0;
          reported = false;
        } else if (res.status === 502) {
          failure = (await res.text()).trim();
        } else {
          await res.body?.cancel();
          failures = 0;
        }
      }
      if (failure !== null) {
        failures++;
        if (!reported) {
          // Once per run of failures: the client can say why output stalls. Not named
          // `error`, which an EventSource uses for its own connection errors.
          channel.send(formatSse({ event: "agent_error", data: failure }));
          reported = true;
        }
        if (terminal && failures >= FOLLOW_MAX_FAILURES_TERMINAL) return finish(failure);
      } else if (terminal && !progressed) {
        // The final state is stored after the process exited: the file is complete.
        return finish();
      }
      if (progressed) {
        delay = follow.min;
        await channel.drained();
        continue;
      }
      delay = await pause(delay) ? Math.min(delay * 2, follow.max) : follow.min;
      if (!channel.open) return;
      task = await store.getTask(task.id);
    }
  }

  return { taskEvents, allEvents, followOutput };
}
