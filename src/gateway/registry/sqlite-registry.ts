/**
 * The embedded registry store: one SQLite file (better-sqlite3 12) in WAL
 * mode, as a {@link SqlDriver} under the one registry implementation.
 *
 * Several processes may open the same file: the gateway reads it and appends
 * audit records while `mtls gateway …` edits it. Registry writes take the
 * write lock first (`BEGIN IMMEDIATE`); each open registry polls the version
 * counter (every 200 ms by default), so another process's change reaches
 * `onChange` listeners well within a second.
 *
 * Before every transaction the driver checks the file at the configured path,
 * because an open SQLite connection keeps reading the inode it opened: a file
 * deleted or replaced under it (a restore from backup) would otherwise go on
 * being trusted forever. A different device or inode means the file was
 * replaced: the driver reopens it and the registry reloads everything. A size
 * change that neither this connection's commits nor `PRAGMA data_version`
 * (other connections' commits) explain means the file was overwritten in
 * place: the driver reopens it to drop SQLite's page cache. A file that is
 * gone or unreadable fails every operation, so the gateway's snapshot goes
 * stale and it fails closed.
 */
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  openSync,
  rmSync,
  statSync,
  type Stats,
} from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { MtlsError, type ErrorCode } from '../../errors/index.js';
import type { SqlDriver, SqlQuery, SqlRow, SqlTransactionMode, SqlValue } from './sql-driver.js';
import { SqlRegistry } from './sql-registry.js';
import { errorCode, errorMessage } from '../../errors/mtls-error.js';

/** Options for {@link openSqliteRegistry}. */
export interface SqliteRegistryOptions {
  /**
   * Create the file (mode 0600) and its schema when it does not exist
   * (default true). Management commands other than the first `institution
   * add` pass false, so a mistyped path is an error rather than a new, empty
   * registry.
   */
  create?: boolean;
  /** How often to poll for other processes' changes and for the file being replaced, in ms (default 200, at most 250). */
  pollIntervalMs?: number;
  /** How long a registry write waits for another process's lock, in ms (default 5000). */
  busyTimeoutMs?: number;
  /**
   * How long an audit append waits for another process's lock, in ms (default
   * 50). better-sqlite3 waits synchronously, so a long wait would stall every
   * handshake on the event loop; a busy append fails fast instead and the
   * gateway keeps the records queued for its next flush.
   */
  auditBusyTimeoutMs?: number;
  /**
   * Receives change-feed failures (once per outage) and errors thrown by
   * change listeners. Default: `process.emitWarning`.
   */
  onError?: (
    error: MtlsError,
  ) => void; /** Migrate the schema at open (default true); false only reads its version (`--check`). */
  migrate?: boolean;
}

const CORRUPT_HINT = (path: string): string =>
  `Put a backup in its place (a copy of it moved there with mv), or move it aside and register the institutions again in a new file (\`mtls gateway institution add\` creates it); \`sqlite3 ${path} 'PRAGMA integrity_check'\` shows the damage.`;

/**
 * Maps a better-sqlite3 error to an MtlsError naming the registry file.
 * MtlsErrors pass through.
 */
export function mapSqliteError(e: unknown, path: string, action: string): MtlsError {
  if (e instanceof MtlsError) return e;
  const code = errorCode(e) ?? '';
  const msg = errorMessage(e);
  const make = (c: ErrorCode, message: string, hint?: string): MtlsError =>
    new MtlsError(c, message, { subject: path, cause: e, ...(hint ? { hint } : {}) });
  if (code === 'SQLITE_NOTADB') {
    return make(
      'MTLS_CONFIG_INVALID',
      `registry file ${path} is not a SQLite database (${msg}) while trying to ${action}`,
      CORRUPT_HINT(path),
    );
  }
  if (code.startsWith('SQLITE_CORRUPT')) {
    return make(
      'MTLS_CONFIG_INVALID',
      `registry file ${path} is corrupt (${msg}) while trying to ${action}`,
      CORRUPT_HINT(path),
    );
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return make(
      'MTLS_LOCK_TIMEOUT',
      `registry file ${path} stayed locked by another process; could not ${action}`,
      'Retry; if it persists, find the process holding the registry open in a long transaction.',
    );
  }
  if (
    code.startsWith('SQLITE_CANTOPEN') ||
    code.startsWith('SQLITE_PERM') ||
    code.startsWith('SQLITE_AUTH')
  ) {
    return make(
      'MTLS_CONFIG_INVALID',
      `cannot open registry file ${path} (${msg})`,
      `Check that ${dirname(path)} exists and that this user may read and write ${path} and its -wal/-shm files.`,
    );
  }
  if (
    code.startsWith('SQLITE_READONLY') ||
    code.startsWith('SQLITE_IOERR') ||
    code.startsWith('SQLITE_FULL')
  ) {
    return make(
      'MTLS_FILE_WRITE',
      `cannot ${action}: registry file ${path} is not writable (${msg})`,
      `Check permissions on ${path} and its directory, and free disk space.`,
    );
  }
  return make('MTLS_INTERNAL', `registry ${path}: ${action} failed: ${msg}`);
}

