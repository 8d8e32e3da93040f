/**
 * A small Prometheus text-format (0.0.4) registry: counters, gauges and histograms
 * with labels, plus the metrics Eremetic exposes under the original names
 * (reference §9).
 *
 * ```ts
 * import { createMetrics } from "./mod.ts";
 * const m = createMetrics();
 * m.tasksCreated.inc();
 * console.log(m.registry.render());
 * ```
 *
 * @module
 */

type Labels = Record<string, string>;

/** Rendered label sets by their values, so a hot path does not sort and escape each time. */
const LABEL_KEYS = new Map<string, string>();
const MAX_LABEL_KEYS = 10_000;

function labelKey(labels: Labels): string {
  let quick = "";
  for (const k in labels) quick += `${k}\u0000${labels[k]}\u0001`;
  if (quick === "") return "";
  const known = LABEL_KEYS.get(quick);
  if (known !== undefined) return known;
  const keys = Object.keys(labels).sort();
  const key = keys.map((k) => `${k}="${escape(labels[k])}"`).join(",");
  if (LABEL_KEYS.size < MAX_LABEL_KEYS) LABEL_KEYS.set(quick, key);
  return key;
}

function escape(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

interface Metric {
  render(): string;
}

/** One label set of a counter, resolved once (hot paths keep it instead of labels). */
export interface CounterSeries {
  inc(by?: number): void;
}

/** One label set of a histogram, resolved once. */
export interface HistogramSeries {
  observe(value: number): void;
}

/** A monotonically increasing value per label set. */
export class Counter implements Metric {
  #values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string) {}
  inc(labels: Labels = {}, by = 1): void {
    const k = labelKey(labels);
    this.#values.set(k, (this.#values.get(k) ?? 0) + by);
  }
  /** The series of `labels`, for `inc` without rendering its label set each time. */
  series(labels: Labels): CounterSeries {
    const k = labelKey(labels);
    const values = this.#values;
    return { inc: (by = 1) => void values.set(k, (values.get(k) ?? 0) + by) };
  }
  get(labels: Labels = {}): number {
    return this.#values.get(labelKey(labels)) ?? 0;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const [k, v] of this.#values) lines.push(`${this.name}${k ? `{${k}}` : ""} ${v}`);
    return lines.join("\n");
  }
}

/** A value that goes up and down. */
export class Gauge implements Metric {
  #values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string) {
    this.#values.set("", 0);
  }
  set(value: number, labels: Labels = {}): void {
    this.#values.set(labelKey(labels), value);
  }
  inc(labels: Labels = {}, by = 1): void {
    const k = labelKey(labels);
    this.#values.set(k, (this.#values.get(k) ?? 0) + by);
  }
  dec(labels: Labels = {}, by = 1): void {
    this.inc(labels, -by);
  }
  get(labels: Labels = {}): number {
    return this.#values.get(labelKey(labels)) ?? 0;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`];
    for (const [k, v] of this.#values) lines.push(`${this.name}${k ? `{${k}}` : ""} ${v}`);
    return lines.join("\n");
  }
}

/** Observations counted into cumulative buckets. */
export class Histogram implements Metric {
  #series = new Map<string, { counts: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
  ) {}
  observe(value: number, labels: Labels = {}): void {
    this.#record(labelKey(labels), value);
  }
  /** The series of `labels`, for `observe` without rendering its label set each time. */
  series(labels: Labels): HistogramSeries {
    const k = labelKey(labels);
    return { observe: (value) => this.#record(k, value) };
  }
  #record(k: string, value: number): void {
    let s = this.#series.get(k);
    if (!s) {
      s = { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.#series.set(k, s);
    }
    const buckets = this.buckets;
    for (let i = 0; i < buckets.length; i++) if (value <= buckets[i]) s.counts[i]++;
    s.sum += value;
    s.count++;
  }
  count(labels: Labels = {}): number {
    return this.#series.get(labelKey(labels))?.count ?? 0;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [k, s] of this.#series) {
      const pre = k ? `${k},` : "";
      this.buckets.forEach((b, i) =>
        lines.push(`${this.name}_bucket{${pre}le="${b}"} ${s.counts[i]}`)
      );
      lines.push(`${this.name}_bucket{${pre}le="+Inf"} ${s.count}`);
      lines.push(`${this.name}_sum${k ? `{${k}}` : ""} ${s.sum}`);
      lines.push(`${this.name}_count${k ? `{${k}}` : ""} ${s.count}`);
    }
    return lines.join("\n");
  }
}

