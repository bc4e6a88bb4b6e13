/**
 * A dead worker's counters stay in the instance's totals: counters and
 * histograms are folded in, gauges (a live process's state) are not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { RetiredCounters } from '../../src/gateway/workers/retired-counters.js';

async function workerMetrics(requests: number, open: number): Promise<object[]> {
  const registry = new Registry();
  new Counter({ name: 'reqs_total', help: 'h', labelNames: ['status'], registers: [registry] }).inc(
    { status: '2xx' },
    requests,
  );
  new Gauge({ name: 'open', help: 'h', registers: [registry] }).set(open);
  const h = new Histogram({ name: 'dur', help: 'h', buckets: [1], registers: [registry] });
  for (let i = 0; i < requests; i++) h.observe(0.5);
  return registry.getMetricsAsJSON();
}

test('retired workers add their counters and histograms to the live totals, not their gauges', async () => {
  const retired = new RetiredCounters();
  assert.deepEqual(await retired.snapshot(), []);
  retired.retire(await workerMetrics(5, 3));
  retired.retire(await workerMetrics(7, 4));
  const live = await workerMetrics(2, 1);
  const text = await AggregatorRegistry.aggregate([live, await retired.snapshot()]).metrics();
  assert.match(text, /^reqs_total\{status="2xx"\} 14$/m);
  assert.match(text, /^dur_count 14$/m);
  assert.match(text, /^dur_bucket\{le="1"\} 14$/m);
  assert.match(text, /^open 1$/m, "only the live worker's gauge");
});
