/**
 * Registry schema migrations. Each migration has a SQLite and a PostgreSQL
 * form, written once where the two differ only in column types; the applied
 * versions are recorded in a `schema_version` table, and the pending ones run
 * in one transaction, so a store is never half-migrated. A migration's DDL
 * never changes once released: a store migrated by an older build must end up
 * with the same schema as a new one.
 */
import { MtlsError } from '../../errors/index.js';
import type { SqlDialect, SqlDriver, SqlQuery } from './sql-driver.js';
import type { RegistrySchema } from './types.js';

/** One schema step. */
export interface Migration {
  /** 1, 2, … in order. */
  version: number;
  description: string;
  /**
   * The oldest schema version whose builds may go on using a store migrated
   * to this one (recorded from version {@link COMPATIBILITY_RECORDED_FROM}
   * on; absent: this version itself). Lower than `version` only for an
   * additive step that older code neither reads nor breaks: a new table, a
   * nullable column, an index. Never for a renamed, dropped or retyped
   * column, a new NOT NULL without a default, or a constraint that older
   * writes could violate. It is what lets several instances on one
   * PostgreSQL be upgraded one at a time.
   */
  compatibleFrom?: number;
  /** DDL for SQLite. */
  sqlite: string;
  /** DDL for PostgreSQL. */
  postgres: string;
}

const RULE_KINDS = `'subject_cn', 'subject_o', 'fingerprint_sha256'`;

/**
 * The column types in which the two stores differ; everything else in the
 * DDL (TEXT times, CHECK constraints, cascades) is written once.
 */
interface ColumnTypes {
  /** An auto-numbered primary key. SQLite's AUTOINCREMENT never reuses an id. */
  id: string;
  /** A 64-bit integer: a counter, or a reference to an auto-numbered id. */
  bigint: string;
  /** A double-precision number. */
  double: string;
}

const COLUMN_TYPES: Record<SqlDialect, ColumnTypes> = {
  sqlite: { id: 'INTEGER PRIMARY KEY AUTOINCREMENT', bigint: 'INTEGER', double: 'REAL' },
  postgres: { id: 'BIGSERIAL PRIMARY KEY', bigint: 'BIGINT', double: 'DOUBLE PRECISION' },
};

/** Both dialects of a migration from one DDL template over {@link ColumnTypes}. */
const inBothDialects = (ddl: (t: ColumnTypes) => string): Record<SqlDialect, string> => ({
  sqlite: ddl(COLUMN_TYPES.sqlite),
  postgres: ddl(COLUMN_TYPES.postgres),
});

