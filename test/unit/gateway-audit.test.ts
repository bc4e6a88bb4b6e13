/**
 * The audit sink's queue: records arriving or dropped while a registry write
 * is under way, a batch the registry only partly stored, and a registry that
 * fails (the error log's queue length, the failure time readiness reads).
 * Also the warning for an ops listener bound beyond loopback, and the
 * registry's audit INSERTs: any batch size, a fixed set of statement texts.
 */
import { after, describe, test } from 'node:test';
import { join } from 'node:path';
import type { SqlDriver, SqlQuery } from '../../src/gateway/registry/sql-driver.js';
import { openSqliteRegistry } from '../../src/gateway/registry/sqlite-registry.js';
import { tempDir } from '../helpers/pki.js';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { MtlsError } from '../../src/errors/index.js';
import { AuditSink, makeAuditRecord } from '../../src/gateway/audit.js';
import { warnIfOpsExposed } from '../../src/gateway/health.js';
import type { AuditRecord, Registry } from '../../src/gateway/registry/types.js';
import { at, defined } from '../helpers/assert.js';

function logger(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n'))
        if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { log: pino({ level: 'info' }, stream), lines };
}

const rec = (n: number): AuditRecord =>
  makeAuditRecord({ kind: 'request', ip: '192.0.2.1', reason: 'ok', path: `/r${n}` });
const paths = (rs: AuditRecord[]): string[] => rs.map((r) => r.path ?? '');

describe('audit sink', () => {
  test('records queued or dropped while a write is under way never shift the batch being written', async () => {
    const stored: AuditRecord[] = [];
    let release: () => void = () => undefined;
    let calls = 0;
    const registry = {
      async appendAudit(batch: AuditRecord[]) {
        calls++;
        if (calls === 1) await new Promise<void>((r) => (release = r));
        stored.push(...batch);
      },
    } as unknown as Registry;
    const { log, lines } = logger();
    const sink = new AuditSink({ registry, logger: log, maxQueue: 5, flushIntervalMs: 60_000 });
    try {
      for (let n = 1; n <= 3; n++) sink.record(rec(n));
      const flushing = sink.flush();
      await new Promise((r) => setImmediate(r));
      for (let n = 4; n <= 11; n++) sink.record(rec(n));
      assert.equal(sink.queued, 5, 'the bound applies to records not yet written');
      release();
      await flushing;
      await sink.flush();
      assert.deepEqual(paths(stored), ['/r1', '/r2', '/r3', '/r7', '/r8', '/r9', '/r10', '/r11']);
      const drop = lines.find((l) => typeof l.dropped === 'number');
      assert.equal(drop?.dropped, 3, 'exactly the three oldest queued records were dropped');
    } finally {
      await sink.close();
    }
  });

  test('a batch refused as invalid and then stored one by one up to a failure is not stored twice', async () => {
    const stored: AuditRecord[] = [];
    let r2Failures = 1;
    const registry = {
      appendAudit(batch: AuditRecord[]): Promise<void> {
        if (batch.length > 1)
          return Promise.reject(new MtlsError('MTLS_BAD_ARGUMENT', 'one record is invalid (test)'));
        const r = batch[0] as AuditRecord;
        if (r.path === '/r2' && r2Failures-- > 0)
          return Promise.reject(new MtlsError('MTLS_LOCK_TIMEOUT', 'busy (test)'));
        if (r.path === '/r4')
          return Promise.reject(new MtlsError('MTLS_BAD_ARGUMENT', 'invalid (test)'));
        stored.push(r);
        return Promise.resolve();
      },
    } as unknown as Registry;
    const { log } = logger();
    const sink = new AuditSink({ registry, logger: log, flushIntervalMs: 60_000 });
    try {
      for (let n = 1; n <= 4; n++) sink.record(rec(n));
      await sink.flush();
      assert.deepEqual(
        paths(stored),
        ['/r1'],
        'r2 failed for a transient reason: it and the rest stay queued',
      );
      assert.equal(sink.queued, 3);
      await sink.flush();
      assert.deepEqual(
        paths(stored),
        ['/r1', '/r2', '/r3'],
        'r1 is not written again; the invalid r4 is dropped',
      );
      assert.equal(sink.queued, 0);
    } finally {
      await sink.close();
    }
  });

  test('a failing registry: the error log counts every queued record, and the sink says since when it fails until a write works', async () => {
    let failing = true;
    const stored: AuditRecord[] = [];
    const registry = {
      appendAudit(batch: AuditRecord[]): Promise<void> {
        if (failing) return Promise.reject(new MtlsError('MTLS_FILE_WRITE', 'disk I/O error'));
        stored.push(...batch);
        return Promise.resolve();
      },
    } as unknown as Registry;
    const { log, lines } = logger();
    const sink = new AuditSink({ registry, logger: log, flushIntervalMs: 60_000 });
    try {
      for (let n = 1; n <= 3; n++) sink.record(rec(n));
      const before = Date.now();
      await sink.flush();
      const failed = defined(
        lines.find((l) => typeof l.queued === 'number' && l.level === 50),
        'an error line counting the queued records',
      );
      assert.equal(failed.queued, 3, 'the three records put back are counted');
      assert.match(String(failed.msg), /3 record\(s\) stay queued/);
      const failure = sink.failure();
      assert.ok(failure && failure.sinceMs >= before - 5 && failure.sinceMs <= Date.now());
      assert.match(failure.error, /disk I\/O error/);
      await assert.rejects(sink.commit(rec(4)), {
        code: 'MTLS_FILE_WRITE',
        message: 'disk I/O error',
      });
      assert.equal(
        sink.failure()?.sinceMs,
        failure.sinceMs,
        'a later failure keeps the first failure time',
      );
      failing = false;
      await sink.flush();
      assert.equal(sink.failure(), null);
      assert.deepEqual(paths(stored), ['/r1', '/r2', '/r3', '/r4']);
    } finally {
      await sink.close();
    }
  });
});