const isUniqueViolation = (e: unknown): boolean =>
  ['SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_CONSTRAINT_PRIMARYKEY'].includes(errorCode(e) ?? '');

/** A prepared registry statement: `?` parameters in, rows of column values out. */
type Statement = Database.Statement<SqlValue[], SqlRow>;

/**
 * Runs a synchronous better-sqlite3 call where the driver interface wants a
 * promise: like an async function, it runs now and a throw becomes a rejection.
 */
function settle<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (e) {
    return Promise.reject(e instanceof Error ? e : new Error(String(e)));
  }
}

/** Prepared statements kept per connection; the multi-row audit INSERT varies in length, so the cache is bounded. */
const STATEMENT_CACHE_SIZE = 256;

/** The SQLite {@link SqlDriver}. */
class SqliteDriver implements SqlDriver {
  readonly dialect = 'sqlite';
  readonly where: string;
  epoch = 0;
  private db: Database.Database | undefined;
  private readonly statements = new Map<string, Statement>();
  /** Device, inode and size of the file the connection has open, as last checked. */
  private file: Pick<Stats, 'dev' | 'ino' | 'size'> | undefined;
  private dataVersion = 0;
  /** This connection committed since the last check (its own commits and checkpoints change the size). */
  private wrote = false;
  /** Transactions run one after another on the one connection. */
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly options: Required<Omit<SqliteRegistryOptions, 'onError' | 'migrate'>>;

  /** @throws MTLS_CONFIG_INVALID when an interval is out of range */
  constructor(path: string, options: SqliteRegistryOptions) {
    this.where = resolve(path);
    const pollIntervalMs = options.pollIntervalMs ?? 200;
    const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    const auditBusyTimeoutMs = options.auditBusyTimeoutMs ?? 50;
    if (!Number.isInteger(pollIntervalMs) || pollIntervalMs < 1 || pollIntervalMs > 250) {
      throw new MtlsError(
        'MTLS_CONFIG_INVALID',
        `registry pollIntervalMs ${pollIntervalMs} must be an integer from 1 to 250`,
        {
          subject: 'pollIntervalMs',
          hint: 'Changes must reach the gateway within 1 s; keep the poll at 250 ms or less.',
        },
      );
    }
    for (const [name, value] of [
      ['busyTimeoutMs', busyTimeoutMs],
      ['auditBusyTimeoutMs', auditBusyTimeoutMs],
    ] as const) {
      if (!Number.isInteger(value) || value < 0)
        throw new MtlsError(
          'MTLS_CONFIG_INVALID',
          `registry ${name} ${value} must be a non-negative integer`,
          { subject: name },
        );
    }
    this.options = {
      create: options.create ?? true,
      pollIntervalMs,
      busyTimeoutMs,
      auditBusyTimeoutMs,
    };
  }

  open(): Promise<void> {
    return settle(() => {
      this.openNow();
    });
  }

