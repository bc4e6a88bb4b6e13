/**
 * The alert rules an operator loads into Prometheus (deploy/prometheus-alerts.yml)
 * are valid for Prometheus itself, and each fires on the series that should
 * raise it and stays quiet otherwise (promtool's rule unit tests,
 * deploy/prometheus-alerts.test.yml). That every metric they name is one the
 * gateway exposes is checked against a running gateway in
 * gateway-workers.test.ts, whose primary serves all of them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ALERT_RULES,
  ALERT_RULE_TESTS,
  alertRuleMetricNames,
  havePromtool,
  promtool,
} from '../helpers/promtool.js';

const skip = !havePromtool() && 'promtool is not installed (.ci/run installs prometheus)';

test('promtool accepts the alert rules', { skip }, () => {
  const r = promtool(['check', 'rules', ALERT_RULES]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /SUCCESS: 14 rules found/);
});

test(
  "promtool's unit tests of every rule pass: each fires when it should, with its labels and text, and not before",
  { skip },
  () => {
    const r = promtool(['test', 'rules', ALERT_RULE_TESTS]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /SUCCESS/);
  },
);

test('the rules name only gateway metrics, among them the audit trail, CRL, certificate, credential reload and worker ones', () => {
  assert.deepEqual(alertRuleMetricNames(), [
    'mtls_gateway_audit_oldest_record_age_seconds',
    'mtls_gateway_audit_retention_last_success_timestamp_seconds',
    'mtls_gateway_audit_retention_seconds',
    'mtls_gateway_certificate_expiry_seconds',
    'mtls_gateway_connections_total',
    'mtls_gateway_credential_last_reload_successful',
    'mtls_gateway_crl_fetches_total',
    'mtls_gateway_crl_next_update_seconds',
    'mtls_gateway_requests_total',
    'mtls_gateway_worker_restarts_total',
    'mtls_gateway_workers',
  ]);
});
