/**
 * Scheduler events: JSON → a typed {@linkcode Event} union, dispatched by a typed map.
 * Event shapes are the wire shapes (include/mesos/v1/scheduler/scheduler.proto `Event`):
 * `{"type":"UPDATE","update":{"status":{…}}}`.
 *
 * @module
 */
import { MesosProtocolError } from "./errors.ts";
import { parseMesosJson } from "./json.ts";
import type {
  AgentID,
  ExecutorID,
  FrameworkID,
  InverseOffer,
  MasterInfo,
  Offer,
  OfferID,
  OperationStatus,
  TaskStatus,
} from "./types.ts";

/** First event of every (re)subscription. */
export interface SubscribedEvent {
  type: "SUBSCRIBED";
  subscribed: {
    framework_id: FrameworkID;
    /** Always 15.0 on a real master. */
    heartbeat_interval_seconds?: number;
    master_info?: MasterInfo;
  };
}
export interface OffersEvent {
  type: "OFFERS";
  offers: { offers?: Offer[] };
}
export interface InverseOffersEvent {
  type: "INVERSE_OFFERS";
  inverse_offers: { inverse_offers?: InverseOffer[] };
}
/** An outstanding offer is no longer valid. */
export interface RescindEvent {
  type: "RESCIND";
  rescind: { offer_id: OfferID };
}
export interface RescindInverseOfferEvent {
  type: "RESCIND_INVERSE_OFFER";
  rescind_inverse_offer: { inverse_offer_id: OfferID };
}
/** A task status; acknowledge it when `status.uuid` is set, after recording it. */
export interface UpdateEvent {
  type: "UPDATE";
  update: { status: TaskStatus };
}
export interface UpdateOperationStatusEvent {
  type: "UPDATE_OPERATION_STATUS";
  update_operation_status: { status: OperationStatus };
}
/** An executor's message; unreliable. `data` is base64. */
export interface ExecutorMessageEvent {
  type: "MESSAGE";
  message: { agent_id: AgentID; executor_id: ExecutorID; data: string };
}
/** An agent was removed (only `agent_id`), or a custom executor exited. */
export interface FailureEvent {
  type: "FAILURE";
  failure: { agent_id?: AgentID; executor_id?: ExecutorID; status?: number };
}
/**
 * The master refused the subscription or another instance subscribed with the same
 * framework id (`Framework failed over`); the master closes the stream right after.
 */
export interface MesosErrorEvent {
  type: "ERROR";
  error: { message: string };
}
/** Sent right after SUBSCRIBED, then every `heartbeat_interval_seconds`. */
export interface HeartbeatEvent {
  type: "HEARTBEAT";
}
/** An event type this client does not know (a newer master); kept whole in `raw`. */
export interface UnknownEvent {
  type: "UNKNOWN";
  /** The type string the master sent (may be absent). */
  original_type: string;
  raw: Record<string, unknown>;
}

/** Every scheduler event. */
export type Event =
  | SubscribedEvent
  | OffersEvent
  | InverseOffersEvent
  | RescindEvent
  | RescindInverseOfferEvent
  | UpdateEvent
  | UpdateOperationStatusEvent
  | ExecutorMessageEvent
  | FailureEvent
  | MesosErrorEvent
  | HeartbeatEvent
  | UnknownEvent;

/** The `type` of each event. */
export type EventType = Event["type"];

/** The payload key of each known event type (HEARTBEAT has none). */
const PAYLOAD_KEYS: Record<Exclude<EventType, "UNKNOWN" | "HEARTBEAT">, string> = {
  SUBSCRIBED: "subscribed",
  OFFERS: "offers",
  INVERSE_OFFERS: "inverse_offers",
  RESCIND: "rescind",
  RESCIND_INVERSE_OFFER: "rescind_inverse_offer",
  UPDATE: "update",
  UPDATE_OPERATION_STATUS: "update_operation_status",
  MESSAGE: "message",
  FAILURE: "failure",
  ERROR: "error",
};

const decoder = new TextDecoder();

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function hasId(v: unknown): boolean {
  return isObject(v) && typeof v.value === "string";
}

/**
 * Parses one event from a RecordIO payload (bytes or text). Throws
 * {@linkcode MesosProtocolError} when the JSON is malformed or a known event lacks the
 * fields a scheduler relies on. Unknown types become {@linkcode UnknownEvent}.
 *
 * The payload is decoded and parsed once, with a plain `JSON.parse`. Only an event whose
 * parsed shape holds a `TimeInfo`/`DurationInfo` (an offer's `unavailability`, a status's
 * `unreachable_time`) or whose type carries them in other places (inverse offers, operation
 * statuses, types this client does not know) is parsed again with the int64-exact reader
 * of `json.ts`: the frequent UPDATE and HEARTBEAT events never pay for a scan or a reviver.
 */
