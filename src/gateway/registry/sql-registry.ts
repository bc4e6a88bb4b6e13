/**
 * The one registry implementation, over a {@link SqlDriver} (SQLite or
 * PostgreSQL). It owns everything the registry means: validation, the
 * statements, the messages, the audit columns, and the change-feed
 * bookkeeping.
 *
 * Every registry write runs in one transaction that first bumps the version
 * counter in `registry_state` (on PostgreSQL that row lock also serialises
 * writers, as SQLite's single writer does) and records which institution
 * changed, in `registry_state` and in the `registry_changes` log. Each open
 * registry compares that counter on every tick of the driver's change feed,
 * so another process's change reaches `onChange` listeners within a poll
 * interval or a NOTIFY; when several writes landed since the last tick, the
 * log names each one's institution.
 */
import { MtlsError } from '../../errors/index.js';
import { loadCertificates } from '../../pki/pkcs12/certificates.js';
import { displayDn } from '../../pki/names.js';
import { spkiSha256 } from '../../pki/spki-hash.js';
import { assertWideRangeAllowed, normaliseCidr } from './cidr.js';
import { LATEST_SCHEMA_VERSION, inspectRegistry, migrateRegistry } from './migrations.js';
import type { SqlDriver, SqlQuery, SqlRow, SqlTransactionMode, SqlValue } from './sql-driver.js';
import type {
  AddCrlSourceInput,
  CaKeyLookup,
  AddIpOptions,
  AuditLastCall,
  AuditMinuteCount,
  AuditQuery,
  AuditRecord,
  CaChainRecord,
  CrlFetchRecord,
  CrlRecord,
  CrlSourceRecord,
  Institution,
  InstitutionStatus,
  InstitutionTrust,
  RequestRateInput,
  IpRecord,
  PinnedRule,
  PutCrlInput,
  Registry,
  RegistrySchema,
  RegistryChange,
} from './types.js';
import {
  AUDIT_KINDS,
  AUDIT_OUTCOMES,
  PINNED_RULE_KINDS,
  canonicalTime,
  normaliseFingerprint,
  validateAuditQuery,
  validateAuditRecord,
  validateChainInput,
  validateCrlInput,
  validateCrlSourceInput,
  validateInstitutionId,
  validateInstitutionName,
  validateRequestRate,
  validatePinnedRule,
  validateStatus,
} from './validate.js';
import { errorMessage } from '../../errors/mtls-error.js';

/** Options of {@link SqlRegistry}. */
export interface SqlRegistryOptions {
  /**
   * Receives change-feed failures (once per outage) and errors thrown by
   * change listeners. Default: `process.emitWarning`.
   */
  onError?: (error: MtlsError) => void;
  /**
   * Bring the schema up to this build's at open (default true). False only
   * reads it (see `inspectRegistry`): for checks that must change nothing.
   * A store older than the build is then open for reading what its schema
   * holds; {@link SqlRegistry.schemaVersion} says which.
   */
  migrate?: boolean;
}

/**
 * How many recent versions the change log keeps. A reader that fell further
 * behind (or a gap in the log: a store written before the log existed) gets
 * one change with institution null, a full reload.
 */
const CHANGE_LOG_KEEP = 1000;

const str = (v: unknown): string => String(v);
const optStr = (v: unknown): string | null => (v === null || v === undefined ? null : str(v));
/** A stored DN (subject or issuer) as every DN is printed; older rows hold RFC 4514 strings. */
const optDn = (v: unknown): string | null =>
  v === null || v === undefined ? null : displayDn(str(v));
/**
 * The institution each version after `from` up to `to` changed, from the
 * change log, or null when the log does not hold every one of them.
 */
async function changesBetween(
  q: SqlQuery,
  from: number,
  to: number,
): Promise<Array<string | null> | null> {
  if (to <= from || to - from > CHANGE_LOG_KEEP) return null;
  const { rows } = await q.run(
    'SELECT version, institution_id FROM registry_changes WHERE version > ? AND version <= ? ORDER BY version',
    [from, to],
  );
  if (rows.length !== to - from || rows.some((r, i) => Number(r.version) !== from + 1 + i))
    return null;
  return rows.map((r) => optStr(r.institution_id));
}

const optNum = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/**
 * A column value from a closed set. The column's CHECK constraint (or the
 * validation before every write) keeps it there; anything else means the
 * store was edited by hand, and the registry refuses to guess.
 * @throws MTLS_CONFIG_INVALID
 */
function closedSet<T>(values: readonly T[], v: unknown, column: string): T {
  const found = values.find((x) => x === v);
  if (found === undefined) {
    throw new MtlsError(
      'MTLS_CONFIG_INVALID',
      `registry column ${column} holds ${JSON.stringify(v)}, which is not one of ${values.join(', ')}`,
      {
        subject: column,
        hint: 'The registry was changed outside mtlskit; restore it from backup or correct the row.',
      },
    );
  }
  return found;
}
const INSTITUTION_STATUSES: readonly InstitutionStatus[] = ['active', 'suspended'];
const FETCH_STATUSES: readonly NonNullable<CrlSourceRecord['lastStatus']>[] = ['ok', 'failed'];

/**
 * The row a statement with `RETURNING *` gave back. Such a statement always
 * returns the row it wrote; none means the driver broke that promise.
 * @throws MTLS_INTERNAL
 */
function returned(rows: readonly SqlRow[], action: string): SqlRow {
  const [row] = rows;
  if (!row) throw new MtlsError('MTLS_INTERNAL', `${action} returned no row`);
  return row;
}