describe('ops listener exposure', () => {
  test('a non-loopback ops address logs a warning; loopback ones do not', () => {
    const { log, lines } = logger();
    for (const host of ['127.0.0.1', '127.3.2.1', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1'])
      assert.equal(warnIfOpsExposed(host, log), false, host);
    assert.equal(lines.length, 0);
    for (const host of ['0.0.0.0', '::', '10.1.2.3', '192.0.2.7', 'ops.example'])
      assert.equal(warnIfOpsExposed(host, log), true, host);
    assert.equal(lines.length, 5);
    assert.equal(at(lines, 0).level, 40);
    assert.match(
      String(at(lines, 0).msg),
      /bound to 0\.0\.0\.0, beyond loopback, without authentication/,
    );
  });
});

describe('registry audit append', () => {
  const { dir, cleanup } = tempDir('mtlskit-audit-append-');
  after(cleanup);

  test('batches of any size are stored once each, in order, in one transaction, through three INSERT texts', async () => {
    const registry = await openSqliteRegistry(join(dir, 'registry.db'));
    try {
      // The registry's SQL driver, to see every statement it runs.
      const driver = (registry as unknown as { driver: SqlDriver }).driver;
      const texts = new Set<string>();
      let transactions = 0;
      const transaction = driver.transaction.bind(driver);
      driver.transaction = <T>(
        mode: Parameters<SqlDriver['transaction']>[0],
        fn: (q: SqlQuery) => Promise<T>,
      ) =>
        transaction(mode, (q) => {
          if (mode === 'audit') transactions++;
          return fn({
            ...q,
            run: (sql, params) => {
              if (sql.startsWith('INSERT INTO audit_log')) texts.add(sql);
              return q.run(sql, params);
            },
          });
        });
      let n = 0;
      const sizes = [1, 7, 8, 9, 63, 64, 65, 137, 500];
      for (const size of sizes)
        await registry.appendAudit(Array.from({ length: size }, () => rec(n++)));
      assert.equal(transactions, sizes.length, 'one transaction per batch');
      assert.equal(texts.size, 3, 'rows of 64, 8 and 1: three statements to prepare');
      const stored = await registry.queryAudit({ limit: 10_000 });
      assert.deepEqual(
        paths(stored).reverse(),
        Array.from({ length: n }, (_, i) => `/r${i}`),
        'every record once, in order',
      );
    } finally {
      await registry.close();
    }
  });
});
