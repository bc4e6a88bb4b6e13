/**
 * The counters of workers that have died. `/metrics` with workers is the sum
 * of the live workers' metrics; without this, a dead worker's counts would
 * drop out of every total, Prometheus would read the drop as a counter reset
 * and `rate()`/`increase()` would invent the survivors' whole totals as new
 * traffic, firing every alert built on `increase(...) > 0`. Kept: a dead
 * worker's counters and histograms as it last reported them, folded into one
 * set, so each total only ever grows. Gauges describe a live process
 * (connections open, its memory) and go with it. What a worker counted after
 * its last report before it died is lost (the primary takes one at every
 * scrape and every second between them): a total may lag by about a second
 * of that worker's traffic, never go back.
 */
import { AggregatorRegistry } from 'prom-client';

/** One process's metrics, as prom-client's `getMetricsAsJSON()` gives them. */
export type MetricsJson = object[];

/** The metric types whose values only grow, and so add up across time as across processes. */
const CUMULATIVE = new Set(['counter', 'histogram']);

const cumulativeOf = (metrics: MetricsJson): MetricsJson =>
  metrics.filter((m) => 'type' in m && CUMULATIVE.has(String(m.type)));

/** The folded counters of the workers that died. */
export class RetiredCounters {
  private folded: Promise<MetricsJson> = Promise.resolve([]);

  /** Folds in a dead worker's last reported metrics (its counters and histograms). */
  retire(lastReported: MetricsJson): void {
    const counters = cumulativeOf(lastReported);
    if (counters.length === 0) return;
    this.folded = this.folded.then(
      (before) => AggregatorRegistry.aggregate([before, counters]).getMetricsAsJSON(),
      // A fold that failed keeps what was folded before it (never expected:
      // both sides came out of prom-client).
      () => [],
    );
  }

  /** The folded set, one more process's worth for `AggregatorRegistry.aggregate`. */
  snapshot(): Promise<MetricsJson> {
    return this.folded;
  }
}
