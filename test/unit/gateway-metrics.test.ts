import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeAuditRecord } from '../../src/gateway/audit.js';
import { AuditTrailMetrics, GatewayMetrics } from '../../src/gateway/metrics.js';
import { Registry as PromRegistry } from 'prom-client';

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

test("the certificate expiry gauge reads each of the gateway's own certificates at scrape time, negative once past", async () => {
  const m = new GatewayMetrics(false);
  let server = new Date(Date.now() + 10 * 86_400_000);
  m.trackCertificates(() => [
    { certificate: 'server', notAfter: server },
    { certificate: 'upstream_client', notAfter: new Date(Date.now() - 3_600_000) },
  ]);
  let text = await m.registry.metrics();
  const serverSeconds = sample(
    text,
    'mtls_gateway_certificate_expiry_seconds{certificate="server"}',
  );
  assert.ok(
    serverSeconds !== undefined && Math.abs(serverSeconds - 864_000) < 5,
    String(serverSeconds),
  );
  const upstream = sample(
    text,
    'mtls_gateway_certificate_expiry_seconds{certificate="upstream_client"}',
  );
  assert.ok(upstream !== undefined && Math.abs(upstream + 3_600) < 5, String(upstream));
  // A renewed credential shows at the next scrape.
  server = new Date(Date.now() + 90 * 86_400_000);
  text = await m.registry.metrics();
  const renewed = sample(text, 'mtls_gateway_certificate_expiry_seconds{certificate="server"}');
  assert.ok(renewed !== undefined && renewed > 89 * 86_400, String(renewed));
});

test("the audit trail's oldest record is read from the registry at every scrape, as an age; NaN when the registry cannot say", async () => {
  const prom = new PromRegistry();
  const now = Date.UTC(2030, 0, 10);
  let answer: () => Promise<string | null> = () => Promise.resolve('2030-01-08T00:00:00.000Z');
  new AuditTrailMetrics(
    [prom],
    () => answer(),
    null,
    () => now,
  );
  const age = 'mtls_gateway_audit_oldest_record_age_seconds';
  let text = await prom.metrics();
  assert.equal(sample(text, age), 2 * 86_400);
  assert.ok(!text.includes('retention'), 'no retention metrics without a retention');
  // Pruned since: the next scrape reads the new oldest record.
  answer = () => Promise.resolve('2030-01-09T23:00:00.000Z');
  assert.equal(sample(await prom.metrics(), age), 3_600);
  answer = () => Promise.resolve(null);
  assert.equal(sample(await prom.metrics(), age), 0, 'an empty audit table has no old record');
  // A registry that fails reads NaN (no alert on age fires on it); the scrape itself still answers.
  answer = () => Promise.reject(new Error('database is locked'));
  text = await prom.metrics();
  assert.ok(Number.isNaN(sample(text, age)), text);
});

test('with a retention, its length is exposed, and each successful pass adds its deletions and sets the time of the last success', async () => {
  const prom = new PromRegistry();
  const trail = new AuditTrailMetrics([prom], () => Promise.resolve(null), 400);
  let text = await prom.metrics();
  assert.equal(
    sample(text, 'mtls_gateway_audit_retention_seconds'),
    400 * 86_400,
    'the alert compares with it',
  );
  assert.equal(sample(text, 'mtls_gateway_audit_retention_deleted_total'), 0);
  assert.equal(
    sample(text, 'mtls_gateway_audit_retention_last_success_timestamp_seconds'),
    0,
    'never, until a pass has succeeded',
  );
  trail.retentionPass(5000, Date.UTC(2030, 0, 1));
  trail.retentionPass(7, Date.UTC(2030, 0, 1, 1));
  text = await prom.metrics();
  assert.equal(sample(text, 'mtls_gateway_audit_retention_deleted_total'), 5007);
  assert.equal(
    sample(text, 'mtls_gateway_audit_retention_last_success_timestamp_seconds'),
    Date.UTC(2030, 0, 1, 1) / 1000,
  );
});
