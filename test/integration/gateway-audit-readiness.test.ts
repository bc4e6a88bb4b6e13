/**
 * Never fail open on the audit trail: while audit records cannot reach the
 * registry, /readyz turns 503 (with the reason) once `audit.maxFailureSeconds`
 * has passed, the error log counts the records waiting, and both recover when
 * the registry takes writes again; no record is lost.
 */
import 'reflect-metadata';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MtlsError } from '../../src/errors/index.js';
import type { SqliteRegistry } from '../../src/gateway/registry/sqlite-registry.js';
import type { AuditRecord, Registry } from '../../src/gateway/registry/types.js';
import { tempDir } from '../helpers/pki.js';
import {
  makeInstitution,
  makeServerPki,
  mtlsRequest,
  openTestRegistry,
  registerInstitution,
  startEchoUpstream,
  startTestGateway,
  waitFor,
  type EchoUpstream,
  type TestGateway,
  type TestInstitution,
  type TestServerPki,
} from '../helpers/gateway-harness.js';
import { Teardown } from '../helpers/teardown.js';
import { auditRecord } from '../helpers/audit-record.js';

const { dir, cleanup } = tempDir('mtlskit-gw-audit-ready-');
const teardown = new Teardown();
teardown.defer(cleanup);
let pki: TestServerPki;
let registry: SqliteRegistry;
let upstream: EchoUpstream;
let gw: TestGateway;
let acme: TestInstitution;
/** While true, the registry refuses audit writes as a full or read-only disk would. */
let auditFails = false;

before(async () => {
  pki = await makeServerPki(dir);
  registry = teardown.use(await openTestRegistry(dir));
  upstream = teardown.use(await startEchoUpstream());
  acme = await makeInstitution(dir, 'acme');
  await registerInstitution(registry, 'acme', acme.root.certPem, ['127.0.0.1']);
  // The registry seam of startGateway: everything is the real SQLite registry
  // except audit writes, which fail on demand.
  const failing = new Proxy(registry, {
    get(target, prop, receiver) {
      if (prop === 'appendAudit') {
        return (records: AuditRecord[]) =>
          auditFails
            ? Promise.reject(
                new MtlsError('MTLS_FILE_WRITE', 'attempt to write a readonly database'),
              )
            : target.appendAudit(records);
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  }) as Registry;
  gw = teardown.use(
    await startTestGateway({
      registry: failing,
      upstream: upstream.url,
      pki,
      values: { audit: { flushIntervalMs: 50, maxFailureSeconds: 1 } },
    }),
  );
});

after(async () => {
  auditFails = false;
  await teardown.run();
});

const readyz = async (): Promise<{
  status: number;
  body: { problems: string[]; auditFailingSeconds: number | null };
}> => {
  const r = await fetch(`http://127.0.0.1:${gw.gateway.opsAddress()?.port}/readyz`);
  return {
    status: r.status,
    body: (await r.json()) as { problems: string[]; auditFailingSeconds: number | null },
  };
};

describe('readiness and the audit trail', () => {
  test('audit writes failing past audit.maxFailureSeconds make /readyz 503 with the reason; it recovers and nothing is lost', async () => {
    assert.equal((await readyz()).status, 200);
    auditFails = true;
    const call = (path: string) =>
      mtlsRequest({
        port: gw.port,
        ca: pki.serverCa.certPem,
        cert: acme.client.certPem,
        key: acme.client.keyPem,
        path,
      });
    assert.equal(
      (await call('/while-failing-1')).status,
      200,
      'requests are still served (the log holds the records)',
    );
    // Failing, but not yet for audit.maxFailureSeconds: still ready.
    await waitFor(
      () => gw.lines.some((l) => /audit: writing to the registry failed/.test(String(l.msg))),
      3_000,
      'the audit failure log line',
    );
    const early = await readyz();
    assert.equal(early.status, 200, JSON.stringify(early.body));
    const failedLine = gw.lines.find((l) =>
      /audit: writing to the registry failed/.test(String(l.msg)),
    );
    assert.ok(
      typeof failedLine?.queued === 'number' && failedLine.queued >= 1,
      `the log counts the records waiting: ${JSON.stringify(failedLine)}`,
    );
    const notReady = await waitFor(
      async () => {
        const r = await readyz();
        return r.status === 503 ? r : null;
      },
      5_000,
      '/readyz 503',
    );
    assert.ok(
      notReady.body.problems.some((p) =>
        /audit records have not reached the registry for \d+ s: attempt to write a readonly database/.test(
          p,
        ),
      ),
      notReady.body.problems.join('; '),
    );
    assert.ok((notReady.body.auditFailingSeconds ?? 0) >= 1);
    await call('/while-failing-2');
    auditFails = false;
    await waitFor(async () => (await readyz()).status === 200, 5_000, '/readyz 200 again');
    assert.equal((await readyz()).body.auditFailingSeconds, null);
    assert.ok(
      gw.lines.some((l) => /audit: writing to the registry works again/.test(String(l.msg))),
    );
    const stored = await registry.queryAudit({ limit: 100 });
    for (const path of ['/while-failing-1', '/while-failing-2'])
      assert.equal(
        stored.filter((r) => r.path === path).length,
        1,
        `${path} reached the registry exactly once`,
      );
  });
  test('audit.retentionDays: a gateway starting on a registry deletes the records past it and keeps the others', async () => {
    const old = new Date(Date.now() - 3 * 86_400_000).toISOString();
    const record = (time: string, detail: string): AuditRecord => auditRecord({ time, detail });
    await registry.appendAudit([
      record(old, 'three days old'),
      record(new Date().toISOString(), 'from today'),
    ]);
    const pruning = await startTestGateway({
      registry,
      upstream: upstream.url,
      pki,
      values: { audit: { flushIntervalMs: 50, retentionDays: 1 } },
    });
    try {
      const line = await waitFor(
        () => pruning.lines.find((l) => l.event === 'audit_retention') ?? null,
        5_000,
        'the retention log line',
      );
      assert.ok(Number(line.deleted) >= 1);
      const details = (await registry.queryAudit({ limit: 1000 })).map((r) => r.detail);
      assert.ok(!details.includes('three days old'), 'the old record is gone');
      assert.ok(details.includes('from today'), 'the recent record stays');
      // What an SRE alerts on: the pass's deletions, its time, and the oldest record left.
      const metrics = await (
        await fetch(`http://127.0.0.1:${pruning.gateway.opsAddress()?.port}/metrics`)
      ).text();
      const value = (name: string): number =>
        Number(
          metrics
            .split('\n')
            .find((l) => l.startsWith(`${name} `))
            ?.split(' ')[1],
        );
      assert.ok(value('mtls_gateway_audit_retention_deleted_total') >= 1, metrics);
      const lastSuccess = value('mtls_gateway_audit_retention_last_success_timestamp_seconds');
      assert.ok(Math.abs(Date.now() / 1000 - lastSuccess) < 60, String(lastSuccess));
      const age = value('mtls_gateway_audit_oldest_record_age_seconds');
      assert.ok(age >= 0 && age < 86_400, `the oldest record left is today's (${age} s)`);
    } finally {
      await pruning.close();
    }
  });
});
