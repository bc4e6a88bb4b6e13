/**
 * The shared registry: PostgreSQL through `pg`, for several gateway instances.
 *
 * Tables live in their own schema (default `mtls`). Every registry write runs
 * in one transaction that bumps the version counter and sends
 * `pg_notify(channel, {version, institutionId})`; PostgreSQL delivers it at
 * commit to every instance LISTENing, so a change reaches them well within a
 * second. A dropped LISTEN connection is re-established and the version
 * compared, so no change is missed.
 */
import pg from 'pg';
import { MtlsError, type ErrorCode } from '../../errors/index.js';
import { normaliseCidr } from './cidr.js';
import { assertKnownVersion, MIGRATIONS } from './migrations.js';
import type {
  AuditQuery,
  AuditRecord,
  CaChainRecord,
  CrlRecord,
  Institution,
  InstitutionStatus,
  InstitutionTrust,
  IpRecord,
  PinnedRule,
  PutCrlInput,
  Registry,
  RegistryChange,
} from './types.js';
import {
  normaliseFingerprint,
  validateAuditQuery,
  validateAuditRecord,
  validateChainInput,
  validateCrlInput,
  validateInstitutionId,
  validateInstitutionName,
  validatePinnedRule,
  validateStatus,
} from './validate.js';

/** Options for {@link openPostgresRegistry}. */
export interface PostgresRegistryOptions {
  /** Schema holding the registry tables (default `mtls`); created when missing. */
  schema?: string;
  /** Connection pool size (default 5). */
  poolSize?: number;
  /** Receives errors of the background LISTEN connection and of change listeners (default `process.emitWarning`). */
  onError?: (error: MtlsError) => void;
  /** Delay before re-establishing a dropped LISTEN connection, in ms (default 500). */
  reconnectDelayMs?: number;
}

type Queryable = Pick<pg.PoolClient, 'query'>;

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
  const err = e as { code?: string; message?: string };
  const code = err.code ?? '';
  const msg = err.message ?? String(e);
  const make = (c: ErrorCode, message: string, hint?: string): MtlsError => new MtlsError(c, message, { subject: where, cause: e, ...(hint ? { hint } : {}) });
  if (['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EAI_AGAIN'].includes(code) || /Connection terminated/i.test(msg)) {
    return make('MTLS_NETWORK', `cannot reach PostgreSQL at ${where} to ${action} (${code || msg})`, 'Check that PostgreSQL is running and the host and port in the registry URL are right.');
  }
  if (code === '28P01' || code === '28000') {
    return make('MTLS_CONFIG_INVALID', `PostgreSQL at ${where} refused the login (${msg})`, 'Check the user and password in the registry URL (or PGPASSWORD / ~/.pgpass) and pg_hba.conf.');
  }
  if (code === '3D000') {
    return make('MTLS_CONFIG_INVALID', `PostgreSQL database in ${where} does not exist (${msg})`, 'Create it (createdb NAME) or fix the database name in the registry URL.');
  }
  if (code === '42501') {
    return make('MTLS_CONFIG_INVALID', `PostgreSQL user may not ${action} at ${where} (${msg})`, 'Grant the registry user rights on its schema (GRANT ALL ON SCHEMA mtls TO …).');
  }
  if (code === '40001' || code === '40P01' || code === '55P03') {
    return make('MTLS_LOCK_TIMEOUT', `PostgreSQL at ${where}: ${action} conflicted with another writer (${msg})`, 'Retry the command.');
  }
  return make('MTLS_INTERNAL', `PostgreSQL at ${where}: ${action} failed: ${msg}`);
}

const isUniqueViolation = (e: unknown): boolean => (e as { code?: string }).code === '23505';

interface Row {
  [k: string]: unknown;
}
const num = (v: unknown): number => Number(v);
const str = (v: unknown): string => String(v);
const optStr = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
const optNum = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

