/**
 * The Mesos scheduler of Eremetic: one explicit state object ({@linkcode SchedulerState})
 * and the stages around it:
 *
 * - offers: **match** (pure, `match.ts`) → **stage** (durable `TASK_STAGING`, `stage.ts`)
 *   → **accept** (ACCEPT calls, `accept.ts`);
 * - status updates that arrived in one turn: **update** (pure, `update.ts`) → **store**
 *   (one group commit, `commit.ts`) → **notify** (listener work stored, `notify.ts`) →
 *   **ack** (`ack.ts`) → metrics, timers, re-queueing.
 *
 * Ordering: turns of events, kills and timers run one at a time (`exclusive`), but a
 * turn does not wait for its writes; each task's own operations are ordered by
 * {@linkcode TaskChains}, so one task's pending commit holds back only that task.
 *
 * @module
 */
import {
  type Call,
  type CallOptions,
  type Credential,
  decline,
  detectorFor,
  type DriverOptions,
  type Event,
  FrameworkError,
  type FrameworkInfo,
  kill,
  type Offer,
  reconcile,
  redactAddress,
  revive,
  startDriver,
  suppress,
  type TaskStatus,
} from "../mesos/mod.ts";
import type { Metrics } from "../metrics/mod.ts";
import { agentUrlOf } from "../sandbox/mod.ts";
import { type Clock, type LogFields, type Logger, type Timer, Timers } from "../runtime.ts";
import { NotFoundError, type TaskStore } from "../store/mod.ts";
import { currentState, isTerminal, type TaskRecord, wasRunning } from "../task/mod.ts";
import { acceptCall, groupByOffer } from "./accept.ts";
import { acknowledgements } from "./ack.ts";
import { commitRecords } from "./commit.ts";
import { type KillOutcome, recordKillRequest, type TaskControl } from "./control.ts";
import { matchOffers, type Placement } from "./match.ts";
import { countEffects, notifyEffects, notifyTask, type StateListener } from "./notify.ts";
import { DEFAULT_QUEUE_WINDOW } from "./queue.ts";
import { type LaunchContext, SchedulerState } from "./state.ts";
import { stagePlacements } from "./stage.ts";
import { type LookupTask, SandboxLookups } from "./sandbox_lookup.ts";
import { readTurns } from "./turns.ts";
import { planUpdates, publicIdOf, type UpdateEffect } from "./update.ts";

export type { StateListener } from "./notify.ts";
export { mesosIdOf, publicIdOf, RETRY_BASE_MS, RETRY_MAX_MS, retryDelayMs } from "./update.ts";

/** Seconds Mesos should not re-offer declined resources when nothing asked for them. */
export const DEFAULT_REFUSE_SECONDS = 5;
/** How often a kill is re-sent until Mesos reports a terminal state. */
export const KILL_RESEND_MS = 5_000;
/** First wait before re-sending an unanswered explicit reconciliation; doubles up to the cap. */
export const RECONCILE_INITIAL_MS = 1_000;
export const RECONCILE_MAX_MS = 60_000;
/** How long a sandbox lookup's `/state` request may take. */
export const SANDBOX_LOOKUP_TIMEOUT_MS = 2_000;
/** Least time between two `/state` fetches of one agent for sandbox lookups. */
export const SANDBOX_LOOKUP_INTERVAL_MS = 1_000;
/** Tasks waiting for a sandbox lookup per agent at most. */
export const SANDBOX_LOOKUP_MAX_WAITING = 1_000;
/** Tasks launching at once above which sandbox directories are not looked up. */
export const SANDBOX_LOOKUP_MAX_LAUNCHING = 50;
/** Queued tasks read before subscribing; the rest of the window follows with the first offers. */
const FIRST_PAGE_TASKS = 1_000;
/** Offers whose tasks are staged (then accepted) at the same time. */
export const OFFERS_STAGING_AT_ONCE = 8;
/** Wait before subscribing again after the driver stopped on a permanent error. */
export const RESUBSCRIBE_DELAY_MS = 5_000;
/**
 * How long an offer no queued task can use yet (all placed, waiting for a page of the
 * queue or for a retry's back-off) is held before it is declined, so other frameworks
 * are not starved.
 */
export const OFFER_HOLD_MS = 10_000;
/**
 * Tasks placed and not yet `TASK_RUNNING` (or ended) at most: beyond, offers are held
 * (not declined) until some of them run. Bounds a burst's memory (records staged, ACCEPT
 * bodies, status updates in flight) and keeps its writes from queueing ahead of the
 * updates that free the room.
 */
export const DEFAULT_MAX_PLACED = 5_000;
/** Events read from the driver but not yet handled, at most: beyond, reading pauses. */
export const MAX_EVENTS_WAITING = 10_000;
/** Status updates whose write is in flight at most: beyond, the next turn waits. */
export const MAX_UPDATES_IN_FLIGHT = 10_000;
/**
 * How long `close()` waits for launches and status updates under way before it closes
 * the stream anyway (a master that stopped answering is not waited for).
 */
