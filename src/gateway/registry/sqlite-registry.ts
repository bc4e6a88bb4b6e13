/**
 * The embedded registry: one SQLite file (better-sqlite3 12) in WAL mode.
 *
 * Several processes may open the same file: the gateway reads it and appends
 * audit records while `mtls gateway …` edits it. Every registry write runs in
 * one `BEGIN IMMEDIATE` transaction that also bumps a version counter; each
 * open registry polls that counter (every 200 ms by default) so a change made
 * by another process reaches `onChange` listeners well within a second.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { MtlsError, type ErrorCode } from '../../errors/index.js';
import { normaliseCidr } from './cidr.js';
import { migrateSqlite } from './migrations.js';
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

/** Options for {@link openSqliteRegistry}. */
export interface SqliteRegistryOptions {
  /** Create the file (and schema) when it does not exist (default true). */
  create?: boolean;
  /** How often to poll for other processes' changes, in ms (default 200, at most 250). */
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
   * Receives errors raised while polling for changes (the poll retries on its
   * next tick) and errors thrown by change listeners. Default: `process.emitWarning`.
   */
  onError?: (error: MtlsError) => void;
}

interface InstitutionRow {
  id: string;
  name: string;
  status: InstitutionStatus;
  created_at: string;
  updated_at: string;
}
interface ChainRow {
  id: number;
  institution_id: string;
  pem: string;
  subject: string;
  not_after: string;
  created_at: string;
}
interface IpRow {
  id: number;
  institution_id: string;
  cidr: string;
  created_at: string;
}
interface CrlRow {
  id: number;
  institution_id: string;
  issuer: string;
  issuer_fingerprint: string | null;
  pem: string;
  this_update: string;
  next_update: string | null;
  created_at: string;
}
interface RuleRow {
  id: number;
  institution_id: string;
  kind: PinnedRule['kind'];
  value: string;
}
interface AuditRow {
  id: number;
  time: string;
  kind: 'connection' | 'request';
  ip: string;
  institution_id: string | null;
  subject: string | null;
  issuer: string | null;
  serial: string | null;
  fingerprint_sha256: string | null;
  tls_version: string | null;
  cipher: string | null;
  outcome: 'accepted' | 'rejected';
  reason: AuditRecord['reason'];
  detail: string | null;
  method: string | null;
  path: string | null;
  status: number | null;
  duration_ms: number | null;
}

const CORRUPT_HINT = (path: string): string =>
  `Restore ${path} from backup, or move it aside and start with a new registry path (an empty registry is created there); \`sqlite3 ${path} 'PRAGMA integrity_check'\` shows the damage.`;

/**
 * Maps a better-sqlite3 error to an MtlsError naming the registry file.
 * MtlsErrors pass through.
 */
export function mapSqliteError(e: unknown, path: string, action: string): MtlsError {
  if (e instanceof MtlsError) return e;
  const err = e as { code?: string; message?: string };
  const code = err.code ?? '';
  const msg = err.message ?? String(e);
  const make = (c: ErrorCode, message: string, hint?: string): MtlsError =>
    new MtlsError(c, message, { subject: path, cause: e, ...(hint ? { hint } : {}) });
  if (code === 'SQLITE_NOTADB') {
    return make('MTLS_CONFIG_INVALID', `registry file ${path} is not a SQLite database (${msg}) while trying to ${action}`, CORRUPT_HINT(path));
  }
  if (code.startsWith('SQLITE_CORRUPT')) {
    return make('MTLS_CONFIG_INVALID', `registry file ${path} is corrupt (${msg}) while trying to ${action}`, CORRUPT_HINT(path));
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return make('MTLS_LOCK_TIMEOUT', `registry file ${path} stayed locked by another process; could not ${action}`, 'Retry; if it persists, find the process holding the registry open in a long transaction.');
  }
  if (code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_PERM') || code.startsWith('SQLITE_AUTH')) {
    return make('MTLS_CONFIG_INVALID', `cannot open registry file ${path} (${msg})`, `Check that ${dirname(path)} exists and that this user may read and write ${path} and its -wal/-shm files.`);
  }
  if (code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_IOERR') || code.startsWith('SQLITE_FULL')) {
    return make('MTLS_FILE_WRITE', `cannot ${action}: registry file ${path} is not writable (${msg})`, `Check permissions on ${path} and its directory, and free disk space.`);
  }
  return make('MTLS_INTERNAL', `registry ${path}: ${action} failed: ${msg}`);
}