const toInstitution = (r: SqlRow): Institution => ({
  id: str(r.id),
  name: str(r.name),
  status: closedSet(INSTITUTION_STATUSES, r.status, 'institutions.status'),
  // Both columns are written together; a store migrated by a schema-7 build
  // that has not been written by this one has neither.
  requestRate:
    r.rate_per_second === null || r.rate_per_second === undefined
      ? null
      : { requestsPerSecond: Number(r.rate_per_second), burst: Number(r.rate_burst) },
  createdAt: str(r.created_at),
  updatedAt: str(r.updated_at),
});
const toChain = (r: SqlRow, fingerprints: string[]): CaChainRecord => ({
  id: Number(r.id),
  institutionId: str(r.institution_id),
  pem: str(r.pem),
  fingerprints,
  subject: displayDn(str(r.subject)),
  notAfter: str(r.not_after),
  createdAt: str(r.created_at),
});
/**
 * The public key (see {@link spkiSha256}) of each certificate in a chain's
 * PEM, by certificate fingerprint; empty when the PEM does not parse, which
 * leaves its keys unindexed (see `findCaKeys`).
 */
function caKeysOf(pem: string): Map<string, string> {
  try {
    return new Map(
      loadCertificates(pem, 'CA chain').map((c) => [
        normaliseFingerprint(c.fingerprint256),
        spkiSha256(c),
      ]),
    );
  } catch {
    return new Map();
  }
}

const toIp = (r: SqlRow): IpRecord => ({
  id: Number(r.id),
  institutionId: str(r.institution_id),
  cidr: str(r.cidr),
  createdAt: str(r.created_at),
});
const toCrl = (r: SqlRow): CrlRecord => ({
  id: Number(r.id),
  institutionId: str(r.institution_id),
  pem: str(r.pem),
  issuer: displayDn(str(r.issuer)),
  issuerFingerprint: optStr(r.issuer_fingerprint),
  thisUpdate: str(r.this_update),
  nextUpdate: optStr(r.next_update),
  createdAt: str(r.created_at),
});
const toCrlSource = (r: SqlRow): CrlSourceRecord => ({
  id: Number(r.id),
  institutionId: str(r.institution_id),
  url: str(r.url),
  intervalSeconds: Number(r.interval_seconds),
  createdAt: str(r.created_at),
  lastFetchAt: optStr(r.last_fetch_at),
  lastStatus:
    r.last_status === null
      ? null
      : closedSet(FETCH_STATUSES, r.last_status, 'crl_sources.last_status'),
  lastError: optStr(r.last_error),
  lastGoodAt: optStr(r.last_good_at),
  lastGoodSha256: optStr(r.last_good_sha256),
  lastGoodThisUpdate: optStr(r.last_good_this_update),
  lastGoodNextUpdate: optStr(r.last_good_next_update),
});
const toRule = (r: SqlRow): PinnedRule => ({
  id: Number(r.id),
  institutionId: str(r.institution_id),
  kind: closedSet(PINNED_RULE_KINDS, r.kind, 'pinned_rules.kind'),
  value: str(r.value),
});

/** Audit columns, in the order {@link auditValues} gives them. */
const AUDIT_COLUMNS = [
  'time',
  'kind',
  'ip',
  'institution_id',
  'subject',
  'issuer',
  'serial',
  'fingerprint_sha256',
  'tls_version',
  'cipher',
  'outcome',
  'reason',
  'detail',
  'method',
  'path',
  'status',
  'duration_ms',
  'request_id',
];
const auditValues = (r: AuditRecord): SqlValue[] => [
  r.time,
  r.kind,
  r.ip,
  r.institutionId ?? null,
  r.subject ?? null,
  r.issuer ?? null,
  r.serial ?? null,
  r.fingerprintSha256 ?? null,
  r.tlsVersion ?? null,
  r.cipher ?? null,
  r.outcome,
  r.reason,
  r.detail ?? null,
  r.method ?? null,
  r.path ?? null,
  r.status ?? null,
  r.durationMs ?? null,
  r.requestId ?? null,
];
const toAudit = (r: SqlRow): AuditRecord => ({
  id: Number(r.id),
  time: str(r.time),
  kind: closedSet(AUDIT_KINDS, r.kind, 'audit_log.kind'),
  ip: str(r.ip),
  institutionId: optStr(r.institution_id),
  subject: optDn(r.subject),
  issuer: optDn(r.issuer),
  serial: optStr(r.serial),
  fingerprintSha256: optStr(r.fingerprint_sha256),
  tlsVersion: optStr(r.tls_version),
  cipher: optStr(r.cipher),
  outcome: closedSet(AUDIT_OUTCOMES, r.outcome, 'audit_log.outcome'),
  reason: str(r.reason),
  detail: optStr(r.detail),
  method: optStr(r.method),
  path: optStr(r.path),
  status: optNum(r.status),
  durationMs: optNum(r.duration_ms),
  requestId: optStr(r.request_id),
});

/**
 * Rows per audit INSERT, largest first. A batch is written as statements of
 * exactly these sizes (64 × 18 parameters stays under both stores' parameter
 * limits), so the INSERT text takes three forms and each is prepared once:
 * a text per batch size made SQLite re-prepare the statement for almost every
 * flush (and evicted the other cached statements).
 */
const AUDIT_ROWS_PER_STATEMENT = [64, 8, 1] as const;

/** The INSERT of `n` audit rows. */
const auditInsert = (n: number): string =>
  `INSERT INTO audit_log (${AUDIT_COLUMNS.join(', ')}) VALUES ${Array.from(
    { length: n },
    () => `(${AUDIT_COLUMNS.map(() => '?').join(', ')})`,
  ).join(', ')}`;
const AUDIT_INSERTS = new Map(AUDIT_ROWS_PER_STATEMENT.map((n) => [n, auditInsert(n)]));

/** The registry over a SQL driver. Open it with `openSqliteRegistry`, `openPostgresRegistry` or `openRegistry`. */
export class SqlRegistry implements Registry {
  private readonly listeners = new Map<
    (change: RegistryChange) => void,
    ((error: MtlsError) => void) | undefined
  >();
  private stopWatch: (() => void) | undefined;
  private opened = false;
  private schemaInfo: RegistrySchema | null = null;
  private closed = false;
  private lastSeen = 0;
  private epoch = 0;
  /** The change feed failed: the next good tick tells listeners to reload everything. */
  private feedBroken = false;
  private polling = false;
  /** Ticks of the change feed so far (a tick during a read asks for one more read). */
  private ticks = 0;

