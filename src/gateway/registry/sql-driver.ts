/**
 * The small SQL driver interface the one registry implementation
 * (`sql-registry.ts`) runs on. A driver knows its store's dialect: how to open
 * it, how to run `?`-placeholder statements inside a transaction, how to name
 * its errors, and how other processes' changes reach this one. Everything the
 * registry means (tables, rules, messages, change bookkeeping) lives above it.
 */
import type { MtlsError } from '../../errors/index.js';

/** A statement parameter. */
export type SqlValue = string | number | null;

/** One result row: column name to value (integers come back as numbers on both stores). */
export type SqlRow = Record<string, unknown>;

/** Result of {@link SqlQuery.run}. */
export interface SqlRunResult {
  /** Rows the statement returned (a SELECT, or a `RETURNING` clause). */
  rows: SqlRow[];
  /** Rows it inserted, updated or deleted (for a statement returning rows: how many it returned). */
  changes: number;
}

/** Statements inside one open transaction. */
export interface SqlQuery {
  /** Runs one statement with `?` placeholders. */
  run(sql: string, params?: readonly SqlValue[]): Promise<SqlRunResult>;
  /** Runs a parameterless script of several statements (migrations). */
  exec(sql: string): Promise<void>;
}

/**
 * What a transaction is for, which decides how it begins:
 * - `read`: one consistent snapshot (SQLite deferred `BEGIN` in WAL;
 *   PostgreSQL `REPEATABLE READ READ ONLY`);
 * - `write`: a registry change (SQLite `BEGIN IMMEDIATE`, the single writer);
 * - `audit`: an audit append, which must not stall on a busy store;
 * - `migrate`: schema creation, one process at a time.
 */
export type SqlTransactionMode = 'read' | 'write' | 'audit' | 'migrate';

/** Which DDL of a migration a driver runs. */
export type SqlDialect = 'sqlite' | 'postgres';

/** A store the registry runs on. */
export interface SqlDriver {
  readonly dialect: SqlDialect;
  /** The store, without credentials, for messages (a file path, or `postgres://host:port/db (schema s)`). */
  readonly where: string;
  /**
   * Bumped each time the driver reopened its store because the one at the
   * configured location was replaced: the registry then reloads everything,
   * whatever the version counter says.
   */
  readonly epoch: number;
  /** Opens the store (not the schema: see `migrateRegistry`). */
  open(): Promise<void>;
  /** Closes it and stops any change feed. Idempotent. */
  close(): Promise<void>;
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(mode: SqlTransactionMode, fn: (q: SqlQuery) => Promise<T>): Promise<T>;
  /** Names of the tables in the registry's namespace (the file, or the schema). */
  tables(q: SqlQuery): Promise<string[]>;
  /** Inside a write transaction: lets other processes' change feeds learn of it at commit (PostgreSQL NOTIFY; SQLite readers poll). */
  announce(q: SqlQuery, version: number, institutionId: string | null): Promise<void>;
  /**
   * Starts the change feed: `tick` whenever another process may have changed
   * the store (each poll, each notification, each reconnect); `fail` when the
   * feed itself breaks. Returns the function that stops it.
   */
  watch(tick: () => void, fail: (error: MtlsError) => void): () => void;
  /** True for a unique-constraint violation. */
  isUniqueViolation(e: unknown): boolean;
  /** Maps a store error to an MtlsError naming the store (MtlsErrors pass through). */
  mapError(e: unknown, action: string): MtlsError;
}
