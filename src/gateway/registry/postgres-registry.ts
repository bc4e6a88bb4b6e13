/**
 * The shared registry store: PostgreSQL through `pg`, for several gateway
 * instances, as a {@link SqlDriver} under the one registry implementation.
 *
 * Tables live in their own schema (default `mtls`). Every registry write
 * sends `pg_notify(channel, {version, institutionId})` inside its
 * transaction; PostgreSQL delivers it at commit to every instance LISTENing,
 * so a change reaches them well within a second. A dropped LISTEN connection
 * is reported, re-established, and followed by a full reload, so no change is
 * missed.
 */
import type pg from 'pg';
import { MtlsError, type ErrorCode } from '../../errors/index.js';
import type { SqlDriver, SqlQuery, SqlRow, SqlTransactionMode, SqlValue } from './sql-driver.js';
import { SqlRegistry } from './sql-registry.js';
import { errorCode, errorMessage } from '../../errors/mtls-error.js';

/** Options for {@link openPostgresRegistry}. */
export interface PostgresRegistryOptions {
  /** Schema holding the registry tables (default `mtls`); created when missing. */
  schema?: string;
  /** Connection pool size (default 5). */
  poolSize?: number;
  /** Receives errors of the change feed (once per outage), of idle pool connections, and of change listeners (default `process.emitWarning`). */
  onError?: (error: MtlsError) => void;
  /** Delay before re-establishing a dropped LISTEN connection, in ms (default 500). */
  reconnectDelayMs?: number;
  /** Migrate the schema at open (default true); false only reads its version (`--check`). */
  migrate?: boolean;
}

/** Time to establish a connection to PostgreSQL. */
const CONNECT_TIMEOUT_MS = 10_000;
/** Time PostgreSQL may take to answer one query (node-postgres `query_timeout`). */
const QUERY_TIMEOUT_MS = 30_000;

/** True for node-postgres's own error when a query was not answered within `query_timeout`. */
function isQueryTimeout(e: unknown): boolean {
  return /^Query read timeout$/.test(errorMessage(e));
}

/** A description of the server without credentials, for messages. */
function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `postgres://${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname}`;
  } catch {
    return 'the PostgreSQL URL';
  }
}

/** Maps a pg error to an MtlsError naming the server (never the password). */
export function mapPgError(e: unknown, where: string, action: string): MtlsError {
  if (e instanceof MtlsError) return e;
  const code = errorCode(e) ?? '';
  const msg = errorMessage(e);
  const make = (c: ErrorCode, message: string, hint?: string): MtlsError =>
    new MtlsError(c, message, { subject: where, cause: e, ...(hint ? { hint } : {}) });
  if (
    ['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EAI_AGAIN'].includes(
      code,
    ) ||
    /Connection terminated/i.test(msg)
  ) {
    return make(
      'MTLS_NETWORK',
      `cannot reach PostgreSQL at ${where} to ${action} (${code || msg})`,
      'Check that PostgreSQL is running and the host and port in the registry URL are right.',
    );
  }
  if (isQueryTimeout(e)) {
    return make(
      'MTLS_NETWORK',
      `PostgreSQL at ${where} did not answer within ${QUERY_TIMEOUT_MS / 1000} s to ${action}`,
      'Check the network path to PostgreSQL and the server itself (a hung failover, a lock held for long); the connection was dropped.',
    );
  }
  if (code === '28P01' || code === '28000') {
    return make(
      'MTLS_CONFIG_INVALID',
      `PostgreSQL at ${where} refused the login (${msg})`,
      'Check the user and password in the registry URL (or PGPASSWORD / ~/.pgpass) and pg_hba.conf.',
    );
  }
  if (code === '3D000') {
    return make(
      'MTLS_CONFIG_INVALID',
      `PostgreSQL database in ${where} does not exist (${msg})`,
      'Create it (createdb NAME) or fix the database name in the registry URL.',
    );
  }
  if (code === '42501') {
    return make(
      'MTLS_CONFIG_INVALID',
      `PostgreSQL user may not ${action} at ${where} (${msg})`,
      'Grant the registry user rights on its schema (GRANT ALL ON SCHEMA mtls TO …).',
    );
  }
  if (code === '40001' || code === '40P01' || code === '55P03') {
    return make(
      'MTLS_LOCK_TIMEOUT',
      `PostgreSQL at ${where}: ${action} conflicted with another writer (${msg})`,
      'Retry the command.',
    );
  }
  return make('MTLS_INTERNAL', `PostgreSQL at ${where}: ${action} failed: ${msg}`);
}