  constructor(
    protected readonly driver: SqlDriver,
    private readonly options: SqlRegistryOptions = {},
  ) {}

  /**
   * Opens the store and applies pending migrations. Idempotent.
   * @throws MTLS_CONFIG_INVALID for a missing, corrupt or foreign store
   * @throws MTLS_CONFIG_UNSUPPORTED for a store written by a newer mtlskit
   * @throws MTLS_NETWORK when PostgreSQL cannot be reached
   */
  async init(): Promise<void> {
    if (this.opened) return;
    if (this.closed)
      throw new MtlsError(
        'MTLS_INTERNAL',
        `registry ${this.driver.where} was closed; open it again`,
      );
    try {
      await this.driver.open();
      const migrated = await (this.options.migrate === false
        ? inspectRegistry(this.driver)
        : migrateRegistry(this.driver));
      this.schemaInfo = {
        version: migrated.to,
        build: LATEST_SCHEMA_VERSION,
        compatibleFrom: migrated.compatibleFrom,
      };
      this.opened = true;
      // An empty store opened without migrating has no version table yet.
      this.lastSeen = migrated.to === 0 ? 0 : await this.version();
    } catch (e) {
      this.opened = false;
      await this.driver.close().catch(() => undefined);
      throw this.driver.mapError(e, 'open the registry');
    }
    this.epoch = this.driver.epoch;
  }

  /** The store's schema against this build's (see {@link RegistrySchema}); null until opened. */
  schemaVersion(): RegistrySchema | null {
    return this.schemaInfo;
  }

  /** Stops the change feed and closes the store. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    this.opened = false;
    this.stopWatch?.();
    this.stopWatch = undefined;
    this.listeners.clear();
    await this.driver.close();
  }

  /** Runs `fn` in a transaction of the given mode, mapping store errors to MtlsErrors that say what was being done. */
  private async tx<T>(
    mode: SqlTransactionMode,
    action: string,
    fn: (q: SqlQuery) => Promise<T>,
  ): Promise<T> {
    if (!this.opened) {
      throw new MtlsError(
        'MTLS_INTERNAL',
        `registry ${this.driver.where} is ${this.closed ? 'closed' : 'not initialised (call init())'}`,
        { subject: this.driver.where },
      );
    }
    try {
      return await this.driver.transaction(mode, fn);
    } catch (e) {
      throw this.driver.mapError(e, action);
    }
  }

  /** Runs one read statement. */
  private async rows(
    action: string,
    sql: string,
    params: readonly SqlValue[] = [],
  ): Promise<SqlRow[]> {
    return this.tx('read', action, async (q) => (await q.run(sql, params)).rows);
  }

  /**
   * Runs a registry change in one transaction that bumps the version counter
   * and logs the institution it touched, then tells this process's listeners
   * at once.
   */
  private async write<T>(
    action: string,
    institutionId: string | null,
    fn: (q: SqlQuery) => Promise<T>,
  ): Promise<T> {
    let version = 0;
    let seen = this.lastSeen;
    let changes: Array<string | null> | null = null;
    const result = await this.tx('write', action, async (q) => {
      version = Number(
        (
          await q.run(
            'UPDATE registry_state SET version = version + 1, last_institution_id = ? WHERE id = 1 RETURNING version',
            [institutionId],
          )
        ).rows[0]?.version,
      );
      await q.run('INSERT INTO registry_changes (version, institution_id) VALUES (?, ?)', [
        version,
        institutionId,
      ]);
      await q.run('DELETE FROM registry_changes WHERE version <= ?', [version - CHANGE_LOG_KEEP]);
      const r = await fn(q);
      await this.driver.announce(q, version, institutionId);
      // Inside the transaction, so the log read agrees with `version`.
      seen = this.lastSeen;
      changes = await changesBetween(q, seen, version);
      return r;
    });
    this.observe(seen, version, changes);
    return result;
  }

  /**
   * Records a version read from the store and tells listeners what moved:
   * one change per version not yet reported, naming its institution as the
   * change log has it. A version that went back (a store restored from a
   * backup), or a log that does not cover every version since the last one
   * reported, asks for a full reload (one change with institution null).
   * @param from - the last version reported when the store was read
   * @param changes - the logged institution of each version after `from` up to `version`, or null when the log does not cover them
   */
  private observe(
    from: number,
    version: number,
    changes: ReadonlyArray<string | null> | null,
  ): void {
    const last = this.lastSeen;
    if (version === last) return;
    // A reading no newer than what was reported since it began: the read saw
    // the store before a write of this process that was reported meanwhile
    // (a poll racing the write). Taken as a step back, it would report a full
    // reload and then the write a second time.
    if (version >= from && version < last) return;
    this.lastSeen = version;
    // Another read (a poll, or this process's own write) may have reported
    // some of these versions since `from` was read: report only the rest.
    const rest =
      changes !== null && last >= from && last < version ? changes.slice(last - from) : null;
    if (rest === null || rest.includes(null)) {
      this.emit({ institutionId: null, version });
      return;
    }
    rest.forEach((institutionId, i) => this.emit({ institutionId, version: last + 1 + i }));
  }

  /** Calls each listener; a throwing listener is reported and does not stop the others or fail the write. */
  private emit(change: RegistryChange): void {
    for (const l of [...this.listeners.keys()]) {
      try {
        l(change);
      } catch (e) {
        this.report(
          new MtlsError('MTLS_INTERNAL', `a registry change listener failed: ${errorMessage(e)}`, {
            cause: e,
          }),
        );
      }
    }
  }

  private report(err: MtlsError): void {
    if (this.options.onError) this.options.onError(err);
    else process.emitWarning(err.message, { code: err.code });
  }

