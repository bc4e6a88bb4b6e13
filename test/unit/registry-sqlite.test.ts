import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  copyFileSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
  closeSync,
} from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import Database from 'better-sqlite3';
import { MtlsError } from '../../src/errors/index.js';
import { normaliseCidr, parseCidr } from '../../src/gateway/registry/cidr.js';
import { openRegistry, parseRegistryLocation } from '../../src/gateway/registry/index.js';
import { LATEST_SCHEMA_VERSION, MIGRATIONS } from '../../src/gateway/registry/migrations.js';
import { openSqliteRegistry } from '../../src/gateway/registry/sqlite-registry.js';
import type { RegistryChange } from '../../src/gateway/registry/types.js';
import { spkiSha256 } from '../../src/pki/spki-hash.js';
import { makeCa, tempDir } from '../helpers/pki.js';
import { at, assertCode } from '../helpers/assert.js';
import { writeOldRegistry } from '../helpers/old-registry.js';
import { auditRecord } from '../helpers/audit-record.js';

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
    assert.throws(
      () => normaliseCidr('10.0.0.5/24'),
      (e: unknown) =>
        assertCode('MTLS_BAD_ARGUMENT', /host bits/)(e) &&
        /10\.0\.0\.0\/24/.test((e as MtlsError).hint),
    );
    assert.throws(
      () => normaliseCidr('10.0.0.0/33'),
      assertCode('MTLS_BAD_ARGUMENT', /prefix length/),
    );
    assert.throws(() => normaliseCidr('fe80::1%eth0'), assertCode('MTLS_BAD_ARGUMENT'));
    assert.throws(() => normaliseCidr('0.0.0.0/0'), assertCode('MTLS_BAD_ARGUMENT', /every IPv4/));
    assert.throws(() => normaliseCidr('::/0'), assertCode('MTLS_BAD_ARGUMENT', /every IPv6/));
    assert.throws(() => normaliseCidr('example.com'), assertCode('MTLS_BAD_ARGUMENT'));
    assert.throws(() => normaliseCidr('300.1.1.1'), assertCode('MTLS_BAD_ARGUMENT'));
  });
});

describe('registry location', () => {
  it('parses sqlite:, plain paths and postgres URLs; refuses other schemes', () => {
    assert.deepEqual(parseRegistryLocation('sqlite:/var/lib/r.db'), {
      kind: 'sqlite',
      path: '/var/lib/r.db',
    });
    assert.deepEqual(parseRegistryLocation('./r.db'), { kind: 'sqlite', path: './r.db' });
    assert.deepEqual(parseRegistryLocation('postgres://u@h/db'), {
      kind: 'postgres',
      url: 'postgres://u@h/db',
    });
    assert.throws(
      () => parseRegistryLocation('mysql://h/db'),
      assertCode('MTLS_CONFIG_UNSUPPORTED', /mysql/),
    );
    assert.throws(() => parseRegistryLocation(' '), assertCode('MTLS_CONFIG_INVALID'));
  });
});

