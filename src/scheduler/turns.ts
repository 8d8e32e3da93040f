/**
 * Events in turns: what arrived while the previous turn ran is handled together (one
 * batch of status updates, one commit). Reading pauses while too many events wait.
 *
 * @module
 */

/** Microtask turns a turn waits for events on their way before it starts. */
const GATHER_TICKS = 4;

/** Options of {@linkcode readTurns}. */
export interface TurnOptions {
  /** Events read but not yet handled, at most: beyond, reading pauses. */
  maxWaiting?: number;
}

/**
 * An event source that can also hand over, without waiting, the events already waiting
 * (the Mesos driver's queue does).
 */
export interface Drainable<T> extends AsyncIterable<T> {
  takeAll(max: number): T[];
}

/**
 * Reads `events` and calls `handle` with every batch that gathered while the previous
 * call ran, in order, one call at a time. Resolves when the events end and all are handled.
 * A {@linkcode Drainable} source is read one awaited event at a time plus everything
 * already waiting behind it.
 */
export async function readTurns<T>(
  events: AsyncIterable<T>,
  handle: (turn: T[]) => Promise<void>,
  { maxWaiting = 50_000 }: TurnOptions = {},
): Promise<void> {
  let inbox: T[] = [];
  const takeAll = typeof (events as Partial<Drainable<T>>).takeAll === "function"
    ? (max: number) => (events as Drainable<T>).takeAll(max)
    : null;
  let ended = false;
  // Held in an object: closures assign them, which TypeScript's narrowing does not see.
  const waits: { wake: (() => void) | null; drained: PromiseWithResolvers<void> | null } = {
    wake: null,
    drained: null,
  };
  const pump = (async () => {
    try {
      for await (const event of events) {
        inbox.push(event);
        // What arrived with it joins without a promise per event.
        if (takeAll) { for (const e of takeAll(maxWaiting - inbox.length)) inbox.push(e); }
        waits.wake?.();
        if (inbox.length >= maxWaiting) {
          waits.drained = Promise.withResolvers<void>();
          await waits.drained.promise;
        }
      }
    } finally {
      ended = true;
      waits.wake?.();
    }
  })();
  while (true) {
    if (inbox.length === 0) {
      if (ended) break;
      await new Promise<void>((r) => waits.wake = r);
      waits.wake = null;
      continue;
    }
    // Let events already on their way join this turn.
    for (let i = 0; i < GATHER_TICKS && !ended; i++) await null;
    const turn = inbox;
    inbox = [];
    waits.drained?.resolve();
    waits.drained = null;
    await handle(turn);
  }
  await pump;
}
