/**
 * Request metrics by route, with each label set resolved once: the series of a handler
 * (duration, request and response sizes) and of a handler, method and status (count)
 * are kept, so a request records itself without building or rendering label objects.
 *
 * @module
 */
import type { CounterSeries, HistogramSeries, Metrics } from "../metrics/mod.ts";

interface HandlerSeries {
  duration: HistogramSeries;
  requestSize: HistogramSeries;
  responseSize: HistogramSeries;
  /** Request counts by method, then status code. */
  requests: Map<string, Map<number, CounterSeries>>;
}

/**
 * Label sets kept at most: handler names are the routes' own, but methods and codes
 * come from requests; beyond this the metrics are recorded with labels each time.
 */
const MAX_KEPT = 1_000;

/** Records requests into `http_requests_total` and the request histograms. */
export class RequestMetrics {
  #handlers = new Map<string, HandlerSeries>();
  #kept = 0;
  constructor(readonly metrics: Metrics) {}

  /**
   * One request: `micros` of handling, its body sizes from `Content-Length` (0 when
   * absent or unknown: not observed).
   */
  record(
    handler: string,
    method: string,
    code: number,
    micros: number,
    requestSize: number,
    responseSize: number,
  ): void {
    const h = this.#handler(handler);
    h.duration.observe(micros);
    if (requestSize) h.requestSize.observe(requestSize);
    if (responseSize) h.responseSize.observe(responseSize);
    this.#requests(h, handler, method, code).inc();
  }

  #handler(handler: string): HandlerSeries {
    let h = this.#handlers.get(handler);
    if (h === undefined) {
      const m = this.metrics;
      const labels = { handler };
      h = {
        duration: m.httpDuration.series(labels),
        requestSize: m.httpRequestSize.series(labels),
        responseSize: m.httpResponseSize.series(labels),
        requests: new Map(),
      };
      if (this.#kept++ < MAX_KEPT) this.#handlers.set(handler, h);
    }
    return h;
  }

  #requests(h: HandlerSeries, handler: string, method: string, code: number): CounterSeries {
    let byCode = h.requests.get(method);
    let series = byCode?.get(code);
    if (series !== undefined) return series;
    series = this.metrics.httpRequests.series({
      handler,
      method: method.toLowerCase(),
      code: String(code),
    });
    if (this.#kept++ < MAX_KEPT) {
      if (byCode === undefined) h.requests.set(method, byCode = new Map());
      byCode.set(code, series);
    }
    return series;
  }
}
