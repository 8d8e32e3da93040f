/**
 * Live state changes: the in-memory hub the scheduler's state listener feeds, the
 * bounded per-client outbox the streams write to, and Server-Sent Events framing
 * (with a parser for clients).
 *
 * ```ts
 * import { EventHub, formatSse, readSse } from "./mod.ts";
 * import { systemClock } from "../runtime.ts";
 *
 * const hub = new EventHub({ clock: systemClock });
 * const stop = hub.subscribeAll((e) => console.log(formatSse({ id: e.seq, event: "status", data: JSON.stringify(e) })));
 * // for await (const m of readSse(response.body!)) console.log(m.event, m.data);
 * stop();
 * ```
 *
 * @module
 */
export {
  DEFAULT_HUB_BUFFER,
  EventHub,
  type EventHubOptions,
  type StateEvent,
  type TaskUpdate,
} from "./hub.ts";
export {
  Channel,
  type ChannelEnd,
  type ChannelOptions,
  DEFAULT_CHANNEL_MAX_BYTES,
} from "./channel.ts";
export {
  formatSse,
  readSse,
  sseComment,
  type SseFrame,
  type SseMessage,
  SseParser,
} from "./sse.ts";