/** The `pg` module's default export. */
type Pg = typeof pg;

/**
 * Loads `pg`, an optional peer dependency: only a `postgres://` registry
 * needs it, so a SQLite gateway, a CA or a client never loads it.
 * @throws MTLS_CONFIG_UNSUPPORTED when it is not installed
 */
async function loadPg(): Promise<Pg> {
  try {
    return (await import('pg')).default;
  } catch (e) {
    const code = errorCode(e);
    if (
      (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') &&
      /['"]pg['"]/.test(errorMessage(e))
    ) {
      throw new MtlsError(
        'MTLS_CONFIG_UNSUPPORTED',
        'a postgres:// registry needs the package `pg`, which is not installed',
        {
          subject: 'pg',
          hint: 'Install it next to mtlskit (`npm install pg@8`), or use a SQLite registry file.',
        },
      );
    }
    throw e;
  }
}

/** BIGINT (ids, the version counter) as a number, as SQLite returns it; registry values stay far below 2^53. */
const INT8_OID = 20;
const typesOf = (driver: Pg): pg.CustomTypesConfig => {
  const types = new driver.TypeOverrides(driver.types);
  types.setTypeParser(INT8_OID, Number);
  return types;
};

/** `?` placeholders to PostgreSQL's `$1, $2, …` (registry statements have no `?` in literals). */
const numbered = (sql: string): string => {
  let i = 0;
  return sql.replace(/\?/g, () => `$${++i}`);
};

const BEGIN: Record<SqlTransactionMode, string> = {
  read: 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
  write: 'BEGIN',
  audit: 'BEGIN',
  migrate: 'BEGIN',
};

/** The PostgreSQL {@link SqlDriver}. */
class PostgresDriver implements SqlDriver {
  readonly dialect = 'postgres';
  readonly where: string;
  readonly epoch = 0;
  readonly server: string;
  readonly schema: string;
  private readonly channel: string;
  private pool: pg.Pool | undefined;
  /** The loaded `pg` module (set by {@link open}). */
  private pg: Pg | undefined;
  private closed = false;

  /** @throws MTLS_CONFIG_INVALID for a bad schema name or pool size */
  constructor(
    private readonly url: string,
    private readonly options: PostgresRegistryOptions,
  ) {
    this.server = describeUrl(url);
    this.schema = options.schema ?? 'mtls';
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(this.schema)) {
      throw new MtlsError(
        'MTLS_CONFIG_INVALID',
        `registry schema name "${this.schema}" is not a plain lower-case SQL identifier`,
        { subject: 'schema' },
      );
    }
    const poolSize = options.poolSize ?? 5;
    if (!Number.isInteger(poolSize) || poolSize < 1) {
      throw new MtlsError(
        'MTLS_CONFIG_INVALID',
        `registry poolSize ${poolSize} must be a positive integer`,
        { subject: 'poolSize' },
      );
    }
    this.where = `${this.server} (schema ${this.schema})`;
    this.channel = `mtls_registry_${this.schema}`;
  }

  private config(driver: Pg): pg.ClientConfig {
    return {
      connectionString: this.url,
      options: `-c search_path=${this.schema}`,
      types: typesOf(driver),
      // A link that hangs (packets dropped, a server stopped mid-failover)
      // must fail rather than wait for TCP's retransmission timeout, about 15
      // minutes: a connection is made within 10 s, a query answered within
      // 30 s (registry queries take milliseconds; an audit search over a long
      // trail is the slowest), and idle connections, the LISTEN one among
      // them, are probed with TCP keep-alive. The trust cache's heartbeat
      // notices a hang much sooner (registry-heartbeat.ts); these bound what
      // a hung query holds.
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      query_timeout: QUERY_TIMEOUT_MS,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    };
  }

  private report(err: MtlsError): void {
    if (this.options.onError) this.options.onError(err);
    else process.emitWarning(err.message, { code: err.code });
  }

  async open(): Promise<void> {
    const driver = await loadPg();
    this.pg = driver;
    const pool = new driver.Pool({ ...this.config(driver), max: this.options.poolSize ?? 5 });
    pool.on('error', (e) => this.report(this.mapError(e, 'keep an idle connection')));
    this.pool = pool;
  }

  async close(): Promise<void> {
    this.closed = true;
    const pool = this.pool;
    this.pool = undefined;
    await pool?.end();
  }

  async transaction<T>(mode: SqlTransactionMode, fn: (q: SqlQuery) => Promise<T>): Promise<T> {
    if (!this.pool) throw new MtlsError('MTLS_INTERNAL', `registry ${this.where} is closed`);
    const client = await this.pool.connect();
    const q: SqlQuery = {
      run: async (sql: string, params: readonly SqlValue[] = []) => {
        const r = await client.query<SqlRow>(numbered(sql), [...params]);
        return { rows: r.rows, changes: r.rowCount ?? r.rows.length };
      },
      exec: async (sql: string) => {
        await client.query(sql);
      },
    };
    let broken = false;
    try {
      await client.query(BEGIN[mode]);
      if (mode === 'migrate') {
        await q.run('SELECT pg_advisory_xact_lock(hashtext(?))', [
          `mtlskit-migrate-${this.schema}`,
        ]);
        await q.exec(`CREATE SCHEMA IF NOT EXISTS ${this.schema}`);
      }
      const result = await fn(q);
      await client.query('COMMIT');
      return result;
    } catch (e) {
      // A connection that cannot even roll back is dropped, not returned to
      // the pool; so is one whose query timed out, which would only queue the
      // ROLLBACK behind the query still outstanding on it.
      broken =
        isQueryTimeout(e) ||
        (await client.query('ROLLBACK').then(
          () => false,
          () => true,
        ));
      throw e;
    } finally {
      client.release(broken);
    }
  }

  async tables(q: SqlQuery): Promise<string[]> {
    return (
      await q.run('SELECT table_name FROM information_schema.tables WHERE table_schema = ?', [
        this.schema,
      ])
    ).rows.map((r) => String(r.table_name));
  }

  async announce(q: SqlQuery, version: number, institutionId: string | null): Promise<void> {
    await q.run('SELECT pg_notify(?, ?)', [
      this.channel,
      JSON.stringify({ version, institutionId }),
    ]);
  }

  /** LISTENs on the registry's channel; each notification, and each (re)connection (catch-up), is a tick. */
  watch(tick: () => void, fail: (error: MtlsError) => void): () => void {
    let client: pg.Client | undefined;
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    const start = (): void => {
      const driver = this.pg;
      // open() loads pg before the registry is handed out; a feed without it would never tick.
      if (!driver)
        throw new MtlsError(
          'MTLS_INTERNAL',
          `registry ${this.where}: change feed started before the connection was opened`,
        );
      const c = new driver.Client(this.config(driver));
      client = c;
      const retry = (e: unknown): void => {
        if (client !== c) return;
        client = undefined;
        void c.end().catch(() => undefined);
        if (stopped || this.closed) return;
        fail(this.mapError(e, 'listen for registry changes'));
        timer = setTimeout(() => {
          timer = undefined;
          if (!stopped && !this.closed) start();
        }, this.options.reconnectDelayMs ?? 500);
        timer.unref();
      };
      c.on('error', retry);
      c.on('end', () => retry(new Error('Connection terminated')));
      c.on('notification', (msg) => {
        if (msg.channel === this.channel) tick();
      });
      c.connect()
        .then(() => c.query(`LISTEN ${this.channel}`))
        .then(tick, retry);
    };
    start();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      const c = client;
      client = undefined;
      void c?.end().catch(() => undefined);
    };
  }

  isUniqueViolation(e: unknown): boolean {
    return errorCode(e) === '23505';
  }

  mapError(e: unknown, action: string): MtlsError {
    return mapPgError(e, this.server, action);
  }
}

