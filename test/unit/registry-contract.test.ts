/**
 * The registry contract: the same cases against both stores, SQLite (a temp
 * file) and PostgreSQL (a uniquely named database on the local server, created
 * here and dropped afterwards; MTLS_TEST_PG_URL names another server).
 */
import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { MtlsError } from '../../src/errors/index.js';
import { onboardCaChain } from '../../src/gateway/onboarding.js';
import {
  LATEST_SCHEMA_VERSION,
  MIGRATIONS,
  newerSchemaWarning,
  openRegistry,
} from '../../src/gateway/registry/index.js';
import { openPostgresRegistry } from '../../src/gateway/registry/postgres-registry.js';
import { openSqliteRegistry } from '../../src/gateway/registry/sqlite-registry.js';
import type { Registry, RegistryChange } from '../../src/gateway/registry/types.js';
import { spkiSha256 } from '../../src/pki/spki-hash.js';
import { makeCa, tempDir, type TestCa } from '../helpers/pki.js';
import { pgAdmin, pgUrl } from '../helpers/postgres.js';
import { at, defined, assertCode } from '../helpers/assert.js';
import { auditRecord } from '../helpers/audit-record.js';

const fp = (c: TestCa): string =>
  new X509Certificate(Buffer.from(c.certificate.rawData)).fingerprint256
    .replace(/:/g, '')
    .toLowerCase();

const spki = (c: TestCa): string =>
  spkiSha256(new X509Certificate(Buffer.from(c.certificate.rawData)));

function chainOf(ca: TestCa): {
  pem: string;
  fingerprints: string[];
  subject: string;
  notAfter: string;
} {
  return {
    pem: ca.certPem,
    fingerprints: [fp(ca)],
    subject: ca.subject,
    notAfter: ca.certificate.notAfter.toISOString(),
  };
}

const audit = auditRecord;

