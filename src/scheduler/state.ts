/**
 * Everything the scheduler knows between events, in one object: the queue window, the
 * placed-not-running tasks, the offers held, the timers of tasks, the subscription epoch.
 *
 * @module
 */
import type { Offer } from "../mesos/mod.ts";
import type { Timer } from "../runtime.ts";
import type { TaskRecord } from "../task/mod.ts";
import { TaskChains } from "./chains.ts";
import type { SchedulerStatus } from "./control.ts";
import { TaskQueue } from "./queue.ts";

/** What a round's launches share. */
export interface LaunchContext {
  /** The subscription the offers belong to. */
  epoch: number;
  frameworkId: string;
  now: number;
  /** `refuse_seconds` of the ACCEPTs. */
  refuse: number;
}

/** An offer held because no queued task could use it yet. */
export interface HeldOffer {
  offer: Offer;
  since: number;
}

/** Everything the scheduler knows between events, in one place. */
export class SchedulerState {
  /** Queued tasks (a window on the store's queue). */
  readonly queue: TaskQueue;
  /**
   * Placed tasks not yet `TASK_RUNNING` or ended, as last written: their updates need no
   * read of the store.
   */
  readonly placed = new Map<string, TaskRecord>();
  /** Offers held for later rounds, by offer id. */
  readonly offers = new Map<string, HeldOffer>();
  /** Incremented on every SUBSCRIBED: placements of an earlier one are not sent. */
  epoch = 0;
  suppressed = false;
  /** Launched tasks whose explicit reconciliation is unanswered: Mesos task id → agent. */
  readonly unreconciled = new Map<string, { taskId: string; agentId: string }>();
  readonly killTimers = new Map<string, Timer>();
  readonly timeoutTimers = new Map<string, Timer>();
  reconcileTimer: Timer | null = null;
  wakeTimer: Timer | null = null;
  wakeAt = Infinity;
  holdTimer: Timer | null = null;
  /** Per-task ordering of writes and kills. */
  readonly chains = new TaskChains();
  /** Status updates whose write is in flight. */
  updatesInFlight = 0;
  /** Kills in flight, and kills finished since the last page of the queue was read. */
  readonly killing = new Set<string>();
  readonly recentKills = new Set<string>();
  status: SchedulerStatus;
  closed = false;

  constructor(master: string, queueWindow: number) {
    this.queue = new TaskQueue({ window: queueWindow });
    this.status = { master, state: "connecting", frameworkId: null };
  }
}