export function parseEvent(payload: Uint8Array | string): Event {
  const text = typeof payload === "string" ? payload : decoder.decode(payload);
  let json: unknown;
  try {
    json = JSON.parse(text);
    if (mayHoldInt64(json)) json = parseMesosJson(text);
  } catch (err) {
    throw new MesosProtocolError(`Cannot parse event: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return toEvent(json);
}

/** Whether a plainly parsed event may hold an int64 that `JSON.parse` rounded. */
function mayHoldInt64(json: unknown): boolean {
  if (!isObject(json)) return false;
  switch (json.type) {
    case "HEARTBEAT":
    case "SUBSCRIBED":
    case "RESCIND":
    case "RESCIND_INVERSE_OFFER":
    case "ERROR":
    case "MESSAGE":
    case "FAILURE":
      return false;
    case "UPDATE": {
      const update = json.update;
      const status = isObject(update) ? update.status : undefined;
      return isObject(status) && status.unreachable_time !== undefined;
    }
    case "OFFERS": {
      const offers = isObject(json.offers) ? json.offers.offers : undefined;
      return Array.isArray(offers) &&
        offers.some((o) => isObject(o) && o.unavailability !== undefined);
    }
    default:
      return true;
  }
}

/** Checks and types an already parsed event object. */
export function toEvent(json: unknown): Event {
  if (!isObject(json)) throw new MesosProtocolError("Cannot parse event: not a JSON object");
  const type = json.type;
  if (type === "HEARTBEAT") return { type: "HEARTBEAT" };
  if (typeof type !== "string" || !(type in PAYLOAD_KEYS) || type === "UNKNOWN") {
    return { type: "UNKNOWN", original_type: typeof type === "string" ? type : "", raw: json };
  }
  const known = type as keyof typeof PAYLOAD_KEYS;
  const key = PAYLOAD_KEYS[known];
  const body = json[key];
  const fail = (what: string): never => {
    throw new MesosProtocolError(`Cannot parse ${type} event: ${what}`);
  };
  if (!isObject(body)) fail(`"${key}" is missing`);
  const b = body as Record<string, unknown>;
  switch (known) {
    case "SUBSCRIBED":
      if (!hasId(b.framework_id)) fail(`"subscribed.framework_id" is missing`);
      break;
    case "OFFERS":
      if (b.offers !== undefined && !Array.isArray(b.offers)) fail(`"offers.offers" is not a list`);
      for (const o of (b.offers as unknown[] | undefined) ?? []) {
        if (!isObject(o) || !hasId(o.id) || !hasId(o.agent_id)) {
          fail("an offer lacks id or agent_id");
        }
      }
      break;
    case "INVERSE_OFFERS":
      if (b.inverse_offers !== undefined && !Array.isArray(b.inverse_offers)) {
        fail(`"inverse_offers.inverse_offers" is not a list`);
      }
      break;
    case "RESCIND":
      if (!hasId(b.offer_id)) fail(`"rescind.offer_id" is missing`);
      break;
    case "RESCIND_INVERSE_OFFER":
      if (!hasId(b.inverse_offer_id)) fail(`"rescind_inverse_offer.inverse_offer_id" is missing`);
      break;
    case "UPDATE":
    case "UPDATE_OPERATION_STATUS": {
      const status = b.status;
      if (!isObject(status) || typeof status.state !== "string") {
        fail(`"${key}.status.state" is missing`);
      }
      if (known === "UPDATE" && !hasId((status as Record<string, unknown>).task_id)) {
        fail(`"update.status.task_id" is missing`);
      }
      break;
    }
    case "ERROR":
      if (typeof b.message !== "string") fail(`"error.message" is missing`);
      break;
    case "MESSAGE":
    case "FAILURE":
      break;
  }
  return json as unknown as Event;
}

/** A handler per event type: a forgotten type is a type error. */
export type EventHandlers<R = void> = {
  [T in EventType]: (event: Extract<Event, { type: T }>) => R;
};

/** Calls the handler for `event.type`; unknown types reach `UNKNOWN`. */
export function dispatchEvent<R>(event: Event, handlers: EventHandlers<R>): R {
  const handler = handlers[event.type] as (e: Event) => R;
  return handler(event);
}

/** The TaskStatus of an UPDATE event, or null for any other event. */
export function taskStatusOf(event: Event): TaskStatus | null {
  return event.type === "UPDATE" ? event.update.status : null;
}