const toInstitution = (r: Row): Institution => ({
  id: str(r.id),
  name: str(r.name),
  status: r.status as InstitutionStatus,
  createdAt: str(r.created_at),
  updatedAt: str(r.updated_at),
});
const toIp = (r: Row): IpRecord => ({ id: num(r.id), institutionId: str(r.institution_id), cidr: str(r.cidr), createdAt: str(r.created_at) });
const toCrl = (r: Row): CrlRecord => ({
  id: num(r.id),
  institutionId: str(r.institution_id),
  pem: str(r.pem),
  issuer: str(r.issuer),
  issuerFingerprint: optStr(r.issuer_fingerprint),
  thisUpdate: str(r.this_update),
  nextUpdate: optStr(r.next_update),
  createdAt: str(r.created_at),
});
const toRule = (r: Row): PinnedRule => ({ id: num(r.id), institutionId: str(r.institution_id), kind: r.kind as PinnedRule['kind'], value: str(r.value) }) as PinnedRule;
const toAudit = (r: Row): AuditRecord => ({
  id: num(r.id),
  time: str(r.time),
  kind: r.kind as AuditRecord['kind'],
  ip: str(r.ip),
  institutionId: optStr(r.institution_id),
  subject: optStr(r.subject),
  issuer: optStr(r.issuer),
  serial: optStr(r.serial),
  fingerprintSha256: optStr(r.fingerprint_sha256),
  tlsVersion: optStr(r.tls_version),
  cipher: optStr(r.cipher),
  outcome: r.outcome as AuditRecord['outcome'],
  reason: r.reason as AuditRecord['reason'],
  detail: optStr(r.detail),
  method: optStr(r.method),
  path: optStr(r.path),
  status: optNum(r.status),
  durationMs: optNum(r.duration_ms),
});

/** The PostgreSQL implementation of {@link Registry}. Use {@link openPostgresRegistry}. */
export class PostgresRegistry implements Registry {
  /** The server, without credentials (for messages). */
  readonly where: string;
  /** The schema holding the tables. */
  readonly schema: string;
  private readonly url: string;
  private readonly options: PostgresRegistryOptions;
  private pool: pg.Pool | undefined;
  private listenClient: pg.Client | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly listeners = new Map<(change: RegistryChange) => void, ((error: MtlsError) => void) | undefined>();
  private lastSeen = 0;
  /** The LISTEN connection failed: once it is back, listeners are told to reload everything. */
  private feedBroken = false;
  private closed = false;
  private readonly channel: string;