const waitFor = async <T>(get: () => T | undefined, ms: number): Promise<T> => {
  const end = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

// The machine's PostgreSQL (trust auth on loopback; .ci/run starts it).
const PG_DB = `mtls_contract_${randomBytes(4).toString('hex')}`;

/** One store under test: `open(name)` twice gives two handles on the same registry (two processes, in effect). */
interface Backend {
  name: string;
  open(name: string, onError?: (e: MtlsError) => void): Promise<Registry>;
  /** Runs SQL on registry `name` behind the registry's back (as another build would). */
  exec(name: string, sql: string): Promise<void>;
}

const { dir, cleanup } = tempDir('mtlskit-contract-');
const backends: Backend[] = [
  {
    name: 'SQLite',
    open: (name, onError) =>
      openSqliteRegistry(join(dir, `${name}.db`), {
        pollIntervalMs: 50,
        ...(onError ? { onError } : {}),
      }),
    exec: (name, sql) => {
      const db = new Database(join(dir, `${name}.db`));
      try {
        db.exec(sql);
      } finally {
        db.close();
      }
      return Promise.resolve();
    },
  },
  {
    name: 'PostgreSQL',
    open: (name, onError) =>
      openPostgresRegistry(pgUrl(PG_DB), { schema: name, ...(onError ? { onError } : {}) }),
    exec: (name, sql) =>
      pgAdmin(async (c) => {
        await c.query(`SET search_path = ${name}; ${sql}`);
      }, pgUrl(PG_DB)),
  },
];

let caA: TestCa;
let caB: TestCa;
let root: TestCa;
let inter: TestCa;
before(async () => {
  [caA, caB, root] = await Promise.all([
    makeCa(dir, { name: 'Reg A CA' }),
    makeCa(dir, { name: 'Reg B CA' }),
    makeCa(dir, { name: 'Reg Root' }),
  ]);
  inter = await makeCa(dir, { name: 'Reg Inter', issuer: root });
  await pgAdmin((c) => c.query(`CREATE DATABASE ${PG_DB}`));
});
after(async () => {
  await pgAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${PG_DB} WITH (FORCE)`));
  cleanup();
});

for (const backend of backends) {
  describe(`registry contract: ${backend.name}`, () => {
    it('stores institutions, chains, IPs, CRLs and rules, and loads them as trust', async () => {
      const reg = await backend.open('crud');
      try {
        const a = await reg.createInstitution({ id: 'acme-bank', name: 'Acme Bank' });
        assert.equal(a.status, 'active');
        await reg.createInstitution({ id: 'beta', name: 'Beta' });
        await assert.rejects(
          reg.createInstitution({ id: 'acme-bank', name: 'again' }),
          assertCode('MTLS_CONFLICT', /already exists/),
        );
        await assert.rejects(
          reg.createInstitution({ id: 'Bad Id!', name: 'x' }),
          assertCode('MTLS_BAD_ARGUMENT', /institution id/),
        );
        await assert.rejects(
          reg.createInstitution({ id: 'ok', name: '' }),
          assertCode('MTLS_BAD_ARGUMENT', /name/),
        );
        assert.deepEqual(
          (await reg.listInstitutions()).map((i) => i.id),
          ['acme-bank', 'beta'],
        );
        assert.equal((await reg.setInstitutionStatus('beta', 'suspended')).status, 'suspended');
        await assert.rejects(
          reg.setInstitutionStatus('beta', 'paused' as never),
          assertCode('MTLS_BAD_ARGUMENT'),
        );
        await assert.rejects(
          reg.setInstitutionStatus('nobody', 'active'),
          assertCode('MTLS_NOT_FOUND', /nobody/),
        );
        assert.equal(await reg.getInstitution('nobody'), null);

        const chain = await reg.addCaChain('acme-bank', chainOf(caA));
        assert.deepEqual(chain.fingerprints, [fp(caA)]);
        const found = await reg.findChainByFingerprint(
          defined(fp(caA).toUpperCase().match(/../g), 'fp(caA).toUpperCase().match(/../g)').join(
            ':',
          ),
        );
        assert.equal(found?.id, chain.id);
        assert.equal(await reg.findChainByFingerprint('00'.repeat(32)), null);
        // A CA belongs to one institution; the issuing CA can't be added twice.
        await assert.rejects(
          reg.addCaChain('beta', chainOf(caA)),
          assertCode('MTLS_CONFLICT', /already registered to institution "acme-bank"/),
        );
        await assert.rejects(
          reg.addCaChain('acme-bank', chainOf(caA)),
          assertCode('MTLS_CONFLICT', /already registered to "acme-bank"/),
        );
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
        await assert.rejects(
          reg.addIp('acme-bank', '203.0.113.9/24'),
          assertCode('MTLS_BAD_ARGUMENT', /host bits/),
        );
        await reg.removeIp('acme-bank', '2001:db8:0::7/128');
        await assert.rejects(
          reg.removeIp('acme-bank', '2001:db8::7'),
          assertCode('MTLS_NOT_FOUND'),
        );

        const signerA = 'aa'.repeat(32);
        const crl1 = await reg.putCrl('acme-bank', {
          pem: '-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n',
          issuer: 'CN=Reg A CA',
          issuerFingerprint: signerA,
          thisUpdate: '2030-01-01T00:00:00Z',
          nextUpdate: null,
        });
        const crl2 = await reg.putCrl('acme-bank', {
          pem: '-----BEGIN X509 CRL-----\nBBBB\n-----END X509 CRL-----\n',
          issuer: 'CN=Reg A CA',
          issuerFingerprint: signerA.toUpperCase(),
          thisUpdate: '2030-01-02T00:00:00Z',
          nextUpdate: '2030-02-01T00:00:00Z',
        });
        assert.equal(crl2.id, crl1.id, 'a CRL from the same signing CA replaces the old one');
        assert.equal(crl2.issuerFingerprint, signerA);
        assert.equal(crl2.thisUpdate, '2030-01-02T00:00:00.000Z');
        const rotatedCrl = await reg.putCrl('acme-bank', {
          pem: '-----BEGIN X509 CRL-----\nCCCC\n-----END X509 CRL-----\n',
          issuer: 'CN=Reg A CA',
          issuerFingerprint: 'bb'.repeat(32),
          thisUpdate: '2030-01-01T00:00:00Z',
          nextUpdate: null,
        });
        assert.notEqual(
          rotatedCrl.id,
          crl2.id,
          'a CRL from another CA of the same name is kept beside it',
        );
        await reg.removeCrl('acme-bank', rotatedCrl.id);
        await assert.rejects(
          reg.putCrl('acme-bank', {
            pem: 'junk',
            issuer: 'x',
            issuerFingerprint: signerA,
            thisUpdate: '2030-01-01T00:00:00Z',
            nextUpdate: null,
          }),
          assertCode('MTLS_BAD_ARGUMENT'),
        );
        await assert.rejects(
          reg.putCrl('acme-bank', {
            pem: crl2.pem,
            issuer: 'x',
            issuerFingerprint: 'nope',
            thisUpdate: '2030-01-01T00:00:00Z',
            nextUpdate: null,
          }),
          assertCode('MTLS_BAD_ARGUMENT'),
        );

        const rule = await reg.addPinnedRule('acme-bank', {
          kind: 'fingerprint_sha256',
          value: 'AB:'.repeat(31) + 'AB',
        });
        assert.equal(rule.value, 'ab'.repeat(32));
        await reg.addPinnedRule('acme-bank', { kind: 'subject_cn', value: 'api-client' });
        await assert.rejects(
          reg.addPinnedRule('acme-bank', { kind: 'subject_cn', value: 'api-client' }),
          assertCode('MTLS_CONFLICT'),
        );
        await assert.rejects(
          reg.addPinnedRule('acme-bank', { kind: 'serial' as never, value: '1' }),
          assertCode('MTLS_BAD_ARGUMENT'),
        );

        const trust = await reg.loadTrust();
        const acme = defined(
          trust.find((t) => t.institution.id === 'acme-bank'),
          "trust.find((t) => t.institution.id === 'acme-ba...",
        );
        assert.equal(acme.chains.length, 3);
        assert.deepEqual(
          acme.ips.map((i) => i.cidr),
          ['203.0.113.0/24'],
        );
        assert.equal(acme.crls.length, 1);
        assert.equal(acme.rules.length, 2);
        assert.equal(
          defined(
            trust.find((t) => t.institution.id === 'beta'),
            "trust.find((t) => t.institution.id === 'beta')",
          ).institution.status,
          'suspended',
        );

        await reg.removeCaChain('acme-bank', chain.id);
        await assert.rejects(
          reg.removeCaChain('acme-bank', chain.id),
          assertCode('MTLS_NOT_FOUND'),
        );
        await assert.rejects(
          reg.removeCaChain('beta', rotated.id),
          assertCode('MTLS_NOT_FOUND'),
          'a chain is removed only through its own institution',
        );
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

    it("keeps an institution's own request rate: checked, the burst defaulted, a registry change, cleared with null", async () => {
      const reg = await backend.open('rates');
      try {
        const created = await reg.createInstitution({ id: 'gold', name: 'Gold' });
        assert.equal(created.requestRate, null, "a new institution takes the gateway's limits");
        const changes: Array<string | null> = [];
        const off = reg.onChange((c) => changes.push(c.institutionId));
        const v0 = await reg.version();
        const set = await reg.setInstitutionRequestRate('gold', {
          requestsPerSecond: 250.5,
          burst: 500,
        });
        assert.deepEqual(set.requestRate, { requestsPerSecond: 250.5, burst: 500 });
        assert.equal(await reg.version(), v0 + 1);
        assert.deepEqual(
          (await reg.setInstitutionRequestRate('gold', { requestsPerSecond: 0.5 })).requestRate,
          { requestsPerSecond: 0.5, burst: 1 },
          'the burst defaults to the rate, rounded up, at least 1',
        );
        assert.deepEqual(
          (await reg.setInstitutionRequestRate('gold', { requestsPerSecond: 7.2 })).requestRate,
          { requestsPerSecond: 7.2, burst: 8 },
        );
        // Read back the way the gateway reads it.
        const [trust] = await reg.loadTrust('gold');
        assert.deepEqual(trust?.institution.requestRate, { requestsPerSecond: 7.2, burst: 8 });
        assert.deepEqual((await reg.getInstitution('gold'))?.requestRate, {
          requestsPerSecond: 7.2,
          burst: 8,
        });
        // Refused, naming the field, and nothing written.
        const v1 = await reg.version();
        for (const [rate, field] of [
          [{ requestsPerSecond: 0 }, /requestsPerSecond 0/],
          [{ requestsPerSecond: -5 }, /requestsPerSecond -5/],
          [{ requestsPerSecond: Number.NaN }, /requestsPerSecond NaN/],
          [{ requestsPerSecond: Number.POSITIVE_INFINITY }, /requestsPerSecond Infinity/],
          [{ requestsPerSecond: 2_000_000 }, /at most 1000000/],
          [{ requestsPerSecond: '10' as never }, /requestsPerSecond "10"/],
          [{ requestsPerSecond: 10, burst: 0 }, /burst 0/],
          [{ requestsPerSecond: 10, burst: 2.5 }, /burst 2.5/],
        ] as const) {
          await assert.rejects(
            reg.setInstitutionRequestRate('gold', rate),
            assertCode('MTLS_BAD_ARGUMENT', field),
          );
        }
        await assert.rejects(
          reg.setInstitutionRequestRate('nobody', { requestsPerSecond: 1 }),
          assertCode('MTLS_NOT_FOUND', /nobody/),
        );
        assert.equal(await reg.version(), v1, 'refused writes do not bump the version');
        // A status change keeps the rate; null returns the institution to the gateway's limits.
        assert.deepEqual((await reg.setInstitutionStatus('gold', 'suspended')).requestRate, {
          requestsPerSecond: 7.2,
          burst: 8,
        });
        assert.equal((await reg.setInstitutionRequestRate('gold', null)).requestRate, null);
        assert.equal((await reg.getInstitution('gold'))?.requestRate, null);
        await waitFor(
          () => (changes.filter((c) => c === 'gold').length >= 5 ? true : undefined),
          2_000,
        );
        off();
      } finally {
        await reg.close();
      }
    });

    it('bumps the version once per write, and a failed write changes nothing', async () => {
      const reg = await backend.open('consistency');
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
          reg.addCaChain('two', {
            pem: caA.certPem + caB.certPem,
            fingerprints: [fp(caA), fp(caB)],
            subject: 'x',
            notAfter: new Date().toISOString(),
          }),
          assertCode('MTLS_CONFLICT'),
        );
        await assert.rejects(
          reg.addCaChain('two', {
            pem: caA.certPem + '-----BEGIN PRIVATE KEY-----',
            fingerprints: [fp(caA)],
            subject: 'x',
            notAfter: new Date().toISOString(),
          }),
          assertCode('MTLS_PRIVATE_KEY_IN_CHAIN'),
        );
        assert.equal(await reg.version(), v1, 'failed writes do not bump the version');
        const afterTrust = await reg.loadTrust();
        assert.deepEqual(
          defined(
            afterTrust.find((t) => t.institution.id === 'two'),
            "afterTrust.find((t) => t.institution.id === 'two')",
          ).chains,
          [],
        );
        assert.deepEqual(
          afterTrust.find((t) => t.institution.id === 'one'),
          before.find((t) => t.institution.id === 'one'),
        );
        assert.equal(await reg.findChainByFingerprint(fp(caA)), null);
      } finally {
        await reg.close();
      }
    });

    it('reports a throwing change listener without failing the committed write', async () => {
      const errors: MtlsError[] = [];
      const reg = await backend.open('listener', (e) => errors.push(e));
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
        assert.match(at(errors, 0).message, /listener failed: listener bug/);
      } finally {
        await reg.close();
      }
    });

    // The latency goal (a change applies within 1 s) is measured under load by
    // bench/gateway.ts; here a loaded CI machine only gets a generous deadline.
    it('reports changes made by another connection to the same store', async () => {
      const gateway = await backend.open('shared');
      const cli = await backend.open('shared');
      const seen: RegistryChange[] = [];
      const own: RegistryChange[] = [];
      const stop = gateway.onChange((c) => seen.push(c));
      const stopOwn = cli.onChange((c) => own.push(c));
      try {
        await cli.createInstitution({ id: 'remote', name: 'Remote' });
        assert.equal(own.length, 1, 'the writer hears its own change at once');
        const change = await waitFor(() => seen[0], 5000);
        assert.equal(change.institutionId, 'remote');
        assert.equal(change.version, await cli.version());
        assert.equal(await gateway.version(), change.version);
        assert.ok(await gateway.getInstitution('remote'));
        // Writes that land between two polls are still reported one by one,
        // each naming its institution (the change log), so a gateway rebuilds
        // just that institution: registering one is three writes.
        await cli.createInstitution({ id: 'other', name: 'Other' });
        await cli.addIp('remote', '192.0.2.10');
        await cli.addIp('other', '192.0.2.11');
        await waitFor(() => seen.find((c) => c.version === change.version + 3), 5000);
        assert.deepEqual(seen.slice(1), [
          { institutionId: 'other', version: change.version + 1 },
          { institutionId: 'remote', version: change.version + 2 },
          { institutionId: 'other', version: change.version + 3 },
        ]);
        stop();
        await cli.setInstitutionStatus('remote', 'suspended');
        await new Promise((r) => setTimeout(r, 300));
        assert.ok(
          !seen.some((c) => c.version === change.version + 4),
          'no calls after unsubscribing',
        );
      } finally {
        stopOwn();
        await cli.close();
        await gateway.close();
      }
    });

    it('a store a newer build migrated: used when that build declares this one compatible, refused otherwise, never migrated back', async () => {
      const next = LATEST_SCHEMA_VERSION + 1;
      const fresh = await backend.open('newer');
      assert.deepEqual(fresh.schemaVersion(), {
        version: LATEST_SCHEMA_VERSION,
        build: LATEST_SCHEMA_VERSION,
        compatibleFrom: MIGRATIONS.at(-1)?.compatibleFrom,
      });
      assert.equal(newerSchemaWarning(fresh.schemaVersion()), null);
      await fresh.close();
      // A later, additive step (a nullable column) that declares this build's schema enough.
      await backend.exec(
        'newer',
        `ALTER TABLE institutions ADD COLUMN contact TEXT; INSERT INTO schema_version (version, description, applied_at, compatible_from) VALUES (${next}, 'future additive', 'x', ${LATEST_SCHEMA_VERSION})`,
      );
      const reg = await backend.open('newer');
      try {
        assert.deepEqual(reg.schemaVersion(), {
          version: next,
          build: LATEST_SCHEMA_VERSION,
          compatibleFrom: LATEST_SCHEMA_VERSION,
        });
        assert.match(
          String(newerSchemaWarning(reg.schemaVersion())),
          new RegExp(
            `schema version ${next} is newer than this build's \\(${LATEST_SCHEMA_VERSION}\\).*upgrade mtlskit here`,
          ),
        );
        // It reads and writes as usual.
        await reg.createInstitution({ id: 'acme', name: 'Acme' });
        await reg.appendAudit([audit({ institutionId: 'acme' })]);
        assert.equal((await reg.queryAudit({ institutionId: 'acme' })).length, 1);
        // A reason code the newer build has and this one does not: read as it
        // is, not a failed query; writing one from here stays refused.
        const minute = new Date().toISOString();
        await backend.exec(
          'newer',
          `INSERT INTO audit_log (time, kind, ip, outcome, reason) VALUES ('${minute}', 'connection', '203.0.113.9', 'rejected', 'quota_exceeded')`,
        );
        assert.deepEqual(
          (await reg.queryAudit({ ip: '203.0.113.9' })).map((r) => r.reason),
          ['quota_exceeded'],
        );
        assert.deepEqual(
          (await reg.auditPerMinute(minute.slice(0, 16)))
            .filter((r) => r.outcome === 'rejected')
            .map((r) => [r.reason, r.count]),
          [['quota_exceeded', 1]],
        );
        await assert.rejects(
          reg.appendAudit([audit({ reason: 'quota_exceeded' })]),
          assertCode('MTLS_BAD_ARGUMENT', /audit reason "quota_exceeded" is not one of/),
        );
      } finally {
        await reg.close();
      }
      // A step this build cannot follow: refused, naming both versions and the fix.
      await backend.exec(
        'newer',
        `INSERT INTO schema_version (version, description, applied_at, compatible_from) VALUES (${next + 1}, 'future breaking', 'x', ${next + 1})`,
      );
      await assert.rejects(
        backend.open('newer'),
        assertCode(
          'MTLS_CONFIG_UNSUPPORTED',
          new RegExp(
            `schema version ${next + 1}, newer than this mtlskit understands \\(${LATEST_SCHEMA_VERSION}\\); builds of schema ${next + 1} or later`,
          ),
        ),
      );
      // Each step this build does not know must allow it: a later step that
      // claims more than an earlier breaking one does not reopen the door.
      const chain = await backend.open('newer_chain');
      await chain.close();
      await backend.exec(
        'newer_chain',
        `INSERT INTO schema_version (version, description, applied_at, compatible_from) VALUES (${next}, 'breaking', 'x', ${next}), (${next + 1}, 'additive', 'x', ${LATEST_SCHEMA_VERSION})`,
      );
      await assert.rejects(
        backend.open('newer_chain'),
        assertCode('MTLS_CONFIG_UNSUPPORTED', new RegExp(`builds of schema ${next} or later`)),
      );
    });

    it('appends and queries the audit log with filters, newest first', async () => {
      const reg = await backend.open('audit');
      try {
        const v = await reg.version();
        const old = new Date(Date.now() - 3 * 3600_000).toISOString();
        await reg.appendAudit([
          audit({ time: old, reason: 'ok' }),
          audit({ outcome: 'rejected', reason: 'unknown_ca', institutionId: 'acme' }),
          audit({
            outcome: 'rejected',
            reason: 'ip_not_registered',
            institutionId: null,
            ip: '198.51.100.1',
          }),
          audit({
            kind: 'request',
            method: 'GET',
            path: '/v1/x',
            status: 200,
            durationMs: 3.5,
            institutionId: 'other',
            requestId: '3f2b8c1e-5a7d-4e2f-9b1c-0d4e6f8a2b3c',
          }),
        ]);
        assert.equal(await reg.version(), v, 'audit appends are not registry changes');
        const all = await reg.queryAudit({});
        assert.equal(all.length, 4);
        assert.equal(at(all, all.length - 1).time, old);
        const since = new Date(Date.now() - 3600_000).toISOString();
        assert.equal((await reg.queryAudit({ since })).length, 3);
        const rejected = await reg.queryAudit({ since, outcome: 'rejected' });
        assert.deepEqual(rejected.map((r) => r.reason).sort(), ['ip_not_registered', 'unknown_ca']);
        assert.deepEqual(
          (await reg.queryAudit({ institutionId: 'acme', outcome: 'rejected' })).map(
            (r) => r.reason,
          ),
          ['unknown_ca'],
        );
        assert.equal(
          at(await reg.queryAudit({ reason: 'ip_not_registered' }), 0).ip,
          '198.51.100.1',
        );
        const req = at(await reg.queryAudit({ institutionId: 'other' }), 0);
        assert.equal(req.kind, 'request');
        assert.equal(req.status, 200);
        assert.equal(req.durationMs, 3.5);
        assert.equal(req.requestId, '3f2b8c1e-5a7d-4e2f-9b1c-0d4e6f8a2b3c');
        // A request id is found in any case (support pastes it from a ticket).
        const byId = await reg.queryAudit({ requestId: '3F2B8C1E-5A7D-4E2F-9B1C-0D4E6F8A2B3C' });
        assert.deepEqual(
          byId.map((r) => r.path),
          ['/v1/x'],
        );
        assert.equal(
          (await reg.queryAudit({ requestId: '00000000-0000-4000-8000-000000000000' })).length,
          0,
        );
        assert.equal(
          at(await reg.queryAudit({ reason: 'unknown_ca' }), 0).requestId,
          null,
          'a connection record has no request id',
        );
        await assert.rejects(
          reg.queryAudit({ requestId: 'DROP TABLE audit_log' }),
          assertCode('MTLS_BAD_ARGUMENT', /not a gateway request id/),
        );
        await assert.rejects(
          reg.appendAudit([audit({ kind: 'request', requestId: 'not-an-id' })]),
          assertCode('MTLS_BAD_ARGUMENT', /not a gateway request id/),
        );
        assert.equal((await reg.queryAudit({ limit: 2 })).length, 2);
        await assert.rejects(
          reg.appendAudit([audit({ reason: 'because' as never })]),
          assertCode('MTLS_BAD_ARGUMENT', /audit reason/),
        );
        await assert.rejects(
          reg.queryAudit({ outcome: 'maybe' as never }),
          assertCode('MTLS_BAD_ARGUMENT'),
        );
        await assert.rejects(reg.queryAudit({ limit: 0 }), assertCode('MTLS_BAD_ARGUMENT'));
        await assert.rejects(
          reg.queryAudit({ since: 'yesterday' }),
          assertCode('MTLS_BAD_ARGUMENT'),
        );
        assert.equal((await reg.queryAudit({})).length, 4, 'a rejected batch stores nothing');
      } finally {
        await reg.close();
      }
    });
    it('prunes audit records older than a time, oldest first, at most a limit per call', async () => {
      const reg = await backend.open('audit_prune');
      try {
        const day = (n: number): string => new Date(Date.UTC(2030, 0, n)).toISOString();
        assert.equal(await reg.auditOldest(), null, 'no record yet');
        await reg.appendAudit([
          audit({ time: day(3), detail: 'third' }),
          audit({ time: day(1), detail: 'first' }),
          audit({ time: day(2), detail: 'second' }),
          audit({ time: day(10), detail: 'kept' }),
        ]);
        const v = await reg.version();
        assert.equal(await reg.auditOldest(), day(1), 'the oldest record, not the first stored');
        assert.equal(await reg.pruneAudit(day(5), 2), 2);
        assert.equal(await reg.auditOldest(), day(3));
        assert.deepEqual(
          (await reg.queryAudit({})).map((r) => r.detail),
          ['kept', 'third'],
          'the oldest two went first',
        );
        assert.equal(await reg.pruneAudit(day(5), 2), 1);
        assert.equal(await reg.pruneAudit(day(5), 2), 0);
        assert.equal(await reg.pruneAudit(day(10), 100), 0, 'a record at the cutoff stays');
        assert.deepEqual(
          (await reg.queryAudit({})).map((r) => r.detail),
          ['kept'],
        );
        assert.equal(await reg.auditOldest(), day(10));
        assert.equal(await reg.version(), v, 'pruning is not a registry change');
        await assert.rejects(
          reg.pruneAudit('last week', 10),
          assertCode('MTLS_BAD_ARGUMENT', /before/),
        );
        await assert.rejects(reg.pruneAudit(day(5), 0), assertCode('MTLS_BAD_ARGUMENT', /limit/));
      } finally {
        await reg.close();
      }
    });
    it('filters the audit log by address, time range and id, pages it, and counts it per minute', async () => {
      const reg = await backend.open('audit_console');
      try {
        const t = (iso: string): string => new Date(iso).toISOString();
        await reg.appendAudit([
          audit({ time: t('2030-01-01T10:00:05Z'), ip: '203.0.113.7' }),
          audit({ time: t('2030-01-01T10:00:40Z'), ip: '203.0.113.8' }),
          audit({
            time: t('2030-01-01T10:01:10Z'),
            outcome: 'rejected',
            reason: 'unknown_ca',
            ip: '203.0.113.7',
          }),
          audit({
            time: t('2030-01-01T10:02:00Z'),
            outcome: 'rejected',
            reason: 'ip_not_registered',
            institutionId: null,
            ip: '198.51.100.1',
          }),
          audit({ time: t('2030-01-01T10:03:00Z'), institutionId: 'beta' }),
          audit({ time: t('2030-01-01T10:03:01Z'), institutionId: 'beta', kind: 'request' }),
        ]);
        const ips = (await reg.queryAudit({ ip: '203.0.113.7' })).map((r) => r.reason);
        assert.deepEqual(ips, ['unknown_ca', 'ok']);
        const window = await reg.queryAudit({
          since: '2030-01-01T10:00:30Z',
          until: '2030-01-01T10:02:00Z',
        });
        assert.deepEqual(
          window.map((r) => r.time),
          [t('2030-01-01T10:01:10Z'), t('2030-01-01T10:00:40Z')],
          'since is inclusive, until exclusive',
        );
        const all = await reg.queryAudit({});
        const page2 = await reg.queryAudit({ limit: 2, offset: 2 });
        assert.deepEqual(
          page2.map((r) => r.id),
          all.slice(2, 4).map((r) => r.id),
        );
        const oldest = all[all.length - 1]?.id ?? -1;
        assert.equal((await reg.queryAudit({ afterId: oldest })).length, all.length - 1);
        await assert.rejects(reg.queryAudit({ ip: 'x; DROP' }), assertCode('MTLS_BAD_ARGUMENT'));
        await assert.rejects(reg.queryAudit({ offset: -1 }), assertCode('MTLS_BAD_ARGUMENT'));
        await assert.rejects(reg.queryAudit({ until: 'later' }), assertCode('MTLS_BAD_ARGUMENT'));

        const counts = await reg.auditPerMinute('2030-01-01T10:00:00Z');
        assert.deepEqual(counts, [
          { minute: '2030-01-01T10:00', outcome: 'accepted', reason: 'ok', count: 2 },
          { minute: '2030-01-01T10:01', outcome: 'rejected', reason: 'unknown_ca', count: 1 },
          {
            minute: '2030-01-01T10:02',
            outcome: 'rejected',
            reason: 'ip_not_registered',
            count: 1,
          },
          { minute: '2030-01-01T10:03', outcome: 'accepted', reason: 'ok', count: 1 },
        ]);
        // Only connections are counted: the request record of 10:03 is not.
        assert.equal((await reg.auditPerMinute('2030-01-01T10:02:30Z')).length, 1);
        await assert.rejects(reg.auditPerMinute('soon'), assertCode('MTLS_BAD_ARGUMENT'));

        const last = (await reg.auditLastCalls()).sort((a, b) =>
          `${a.institutionId}${a.outcome}`.localeCompare(`${b.institutionId}${b.outcome}`),
        );
        assert.deepEqual(last, [
          { institutionId: 'acme', outcome: 'accepted', time: t('2030-01-01T10:00:40Z') },
          { institutionId: 'acme', outcome: 'rejected', time: t('2030-01-01T10:01:10Z') },
          { institutionId: 'beta', outcome: 'accepted', time: t('2030-01-01T10:03:01Z') },
        ]);
      } finally {
        await reg.close();
      }
    });
    it('onboards through the library, refuses a CA registered elsewhere, and maps IPv4-mapped addresses', async () => {
      const a = await backend.open('onboard');
      const b = await backend.open('onboard');
      try {
        await a.createInstitution({ id: 'acme', name: 'Acme' });
        await a.createInstitution({ id: 'beta', name: 'Beta' });
        const chain = (await onboardCaChain(a, 'acme', caB.certPem)).chain;
        assert.deepEqual(chain.fingerprints, [fp(caB)]);
        await assert.rejects(
          onboardCaChain(b, 'beta', caB.certPem),
          assertCode('MTLS_ONBOARD_REJECTED', /already registered to institution "acme"/),
        );
        assert.equal((await b.findChainByFingerprint(fp(caB)))?.id, chain.id);
        assert.equal((await a.addIp('acme', '::ffff:203.0.113.9')).cidr, '203.0.113.9/32');
        await assert.rejects(a.addIp('acme', '203.0.113.9'), assertCode('MTLS_CONFLICT'));
      } finally {
        await a.close();
        await b.close();
      }
    });

    it('finds registered CA certificates by public key; a chain whose PEM does not parse is listed as unindexed', async () => {
      const reg = await backend.open('cakeys');
      try {
        await reg.createInstitution({ id: 'acme', name: 'Acme' });
        await reg.createInstitution({ id: 'beta', name: 'Beta' });
        await reg.createInstitution({ id: 'gamma', name: 'Gamma' });
        const a = await reg.addCaChain('acme', chainOf(caA));
        const b = await reg.addCaChain('beta', {
          pem: inter.certPem + root.certPem,
          fingerprints: [fp(inter), fp(root)],
          subject: inter.subject,
          notAfter: inter.certificate.notAfter.toISOString(),
        });
        assert.deepEqual(await reg.findCaKeys([]), { hits: [], unindexed: [] });
        const found = await reg.findCaKeys([spki(root), spki(caA).toUpperCase(), 'ff'.repeat(32)]);
        assert.deepEqual(found.hits, [
          { institutionId: 'acme', chainId: a.id, position: 0, spkiSha256: spki(caA) },
          { institutionId: 'beta', chainId: b.id, position: 1, spkiSha256: spki(root) },
        ]);
        assert.deepEqual(found.unindexed, []);
        const broken = await reg.addCaChain('gamma', {
          pem: '-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n',
          fingerprints: ['cd'.repeat(32)],
          subject: 'CN=Broken',
          notAfter: new Date().toISOString(),
        });
        const again = await reg.findCaKeys([spki(caB)]);
        assert.deepEqual(again.hits, []);
        assert.deepEqual(
          again.unindexed.map((c) => [c.institutionId, c.id]),
          [['gamma', broken.id]],
        );
      } finally {
        await reg.close();
      }
    });

    it('keeps CRL distribution points: bounds checked, changes announced, fetch outcomes recorded without a version bump', async () => {
      const reg = await backend.open('crlsources');
      const watcher = await backend.open('crlsources');
      const seen: RegistryChange[] = [];
      const stop = watcher.onChange((c) => seen.push(c));
      try {
        await reg.createInstitution({ id: 'acme', name: 'Acme' });
        await reg.createInstitution({ id: 'beta', name: 'Beta' });
        const v0 = await reg.version();
        await waitFor(() => seen.find((c) => c.version === v0), 1000);
        const src = await reg.addCrlSource('acme', { url: 'http://PKI.acme.example/ca.crl' });
        assert.equal(src.url, 'http://pki.acme.example/ca.crl', 'host name normalised');
        assert.equal(src.intervalSeconds, 3600, 'hourly by default');
        assert.equal(src.lastStatus, null);
        const change = await waitFor(() => seen.find((c) => c.version === v0 + 1), 1000);
        assert.equal(
          change.institutionId,
          'acme',
          'another handle hears the new source as a change of the institution',
        );
        await reg.addCrlSource('acme', {
          url: 'https://pki.acme.example/sub.crl',
          intervalSeconds: 60,
        });
        await reg.addCrlSource('beta', {
          url: 'http://pki.acme.example/ca.crl',
          intervalSeconds: 7 * 86400,
        });
        await assert.rejects(
          reg.addCrlSource('acme', { url: 'http://pki.acme.example/ca.crl' }),
          assertCode('MTLS_CONFLICT', /already a CRL URL of "acme"/),
        );
        await assert.rejects(
          reg.addCrlSource('acme', { url: 'ldap://dir.acme.example/cn=CA' }),
          (e: unknown) =>
            assertCode('MTLS_BAD_ARGUMENT', /only http and https/)(e) &&
            (e as MtlsError).subject === 'url',
        );
        await assert.rejects(
          reg.addCrlSource('acme', { url: 'http://u:pw@pki.acme.example/x.crl' }),
          assertCode('MTLS_BAD_ARGUMENT', /credentials/),
        );
        await assert.rejects(
          reg.addCrlSource('acme', { url: 'http://pki.acme.example/y.crl', intervalSeconds: 59 }),
          (e: unknown) =>
            assertCode(
              'MTLS_BAD_ARGUMENT',
              /interval 59s is out of bounds: it must be from 1m to 7d/,
            )(e) && (e as MtlsError).subject === 'interval',
        );
        await assert.rejects(
          reg.addCrlSource('acme', {
            url: 'http://pki.acme.example/y.crl',
            intervalSeconds: 7 * 86400 + 1,
          }),
          assertCode('MTLS_BAD_ARGUMENT', /out of bounds/),
        );
        await assert.rejects(
          reg.addCrlSource('ghost', { url: 'http://pki.acme.example/y.crl' }),
          assertCode('MTLS_NOT_FOUND'),
        );
        assert.deepEqual(
          (await reg.listCrlSources()).map((s) => [s.institutionId, s.url, s.intervalSeconds]),
          [
            ['acme', 'http://pki.acme.example/ca.crl', 3600],
            ['acme', 'https://pki.acme.example/sub.crl', 60],
            ['beta', 'http://pki.acme.example/ca.crl', 604800],
          ],
        );

        const v1 = await reg.version();
        await reg.recordCrlFetch(src.id, {
          ok: true,
          at: '2030-01-01T00:00:00Z',
          sha256: 'AB'.repeat(32),
          thisUpdate: '2029-12-31T00:00:00Z',
          nextUpdate: '2030-01-07T00:00:00Z',
        });
        await reg.recordCrlFetch(src.id, {
          ok: false,
          at: '2030-01-01T01:00:00Z',
          error: 'MTLS_NETWORK: CRL download failed: ECONNREFUSED',
        });
        assert.equal(await reg.version(), v1, 'recording an outcome is not a registry change');
        const after = at(await watcher.listCrlSources('acme'), 0);
        assert.equal(after.lastStatus, 'failed');
        assert.equal(after.lastFetchAt, '2030-01-01T01:00:00.000Z');
        assert.match(defined(after.lastError, 'the last error'), /ECONNREFUSED/);
        assert.equal(
          after.lastGoodAt,
          '2030-01-01T00:00:00.000Z',
          'the last good download is kept through a failure',
        );
        assert.equal(after.lastGoodSha256, 'ab'.repeat(32));
        assert.equal(after.lastGoodNextUpdate, '2030-01-07T00:00:00.000Z');
        await reg.recordCrlFetch(9_999_999, { ok: false, at: '2030-01-01T01:00:00Z', error: 'x' });

        await assert.rejects(
          reg.removeCrlSource('beta', 'https://pki.acme.example/sub.crl'),
          assertCode('MTLS_NOT_FOUND', /not a CRL URL of "beta"/),
        );
        await reg.removeCrlSource('acme', 'http://PKI.ACME.example:80/ca.crl');
        assert.equal(await reg.version(), v1 + 1);
        assert.deepEqual(
          (await reg.listCrlSources('acme')).map((s) => s.url),
          ['https://pki.acme.example/sub.crl'],
        );
        await reg.deleteInstitution('acme');
        assert.deepEqual(
          (await reg.listCrlSources()).map((s) => s.institutionId),
          ['beta'],
          'deleting the institution removes its sources',
        );
      } finally {
        stop();
        await watcher.close();
        await reg.close();
      }
    });

    it('refuses IPv4 blocks wider than /16 and IPv6 wider than /48 unless allowWideRange', async () => {
      const reg = await backend.open('wide');
      try {
        await reg.createInstitution({ id: 'acme', name: 'Acme' });
        await assert.rejects(
          reg.addIp('acme', '10.0.0.0/15'),
          assertCode('MTLS_BAD_ARGUMENT', /10\.0\.0\.0\/15 is wider than \/16/),
        );
        await assert.rejects(
          reg.addIp('acme', '2001:db8::/47'),
          assertCode('MTLS_BAD_ARGUMENT', /wider than \/48/),
        );
        assert.deepEqual(at(await reg.loadTrust('acme'), 0).ips, [], 'nothing stored');
        assert.equal((await reg.addIp('acme', '10.1.0.0/16')).cidr, '10.1.0.0/16');
        assert.equal((await reg.addIp('acme', '2001:db8::/48')).cidr, '2001:db8::/48');
        assert.equal(
          (await reg.addIp('acme', '10.0.0.0/8', { allowWideRange: true })).cidr,
          '10.0.0.0/8',
        );
        assert.equal(
          (await reg.addIp('acme', '2001:db8::/32', { allowWideRange: true })).cidr,
          '2001:db8::/32',
        );
      } finally {
        await reg.close();
      }
    });
  });
}

