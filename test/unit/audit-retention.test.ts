/**
 * Audit retention: records past `audit.retentionDays` leave the registry in
 * chunks, newer ones stay, the pass says what it deleted, a failing registry
 * is logged and tried again, and the gateway prunes at start from its
 * configuration.
 */
import 'reflect-metadata';
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { AuditRetention, PRUNE_CHUNK } from '../../src/gateway/audit-retention.js';
import { loadGatewayConfig } from '../../src/gateway/config.js';
import { MtlsError } from '../../src/errors/index.js';
import { openSqliteRegistry } from '../../src/gateway/registry/sqlite-registry.js';
import type { AuditRecord } from '../../src/gateway/registry/types.js';
import { memoryLogger } from '../helpers/gateway-harness.js';
import { tempDir } from '../helpers/pki.js';
import { defined } from '../helpers/assert.js';
import { auditRecord } from '../helpers/audit-record.js';

const { dir, cleanup } = tempDir('mtlskit-retention-');
after(cleanup);

const DAY = 86_400_000;
const NOW = Date.UTC(2030, 5, 1);

const audit = (time: number, detail: string): AuditRecord =>
  auditRecord({ time: new Date(time).toISOString(), detail });

describe('audit retention', () => {
  test('deletes every record older than the retention, in chunks, and keeps the rest', async () => {
    const reg = await openSqliteRegistry(join(dir, 'chunks.db'));
    try {
      const old = Array.from({ length: 2 * PRUNE_CHUNK + 7 }, (_, i) =>
        audit(NOW - 40 * DAY - i * 1000, 'old'),
      );
      await reg.appendAudit(old);
      await reg.appendAudit([audit(NOW - 29 * DAY, 'recent'), audit(NOW - 30 * DAY, 'at cutoff')]);
      const calls: number[] = [];
      const { logger, lines } = memoryLogger();
      const retention = new AuditRetention({
        registry: {
          pruneAudit: async (before, limit) => {
            const n = await reg.pruneAudit(before, limit);
            calls.push(n);
            return n;
          },
        },
        retentionDays: 30,
        logger,
        now: () => NOW,
      });
      const pass = await retention.runOnce();
      assert.equal(pass.deleted, old.length);
      assert.equal(pass.before, new Date(NOW - 30 * DAY).toISOString());
      assert.deepEqual(calls, [PRUNE_CHUNK, PRUNE_CHUNK, 7]);
      assert.deepEqual(
        (await reg.queryAudit({ limit: 10 })).map((r) => r.detail),
        ['recent', 'at cutoff'],
      );
      const line = defined(
        lines.find((l) => l.event === 'audit_retention'),
        'the retention log line',
      );
      assert.equal(line.deleted, old.length);
      assert.match(String(line.msg), /deleted 10007 audit record\(s\) older than 2030-05-02/);
      assert.equal((await retention.runOnce()).deleted, 0);
      assert.equal(lines.filter((l) => l.event === 'audit_retention').length, 1, 'nothing to say');
    } finally {
      await reg.close();
    }
  });

  test('a registry that fails is logged with the reason, and the next pass tries again', async () => {
    let fail = true;
    let pruned = 0;
    const passes: number[] = [];
    const { logger, lines } = memoryLogger();
    const retention = new AuditRetention({
      onPass: (r) => passes.push(r.deleted),
      registry: {
        pruneAudit: () => {
          if (fail)
            return Promise.reject(new MtlsError('MTLS_LOCK_TIMEOUT', 'the registry is locked'));
          pruned++;
          return Promise.resolve(0);
        },
      },
      retentionDays: 1,
      logger,
      intervalMs: 50,
    });
    retention.start();
    try {
      const deadline = Date.now() + 5_000;
      while (!lines.some((l) => l.event === 'audit_retention_failed') && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 10));
      const failed = lines.find((l) => l.event === 'audit_retention_failed');
      assert.match(JSON.stringify(failed?.err), /MTLS_LOCK_TIMEOUT/);
      assert.deepEqual(passes, [], 'a failed pass is no success for the metrics');
      fail = false;
      while (passes.length === 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 10));
      assert.ok(pruned > 0, 'a later pass ran');
      assert.equal(passes[0], 0, 'and counted as a success');
    } finally {
      await retention.stop();
    }
  });

  test('audit.retentionDays is whole days from 1 to 36500, or null (the default: keep everything)', () => {
    const load = (audit: unknown) =>
      loadGatewayConfig({
        values: {
          upstream: 'http://127.0.0.1:1',
          tls: { cert: join(dir, 'server.pem'), key: join(dir, 'server.key') },
          audit,
        },
        requireRegistry: false,
        env: {},
      });
    assert.equal(load({}).audit.retentionDays, null);
    assert.equal(load({ retentionDays: 400 }).audit.retentionDays, 400);
    assert.equal(load({ retentionDays: null }).audit.retentionDays, null);
    for (const bad of [0, 1.5, 40_000, '90d'])
      assert.throws(
        () => load({ retentionDays: bad }),
        (e: unknown) =>
          e instanceof MtlsError &&
          e.code === 'MTLS_CONFIG_INVALID' &&
          /audit\.retentionDays[\s\S]*PCI DSS/.test(e.message),
      );
  });
});
