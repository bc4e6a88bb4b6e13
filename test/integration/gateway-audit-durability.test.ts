/**
 * `audit.durability`: with `durable`, a request's record is in the registry
 * by the time its response reaches the client, and a registry that cannot
 * store it turns the answer into 503 `audit_unavailable` (the record is not
 * lost: it stays queued and lands once the registry recovers). With
 * `batched`, the same record reaches the registry only at the next flush.
 */
import 'reflect-metadata';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MtlsError } from '../../src/errors/index.js';
import type { AuditRecord, Registry } from '../../src/gateway/registry/types.js';
import type { SqliteRegistry } from '../../src/gateway/registry/sqlite-registry.js';
import { tempDir } from '../helpers/pki.js';
import {
  refusalBody,
  makeInstitution,
  makeServerPki,
  mtlsRequest,
  openTestRegistry,
  registerInstitution,
  startEchoUpstream,
  startTestGateway,
  type EchoUpstream,
  type TestInstitution,
  type TestServerPki,
} from '../helpers/gateway-harness.js';
import { Teardown } from '../helpers/teardown.js';
import { at } from '../helpers/assert.js';

const { dir, cleanup } = tempDir('mtlskit-gw-durable-');
const teardown = new Teardown();
teardown.defer(cleanup);
let pki: TestServerPki;
let registry: SqliteRegistry;
let upstream: EchoUpstream;
let acme: TestInstitution;

before(async () => {
  pki = await makeServerPki(dir);
  registry = teardown.use(await openTestRegistry(dir));
  upstream = teardown.use(await startEchoUpstream());
  acme = await makeInstitution(dir, 'acme');
  await registerInstitution(registry, 'acme', acme.root.certPem, ['127.0.0.1']);
});

after(() => teardown.run());

/** Request records for `path` in the registry. */
async function stored(path: string): Promise<AuditRecord[]> {
  return (await registry.queryAudit({ limit: 1000 })).filter(
    (r) => r.kind === 'request' && r.path === path,
  );
}

const call = (port: number, path: string) =>
  mtlsRequest({
    port,
    ca: pki.serverCa.certPem,
    cert: acme.client.certPem,
    key: acme.client.keyPem,
    path,
  });

describe('audit durability', () => {
  test('durable: the request record is in the registry when the response arrives', async () => {
    // A long flush interval: only the commit can have stored it.
    const gw = await startTestGateway({
      registry,
      upstream: upstream.url,
      pki,
      values: { audit: { durability: 'durable', flushIntervalMs: 5_000 } },
    });
    try {
      for (const path of ['/durable/1', '/durable/2', '/durable/3']) {
        const r = await call(gw.port, path);
        assert.equal(r.status, 200);
        const rows = await stored(path);
        assert.equal(rows.length, 1, `${path} committed exactly once before its response`);
        assert.equal(at(rows, 0).status, 200);
        assert.equal(at(rows, 0).reason, 'ok');
      }
      // Concurrent requests share commits and still each land once.
      const paths = Array.from({ length: 20 }, (_, i) => `/durable/many/${i}`);
      const answers = await Promise.all(paths.map((p) => call(gw.port, p)));
      assert.ok(answers.every((a) => a.status === 200));
      for (const p of paths) assert.equal((await stored(p)).length, 1, p);
    } finally {
      await gw.close();
    }
    // Closing flushes nothing twice.
    assert.equal((await stored('/durable/1')).length, 1);
  });

  test('batched: the same record waits for the next flush', async () => {
    const gw = await startTestGateway({
      registry,
      upstream: upstream.url,
      pki,
      values: { audit: { durability: 'batched', flushIntervalMs: 5_000 } },
    });
    try {
      const r = await call(gw.port, '/batched/1');
      assert.equal(r.status, 200);
      assert.equal((await stored('/batched/1')).length, 0, 'not in the registry before the flush');
      assert.ok(
        gw.lines.some((l) => (l.audit as AuditRecord | undefined)?.path === '/batched/1'),
        'but in the log at once',
      );
      await gw.gateway.flushAudit();
      assert.equal((await stored('/batched/1')).length, 1);
    } finally {
      await gw.close();
    }
  });

  test('durable: a registry that cannot store the record answers 503 audit_unavailable, and the record lands later', async () => {
    let failing = true;
    const flaky: Registry = new Proxy(registry, {
      get(target, prop, receiver) {
        if (prop === 'appendAudit') {
          return async (records: AuditRecord[]) => {
            if (failing) throw new MtlsError('MTLS_FILE_WRITE', 'registry is down (test)');
            return target.appendAudit(records);
          };
        }
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const gw = await startTestGateway({
      registry: flaky,
      upstream: upstream.url,
      pki,
      values: { audit: { durability: 'durable', flushIntervalMs: 5_000 } },
    });
    try {
      const r = await call(gw.port, '/durable/down');
      assert.equal(r.status, 503);
      assert.deepEqual(refusalBody(r), { error: 'audit_unavailable', requestId: '<id>' });
      assert.equal((await stored('/durable/down')).length, 0);
      failing = false;
      await gw.gateway.flushAudit();
      assert.equal(
        (await stored('/durable/down')).length,
        1,
        'kept and stored once the registry is back',
      );
    } finally {
      await gw.close();
    }
  });
});