describe('registry contract: PostgreSQL-specific refusals', () => {
  it('migrates its own schema once, refuses a foreign schema, a missing database and an unreachable server', async () => {
    const reg = await openRegistry(pgUrl(PG_DB), { postgres: { schema: 'once' } });
    await reg.close();
    await (await openPostgresRegistry(pgUrl(PG_DB), { schema: 'once' })).close();
    await pgAdmin(async (c) => {
      assert.deepEqual(
        (await c.query('SELECT version FROM once.schema_version ORDER BY version')).rows.map(
          (r: { version: number }) => r.version,
        ),
        MIGRATIONS.map((m) => m.version),
      );
      await c.query('CREATE SCHEMA foreign_app');
      await c.query('CREATE TABLE foreign_app.orders (id int)');
    }, pgUrl(PG_DB));
    await assert.rejects(
      openPostgresRegistry(pgUrl(PG_DB), { schema: 'foreign_app' }),
      assertCode('MTLS_CONFIG_INVALID', /not an mtlskit registry/),
    );
    await assert.rejects(
      openPostgresRegistry(pgUrl('no_such_db_mtls')),
      assertCode('MTLS_CONFIG_INVALID', /does not exist/),
    );
    await assert.rejects(
      openPostgresRegistry('postgres://postgres@127.0.0.1:9/test'),
      assertCode('MTLS_NETWORK', /cannot reach PostgreSQL at postgres:\/\/127\.0\.0\.1:9\/test/),
    );
  });

  it('opened with migrate: false (mtls gateway start --check), a missing schema is not created and an existing one is read as it is', async () => {
    const peek = await openPostgresRegistry(pgUrl(PG_DB), { schema: 'peek', migrate: false });
    assert.deepEqual(peek.schemaVersion(), {
      version: 0,
      build: LATEST_SCHEMA_VERSION,
      compatibleFrom: 0,
    });
    await peek.close();
    await pgAdmin(async (c) => {
      const r = await c.query(
        `SELECT schema_name FROM information_schema.schemata WHERE schema_name = 'peek'`,
      );
      assert.equal(r.rows.length, 0, 'no schema was created');
    }, pgUrl(PG_DB));
    await (await openPostgresRegistry(pgUrl(PG_DB), { schema: 'peek' })).close();
    const again = await openPostgresRegistry(pgUrl(PG_DB), { schema: 'peek', migrate: false });
    try {
      assert.equal(again.schemaVersion()?.version, LATEST_SCHEMA_VERSION);
      assert.deepEqual(await again.loadTrust(), []);
    } finally {
      await again.close();
    }
  });

  it('migrates a schema-1 registry: CRLs are kept, and two CAs of one name may then each have one', async () => {
    const { MIGRATIONS } = await import('../../src/gateway/registry/migrations.js');
    await pgAdmin(async (c) => {
      await c.query('CREATE SCHEMA v1; SET search_path = v1');
      await c.query(
        'CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)',
      );
      await c.query(at(MIGRATIONS, 0).postgres);
      await c.query(`INSERT INTO schema_version VALUES (1, 'v1', 'x')`);
      await c.query(`INSERT INTO institutions VALUES ('old', 'Old', 'active', 'x', 'x')`);
      await c.query(
        `INSERT INTO crls (institution_id, issuer, pem, this_update, next_update, created_at) VALUES ('old', 'CN=Same', 'p', '2030-01-01T00:00:00.000Z', NULL, 'x')`,
      );
    }, pgUrl(PG_DB));
    const reg = await openPostgresRegistry(pgUrl(PG_DB), { schema: 'v1' });
    try {
      const old = at(await reg.loadTrust('old'), 0);
      assert.deepEqual(
        old.crls.map((r) => [r.issuer, r.issuerFingerprint]),
        [['CN=Same', null]],
      );
      await reg.putCrl('old', {
        pem: '-----BEGIN X509 CRL-----\nAA==\n-----END X509 CRL-----\n',
        issuer: 'CN=Same',
        issuerFingerprint: 'cd'.repeat(32),
        thisUpdate: '2030-01-01T00:00:00Z',
        nextUpdate: null,
      });
      assert.equal(at(await reg.loadTrust('old'), 0).crls.length, 2);
    } finally {
      await reg.close();
    }
  });
});