export const CLOSE_DRAIN_MS = 3_000;

/** What the scheduler needs of a Mesos driver: a fake in tests, `startDriver` otherwise. */
export interface SchedulerDriver {
  readonly events: AsyncIterable<Event>;
  /** Resolves when the driver stops: `undefined` after `close()`, else its permanent error. */
  readonly closed: Promise<void | Error>;
  call(call: Call, options?: CallOptions): Promise<void>;
  /**
   * Sends order-free calls (ACKNOWLEDGE) together; resolves with each call's error
   * (`undefined`: sent). Absent: each goes through `call` with `{ ordered: false }`.
   */
  callMany?(calls: readonly Call[]): Promise<(Error | undefined)[]>;
  close(): Promise<void>;
}

export interface SchedulerOptions {
  master: string;
  frameworkInfo: FrameworkInfo;
  /** `framework_id` from the configuration: only a seed when the store has none. */
  frameworkIdSeed?: string;
  credential?: Credential;
  store: TaskStore;
  logger: Logger;
  clock: Clock;
  metrics: Metrics;
  listener?: StateListener;
  refuseSeconds?: number;
  reconcileIntervalSeconds?: number;
  fetch?: typeof fetch;
  /** Driver tuning for tests (heartbeat timeout, back-off). */
  driver?: {
    heartbeatTimeoutMs?: number;
    backoff?: { initialMs?: number; maxMs?: number };
  };
  /** Starts the driver (tests pass a fake); `startDriver` by default. */
  startDriver?: (options: DriverOptions) => SchedulerDriver;
  /** Queued records held in memory at most. */
  queueWindow?: number;
  /** Placed tasks not yet running at most (`DEFAULT_MAX_PLACED`). */
  maxPlaced?: number;
  /** Timers of the scheduler; built on `clock` by default. */
  timers?: Timers;
}

/** A running scheduler. */
export interface Scheduler extends TaskControl, AsyncDisposable {
  /** Resolves once the head of the queue and launched tasks are loaded from the store. */
  ready: Promise<void>;
  close(): Promise<void>;
}