  /** The change feed failed: logged once per outage; every subscriber hears it each time (it keeps their snapshot marked unconfirmed). */
  private feedFailed(err: MtlsError): void {
    if (!this.feedBroken) this.report(err);
    this.feedBroken = true;
    for (const onError of [...this.listeners.values()]) {
      try {
        onError?.(err);
      } catch (e) {
        this.report(
          new MtlsError('MTLS_INTERNAL', `a registry error listener failed: ${errorMessage(e)}`, {
            cause: e,
          }),
        );
      }
    }
  }

  /**
   * One tick of the change feed: reads the counter and reports what moved.
   * Ticks during a read fold into one more read after it. Dropping them would
   * lose a change: PostgreSQL's NOTIFY can arrive while the read started by
   * the previous tick (or by the LISTEN catch-up) still sees the old version,
   * and no further tick comes until the next write.
   */
  private async poll(): Promise<void> {
    this.ticks++;
    if (this.polling || !this.opened) return;
    this.polling = true;
    try {
      let seen: number;
      do {
        seen = this.ticks;
        await this.pollOnce();
      } while (this.ticks !== seen && this.isOpen());
    } finally {
      this.polling = false;
    }
  }

  /** Whether the registry is open now (a method, so that it is read again after an await). */
  private isOpen(): boolean {
    return this.opened;
  }

  private async pollOnce(): Promise<void> {
    try {
      const from = this.lastSeen;
      const { version, changes } = await this.tx(
        'read',
        'poll for registry changes (retrying)',
        async (q) => {
          const [row] = (await q.run('SELECT version FROM registry_state WHERE id = 1')).rows;
          const v = Number(row?.version);
          return { version: v, changes: await changesBetween(q, from, v) };
        },
      );
      // close() may have run during the await.
      if (!this.isOpen()) return;
      if (this.feedBroken || this.epoch !== this.driver.epoch) {
        // After an outage, or once the store at the configured location was
        // replaced, nothing said so far can be trusted: reload everything.
        this.feedBroken = false;
        this.epoch = this.driver.epoch;
        this.lastSeen = version;
        this.emit({ institutionId: null, version });
        return;
      }
      this.observe(from, version, changes);
    } catch (e) {
      // close() may have run during the await: a closed registry reports nothing.
      if (this.isOpen())
        this.feedFailed(this.driver.mapError(e, 'poll for registry changes (retrying)'));
    }
  }

  private async requireInstitution(q: SqlQuery, id: string): Promise<SqlRow> {
    const row = (await q.run('SELECT * FROM institutions WHERE id = ?', [id])).rows[0];
    if (!row) {
      throw new MtlsError('MTLS_NOT_FOUND', `institution "${id}" is not registered`, {
        subject: id,
        hint: 'List institutions with `mtls gateway institution list`, or add it with `mtls gateway institution add ID --name NAME`.',
      });
    }
    return row;
  }

  /** Deletes one row of an institution; `missing` says what was not there, `list` which command lists it (`ca list`, `ip list`, …). */
  private async removeOwned(
    q: SqlQuery,
    table: string,
    column: string,
    value: SqlValue,
    institutionId: string,
    missing: string,
    list: string,
  ): Promise<void> {
    await this.requireInstitution(q, institutionId);
    if (
      (
        await q.run(`DELETE FROM ${table} WHERE ${column} = ? AND institution_id = ?`, [
          value,
          institutionId,
        ])
      ).changes === 0
    ) {
      throw new MtlsError('MTLS_NOT_FOUND', missing, {
        subject: String(value),
        hint: `List what it has with \`mtls gateway ${list} ${institutionId}\`.`,
      });
    }
  }

  /** Runs an INSERT whose unique violation means "already there". */
  private async insertUnique(
    q: SqlQuery,
    sql: string,
    params: SqlValue[],
    conflict: () => MtlsError,
  ): Promise<SqlRow> {
    try {
      return returned((await q.run(sql, params)).rows, 'an INSERT … RETURNING');
    } catch (e) {
      if (this.driver.isUniqueViolation(e)) throw conflict();
      throw e;
    }
  }

  /**
   * Registers an institution (status active).
   * @throws MTLS_BAD_ARGUMENT, MTLS_CONFLICT when the id exists
   */
  async createInstitution(input: { id: string; name: string }): Promise<Institution> {
    const id = validateInstitutionId(input.id);
    const name = validateInstitutionName(input.name);
    const now = new Date().toISOString();
    return this.write(`add institution ${id}`, id, async (q) =>
      toInstitution(
        await this.insertUnique(
          q,
          `INSERT INTO institutions (id, name, status, created_at, updated_at) VALUES (?, ?, 'active', ?, ?) RETURNING *`,
          [id, name, now, now],
          () =>
            new MtlsError('MTLS_CONFLICT', `institution "${id}" already exists`, { subject: id }),
        ),
      ),
    );
  }

  /** One institution, or null. */
  async getInstitution(id: string): Promise<Institution | null> {
    const [row] = await this.rows(
      'read an institution',
      'SELECT * FROM institutions WHERE id = ?',
      [id],
    );
    return row ? toInstitution(row) : null;
  }

  /** Every institution, by id. */
  async listInstitutions(): Promise<Institution[]> {
    return (await this.rows('list institutions', 'SELECT * FROM institutions ORDER BY id')).map(
      toInstitution,
    );
  }

  /**
   * Suspends or re-activates an institution.
   * @throws MTLS_BAD_ARGUMENT, MTLS_NOT_FOUND
   */
  async setInstitutionStatus(id: string, status: InstitutionStatus): Promise<Institution> {
    validateStatus(status);
    const now = new Date().toISOString();
    return this.write(`set status of ${id}`, id, async (q) => {
      await this.requireInstitution(q, id);
      return toInstitution(
        returned(
          (
            await q.run(
              'UPDATE institutions SET status = ?, updated_at = ? WHERE id = ? RETURNING *',
              [status, now, id],
            )
          ).rows,
          'the status UPDATE',
        ),
      );
    });
  }