  private openNow(): void {
    const path = this.where;
    if (!existsSync(path)) {
      if (!this.options.create) {
        throw new MtlsError('MTLS_CONFIG_INVALID', `registry file ${path} does not exist`, {
          subject: path,
          hint: 'Check the registry path. A registry file is created only by adding its first institution (mtls gateway institution add).',
        });
      }
      if (!existsSync(dirname(path))) {
        throw new MtlsError(
          'MTLS_CONFIG_INVALID',
          `cannot create registry file ${path}: directory ${dirname(path)} does not exist`,
          {
            subject: path,
            hint: `Create the directory (mkdir -p ${dirname(path)}) or choose another registry path.`,
          },
        );
      }
      // The registry holds who may connect and the audit trail: owner only.
      // SQLite gives its -wal and -shm files the main file's mode.
      try {
        closeSync(openSync(path, 'wx', 0o600));
      } catch (e) {
        if (errorCode(e) !== 'EEXIST') throw e;
      }
    } else if (statSync(path).isDirectory()) {
      throw new MtlsError(
        'MTLS_CONFIG_INVALID',
        `registry path ${path} is a directory, not a file`,
        {
          subject: path,
          hint: `Give a file path such as ${path.replace(/\/$/, '')}/mtls-registry.db.`,
        },
      );
    }
    this.connect(statSync(path));
  }

  /** Opens the file at the path (whose stat is `st`) and sets WAL, busy_timeout and foreign keys. */
  private connect(st: Stats): Database.Database {
    const db = new Database(this.where, {
      fileMustExist: true,
      timeout: this.options.busyTimeoutMs,
    });
    try {
      db.pragma(`busy_timeout = ${this.options.busyTimeoutMs}`);
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (String(mode).toLowerCase() !== 'wal') {
        throw new MtlsError(
          'MTLS_CONFIG_INVALID',
          `registry file ${this.where} could not be switched to WAL mode (it reports ${String(mode)})`,
          {
            subject: this.where,
            hint: 'Put the registry on a local filesystem that supports shared memory (not NFS).',
          },
        );
      }
      db.pragma('foreign_keys = ON');
      db.pragma('synchronous = NORMAL');
      this.dataVersion = Number(db.pragma('data_version', { simple: true }));
    } catch (e) {
      db.close();
      throw e;
    }
    this.db = db;
    this.file = { dev: st.dev, ino: st.ino, size: st.size };
    this.wrote = false;
    return db;
  }

  /** Closes the connection (SQLite checkpoints its WAL into the file it had open). */
  private disconnect(): void {
    const db = this.db;
    this.db = undefined;
    this.statements.clear();
    try {
      db?.close();
    } catch {
      // The file went away under it; there is nothing left to flush to.
    }
  }

  /**
   * The connection to the file now at the configured path: reopened when the
   * file was replaced or overwritten in place.
   * @throws MTLS_FILE_NOT_FOUND / MTLS_FILE_READ when the file is gone or unreadable
   */
  private current(): Database.Database {
    if (this.closed)
      throw new MtlsError('MTLS_INTERNAL', `registry ${this.where} is closed`, {
        subject: this.where,
      });
    let st: Stats;
    try {
      st = statSync(this.where);
      accessSync(this.where, constants.R_OK);
    } catch (e) {
      this.disconnect();
      const gone = errorCode(e) === 'ENOENT';
      throw new MtlsError(
        gone ? 'MTLS_FILE_NOT_FOUND' : 'MTLS_FILE_READ',
        `registry file ${this.where} ${gone ? 'is gone (deleted or moved away)' : `cannot be read (${errorMessage(e)})`}`,
        {
          subject: this.where,
          cause: e,
          hint: `Put the registry back: mv a complete copy into place (never cp over a registry in use), then \`mtls gateway registry restore BACKUP --registry ${this.where}\` for later restores. Until then a gateway keeps its last trust snapshot only up to its maximum staleness, then refuses every connection.`,
        },
      );
    }
    const file = this.file;
    if (!this.db || !file || st.dev !== file.dev || st.ino !== file.ino) {
      // Another file now sits at the path (or the old one went away and came back): start over on it.
      this.disconnect();
      this.removeStaleWal(st);
      this.epoch++;
      return this.connect(st);
    }
    const db = this.db;
    const dataVersion = Number(db.pragma('data_version', { simple: true }));
    if (st.size !== file.size && !this.wrote && dataVersion === this.dataVersion) {
      // Overwritten in place behind SQLite's back: its page cache is stale.
      this.disconnect();
      return this.connect(st);
    }
    file.size = st.size;
    this.dataVersion = dataVersion;
    this.wrote = false;
    return db;
  }