function isUniqueViolation(e: unknown): boolean {
  const code = (e as { code?: string }).code ?? '';
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

const toInstitution = (r: InstitutionRow): Institution => ({ id: r.id, name: r.name, status: r.status, createdAt: r.created_at, updatedAt: r.updated_at });
const toIp = (r: IpRow): IpRecord => ({ id: r.id, institutionId: r.institution_id, cidr: r.cidr, createdAt: r.created_at });
const toCrl = (r: CrlRow): CrlRecord => ({
  id: r.id,
  institutionId: r.institution_id,
  pem: r.pem,
  issuer: r.issuer,
  issuerFingerprint: r.issuer_fingerprint,
  thisUpdate: r.this_update,
  nextUpdate: r.next_update,
  createdAt: r.created_at,
});
const toRule = (r: RuleRow): PinnedRule => ({ id: r.id, institutionId: r.institution_id, kind: r.kind, value: r.value }) as PinnedRule;
const toAudit = (r: AuditRow): AuditRecord => ({
  id: r.id,
  time: r.time,
  kind: r.kind,
  ip: r.ip,
  institutionId: r.institution_id,
  subject: r.subject,
  issuer: r.issuer,
  serial: r.serial,
  fingerprintSha256: r.fingerprint_sha256,
  tlsVersion: r.tls_version,
  cipher: r.cipher,
  outcome: r.outcome,
  reason: r.reason,
  detail: r.detail,
  method: r.method,
  path: r.path,
  status: r.status,
  durationMs: r.duration_ms,
});

/** The SQLite implementation of {@link Registry}. Use {@link openSqliteRegistry}. */
export class SqliteRegistry implements Registry {
  /** Absolute path of the registry file. */
  readonly path: string;
  private db: Database.Database | undefined;
  private readonly options: Required<Omit<SqliteRegistryOptions, 'onError'>> & Pick<SqliteRegistryOptions, 'onError'>;
  private readonly listeners = new Map<(change: RegistryChange) => void, ((error: MtlsError) => void) | undefined>();
  private timer: NodeJS.Timeout | undefined;
  private lastSeen = 0;
  /** The last poll failed: the next good one tells listeners to reload everything. */
  private feedBroken = false;
  private closed = false;

  /**
   * @throws MTLS_CONFIG_INVALID when `pollIntervalMs` or `busyTimeoutMs` is out of range
   */
  constructor(path: string, options: SqliteRegistryOptions = {}) {
    this.path = resolve(path);
    const pollIntervalMs = options.pollIntervalMs ?? 200;
    const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    const auditBusyTimeoutMs = options.auditBusyTimeoutMs ?? 50;
    if (!Number.isInteger(pollIntervalMs) || pollIntervalMs < 1 || pollIntervalMs > 250) {
      throw new MtlsError('MTLS_CONFIG_INVALID', `registry pollIntervalMs ${pollIntervalMs} must be an integer from 1 to 250`, {
        subject: 'pollIntervalMs',
        hint: 'Changes must reach the gateway within 1 s; keep the poll at 250 ms or less.',
      });
    }
    if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
      throw new MtlsError('MTLS_CONFIG_INVALID', `registry busyTimeoutMs ${busyTimeoutMs} must be a non-negative integer`, { subject: 'busyTimeoutMs' });
    }
    if (!Number.isInteger(auditBusyTimeoutMs) || auditBusyTimeoutMs < 0) {
      throw new MtlsError('MTLS_CONFIG_INVALID', `registry auditBusyTimeoutMs ${auditBusyTimeoutMs} must be a non-negative integer`, { subject: 'auditBusyTimeoutMs' });
    }
    this.options = { create: options.create ?? true, pollIntervalMs, busyTimeoutMs, auditBusyTimeoutMs, onError: options.onError };
  }

  /**
   * Opens the file, sets WAL, busy_timeout and foreign keys, and applies
   * pending migrations. Idempotent.
   * @throws MTLS_CONFIG_INVALID for a missing (with `create: false`), corrupt or foreign file
   * @throws MTLS_CONFIG_UNSUPPORTED for a file written by a newer mtlskit
   */
  async init(): Promise<void> {
    if (this.db) return;
    if (this.closed) throw new MtlsError('MTLS_INTERNAL', `registry ${this.path} was closed; open it again`);
    const path = this.path;
    if (!existsSync(path)) {
      if (!this.options.create) {
        throw new MtlsError('MTLS_CONFIG_INVALID', `registry file ${path} does not exist`, {
          subject: path,
          hint: 'Check the registry path, or create the registry with `mtls gateway institution add … --registry PATH`.',
        });
      }
      if (!existsSync(dirname(path))) {
        throw new MtlsError('MTLS_CONFIG_INVALID', `cannot create registry file ${path}: directory ${dirname(path)} does not exist`, {
          subject: path,
          hint: `Create the directory (mkdir -p ${dirname(path)}) or choose another registry path.`,
        });
      }
    } else if (statSync(path).isDirectory()) {
      throw new MtlsError('MTLS_CONFIG_INVALID', `registry path ${path} is a directory, not a file`, {
        subject: path,
        hint: `Give a file path such as ${path.replace(/\/$/, '')}/mtls-registry.db.`,
      });
    }
    let db: Database.Database | undefined;
    try {
      db = new Database(path, { fileMustExist: !this.options.create, timeout: this.options.busyTimeoutMs });
      db.pragma(`busy_timeout = ${this.options.busyTimeoutMs}`);
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (String(mode).toLowerCase() !== 'wal') {
        throw new MtlsError('MTLS_CONFIG_INVALID', `registry file ${path} could not be switched to WAL mode (it reports ${String(mode)})`, {
          subject: path,
          hint: 'Put the registry on a local filesystem that supports shared memory (not NFS).',
        });
      }
      db.pragma('foreign_keys = ON');
      db.pragma('synchronous = NORMAL');
      migrateSqlite(db, path);
      this.lastSeen = (db.prepare('SELECT version FROM registry_state WHERE id = 1').get() as { version: number } | undefined)?.version ?? 0;
    } catch (e) {
      try {
        db?.close();
      } catch {
        // The open failed already; the original error is the one to report.
      }
      throw mapSqliteError(e, path, 'open the registry');
    }
    this.db = db;
  }

  /** Stops polling and closes the file. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.listeners.clear();
    const db = this.db;
    this.db = undefined;
    db?.close();
  }

  private conn(): Database.Database {
    if (!this.db) {
      throw new MtlsError('MTLS_INTERNAL', `registry ${this.path} is ${this.closed ? 'closed' : 'not initialised (call init())'}`, { subject: this.path });
    }
    return this.db;
  }

  /** Runs a read, mapping SQLite errors. */
  private read<T>(action: string, fn: (db: Database.Database) => T): T {
    const db = this.conn();
    try {
      return fn(db);
    } catch (e) {
      throw mapSqliteError(e, this.path, action);
    }
  }

  /**
   * Runs a write in one immediate transaction that bumps the version counter,
   * then notifies local listeners.
   */
  private write<T>(action: string, institutionId: string | null, fn: (db: Database.Database) => T): T {
    const db = this.conn();
    let version = 0;
    let result: T;
    try {
      const tx = db.transaction(() => {
        const r = fn(db);
        version = (
          db.prepare('UPDATE registry_state SET version = version + 1, last_institution_id = ? WHERE id = 1 RETURNING version').get(institutionId) as {
            version: number;
          }
        ).version;
        return r;
      });
      result = tx.immediate();
    } catch (e) {
      throw mapSqliteError(e, this.path, action);
    }
    // Another process may have written since our last poll; then the listener
    // cannot know which institution changed, so it is told "anything" (null).
    const gap = version - this.lastSeen > 1;
    this.lastSeen = version;
    this.emit({ institutionId: gap ? null : institutionId, version });
    return result;
  }

  /** Calls each listener; a throwing listener is reported and does not stop the others or fail the write. */
  private emit(change: RegistryChange): void {
    for (const l of [...this.listeners.keys()]) {
      try {
        l(change);
      } catch (e) {
        this.report(new MtlsError('MTLS_INTERNAL', `a registry change listener failed: ${(e as Error).message ?? String(e)}`, { cause: e }));
      }
    }
  }

  private report(err: MtlsError): void {
    if (this.options.onError) this.options.onError(err);
    else process.emitWarning(err.message, { code: err.code });
  }

  private requireInstitution(db: Database.Database, id: string): InstitutionRow {
    const row = db.prepare('SELECT * FROM institutions WHERE id = ?').get(id) as InstitutionRow | undefined;
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
   * @throws MTLS_BAD_ARGUMENT, MTLS_CONFLICT when the id exists
   */
  async createInstitution(input: { id: string; name: string }): Promise<Institution> {
    const id = validateInstitutionId(input.id);
    const name = validateInstitutionName(input.name);
    const now = new Date().toISOString();
    return this.write(`add institution ${id}`, id, (db) => {
      try {
        db.prepare(`INSERT INTO institutions (id, name, status, created_at, updated_at) VALUES (?, ?, 'active', ?, ?)`).run(id, name, now, now);
      } catch (e) {
        if (isUniqueViolation(e)) throw new MtlsError('MTLS_CONFLICT', `institution "${id}" already exists`, { subject: id });
        throw e;
      }
      return { id, name, status: 'active', createdAt: now, updatedAt: now };
    });
  }

  /** One institution, or null. */
  async getInstitution(id: string): Promise<Institution | null> {
    const row = this.read('read an institution', (db) => db.prepare('SELECT * FROM institutions WHERE id = ?').get(id) as InstitutionRow | undefined);
    return row ? toInstitution(row) : null;
  }

  /** Every institution, by id. */
  async listInstitutions(): Promise<Institution[]> {
    return this.read('list institutions', (db) => (db.prepare('SELECT * FROM institutions ORDER BY id').all() as InstitutionRow[]).map(toInstitution));
  }

  /**
   * Suspends or re-activates an institution.
   * @throws MTLS_BAD_ARGUMENT, MTLS_NOT_FOUND
   */
  async setInstitutionStatus(id: string, status: InstitutionStatus): Promise<Institution> {
    validateStatus(status);
    const now = new Date().toISOString();
    return this.write(`set status of ${id}`, id, (db) => {
      this.requireInstitution(db, id);
      db.prepare('UPDATE institutions SET status = ?, updated_at = ? WHERE id = ?').run(status, now, id);
      return toInstitution(db.prepare('SELECT * FROM institutions WHERE id = ?').get(id) as InstitutionRow);
    });
  }

  /**
   * Removes an institution with its chains, IPs, CRLs and rules (audit
   * records are kept).
   * @throws MTLS_NOT_FOUND
   */
  async deleteInstitution(id: string): Promise<void> {
    this.write(`remove institution ${id}`, id, (db) => {
      this.requireInstitution(db, id);
      db.prepare('DELETE FROM institutions WHERE id = ?').run(id);
    });
  }

  /**
   * Stores a chain validated by onboarding. Re-checks duplicates inside the
   * transaction: a certificate registered to another institution, or a chain
   * whose first (issuing) CA this institution already has.
   * @throws MTLS_NOT_FOUND, MTLS_CONFLICT, MTLS_BAD_ARGUMENT
   */
  async addCaChain(institutionId: string, chain: { pem: string; fingerprints: string[]; subject: string; notAfter: string }): Promise<CaChainRecord> {
    const input = validateChainInput(chain);
    const now = new Date().toISOString();
    return this.write(`add a CA chain to ${institutionId}`, institutionId, (db) => {
      this.requireInstitution(db, institutionId);
      const find = db.prepare('SELECT chain_id, institution_id FROM ca_certificates WHERE fingerprint = ?');
      input.fingerprints.forEach((fp, i) => {
        for (const hit of find.all(fp) as { chain_id: number; institution_id: string }[]) {
          if (hit.institution_id !== institutionId) {
            throw new MtlsError('MTLS_CONFLICT', `certificate #${i + 1} of the chain (SHA-256 ${fp}) is already registered to institution "${hit.institution_id}"`, {
              subject: fp,
              hint: 'A CA may belong to one institution only; otherwise two institutions could pass as each other.',
            });
          }
          if (i === 0) {
            throw new MtlsError('MTLS_CONFLICT', `the chain's issuing CA (SHA-256 ${fp}) is already registered to "${institutionId}" as chain ${hit.chain_id}`, {
              subject: fp,
              hint: 'Nothing to do; list the chains with `mtls gateway ca list`.',
            });
          }
        }
      });
      const info = db
        .prepare('INSERT INTO ca_chains (institution_id, pem, subject, not_after, created_at) VALUES (?, ?, ?, ?, ?)')
        .run(institutionId, input.pem, input.subject, input.notAfter, now);
      const chainId = Number(info.lastInsertRowid);
      const ins = db.prepare('INSERT INTO ca_certificates (chain_id, position, fingerprint, institution_id) VALUES (?, ?, ?, ?)');
      input.fingerprints.forEach((fp, i) => ins.run(chainId, i, fp, institutionId));
      return { id: chainId, institutionId, pem: input.pem, fingerprints: input.fingerprints, subject: input.subject, notAfter: input.notAfter, createdAt: now };
    });
  }

  /**
   * Removes one chain of an institution.
   * @throws MTLS_NOT_FOUND
   */
  async removeCaChain(institutionId: string, chainId: number): Promise<void> {
    this.write(`remove CA chain ${chainId} of ${institutionId}`, institutionId, (db) => {
      this.requireInstitution(db, institutionId);
      const r = db.prepare('DELETE FROM ca_chains WHERE id = ? AND institution_id = ?').run(chainId, institutionId);
      if (r.changes === 0) {
        throw new MtlsError('MTLS_NOT_FOUND', `institution "${institutionId}" has no CA chain ${chainId}`, {
          subject: String(chainId),
          hint: `List its chains with \`mtls gateway ca list ${institutionId}\`.`,
        });
      }
    });
  }

  /** The chain holding a certificate with this SHA-256 (any separator or case), or null. */
  async findChainByFingerprint(fingerprint: string): Promise<CaChainRecord | null> {
    const fp = normaliseFingerprint(fingerprint);
    return this.read('look up a fingerprint', (db) => {
      const row = db
        .prepare('SELECT c.* FROM ca_chains c JOIN ca_certificates f ON f.chain_id = c.id WHERE f.fingerprint = ? ORDER BY c.id LIMIT 1')
        .get(fp) as ChainRow | undefined;
      return row ? this.chainRecord(db, row) : null;
    });
  }

  private chainRecord(db: Database.Database, row: ChainRow): CaChainRecord {
    const fps = (db.prepare('SELECT fingerprint FROM ca_certificates WHERE chain_id = ? ORDER BY position').all(row.id) as { fingerprint: string }[]).map((r) => r.fingerprint);
    return { id: row.id, institutionId: row.institution_id, pem: row.pem, fingerprints: fps, subject: row.subject, notAfter: row.not_after, createdAt: row.created_at };
  }

  /**
   * Registers an IP or CIDR (stored in canonical form, see `normaliseCidr`).
   * @throws MTLS_BAD_ARGUMENT, MTLS_NOT_FOUND, MTLS_CONFLICT
   */
  async addIp(institutionId: string, cidr: string): Promise<IpRecord> {
    const norm = normaliseCidr(cidr);
    const now = new Date().toISOString();
    return this.write(`add IP ${norm} to ${institutionId}`, institutionId, (db) => {
      this.requireInstitution(db, institutionId);
      try {
        const info = db.prepare('INSERT INTO ip_blocks (institution_id, cidr, created_at) VALUES (?, ?, ?)').run(institutionId, norm, now);
        return { id: Number(info.lastInsertRowid), institutionId, cidr: norm, createdAt: now };
      } catch (e) {
        if (isUniqueViolation(e)) throw new MtlsError('MTLS_CONFLICT', `${norm} is already registered for "${institutionId}"`, { subject: norm });
        throw e;
      }
    });
  }

  /**
   * Removes an IP or CIDR (any spelling of the same block).
   * @throws MTLS_BAD_ARGUMENT, MTLS_NOT_FOUND
   */
  async removeIp(institutionId: string, cidr: string): Promise<void> {
    const norm = normaliseCidr(cidr);
    this.write(`remove IP ${norm} from ${institutionId}`, institutionId, (db) => {
      this.requireInstitution(db, institutionId);
      const r = db.prepare('DELETE FROM ip_blocks WHERE institution_id = ? AND cidr = ?').run(institutionId, norm);
      if (r.changes === 0) {
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
    return this.write(`put a CRL for ${institutionId}`, institutionId, (db) => {
      this.requireInstitution(db, institutionId);
      if (input.replaces !== null) db.prepare('DELETE FROM crls WHERE id = ? AND institution_id = ? AND issuer_fingerprint IS NULL').run(input.replaces, institutionId);
      db.prepare(
        `INSERT INTO crls (institution_id, issuer, issuer_fingerprint, pem, this_update, next_update, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (institution_id, issuer_fingerprint) DO UPDATE SET issuer = excluded.issuer, pem = excluded.pem, this_update = excluded.this_update,
           next_update = excluded.next_update, created_at = excluded.created_at`,
      ).run(institutionId, input.issuer, input.issuerFingerprint, input.pem, input.thisUpdate, input.nextUpdate, now);
      return toCrl(db.prepare('SELECT * FROM crls WHERE institution_id = ? AND issuer_fingerprint = ?').get(institutionId, input.issuerFingerprint) as CrlRow);
    });
  }

  /**
   * Removes one CRL.
   * @throws MTLS_NOT_FOUND
   */
  async removeCrl(institutionId: string, crlId: number): Promise<void> {
    this.write(`remove CRL ${crlId} of ${institutionId}`, institutionId, (db) => {
      this.requireInstitution(db, institutionId);
      const r = db.prepare('DELETE FROM crls WHERE id = ? AND institution_id = ?').run(crlId, institutionId);
      if (r.changes === 0) {
        throw new MtlsError('MTLS_NOT_FOUND', `institution "${institutionId}" has no CRL ${crlId}`, {
          subject: String(crlId),
          hint: `List its CRLs with \`mtls gateway crl list ${institutionId}\`.`,
        });
      }
    });
  }

  /**
   * Adds a pinned rule (fingerprints normalised to lower-case hex).
   * @throws MTLS_BAD_ARGUMENT, MTLS_NOT_FOUND, MTLS_CONFLICT
   */
  async addPinnedRule(institutionId: string, rule: { kind: PinnedRule['kind']; value: string }): Promise<PinnedRule> {
    const r = validatePinnedRule(rule);
    const now = new Date().toISOString();
    return this.write(`add a pinned rule to ${institutionId}`, institutionId, (db) => {
      this.requireInstitution(db, institutionId);
      try {
        const info = db.prepare('INSERT INTO pinned_rules (institution_id, kind, value, created_at) VALUES (?, ?, ?, ?)').run(institutionId, r.kind, r.value, now);
        return { id: Number(info.lastInsertRowid), institutionId, kind: r.kind, value: r.value } as PinnedRule;
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
    this.write(`remove pinned rule ${ruleId} of ${institutionId}`, institutionId, (db) => {
      this.requireInstitution(db, institutionId);
      const r = db.prepare('DELETE FROM pinned_rules WHERE id = ? AND institution_id = ?').run(ruleId, institutionId);
      if (r.changes === 0) {
        throw new MtlsError('MTLS_NOT_FOUND', `institution "${institutionId}" has no pinned rule ${ruleId}`, {
          subject: String(ruleId),
          hint: `List its rules with \`mtls gateway rule list ${institutionId}\`.`,
        });
      }
    });
  }

  /** Everything the connection path needs (for every institution, or only `institutionId`), read as one consistent snapshot. */
  async loadTrust(institutionId?: string): Promise<InstitutionTrust[]> {
    const one = institutionId !== undefined;
    const where = (col: string): string => (one ? ` WHERE ${col} = @id` : '');
    const params = one ? { id: institutionId } : {};
    return this.read('load the registry', (db) =>
      db.transaction(() => {
        const byId = new Map<string, InstitutionTrust>();
        for (const row of db.prepare(`SELECT * FROM institutions${where('id')} ORDER BY id`).all(params) as InstitutionRow[]) {
          byId.set(row.id, { institution: toInstitution(row), chains: [], ips: [], crls: [], rules: [] });
        }
        const fps = new Map<number, string[]>();
        for (const r of db.prepare(`SELECT chain_id, fingerprint FROM ca_certificates${where('institution_id')} ORDER BY chain_id, position`).all(params) as { chain_id: number; fingerprint: string }[]) {
          const list = fps.get(r.chain_id) ?? [];
          list.push(r.fingerprint);
          fps.set(r.chain_id, list);
        }
        for (const r of db.prepare(`SELECT * FROM ca_chains${where('institution_id')} ORDER BY id`).all(params) as ChainRow[]) {
          byId.get(r.institution_id)?.chains.push({
            id: r.id,
            institutionId: r.institution_id,
            pem: r.pem,
            fingerprints: fps.get(r.id) ?? [],
            subject: r.subject,
            notAfter: r.not_after,
            createdAt: r.created_at,
          });
        }
        for (const r of db.prepare(`SELECT * FROM ip_blocks${where('institution_id')} ORDER BY id`).all(params) as IpRow[]) byId.get(r.institution_id)?.ips.push(toIp(r));
        for (const r of db.prepare(`SELECT * FROM crls${where('institution_id')} ORDER BY id`).all(params) as CrlRow[]) byId.get(r.institution_id)?.crls.push(toCrl(r));
        for (const r of db.prepare(`SELECT * FROM pinned_rules${where('institution_id')} ORDER BY id`).all(params) as RuleRow[]) byId.get(r.institution_id)?.rules.push(toRule(r));
        return [...byId.values()];
      })(),
    );
  }

  /** The registry version (bumped by every registry write, in any process). */
  async version(): Promise<number> {
    return this.read('read the registry version', (db) => (db.prepare('SELECT version FROM registry_state WHERE id = 1').get() as { version: number }).version);
  }

  /**
   * Subscribes to changes: this process's writes are reported at once, other
   * processes' writes within one poll interval. `institutionId` is null when
   * several changes were folded together (reload everything then). A failing
   * poll is reported to `onError`; the first good poll after it reports a
   * change with `institutionId` null.
   */
  onChange(listener: (change: RegistryChange) => void, onError?: (error: MtlsError) => void): () => void {
    this.conn();
    this.listeners.set(listener, onError);
    if (!this.timer) {
      this.timer = setInterval(() => this.poll(), this.options.pollIntervalMs);
      this.timer.unref();
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
  }

  private poll(): void {
    if (!this.db) return;
    let row: { version: number; last_institution_id: string | null };
    try {
      row = this.db.prepare('SELECT version, last_institution_id FROM registry_state WHERE id = 1').get() as typeof row;
    } catch (e) {
      const err = mapSqliteError(e, this.path, 'poll for registry changes (retrying)');
      this.feedBroken = true;
      this.report(err);
      for (const onError of [...this.listeners.values()]) {
        try {
          onError?.(err);
        } catch (inner) {
          this.report(new MtlsError('MTLS_INTERNAL', `a registry error listener failed: ${(inner as Error).message ?? String(inner)}`, { cause: inner }));
        }
      }
      return;
    }
    if (this.feedBroken) {
      this.feedBroken = false;
      this.lastSeen = Math.max(this.lastSeen, row.version);
      this.emit({ institutionId: null, version: row.version });
      return;
    }
    if (row.version <= this.lastSeen) return;
    const single = row.version - this.lastSeen === 1;
    this.lastSeen = row.version;
    this.emit({ institutionId: single ? row.last_institution_id : null, version: row.version });
  }

  /**
   * Appends audit records in one transaction (they do not bump the registry
   * version). Waits at most `auditBusyTimeoutMs` (50 ms) for another
   * process's lock, so a busy file never stalls the event loop for seconds.
   * @throws MTLS_BAD_ARGUMENT for a record outside the closed sets
   * @throws MTLS_LOCK_TIMEOUT when the file stayed locked (retry later)
   */
  async appendAudit(records: AuditRecord[]): Promise<void> {
    if (records.length === 0) return;
    const rows = records.map(validateAuditRecord);
    const db = this.conn();
    db.pragma(`busy_timeout = ${this.options.auditBusyTimeoutMs}`);
    try {
      const ins = db.prepare(
        `INSERT INTO audit_log (time, kind, ip, institution_id, subject, issuer, serial, fingerprint_sha256, tls_version, cipher,
           outcome, reason, detail, method, path, status, duration_ms)
         VALUES (@time, @kind, @ip, @institutionId, @subject, @issuer, @serial, @fingerprintSha256, @tlsVersion, @cipher,
           @outcome, @reason, @detail, @method, @path, @status, @durationMs)`,
      );
      db.transaction(() => {
        for (const r of rows) {
          ins.run({
            time: r.time,
            kind: r.kind,
            ip: r.ip,
            institutionId: r.institutionId ?? null,
            subject: r.subject ?? null,
            issuer: r.issuer ?? null,
            serial: r.serial ?? null,
            fingerprintSha256: r.fingerprintSha256 ?? null,
            tlsVersion: r.tlsVersion ?? null,
            cipher: r.cipher ?? null,
            outcome: r.outcome,
            reason: r.reason,
            detail: r.detail ?? null,
            method: r.method ?? null,
            path: r.path ?? null,
            status: r.status ?? null,
            durationMs: r.durationMs ?? null,
          });
        }
      }).immediate();
    } catch (e) {
      throw mapSqliteError(e, this.path, 'append audit records');
    } finally {
      db.pragma(`busy_timeout = ${this.options.busyTimeoutMs}`);
    }
  }

  /**
   * Audit records matching the query, newest first (default limit 100).
   * @throws MTLS_BAD_ARGUMENT for a bad filter
   */
  async queryAudit(query: AuditQuery): Promise<AuditRecord[]> {
    const q = validateAuditQuery(query);
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (q.since !== undefined) {
      where.push('time >= ?');
      params.push(q.since);
    }
    if (q.institutionId !== undefined) {
      where.push('institution_id = ?');
      params.push(q.institutionId);
    }
    if (q.outcome !== undefined) {
      where.push('outcome = ?');
      params.push(q.outcome);
    }
    if (q.reason !== undefined) {
      where.push('reason = ?');
      params.push(q.reason);
    }
    params.push(q.limit);
    const sql = `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY time DESC, id DESC LIMIT ?`;
    return this.read('query the audit log', (db) => (db.prepare(sql).all(...params) as AuditRow[]).map(toAudit));
  }
}

/**
 * Opens (creating and migrating when needed) a SQLite registry file.
 * @param path - the registry file (created with its schema when missing, unless `create: false`)
 * @throws MTLS_CONFIG_INVALID naming the path for a missing, corrupt, foreign or unopenable file
 * @throws MTLS_CONFIG_UNSUPPORTED when a newer mtlskit wrote the schema
 */
export async function openSqliteRegistry(path: string, options: SqliteRegistryOptions = {}): Promise<SqliteRegistry> {
  const registry = new SqliteRegistry(path, options);
  await registry.init();
  return registry;
}
