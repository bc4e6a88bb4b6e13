/**
 * Backing up and restoring a SQLite registry while gateways run on it.
 *
 * A copy of the file (`cp`) is neither: a registry in WAL mode keeps its
 * latest commits in `registry.db-wal`, so a copy of the main file alone may
 * lack them, and a copy over the live file has the live WAL replayed on top
 * of it (no effect, or a corrupt index). Both go through SQLite's online
 * backup API instead, which takes the database's locks and reads or writes
 * through its WAL: the backup is one consistent snapshot, and a restore is one
 * transaction every open connection sees whole.
 *
 * After a restore the registry's version is moved past both the live one and
 * the backup's, with no change logged for it: every gateway reloads its whole
 * trust snapshot within its poll interval, and the version never goes back
 * (metrics, the console and change feeds rely on it growing).
 */
import { closeSync, existsSync, openSync, renameSync, rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import { MtlsError } from '../../errors/index.js';
import { errorMessage } from '../../errors/mtls-error.js';
import { LATEST_SCHEMA_VERSION } from './migrations.js';
import { openSqliteRegistry } from './sqlite-registry.js';

/** What a backup or restore copied. */
export interface SqliteCopyResult {
  /** The registry's schema version in the copy. */
  schema: number;
  /** Institutions in the copy. */
  institutions: number;
  /** Audit records in the copy. */
  auditRecords: number;
  /** The registry version after the operation (a restore moves it past both). */
  version: number;
}

/** Opens a registry file read-only, refusing anything that is not one. */
function openExisting(path: string, what: string): Database.Database {
  if (!existsSync(path)) {
    throw new MtlsError('MTLS_FILE_NOT_FOUND', `${what} ${path} does not exist`, {
      subject: path,
      hint: 'Check the path; nothing was written.',
    });
  }
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    db.prepare('SELECT COUNT(*) FROM sqlite_master').get();
  } catch (e) {
    throw new MtlsError('MTLS_CONFIG_INVALID', `${what} ${path} is not a SQLite database`, {
      subject: path,
      cause: e,
      hint: `Give an mtlskit registry file (${errorMessage(e)}).`,
    });
  }
  const hasSchema = db
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'")
    .get();
  if (!hasSchema) {
    db.close();
    throw new MtlsError('MTLS_CONFIG_INVALID', `${what} ${path} is not an mtlskit registry`, {
      subject: path,
      hint: 'It has no schema_version table: give a file `mtls gateway registry backup` wrote, or a registry file.',
    });
  }
  return db;
}

/** The counts a result reports, read from an open registry file. */
function describe(db: Database.Database): SqliteCopyResult {
  const num = (sql: string): number => {
    const row: unknown = db.prepare(sql).get();
    return typeof row === 'object' && row !== null && 'n' in row ? Number(row.n ?? 0) : 0;
  };
  return {
    schema: num('SELECT MAX(version) AS n FROM schema_version'),
    institutions: num('SELECT COUNT(*) AS n FROM institutions'),
    auditRecords: num('SELECT COUNT(*) AS n FROM audit_log'),
    version: num('SELECT version AS n FROM registry_state WHERE id = 1'),
  };
}

/**
 * Writes a consistent copy of the registry at `path` to `out` (mode 0600,
 * written under a temporary name and renamed into place, so `out` is either
 * absent or whole), while gateways keep serving and writing.
 * @throws MTLS_FILE_NOT_FOUND, MTLS_CONFIG_INVALID (not a registry), MTLS_FILE_EXISTS (without `force`), MTLS_FILE_WRITE
 */