  /**
   * Sets the institution's own request rate (the burst defaults to the rate),
   * or with null returns it to the gateway's `limits`.
   * @throws MTLS_BAD_ARGUMENT, MTLS_NOT_FOUND
   */
  async setInstitutionRequestRate(
    id: string,
    input: RequestRateInput | null,
  ): Promise<Institution> {
    const rate = input === null ? null : validateRequestRate(input);
    const now = new Date().toISOString();
    return this.write(`set request rate of ${id}`, id, async (q) => {
      await this.requireInstitution(q, id);
      return toInstitution(
        returned(
          (
            await q.run(
              'UPDATE institutions SET rate_per_second = ?, rate_burst = ?, updated_at = ? WHERE id = ? RETURNING *',
              [rate?.requestsPerSecond ?? null, rate?.burst ?? null, now, id],
            )
          ).rows,
          'the request rate UPDATE',
        ),
      );
    });
  }

  /**
   * Removes an institution with its chains, IPs, CRLs and rules (audit
   * records are kept).
   * @throws MTLS_NOT_FOUND
   */
  async deleteInstitution(id: string): Promise<void> {
    await this.write(`remove institution ${id}`, id, async (q) => {
      await this.requireInstitution(q, id);
      await q.run('DELETE FROM institutions WHERE id = ?', [id]);
    });
  }

  /**
   * Stores a chain validated by onboarding. Re-checks duplicates inside the
   * transaction: a certificate registered to another institution, or a chain
   * whose first (issuing) CA this institution already has.
   * @throws MTLS_NOT_FOUND, MTLS_CONFLICT, MTLS_BAD_ARGUMENT
   */
  async addCaChain(
    institutionId: string,
    chain: { pem: string; fingerprints: string[]; subject: string; notAfter: string },
  ): Promise<CaChainRecord> {
    const input = validateChainInput(chain);
    // Parsed before the transaction: the write lock is not held for it.
    const keys = caKeysOf(input.pem);
    const now = new Date().toISOString();
    return this.write(`add a CA chain to ${institutionId}`, institutionId, async (q) => {
      await this.requireInstitution(q, institutionId);
      for (const [i, fp] of input.fingerprints.entries()) {
        for (const hit of (
          await q.run(
            'SELECT chain_id, institution_id FROM ca_certificates WHERE fingerprint = ?',
            [fp],
          )
        ).rows) {
          if (hit.institution_id !== institutionId) {
            throw new MtlsError(
              'MTLS_CONFLICT',
              `certificate #${i + 1} of the chain (SHA-256 ${fp}) is already registered to institution "${str(hit.institution_id)}"`,
              {
                subject: fp,
                hint: 'A CA may belong to one institution only; otherwise two institutions could pass as each other.',
              },
            );
          }
          if (i === 0) {
            throw new MtlsError(
              'MTLS_CONFLICT',
              `the chain's issuing CA (SHA-256 ${fp}) is already registered to "${institutionId}" as chain ${Number(hit.chain_id)}`,
              {
                subject: fp,
                hint: 'Nothing to do; list the chains with `mtls gateway ca list`.',
              },
            );
          }
        }
      }
      const row = returned(
        (
          await q.run(
            'INSERT INTO ca_chains (institution_id, pem, subject, not_after, created_at) VALUES (?, ?, ?, ?, ?) RETURNING *',
            [institutionId, input.pem, input.subject, input.notAfter, now],
          )
        ).rows,
        'the CA chain INSERT',
      );
      for (const [i, fp] of input.fingerprints.entries()) {
        await q.run(
          'INSERT INTO ca_certificates (chain_id, position, fingerprint, institution_id, spki_sha256) VALUES (?, ?, ?, ?, ?)',
          [Number(row.id), i, fp, institutionId, keys.get(fp) ?? null],
        );
      }
      return toChain(row, input.fingerprints);
    });
  }

  /**
   * Removes one chain of an institution.
   * @throws MTLS_NOT_FOUND
   */
  async removeCaChain(institutionId: string, chainId: number): Promise<void> {
    await this.write(`remove CA chain ${chainId} of ${institutionId}`, institutionId, (q) =>
      this.removeOwned(
        q,
        'ca_chains',
        'id',
        chainId,
        institutionId,
        `institution "${institutionId}" has no CA chain ${chainId}`,
        'ca list',
      ),
    );
  }

  /** The chain holding a certificate with this SHA-256 (any separator or case), or null. */
  async findChainByFingerprint(fingerprint: string): Promise<CaChainRecord | null> {
    const fp = normaliseFingerprint(fingerprint);
    return this.tx('read', 'look up a fingerprint', async (q) => {
      const row = (
        await q.run(
          'SELECT c.* FROM ca_chains c JOIN ca_certificates f ON f.chain_id = c.id WHERE f.fingerprint = ? ORDER BY c.id LIMIT 1',
          [fp],
        )
      ).rows[0];
      if (!row) return null;
      const fps = (
        await q.run(
          'SELECT fingerprint FROM ca_certificates WHERE chain_id = ? ORDER BY position',
          [Number(row.id)],
        )
      ).rows.map((r) => str(r.fingerprint));
      return toChain(row, fps);
    });
  }