/** Every migration, oldest first. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'institutions, CA chains, IPs, CRLs, pinned rules, audit log, change counter',
    ...inBothDialects(
      (t) => `
CREATE TABLE registry_state (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  version ${t.bigint} NOT NULL,
  last_institution_id TEXT
);
INSERT INTO registry_state (id, version, last_institution_id) VALUES (1, 0, NULL);
CREATE TABLE institutions (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('active', 'suspended')),
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE ca_chains (
  id ${t.id},
  institution_id TEXT NOT NULL REFERENCES institutions(id) ON DELETE CASCADE,
  pem TEXT NOT NULL,
  subject TEXT NOT NULL,
  not_after TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX ca_chains_institution ON ca_chains(institution_id);
CREATE TABLE ca_certificates (
  chain_id ${t.bigint} NOT NULL REFERENCES ca_chains(id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  fingerprint TEXT NOT NULL,
  institution_id TEXT NOT NULL REFERENCES institutions(id) ON DELETE CASCADE,
  PRIMARY KEY (chain_id, position),
  UNIQUE (chain_id, fingerprint)
);
CREATE INDEX ca_certificates_fingerprint ON ca_certificates(fingerprint);
CREATE TABLE ip_blocks (
  id ${t.id},
  institution_id TEXT NOT NULL REFERENCES institutions(id) ON DELETE CASCADE,
  cidr TEXT NOT NULL,
  created_at TEXT NOT NULL,
  UNIQUE (institution_id, cidr)
);
CREATE TABLE crls (
  id ${t.id},
  institution_id TEXT NOT NULL REFERENCES institutions(id) ON DELETE CASCADE,
  issuer TEXT NOT NULL,
  pem TEXT NOT NULL,
  this_update TEXT NOT NULL,
  next_update TEXT,
  created_at TEXT NOT NULL,
  UNIQUE (institution_id, issuer)
);
CREATE TABLE pinned_rules (
  id ${t.id},
  institution_id TEXT NOT NULL REFERENCES institutions(id) ON DELETE CASCADE,
  kind TEXT NOT NULL CHECK (kind IN (${RULE_KINDS})),
  value TEXT NOT NULL,
  created_at TEXT NOT NULL,
  UNIQUE (institution_id, kind, value)
);
CREATE TABLE audit_log (
  id ${t.id},
  time TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('connection', 'request')),
  ip TEXT NOT NULL,
  institution_id TEXT,
  subject TEXT,
  issuer TEXT,
  serial TEXT,
  fingerprint_sha256 TEXT,
  tls_version TEXT,
  cipher TEXT,
  outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'rejected')),
  reason TEXT NOT NULL,
  detail TEXT,
  method TEXT,
  path TEXT,
  status INTEGER,
  duration_ms ${t.double}
);
CREATE INDEX audit_log_time ON audit_log(time);
CREATE INDEX audit_log_institution_time ON audit_log(institution_id, time);
`,
    ),
  },
  {
    version: 2,
    description:
      'CRLs keyed by the SHA-256 of the CA certificate that signed them, not by issuer name',
    // Two CAs of one institution may share a subject (key rotation, RFC 5280
    // §5.1.2.3 names the issuer only): keyed by name, the new CA's CRL would
    // replace the old CA's and un-revoke its certificates. Rows stored before
    // keep a NULL fingerprint; onboarding finds their signer and replaces them.
    // SQLite cannot drop a table constraint, so the table is rebuilt (ids kept).
    sqlite: `
CREATE TABLE crls_v2 (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  institution_id TEXT NOT NULL REFERENCES institutions(id) ON DELETE CASCADE,
  issuer TEXT NOT NULL,
  issuer_fingerprint TEXT,
  pem TEXT NOT NULL,
  this_update TEXT NOT NULL,
  next_update TEXT,
  created_at TEXT NOT NULL,
  UNIQUE (institution_id, issuer_fingerprint)
);
INSERT INTO crls_v2 (id, institution_id, issuer, issuer_fingerprint, pem, this_update, next_update, created_at)
  SELECT id, institution_id, issuer, NULL, pem, this_update, next_update, created_at FROM crls;
DROP TABLE crls;
ALTER TABLE crls_v2 RENAME TO crls;
CREATE INDEX crls_institution ON crls(institution_id);
`,
    postgres: `
ALTER TABLE crls ADD COLUMN issuer_fingerprint TEXT;
ALTER TABLE crls DROP CONSTRAINT crls_institution_id_issuer_key;
ALTER TABLE crls ADD CONSTRAINT crls_institution_id_issuer_fingerprint_key UNIQUE (institution_id, issuer_fingerprint);
CREATE INDEX crls_institution ON crls(institution_id);
`,
  },
  {
    version: 3,
    description:
      'CRL distribution points the gateway fetches on a schedule, with the last fetch outcome',
    // The last_* columns are bookkeeping written after each download; they do
    // not bump the registry version, so a fetch that changes nothing does not
    // make every gateway process reload its trust snapshot.
    ...inBothDialects(
      (t) => `
CREATE TABLE crl_sources (
  id ${t.id},
  institution_id TEXT NOT NULL REFERENCES institutions(id) ON DELETE CASCADE,
  url TEXT NOT NULL,
  interval_seconds INTEGER NOT NULL CHECK (interval_seconds > 0),
  created_at TEXT NOT NULL,
  last_fetch_at TEXT,
  last_status TEXT CHECK (last_status IN ('ok', 'failed')),
  last_error TEXT,
  last_good_at TEXT,
  last_good_sha256 TEXT,
  last_good_this_update TEXT,
  last_good_next_update TEXT,
  UNIQUE (institution_id, url)
);
`,
    ),
  },
  {
    version: 4,
    description: 'change log: the institution each recent registry version changed',
    // The change feed reads it when several writes land between two polls
    // (registering an institution is three writes), so a reader can still
    // rebuild just the institutions named instead of everything. Rows older
    // than the last CHANGE_LOG_KEEP versions are pruned by the writes.
    ...inBothDialects(
      (t) => `
CREATE TABLE registry_changes (
  version ${t.bigint} PRIMARY KEY,
  institution_id TEXT
);
`,
    ),
  },
  {
    version: 5,
    description: 'the public key (SPKI SHA-256) of each registered CA certificate, indexed',
    // Onboarding refuses a CA whose key another institution registered; with
    // the key stored it asks the index instead of parsing every registered
    // certificate. Rows stored before stay NULL until the first such lookup
    // fills them in.
    ...inBothDialects(
      () => `
ALTER TABLE ca_certificates ADD COLUMN spki_sha256 TEXT;
CREATE INDEX ca_certificates_spki ON ca_certificates(spki_sha256);
`,
    ),
  },
  {
    version: 6,
    description: 'the request id of each request audit record, indexed',
    // The gateway gives every request an id, sends it upstream and to the
    // client; support looks a call up by the id either side quotes. Records
    // stored before stay NULL.
    ...inBothDialects(
      () => `
ALTER TABLE audit_log ADD COLUMN request_id TEXT;
CREATE INDEX audit_log_request_id ON audit_log(request_id);
`,
    ),
  },
  {
    version: 7,
    description: 'schema_version records the oldest schema whose builds may use the store',
    compatibleFrom: 6,
    // A build meeting a store newer than itself used to refuse it outright,
    // so with several instances on one PostgreSQL the first one upgraded
    // locked the others out at their next restart. From here on a newer
    // build says, per version, whether older builds may keep using the store.
    ...inBothDialects(
      () => `
ALTER TABLE schema_version ADD COLUMN compatible_from INTEGER;
`,
    ),
  },
  {
    version: 8,
    description: "an institution's own request rate",
    // Nullable columns that schema-7 builds neither select nor write: they
    // go on applying the gateway's limits to every institution until they
    // are upgraded, which is what they did before.
    compatibleFrom: 7,
    ...inBothDialects(
      (t) => `
ALTER TABLE institutions ADD COLUMN rate_per_second ${t.double} CHECK (rate_per_second > 0);
ALTER TABLE institutions ADD COLUMN rate_burst INTEGER CHECK (rate_burst >= 1);
`,
    ),
  },
];

/** The first schema version whose `schema_version` row records {@link Migration.compatibleFrom}. */
const COMPATIBILITY_RECORDED_FROM = 7;

