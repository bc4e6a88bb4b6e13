import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, openSync, readFileSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { MtlsError } from '../../src/errors/index.js';
import { normaliseCidr, parseCidr } from '../../src/gateway/registry/cidr.js';
import { openRegistry, parseRegistryLocation } from '../../src/gateway/registry/index.js';
import { LATEST_SCHEMA_VERSION, MIGRATIONS } from '../../src/gateway/registry/migrations.js';
import { openSqliteRegistry, type SqliteRegistry } from '../../src/gateway/registry/sqlite-registry.js';
import type { AuditRecord, RegistryChange } from '../../src/gateway/registry/types.js';
import { makeCa, tempDir, type TestCa } from '../helpers/pki.js';

const fp = (c: TestCa): string => new X509Certificate(Buffer.from(c.certificate.rawData)).fingerprint256.replace(/:/g, '').toLowerCase();

function assertCode(code: string, re?: RegExp) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof MtlsError, `expected MtlsError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return true;
  };
}

function chainOf(ca: TestCa): { pem: string; fingerprints: string[]; subject: string; notAfter: string } {
  return { pem: ca.certPem, fingerprints: [fp(ca)], subject: ca.subject, notAfter: ca.certificate.notAfter.toISOString() };
}

function audit(over: Partial<AuditRecord> = {}): AuditRecord {
  return {
    time: new Date().toISOString(),
    kind: 'connection',
    ip: '127.0.0.1',
    institutionId: 'acme',
    subject: 'CN=client',
    issuer: 'CN=Acme CA',
    serial: '01',
    fingerprintSha256: 'ab'.repeat(32),
    tlsVersion: 'TLSv1.2',
    cipher: 'ECDHE-ECDSA-AES128-GCM-SHA256',
    outcome: 'accepted',
    reason: 'ok',
    detail: null,
    ...over,
  };
}

const waitFor = async <T>(get: () => T | undefined, ms: number): Promise<T> => {
  const end = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('CIDR normalisation', () => {
  it('canonicalises IPv4, IPv6 and IPv4-mapped forms', () => {
    assert.equal(normaliseCidr('203.0.113.7'), '203.0.113.7/32');
    assert.equal(normaliseCidr(' 10.0.0.0/8 '), '10.0.0.0/8');
    assert.equal(normaliseCidr('2001:DB8:0:0:0:0:0:1'), '2001:db8::1/128');
    assert.equal(normaliseCidr('2001:db8::/48'), '2001:db8::/48');
    assert.equal(normaliseCidr('2001:0:0:1:0:0:0:1'), '2001:0:0:1::1/128');
    assert.equal(normaliseCidr('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1/128');
    assert.equal(normaliseCidr('::ffff:192.0.2.1'), '192.0.2.1/32');
    assert.equal(normaliseCidr('::ffff:192.0.2.0/120'), '192.0.2.0/24');
    assert.equal(normaliseCidr('::1'), '::1/128');
    assert.equal(parseCidr('fe80::/10').family, 6);
  });
  it('refuses host bits, bad prefixes, zone ids, /0 and garbage', () => {
    assert.throws(() => normaliseCidr('10.0.0.5/24'), (e: unknown) => assertCode('MTLS_BAD_ARGUMENT', /host bits/)(e) && /10\.0\.0\.0\/24/.test((e as MtlsError).hint));
    assert.throws(() => normaliseCidr('10.0.0.0/33'), assertCode('MTLS_BAD_ARGUMENT', /prefix length/));
    assert.throws(() => normaliseCidr('fe80::1%eth0'), assertCode('MTLS_BAD_ARGUMENT'));
    assert.throws(() => normaliseCidr('0.0.0.0/0'), assertCode('MTLS_BAD_ARGUMENT', /every IPv4/));
    assert.throws(() => normaliseCidr('::/0'), assertCode('MTLS_BAD_ARGUMENT', /every IPv6/));
    assert.throws(() => normaliseCidr('example.com'), assertCode('MTLS_BAD_ARGUMENT'));
    assert.throws(() => normaliseCidr('300.1.1.1'), assertCode('MTLS_BAD_ARGUMENT'));
  });
});

describe('registry location', () => {
  it('parses sqlite:, plain paths and postgres URLs; refuses other schemes', () => {
    assert.deepEqual(parseRegistryLocation('sqlite:/var/lib/r.db'), { kind: 'sqlite', path: '/var/lib/r.db' });
    assert.deepEqual(parseRegistryLocation('./r.db'), { kind: 'sqlite', path: './r.db' });
    assert.deepEqual(parseRegistryLocation('postgres://u@h/db'), { kind: 'postgres', url: 'postgres://u@h/db' });
    assert.throws(() => parseRegistryLocation('mysql://h/db'), assertCode('MTLS_CONFIG_UNSUPPORTED', /mysql/));
    assert.throws(() => parseRegistryLocation(' '), assertCode('MTLS_CONFIG_INVALID'));
  });
});

describe('SQLite registry', () => {
  let dir: string;
  let cleanup: () => void;
  let caA: TestCa;
  let caB: TestCa;
  let root: TestCa;
  let inter: TestCa;
  before(async () => {
    ({ dir, cleanup } = tempDir('mtlskit-reg-'));
    [caA, caB, root] = await Promise.all([makeCa(dir, { name: 'Reg A CA' }), makeCa(dir, { name: 'Reg B CA' }), makeCa(dir, { name: 'Reg Root' })]);
    inter = await makeCa(dir, { name: 'Reg Inter', issuer: root });
  });
  after(() => cleanup());

  it('creates the schema once, in WAL mode with foreign keys, and reopens without migrating again', async () => {
    const path = join(dir, 'migrate.db');
    const r1 = await openSqliteRegistry(path);
    await r1.close();
    const r2 = await openSqliteRegistry(path);
    await r2.close();
    const db = new Database(path, { readonly: true });
    try {
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      const rows = db.prepare('SELECT version FROM schema_version').all() as { version: number }[];
      assert.deepEqual(rows.map((r) => r.version), MIGRATIONS.map((m) => m.version));
      assert.equal(rows.at(-1)?.version, LATEST_SCHEMA_VERSION);
      const tables = (db.prepare(`SELECT name FROM sqlite_master WHERE type='table'`).all() as { name: string }[]).map((t) => t.name);
      for (const t of ['institutions', 'ca_chains', 'ca_certificates', 'ip_blocks', 'crls', 'pinned_rules', 'audit_log', 'registry_state']) assert.ok(tables.includes(t), t);
    } finally {
      db.close();
    }
  });

  it('refuses a registry written by a newer schema, and another application\'s database', async () => {
    const newer = join(dir, 'newer.db');
    (await openSqliteRegistry(newer)).close();
    const db = new Database(newer);
    db.prepare(`INSERT INTO schema_version (version, description, applied_at) VALUES (99, 'future', 'x')`).run();
    db.close();
    await assert.rejects(openSqliteRegistry(newer), assertCode('MTLS_CONFIG_UNSUPPORTED', /schema version 99/));

    const foreign = join(dir, 'foreign.db');
    const f = new Database(foreign);
    f.exec('CREATE TABLE customers (id INTEGER)');
    f.close();
    await assert.rejects(openSqliteRegistry(foreign), (e: unknown) => assertCode('MTLS_CONFIG_INVALID', /not an mtlskit registry/)(e) && (e as MtlsError).message.includes(foreign));
    // Nothing was added to the foreign file.
    const g = new Database(foreign, { readonly: true });
    assert.deepEqual((g.prepare(`SELECT name FROM sqlite_master WHERE type='table'`).all() as { name: string }[]).map((t) => t.name), ['customers']);
    g.close();
  });

  it('gives MTLS_CONFIG_INVALID naming the path and the fix for corrupt, non-SQLite and missing files', async () => {
    const text = join(dir, 'text.db');
    writeFileSync(text, 'this is not a database\n'.repeat(200));
    await assert.rejects(openRegistry(text), (e: unknown) => {
      assertCode('MTLS_CONFIG_INVALID', /not a SQLite database/)(e);
      const err = e as MtlsError;
      assert.ok(err.message.includes(text), err.message);
      assert.match(err.hint, /Restore .* from backup|move it aside/);
      return true;
    });
    // A real registry whose pages were overwritten after the header.
    const damaged = join(dir, 'damaged.db');
    const r = await openSqliteRegistry(damaged);
    await r.createInstitution({ id: 'x', name: 'X' });
    await r.close();
    const size = readFileSync(damaged).length;
    const fd = openSync(damaged, 'r+');
    writeSync(fd, Buffer.alloc(size - 100, 0xa5), 0, size - 100, 100);
    closeSync(fd);
    await assert.rejects(openSqliteRegistry(damaged), (e: unknown) => assertCode('MTLS_CONFIG_INVALID', /corrupt|not a SQLite/)(e) && (e as MtlsError).message.includes(damaged));

    await assert.rejects(openSqliteRegistry(join(dir, 'absent.db'), { create: false }), assertCode('MTLS_CONFIG_INVALID', /does not exist/));
    await assert.rejects(openSqliteRegistry(join(dir, 'no-such-dir', 'r.db')), assertCode('MTLS_CONFIG_INVALID', /directory .* does not exist/));
    mkdirSync(join(dir, 'a-dir.db'));
    await assert.rejects(openSqliteRegistry(join(dir, 'a-dir.db')), assertCode('MTLS_CONFIG_INVALID', /is a directory/));
    await assert.rejects(openSqliteRegistry(join(dir, 'poll.db'), { pollIntervalMs: 1000 }), assertCode('MTLS_CONFIG_INVALID', /pollIntervalMs/));
  });

  it('stores institutions, chains, IPs, CRLs and rules, and loads them as trust', async () => {
    const reg = await openSqliteRegistry(join(dir, 'crud.db'));
    try {
      const a = await reg.createInstitution({ id: 'acme-bank', name: 'Acme Bank' });
      assert.equal(a.status, 'active');
      await reg.createInstitution({ id: 'beta', name: 'Beta' });
      await assert.rejects(reg.createInstitution({ id: 'acme-bank', name: 'again' }), assertCode('MTLS_CONFLICT', /already exists/));
      await assert.rejects(reg.createInstitution({ id: 'Bad Id!', name: 'x' }), assertCode('MTLS_BAD_ARGUMENT', /institution id/));
      await assert.rejects(reg.createInstitution({ id: 'ok', name: '' }), assertCode('MTLS_BAD_ARGUMENT', /name/));
      assert.deepEqual((await reg.listInstitutions()).map((i) => i.id), ['acme-bank', 'beta']);
      assert.equal((await reg.setInstitutionStatus('beta', 'suspended')).status, 'suspended');
      await assert.rejects(reg.setInstitutionStatus('beta', 'paused' as never), assertCode('MTLS_BAD_ARGUMENT'));
      await assert.rejects(reg.setInstitutionStatus('nobody', 'active'), assertCode('MTLS_NOT_FOUND', /nobody/));
      assert.equal(await reg.getInstitution('nobody'), null);

      const chain = await reg.addCaChain('acme-bank', chainOf(caA));
      assert.deepEqual(chain.fingerprints, [fp(caA)]);
      const found = await reg.findChainByFingerprint(fp(caA).toUpperCase().match(/../g)!.join(':'));
      assert.equal(found?.id, chain.id);
      assert.equal(await reg.findChainByFingerprint('00'.repeat(32)), null);
      // A CA belongs to one institution; the issuing CA can't be added twice.
      await assert.rejects(reg.addCaChain('beta', chainOf(caA)), assertCode('MTLS_CONFLICT', /already registered to institution "acme-bank"/));
      await assert.rejects(reg.addCaChain('acme-bank', chainOf(caA)), assertCode('MTLS_CONFLICT', /already registered to "acme-bank"/));
      // Rotation: a second chain sharing the root is fine for the same institution.
      await reg.addCaChain('acme-bank', chainOf(root));
      const rotated = await reg.addCaChain('acme-bank', {
        pem: inter.certPem + root.certPem,
        fingerprints: [fp(inter), fp(root)],
        subject: root.subject,
        notAfter: inter.certificate.notAfter.toISOString(),
      });
      assert.deepEqual(rotated.fingerprints, [fp(inter), fp(root)]);

      const ip = await reg.addIp('acme-bank', '203.0.113.0/24');
      assert.equal(ip.cidr, '203.0.113.0/24');
      await reg.addIp('acme-bank', '2001:DB8::7');
      await reg.addIp('beta', '203.0.113.0/24');
      await assert.rejects(reg.addIp('acme-bank', '203.0.113.0/24'), assertCode('MTLS_CONFLICT'));
      await assert.rejects(reg.addIp('acme-bank', '203.0.113.9/24'), assertCode('MTLS_BAD_ARGUMENT', /host bits/));
      await reg.removeIp('acme-bank', '2001:db8:0::7/128');
      await assert.rejects(reg.removeIp('acme-bank', '2001:db8::7'), assertCode('MTLS_NOT_FOUND'));

      const signerA = 'aa'.repeat(32);
      const crl1 = await reg.putCrl('acme-bank', { pem: '-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n', issuer: 'CN=Reg A CA', issuerFingerprint: signerA, thisUpdate: '2030-01-01T00:00:00Z', nextUpdate: null });
      const crl2 = await reg.putCrl('acme-bank', { pem: '-----BEGIN X509 CRL-----\nBBBB\n-----END X509 CRL-----\n', issuer: 'CN=Reg A CA', issuerFingerprint: signerA.toUpperCase(), thisUpdate: '2030-01-02T00:00:00Z', nextUpdate: '2030-02-01T00:00:00Z' });
      assert.equal(crl2.id, crl1.id, 'a CRL from the same signing CA replaces the old one');
      assert.equal(crl2.issuerFingerprint, signerA);
      assert.equal(crl2.thisUpdate, '2030-01-02T00:00:00.000Z');
      const rotatedCrl = await reg.putCrl('acme-bank', { pem: '-----BEGIN X509 CRL-----\nCCCC\n-----END X509 CRL-----\n', issuer: 'CN=Reg A CA', issuerFingerprint: 'bb'.repeat(32), thisUpdate: '2030-01-01T00:00:00Z', nextUpdate: null });
      assert.notEqual(rotatedCrl.id, crl2.id, 'a CRL from another CA of the same name is kept beside it');
      await reg.removeCrl('acme-bank', rotatedCrl.id);
      await assert.rejects(reg.putCrl('acme-bank', { pem: 'junk', issuer: 'x', issuerFingerprint: signerA, thisUpdate: '2030-01-01T00:00:00Z', nextUpdate: null }), assertCode('MTLS_BAD_ARGUMENT'));
      await assert.rejects(reg.putCrl('acme-bank', { pem: crl2.pem, issuer: 'x', issuerFingerprint: 'nope', thisUpdate: '2030-01-01T00:00:00Z', nextUpdate: null }), assertCode('MTLS_BAD_ARGUMENT'));

      const rule = await reg.addPinnedRule('acme-bank', { kind: 'fingerprint_sha256', value: 'AB:'.repeat(31) + 'AB' });
      assert.equal(rule.value, 'ab'.repeat(32));
      await reg.addPinnedRule('acme-bank', { kind: 'subject_cn', value: 'api-client' });
      await assert.rejects(reg.addPinnedRule('acme-bank', { kind: 'subject_cn', value: 'api-client' }), assertCode('MTLS_CONFLICT'));
      await assert.rejects(reg.addPinnedRule('acme-bank', { kind: 'serial' as never, value: '1' }), assertCode('MTLS_BAD_ARGUMENT'));

      const trust = await reg.loadTrust();
      const acme = trust.find((t) => t.institution.id === 'acme-bank')!;
      assert.equal(acme.chains.length, 3);
      assert.deepEqual(acme.ips.map((i) => i.cidr), ['203.0.113.0/24']);
      assert.equal(acme.crls.length, 1);
      assert.equal(acme.rules.length, 2);
      assert.equal(trust.find((t) => t.institution.id === 'beta')!.institution.status, 'suspended');

      await reg.removeCaChain('acme-bank', chain.id);
      await assert.rejects(reg.removeCaChain('acme-bank', chain.id), assertCode('MTLS_NOT_FOUND'));
      await assert.rejects(reg.removeCaChain('beta', rotated.id), assertCode('MTLS_NOT_FOUND'), 'a chain is removed only through its own institution');
      await reg.removePinnedRule('acme-bank', rule.id);
      await reg.removeCrl('acme-bank', crl2.id);

      // Deleting cascades (foreign keys are on): beta's CA can now be registered elsewhere.
      await reg.deleteInstitution('acme-bank');
      assert.equal(await reg.findChainByFingerprint(fp(root)), null);
      await reg.addCaChain('beta', chainOf(root));
      await assert.rejects(reg.deleteInstitution('acme-bank'), assertCode('MTLS_NOT_FOUND'));
    } finally {
      await reg.close();
    }
  });

  it('bumps the version once per write, and a failed write changes nothing', async () => {
    const reg = await openSqliteRegistry(join(dir, 'consistency.db'));
    try {
      const v0 = await reg.version();
      await reg.createInstitution({ id: 'one', name: 'One' });
      await reg.addCaChain('one', chainOf(caB));
      assert.equal(await reg.version(), v0 + 2);
      const before = await reg.loadTrust();
      await assert.rejects(reg.addIp('ghost', '192.0.2.1'), assertCode('MTLS_NOT_FOUND'));
      // The second fingerprint conflicts after the chain row would have been started.
      await reg.createInstitution({ id: 'two', name: 'Two' });
      const v1 = await reg.version();
      await assert.rejects(
        reg.addCaChain('two', { pem: caA.certPem + caB.certPem, fingerprints: [fp(caA), fp(caB)], subject: 'x', notAfter: new Date().toISOString() }),
        assertCode('MTLS_CONFLICT'),
      );
      await assert.rejects(reg.addCaChain('two', { pem: caA.certPem + '-----BEGIN PRIVATE KEY-----', fingerprints: [fp(caA)], subject: 'x', notAfter: new Date().toISOString() }));
      assert.equal(await reg.version(), v1, 'failed writes do not bump the version');
      const afterTrust = await reg.loadTrust();
      assert.deepEqual(afterTrust.find((t) => t.institution.id === 'two')!.chains, []);
      assert.deepEqual(afterTrust.find((t) => t.institution.id === 'one'), before.find((t) => t.institution.id === 'one'));
      assert.equal(await reg.findChainByFingerprint(fp(caA)), null);
    } finally {
      await reg.close();
    }
  });

  it('reports a throwing change listener without failing the committed write', async () => {
    const errors: MtlsError[] = [];
    const reg = await openSqliteRegistry(join(dir, 'listener.db'), { onError: (e) => errors.push(e) });
    try {
      const got: RegistryChange[] = [];
      reg.onChange(() => {
        throw new Error('listener bug');
      });
      reg.onChange((c) => got.push(c));
      await reg.createInstitution({ id: 'ok', name: 'OK' });
      assert.ok(await reg.getInstitution('ok'));
      assert.equal(got.length, 1, 'the other listeners still run');
      assert.equal(errors.length, 1);
      assert.match(errors[0]!.message, /listener failed: listener bug/);
    } finally {
      await reg.close();
    }
  });

  it('reports changes made by another connection to the same file within 1 s', async () => {
    const path = join(dir, 'shared.db');
    const gateway = await openSqliteRegistry(path, { pollIntervalMs: 100 });
    const cli = await openSqliteRegistry(path);
    const seen: RegistryChange[] = [];
    const own: RegistryChange[] = [];
    const stop = gateway.onChange((c) => seen.push(c));
    const stopOwn = cli.onChange((c) => own.push(c));
    try {
      const t0 = Date.now();
      await cli.createInstitution({ id: 'remote', name: 'Remote' });
      assert.equal(own.length, 1, 'the writer hears its own change at once');
      const change = await waitFor(() => seen[0], 1000);
      assert.ok(Date.now() - t0 < 1000);
      assert.equal(change.institutionId, 'remote');
      assert.equal(change.version, await cli.version());
      assert.equal(await gateway.version(), change.version);
      assert.ok(await gateway.getInstitution('remote'));
      // Two writes between polls fold into one change with institutionId null.
      await cli.addIp('remote', '192.0.2.10');
      await cli.addIp('remote', '192.0.2.11');
      const folded = await waitFor(() => seen.find((c) => c.version === change.version + 2), 1000);
      assert.ok(folded.institutionId === null || seen.length === 3);
      stop();
      await cli.setInstitutionStatus('remote', 'suspended');
      await new Promise((r) => setTimeout(r, 300));
      assert.ok(!seen.some((c) => c.version === change.version + 3), 'no calls after unsubscribing');
    } finally {
      stopOwn();
      await cli.close();
      await gateway.close();
    }
  });

  it('migrates a schema-1 file: CRLs keep their ids and rows; afterwards two CAs of one name each keep a CRL', async () => {
    const path = join(dir, 'v1.db');
    const db = new Database(path);
    db.exec('CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)');
    db.exec(MIGRATIONS[0]!.sqlite);
    db.prepare(`INSERT INTO schema_version VALUES (1, 'v1', 'x')`).run();
    db.prepare(`INSERT INTO institutions VALUES ('old', 'Old', 'active', 'x', 'x')`).run();
    db.prepare(`INSERT INTO crls (id, institution_id, issuer, pem, this_update, next_update, created_at) VALUES (7, 'old', 'CN=Same', '-----BEGIN X509 CRL-----\nAA==\n-----END X509 CRL-----\n', '2030-01-01T00:00:00.000Z', NULL, 'x')`).run();
    db.close();
    const reg = await openSqliteRegistry(path);
    try {
      const [old] = await reg.loadTrust('old');
      assert.deepEqual(old!.crls.map((c) => [c.id, c.issuer, c.issuerFingerprint]), [[7, 'CN=Same', null]]);
      const next = await reg.putCrl('old', { pem: old!.crls[0]!.pem, issuer: 'CN=Same', issuerFingerprint: 'cd'.repeat(32), thisUpdate: '2030-01-01T00:00:00Z', nextUpdate: null });
      assert.ok(next.id > 7, 'AUTOINCREMENT continues after the copied ids');
      assert.equal((await reg.loadTrust('old'))[0]!.crls.length, 2, 'the same issuer name from another CA no longer collides');
      const replaced = await reg.putCrl('old', { pem: old!.crls[0]!.pem, issuer: 'CN=Same', issuerFingerprint: 'ef'.repeat(32), thisUpdate: '2030-01-01T00:00:00Z', nextUpdate: null, replaces: 7 });
      assert.deepEqual((await reg.loadTrust('old'))[0]!.crls.map((c) => c.id), [next.id, replaced.id], 'the legacy row it replaces is gone');
      assert.deepEqual(await reg.loadTrust('nobody'), []);
    } finally {
      await reg.close();
    }
  });

  it('an audit append waits at most auditBusyTimeoutMs for another process, not the 5 s registry busy timeout', async () => {
    const path = join(dir, 'busy.db');
    const reg = await openSqliteRegistry(path);
    const other = new Database(path);
    try {
      other.exec('BEGIN IMMEDIATE');
      const t0 = Date.now();
      await assert.rejects(reg.appendAudit([audit()]), assertCode('MTLS_LOCK_TIMEOUT'));
      const waited = Date.now() - t0;
      assert.ok(waited < 2_000, `the append blocked the event loop for ${waited} ms`);
      other.exec('ROLLBACK');
      await reg.appendAudit([audit()]);
      assert.equal((await reg.queryAudit({})).length, 1);
    } finally {
      other.close();
      await reg.close();
    }
  });

  it('a failing poll reaches onError; the first good poll after it asks for a full reload', async () => {
    const path = join(dir, 'feed.db');
    const reg = await openSqliteRegistry(path, { pollIntervalMs: 20, onError: () => undefined });
    const other = new Database(path);
    const errors: MtlsError[] = [];
    const changes: RegistryChange[] = [];
    const stop = reg.onChange((c) => changes.push(c), (e) => errors.push(e));
    try {
      other.exec('ALTER TABLE registry_state RENAME TO registry_state_gone');
      await waitFor(() => errors[0], 2_000);
      assert.equal(changes.length, 0);
      other.exec('ALTER TABLE registry_state_gone RENAME TO registry_state');
      const change = await waitFor(() => changes[0], 2_000);
      assert.equal(change.institutionId, null);
    } finally {
      stop();
      other.close();
      await reg.close();
    }
  });

  it('appends and queries the audit log with filters, newest first', async () => {
    const reg: SqliteRegistry = await openSqliteRegistry(join(dir, 'audit.db'));
    try {
      const v = await reg.version();
      const old = new Date(Date.now() - 3 * 3600_000).toISOString();
      await reg.appendAudit([
        audit({ time: old, reason: 'ok' }),
        audit({ outcome: 'rejected', reason: 'unknown_ca', institutionId: 'acme' }),
        audit({ outcome: 'rejected', reason: 'ip_not_registered', institutionId: null, ip: '198.51.100.1' }),
        audit({ kind: 'request', method: 'GET', path: '/v1/x', status: 200, durationMs: 3.5, institutionId: 'other' }),
      ]);
      assert.equal(await reg.version(), v, 'audit appends are not registry changes');
      const all = await reg.queryAudit({});
      assert.equal(all.length, 4);
      assert.equal(all[all.length - 1]!.time, old);
      const since = new Date(Date.now() - 3600_000).toISOString();
      assert.equal((await reg.queryAudit({ since })).length, 3);
      const rejected = await reg.queryAudit({ since, outcome: 'rejected' });
      assert.deepEqual(rejected.map((r) => r.reason).sort(), ['ip_not_registered', 'unknown_ca']);
      assert.deepEqual((await reg.queryAudit({ institutionId: 'acme', outcome: 'rejected' })).map((r) => r.reason), ['unknown_ca']);
      assert.equal((await reg.queryAudit({ reason: 'ip_not_registered' }))[0]!.ip, '198.51.100.1');
      const req = (await reg.queryAudit({ institutionId: 'other' }))[0]!;
      assert.equal(req.kind, 'request');
      assert.equal(req.status, 200);
      assert.equal(req.durationMs, 3.5);
      assert.equal((await reg.queryAudit({ limit: 2 })).length, 2);
      await assert.rejects(reg.appendAudit([audit({ reason: 'because' as never })]), assertCode('MTLS_BAD_ARGUMENT', /audit reason/));
      await assert.rejects(reg.queryAudit({ outcome: 'maybe' as never }), assertCode('MTLS_BAD_ARGUMENT'));
      await assert.rejects(reg.queryAudit({ limit: 0 }), assertCode('MTLS_BAD_ARGUMENT'));
      await assert.rejects(reg.queryAudit({ since: 'yesterday' }), assertCode('MTLS_BAD_ARGUMENT'));
      assert.equal((await reg.queryAudit({})).length, 4, 'a rejected batch stores nothing');
    } finally {
      await reg.close();
    }
  });
});