  /**
   * The registered CA certificates with one of these public keys, and the
   * chains whose keys could not be indexed. Certificates stored before the
   * key index existed are indexed first (derived data: no version bump).
   */
  async findCaKeys(spkiSha256s: string[]): Promise<CaKeyLookup> {
    const pending = await this.rows(
      'find CA certificates without a key index',
      'SELECT id, pem FROM ca_chains c WHERE EXISTS (SELECT 1 FROM ca_certificates f WHERE f.chain_id = c.id AND f.spki_sha256 IS NULL) ORDER BY id',
    );
    if (pending.length > 0) {
      await this.tx('write', 'index the keys of registered CA certificates', async (q) => {
        for (const r of pending) {
          for (const [fp, spki] of caKeysOf(str(r.pem)))
            await q.run(
              'UPDATE ca_certificates SET spki_sha256 = ? WHERE chain_id = ? AND fingerprint = ? AND spki_sha256 IS NULL',
              [spki, Number(r.id), fp],
            );
        }
      });
    }
    const keys = [...new Set(spkiSha256s.map((k) => k.toLowerCase()))];
    return this.tx('read', 'look up CA public keys', async (q) => {
      const hits =
        keys.length === 0
          ? []
          : (
              await q.run(
                `SELECT chain_id, position, institution_id, spki_sha256 FROM ca_certificates WHERE spki_sha256 IN (${keys.map(() => '?').join(', ')}) ORDER BY institution_id, chain_id, position`,
                keys,
              )
            ).rows.map((r) => ({
              institutionId: str(r.institution_id),
              chainId: Number(r.chain_id),
              position: Number(r.position),
              spkiSha256: str(r.spki_sha256),
            }));
      const unindexed: CaChainRecord[] = [];
      for (const row of (
        await q.run(
          'SELECT * FROM ca_chains c WHERE EXISTS (SELECT 1 FROM ca_certificates f WHERE f.chain_id = c.id AND f.spki_sha256 IS NULL) ORDER BY institution_id, id',
        )
      ).rows) {
        const fps = (
          await q.run(
            'SELECT fingerprint FROM ca_certificates WHERE chain_id = ? ORDER BY position',
            [Number(row.id)],
          )
        ).rows.map((r) => str(r.fingerprint));
        unindexed.push(toChain(row, fps));
      }
      return { hits, unindexed };
    });
  }

  /**
   * Registers an IP or CIDR (stored in canonical form, see `normaliseCidr`).
   * Blocks wider than /16 (IPv4) or /48 (IPv6) are refused unless
   * `options.allowWideRange`.
   * @throws MTLS_BAD_ARGUMENT (bad or too wide a block), MTLS_NOT_FOUND, MTLS_CONFLICT
   */
  async addIp(institutionId: string, cidr: string, options: AddIpOptions = {}): Promise<IpRecord> {
    const norm = normaliseCidr(cidr);
    if (!options.allowWideRange) assertWideRangeAllowed(norm);
    const now = new Date().toISOString();
    return this.write(`add IP ${norm} to ${institutionId}`, institutionId, async (q) => {
      await this.requireInstitution(q, institutionId);
      return toIp(
        await this.insertUnique(
          q,
          'INSERT INTO ip_blocks (institution_id, cidr, created_at) VALUES (?, ?, ?) RETURNING *',
          [institutionId, norm, now],
          () =>
            new MtlsError('MTLS_CONFLICT', `${norm} is already registered for "${institutionId}"`, {
              subject: norm,
            }),
        ),
      );
    });
  }

  /**
   * Removes an IP or CIDR (any spelling of the same block).
   * @throws MTLS_BAD_ARGUMENT, MTLS_NOT_FOUND
   */
  async removeIp(institutionId: string, cidr: string): Promise<void> {
    const norm = normaliseCidr(cidr);
    await this.write(`remove IP ${norm} from ${institutionId}`, institutionId, (q) =>
      this.removeOwned(
        q,
        'ip_blocks',
        'cidr',
        norm,
        institutionId,
        `${norm} is not registered for "${institutionId}"`,
        'ip list',
      ),
    );
  }

  /**
   * Stores a CRL validated by onboarding, replacing the institution's CRL
   * signed by the same CA certificate (and the pre-schema-2 CRL it `replaces`).
   * @throws MTLS_NOT_FOUND, MTLS_BAD_ARGUMENT
   */
  async putCrl(institutionId: string, crl: PutCrlInput): Promise<CrlRecord> {
    const input = validateCrlInput(crl);
    const now = new Date().toISOString();
    return this.write(`put a CRL for ${institutionId}`, institutionId, async (q) => {
      await this.requireInstitution(q, institutionId);
      if (input.replaces !== null)
        await q.run(
          'DELETE FROM crls WHERE id = ? AND institution_id = ? AND issuer_fingerprint IS NULL',
          [input.replaces, institutionId],
        );
      const r = await q.run(
        `INSERT INTO crls (institution_id, issuer, issuer_fingerprint, pem, this_update, next_update, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (institution_id, issuer_fingerprint) DO UPDATE SET issuer = excluded.issuer, pem = excluded.pem, this_update = excluded.this_update,
           next_update = excluded.next_update, created_at = excluded.created_at
         RETURNING *`,
        [
          institutionId,
          input.issuer,
          input.issuerFingerprint,
          input.pem,
          input.thisUpdate,
          input.nextUpdate,
          now,
        ],
      );
      return toCrl(returned(r.rows, 'the CRL upsert'));
    });
  }

  /**
   * Removes one CRL.
   * @throws MTLS_NOT_FOUND
   */
  async removeCrl(institutionId: string, crlId: number): Promise<void> {
    await this.write(`remove CRL ${crlId} of ${institutionId}`, institutionId, (q) =>
      this.removeOwned(
        q,
        'crls',
        'id',
        crlId,
        institutionId,
        `institution "${institutionId}" has no CRL ${crlId}`,
        'crl list',
      ),
    );
  }

  /**
   * Registers a CRL distribution point (URL normalised by WHATWG URL parsing).
   * @throws MTLS_BAD_ARGUMENT naming `url` or `interval`, MTLS_NOT_FOUND, MTLS_CONFLICT
   */
  async addCrlSource(institutionId: string, input: AddCrlSourceInput): Promise<CrlSourceRecord> {
    const v = validateCrlSourceInput(input);
    const now = new Date().toISOString();
    return this.write(`add CRL URL ${v.url} to ${institutionId}`, institutionId, async (q) => {
      await this.requireInstitution(q, institutionId);
      return toCrlSource(
        await this.insertUnique(
          q,
          'INSERT INTO crl_sources (institution_id, url, interval_seconds, created_at) VALUES (?, ?, ?, ?) RETURNING *',
          [institutionId, v.url, v.intervalSeconds, now],
          () =>
            new MtlsError('MTLS_CONFLICT', `${v.url} is already a CRL URL of "${institutionId}"`, {
              subject: v.url,
              hint: `To change its interval, remove it (\`mtls gateway crl url remove ${institutionId} ${v.url}\`) and add it again with --every.`,
            }),
        ),
      );
    });
  }

