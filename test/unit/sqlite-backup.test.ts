/**
 * SQLite registry backup and restore: a backup is whole and private; a
 * restore never creates the registry, migrates an older backup in a copy
 * (the backup itself untouched), refuses a newer schema and a file that is
 * not a registry, and moves the version past both.
 */
import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  backupSqliteRegistry,
  restoreSqliteRegistry,
} from '../../src/gateway/registry/sqlite-backup.js';
import { openSqliteRegistry } from '../../src/gateway/registry/sqlite-registry.js';
import { LATEST_SCHEMA_VERSION } from '../../src/gateway/registry/index.js';
import { writeOldRegistry } from '../helpers/old-registry.js';
import { tempDir } from '../helpers/pki.js';
import { assertCode } from '../helpers/assert.js';

const { dir } = tempDir('mtlskit-sqlite-backup-');

test('a backup is a private, whole copy; refused over an existing file without force', async () => {
  const live = join(dir, 'live.db');
  const reg = await openSqliteRegistry(live);
  await reg.createInstitution({ id: 'acme', name: 'Acme' });
  const out = join(dir, 'b.db');
  const r = await backupSqliteRegistry(live, out);
  assert.equal(r.institutions, 1);
  assert.equal(r.schema, LATEST_SCHEMA_VERSION);
  assert.equal(statSync(out).mode & 0o777, 0o600);
  await assert.rejects(backupSqliteRegistry(live, out), assertCode('MTLS_FILE_EXISTS'));
  await reg.createInstitution({ id: 'beta', name: 'Beta' });
  assert.equal((await backupSqliteRegistry(live, out, { force: true })).institutions, 2);
  await reg.close();
});

test('a backup is one file, and a restore leaves nothing beside it (a nightly job must not pile up -wal and -shm files)', async () => {
  const sub = join(dir, 'nightly');
  mkdirSync(sub);
  const live = join(dir, 'live3.db');
  const reg = await openSqliteRegistry(live);
  await reg.createInstitution({ id: 'acme', name: 'Acme' });
  const out = join(sub, 'b.db');
  await backupSqliteRegistry(live, out);
  assert.deepEqual(readdirSync(sub), ['b.db']);
  await restoreSqliteRegistry(live, out);
  assert.deepEqual(readdirSync(sub), ['b.db'], 'nothing left beside the backup by the restore');
  // A backup in WAL mode (an older build's, or a copy made otherwise): the
  // sidecars opening it creates are removed too.
  const wal = join(sub, 'wal.db');
  const w = new Database(wal);
  w.pragma('journal_mode = WAL');
  w.close();
  await backupSqliteRegistry(live, join(sub, 'tmp.db'));
  const copy = new Database(join(sub, 'tmp.db'));
  copy.pragma('journal_mode = WAL');
  copy.close();
  renameSync(join(sub, 'tmp.db'), wal);
  await restoreSqliteRegistry(live, wal);
  assert.deepEqual(readdirSync(sub).sort(), ['b.db', 'wal.db']);
  assert.deepEqual(
    (await reg.listInstitutions()).map((i) => i.id),
    ['acme'],
  );
  await reg.close();
});

test('a restore migrates an older backup in a copy, refuses a newer one and a non-registry, and never creates the registry', async () => {
  const live = join(dir, 'live2.db');
  const reg = await openSqliteRegistry(live);
  for (let i = 0; i < 3; i++) await reg.createInstitution({ id: `i${i}`, name: `I${i}` });
  const before = await reg.version();
  const old = join(dir, 'v7.db');
  writeOldRegistry(old, 7, (db) =>
    db
      .prepare(
        `INSERT INTO institutions (id, name, status, created_at, updated_at) VALUES ('old', 'Old', 'active', 'x', 'x')`,
      )
      .run(),
  );
  const r = await restoreSqliteRegistry(live, old);
  assert.equal(r.schema, LATEST_SCHEMA_VERSION);
  assert.equal(r.institutions, 1);
  assert.ok(r.version > before, `version ${r.version} after ${before}`);
  assert.deepEqual(
    (await reg.listInstitutions()).map((i) => [i.id, i.requestRate]),
    [['old', null]],
    'the open connection reads the restored contents',
  );
  assert.equal(await reg.version(), r.version);
  const untouched = new Database(old, { readonly: true });
  assert.equal(
    (untouched.prepare('SELECT MAX(version) AS v FROM schema_version').get() as { v: number }).v,
    7,
    'the backup itself is not migrated',
  );
  untouched.close();
  assert.ok(!existsSync(`${live}.restore-${process.pid}`), 'no temporary copy left');

  const newer = join(dir, 'newer.db');
  writeOldRegistry(newer, LATEST_SCHEMA_VERSION, (db) =>
    db
      .prepare(
        'INSERT INTO schema_version (version, description, applied_at, compatible_from) VALUES (?, ?, ?, ?)',
      )
      .run(LATEST_SCHEMA_VERSION + 1, 'future', 'x', LATEST_SCHEMA_VERSION + 1),
  );
  await assert.rejects(
    restoreSqliteRegistry(live, newer),
    assertCode('MTLS_CONFIG_UNSUPPORTED', /newer than this mtlskit writes/),
  );
  const text = join(dir, 'not-a-db.txt');
  writeFileSync(text, 'hello');
  await assert.rejects(restoreSqliteRegistry(live, text), assertCode('MTLS_CONFIG_INVALID'));
  const missing = join(dir, 'missing.db');
  await assert.rejects(restoreSqliteRegistry(missing, old), assertCode('MTLS_FILE_NOT_FOUND'));
  assert.ok(!existsSync(missing), 'the registry is never created');
  assert.deepEqual(
    (await reg.listInstitutions()).map((i) => i.id),
    ['old'],
    'refused restores changed nothing',
  );
  await reg.close();
});
