/**
 * Wires the parts of Eremetic together: store, scheduler, API.
 *
 * ```ts
 * import { createApp } from "./app.ts";
 * // await using app = await createApp(config, { logger });
 * // Deno.serve(app.fetch);
 * ```
 *
 * @module
 */
import { createApi, type HaRole } from "./api/mod.ts";
import { type Callbacks, createCallbacks } from "./callback/mod.ts";
import { parseHttpCredentials } from "./config/mod.ts";
import { EventHub } from "./events/mod.ts";
import type { Config } from "./config/mod.ts";
import { createMetrics, type Metrics } from "./metrics/mod.ts";
import { type Clock, type Logger, newId, systemClock, Timers } from "./runtime.ts";
import {
  buildFrameworkInfo,
  queueOnlyControl,
  type Scheduler,
  type SchedulerOptions,
  startScheduler,
  type TaskControl,
} from "./scheduler/mod.ts";
import { createSandboxReader } from "./sandbox/mod.ts";
import { type StateListener } from "./scheduler/mod.ts";
import {
  openStore,
  pruneFinishedTasks,
  StoreUnavailableError,
  type TaskStore,
} from "./store/mod.ts";
import { currentState } from "./task/mod.ts";
import { VERSION } from "./version.ts";
import { createWeb } from "./web/mod.ts";

/** How often finished tasks past `retention_seconds` are looked for. */
export const RETENTION_INTERVAL_MS = 60_000;

export interface AppDeps {
  logger: Logger;
  clock?: Clock;
  newId?: () => string;
  /** An already open store (tests); otherwise the configured one is opened. */
  store?: TaskStore;
  metrics?: Metrics;
  /** Outbound HTTP for callbacks and sandbox reads (tests). */
  fetch?: typeof fetch;
  /** Scheduler tuning (tests): driver timeouts, back-off. */
  scheduler?: Pick<SchedulerOptions, "driver" | "fetch">;
  /** This instance's high-availability role for the health answer (src/ha). */
  ha?: () => HaRole;
  /**
   * Serve as a high-availability follower (src/ha): reads only, from `store` (a mirror of
   * the leader's); no scheduler, callbacks or retention. Writes never reach it (the
   * front forwards them); if one does, it is refused with 503.
   */
  follower?: boolean;
}

/** A running Eremetic minus its HTTP listener. */
export interface App extends AsyncDisposable {
  fetch: (req: Request) => Response | Promise<Response>;
  store: TaskStore;
  control: TaskControl;
  metrics: Metrics;
  /** State changes as the live streams see them. */
  events: EventHub;
  /** Ends every live stream (before the HTTP server waits for open responses to finish). */
  closeStreams(): void;
  /** Stops the scheduler and closes the store; running Mesos tasks keep running. */
  close(): Promise<void>;
}