  /**
   * Removes a CRL distribution point (any spelling of the same URL).
   * @throws MTLS_BAD_ARGUMENT, MTLS_NOT_FOUND
   */
  async removeCrlSource(institutionId: string, url: string): Promise<void> {
    const norm = validateCrlSourceInput({ url }).url;
    await this.write(`remove CRL URL ${norm} from ${institutionId}`, institutionId, (q) =>
      this.removeOwned(
        q,
        'crl_sources',
        'url',
        norm,
        institutionId,
        `${norm} is not a CRL URL of "${institutionId}"`,
        'crl url list',
      ),
    );
  }

  /** CRL distribution points of one institution, or of all (by institution, then id). */
  async listCrlSources(institutionId?: string): Promise<CrlSourceRecord[]> {
    const rows =
      institutionId === undefined
        ? await this.rows('list CRL URLs', 'SELECT * FROM crl_sources ORDER BY institution_id, id')
        : await this.rows(
            'list CRL URLs',
            'SELECT * FROM crl_sources WHERE institution_id = ? ORDER BY id',
            [institutionId],
          );
    return rows.map(toCrlSource);
  }

  /**
   * Records a download's outcome on its source. Not a registry change (the
   * version stays), so bookkeeping never makes gateways reload; a source
   * removed meanwhile is silently skipped.
   * @throws MTLS_BAD_ARGUMENT for a malformed outcome
   */
  async recordCrlFetch(sourceId: number, outcome: CrlFetchRecord): Promise<void> {
    const at = canonicalTime(outcome.at, 'fetch time');
    if (outcome.ok) {
      const sha = normaliseFingerprint(outcome.sha256, 'CRL SHA-256');
      const thisUpdate = canonicalTime(outcome.thisUpdate, 'thisUpdate');
      const nextUpdate =
        outcome.nextUpdate === null ? null : canonicalTime(outcome.nextUpdate, 'nextUpdate');
      await this.tx('write', `record the download of CRL URL ${sourceId}`, (q) =>
        q.run(
          `UPDATE crl_sources SET last_fetch_at = ?, last_status = 'ok', last_error = NULL, last_good_at = ?, last_good_sha256 = ?, last_good_this_update = ?, last_good_next_update = ? WHERE id = ?`,
          [at, at, sha, thisUpdate, nextUpdate, sourceId],
        ),
      );
      return;
    }
    const error = outcome.error.slice(0, 1000);
    await this.tx('write', `record the download of CRL URL ${sourceId}`, (q) =>
      q.run(
        `UPDATE crl_sources SET last_fetch_at = ?, last_status = 'failed', last_error = ? WHERE id = ?`,
        [at, error, sourceId],
      ),
    );
  }

  /**
   * Adds a pinned rule (fingerprints normalised to lower-case hex).
   * @throws MTLS_BAD_ARGUMENT, MTLS_NOT_FOUND, MTLS_CONFLICT
   */
  async addPinnedRule(
    institutionId: string,
    rule: { kind: PinnedRule['kind']; value: string },
  ): Promise<PinnedRule> {
    const r = validatePinnedRule(rule);
    const now = new Date().toISOString();
    return this.write(`add a pinned rule to ${institutionId}`, institutionId, async (q) => {
      await this.requireInstitution(q, institutionId);
      return toRule(
        await this.insertUnique(
          q,
          'INSERT INTO pinned_rules (institution_id, kind, value, created_at) VALUES (?, ?, ?, ?) RETURNING *',
          [institutionId, r.kind, r.value, now],
          () =>
            new MtlsError(
              'MTLS_CONFLICT',
              `"${institutionId}" already has the rule ${r.kind}=${r.value}`,
              { subject: r.value },
            ),
        ),
      );
    });
  }

  /**
   * Removes one pinned rule.
   * @throws MTLS_NOT_FOUND
   */
  async removePinnedRule(institutionId: string, ruleId: number): Promise<void> {
    await this.write(`remove pinned rule ${ruleId} of ${institutionId}`, institutionId, (q) =>
      this.removeOwned(
        q,
        'pinned_rules',
        'id',
        ruleId,
        institutionId,
        `institution "${institutionId}" has no pinned rule ${ruleId}`,
        'rule list',
      ),
    );
  }

  /** Everything the connection path needs (for every institution, or only `institutionId`), read as one consistent snapshot. */
  async loadTrust(institutionId?: string): Promise<InstitutionTrust[]> {
    const one = institutionId !== undefined;
    const where = (col: string): string => (one ? ` WHERE ${col} = ?` : '');
    const params = one ? [institutionId] : [];
    return this.tx('read', 'load the registry', async (q) => {
      const byId = new Map<string, InstitutionTrust>();
      for (const row of (
        await q.run(`SELECT * FROM institutions${where('id')} ORDER BY id`, params)
      ).rows) {
        byId.set(str(row.id), {
          institution: toInstitution(row),
          chains: [],
          ips: [],
          crls: [],
          rules: [],
        });
      }
      const fps = new Map<number, string[]>();
      for (const r of (
        await q.run(
          `SELECT chain_id, fingerprint FROM ca_certificates${where('institution_id')} ORDER BY chain_id, position`,
          params,
        )
      ).rows) {
        const list = fps.get(Number(r.chain_id)) ?? [];
        list.push(str(r.fingerprint));
        fps.set(Number(r.chain_id), list);
      }
      const each = async (
        table: string,
        add: (t: InstitutionTrust, r: SqlRow) => void,
      ): Promise<void> => {
        for (const r of (
          await q.run(`SELECT * FROM ${table}${where('institution_id')} ORDER BY id`, params)
        ).rows) {
          const t = byId.get(str(r.institution_id));
          if (t) add(t, r);
        }
      };
      await each('ca_chains', (t, r) => t.chains.push(toChain(r, fps.get(Number(r.id)) ?? [])));
      await each('ip_blocks', (t, r) => t.ips.push(toIp(r)));
      await each('crls', (t, r) => t.crls.push(toCrl(r)));
      await each('pinned_rules', (t, r) => t.rules.push(toRule(r)));
      return [...byId.values()];
    });
  }

