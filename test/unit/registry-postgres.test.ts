import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import pg from 'pg';
import { MtlsError } from '../../src/errors/index.js';
import { onboardCaChain } from '../../src/gateway/onboarding.js';
import { openRegistry } from '../../src/gateway/registry/index.js';
import { MIGRATIONS } from '../../src/gateway/registry/migrations.js';
import { openPostgresRegistry, type PostgresRegistry } from '../../src/gateway/registry/postgres-registry.js';
import type { RegistryChange } from '../../src/gateway/registry/types.js';
import { makeCa, tempDir, type TestCa } from '../helpers/pki.js';

// The machine's PostgreSQL (trust auth). Override with MTLS_TEST_PG_URL.
const URL_ = process.env.MTLS_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

async function reachable(): Promise<boolean> {
  const c = new pg.Client({ connectionString: URL_, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

const code = (c: string, re?: RegExp) => (e: unknown): boolean => {
  assert.ok(e instanceof MtlsError, String(e));
  assert.equal(e.code, c, e.message);
  if (re) assert.match(e.message, re);
  return true;
};
const fp = (c: TestCa): string => new X509Certificate(Buffer.from(c.certificate.rawData)).fingerprint256.replace(/:/g, '').toLowerCase();

describe('PostgreSQL registry', async () => {
  const available = await reachable();
  const schema = `mtls_test_${randomBytes(4).toString('hex')}`;
  let dir: string;
  let cleanup: () => void;
  let ca: TestCa;
  let a: PostgresRegistry;
  let b: PostgresRegistry;

  before(async () => {
    if (!available) return;
    ({ dir, cleanup } = tempDir('mtlskit-pg-'));
    ca = await makeCa(dir, { name: 'PG Test CA' });
    a = await openPostgresRegistry(URL_, { schema });
    b = (await openRegistry(URL_, { postgres: { schema } })) as PostgresRegistry;
  });
  after(async () => {
    if (!available) return;
    await a?.close();
    await b?.close();
    const c = new pg.Client({ connectionString: URL_ });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await c.query('DROP SCHEMA IF EXISTS mtls_test_foreign CASCADE');
    await c.end();
    cleanup?.();
  });

  it('migrates its own schema once and refuses a foreign one', { skip: !available && `PostgreSQL not reachable at ${URL_}` }, async () => {
    const c = new pg.Client({ connectionString: URL_ });
    await c.connect();
    try {
      const rows = (await c.query(`SELECT version FROM ${schema}.schema_version`)).rows;
      assert.deepEqual(rows.map((r) => r.version), [1, 2]);
      await c.query('DROP SCHEMA IF EXISTS mtls_test_foreign CASCADE');
      await c.query('CREATE SCHEMA mtls_test_foreign');
      await c.query('CREATE TABLE mtls_test_foreign.orders (id int)');
    } finally {
      await c.end();
    }
    await assert.rejects(openPostgresRegistry(URL_, { schema: 'mtls_test_foreign' }), code('MTLS_CONFIG_INVALID', /not an mtlskit registry/));
    await assert.rejects(openPostgresRegistry('postgres://postgres@127.0.0.1:5432/no_such_db_mtls', { schema }), code('MTLS_CONFIG_INVALID', /does not exist/));
    await assert.rejects(openPostgresRegistry('postgres://postgres@127.0.0.1:9/test', { schema }), code('MTLS_NETWORK', /cannot reach PostgreSQL at postgres:\/\/127\.0\.0\.1:9\/test/));
  });

  it('stores and loads the same data as SQLite, with the same refusals', { skip: !available && 'PostgreSQL not reachable' }, async () => {
    await a.createInstitution({ id: 'acme', name: 'Acme' });
    await a.createInstitution({ id: 'beta', name: 'Beta' });
    await assert.rejects(a.createInstitution({ id: 'acme', name: 'x' }), code('MTLS_CONFLICT'));
    const chain = (await onboardCaChain(a, 'acme', ca.certPem)).chain;
    assert.deepEqual(chain.fingerprints, [fp(ca)]);
    await assert.rejects(onboardCaChain(b, 'beta', ca.certPem), code('MTLS_ONBOARD_REJECTED', /already registered to institution "acme"/));
    await assert.rejects(b.addCaChain('beta', { pem: ca.certPem, fingerprints: [fp(ca)], subject: 'x', notAfter: new Date().toISOString() }), code('MTLS_CONFLICT'));
    assert.equal((await b.findChainByFingerprint(fp(ca)))?.id, chain.id);
    assert.equal((await a.addIp('acme', '::ffff:203.0.113.9')).cidr, '203.0.113.9/32');
    await assert.rejects(a.addIp('acme', '203.0.113.9'), code('MTLS_CONFLICT'));
    const pgCrl = await a.putCrl('acme', { pem: '-----BEGIN X509 CRL-----\nAA==\n-----END X509 CRL-----\n', issuer: 'CN=PG', issuerFingerprint: 'aa'.repeat(32), thisUpdate: '2030-01-01T00:00:00Z', nextUpdate: null });
    assert.equal((await a.putCrl('acme', { pem: pgCrl.pem, issuer: 'CN=PG', issuerFingerprint: 'aa'.repeat(32), thisUpdate: '2030-01-02T00:00:00Z', nextUpdate: null })).id, pgCrl.id, 'same signer: replaced');
    const sameName = await a.putCrl('acme', { pem: pgCrl.pem, issuer: 'CN=PG', issuerFingerprint: 'bb'.repeat(32), thisUpdate: '2030-01-01T00:00:00Z', nextUpdate: null });
    assert.notEqual(sameName.id, pgCrl.id, 'same name, other signer: kept beside it');
    await a.removeCrl('acme', sameName.id);
    const rule = await a.addPinnedRule('acme', { kind: 'subject_o', value: 'Acme' });
    await a.setInstitutionStatus('beta', 'suspended');
    const trust = await b.loadTrust();
    const acme = trust.find((t) => t.institution.id === 'acme')!;
    assert.equal(acme.chains[0]!.id, chain.id);
    assert.deepEqual(acme.ips.map((i) => i.cidr), ['203.0.113.9/32']);
    assert.equal(acme.crls[0]!.nextUpdate, null);
    assert.equal(acme.rules[0]!.id, rule.id);
    assert.equal(trust.find((t) => t.institution.id === 'beta')!.institution.status, 'suspended');
    await a.removePinnedRule('acme', rule.id);
    await assert.rejects(a.removePinnedRule('acme', rule.id), code('MTLS_NOT_FOUND'));
    await a.appendAudit([
      { time: new Date().toISOString(), kind: 'request', ip: '203.0.113.9', institutionId: 'acme', subject: 'CN=c', issuer: null, serial: '01', fingerprintSha256: null, tlsVersion: 'TLSv1.2', cipher: null, outcome: 'accepted', reason: 'ok', detail: null, method: 'POST', path: '/pix', status: 201, durationMs: 12.25 },
      { time: new Date(Date.now() - 7200_000).toISOString(), kind: 'connection', ip: '198.51.100.1', institutionId: null, subject: null, issuer: null, serial: null, fingerprintSha256: null, tlsVersion: null, cipher: null, outcome: 'rejected', reason: 'ip_not_registered', detail: null },
    ]);
    const recent = await b.queryAudit({ since: new Date(Date.now() - 3600_000).toISOString() });
    assert.equal(recent.length, 1);
    assert.equal(recent[0]!.durationMs, 12.25);
    assert.equal(recent[0]!.status, 201);
    assert.equal((await b.queryAudit({ outcome: 'rejected', reason: 'ip_not_registered' })).length, 1);
  });

  it('migrates a schema-1 registry: CRLs are kept, and two CAs of one name may then each have one', { skip: !available && 'PostgreSQL not reachable' }, async () => {
    const v1 = `${schema}_v1`;
    const c = new pg.Client({ connectionString: URL_, options: `-c search_path=${v1}` });
    await c.connect();
    try {
      await c.query(`CREATE SCHEMA ${v1}`);
      await c.query('CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)');
      await c.query(MIGRATIONS[0]!.postgres);
      await c.query(`INSERT INTO schema_version VALUES (1, 'v1', 'x')`);
      await c.query(`INSERT INTO institutions VALUES ('old', 'Old', 'active', 'x', 'x')`);
      await c.query(`INSERT INTO crls (institution_id, issuer, pem, this_update, next_update, created_at) VALUES ('old', 'CN=Same', 'p', '2030-01-01T00:00:00.000Z', NULL, 'x')`);
      const reg = await openPostgresRegistry(URL_, { schema: v1 });
      try {
        const [old] = await reg.loadTrust('old');
        assert.deepEqual(old!.crls.map((r) => [r.issuer, r.issuerFingerprint]), [['CN=Same', null]]);
        await reg.putCrl('old', { pem: '-----BEGIN X509 CRL-----\nAA==\n-----END X509 CRL-----\n', issuer: 'CN=Same', issuerFingerprint: 'cd'.repeat(32), thisUpdate: '2030-01-01T00:00:00Z', nextUpdate: null });
        assert.equal((await reg.loadTrust('old'))[0]!.crls.length, 2);
      } finally {
        await reg.close();
      }
    } finally {
      await c.query(`DROP SCHEMA IF EXISTS ${v1} CASCADE`);
      await c.end();
    }
  });

  it('tells another instance of each change through LISTEN/NOTIFY within 1 s', { skip: !available && 'PostgreSQL not reachable' }, async () => {
    const seen: RegistryChange[] = [];
    const stop = b.onChange((c) => seen.push(c));
    try {
      // Let the LISTEN connection come up; it first reports the writes made
      // since b was opened (catch-up), which is not what this test measures.
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(seen.at(-1)?.version, await b.version(), 'catch-up on subscribe');
      seen.length = 0;
      const t0 = Date.now();
      await a.addIp('acme', '2001:db8::/48');
      const end = Date.now() + 1000;
      while (!seen.length && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      assert.ok(seen.length >= 1, 'no notification within 1 s');
      assert.ok(Date.now() - t0 < 1000);
      assert.equal(seen.at(-1)!.version, await a.version());
      assert.equal(seen.at(-1)!.institutionId, 'acme');
      const v = await b.version();
      await assert.rejects(a.addIp('ghost', '192.0.2.1'), code('MTLS_NOT_FOUND'));
      assert.equal(await a.version(), v, 'a failed write rolls back and bumps nothing');
    } finally {
      stop();
    }
  });
});
