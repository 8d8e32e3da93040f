/**
 * The Mesos scheduler of Eremetic: subscribes through the driver, matches the
 * durable queue against offers, launches, records every status update, kills,
 * retries, times out and reconciles. One event loop: events and kill requests
 * run one at a time, so a task is never changed by two hands at once.
 *
 * @module
 */
import {
  accept,
  acknowledgeStatus,
  type Call,
  type Credential,
  decline,
  detectorFor,
  type Driver,
  type Event,
  type FrameworkInfo,
  kill,
  launch,
  type Offer,
  reconcile,
  redactAddress,
  revive,
  startDriver,
  suppress,
  type TaskStatus,
} from "../mesos/mod.ts";
import type { Metrics } from "../metrics/mod.ts";
import { agentUrlOf, findSandboxDirectory, sandboxFromStatusData } from "../sandbox/mod.ts";
import type { Clock, Logger } from "../runtime.ts";
import type { TaskStore } from "../store/mod.ts";
import {
  applyMesosState,
  currentState,
  isTaskState,
  isTerminal,
  type TaskRecord,
  type TaskState,
  wasRunning,
} from "../task/mod.ts";
import {
  type KillOutcome,
  recordKillRequest,
  type SchedulerStatus,
  type TaskControl,
} from "./control.ts";
import { matchOffers, type Placement } from "./match.ts";
import { assignPorts, buildTaskInfo } from "./task_info.ts";

/** Seconds Mesos should not re-offer declined resources when nothing asked for them. */
export const DEFAULT_REFUSE_SECONDS = 5;
/** How often a kill is re-sent until Mesos reports a terminal state. */
export const KILL_RESEND_MS = 5_000;
/** First wait before re-sending an unanswered explicit reconciliation; doubles up to the cap. */
export const RECONCILE_INITIAL_MS = 1_000;
export const RECONCILE_MAX_MS = 60_000;
/** Sandbox directory lookups in flight at most, and how long each may take. */
export const MAX_SANDBOX_LOOKUPS = 8;
export const SANDBOX_LOOKUP_TIMEOUT_MS = 2_000;
/** Tasks launching at once above which sandbox directories are not looked up. */
export const SANDBOX_LOOKUP_MAX_LAUNCHING = 50;
/** Offers whose tasks are staged (then accepted) at the same time. */
export const OFFERS_STAGING_AT_ONCE = 8;
/**
 * Tasks placed but not yet running (or ended) at most. Beyond it, offers are declined for
 * one allocation round: a longer backlog of status updates would outlast the agents'
 * 10 s resend of unacknowledged updates, and every resend is work for both sides.
 */
export const MAX_LAUNCHES_IN_FLIGHT = 3_000;
/** Back-off before a retried task may launch again: base × 2^(retry-1), capped. */
export const RETRY_BASE_MS = 1_000;
export const RETRY_MAX_MS = 60_000;

/** What the scheduler tells the rest of Eremetic after a state change is stored. */
export interface StateListener {
  /**
   * Every stored state change (callbacks decide what to send). A status update is
   * acknowledged to Mesos only after the promise settles, so what it stores (a
   * callback delivery) survives a crash: otherwise Mesos would not resend the update.
   */
  taskChanged(
    task: TaskRecord,
    state: TaskState,
    timeSec: number,
    terminal: boolean,
  ): void | Promise<void>;
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
}

/** A running scheduler. */
export interface Scheduler extends TaskControl, AsyncDisposable {
  /** Resolves once the queue and launched tasks are loaded from the store. */
  ready: Promise<void>;
  close(): Promise<void>;
}

/** The Eremetic task id of a Mesos task id (`<id>` or `<id>.retry-<n>`). */
export function publicIdOf(mesosTaskId: string): string {
  return mesosTaskId.replace(/\.retry-\d+$/, "");
}

/** The Mesos task id of attempt `retry` (0 = first). New ids per attempt, as Mesos advises (D26). */
export function mesosIdOf(id: string, retry: number): string {
  return retry === 0 ? id : `${id}.retry-${retry}`;
}