  /**
   * @throws MTLS_CONFIG_INVALID for a bad schema name or pool size
   */
  constructor(url: string, options: PostgresRegistryOptions = {}) {
    this.url = url;
    this.where = describeUrl(url);
    this.options = options;
    this.schema = options.schema ?? 'mtls';
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(this.schema)) {
      throw new MtlsError('MTLS_CONFIG_INVALID', `registry schema name "${this.schema}" is not a plain lower-case SQL identifier`, { subject: 'schema' });
    }
    const poolSize = options.poolSize ?? 5;
    if (!Number.isInteger(poolSize) || poolSize < 1) {
      throw new MtlsError('MTLS_CONFIG_INVALID', `registry poolSize ${poolSize} must be a positive integer`, { subject: 'poolSize' });
    }
    this.channel = `mtls_registry_${this.schema}`;
  }

  private newPool(): pg.Pool {
    return new pg.Pool({ connectionString: this.url, max: this.options.poolSize ?? 5, options: `-c search_path=${this.schema}` });
  }

  /**
   * Connects, creates the schema when missing and applies pending migrations
   * under an advisory lock (one instance migrates at a time). Idempotent.
   * @throws MTLS_NETWORK, MTLS_CONFIG_INVALID, MTLS_CONFIG_UNSUPPORTED
   */
  async init(): Promise<void> {
    if (this.pool) return;
    if (this.closed) throw new MtlsError('MTLS_INTERNAL', `registry ${this.where} was closed; open it again`);
    const pool = this.newPool();
    pool.on('error', (e) => this.reportError(mapPgError(e, this.where, 'keep an idle connection')));
    let client: pg.PoolClient | undefined;
    try {
      client = await pool.connect();
      await client.query('BEGIN');
      await client.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`mtlskit-migrate-${this.schema}`]);
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${this.schema}`);
      const tables = ((await client.query('SELECT table_name FROM information_schema.tables WHERE table_schema = $1', [this.schema])).rows as Row[]).map((r) => str(r.table_name));
      if (tables.length > 0 && !tables.includes('schema_version')) {
        throw new MtlsError('MTLS_CONFIG_INVALID', `schema ${this.schema} at ${this.where} holds other tables (${tables.slice(0, 5).join(', ')}) and is not an mtlskit registry`, {
          subject: this.schema,
          hint: 'Choose another schema for the registry, or another database.',
        });
      }
      await client.query(`CREATE TABLE IF NOT EXISTS ${this.schema}.schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)`);
      const from = num((await client.query(`SELECT COALESCE(MAX(version), 0) AS v FROM ${this.schema}.schema_version`)).rows[0].v);
      assertKnownVersion(from, `${this.where} (schema ${this.schema})`);
      for (const m of MIGRATIONS) {
        if (m.version <= from) continue;
        await client.query(m.postgres);
        await client.query(`INSERT INTO ${this.schema}.schema_version (version, description, applied_at) VALUES ($1, $2, $3)`, [m.version, m.description, new Date().toISOString()]);
      }
      await client.query('COMMIT');
      this.lastSeen = num((await client.query('SELECT version FROM registry_state WHERE id = 1')).rows[0].version);
    } catch (e) {
      await client?.query('ROLLBACK').catch(() => undefined);
      client?.release();
      client = undefined;
      await pool.end().catch(() => undefined);
      throw mapPgError(e, this.where, 'open the registry');
    }
    client.release();
    this.pool = pool;
  }

  /** Closes the LISTEN connection and the pool. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const listen = this.listenClient;
    this.listenClient = undefined;
    await listen?.end().catch(() => undefined);
    const pool = this.pool;
    this.pool = undefined;
    await pool?.end();
  }

  private reportError(err: MtlsError): void {
    if (this.options.onError) this.options.onError(err);
    else process.emitWarning(err.message, { code: err.code });
  }

  private conn(): pg.Pool {
    if (!this.pool) throw new MtlsError('MTLS_INTERNAL', `registry ${this.where} is ${this.closed ? 'closed' : 'not initialised (call init())'}`);
    return this.pool;
  }

  private async read<T>(action: string, fn: (q: Queryable) => Promise<T>): Promise<T> {
    try {
      return await fn(this.conn());
    } catch (e) {
      throw mapPgError(e, this.where, action);
    }
  }

  private async write<T>(action: string, institutionId: string | null, fn: (q: Queryable) => Promise<T>): Promise<T> {
    const pool = this.conn();
    let client: pg.PoolClient | undefined;
    let result: T;
    let version: number;
    try {
      client = await pool.connect();
      await client.query('BEGIN');
      result = await fn(client);
      version = num(
        (await client.query('UPDATE registry_state SET version = version + 1, last_institution_id = $1 WHERE id = 1 RETURNING version', [institutionId])).rows[0].version,
      );
      await client.query('SELECT pg_notify($1, $2)', [this.channel, JSON.stringify({ version, institutionId })]);
      await client.query('COMMIT');
    } catch (e) {
      await client?.query('ROLLBACK').catch(() => undefined);
      throw mapPgError(e, this.where, action);
    } finally {
      client?.release();
    }
    this.observe(version, institutionId);
    return result;
  }

  /** Records a seen version and tells listeners (null institution when versions were skipped). */
  private observe(version: number, institutionId: string | null): void {
    if (version <= this.lastSeen) return;
    const gap = version - this.lastSeen > 1;
    this.lastSeen = version;
    this.emit({ institutionId: gap ? null : institutionId, version });
  }

  /** Calls each listener; a throwing listener is reported and does not stop the others. */
  private emit(change: RegistryChange): void {
    for (const l of [...this.listeners.keys()]) {
      try {
        l(change);
      } catch (e) {
        this.reportError(new MtlsError('MTLS_INTERNAL', `a registry change listener failed: ${(e as Error).message ?? String(e)}`, { cause: e }));
      }
    }
  }

  /** Tells every subscriber that the change feed failed. */
  private feedFailed(err: MtlsError): void {
    this.feedBroken = true;
    for (const onError of [...this.listeners.values()]) {
      try {
        onError?.(err);
      } catch (e) {
        this.reportError(new MtlsError('MTLS_INTERNAL', `a registry error listener failed: ${(e as Error).message ?? String(e)}`, { cause: e }));
      }
    }
  }

  private async requireInstitution(q: Queryable, id: string): Promise<Row> {
    const row = (await q.query('SELECT * FROM institutions WHERE id = $1', [id])).rows[0] as Row | undefined;
    if (!row) {
      throw new MtlsError('MTLS_NOT_FOUND', `institution "${id}" is not registered`, {
        subject: id,
        hint: 'List institutions with `mtls gateway institution list`, or add it with `mtls gateway institution add ID --name NAME`.',
      });
    }
    return row;
  }

  /**
   * Registers an institution (status active).
   * @throws MTLS_BAD_ARGUMENT, MTLS_CONFLICT
   */
  async createInstitution(input: { id: string; name: string }): Promise<Institution> {
    const id = validateInstitutionId(input.id);
    const name = validateInstitutionName(input.name);
    const now = new Date().toISOString();
    return this.write(`add institution ${id}`, id, async (q) => {
      try {
        await q.query(`INSERT INTO institutions (id, name, status, created_at, updated_at) VALUES ($1, $2, 'active', $3, $3)`, [id, name, now]);
      } catch (e) {
        if (isUniqueViolation(e)) throw new MtlsError('MTLS_CONFLICT', `institution "${id}" already exists`, { subject: id });
        throw e;
      }
      return { id, name, status: 'active' as const, createdAt: now, updatedAt: now };
    });
  }

  /** One institution, or null. */
  async getInstitution(id: string): Promise<Institution | null> {
    const row = await this.read('read an institution', async (q) => (await q.query('SELECT * FROM institutions WHERE id = $1', [id])).rows[0] as Row | undefined);
    return row ? toInstitution(row) : null;
  }

  /** Every institution, by id. */
  async listInstitutions(): Promise<Institution[]> {
    return this.read('list institutions', async (q) => ((await q.query('SELECT * FROM institutions ORDER BY id')).rows as Row[]).map(toInstitution));
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
      const r = await q.query('UPDATE institutions SET status = $1, updated_at = $2 WHERE id = $3 RETURNING *', [status, now, id]);
      return toInstitution(r.rows[0] as Row);
    });
  }

  /**
   * Removes an institution with its chains, IPs, CRLs and rules.
   * @throws MTLS_NOT_FOUND
   */
  async deleteInstitution(id: string): Promise<void> {
    await this.write(`remove institution ${id}`, id, async (q) => {
      await this.requireInstitution(q, id);
      await q.query('DELETE FROM institutions WHERE id = $1', [id]);
    });
  }

  /**
   * Stores a chain validated by onboarding; duplicates are re-checked inside
   * the transaction (see the SQLite registry).
   * @throws MTLS_NOT_FOUND, MTLS_CONFLICT, MTLS_BAD_ARGUMENT
   */
  async addCaChain(institutionId: string, chain: { pem: string; fingerprints: string[]; subject: string; notAfter: string }): Promise<CaChainRecord> {
    const input = validateChainInput(chain);
    const now = new Date().toISOString();
    return this.write(`add a CA chain to ${institutionId}`, institutionId, async (q) => {
      await this.requireInstitution(q, institutionId);
      // Serialise chain inserts so two concurrent uploads cannot both pass the duplicate check.
      await q.query('LOCK TABLE ca_certificates IN SHARE ROW EXCLUSIVE MODE');
      for (const [i, fp] of input.fingerprints.entries()) {
        for (const hit of (await q.query('SELECT chain_id, institution_id FROM ca_certificates WHERE fingerprint = $1', [fp])).rows as Row[]) {
          if (hit.institution_id !== institutionId) {
            throw new MtlsError('MTLS_CONFLICT', `certificate #${i + 1} of the chain (SHA-256 ${fp}) is already registered to institution "${str(hit.institution_id)}"`, {
              subject: fp,
              hint: 'A CA may belong to one institution only; otherwise two institutions could pass as each other.',
            });
          }
          if (i === 0) {
            throw new MtlsError('MTLS_CONFLICT', `the chain's issuing CA (SHA-256 ${fp}) is already registered to "${institutionId}" as chain ${num(hit.chain_id)}`, {
              subject: fp,
              hint: 'Nothing to do; list the chains with `mtls gateway ca list`.',
            });
          }
        }
      }
      const chainId = num(
        (await q.query('INSERT INTO ca_chains (institution_id, pem, subject, not_after, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id', [
          institutionId,
          input.pem,
          input.subject,
          input.notAfter,
          now,
        ])).rows[0].id,
      );
      for (const [i, fp] of input.fingerprints.entries()) {
        await q.query('INSERT INTO ca_certificates (chain_id, position, fingerprint, institution_id) VALUES ($1, $2, $3, $4)', [chainId, i, fp, institutionId]);
      }
      return { id: chainId, institutionId, pem: input.pem, fingerprints: input.fingerprints, subject: input.subject, notAfter: input.notAfter, createdAt: now };
    });
  }

  /**
   * Removes one chain of an institution.
   * @throws MTLS_NOT_FOUND
   */
  async removeCaChain(institutionId: string, chainId: number): Promise<void> {
    await this.write(`remove CA chain ${chainId} of ${institutionId}`, institutionId, async (q) => {
      await this.requireInstitution(q, institutionId);
      const r = await q.query('DELETE FROM ca_chains WHERE id = $1 AND institution_id = $2', [chainId, institutionId]);
      if (r.rowCount === 0) {
        throw new MtlsError('MTLS_NOT_FOUND', `institution "${institutionId}" has no CA chain ${chainId}`, {
          subject: String(chainId),
          hint: `List its chains with \`mtls gateway ca list ${institutionId}\`.`,
        });
      }
    });
  }

  /** The chain holding a certificate with this SHA-256, or null. */
  async findChainByFingerprint(fingerprint: string): Promise<CaChainRecord | null> {
    const fp = normaliseFingerprint(fingerprint);
    return this.read('look up a fingerprint', async (q) => {
      const row = (await q.query('SELECT c.* FROM ca_chains c JOIN ca_certificates f ON f.chain_id = c.id WHERE f.fingerprint = $1 ORDER BY c.id LIMIT 1', [fp])).rows[0] as
        | Row
        | undefined;
      if (!row) return null;
      const fps = ((await q.query('SELECT fingerprint FROM ca_certificates WHERE chain_id = $1 ORDER BY position', [row.id])).rows as Row[]).map((r) => str(r.fingerprint));
      return this.chainRecord(row, fps);
    });
  }

  private chainRecord(row: Row, fingerprints: string[]): CaChainRecord {
    return {
      id: num(row.id),
      institutionId: str(row.institution_id),
      pem: str(row.pem),
      fingerprints,
      subject: str(row.subject),
      notAfter: str(row.not_after),
      createdAt: str(row.created_at),
    };
  }

  /**
   * Registers an IP or CIDR (canonical form).
   * @throws MTLS_BAD_ARGUMENT, MTLS_NOT_FOUND, MTLS_CONFLICT
   */
  async addIp(institutionId: string, cidr: string): Promise<IpRecord> {
    const norm = normaliseCidr(cidr);
    const now = new Date().toISOString();
    return this.write(`add IP ${norm} to ${institutionId}`, institutionId, async (q) => {
      await this.requireInstitution(q, institutionId);
      try {
        const r = await q.query('INSERT INTO ip_blocks (institution_id, cidr, created_at) VALUES ($1, $2, $3) RETURNING *', [institutionId, norm, now]);
        return toIp(r.rows[0] as Row);
      } catch (e) {
        if (isUniqueViolation(e)) throw new MtlsError('MTLS_CONFLICT', `${norm} is already registered for "${institutionId}"`, { subject: norm });
        throw e;
      }
    });
  }

  /**
   * Removes an IP or CIDR.
   * @throws MTLS_BAD_ARGUMENT, MTLS_NOT_FOUND
   */
  async removeIp(institutionId: string, cidr: string): Promise<void> {
    const norm = normaliseCidr(cidr);
    await this.write(`remove IP ${norm} from ${institutionId}`, institutionId, async (q) => {
      await this.requireInstitution(q, institutionId);
      const r = await q.query('DELETE FROM ip_blocks WHERE institution_id = $1 AND cidr = $2', [institutionId, norm]);
      if (r.rowCount === 0) {
        throw new MtlsError('MTLS_NOT_FOUND', `${norm} is not registered for "${institutionId}"`, {
          subject: norm,
          hint: `List its IPs with \`mtls gateway ip list ${institutionId}\`.`,
        });
      }
    });
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
      if (input.replaces !== null) await q.query('DELETE FROM crls WHERE id = $1 AND institution_id = $2 AND issuer_fingerprint IS NULL', [input.replaces, institutionId]);
      const r = await q.query(
        `INSERT INTO crls (institution_id, issuer, issuer_fingerprint, pem, this_update, next_update, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (institution_id, issuer_fingerprint) DO UPDATE SET issuer = EXCLUDED.issuer, pem = EXCLUDED.pem, this_update = EXCLUDED.this_update,
           next_update = EXCLUDED.next_update, created_at = EXCLUDED.created_at
         RETURNING *`,
        [institutionId, input.issuer, input.issuerFingerprint, input.pem, input.thisUpdate, input.nextUpdate, now],
      );
      return toCrl(r.rows[0] as Row);
    });
  }

  /**
   * Removes one CRL.
   * @throws MTLS_NOT_FOUND
   */
  async removeCrl(institutionId: string, crlId: number): Promise<void> {
    await this.write(`remove CRL ${crlId} of ${institutionId}`, institutionId, async (q) => {
      await this.requireInstitution(q, institutionId);
      const r = await q.query('DELETE FROM crls WHERE id = $1 AND institution_id = $2', [crlId, institutionId]);
      if (r.rowCount === 0) {
        throw new MtlsError('MTLS_NOT_FOUND', `institution "${institutionId}" has no CRL ${crlId}`, {
          subject: String(crlId),
          hint: `List its CRLs with \`mtls gateway crl list ${institutionId}\`.`,
        });
      }
    });
  }

  /**
   * Adds a pinned rule.
   * @throws MTLS_BAD_ARGUMENT, MTLS_NOT_FOUND, MTLS_CONFLICT
   */
  async addPinnedRule(institutionId: string, rule: { kind: PinnedRule['kind']; value: string }): Promise<PinnedRule> {
    const r = validatePinnedRule(rule);
    const now = new Date().toISOString();
    return this.write(`add a pinned rule to ${institutionId}`, institutionId, async (q) => {
      await this.requireInstitution(q, institutionId);
      try {
        const res = await q.query('INSERT INTO pinned_rules (institution_id, kind, value, created_at) VALUES ($1, $2, $3, $4) RETURNING *', [institutionId, r.kind, r.value, now]);
        return toRule(res.rows[0] as Row);
      } catch (e) {
        if (isUniqueViolation(e)) throw new MtlsError('MTLS_CONFLICT', `"${institutionId}" already has the rule ${r.kind}=${r.value}`, { subject: r.value });
        throw e;
      }
    });
  }

  /**
   * Removes one pinned rule.
   * @throws MTLS_NOT_FOUND
   */
  async removePinnedRule(institutionId: string, ruleId: number): Promise<void> {
    await this.write(`remove pinned rule ${ruleId} of ${institutionId}`, institutionId, async (q) => {
      await this.requireInstitution(q, institutionId);
      const r = await q.query('DELETE FROM pinned_rules WHERE id = $1 AND institution_id = $2', [ruleId, institutionId]);
      if (r.rowCount === 0) {
        throw new MtlsError('MTLS_NOT_FOUND', `institution "${institutionId}" has no pinned rule ${ruleId}`, {
          subject: String(ruleId),
          hint: `List its rules with \`mtls gateway rule list ${institutionId}\`.`,
        });
      }
    });
  }

  /** Everything the connection path needs (for every institution, or only `institutionId`), read in one REPEATABLE READ snapshot. */
  async loadTrust(institutionId?: string): Promise<InstitutionTrust[]> {
    const pool = this.conn();
    let client: pg.PoolClient | undefined;
    const one = institutionId !== undefined;
    const params = one ? [institutionId] : [];
    const where = (col: string): string => (one ? ` WHERE ${col} = $1` : '');
    try {
      client = await pool.connect();
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const byId = new Map<string, InstitutionTrust>();
      for (const row of (await client.query(`SELECT * FROM institutions${where('id')} ORDER BY id`, params)).rows as Row[]) {
        byId.set(str(row.id), { institution: toInstitution(row), chains: [], ips: [], crls: [], rules: [] });
      }
      const fps = new Map<number, string[]>();
      for (const r of (await client.query(`SELECT chain_id, fingerprint FROM ca_certificates${where('institution_id')} ORDER BY chain_id, position`, params)).rows as Row[]) {
        const list = fps.get(num(r.chain_id)) ?? [];
        list.push(str(r.fingerprint));
        fps.set(num(r.chain_id), list);
      }
      for (const r of (await client.query(`SELECT * FROM ca_chains${where('institution_id')} ORDER BY id`, params)).rows as Row[]) {
        byId.get(str(r.institution_id))?.chains.push(this.chainRecord(r, fps.get(num(r.id)) ?? []));
      }
      for (const r of (await client.query(`SELECT * FROM ip_blocks${where('institution_id')} ORDER BY id`, params)).rows as Row[]) byId.get(str(r.institution_id))?.ips.push(toIp(r));
      for (const r of (await client.query(`SELECT * FROM crls${where('institution_id')} ORDER BY id`, params)).rows as Row[]) byId.get(str(r.institution_id))?.crls.push(toCrl(r));
      for (const r of (await client.query(`SELECT * FROM pinned_rules${where('institution_id')} ORDER BY id`, params)).rows as Row[]) byId.get(str(r.institution_id))?.rules.push(toRule(r));
      await client.query('COMMIT');
      return [...byId.values()];
    } catch (e) {
      await client?.query('ROLLBACK').catch(() => undefined);
      throw mapPgError(e, this.where, 'load the registry');
    } finally {
      client?.release();
    }
  }

  /** The registry version. */
  async version(): Promise<number> {
    return this.read('read the registry version', async (q) => num((await q.query('SELECT version FROM registry_state WHERE id = 1')).rows[0].version));
  }

  /**
   * Subscribes to changes through LISTEN/NOTIFY (this instance's writes are
   * reported at once). `institutionId` is null when changes were missed or
   * folded together (reload everything then). A dropped LISTEN connection is
   * reported to `onError`; once it is back, listeners get a change with
   * `institutionId` null.
   */
  onChange(listener: (change: RegistryChange) => void, onError?: (error: MtlsError) => void): () => void {
    this.conn();
    this.listeners.set(listener, onError);
    if (!this.listenClient && !this.reconnectTimer) void this.startListening();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) {
        if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
        this.reconnectTimer = undefined;
        const c = this.listenClient;
        this.listenClient = undefined;
        void c?.end().catch(() => undefined);
      }
    };
  }

  private async startListening(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url, options: `-c search_path=${this.schema}` });
    this.listenClient = client;
    const retry = (e: unknown): void => {
      if (this.listenClient !== client) return;
      this.listenClient = undefined;
      void client.end().catch(() => undefined);
      if (this.closed || this.listeners.size === 0) return;
      const err = mapPgError(e, this.where, 'listen for registry changes');
      this.reportError(err);
      this.feedFailed(err);
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = undefined;
        if (!this.closed && this.listeners.size > 0 && !this.listenClient) void this.startListening();
      }, this.options.reconnectDelayMs ?? 500);
      this.reconnectTimer.unref();
    };
    client.on('error', retry);
    client.on('end', () => retry(new Error('Connection terminated')));
    client.on('notification', (msg) => {
      if (msg.channel !== this.channel || !msg.payload) return;
      try {
        const p = JSON.parse(msg.payload) as { version: number; institutionId: string | null };
        this.observe(Number(p.version), p.institutionId ?? null);
      } catch (e) {
        this.reportError(mapPgError(e, this.where, 'read a change notification'));
      }
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${this.channel}`);
      // Catch up on anything committed while not listening.
      const row = (await client.query('SELECT version, last_institution_id FROM registry_state WHERE id = 1')).rows[0] as Row;
      if (this.feedBroken) {
        this.feedBroken = false;
        this.lastSeen = Math.max(this.lastSeen, num(row.version));
        this.emit({ institutionId: null, version: num(row.version) });
      } else {
        this.observe(num(row.version), this.lastSeen + 1 === num(row.version) ? optStr(row.last_institution_id) : null);
      }
    } catch (e) {
      retry(e);
    }
  }

  /**
   * Appends audit records in one transaction (no version bump).
   * @throws MTLS_BAD_ARGUMENT
   */
  async appendAudit(records: AuditRecord[]): Promise<void> {
    if (records.length === 0) return;
    const rows = records.map(validateAuditRecord);
    const cols = ['time', 'kind', 'ip', 'institution_id', 'subject', 'issuer', 'serial', 'fingerprint_sha256', 'tls_version', 'cipher', 'outcome', 'reason', 'detail', 'method', 'path', 'status', 'duration_ms'];
    const values: unknown[] = [];
    const tuples = rows.map((r, i) => {
      values.push(
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
      );
      return `(${cols.map((_, j) => `$${i * cols.length + j + 1}`).join(', ')})`;
    });
    await this.read('append audit records', (q) => q.query(`INSERT INTO audit_log (${cols.join(', ')}) VALUES ${tuples.join(', ')}`, values));
  }

  /**
   * Audit records matching the query, newest first (default limit 100).
   * @throws MTLS_BAD_ARGUMENT
   */
  async queryAudit(query: AuditQuery): Promise<AuditRecord[]> {
    const q = validateAuditQuery(query);
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (clause: string, v: unknown): void => {
      params.push(v);
      where.push(clause.replace('?', `$${params.length}`));
    };
    if (q.since !== undefined) add('time >= ?', q.since);
    if (q.institutionId !== undefined) add('institution_id = ?', q.institutionId);
    if (q.outcome !== undefined) add('outcome = ?', q.outcome);
    if (q.reason !== undefined) add('reason = ?', q.reason);
    params.push(q.limit);
    const sql = `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY time DESC, id DESC LIMIT $${params.length}`;
    return this.read('query the audit log', async (c) => ((await c.query(sql, params)).rows as Row[]).map(toAudit));
  }
}

/**
 * Opens (and migrates) a PostgreSQL registry.
 * @param url - `postgres://user[:password]@host[:port]/database`
 * @throws MTLS_NETWORK when the server cannot be reached
 * @throws MTLS_CONFIG_INVALID for a refused login or missing database
 * @throws MTLS_CONFIG_UNSUPPORTED when a newer mtlskit wrote the schema
 */
export async function openPostgresRegistry(url: string, options: PostgresRegistryOptions = {}): Promise<PostgresRegistry> {
  const registry = new PostgresRegistry(url, options);
  await registry.init();
  return registry;
}