/** Starts the scheduler: loads the queue, subscribes, and runs until closed. */
export function startScheduler(options: SchedulerOptions): Scheduler {
  const { store, logger, clock, metrics, listener } = options;
  // An address the client cannot use stops start-up here, not silently later (D20).
  detectorFor(options.master);
  // What health output and warnings show: zk:// credentials replaced.
  const shownMaster = redactAddress(options.master);
  const refuseSeconds = options.refuseSeconds ?? DEFAULT_REFUSE_SECONDS;
  const role = options.frameworkInfo.roles?.[0] ?? options.frameworkInfo.role ?? "*";
  const timers = options.timers ?? new Timers(clock);
  const maxPlaced = options.maxPlaced ?? DEFAULT_MAX_PLACED;
  /** A round stopped at `maxPlaced`: the next one runs once a quarter of it is free. */
  let roomWanted = false;
  const makeDriver = options.startDriver ?? startDriver;
  const state = new SchedulerState(shownMaster, options.queueWindow ?? DEFAULT_QUEUE_WINDOW);
  const { queue, placed, offers, chains, killing, recentKills } = state;
  let driver: SchedulerDriver | null = null;
  const stopping = new AbortController();

  // One turn at a time: event batches, kills and timers run through this chain.
  let chain: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(fn: () => T | Promise<T>): Promise<T> => {
    const next = chain.then(fn, fn);
    chain = next.catch(() => {});
    return next;
  };

  /** Runs `fn` as a turn of its own, later; a failure is logged. */
  const inTurn = (what: string, fn: () => unknown) => {
    void exclusive(fn).catch((e) =>
      logger.error(`Cannot ${what}`, { error: (e as Error).message })
    );
  };

  const nowSec = () => Math.floor(clock.now() / 1000);
  /** Whether info lines are written: per-task lines build no fields when they are not. */
  const infoLogged = () => logger.enabled?.("info") ?? true;
  const setQueueGauge = () => metrics.queueSize.set(queue.size);

  /** Sends a call; `ordered: false` for calls whose order does not matter (ACKNOWLEDGE). */
  const send = async (call: Call, what: string, ordered = true) => {
    if (!driver) return false;
    try {
      await driver.call(call, { ordered });
      return true;
    } catch (e) {
      sendFailed(what, e as Error);
      return false;
    }
  };

  const sendFailed = (what: string, e: Error) => {
    // While closing, the stream is gone on purpose: the master resends what is unanswered.
    (state.closed ? logger.debug : logger.warn).call(logger, `Cannot send ${what} to Mesos`, {
      error: e.message,
    });
  };

  /** Sends the ACKNOWLEDGEs of a batch; a failure is logged (the agent resends the update). */
  const sendAcks = (acks: Call[]) => {
    const d = driver;
    if (!d || acks.length === 0) return;
    if (!d.callMany) {
      for (const ack of acks) void send(ack, "ACKNOWLEDGE", false);
      return;
    }
    void d.callMany(acks).then((errors) => {
      for (const e of errors) if (e) sendFailed("ACKNOWLEDGE", e);
    });
  };

  // ---- queue

  const reviveIfSuppressed = () => {
    if (!state.suppressed) return;
    state.suppressed = false;
    void send(revive([role]), "REVIVE");
  };

  const enqueue = (task: TaskRecord) => {
    queue.add(task);
    setQueueGauge();
    reviveIfSuppressed();
    scheduleWake(task.not_before);
    if (offers.size > 0) inTurn("match offers", matchRound);
  };

  /** A task waiting for its back-off needs a round when it expires. */
  const scheduleWake = (at: number) => {
    if (at <= clock.now() || at >= state.wakeAt || state.closed) return;
    state.wakeTimer?.cancel();
    state.wakeAt = at;
    state.wakeTimer = timers.after(at - clock.now(), () => {
      state.wakeTimer = null;
      state.wakeAt = Infinity;
      reviveIfSuppressed();
      inTurn("match offers", matchRound);
    });
  };

  /** Reads the next page of the queue when the window runs low (then matches held offers). */
  const refillIfLow = async () => {
    if (!queue.needsRefill() || state.closed) return;
    // Refills do not overlap: this page is read after every kill finished so far.
    recentKills.clear();
    try {
      await queue.refill(
        (cursor, limit) => store.listTasks({ states: ["queued"], cursor, limit, readOnce: true }),
        (id) => placed.has(id) || killing.has(id) || recentKills.has(id),
      );
    } catch (e) {
      logger.warn("Cannot read the queue", { error: (e as Error).message });
    }
  };

  // ---- timers of tasks

  const clearKill = (id: string) => {
    state.killTimers.get(id)?.cancel();
    state.killTimers.delete(id);
  };

  const sendKill = async (task: TaskRecord) => {
    if (!task.agent_id) return;
    await send(kill(task.mesos_task_id, task.agent_id), `KILL of "${task.id}"`);
    if (state.killTimers.has(task.id) || state.closed) return;
    // Re-send until a terminal update arrives (kills are not reliable in Mesos).
    state.killTimers.set(
      task.id,
      timers.every(KILL_RESEND_MS, () => {
        void chains.run(task.id, async () => {
          const t = await store.getTask(task.id);
          if (!t || isTerminal(currentState(t))) return clearKill(task.id);
          await send(kill(t.mesos_task_id, t.agent_id), `KILL of "${t.id}"`);
        }).catch(() => {});
      }),
    );
  };

  const armTimeout = (task: TaskRecord) => {
    if (task.timeout_seconds <= 0 || state.timeoutTimers.has(task.id) || state.closed) return;
    const started = task.status.findLast((s) => s.status === "TASK_RUNNING")?.time ?? nowSec();
    const delay = Math.max(0, (started + task.timeout_seconds) * 1000 - clock.now());
    state.timeoutTimers.set(
      task.id,
      timers.after(delay, () => {
        state.timeoutTimers.delete(task.id);
        logger.info("Task timed out: killing it", {
          task_id: task.id,
          timeout_seconds: task.timeout_seconds,
        });
        killTask(task.id).catch((e) =>
          logger.error("Cannot kill a timed-out task", {
            task_id: task.id,
            error: (e as Error).message,
          })
        );
      }),
    );
  };

  const clearTimeoutTimer = (id: string) => {
    state.timeoutTimers.get(id)?.cancel();
    state.timeoutTimers.delete(id);
  };

  // ---- loading

  async function* activeTasks(): AsyncGenerator<TaskRecord> {
    let cursor: string | null = null;
    do {
      const page: Awaited<ReturnType<TaskStore["listTasks"]>> = await store.listTasks({
        states: ["active"],
        limit: 1000,
        cursor,
        readOnce: true,
      });
      yield* page.tasks;
      cursor = page.cursor;
    } while (cursor);
  }

  const load = async () => {
    queue.setTotal((await store.countTasks()).queued);
    // A first page only: subscribing need not wait for the whole window; the first
    // offer round reads the rest.
    await queue.refill(
      (cursor, limit) => store.listTasks({ states: ["queued"], cursor, limit, readOnce: true }),
      undefined,
      { max: FIRST_PAGE_TASKS },
    );
    setQueueGauge();
    let running = 0;
    for await (const task of activeTasks()) {
      if (currentState(task) === "TASK_RUNNING") running++;
      if (wasRunning(task)) armTimeout(task);
    }
    metrics.tasksRunning.set(running);
    logger.info("Scheduler loaded the queue", {
      queued: queue.size,
      held: queue.held,
      running,
    });
  };

  // ---- reconciliation: explicit for launched tasks (never queued ones, D10), then implicit

  const reconcileRound = async (waitMs: number) => {
    if (state.closed) return;
    state.reconcileTimer?.cancel();
    state.reconcileTimer = null;
    if (state.unreconciled.size === 0) {
      await send(reconcile([]), "implicit RECONCILE");
      return;
    }
    const tasks = [...state.unreconciled.values()].map((t) => ({
      task_id: t.taskId,
      agent_id: t.agentId,
    }));
    logger.info("Reconciling launched tasks", { tasks: tasks.length });
    await send(reconcile(tasks), "RECONCILE");
    state.reconcileTimer = timers.after(waitMs, () => {
      state.reconcileTimer = null;
      inTurn("reconcile", () => reconcileRound(Math.min(RECONCILE_MAX_MS, waitMs * 2)));
    });
  };

  const startReconciliation = async () => {
    state.unreconciled.clear();
    for await (const task of activeTasks()) {
      if (!task.agent_id) continue;
      state.unreconciled.set(task.mesos_task_id, {
        taskId: task.mesos_task_id,
        agentId: task.agent_id,
      });
    }
    await reconcileRound(RECONCILE_INITIAL_MS);
  };

  // ---- SUBSCRIBED

  const onSubscribed = async (frameworkId: string) => {
    state.epoch++;
    // The offers of the earlier subscription are gone (the master sends no RESCIND).
    offers.clear();
    state.status = { ...state.status, state: "subscribed", frameworkId, detail: undefined };
    const stored = await store.getFrameworkId();
    if (stored !== frameworkId) {
      await store.setFrameworkId(frameworkId);
      logger.info("Subscribed to Mesos with a new framework id", { framework_id: frameworkId });
    } else {
      logger.info("Re-subscribed to Mesos", { framework_id: frameworkId });
    }
    // The subscription's suppressed roles were decided before tasks may have arrived:
    // say it again now.
    state.suppressed = queue.size === 0;
    await send(
      state.suppressed ? suppress([role]) : revive([role]),
      state.suppressed ? "SUPPRESS" : "REVIVE",
    );
    await startReconciliation();
    // Kills requested while disconnected.
    for await (const task of activeTasks()) {
      if (currentState(task) === "TASK_TERMINATING") await sendKill(task);
    }
  };

  // ---- OFFERS: match → stage → accept

  const holdOffers = (list: readonly Offer[]) => {
    const now = clock.now();
    for (const offer of list) offers.set(offer.id.value, { offer, since: now });
  };

  const declineOffers = (list: readonly Offer[], seconds: number) => {
    if (list.length === 0) return;
    for (const o of list) offers.delete(o.id.value);
    void send(decline(list.map((o) => o.id), { refuse_seconds: seconds }), "DECLINE");
  };

  const armHoldTimer = () => {
    if (state.holdTimer || offers.size === 0 || state.closed) return;
    let first = Infinity;
    for (const h of offers.values()) first = Math.min(first, h.since);
    state.holdTimer = timers.after(Math.max(0, first + OFFER_HOLD_MS - clock.now()), () => {
      state.holdTimer = null;
      inTurn("match offers", matchRound);
    });
  };

  /** Whether an offer has less cpus or mem than the smallest held task needs. */
  const tooSmall = (o: Offer, least: { cpus: number; mem: number }) => {
    let cpus = 0;
    let mem = 0;
    for (const r of o.resources ?? []) {
      if (r.name === "cpus") cpus += r.scalar?.value ?? 0;
      else if (r.name === "mem") mem += r.scalar?.value ?? 0;
    }
    return cpus + 1e-9 < least.cpus || mem + 1e-9 < least.mem;
  };

  /** Matches every held offer against the eligible head of the queue. */
  const matchRound = async () => {
    if (state.closed || offers.size === 0 || !driver) return;
    await refillIfLow();
    const now = clock.now();
    const expired: Offer[] = [];
    const candidates: Offer[] = [];
    for (const h of offers.values()) {
      (now - h.since >= OFFER_HOLD_MS ? expired : candidates).push(h.offer);
    }
    // Held long enough: give them back, to be offered again at the next allocation.
    declineOffers(expired, 0);
    if (queue.size === 0) {
      declineOffers(candidates, refuseSeconds);
    } else if (queue.held > 0 && candidates.every((o) => tooSmall(o, queue.smallestDemand()))) {
      // The common idle case (a full cluster offering scraps): no walk over the queue.
      declineOffers(candidates, refuseSeconds);
    } else if (placed.size >= maxPlaced) {
      // A burst in flight: hold the offers until some of its tasks run.
      roomWanted = true;
    } else {
      const eligible = queue.eligible(now);
      const result = matchOffers(candidates, eligible, {
        defaultRole: role,
        now,
        limit: maxPlaced - placed.size,
      });
      for (const p of result.placements) {
        queue.remove(p.task.id);
        placed.set(p.task.id, p.task);
        offers.delete(p.offer.id.value);
      }
      setQueueGauge();
      // Stopped at the limit: the untried tasks are not delayed, they wait for room.
      const delayed = result.unplaced.length;
      if (delayed > 0) metrics.tasksDelayed.inc({}, delayed);
      if (result.limited) roomWanted = true;
      const unused = candidates.filter((o) => offers.has(o.id.value));
      // Tasks that fit none of these offers: decline them for a while. With no task left
      // to try (all placed, or waiting for room, a back-off or the next page), hold them.
      if ((delayed > 0 && !result.limited) || queue.size === 0) {
        declineOffers(unused, refuseSeconds);
      }
      if (result.placements.length > 0) launch(result.placements, now);
    }
    if (queue.size === 0 && !state.suppressed) {
      state.suppressed = true;
      void send(suppress([role]), "SUPPRESS");
    } else if (queue.size > 0) {
      scheduleWake(queue.nextNotBefore(now));
      if (queue.needsRefill() && offers.size > 0) inTurn("match offers", matchRound);
    }
    armHoldTimer();
  };

  /** After placed tasks ran or ended: a round, once a quarter of the room is free. */
  const roomFreed = () => {
    if (!roomWanted || placed.size > maxPlaced - Math.ceil(maxPlaced / 4)) return;
    roomWanted = false;
    if (offers.size > 0) inTurn("match offers", matchRound);
  };

  /** ACCEPT calls sent and not yet answered. */
  const acceptsInFlight = new Set<Promise<unknown>>();

  /** Offers whose tasks wait to be staged, and how many are being staged now. */
  const staging: { offer: Offer; list: Placement[]; ctx: LaunchContext; done: () => void }[] = [];
  let stagingNow = 0;

  const launch = (placements: Placement[], now: number) => {
    const ctx: LaunchContext = {
      epoch: state.epoch,
      frameworkId: state.status.frameworkId ?? "",
      now,
      refuse: queue.size > 0 ? 0 : refuseSeconds,
    };
    for (const [offer, list] of groupByOffer(placements)) {
      const done = Promise.withResolvers<void>();
      chains.track(list.map((p) => p.task.id), done.promise);
      staging.push({ offer, list, ctx, done: done.resolve });
    }
    while (stagingNow < OFFERS_STAGING_AT_ONCE && staging.length > 0) void stageNext();
  };

  /**
   * Stages offer after offer. A few at a time, not a whole round at once: a round's
   * thousands of writes would queue every status update's write behind them.
   */
  const stageNext = async () => {
    stagingNow++;
    try {
      for (let next = staging.shift(); next; next = staging.shift()) {
        await launchOnOffer(next.offer, next.list, next.ctx).catch((e) =>
          logger.error("Cannot launch on an offer", { error: (e as Error).message })
        );
        next.done();
      }
    } finally {
      stagingNow--;
    }
  };

  /** Back to the queue without a retry: the task was never sent to Mesos. */
  const requeue = (task: TaskRecord) => {
    placed.delete(task.id);
    enqueue(task);
  };

  const launchOnOffer = async (
    offer: Offer,
    list: Placement[],
    { epoch, frameworkId, now, refuse }: LaunchContext,
  ) => {
    if (epoch !== state.epoch || state.closed) {
      // Its subscription ended before staging began: nothing to undo.
      for (const p of list) requeue(p.task);
      return;
    }
    // Mark TASK_STAGING durably before the ACCEPT leaves, so a crash in between is
    // settled by reconciliation, never by a second launch.
    const { staged, failed } = await stagePlacements(list, store, { frameworkId, now });
    for (const { placement, error } of failed) {
      logger.warn("Cannot stage task: leaving it queued", {
        task_id: placement.task.id,
        error: error.message,
      });
      requeue(placement.task);
    }
    if (staged.length === 0) {
      // Nothing staged (the store failing): give the offer back, or its resources stay
      // offered to nobody else and no new offer ever comes for them.
      if (epoch === state.epoch && !state.closed) declineOffers([offer], 0);
      return;
    }
    if (epoch !== state.epoch || state.closed) {
      // The offer belongs to an earlier subscription: it is void. Undo the staging (no
      // ACCEPT left, so nothing was launched) and let a new offer take the tasks.
      const undone = await Promise.allSettled(
        staged.map((p) => store.updateTask(list.find((q) => q.task.id === p.task.id)!.task)),
      );
      staged.forEach((p, i) => {
        const original = list.find((q) => q.task.id === p.task.id)!.task;
        if (undone[i].status === "fulfilled") requeue(original);
        else placed.set(p.task.id, p.task); // staged: reconciliation settles it
      });
      return;
    }
    for (const p of staged) placed.set(p.task.id, p.task);
    // Not awaited: ordered calls leave in order anyway, and a kill of one of these
    // tasks (which waits for this function) is sent after this ACCEPT. `close()` waits
    // for it: its tasks are TASK_STAGING in the store.
    const accepted = send(acceptCall(offer, staged, refuse), "ACCEPT").then((ok) => {
      if (ok) return metrics.tasksLaunched.inc({}, staged.length);
      // Whether the master got it is unknown: ask it, never launch twice.
      for (const p of staged) {
        state.unreconciled.set(p.task.mesos_task_id, {
          taskId: p.task.mesos_task_id,
          agentId: p.task.agent_id,
        });
      }
      if (!state.reconcileTimer && !state.closed) {
        state.reconcileTimer = timers.after(RECONCILE_INITIAL_MS, () => {
          state.reconcileTimer = null;
          inTurn("reconcile", () => reconcileRound(RECONCILE_INITIAL_MS));
        });
      }
    });
    acceptsInFlight.add(accepted);
    void accepted.finally(() => acceptsInFlight.delete(accepted));
    const logged = infoLogged();
    for (const p of staged) {
      metrics.queueWait.observe((now - queuedSince(p.task)) / 1000);
      if (logged) {
        logger.info("Launching task", {
          task_id: p.task.id,
          agent: p.offer.hostname,
          mesos_task_id: p.task.mesos_task_id,
        });
      }
      void notifyTask(listener, p.task, Math.floor(now / 1000), false);
    }
  };

  const queuedSince = (t: TaskRecord) => {
    const q = t.status.findLast((s) => s.status === "TASK_QUEUED");
    return Math.max(t.not_before, q ? q.time * 1000 : t.submitted_at);
  };

  const onOffers = async (list: Offer[]) => {
    holdOffers(list);
    await matchRound();
  };

  const onRescind = (offerId: string) => {
    offers.delete(offerId);
  };

  // ---- UPDATE: update → store → notify → ack

  /** Starts applying a turn's status updates; per task, after its pending operations. */
  const onUpdates = (statuses: TaskStatus[]) => {
    const free: TaskStatus[] = [];
    const freeIds = new Set<string>();
    const waiting = new Map<string, TaskStatus[]>();
    for (const st of statuses) {
      if (state.unreconciled.size > 0) state.unreconciled.delete(st.task_id.value);
      const id = publicIdOf(st.task_id.value);
      const queuedBehind = waiting.get(id);
      if (queuedBehind) queuedBehind.push(st);
      else if (!freeIds.has(id) && chains.busy(id)) waiting.set(id, [st]);
      else {
        free.push(st);
        freeIds.add(id);
      }
    }
    if (free.length > 0) chains.track(freeIds, applyUpdates(free).catch(updateFailed));
    for (const [id, list] of waiting) {
      void chains.run(id, () => applyUpdates(list)).catch(updateFailed);
    }
  };

  // Unacknowledged, the updates are sent again by the agents.
  const updateFailed = (e: unknown) =>
    logger.error("Cannot apply status updates", { error: (e as Error).message });

  const applyUpdates = async (statuses: TaskStatus[]) => {
    state.updatesInFlight += statuses.length;
    try {
      // The scheduler holds what it placed; only other tasks are read.
      const records = new Map<string, TaskRecord | null>();
      let unknown: string[] | null = null;
      for (const s of statuses) {
        const id = publicIdOf(s.task_id.value);
        if (records.has(id)) continue;
        const held = placed.get(id);
        records.set(id, held ?? null);
        if (!held) (unknown ??= []).push(id);
      }
      if (unknown) {
        await Promise.all(unknown.map(async (id) => records.set(id, await store.getTask(id))));
      }
      const now = clock.now();
      const timeSec = Math.floor(now / 1000);
      const plan = planUpdates(statuses, records, { now });
      const failed = await commitRecords(store, plan.writes);
      for (const [id, error] of failed) {
        if (error instanceof NotFoundError) {
          // Deleted meanwhile: nothing to record, and Mesos must stop resending.
          logger.warn("Status update for a deleted task: acknowledged and ignored", {
            task_id: id,
          });
          placed.delete(id);
          failed.delete(id);
          plan.writes.delete(id);
          continue;
        }
        // Unacknowledged, the update is sent again by the agent.
        logger.error("Cannot store a status update", { task_id: id, error: error.message });
      }
      const deleted = (e: UpdateEffect) => e.kind === "changed" && !plan.writes.has(e.after.id);
      const stored = plan.effects.filter((e) =>
        e.kind !== "changed" || (!failed.has(e.after.id) && !deleted(e))
      );
      const logAll = infoLogged();
      for (const e of stored) if (logAll || e.kind === "ignored") logEffect(e);
      for (const [id, record] of plan.writes) {
        if (failed.has(id)) continue;
        const s = currentState(record);
        if (s === "TASK_QUEUED" || s === "TASK_RUNNING" || isTerminal(s)) placed.delete(id);
        else if (placed.has(id)) placed.set(id, record);
      }
      roomFreed();
      // The callback deliveries are stored before the updates are acknowledged.
      await notifyEffects(listener, stored, timeSec);
      // Not awaited: the next turn need not wait for the master's answer.
      sendAcks(acknowledgements(plan.effects, failed));
      countEffects(metrics, stored, now);
      for (const e of stored) if (e.kind === "changed") afterChange(e);
    } finally {
      state.updatesInFlight -= statuses.length;
    }
  };

  const logEffect = (e: UpdateEffect) => {
    const st = e.status;
    if (e.kind === "ignored") {
      if (e.reason === "unknown_task") {
        // Never turn an update for an unknown task into a stub record (D3).
        logger.warn("Status update for an unknown task: acknowledged and ignored", {
          task_id: st.task_id.value,
          state: st.state,
        });
      } else if (e.reason === "earlier_attempt") {
        logger.info("Status update for an earlier attempt: acknowledged and ignored", {
          task_id: publicIdOf(st.task_id.value),
          mesos_task_id: st.task_id.value,
          state: st.state,
        });
      } else if (e.reason === "unknown_state") {
        logger.warn("Unknown Mesos task state", {
          task_id: publicIdOf(st.task_id.value),
          state: st.state,
        });
      }
      return;
    }
    // One object, no spread per optional field (built only when info lines are written).
    const fields: LogFields = { task_id: e.after.id, state: st.state };
    if (st.message) fields.message = st.message;
    if (st.reason) fields.reason = st.reason;
    if (e.after.retry) fields.retry = e.after.retry;
    logger.info("Task state changed", fields);
  };

  const afterChange = (e: Extract<UpdateEffect, { kind: "changed" }>) => {
    const task = e.after;
    if (e.started) armTimeout(task);
    if (e.terminal || e.retried) {
      clearKill(task.id);
      clearTimeoutTimer(task.id);
    }
    if (e.retried) {
      logger.warn("Task failed: queued again", {
        task_id: task.id,
        state: e.state,
        retry: task.retry,
        max_retries: task.max_retries,
      });
      enqueue(task);
    }
    if (e.state === "TASK_RUNNING" && !task.sandbox_path) lookUpSandbox(task);
  };

  /** Stores a sandbox directory found, unless the task moved on meanwhile. */
  const storeSandbox = (task: LookupTask, dir: string) => {
    if (state.closed) return;
    chains.run(task.id, async () => {
      const current = await store.getTask(task.id);
      if (!current || current.mesos_task_id !== task.mesos_task_id || current.sandbox_path) {
        return;
      }
      await store.updateTask({ ...current, sandbox_path: dir });
    }).catch((e) =>
      logger.debug("Cannot store the sandbox directory", {
        task_id: task.id,
        error: (e as Error).message,
      })
    );
  };

  const sandboxLookups = new SandboxLookups({
    timers,
    fetch: options.fetch,
    timeoutMs: SANDBOX_LOOKUP_TIMEOUT_MS,
    minIntervalMs: SANDBOX_LOOKUP_INTERVAL_MS,
    maxWaiting: SANDBOX_LOOKUP_MAX_WAITING,
    found: storeSandbox,
    failed: (agent, e) =>
      logger.debug("Cannot find sandbox directories", { agent, error: e.message }),
  });

  /**
   * Stores the executor directory from the agent's `/state` (a command task's status
   * carries none), in the background, one `/state` per agent per interval for every task
   * started there meanwhile: the sandbox reader finds it on its own when this is skipped.
   */
  const lookUpSandbox = (task: TaskRecord) => {
    const agentUrl = agentUrlOf(task);
    // Under a burst of launches, skip: an agent's /state is large, and the sandbox
    // reader finds the directory itself when a log is asked for.
    if (!agentUrl || placed.size > SANDBOX_LOOKUP_MAX_LAUNCHING || state.closed) return;
    sandboxLookups.request(agentUrl, task);
  };

  // ---- one turn: the events that arrived together

  const handleTurn = async (events: Event[]) => {
    let updates: TaskStatus[] = [];
    const flushUpdates = () => {
      if (updates.length > 0) onUpdates(updates);
      updates = [];
    };
    for (const event of events) {
      if (event.type === "UPDATE") {
        updates.push(event.update.status);
        continue;
      }
      flushUpdates();
      try {
        await handleEvent(event);
      } catch (e) {
        logger.error("Cannot handle Mesos event", {
          type: event.type,
          error: (e as Error).message,
        });
      }
    }
    flushUpdates();
  };

  const handleEvent = async (event: Event) => {
    switch (event.type) {
      case "SUBSCRIBED":
        return await onSubscribed(event.subscribed.framework_id.value);
      case "OFFERS":
        return await onOffers(event.offers.offers ?? []);
      case "RESCIND":
        return onRescind(event.rescind.offer_id.value);
      case "HEARTBEAT":
      case "INVERSE_OFFERS":
      case "RESCIND_INVERSE_OFFER":
      case "UPDATE_OPERATION_STATUS":
      case "MESSAGE":
      case "UPDATE":
        return;
      case "FAILURE":
        logger.warn("Mesos reports a failure", {
          agent_id: event.failure.agent_id?.value,
          executor_id: event.failure.executor_id?.value,
        });
        return;
      case "ERROR":
        logger.error("Mesos sent an error", { message: event.error.message });
        return;
      default:
        logger.debug("Unhandled Mesos event", { type: (event as { type: string }).type });
    }
  };

  /** Reads events into turns: whatever arrived while the last turn ran is the next one. */
  const consume = (d: SchedulerDriver) =>
    readTurns(d.events, async (turn) => {
      await exclusive(() => handleTurn(turn));
      // Bound the writes in flight: let them land before taking more.
      while (state.updatesInFlight > MAX_UPDATES_IN_FLIGHT) await chains.all();
    }, { maxWaiting: MAX_EVENTS_WAITING });

  // ---- the subscription loop

  const run = async () => {
    await ready;
    while (!state.closed) {
      const seed = (await store.getFrameworkId()) ?? options.frameworkIdSeed ?? undefined;
      // close() may have come while the id was read: it found no driver to close, so
      // none may start now (its stream would keep the process alive).
      if (state.closed) break;
      const d = driver = makeDriver({
        master: options.master,
        frameworkInfo: options.frameworkInfo,
        frameworkId: seed || undefined,
        credential: options.credential,
        suppressedRoles: () => (queue.size === 0 ? [role] : []),
        logger,
        clock,
        fetch: options.fetch,
        heartbeatTimeoutMs: options.driver?.heartbeatTimeoutMs,
        backoff: options.driver?.backoff,
        onStatus: (s) => {
          if (s.state === "subscribed") return; // SUBSCRIBED event sets it, in order
          state.status = {
            master: shownMaster,
            state: s.state === "closed" ? "disconnected" : s.state,
            frameworkId: s.frameworkId ?? state.status.frameworkId,
            ...(s.error ? { detail: s.error.message } : {}),
          };
        },
      });
      await consume(d);
      const result = await d.closed;
      // Offers of the ended subscription are void.
      offers.clear();
      if (state.closed) break;
      const message = result instanceof Error ? result.message : "closed";
      state.status = { ...state.status, state: "disconnected", detail: message };
      if (result instanceof FrameworkError && result.kind === "failed_over") {
        // Another instance took this framework over: it schedules now. Two instances
        // subscribing in turn would evict each other, so this one stops; the id stays.
        logger.error("Another instance took over the Mesos framework: scheduling stopped", {
          framework_id: state.status.frameworkId,
        });
        state.status = {
          ...state.status,
          detail: `Framework failed over to another instance: ${message}`,
        };
        return;
      }
      logger.error("Mesos subscription ended", { error: message });
      if (result instanceof FrameworkError && result.kind === "removed") {
        // The master forgot this framework: its tasks are gone; start afresh.
        await store.setFrameworkId(null);
        state.status = { ...state.status, frameworkId: null };
      }
      await clock.sleep(RESUBSCRIBE_DELAY_MS, stopping.signal).catch(() => {});
    }
  };

  const ready = load();
  const loop = run().catch((e) =>
    logger.error("Scheduler stopped", { error: (e as Error).message })
  );

  let periodic: Timer | null = null;
  if (options.reconcileIntervalSeconds && options.reconcileIntervalSeconds > 0) {
    periodic = timers.every(options.reconcileIntervalSeconds * 1000, () => {
      if (state.status.state === "subscribed") inTurn("reconcile", startReconciliation);
    });
  }

  /**
   * Kills a task after its own pending operations, outside the turns: other tasks' events
   * go on while its write commits. A queued task leaves the queue first, so no round
   * places it meanwhile.
   */
  const killTask = async (id: string): Promise<KillOutcome> => {
    await chains.settled(id);
    return chains.run(id, async () => {
      killing.add(id);
      const held = queue.take(id);
      try {
        const { outcome, task } = await recordKillRequest(id, { store, clock, metrics });
        if (held && outcome !== "killed") queue.add(held); // not killed after all
        if (!task) return outcome;
        // The callback delivery is stored before the kill is answered.
        if (outcome === "killed") {
          if (!held) queue.remove(id); // beyond the window: only counted
          setQueueGauge();
          // The queue may be empty now: held offers go back.
          if (queue.size === 0 && offers.size > 0) inTurn("match offers", matchRound);
          await notifyTask(listener, task, nowSec(), true);
        } else if (outcome === "killing") {
          if (placed.has(id)) placed.set(id, task);
          await notifyTask(listener, task, nowSec(), false);
          await sendKill(task);
        }
        return outcome;
      } catch (e) {
        if (held && !queue.has(id)) queue.add(held);
        throw e;
      } finally {
        killing.delete(id);
        recentKills.add(id);
      }
    });
  };

  const close = async () => {
    if (state.closed) return;
    state.closed = true;
    stopping.abort();
    periodic?.cancel();
    sandboxLookups.close();
    timers.close();
    await ready.catch(() => {});
    // Launches and updates under way finish first, on the open stream: a task staged in
    // the store whose ACCEPT the close cut off would come back after a restart as
    // TASK_GONE (reconciliation) and cost a retry. Nothing new starts (`state.closed`).
    const drain = new AbortController();
    await Promise.race([
      (async () => {
        await chains.all();
        await Promise.all(acceptsInFlight);
      })(),
      clock.sleep(CLOSE_DRAIN_MS, drain.signal).catch(() => {}),
    ]);
    drain.abort();
    // Close the stream without TEARDOWN: running tasks keep running (D7).
    await driver?.close();
    await loop;
    await chain;
    await chains.all();
  };

  return {
    ready,
    taskCreated(task) {
      void ready.then(() => enqueue(task), () => {});
    },
    killTask,
    status: () => ({ ...state.status }),
    close,
    [Symbol.asyncDispose]: close,
  };
}