describe('SQLite registry', () => {
  let dir: string;
  let cleanup: () => void;
  before(() => {
    ({ dir, cleanup } = tempDir('mtlskit-reg-'));
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
      assert.deepEqual(
        rows.map((r) => r.version),
        MIGRATIONS.map((m) => m.version),
      );
      assert.equal(rows.at(-1)?.version, LATEST_SCHEMA_VERSION);
      // From schema 7 on, each version records the oldest schema whose builds may use the store.
      const declared = db
        .prepare('SELECT version, compatible_from AS c FROM schema_version WHERE version >= 7')
        .all() as { version: number; c: number | null }[];
      assert.deepEqual(
        declared.map((r) => [r.version, r.c]),
        MIGRATIONS.filter((m) => m.version >= 7).map((m) => [
          m.version,
          m.compatibleFrom ?? m.version,
        ]),
      );
      assert.deepEqual(at(declared, 0), { version: 7, c: 6 });
      const tables = (
        db.prepare(`SELECT name FROM sqlite_master WHERE type='table'`).all() as { name: string }[]
      ).map((t) => t.name);
      for (const t of [
        'institutions',
        'ca_chains',
        'ca_certificates',
        'ip_blocks',
        'crls',
        'pinned_rules',
        'audit_log',
        'registry_state',
      ])
        assert.ok(tables.includes(t), t);
    } finally {
      db.close();
    }
  });

  it('DNs stored in RFC 4514 form by older versions are read in the form every DN prints in', async () => {
    const path = join(dir, 'dn-forms.db');
    const reg = await openSqliteRegistry(path);
    const other = new Database(path);
    try {
      const ca = await makeCa(dir, { name: 'Old Form CA' });
      const cert = new X509Certificate(ca.certPem);
      await reg.createInstitution({ id: 'oldform', name: 'Old Form' });
      await reg.addCaChain('oldform', {
        pem: ca.certPem,
        fingerprints: [cert.fingerprint256.replace(/:/g, '').toLowerCase()],
        subject: 'C=BR, O=Old Form CA, CN=Old Form CA',
        notAfter: cert.validTo,
      });
      await reg.appendAudit([audit({ subject: 'C=BR, CN=new-form' })]);
      // As a registry written before DNs had one printed form holds them.
      other.exec(`UPDATE ca_chains SET subject = 'CN=Old Form CA,O=Old Form CA,C=BR'`);
      other.exec(
        `INSERT INTO audit_log (time, kind, ip, subject, issuer, outcome, reason) VALUES ('${new Date().toISOString()}', 'connection', '127.0.0.1', 'CN=old\\, client,O=Acme,C=BR', 'CN=Old Form CA,O=Old Form CA,C=BR', 'accepted', 'ok')`,
      );
      const [trust] = await reg.loadTrust();
      assert.equal(trust?.chains[0]?.subject, 'C=BR, O=Old Form CA, CN=Old Form CA');
      const subjects = (await reg.queryAudit({ limit: 10 })).map((r) => [r.subject, r.issuer]);
      assert.deepEqual(subjects.sort(), [
        ['C=BR, CN=new-form', 'CN=Acme CA'],
        ['C=BR, O=Acme, CN=old\\, client', 'C=BR, O=Old Form CA, CN=Old Form CA'],
      ]);
    } finally {
      other.close();
      await reg.close();
    }
  });

  it("refuses a registry written by a newer schema, and another application's database", async () => {
    const newer = join(dir, 'newer.db');
    await (await openSqliteRegistry(newer)).close();
    const db = new Database(newer);
    db.prepare(
      `INSERT INTO schema_version (version, description, applied_at) VALUES (99, 'future', 'x')`,
    ).run();
    db.close();
    await assert.rejects(
      openSqliteRegistry(newer),
      assertCode('MTLS_CONFIG_UNSUPPORTED', /schema version 99/),
    );

    const foreign = join(dir, 'foreign.db');
    const f = new Database(foreign);
    f.exec('CREATE TABLE customers (id INTEGER)');
    f.close();
    await assert.rejects(
      openSqliteRegistry(foreign),
      (e: unknown) =>
        assertCode('MTLS_CONFIG_INVALID', /not an mtlskit registry/)(e) &&
        (e as MtlsError).message.includes(foreign),
    );
    // Nothing was added to the foreign file.
    const g = new Database(foreign, { readonly: true });
    assert.deepEqual(
      (
        g.prepare(`SELECT name FROM sqlite_master WHERE type='table'`).all() as { name: string }[]
      ).map((t) => t.name),
      ['customers'],
    );
    g.close();
  });

  it('gives MTLS_CONFIG_INVALID naming the path and the fix for corrupt, non-SQLite and missing files', async () => {
    const text = join(dir, 'text.db');
    writeFileSync(text, 'this is not a database\n'.repeat(200));
    await assert.rejects(openRegistry(text), (e: unknown) => {
      assertCode('MTLS_CONFIG_INVALID', /not a SQLite database/)(e);
      const err = e as MtlsError;
      assert.ok(err.message.includes(text), err.message);
      assert.equal(
        err.hint,
        `Put a backup in its place (a copy of it moved there with mv), or move it aside and register the institutions again in a new file (\`mtls gateway institution add\` creates it); \`sqlite3 ${text} 'PRAGMA integrity_check'\` shows the damage.`,
      );
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
    await assert.rejects(
      openSqliteRegistry(damaged),
      (e: unknown) =>
        assertCode('MTLS_CONFIG_INVALID', /corrupt|not a SQLite/)(e) &&
        (e as MtlsError).message.includes(damaged),
    );

    await assert.rejects(
      openSqliteRegistry(join(dir, 'absent.db'), { create: false }),
      assertCode('MTLS_CONFIG_INVALID', /does not exist/),
    );
    await assert.rejects(
      openSqliteRegistry(join(dir, 'no-such-dir', 'r.db')),
      assertCode('MTLS_CONFIG_INVALID', /directory .* does not exist/),
    );
    mkdirSync(join(dir, 'a-dir.db'));
    await assert.rejects(
      openSqliteRegistry(join(dir, 'a-dir.db')),
      assertCode('MTLS_CONFIG_INVALID', /is a directory/),
    );
    await assert.rejects(
      openSqliteRegistry(join(dir, 'poll.db'), { pollIntervalMs: 1000 }),
      assertCode('MTLS_CONFIG_INVALID', /pollIntervalMs/),
    );
  });

  it('migrates a schema-1 file: CRLs keep their ids and rows; afterwards two CAs of one name each keep a CRL', async () => {
    const path = join(dir, 'v1.db');
    writeOldRegistry(path, 1, (db) => {
      db.prepare(`INSERT INTO institutions VALUES ('old', 'Old', 'active', 'x', 'x')`).run();
      db.prepare(
        `INSERT INTO crls (id, institution_id, issuer, pem, this_update, next_update, created_at) VALUES (7, 'old', 'CN=Same', '-----BEGIN X509 CRL-----\nAA==\n-----END X509 CRL-----\n', '2030-01-01T00:00:00.000Z', NULL, 'x')`,
      ).run();
    });
    const reg = await openSqliteRegistry(path);
    try {
      const old = at(await reg.loadTrust('old'), 0);
      assert.deepEqual(
        old.crls.map((c) => [c.id, c.issuer, c.issuerFingerprint]),
        [[7, 'CN=Same', null]],
      );
      const next = await reg.putCrl('old', {
        pem: at(old.crls, 0).pem,
        issuer: 'CN=Same',
        issuerFingerprint: 'cd'.repeat(32),
        thisUpdate: '2030-01-01T00:00:00Z',
        nextUpdate: null,
      });
      assert.ok(next.id > 7, 'AUTOINCREMENT continues after the copied ids');
      assert.equal(
        at(await reg.loadTrust('old'), 0).crls.length,
        2,
        'the same issuer name from another CA no longer collides',
      );
      const replaced = await reg.putCrl('old', {
        pem: at(old.crls, 0).pem,
        issuer: 'CN=Same',
        issuerFingerprint: 'ef'.repeat(32),
        thisUpdate: '2030-01-01T00:00:00Z',
        nextUpdate: null,
        replaces: 7,
      });
      assert.deepEqual(
        at(await reg.loadTrust('old'), 0).crls.map((c) => c.id),
        [next.id, replaced.id],
        'the legacy row it replaces is gone',
      );
      assert.deepEqual(await reg.loadTrust('nobody'), []);
    } finally {
      await reg.close();
    }
  });

  it('migrates a schema-5 file: audit records stored before keep their rows with no request id; new ones are found by theirs', async () => {
    const path = join(dir, 'v5.db');
    writeOldRegistry(path, 5, (db) =>
      db
        .prepare(
          `INSERT INTO audit_log (time, kind, ip, outcome, reason, method, path, status) VALUES ('2030-01-01T00:00:00.000Z', 'request', '203.0.113.7', 'accepted', 'ok', 'GET', '/before', 200)`,
        )
        .run(),
    );
    const reg = await openSqliteRegistry(path);
    try {
      const before = at(await reg.queryAudit({}), 0);
      assert.equal(before.path, '/before');
      assert.equal(before.requestId, null);
      const id = '3f2b8c1e-5a7d-4e2f-9b1c-0d4e6f8a2b3c';
      await reg.appendAudit([audit({ kind: 'request', path: '/after', requestId: id })]);
      assert.deepEqual(
        (await reg.queryAudit({ requestId: id })).map((r) => r.path),
        ['/after'],
      );
    } finally {
      await reg.close();
    }
    const check = new Database(path, { readonly: true });
    try {
      const v = check.prepare('SELECT MAX(version) AS v FROM schema_version').get() as {
        v: number;
      };
      assert.equal(v.v, LATEST_SCHEMA_VERSION);
    } finally {
      check.close();
    }
  });

  it("migrates a schema-7 file: its institutions take the gateway's limits until given a rate of their own", async () => {
    const path = join(dir, 'v7.db');
    writeOldRegistry(path, 7, (db) =>
      db
        .prepare(
          `INSERT INTO institutions (id, name, status, created_at, updated_at) VALUES ('old', 'Old', 'active', 'x', 'x')`,
        )
        .run(),
    );
    const reg = await openSqliteRegistry(path);
    try {
      assert.equal(reg.schemaVersion()?.version, LATEST_SCHEMA_VERSION);
      assert.equal((await reg.getInstitution('old'))?.requestRate, null);
      assert.deepEqual(
        (await reg.setInstitutionRequestRate('old', { requestsPerSecond: 3, burst: 6 }))
          .requestRate,
        { requestsPerSecond: 3, burst: 6 },
      );
    } finally {
      await reg.close();
    }
    // A schema-7 build reads and writes institutions with SELECT * and named
    // columns: the new ones do not get in its way, which is what the
    // migration's declared compatibility promises.
    const old = new Database(path);
    try {
      const declared = old
        .prepare('SELECT compatible_from AS c FROM schema_version WHERE version = 8')
        .get() as { c: number };
      assert.equal(declared.c, 7);
      old
        .prepare(
          `INSERT INTO institutions (id, name, status, created_at, updated_at) VALUES ('new', 'New', 'active', 'x', 'x')`,
        )
        .run();
      old.prepare(`UPDATE institutions SET status = 'suspended' WHERE id = 'old'`).run();
      assert.throws(
        () => old.prepare(`UPDATE institutions SET rate_per_second = 0 WHERE id = 'old'`).run(),
        /CHECK constraint failed/,
      );
    } finally {
      old.close();
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
    const stop = reg.onChange(
      (c) => changes.push(c),
      (e) => errors.push(e),
    );
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

  it('writes folded between polls are reported one by one; a hole in the change log asks for a full reload', async () => {
    const path = join(dir, 'changelog.db');
    const writer = await openSqliteRegistry(path);
    // A long poll period, so that every write below lands between two polls.
    const reader = await openSqliteRegistry(path, { pollIntervalMs: 250 });
    const other = new Database(path);
    const changes: RegistryChange[] = [];
    const stop = reader.onChange((c) => changes.push(c));
    try {
      const v0 = await writer.version();
      await writer.createInstitution({ id: 'a', name: 'A' });
      await writer.addIp('a', '192.0.2.1');
      await waitFor(() => changes.find((c) => c.version === v0 + 2), 2_000);
      assert.deepEqual(changes, [
        { institutionId: 'a', version: v0 + 1 },
        { institutionId: 'a', version: v0 + 2 },
      ]);
      // A store written before the log existed (or a reader further behind
      // than the log reaches) has a hole: nothing says which institution changed.
      other.exec('UPDATE registry_state SET version = version + 2 WHERE id = 1');
      const full = await waitFor(() => changes.find((c) => c.version === v0 + 4), 2_000);
      assert.equal(full.institutionId, null);
      assert.equal(changes.length, 3, 'one full reload, not a change per version');
      // The log picks up again after the hole.
      await writer.addIp('a', '192.0.2.3');
      const next = await waitFor(() => changes.find((c) => c.version === v0 + 5), 2_000);
      assert.equal(next.institutionId, 'a');
    } finally {
      stop();
      other.close();
      await reader.close();
      await writer.close();
    }
  });

  it('indexes the keys of CA certificates stored before the key index on the first key lookup', async () => {
    const path = join(dir, 'cakeys.db');
    const reg = await openSqliteRegistry(path);
    const other = new Database(path);
    try {
      const ca = await makeCa(dir, { name: 'Key Index CA' });
      const cert = new X509Certificate(ca.certPem);
      const fingerprint = cert.fingerprint256.replace(/:/g, '').toLowerCase();
      await reg.createInstitution({ id: 'old', name: 'Old' });
      const chain = await reg.addCaChain('old', {
        pem: ca.certPem,
        fingerprints: [fingerprint],
        subject: ca.subject,
        notAfter: cert.validTo,
      });
      // As a store migrated from schema 4 holds it: no key on the row.
      other.exec('UPDATE ca_certificates SET spki_sha256 = NULL');
      const v = await reg.version();
      const found = await reg.findCaKeys([spkiSha256(cert)]);
      assert.deepEqual(found.hits, [
        { institutionId: 'old', chainId: chain.id, position: 0, spkiSha256: spkiSha256(cert) },
      ]);
      assert.deepEqual(found.unindexed, []);
      assert.deepEqual(other.prepare('SELECT spki_sha256 AS k FROM ca_certificates').all(), [
        { k: spkiSha256(cert) },
      ]);
      assert.equal(await reg.version(), v, 'derived data: the registry version stays');
    } finally {
      other.close();
      await reg.close();
    }
  });

  it('creates a new registry file mode 0600 (owner only), and its -wal and -shm too', async () => {
    const path = join(dir, 'private.db');
    const reg = await openSqliteRegistry(path);
    try {
      await reg.createInstitution({ id: 'x', name: 'X' });
      for (const f of [path, `${path}-wal`, `${path}-shm`])
        assert.equal(statSync(f).mode & 0o777, 0o600, f);
    } finally {
      await reg.close();
    }
  });

  it('follows the file at its path: a replacement is reopened and reloaded in full; a deleted file fails every read and the feed', async () => {
    const path = join(dir, 'live.db');
    const backup = join(dir, 'live-backup.db');
    const reg = await openSqliteRegistry(path, { pollIntervalMs: 20, onError: () => undefined });
    const changes: RegistryChange[] = [];
    const errors: MtlsError[] = [];
    const stop = reg.onChange(
      (c) => changes.push(c),
      (e) => errors.push(e),
    );
    try {
      await reg.createInstitution({ id: 'acme', name: 'Acme' });
      // The backup: a copy in which acme is suspended (made through another registry on a copy).
      const other = await openSqliteRegistry(backup);
      await other.createInstitution({ id: 'acme', name: 'Acme' });
      await other.setInstitutionStatus('acme', 'suspended');
      await other.close();
      changes.length = 0;
      copyFileSync(backup, `${path}.restore`);
      renameSync(`${path}.restore`, path);
      const reload = await waitFor(() => changes.find((c) => c.institutionId === null), 2_000);
      assert.equal(
        reload.version,
        2,
        "the restored file's version, though lower than the one seen before",
      );
      assert.equal(
        (await reg.getInstitution('acme'))?.status,
        'suspended',
        "the new file's contents apply",
      );

      unlinkSync(path);
      await assert.rejects(
        reg.loadTrust(),
        (e: unknown) =>
          assertCode('MTLS_FILE_NOT_FOUND', /registry file .*live\.db is gone/)(e) &&
          /restore|Put the registry back/i.test((e as MtlsError).hint),
      );
      await assert.rejects(
        reg.appendAudit([audit()]),
        assertCode('MTLS_FILE_NOT_FOUND'),
        'audit records are not written into a deleted file',
      );
      await waitFor(() => errors[0], 2_000);
      copyFileSync(backup, path);
      changes.length = 0;
      await waitFor(() => changes.find((c) => c.institutionId === null), 2_000);
      assert.equal((await reg.getInstitution('acme'))?.status, 'suspended');
    } finally {
      stop();
      await reg.close();
    }
  });
});