/** What a migration declares: its `compatibleFrom`, or its own version. */
const compatibleFromOf = (m: Migration): number => m.compatibleFrom ?? m.version;

/** The schema version this build of mtlskit writes. */
export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;

/** What a migration run did. */
export interface MigrationResult {
  /** Version before. */
  from: number;
  /**
   * Version after: {@link LATEST_SCHEMA_VERSION}, or `from` when a newer
   * build wrote the store and declared it usable by this one.
   */
  to: number;
  /** The oldest schema whose builds may use the store, as its newest version declares. */
  compatibleFrom: number;
}

/**
 * Brings a registry store to {@link LATEST_SCHEMA_VERSION}, inside the
 * driver's `migrate` transaction (SQLite takes the write lock first and
 * PostgreSQL an advisory lock, so two processes opening a fresh store do not
 * both migrate it); on any error nothing is applied.
 * @throws MTLS_CONFIG_INVALID when the store holds another application's tables
 * @throws MTLS_CONFIG_UNSUPPORTED when it was written by a newer mtlskit
 */
export async function migrateRegistry(driver: SqlDriver): Promise<MigrationResult> {
  return driver.transaction('migrate', async (q) => {
    const { from, compatibleFrom, hasSchemaTable } = await readSchemaState(q, driver);
    assertUsableVersion(from, compatibleFrom, driver.where);
    if (from > LATEST_SCHEMA_VERSION) return { from, to: from, compatibleFrom };
    if (!hasSchemaTable) {
      await q.exec(
        'CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)',
      );
    }
    for (const m of MIGRATIONS) {
      if (m.version <= from) continue;
      await q.exec(m[driver.dialect]);
      const applied = [m.version, m.description, new Date().toISOString()];
      await (m.version >= COMPATIBILITY_RECORDED_FROM
        ? q.run(
            'INSERT INTO schema_version (version, description, applied_at, compatible_from) VALUES (?, ?, ?, ?)',
            [...applied, compatibleFromOf(m)],
          )
        : q.run(
            'INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)',
            applied,
          ));
    }
    const latest = MIGRATIONS[MIGRATIONS.length - 1];
    return {
      from,
      to: LATEST_SCHEMA_VERSION,
      compatibleFrom: latest ? compatibleFromOf(latest) : LATEST_SCHEMA_VERSION,
    };
  });
}