/** The registry on PostgreSQL. Use {@link openPostgresRegistry}. */
export class PostgresRegistry extends SqlRegistry {
  /** The server, without credentials (for messages). */
  readonly where: string;
  /** The schema holding the tables. */
  readonly schema: string;

  /** @throws MTLS_CONFIG_INVALID for a bad schema name or pool size */
  constructor(url: string, options: PostgresRegistryOptions = {}) {
    const driver = new PostgresDriver(url, options);
    super(driver, {
      ...(options.onError ? { onError: options.onError } : {}),
      ...(options.migrate === false ? { migrate: false } : {}),
    });
    this.where = driver.server;
    this.schema = driver.schema;
  }
}

/**
 * Opens (and migrates) a PostgreSQL registry.
 * @param url - `postgres://user[:password]@host[:port]/database`
 * @throws MTLS_NETWORK when the server cannot be reached
 * @throws MTLS_CONFIG_INVALID for a refused login, a missing database or a foreign schema
 * @throws MTLS_CONFIG_UNSUPPORTED when a newer mtlskit wrote the schema
 */
export async function openPostgresRegistry(
  url: string,
  options: PostgresRegistryOptions = {},
): Promise<PostgresRegistry> {
  const registry = new PostgresRegistry(url, options);
  await registry.init();
  return registry;
}
