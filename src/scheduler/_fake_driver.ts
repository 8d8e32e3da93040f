/**
 * A fake Mesos driver for scheduler tests: events are pushed by the test, calls are
 * recorded (and may be inspected or refused as they arrive). No sockets.
 *
 * @module
 */
import type { Call, CallOptions, DriverOptions, Event, Offer, TaskStatus } from "../mesos/mod.ts";
import type { SchedulerDriver } from "./loop.ts";

/** A recorded call with its body fields reachable without narrowing the `Call` union. */
// deno-lint-ignore no-explicit-any
export type SentCall = { type: string } & Record<string, any>;

/** A driver whose events the test pushes. */
export class FakeDriver implements SchedulerDriver {
  readonly options: DriverOptions;
  readonly calls: Call[] = [];
  /** Called with each call as it is sent; throw to make the call fail. */
  onCall: (call: Call) => void = () => {};
  readonly closed: Promise<void | Error>;
  #resolveClosed!: (r: void | Error) => void;
  #items: Event[] = [];
  #waiter: ((r: IteratorResult<Event>) => void) | null = null;
  #ended = false;

  constructor(options: DriverOptions) {
    this.options = options;
    this.closed = new Promise((r) => this.#resolveClosed = r);
  }

  readonly events: AsyncIterable<Event> = {
    [Symbol.asyncIterator]: () => ({
      next: () => {
        const item = this.#items.shift();
        if (item) return Promise.resolve({ done: false, value: item });
        if (this.#ended) return Promise.resolve({ done: true, value: undefined });
        return new Promise((r) => this.#waiter = r);
      },
    }),
  };

  /** Pushes events, as if they arrived together. */
  emit(...events: Event[]): void {
    for (const e of events) {
      const w = this.#waiter;
      this.#waiter = null;
      if (w) w({ done: false, value: e });
      else this.#items.push(e);
    }
  }

  subscribed(frameworkId = "fw-1"): void {
    this.emit({
      type: "SUBSCRIBED",
      subscribed: { framework_id: { value: frameworkId }, heartbeat_interval_seconds: 15 },
    } as Event);
  }

  offers(...offers: Offer[]): void {
    this.emit({ type: "OFFERS", offers: { offers } } as Event);
  }

  updates(...statuses: TaskStatus[]): void {
    this.emit(...statuses.map((status) => ({ type: "UPDATE", update: { status } }) as Event));
  }

  rescind(offerId: string): void {
    this.emit({ type: "RESCIND", rescind: { offer_id: { value: offerId } } } as Event);
  }

  /** Ends the driver as a permanent error (or a close) would. */
  end(error?: Error): void {
    this.#ended = true;
    const w = this.#waiter;
    this.#waiter = null;
    w?.({ done: true, value: undefined });
    this.#resolveClosed(error);
  }

  call(call: Call, _options?: CallOptions): Promise<void> {
    try {
      this.onCall(call);
    } catch (e) {
      return Promise.reject(e);
    }
    this.calls.push(call);
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.end();
    return Promise.resolve();
  }

  /** Recorded calls of one type, loosely typed for assertions on their bodies. */
  sent(type: Call["type"]): SentCall[] {
    return this.calls.filter((c) => c.type === type) as SentCall[];
  }
}

/** A status update as an agent sends it. */
export function status(
  taskId: string,
  state: string,
  fields: Partial<TaskStatus> = {},
): TaskStatus {
  return {
    task_id: { value: taskId },
    state,
    agent_id: { value: "agent-1" },
    uuid: btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16)))),
    source: "SOURCE_EXECUTOR",
    ...fields,
  } as TaskStatus;
}