/**
 * Reads a store's schema version without changing anything (a read
 * transaction; nothing is created, nothing migrated): for checks that must
 * not have side effects, such as `mtls gateway start --check`. `to` is the
 * store's version as it is.
 * @throws MTLS_CONFIG_INVALID when the store holds another application's tables
 * @throws MTLS_CONFIG_UNSUPPORTED when it was written by a newer, incompatible mtlskit
 */
export async function inspectRegistry(driver: SqlDriver): Promise<MigrationResult> {
  return driver.transaction('read', async (q) => {
    const { from, compatibleFrom } = await readSchemaState(q, driver);
    assertUsableVersion(from, compatibleFrom, driver.where);
    return { from, to: from, compatibleFrom };
  });
}

/** The store's schema version and the oldest schema allowed to use it (0 for an empty store). */
async function readSchemaState(
  q: SqlQuery,
  driver: SqlDriver,
): Promise<{ from: number; compatibleFrom: number; hasSchemaTable: boolean }> {
  const tables = await driver.tables(q);
  if (!tables.includes('schema_version')) {
    if (tables.length > 0) {
      throw new MtlsError(
        'MTLS_CONFIG_INVALID',
        `${driver.where} is not an mtlskit registry: it holds other tables (${tables.slice(0, 5).join(', ')}) and no schema_version`,
        {
          subject: driver.where,
          hint: 'Point the registry setting at an mtlskit registry, or at a new file, schema or database to create an empty one.',
        },
      );
    }
    return { from: 0, compatibleFrom: 0, hasSchemaTable: false };
  }
  const from = Number(
    (await q.run('SELECT COALESCE(MAX(version), 0) AS v FROM schema_version')).rows[0]?.v,
  );
  let compatibleFrom = from;
  if (from >= COMPATIBILITY_RECORDED_FROM) {
    // Every step this build does not know must allow it, so the strictest
    // declaration among them decides, not only the newest one's.
    const declared = (
      await q.run(
        'SELECT MAX(COALESCE(compatible_from, version)) AS c FROM schema_version WHERE version > ?',
        [Math.min(from - 1, LATEST_SCHEMA_VERSION)],
      )
    ).rows[0]?.c;
    if (declared !== null && declared !== undefined) compatibleFrom = Number(declared);
  }
  return { from, compatibleFrom, hasSchemaTable: true };
}

/**
 * Refuses a store whose schema is newer than this build understands, unless
 * the build that wrote it declared it usable by this one
 * ({@link Migration.compatibleFrom}).
 * @throws MTLS_CONFIG_UNSUPPORTED
 */
export function assertUsableVersion(version: number, compatibleFrom: number, source: string): void {
  if (version > LATEST_SCHEMA_VERSION && compatibleFrom > LATEST_SCHEMA_VERSION) {
    throw new MtlsError(
      'MTLS_CONFIG_UNSUPPORTED',
      `${source} has registry schema version ${version}, newer than this mtlskit understands (${LATEST_SCHEMA_VERSION}); builds of schema ${compatibleFrom} or later may use it`,
      {
        subject: source,
        hint: 'Upgrade mtlskit on this host to the version that wrote the registry.',
      },
    );
  }
}

/**
 * The warning for a store that a newer build migrated and declared usable by
 * this one (see {@link Migration.compatibleFrom}), or null when the store is
 * not newer. The host still runs: it is one instance of a rolling upgrade
 * that has not reached it yet.
 */
export function newerSchemaWarning(schema: RegistrySchema | null): string | null {
  if (!schema || schema.version <= schema.build) return null;
  return `the registry's schema version ${schema.version} is newer than this build's (${schema.build}); the build that migrated it declares it usable from schema ${schema.compatibleFrom}, so this host runs on it: upgrade mtlskit here to finish the upgrade`;
}