export async function backupSqliteRegistry(
  path: string,
  out: string,
  options: { force?: boolean } = {},
): Promise<SqliteCopyResult> {
  if (existsSync(out) && !options.force) {
    throw new MtlsError('MTLS_FILE_EXISTS', `${out} already exists`, {
      subject: out,
      hint: 'Choose another file name, or add --force to replace it.',
    });
  }
  const source = openExisting(path, 'registry file');
  const tmp = `${out}.tmp-${process.pid}`;
  try {
    // Created empty with its final mode first: the copy holds the audit trail.
    closeSync(openSync(tmp, 'w', 0o600));
    await source.backup(tmp);
    const copy = new Database(tmp);
    let result: SqliteCopyResult;
    try {
      // The copy inherits the live file's WAL mode, and a WAL file leaves
      // -wal and -shm files beside it wherever it is opened. A backup is one
      // file: rollback-journal mode, whose sidecars go when it closes. A
      // restore into the live (WAL) file keeps the live file's mode.
      copy.pragma('journal_mode = DELETE');
      result = describe(copy);
    } finally {
      copy.close();
    }
    renameSync(tmp, out);
    return result;
  } catch (e) {
    rmSync(tmp, { force: true });
    if (e instanceof MtlsError) throw e;
    throw new MtlsError('MTLS_FILE_WRITE', `cannot write the backup ${out}: ${errorMessage(e)}`, {
      subject: out,
      cause: e,
    });
  } finally {
    source.close();
  }
}

/**
 * Replaces the contents of the registry at `path` with the backup's, in one
 * step every open connection sees whole, then moves the version past both so
 * that every gateway reloads. A backup of an older schema is migrated (in a
 * temporary copy) first; one a newer, incompatible build wrote is refused.
 * Audit records written since the backup are not in it, and are gone after.
 * @throws MTLS_FILE_NOT_FOUND (either file; the registry is never created), MTLS_CONFIG_INVALID, MTLS_CONFIG_UNSUPPORTED, MTLS_FILE_WRITE
 */
export async function restoreSqliteRegistry(
  path: string,
  backup: string,
): Promise<SqliteCopyResult> {
  const live = openExisting(path, 'registry file');
  const liveVersion = describe(live).version;
  live.close();
  // A backup in WAL mode (a copy made otherwise, or by an older build) gets
  // -wal and -shm files when opened, even read-only: removed after, unless
  // they were there before.
  const sidecars = [`${backup}-wal`, `${backup}-shm`].filter((f) => !existsSync(f));
  let source = openExisting(backup, 'backup');
  const tmp = `${path}.restore-${process.pid}`;
  try {
    const schema = describe(source).schema;
    if (schema > LATEST_SCHEMA_VERSION) {
      // The gateways on the registry run this build or older: a newer
      // schema under them is not something a restore may bring.
      throw new MtlsError(
        'MTLS_CONFIG_UNSUPPORTED',
        `backup ${backup} has registry schema ${schema}, newer than this mtlskit writes (${LATEST_SCHEMA_VERSION})`,
        { subject: backup, hint: 'Restore it with the mtlskit version that wrote it.' },
      );
    }
    if (schema < LATEST_SCHEMA_VERSION) {
      // The live file has this build's schema; the backup is brought to it
      // in a copy, never changed itself.
      closeSync(openSync(tmp, 'w', 0o600));
      await source.backup(tmp);
      source.close();
      await (await openSqliteRegistry(tmp)).close();
      source = new Database(tmp, { readonly: true });
    }
    const restored = describe(source);
    // One destination transaction: the exclusive lock sqlite3_backup_step
    // takes on the live file is held until the copy is complete, and readers
    // (in WAL mode) see the old contents until then.
    await source.backup(path);
    const db = new Database(path);
    try {
      const version = Math.max(liveVersion, restored.version) + 1;
      db.transaction(() => {
        db.prepare(
          'UPDATE registry_state SET version = ?, last_institution_id = NULL WHERE id = 1',
        ).run(version);
        db.prepare('INSERT INTO registry_changes (version, institution_id) VALUES (?, NULL)').run(
          version,
        );
      })();
      return { ...restored, version };
    } finally {
      db.close();
    }
  } catch (e) {
    if (e instanceof MtlsError) throw e;
    throw new MtlsError(
      'MTLS_FILE_WRITE',
      `cannot restore ${backup} into ${path}: ${errorMessage(e)}`,
      { subject: path, cause: e, hint: 'The registry is as it was before: a restore is one step.' },
    );
  } finally {
    if (source.open) source.close();
    for (const f of [tmp, `${tmp}-wal`, `${tmp}-shm`, ...sidecars]) rmSync(f, { force: true });
  }
}
