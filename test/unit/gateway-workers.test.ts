/**
 * The pieces of `--workers` that need no process: the `workers` key (file,
 * env, flag, `auto`, the CPU-count default, bad values) and the restart
 * policy (backoff, reset after a stable run, giving up on a crash loop), and
 * the instance's health made of its workers' states.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { isMtlsError } from '../../src/errors/index.js';
import { loadGatewayConfig } from '../../src/gateway/config.js';
import { combineHealth, type HealthState } from '../../src/gateway/health.js';
import {
  decideRestart,
  DEFAULT_RESTART_POLICY,
  silentDeathHint,
} from '../../src/gateway/workers/restart-policy.js';

const base = {
  upstream: 'http://127.0.0.1:8080',
  registry: 'reg.db',
  tls: { cert: 's.pem', key: 's.key' },
};

describe('workers key', () => {
  test('defaults to one per CPU; auto means the same; file < env < flag', () => {
    assert.equal(loadGatewayConfig({ values: base, env: {} }).workers, availableParallelism());
    assert.equal(
      loadGatewayConfig({ values: { ...base, workers: 'auto' }, env: {} }).workers,
      availableParallelism(),
    );
    assert.equal(loadGatewayConfig({ values: { ...base, workers: 3 }, env: {} }).workers, 3);
    assert.equal(
      loadGatewayConfig({ values: { ...base, workers: 3 }, env: { MTLS_GATEWAY_WORKERS: '4' } })
        .workers,
      4,
    );
    assert.equal(
      loadGatewayConfig({
        values: { ...base, workers: 3 },
        env: { MTLS_GATEWAY_WORKERS: '4' },
        overrides: { workers: '1' },
      }).workers,
      1,
    );
  });

  test('refuses 0, fractions, words and absurd counts, naming the key and the fix', () => {
    for (const bad of [0, 2.5, 'two', -1, 5000]) {
      assert.throws(
        () => loadGatewayConfig({ values: { ...base, workers: bad }, env: {} }),
        (e: unknown) =>
          isMtlsError(e, 'MTLS_CONFIG_INVALID') &&
          /key `workers`: must be a whole number from 1 to 1024 or "auto"/.test(e.message) &&
          /fix: give a whole number/.test(e.message),
        String(bad),
      );
    }
  });
});

describe('restart policy', () => {
  test('a worker that had been serving is restarted at once and its slot starts afresh', () => {
    assert.deepEqual(decideRestart(3, DEFAULT_RESTART_POLICY.stableAfterMs), {
      action: 'restart',
      delayMs: 0,
      quickFailures: 0,
    });
  });

  test('quick deaths in a row: the delay doubles, is capped, and the fifth gives up', () => {
    let failures = 0;
    const delays: number[] = [];
    for (;;) {
      const d = decideRestart(failures, 50);
      failures = d.quickFailures;
      if (d.action === 'give-up') break;
      delays.push(d.delayMs);
    }
    assert.deepEqual(delays, [100, 200, 400, 800]);
    assert.equal(failures, 5);
    assert.deepEqual(decideRestart(5, 50, { maxQuickFailures: 20, maxDelayMs: 1_000 }), {
      action: 'restart',
      delayMs: 1_000,
      quickFailures: 6,
    });
  });
});

describe('the hint when workers keep dying without an error of their own', () => {
  test('SIGKILL points at the out-of-memory killer, another signal at a bug, an exit code at the log', () => {
    assert.match(silentDeathHint('SIGKILL', null), /out-of-memory killer: look in `dmesg`/);
    assert.equal(
      silentDeathHint('SIGSEGV', null),
      'The worker crashed on SIGSEGV: rerun with MTLS_DEBUG=1 and report its stderr as a bug in mtlskit.',
    );
    assert.match(
      silentDeathHint(null, 7),
      /^The worker exited with code 7 before reporting an error/,
    );
  });
});

describe('instance health over its workers', () => {
  const healthy: HealthState = {
    listening: true,
    draining: false,
    trustLoaded: true,
    trustStale: false,
    registryVersion: 12,
    registryError: null,
    registryAppliedAt: '2026-12-06T10:00:00.000Z',
    serverCertNotAfter: '2027-03-01T00:00:00.000Z',
    auditFailingSeconds: null,
    auditError: null,
    auditMaxFailureSeconds: 60,
  };

  test('no worker answered: no health; one worker: its own', () => {
    assert.equal(combineHealth([]), null);
    assert.deepEqual(combineHealth([healthy]), healthy);
  });

  test('each figure as the worst worker has it', () => {
    const lagging: HealthState = {
      ...healthy,
      registryVersion: 10,
      registryError: 'SQLITE_BUSY: database is locked',
      registryAppliedAt: '2026-12-06T09:59:00.000Z',
      // Not reloaded yet after SIGHUP: still serving the older certificate.
      serverCertNotAfter: '2027-01-15T00:00:00.000Z',
      auditFailingSeconds: 5,
      auditError: 'disk I/O error',
    };
    const stale: HealthState = { ...healthy, trustStale: true, auditFailingSeconds: 2 };
    // The lagging worker's figures, and the stale one's staleness.
    assert.deepEqual(combineHealth([healthy, lagging, stale]), { ...lagging, trustStale: true });
    assert.equal(combineHealth([healthy, { ...healthy, listening: false }])?.listening, false);
    assert.equal(combineHealth([healthy, { ...healthy, draining: true }])?.draining, true);
    assert.equal(combineHealth([{ ...healthy, trustLoaded: false }, healthy])?.trustLoaded, false);
  });

  test('a worker without a certificate date or a registry version does not hide the others', () => {
    const unknown: HealthState = {
      ...healthy,
      registryVersion: null,
      registryAppliedAt: null,
      serverCertNotAfter: null,
    };
    const h = combineHealth([unknown, healthy]);
    assert.ok(h);
    assert.equal(h.registryVersion, 12);
    assert.equal(h.serverCertNotAfter, '2027-03-01T00:00:00.000Z');
    assert.equal(h.registryAppliedAt, '2026-12-06T10:00:00.000Z');
  });
});