  /** The registry version (bumped by every registry write, in any process). */
  async version(): Promise<number> {
    const [row] = await this.rows(
      'read the registry version',
      'SELECT version FROM registry_state WHERE id = 1',
    );
    return Number(row?.version);
  }

  /**
   * Subscribes to changes: this process's writes are reported at once, other
   * processes' within one tick of the driver's feed (a SQLite poll, a
   * PostgreSQL NOTIFY). `institutionId` is null when several changes were
   * folded together or the store was replaced (reload everything then). A
   * failing feed is reported to `onError` on every failed tick; the first good
   * tick after it reports a change with `institutionId` null.
   */
  onChange(
    listener: (change: RegistryChange) => void,
    onError?: (error: MtlsError) => void,
  ): () => void {
    if (!this.opened)
      throw new MtlsError(
        'MTLS_INTERNAL',
        `registry ${this.driver.where} is ${this.closed ? 'closed' : 'not initialised (call init())'}`,
      );
    this.listeners.set(listener, onError);
    this.stopWatch ??= this.driver.watch(
      () => void this.poll(),
      (e) => this.feedFailed(e),
    );
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) {
        this.stopWatch?.();
        this.stopWatch = undefined;
      }
    };
  }

  /**
   * Appends audit records in one transaction (they do not bump the registry
   * version). On SQLite it waits at most `auditBusyTimeoutMs` for another
   * process's lock, so a busy file never stalls the event loop for seconds.
   * @throws MTLS_BAD_ARGUMENT for a record outside the closed sets
   * @throws MTLS_LOCK_TIMEOUT when the store stayed locked (retry later)
   */
  async appendAudit(records: AuditRecord[]): Promise<void> {
    if (records.length === 0) return;
    const rows = records.map(validateAuditRecord);
    await this.tx('audit', 'append audit records', async (q) => {
      let i = 0;
      for (const [size, sql] of AUDIT_INSERTS) {
        for (; rows.length - i >= size; i += size)
          await q.run(sql, rows.slice(i, i + size).flatMap(auditValues));
      }
    });
  }

  /**
   * Deletes up to `limit` audit records older than `before`, oldest first
   * (the time index finds them), in one audit transaction.
   * @throws MTLS_BAD_ARGUMENT for a bad time or a limit outside 1–100,000
   */
  async pruneAudit(before: string, limit: number): Promise<number> {
    const cutoff = canonicalTime(before, 'before');
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 100_000)
      throw new MtlsError('MTLS_BAD_ARGUMENT', `limit ${limit} must be between 1 and 100000`, {
        subject: 'limit',
      });
    return this.tx('audit', 'prune audit records', async (q) => {
      const r = await q.run(
        'DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE time < ? ORDER BY time, id LIMIT ?)',
        [cutoff, limit],
      );
      return r.changes;
    });
  }

  /** The time of the oldest audit record, or null for an empty audit table (see {@link Registry.auditOldest}). */
  async auditOldest(): Promise<string | null> {
    const rows = await this.rows(
      'read the oldest audit record time',
      'SELECT MIN(time) AS oldest FROM audit_log',
    );
    const oldest = rows[0]?.oldest;
    return oldest === null || oldest === undefined ? null : str(oldest);
  }

  /**
   * Audit records matching the query, newest first (default limit 100).
   * @throws MTLS_BAD_ARGUMENT for a bad filter
   */
  async queryAudit(query: AuditQuery): Promise<AuditRecord[]> {
    const q = validateAuditQuery(query);
    const where: string[] = [];
    const params: SqlValue[] = [];
    for (const [clause, value] of [
      ['time >= ?', q.since],
      ['time < ?', q.until],
      ['institution_id = ?', q.institutionId],
      ['ip = ?', q.ip],
      ['outcome = ?', q.outcome],
      ['reason = ?', q.reason],
      ['request_id = ?', q.requestId],
      ['id > ?', q.afterId],
    ] as const) {
      if (value === undefined) continue;
      where.push(clause);
      params.push(value);
    }
    params.push(q.limit, q.offset ?? 0);
    const sql = `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY time DESC, id DESC LIMIT ? OFFSET ?`;
    return (await this.rows('query the audit log', sql, params)).map(toAudit);
  }

  /**
   * Connection records since `since` (one per TLS connection; request
   * records are left out) counted per minute, outcome and reason. Times are
   * stored as canonical ISO text, so the minute is its first 16 characters
   * in both stores.
   * @throws MTLS_BAD_ARGUMENT for a bad time
   */
  async auditPerMinute(since: string): Promise<AuditMinuteCount[]> {
    const from = canonicalTime(since, 'since');
    const rows = await this.rows(
      'count the audit log per minute',
      `SELECT substr(time, 1, 16) AS minute, outcome, reason, COUNT(*) AS n FROM audit_log WHERE time >= ? AND kind = 'connection' GROUP BY substr(time, 1, 16), outcome, reason ORDER BY minute`,
      [from],
    );
    return rows.map((r) => ({
      minute: str(r.minute),
      // The column's CHECK constraint admits only these two values.
      outcome: r.outcome === 'accepted' ? 'accepted' : 'rejected',
      reason: str(r.reason),
      count: Number(r.n),
    }));
  }

  /** Each institution's newest accepted and newest rejected record time. */
  async auditLastCalls(): Promise<AuditLastCall[]> {
    const rows = await this.rows(
      'read the last calls per institution',
      `SELECT institution_id, outcome, MAX(time) AS last FROM audit_log WHERE institution_id IS NOT NULL GROUP BY institution_id, outcome`,
    );
    return rows.map((r) => ({
      institutionId: str(r.institution_id),
      // The column's CHECK constraint admits only these two values.
      outcome: r.outcome === 'accepted' ? 'accepted' : 'rejected',
      time: str(r.last),
    }));
  }
}