  /**
   * SQLite keeps a moved or deleted database's -wal and -shm (it will not
   * checkpoint into a file that has moved), and a WAL carries nothing tying it
   * to its database: opened beside the new file, the old WAL's frames would be
   * replayed over it. A WAL last written before the new file arrived (its
   * ctime) belonged to the old one and goes; a newer one is the new file's.
   */
  private removeStaleWal(st: Stats): void {
    const wal = `${this.where}-wal`;
    let walStat: Stats;
    try {
      walStat = statSync(wal);
    } catch {
      return;
    }
    if (walStat.mtimeMs > st.ctimeMs) return;
    for (const f of [wal, `${this.where}-shm`]) rmSync(f, { force: true });
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.queue;
    this.disconnect();
  }

  private prepare(db: Database.Database, sql: string): Statement {
    let stmt = this.statements.get(sql);
    if (!stmt) {
      if (this.statements.size >= STATEMENT_CACHE_SIZE) this.statements.clear();
      stmt = db.prepare<SqlValue[], SqlRow>(sql);
      this.statements.set(sql, stmt);
    }
    return stmt;
  }

  transaction<T>(mode: SqlTransactionMode, fn: (q: SqlQuery) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      const db = this.current();
      const q: SqlQuery = {
        run: (sql: string, params: readonly SqlValue[] = []) =>
          settle(() => {
            const stmt = this.prepare(db, sql);
            if (stmt.reader) {
              const rows = stmt.all(...params);
              return { rows, changes: rows.length };
            }
            return { rows: [], changes: stmt.run(...params).changes };
          }),
        exec: (sql: string) =>
          settle(() => {
            db.exec(sql);
          }),
      };
      if (mode === 'audit') db.pragma(`busy_timeout = ${this.options.auditBusyTimeoutMs}`);
      try {
        // Writers take the write lock first: a deferred transaction that reads
        // and then writes can fail with SQLITE_BUSY_SNAPSHOT instead of waiting.
        db.exec(mode === 'read' ? 'BEGIN' : 'BEGIN IMMEDIATE');
        try {
          const result = await fn(q);
          db.exec('COMMIT');
          if (mode !== 'read') this.wrote = true;
          return result;
        } catch (e) {
          if (db.inTransaction) db.exec('ROLLBACK');
          throw e;
        }
      } finally {
        if (mode === 'audit' && db.open) db.pragma(`busy_timeout = ${this.options.busyTimeoutMs}`);
      }
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  async tables(q: SqlQuery): Promise<string[]> {
    return (
      await q.run(
        `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`,
      )
    ).rows.map((r) => String(r.name));
  }

  /** Nothing to send: other processes poll the version counter. */
  async announce(): Promise<void> {}

  watch(tick: () => void): () => void {
    const timer = setInterval(tick, this.options.pollIntervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  isUniqueViolation(e: unknown): boolean {
    return isUniqueViolation(e);
  }

  mapError(e: unknown, action: string): MtlsError {
    return mapSqliteError(e, this.where, action);
  }
}

/** The registry on a SQLite file. Use {@link openSqliteRegistry}. */
export class SqliteRegistry extends SqlRegistry {
  /** Absolute path of the registry file. */
  readonly path: string;

  /** @throws MTLS_CONFIG_INVALID when `pollIntervalMs`, `busyTimeoutMs` or `auditBusyTimeoutMs` is out of range */
  constructor(path: string, options: SqliteRegistryOptions = {}) {
    const driver = new SqliteDriver(path, options);
    super(driver, {
      ...(options.onError ? { onError: options.onError } : {}),
      ...(options.migrate === false ? { migrate: false } : {}),
    });
    this.path = driver.where;
  }
}

/**
 * Opens (creating and migrating when needed) a SQLite registry file.
 * @param path - the registry file (created mode 0600 with its schema when missing, unless `create: false`)
 * @throws MTLS_CONFIG_INVALID naming the path for a missing, corrupt, foreign or unopenable file
 * @throws MTLS_CONFIG_UNSUPPORTED when a newer mtlskit wrote the schema
 */
export async function openSqliteRegistry(
  path: string,
  options: SqliteRegistryOptions = {},
): Promise<SqliteRegistry> {
  const registry = new SqliteRegistry(path, options);
  await registry.init();
  return registry;
}