/** The back-off before a retry may launch. */
export function retryDelayMs(retry: number): number {
  return Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.max(0, retry - 1));
}

function agentAddress(offer: Offer): { ip: string; port: number } {
  const a = offer.url?.address;
  return { ip: a?.ip || a?.hostname || offer.hostname, port: a?.port ?? 5051 };
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

  /** Queued tasks in submission order: a mirror of the store's queued class. */
  let queue: TaskRecord[] = [];
  let suppressed = false;
  let driver: Driver | null = null;
  let status: SchedulerStatus = {
    master: shownMaster,
    state: "connecting",
    frameworkId: null,
  };
  type Timer = ReturnType<typeof setTimeout>;
  const killTimers = new Map<string, Timer>();
  const timeoutTimers = new Map<string, Timer>();
  /** Launched tasks whose explicit reconciliation is unanswered: public id → Mesos task id. */
  const unreconciled = new Map<string, { taskId: string; agentId: string }>();
  let reconcileTimer: Timer | undefined;
  let periodicTimer: Timer | undefined;
  let wakeTimer: Timer | undefined;
  let closed = false;
  /**
   * Per public id, the staging (until its ACCEPT is sent) or stored status change still in
   * flight. Writes of different tasks share group commits instead of waiting for each other;
   * a task's next update or kill waits for its own.
   */
  const updating = new Map<string, Promise<void>>();
  /** Public ids placed by this subscription and not yet TASK_RUNNING or ended. */
  const launching = new Set<string>();

  // One thing at a time: events, kills and timers run through this chain.
  let chain: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = chain.then(fn, fn);
    chain = next.catch(() => {});
    return next;
  };

  const nowSec = () => Math.floor(clock.now() / 1000);

  /** Sends a call; `ordered: false` for calls whose order does not matter (ACKNOWLEDGE). */
  const send = async (call: Call, what: string, ordered = true) => {
    if (!driver) return false;
    try {
      await driver.call(call, { ordered });
      return true;
    } catch (e) {
      // While closing, the stream is gone on purpose: the master resends what is unanswered.
      (closed ? logger.debug : logger.warn).call(logger, `Cannot send ${what} to Mesos`, {
        error: (e as Error).message,
      });
      return false;
    }
  };

  const setQueueGauge = () => metrics.queueSize.set(queue.length);

  const enqueue = (task: TaskRecord) => {
    if (queue.some((t) => t.id === task.id)) return;
    // Keep submission order: a retried task goes back to its place.
    let i = queue.length;
    while (i > 0 && queue[i - 1].seq > task.seq) i--;
    queue.splice(i, 0, task);
    setQueueGauge();
    if (suppressed) {
      suppressed = false;
      void send(revive([role]), "REVIVE");
    }
    scheduleWake(task.not_before);
  };

  /** A retried task waiting for its back-off needs an offer when it expires. */
  const scheduleWake = (at: number) => {
    const delay = at - clock.now();
    if (delay <= 0 || wakeTimer !== undefined) return;
    wakeTimer = setTimeout(() => {
      wakeTimer = undefined;
      if (!suppressed) return;
      suppressed = false;
      void send(revive([role]), "REVIVE");
    }, delay);
  };

  const dequeue = (id: string) => {
    const before = queue.length;
    queue = queue.filter((t) => t.id !== id);
    if (queue.length !== before) setQueueGauge();
  };

  const notify = (task: TaskRecord, timeSec: number, terminal: boolean) => {
    const state = currentState(task);
    return state ? listener?.taskChanged(task, state, timeSec, terminal) : undefined;
  };

  const sendKill = async (task: TaskRecord) => {
    if (!task.agent_id) return;
    await send(kill(task.mesos_task_id, task.agent_id), `KILL of "${task.id}"`);
    if (!killTimers.has(task.id)) {
      // Re-send until a terminal update arrives (kills are not reliable in Mesos).
      killTimers.set(
        task.id,
        setInterval(() => {
          void exclusive(async () => {
            const t = await store.getTask(task.id);
            if (!t || isTerminal(currentState(t))) return clearKill(task.id);
            await send(kill(t.mesos_task_id, t.agent_id), `KILL of "${t.id}"`);
          });
        }, KILL_RESEND_MS),
      );
    }
  };

  const clearKill = (id: string) => {
    clearInterval(killTimers.get(id));
    killTimers.delete(id);
  };

  const armTimeout = (task: TaskRecord) => {
    if (task.timeout_seconds <= 0 || timeoutTimers.has(task.id)) return;
    const started = task.status.findLast((s) => s.status === "TASK_RUNNING")?.time ?? nowSec();
    const delay = Math.max(0, (started + task.timeout_seconds) * 1000 - clock.now());
    timeoutTimers.set(
      task.id,
      setTimeout(() => {
        timeoutTimers.delete(task.id);
        logger.info("Task timed out: killing it", {
          task_id: task.id,
          timeout_seconds: task.timeout_seconds,
        });
        void killTask(task.id);
      }, delay),
    );
  };

  const clearTimeoutTimer = (id: string) => {
    clearTimeout(timeoutTimers.get(id));
    timeoutTimers.delete(id);
  };

  // ---- loading

  const load = async () => {
    const queued: TaskRecord[] = [];
    let cursor: string | null = null;
    do {
      const page: Awaited<ReturnType<TaskStore["listTasks"]>> = await store.listTasks({
        states: ["queued"],
        limit: 10_000,
        cursor,
      });
      queued.push(...page.tasks);
      cursor = page.cursor;
    } while (cursor);
    queue = queued;
    setQueueGauge();
    let running = 0;
    for await (const task of activeTasks()) {
      if (currentState(task) === "TASK_RUNNING") running++;
      if (wasRunning(task)) armTimeout(task);
    }
    metrics.tasksRunning.set(running);
    logger.info("Scheduler loaded the queue", { queued: queue.length, running });
  };

  async function* activeTasks(): AsyncGenerator<TaskRecord> {
    let cursor: string | null = null;
    do {
      const page: Awaited<ReturnType<TaskStore["listTasks"]>> = await store.listTasks({
        states: ["active"],
        limit: 1000,
        cursor,
      });
      yield* page.tasks;
      cursor = page.cursor;
    } while (cursor);
  }

  // ---- reconciliation: explicit for launched tasks (never queued ones, D10), then implicit

  const startReconciliation = async () => {
    unreconciled.clear();
    for await (const task of activeTasks()) {
      if (!task.agent_id) continue;
      unreconciled.set(task.mesos_task_id, { taskId: task.mesos_task_id, agentId: task.agent_id });
    }
    clearTimeout(reconcileTimer);
    await reconcileRound(RECONCILE_INITIAL_MS);
  };

  const reconcileRound = async (waitMs: number) => {
    if (closed) return;
    if (unreconciled.size === 0) {
      await send(reconcile([]), "implicit RECONCILE");
      return;
    }
    clearTimeout(reconcileTimer);
    const tasks = [...unreconciled.values()].map((t) => ({
      task_id: t.taskId,
      agent_id: t.agentId,
    }));
    logger.info("Reconciling launched tasks", { tasks: tasks.length });
    await send(reconcile(tasks), "RECONCILE");
    reconcileTimer = setTimeout(() => {
      reconcileTimer = undefined;
      void exclusive(() => reconcileRound(Math.min(RECONCILE_MAX_MS, waitMs * 2)));
    }, waitMs);
  };

  // ---- event handlers

  const onSubscribed = async (frameworkId: string) => {
    status = { ...status, state: "subscribed", frameworkId, detail: undefined };
    // Reconciliation answers for what was launched before; the limit counts afresh.
    launching.clear();
    const stored = await store.getFrameworkId();
    if (stored !== frameworkId) {
      await store.setFrameworkId(frameworkId);
      logger.info("Subscribed to Mesos with a new framework id", { framework_id: frameworkId });
    } else {
      logger.info("Re-subscribed to Mesos", { framework_id: frameworkId });
    }
    // The subscription's suppressed roles were decided before tasks may have arrived:
    // say it again now.
    suppressed = queue.length === 0;
    await send(suppressed ? suppress([role]) : revive([role]), suppressed ? "SUPPRESS" : "REVIVE");
    await startReconciliation();
    // Kills requested while disconnected.
    for await (const task of activeTasks()) {
      if (currentState(task) === "TASK_TERMINATING") await sendKill(task);
    }
  };

  const onOffers = (offers: Offer[]) => {
    const now = clock.now();
    const eligible = queue.filter((t) => t.not_before <= now);
    const room = Math.max(0, MAX_LAUNCHES_IN_FLIGHT - launching.size);
    const result = matchOffers(offers, eligible, { defaultRole: role, now, limit: room });
    // Offers unused because of the limit come back at the next allocation round.
    const declineSeconds = result.placements.length >= room ? 0 : refuseSeconds;
    const frameworkId = status.frameworkId ?? "";
    const byOffer = new Map<Offer, Placement[]>();
    for (const p of result.placements) {
      let list = byOffer.get(p.offer);
      if (!list) byOffer.set(p.offer, list = []);
      list.push(p);
    }
    // Placed tasks leave the queue now (one pass: a filter per task is quadratic), so no
    // later offer takes them; a task whose staging fails goes back.
    if (result.placements.length > 0) {
      const placed = new Set(result.placements.map((p) => p.task.id));
      for (const id of placed) launching.add(id);
      queue = queue.filter((t) => !placed.has(t.id));
      setQueueGauge();
    }
    // Mark TASK_STAGING durably before the ACCEPT leaves, so a crash in between is
    // settled by reconciliation, never by a second launch. The writes share group commits;
    // each offer's ACCEPT leaves as soon as its own tasks are staged, and events go on
    // meanwhile (a staged task's later events wait for its offer, see `updating`).
    const stage = async (p: Placement): Promise<Placement | null> => {
      const { ip, port } = agentAddress(p.offer);
      const staging: TaskRecord = {
        ...p.task,
        status: [...p.task.status, { time: Math.floor(now / 1000), status: "TASK_STAGING" }],
        framework_id: frameworkId,
        agent_id: p.offer.agent_id.value,
        hostname: p.offer.hostname,
        agent_ip: ip,
        agent_port: port,
        sandbox_path: "",
        ports: assignPorts(p.task.ports, p.hostPorts),
      };
      try {
        await store.updateTask(staging);
        return { ...p, task: staging };
      } catch (e) {
        logger.warn("Cannot stage task: leaving it queued", {
          task_id: p.task.id,
          error: (e as Error).message,
        });
        launching.delete(p.task.id);
        enqueue(p.task);
        return null;
      }
    };
    const launchOffer = async (offer: Offer, placements: Placement[]) => {
      const staged = (await Promise.all(placements.map(stage))).filter((p) => p !== null);
      if (staged.length === 0) {
        void send(decline([offer.id], { refuse_seconds: refuseSeconds }), "DECLINE");
        return;
      }
      const infos = staged.map((p) => buildTaskInfo(p));
      // Not awaited: ordered calls leave in order anyway, and a kill of one of these
      // tasks (which waits for this function) is sent after this ACCEPT.
      void send(accept([offer.id], [launch(infos)], { refuse_seconds: refuseSeconds }), "ACCEPT")
        .then((ok) => {
          if (ok) return metrics.tasksLaunched.inc({}, infos.length);
          // Whether the master got it is unknown: ask it, never launch twice.
          for (const p of staged) {
            unreconciled.set(p.task.mesos_task_id, {
              taskId: p.task.mesos_task_id,
              agentId: p.task.agent_id,
            });
          }
          if (reconcileTimer === undefined && !closed) {
            reconcileTimer = setTimeout(() => {
              reconcileTimer = undefined;
              void exclusive(() => reconcileRound(RECONCILE_INITIAL_MS));
            }, RECONCILE_INITIAL_MS);
          }
        });
      for (const p of staged) {
        metrics.queueWait.observe((now - queuedSince(p.task)) / 1000);
        logger.info("Launching task", {
          task_id: p.task.id,
          agent: p.offer.hostname,
          mesos_task_id: p.task.mesos_task_id,
        });
        void notify(p.task, Math.floor(now / 1000), false);
      }
    };
    // A few offers at a time: staging a whole round at once (80,000 tasks in
    // bench/launch.ts) would queue every status update's write behind all of it.
    const pending = [...byOffer].map(([offer, placements]) => {
      const done = Promise.withResolvers<void>();
      for (const p of placements) {
        const id = p.task.id;
        const tracked = done.promise.finally(() => {
          if (updating.get(id) === tracked) updating.delete(id);
        });
        updating.set(id, tracked);
      }
      return { offer, placements, done };
    });
    const launchNext = async (): Promise<void> => {
      for (let next = pending.shift(); next; next = pending.shift()) {
        // After close, the rest stay queued in the store for the next start.
        if (!closed) {
          await launchOffer(next.offer, next.placements).catch((e) =>
            logger.error("Cannot launch on an offer", { error: (e as Error).message })
          );
        }
        next.done.resolve();
      }
    };
    for (let i = 0; i < Math.min(OFFERS_STAGING_AT_ONCE, pending.length); i++) void launchNext();
    const unused = offers.filter((o) => !byOffer.has(o));
    if (unused.length > 0) {
      void send(decline(unused.map((o) => o.id), { refuse_seconds: declineSeconds }), "DECLINE");
    }
    if (result.unplaced.length > 0) metrics.tasksDelayed.inc({}, result.unplaced.length);
    if (queue.length === 0 && !suppressed) {
      suppressed = true;
      void send(suppress([role]), "SUPPRESS");
    } else if (queue.length > 0) {
      let next = Infinity;
      for (const t of queue) next = Math.min(next, t.not_before);
      scheduleWake(next);
    }
  };

  const queuedSince = (t: TaskRecord) => {
    const q = t.status.findLast((s) => s.status === "TASK_QUEUED");
    return Math.max(t.not_before, q ? q.time * 1000 : t.submitted_at);
  };

  const onUpdate = async (st: TaskStatus) => {
    const mesosId = st.task_id.value;
    const ack = acknowledgeStatus(st);
    // Not awaited: the next event need not wait for the master's answer (send logs failures).
    const acknowledge = () => {
      if (ack) void send(ack, `ACKNOWLEDGE of "${mesosId}"`, false);
    };
    unreconciled.delete(mesosId);
    const id = publicIdOf(mesosId);
    await updating.get(id);
    const task = await store.getTask(id);
    if (!task) {
      // Never turn an update for an unknown task into a stub record (D3).
      logger.warn("Status update for an unknown task: acknowledged and ignored", {
        task_id: mesosId,
        state: st.state,
      });
      return acknowledge();
    }
    if (task.mesos_task_id !== mesosId) {
      logger.info("Status update for an earlier attempt: acknowledged and ignored", {
        task_id: id,
        mesos_task_id: mesosId,
        state: st.state,
      });
      return acknowledge();
    }
    if (!isTaskState(st.state)) {
      logger.warn("Unknown Mesos task state", { task_id: id, state: st.state });
      return acknowledge();
    }
    const timeSec = nowSec();
    const ranBefore = currentState(task) === "TASK_RUNNING";
    const t = applyMesosState(task, st.state, timeSec);
    if (t.changed) {
      let next = t.task;
      if (st.agent_id?.value && !next.agent_id) next = { ...next, agent_id: st.agent_id.value };
      if (st.state === "TASK_RUNNING" && !next.sandbox_path) {
        const path = sandboxFromStatusData(st.data);
        if (path) next = { ...next, sandbox_path: path };
      }
      if (t.retried) {
        next = {
          ...next,
          mesos_task_id: mesosIdOf(next.id, next.retry),
          not_before: clock.now() + retryDelayMs(next.retry),
        };
      }
      // Not awaited here: the write joins a group commit with other tasks' updates, and the
      // acknowledgement and everything else that follows a stored change wait for it.
      const stored: Promise<void> = store.updateTask(next).then(async () => {
        logStateChange(next, st);
        await afterChange(task, next, st.state, timeSec, t.terminal, t.retried, ranBefore)
          .catch((e) =>
            logger.error("Cannot record what follows a state change", {
              task_id: id,
              error: (e as Error).message,
            })
          );
        acknowledge();
        if (st.state === "TASK_RUNNING" && !next.sandbox_path) lookUpSandbox(next);
      }, (e) => {
        // Unacknowledged, the update is sent again by the master.
        logger.error("Cannot store a status update", {
          task_id: id,
          state: st.state,
          error: (e as Error).message,
        });
      }).finally(() => {
        if (updating.get(id) === stored) updating.delete(id);
      });
      updating.set(id, stored);
      return;
    }
    acknowledge();
  };

  /**
   * Stores the executor directory from the agent's `/state` (a command task's status
   * carries none), in the background and a few at a time: the sandbox reader finds it
   * on its own when this is skipped.
   */
  let sandboxLookups = 0;
  const lookUpSandbox = (task: TaskRecord) => {
    const agentUrl = agentUrlOf(task);
    // Under a burst of launches, skip: an agent's /state is large, and the sandbox
    // reader finds the directory itself when a log is asked for.
    if (
      !agentUrl || sandboxLookups >= MAX_SANDBOX_LOOKUPS ||
      launching.size > SANDBOX_LOOKUP_MAX_LAUNCHING ||
      closed
    ) return;
    sandboxLookups++;
    findSandboxDirectory(agentUrl, task.framework_id, task.mesos_task_id, {
      fetch: options.fetch,
      timeoutMs: SANDBOX_LOOKUP_TIMEOUT_MS,
    }).then((dir) => {
      if (!dir || closed) return;
      // Like every other change of a task: in the event loop, after its pending write.
      return exclusive(async () => {
        await updating.get(task.id);
        const current = await store.getTask(task.id);
        if (!current || current.mesos_task_id !== task.mesos_task_id || current.sandbox_path) {
          return;
        }
        const written: Promise<void> = store.updateTask({ ...current, sandbox_path: dir })
          .finally(() => {
            if (updating.get(task.id) === written) updating.delete(task.id);
          });
        updating.set(task.id, written);
        await written;
      });
    }).catch((e) =>
      logger.debug("Cannot find the sandbox directory", {
        task_id: task.id,
        error: (e as Error).message,
      })
    ).finally(() => sandboxLookups--);
  };

  const logStateChange = (task: TaskRecord, st: TaskStatus) => {
    logger.info("Task state changed", {
      task_id: task.id,
      state: st.state,
      ...(st.message ? { message: st.message } : {}),
      ...(st.reason ? { reason: st.reason } : {}),
      ...(task.retry ? { retry: task.retry } : {}),
    });
  };

  const afterChange = (
    before: TaskRecord,
    task: TaskRecord,
    state: TaskState,
    timeSec: number,
    terminal: boolean,
    retried: boolean,
    ranBefore: boolean,
  ) => {
    if (state === "TASK_RUNNING" || terminal || retried) launching.delete(task.id);
    if (state === "TASK_RUNNING" && !wasRunning(before)) {
      metrics.tasksRunning.inc();
      metrics.submitToRunning.observe((clock.now() - task.submitted_at) / 1000);
      armTimeout(task);
    } else if (ranBefore && state !== "TASK_RUNNING") {
      metrics.tasksRunning.dec();
    }
    if (terminal || retried) {
      clearKill(task.id);
      clearTimeoutTimer(task.id);
      metrics.tasksTerminated.inc({ status: state, sequence: retried ? "retry" : "final" });
    }
    if (retried) {
      logger.warn("Task failed: queued again", {
        task_id: task.id,
        state,
        retry: task.retry,
        max_retries: task.max_retries,
      });
      // The listener hears the failure, then the new TASK_QUEUED.
      const heard = [
        listener?.taskChanged({ ...task, status: task.status.slice(0, -1) }, state, timeSec, false),
        notify(task, timeSec, false),
      ];
      enqueue(task);
      return Promise.all(heard).then(() => {});
    }
    return Promise.resolve(notify(task, timeSec, terminal));
  };

  const handle = async (event: Event) => {
    switch (event.type) {
      case "SUBSCRIBED":
        return await onSubscribed(event.subscribed.framework_id.value);
      case "OFFERS":
        return onOffers(event.offers.offers ?? []);
      case "UPDATE":
        return await onUpdate(event.update.status);
      case "RESCIND":
      case "HEARTBEAT":
      case "INVERSE_OFFERS":
      case "RESCIND_INVERSE_OFFER":
      case "UPDATE_OPERATION_STATUS":
      case "MESSAGE":
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

  // ---- the loop

  const run = async () => {
    await ready;
    while (!closed) {
      const seed = (await store.getFrameworkId()) ?? options.frameworkIdSeed ?? undefined;
      driver = startDriver({
        master: options.master,
        frameworkInfo: options.frameworkInfo,
        frameworkId: seed || undefined,
        credential: options.credential,
        suppressedRoles: () => (queue.length === 0 ? [role] : []),
        logger,
        clock,
        fetch: options.fetch,
        heartbeatTimeoutMs: options.driver?.heartbeatTimeoutMs,
        backoff: options.driver?.backoff,
        onStatus: (s) => {
          if (s.state === "subscribed") return; // SUBSCRIBED event sets it, in order
          status = {
            master: shownMaster,
            state: s.state === "closed" ? "disconnected" : s.state,
            frameworkId: s.frameworkId ?? status.frameworkId,
            ...(s.error ? { detail: s.error.message } : {}),
          };
        },
      });
      for await (const event of driver.events) {
        await exclusive(() => handle(event)).catch((e) =>
          logger.error("Cannot handle Mesos event", {
            type: event.type,
            error: (e as Error).message,
          })
        );
      }
      const result = await driver.closed;
      if (closed) break;
      const message = result instanceof Error ? result.message : "closed";
      logger.error("Mesos subscription ended", { error: message });
      status = { ...status, state: "disconnected", detail: message };
      if (/removed|torn down|teardown|failed over/i.test(message)) {
        // The master forgot this framework: its tasks are gone; start afresh.
        await store.setFrameworkId(null);
      }
      await clock.sleep(5_000).catch(() => {});
    }
  };

  const ready = load();
  const loop = run().catch((e) =>
    logger.error("Scheduler stopped", { error: (e as Error).message })
  );

  if (options.reconcileIntervalSeconds && options.reconcileIntervalSeconds > 0) {
    periodicTimer = setInterval(() => {
      if (status.state === "subscribed") void exclusive(startReconciliation);
    }, options.reconcileIntervalSeconds * 1000);
  }

  const killTask = (id: string): Promise<KillOutcome> =>
    exclusive(async () => {
      await updating.get(id);
      const { outcome, task } = await recordKillRequest(id, { store, clock, metrics });
      if (!task) return outcome;
      // The callback delivery is stored before the kill is answered.
      if (outcome === "killed") {
        dequeue(id);
        await notify(task, nowSec(), true);
      } else if (outcome === "killing") {
        await notify(task, nowSec(), false);
        await sendKill(task);
      }
      return outcome;
    });

  const close = async () => {
    if (closed) return;
    closed = true;
    for (const t of killTimers.values()) clearInterval(t);
    for (const t of timeoutTimers.values()) clearTimeout(t);
    clearTimeout(reconcileTimer);
    clearTimeout(wakeTimer);
    clearInterval(periodicTimer);
    await ready.catch(() => {});
    // Close the stream without TEARDOWN: running tasks keep running (D7).
    await driver?.close();
    await loop;
    await chain;
    await Promise.all(updating.values());
  };

  return {
    ready,
    taskCreated(task) {
      void ready.then(() => enqueue(task));
    },
    killTask,
    status: () => ({ ...status }),
    close,
    [Symbol.asyncDispose]: close,
  };
}