/** Opens the store and builds the API and scheduler from a resolved configuration. */
export async function createApp(config: Config, deps: AppDeps): Promise<App> {
  const { logger } = deps;
  const credentials = config.http_credentials
    ? parseHttpCredentials(config.http_credentials)
    : null;
  if (config.http_credentials && !credentials) {
    // Never fail open (D18): a config that skipped validation must not disable auth.
    throw new TypeError(
      'Cannot start: "http_credentials" must be "user:password" with a non-empty user and password',
    );
  }
  const clock = deps.clock ?? systemClock;
  const metrics = deps.metrics ?? createMetrics();
  const store = deps.store ??
    await openStore({
      driver: config.database_driver,
      database: config.database,
      zkSessionTimeoutMs: config.zk_session_timeout_seconds * 1000,
      logger,
    });
  const counts = await store.countTasks();
  metrics.queueSize.set(counts.queued);
  if (deps.follower) return serveFollower(config, deps, { store, metrics, credentials });
  const callbacks: Callbacks = createCallbacks({
    store,
    logger,
    clock,
    fetch: deps.fetch,
    secret: config.callback_secret || undefined,
    metrics,
  });
  await callbacks.start();
  const events = new EventHub({ clock });
  // Live streams hear every change; callbacks go out on final states, or on every
  // change when the task asks for `all`.
  const listener: StateListener = {
    taskChanged(task, state, timeSec, terminal) {
      events.publish(task, terminal);
      if (!task.callback_uri || (!terminal && task.callback_events !== "all")) return;
      return callbacks.enqueue(task, state, timeSec).catch((e) =>
        logger.error("Cannot store a callback delivery", {
          task_id: task.id,
          error: (e as Error).message,
        })
      );
    },
  };
  let scheduler: Scheduler | null = null;
  let control: TaskControl;
  if (config.master) {
    const hostname = config.hostname || Deno.hostname();
    const start = (o: SchedulerOptions) => {
      try {
        return startScheduler(o);
      } catch (e) {
        // Nothing else holds the store or the callbacks yet: release them.
        void callbacks.close().finally(() => store.close());
        throw e;
      }
    };
    scheduler = start({
      master: config.master,
      frameworkInfo: buildFrameworkInfo({
        name: config.name,
        user: config.user,
        role: config.role,
        hostname,
        webuiUrl: config.webui_url || `http://${hostname}:${config.port}${config.url_prefix}`,
        checkpoint: config.checkpoint,
        failoverTimeoutSeconds: config.failover_timeout,
        gpuResources: config.gpu_resources,
        principal: config.credential?.principal,
      }),
      frameworkIdSeed: config.framework_id || undefined,
      credential: config.credential,
      store,
      logger,
      clock,
      metrics,
      refuseSeconds: config.refuse_seconds,
      reconcileIntervalSeconds: config.reconcile_interval_seconds,
      listener,
      ...deps.scheduler,
    });
    control = scheduler;
  } else {
    control = queueOnlyControl({
      store,
      clock,
      metrics,
      onTransition: (task, terminal) =>
        listener.taskChanged(
          task,
          currentState(task)!,
          Math.floor(clock.now() / 1000),
          terminal,
        ),
    });
    logger.warn("No Mesos master is configured: the API serves, tasks stay queued", {
      queued: counts.queued,
    });
  }
  // A new task's TASK_QUEUED is stored by whoever creates it (API, web), not by the
  // scheduler: everyone creating tasks tells `control`, which publishes it.
  const scheduling = control;
  control = {
    taskCreated(task) {
      events.publish(task, false);
      scheduling.taskCreated(task);
    },
    killTask: (id) => scheduling.killTask(id),
    status: () => scheduling.status(),
  };
  const timers = new Timers(clock);
  const api = await createHttp(config, deps, {
    store,
    control,
    events,
    metrics,
    credentials,
    timers,
  });
  // Retention: finished tasks are deleted `retention_seconds` after they ended.
  if (config.retention_seconds > 0) {
    const prune = () =>
      pruneFinishedTasks(store, Math.floor(clock.now() / 1000) - config.retention_seconds)
        .then((n) => n > 0 && logger.info("Deleted finished tasks past retention", { deleted: n }))
        .catch((e) => logger.warn("Cannot apply retention", { error: (e as Error).message }));
    timers.every(RETENTION_INTERVAL_MS, prune);
    void prune();
  }
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    timers.close();
    events.close();
    await scheduler?.close();
    await callbacks.close();
    await store.close();
  };
  return appOf(api, { store, control, metrics, events }, close);
}

/** The `App` serving `api` over these parts, closed by `close`. */
function appOf(
  api: { fetch(req: Request): Response | Promise<Response> },
  parts: Pick<App, "store" | "control" | "metrics" | "events">,
  close: () => Promise<void>,
): App {
  return {
    fetch: (req) => api.fetch(req),
    ...parts,
    closeStreams: () => parts.events.close(),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** The API with the web pages mounted behind its middleware (log, metrics, authentication). */
async function createHttp(
  config: Config,
  deps: AppDeps,
  { store, control, events, metrics, credentials, timers }: {
    store: TaskStore;
    control: TaskControl;
    events: EventHub;
    metrics: Metrics;
    credentials: ReturnType<typeof parseHttpCredentials>;
    timers: Timers;
  },
) {
  const { logger } = deps;
  const web = await createWeb({ store, version: VERSION, urlPrefix: config.url_prefix, events });
  return createApi({
    store,
    control,
    events,
    clock: deps.clock ?? systemClock,
    logger,
    metrics,
    newId: deps.newId ?? newId,
    version: VERSION,
    urlPrefix: config.url_prefix,
    credentials,
    queueSize: config.queue_size,
    sandbox: createSandboxReader({ logger, fetch: deps.fetch, timers }),
    web,
    ha: deps.ha,
    bodyTimeout: config.body_timeout_seconds > 0
      ? { ms: config.body_timeout_seconds * 1000, timers }
      : null,
  });
}

/** A follower's app: the API and pages over a read-only store, live streams fed by `events`. */
async function serveFollower(
  config: Config,
  deps: AppDeps,
  { store, metrics, credentials }: {
    store: TaskStore;
    metrics: Metrics;
    credentials: ReturnType<typeof parseHttpCredentials>;
  },
): Promise<App> {
  const clock = deps.clock ?? systemClock;
  const events = new EventHub({ clock });
  const timers = new Timers(clock);
  const refuse = () =>
    new StoreUnavailableError("Cannot change a task here: this instance follows; the leader does");
  const control: TaskControl = {
    taskCreated() {},
    killTask: () => Promise.reject(refuse()),
    status: () => ({ master: config.master || null, state: "standby", frameworkId: null }),
  };
  const api = await createHttp(config, deps, {
    store,
    control,
    events,
    metrics,
    credentials,
    timers,
  });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    timers.close();
    events.close();
    await store.close();
  };
  return appOf(api, { store, control, metrics, events }, close);
}
