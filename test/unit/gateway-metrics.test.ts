import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeAuditRecord } from '../../src/gateway/audit.js';
import { GatewayMetrics } from '../../src/gateway/metrics.js';

/** The value of one exposed sample, by its full name and labels as Prometheus prints them. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('counts taken between scrapes are exposed exactly once, and the gauges read the state at scrape time', async () => {
  const m = new GatewayMetrics(false);
  const conn = (reason: 'ok' | 'unknown_ca') =>
    makeAuditRecord({ kind: 'connection', ip: '192.0.2.1', reason });
  m.observe(conn('ok'));
  m.observe(conn('ok'));
  m.observe(conn('unknown_ca'));
  m.observe(
    makeAuditRecord({ kind: 'request', ip: '192.0.2.1', reason: 'ok', status: 204, durationMs: 3 }),
  );
  m.setOpenConnections(5);
  m.forwardDelta(1);
  m.forwardDelta(1);
  m.forwardDelta(-1);

  let text = await m.registry.metrics();
  assert.equal(sample(text, 'mtls_gateway_connections_total{outcome="accepted",reason="ok"}'), 2);
  assert.equal(
    sample(text, 'mtls_gateway_connections_total{outcome="rejected",reason="unknown_ca"}'),
    1,
  );
  assert.equal(
    sample(text, 'mtls_gateway_requests_total{outcome="accepted",reason="ok",status="2xx"}'),
    1,
  );
  assert.equal(sample(text, 'mtls_gateway_request_duration_seconds_count{reason="ok"}'), 1);
  assert.equal(sample(text, 'mtls_gateway_open_connections'), 5);
  assert.equal(sample(text, 'mtls_gateway_requests_in_flight'), 1);

  // A second scrape with nothing new: the same totals, not twice as much.
  text = await m.registry.metrics();
  assert.equal(sample(text, 'mtls_gateway_connections_total{outcome="accepted",reason="ok"}'), 2);

  m.observe(conn('ok'));
  m.setOpenConnections(0);
  m.forwardDelta(-1);
  text = await m.registry.metrics();
  assert.equal(sample(text, 'mtls_gateway_connections_total{outcome="accepted",reason="ok"}'), 3);
  assert.equal(sample(text, 'mtls_gateway_open_connections'), 0);
  assert.equal(sample(text, 'mtls_gateway_requests_in_flight'), 0);
});
