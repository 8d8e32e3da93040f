/**
 * Test helpers driving a master with raw `fetch`, as an external scheduler
 * would: a subscription reader decoding RecordIO from the response bytes
 * (records may be split across chunks), and a call helper.
 *
 * @module
 */
import { RecordIODecoder } from "../mesos/recordio.ts";

// deno-lint-ignore no-explicit-any
export type Json = any;

/** A framework's subscription as seen from outside. */
export interface TestSubscription {
  response: Response;
  streamId: string;
  frameworkId: string;
  /** Every event read so far, in order. */
  events: Json[];
  /** Raw chunk sizes as read from the socket. */
  chunks: number[];
  /** Takes the first event matching `pred` not taken before, waiting for it if needed. */
  next(pred?: (e: Json) => boolean, timeoutMs?: number): Promise<Json>;
  /** Resolves when the stream has ended. */
  closed: Promise<void>;
  close(): Promise<void>;
  /** Sends a call with this subscription's stream id and framework id. */
  call(body: Json, headers?: Record<string, string>): Promise<Response & { text_: string }>;
}

/** The minimal FrameworkInfo used by tests. */
export function frameworkInfo(extra: Json = {}): Json {
  return { user: "tester", name: "devcluster-test", ...extra };
}

/** Posts a JSON call; returns the response with its body read into `text`. */
export async function post(
  url: string,
  body: Json,
  headers: Record<string, string> = {},
): Promise<Response & { text_: string }> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return Object.assign(res, { text_: text });
}

/** Subscribes with raw fetch and starts reading events in the background. */
export async function subscribe(
  schedulerUrl: string,
  framework: Json = frameworkInfo(),
  { frameworkId, headers = {} }: { frameworkId?: string; headers?: Record<string, string> } = {},
): Promise<TestSubscription> {
  const info = { ...framework };
  const body: Json = { type: "SUBSCRIBE", subscribe: { framework_info: info } };
  if (frameworkId) {
    info.id = { value: frameworkId };
    body.framework_id = { value: frameworkId };
  }
  const response = await fetch(schedulerUrl, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json", ...headers },
    body: JSON.stringify(body),
  });
  if (response.status !== 200) {
    const text = await response.text();
    throw new Error(`Cannot subscribe: ${response.status} ${text}`);
  }
  const events: Json[] = [];
  const chunks: number[] = [];
  const taken = new Set<number>();
  let wake = null as (() => void) | null;
  const reader = response.body!.getReader();
  const decoder = new RecordIODecoder();
  const text = new TextDecoder();
  let done = false;
  const closed = (async () => {
    try {
      while (true) {
        const { value, done: end } = await reader.read();
        if (end) break;
        chunks.push(value.length);
        for (const r of decoder.decode(value)) events.push(JSON.parse(text.decode(r)));
        wake?.();
      }
    } catch { /* cancelled */ }
    done = true;
    wake?.();
  })();
  const sub: TestSubscription = {
    response,
    streamId: response.headers.get("mesos-stream-id") ?? "",
    frameworkId: "",
    events,
    chunks,
    async next(pred = () => true, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (true) {
        for (let i = 0; i < events.length; i++) {
          if (!taken.has(i) && pred(events[i])) {
            taken.add(i);
            return events[i];
          }
        }
        if (done) {
          throw new Error(`Stream ended; events: ${JSON.stringify(events.map((e) => e.type))}`);
        }
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new Error(`Timed out; events: ${JSON.stringify(events.slice(-5))}`);
        }
        let timer: ReturnType<typeof setTimeout> | undefined;
        await new Promise<void>((resolve) => {
          wake = resolve;
          timer = setTimeout(resolve, Math.min(left, 50));
        });
        clearTimeout(timer);
        wake = null;
      }
    },
    closed,
    async close() {
      await reader.cancel().catch(() => {});
      await closed;
    },
    call(callBody: Json, extra: Record<string, string> = {}) {
      return post(schedulerUrl, { framework_id: { value: sub.frameworkId }, ...callBody }, {
        "mesos-stream-id": sub.streamId,
        ...headers,
        ...extra,
      });
    },
  };
  const first = await sub.next();
  if (first.type === "SUBSCRIBED") sub.frameworkId = first.subscribed.framework_id.value;
  return sub;
}

/** The type of an UPDATE event's state, or undefined. */
export function stateOf(e: Json): string | undefined {
  return e.type === "UPDATE" ? e.update.status.state : undefined;
}

/** A matcher for UPDATE events of `taskId` (optionally in `state`). */
export function updateFor(taskId: string, state?: string): (e: Json) => boolean {
  return (e) =>
    e.type === "UPDATE" && e.update.status.task_id.value === taskId &&
    (state === undefined || e.update.status.state === state);
}

/** A command TaskInfo for `offer` using `cpus`/`mem`. */
export function commandTask(
  offer: Json,
  id: string,
  command: Json,
  { cpus = 0.1, mem = 32, extra = {} }: { cpus?: number; mem?: number; extra?: Json } = {},
): Json {
  return {
    name: id,
    task_id: { value: id },
    agent_id: offer.agent_id,
    resources: [
      { name: "cpus", type: "SCALAR", scalar: { value: cpus } },
      { name: "mem", type: "SCALAR", scalar: { value: mem } },
    ],
    command,
    ...extra,
  };
}

/** An ACCEPT call launching `tasks` on `offerIds`. */
export function acceptCall(offerIds: string[], tasks: Json[], refuseSeconds?: number): Json {
  const accept: Json = {
    offer_ids: offerIds.map((value) => ({ value })),
    operations: [{ type: "LAUNCH", launch: { task_infos: tasks } }],
  };
  if (refuseSeconds !== undefined) accept.filters = { refuse_seconds: refuseSeconds };
  return { type: "ACCEPT", accept };
}

/** An ACKNOWLEDGE call for an UPDATE event's status. */
export function ackCall(update: Json): Json {
  const s = update.update.status;
  return {
    type: "ACKNOWLEDGE",
    acknowledge: { agent_id: s.agent_id, task_id: s.task_id, uuid: s.uuid },
  };
}

/** Polls `fn` until it returns a truthy value (for states reached asynchronously). */
export async function eventually<T>(fn: () => T | Promise<T>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error("Condition not reached in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