/** A set of metrics rendered together. */
export class Registry {
  #metrics: Metric[] = [];
  #collectors: (() => void)[] = [];
  register<T extends Metric>(m: T): T {
    this.#metrics.push(m);
    return m;
  }
  /** Runs before each render, to refresh gauges read from elsewhere. */
  onCollect(fn: () => void): void {
    this.#collectors.push(fn);
  }
  render(): string {
    for (const c of this.#collectors) c();
    return this.#metrics.map((m) => m.render()).join("\n") + "\n";
  }
}

const LATENCY_BUCKETS_SECONDS = [0.005, 0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900];
const HTTP_BUCKETS_MICROSECONDS = [100, 250, 500, 1000, 2500, 5000, 10000, 25000, 100000, 1e6];
const SIZE_BUCKETS_BYTES = [64, 256, 1024, 4096, 16384, 65536, 262144, 1048576];

/** Every metric Eremetic exposes. */
export function createMetrics() {
  const registry = new Registry();
  const r = <T extends Metric>(m: T) => registry.register(m);
  const startedAt = Date.now();
  const metrics = {
    registry,
    tasksCreated: r(new Counter("scheduler_tasks_created", "Tasks accepted into the queue")),
    tasksLaunched: r(new Counter("scheduler_tasks_launched", "Tasks sent to Mesos in a LAUNCH")),
    tasksTerminated: r(
      new Counter(
        "scheduler_tasks_terminated",
        "Tasks that reached a terminal state, by status and sequence (retry or final)",
      ),
    ),
    tasksDelayed: r(
      new Counter("scheduler_tasks_delayed", "Queued tasks no offer could hold in an offer round"),
    ),
    tasksRunning: r(new Gauge("scheduler_tasks_running", "Tasks currently running")),
    queueSize: r(new Gauge("scheduler_queue_size", "Tasks waiting in the queue")),
    queueWait: r(
      new Histogram(
        "scheduler_queue_wait_seconds",
        "Time from submission (or re-queue) to launch",
        LATENCY_BUCKETS_SECONDS,
      ),
    ),
    submitToRunning: r(
      new Histogram(
        "scheduler_submit_to_running_seconds",
        "Time from submission to the first TASK_RUNNING",
        LATENCY_BUCKETS_SECONDS,
      ),
    ),
    callbacksSent: r(
      new Counter("callback_deliveries_total", "Callback deliveries by outcome"),
    ),
    httpRequests: r(
      new Counter("http_requests_total", "HTTP requests by route name, method and status code"),
    ),
    httpDuration: r(
      new Histogram(
        "http_request_duration_microseconds",
        "HTTP request latency by route name",
        HTTP_BUCKETS_MICROSECONDS,
      ),
    ),
    httpRequestSize: r(
      new Histogram("http_request_size_bytes", "HTTP request body sizes", SIZE_BUCKETS_BYTES),
    ),
    httpResponseSize: r(
      new Histogram("http_response_size_bytes", "HTTP response body sizes", SIZE_BUCKETS_BYTES),
    ),
    sseStreams: r(
      new Gauge("http_sse_streams", "Open Server-Sent Events streams, by route"),
    ),
    sseStreamsClosed: r(
      new Counter(
        "http_sse_streams_closed_total",
        "Server-Sent Events streams closed, by route and reason (ended, cancelled, overflow: the client fell behind, shutdown)",
      ),
    ),
    processRss: r(new Gauge("process_resident_memory_bytes", "Resident memory size in bytes")),
    processStart: r(
      new Gauge("process_start_time_seconds", "Start time of the process since the epoch"),
    ),
  };
  metrics.processStart.set(Math.floor(startedAt / 1000));
  registry.onCollect(() => {
    try {
      metrics.processRss.set(Deno.memoryUsage().rss);
    } catch { /* not available */ }
  });
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;
