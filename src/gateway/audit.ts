/**
 * The audit trail: every connection attempt and every request becomes one
 * {@link AuditRecord}, logged at once as a JSON line (the gateway's own log
 * destination writes a turn's lines with one synchronous write at the end of
 * that event-loop turn: a SIGKILL loses at most the lines of the turn it
 * interrupts) and queued for the registry, which receives them in batches
 * (`batched`: a SIGKILL loses what the registry had not received yet, at
 * most one flush interval), or, for requests with `audit.durability:
 * durable`, committed before the response is released.
 *
 * An accepted connection gets its own `connection` record at the handshake,
 * besides one record per request: it is the only trace of a connection that
 * never sends a request (or whose request never completes), and it carries
 * the certificate decision once rather than in every request record's detail.
 */
import type { Logger } from 'pino';
import { isMtlsError, MtlsError, toMtlsError } from '../errors/index.js';
import type { CertInfo } from './peer-cert.js';
import type { AuditOutcome, AuditReason, AuditRecord, Registry } from './registry/types.js';

/** Fields for {@link makeAuditRecord}. */
export interface AuditFields {
  kind: AuditRecord['kind'];
  ip: string;
  reason: AuditReason;
  /** Default: `accepted` for `ok`, `rejected` otherwise. */
  outcome?: AuditOutcome;
  institutionId?: string | null;
  cert?: CertInfo | null;
  tlsVersion?: string | null;
  cipher?: string | null;
  detail?: string | null;
  method?: string | null;
  path?: string | null;
  status?: number | null;
  durationMs?: number | null;
  /** The request's id (request records only). */
  requestId?: string | null;
  time?: Date;
}

/** Builds an audit record (certificate fields from the parsed client certificate). */
export function makeAuditRecord(f: AuditFields): AuditRecord {
  const rec: AuditRecord = {
    time: (f.time ?? new Date()).toISOString(),
    kind: f.kind,
    ip: f.ip,
    institutionId: f.institutionId ?? null,
    subject: f.cert?.subject ?? null,
    issuer: f.cert?.issuer ?? null,
    serial: f.cert?.serial ?? null,
    fingerprintSha256: f.cert?.fingerprint ?? null,
    tlsVersion: f.tlsVersion ?? null,
    cipher: f.cipher ?? null,
    outcome: f.outcome ?? (f.reason === 'ok' ? 'accepted' : 'rejected'),
    reason: f.reason,
    detail: f.detail ?? null,
  };
  if (f.kind === 'request') {
    rec.method = f.method ?? null;
    rec.path = f.path ?? null;
    rec.status = f.status ?? null;
    rec.durationMs = f.durationMs ?? null;
    rec.requestId = f.requestId ?? null;
  }
  return rec;
}

/** Records a registry write did not store, and the error (absent when nothing is left to retry). */
interface Unstored {
  records: AuditRecord[];
  error?: unknown;
}

/** Options for {@link AuditSink}. */
export interface AuditSinkOptions {
  registry: Registry;
  logger: Logger;
  /** Registry write period (default 250 ms). */
  flushIntervalMs?: number;
  /** Records held while the registry is failing (default 10 000); the oldest are dropped beyond it. */
  maxQueue?: number;
  /** Records per registry write (default 500). */
  batchSize?: number;
  /** Called for every record (metrics). */
  onRecord?: (record: AuditRecord) => void;
}

/**
 * Writes audit records to the log at once and to the registry in batches.
 * A registry failure keeps the records queued (bounded) and logs an error;
 * the log line has been written either way.
 *
 * A batch is taken out of the queue before it is written (the queue only
 * ever holds records not yet handed to the registry), so records that arrive
 * or are dropped while a write is under way never shift the batch: a failed
 * write puts back exactly the records it did not store, oldest first.
 */
export class AuditSink {
  private queue: AuditRecord[] = [];
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> | null = null;
  private dropped = 0;
  private lastErrorLog = 0;
  private closed = false;
  /** Records waiting for a durable commit, with their waiters. */
  private commits: Array<{
    record: AuditRecord;
    resolve: () => void;
    reject: (e: unknown) => void;
  }> = [];
  private committing = false;
  /** When registry writes started failing (ms since the epoch), or null while they succeed. */
  private failingSinceMs: number | null = null;
  private lastError: string | null = null;

  constructor(private readonly options: AuditSinkOptions) {
    this.timer = setInterval(() => void this.flush(), options.flushIntervalMs ?? 250);
    this.timer.unref();
  }

  /** Records one event: the log line now, the registry in the next batch. Never throws. */
  record(record: AuditRecord): void {
    this.log(record);
    if (this.closed) return;
    this.queue.push(record);
    this.trim();
  }

  /**
   * Records one event and resolves once it is committed to the registry
   * (`audit.durability: durable`). The log line is written at once, as with
   * {@link record}. Records committed while a write is under way go together
   * in the next one (group commit), so concurrent requests share a
   * transaction.
   * @throws (rejects) the registry's error when the write fails; the record
   *   then joins the batched queue, so it still reaches the registry once it
   *   recovers, exactly once
   */
  commit(record: AuditRecord): Promise<void> {
    this.log(record);
    if (this.closed)
      return Promise.reject(
        new MtlsError('MTLS_INTERNAL', 'the audit sink is closed; the record is in the log only'),
      );
    return new Promise<void>((resolve, reject) => {
      this.commits.push({ record, resolve, reject });
      if (!this.committing) setImmediate(() => void this.writeCommits());
      this.committing = true;
    });
  }

  /** Writes every record waiting for a commit in one registry call, until none is left. */
  private async writeCommits(): Promise<void> {
    while (this.commits.length > 0) {
      const group = this.commits.splice(0, this.options.batchSize ?? 500);
      try {
        await this.options.registry.appendAudit(group.map((c) => c.record));
        this.succeeded();
        for (const c of group) c.resolve();
      } catch (e) {
        // Not stored: the batched path keeps them (a refused-as-invalid record
        // is sorted out there, one by one).
        this.queue.push(...group.map((c) => c.record));
        this.trim();
        this.logFailure(e);
        for (const c of group) c.reject(e);
      }
    }
    this.committing = false;
  }

  private log(record: AuditRecord): void {
    const level = record.outcome === 'accepted' ? 'info' : 'warn';
    this.options.logger[level](
      { audit: record },
      `audit ${record.kind} ${record.outcome} ${record.reason}`,
    );
    this.options.onRecord?.(record);
  }

  /** Records waiting for the registry (not counting a batch being written). */
  get queued(): number {
    return this.queue.length;
  }

  /** Drops the oldest queued records beyond `maxQueue`, counting them. */
  private trim(): void {
    const max = this.options.maxQueue ?? 10_000;
    if (this.queue.length > max) {
      const n = this.queue.length - max;
      this.queue.splice(0, n);
      this.dropped += n;
    }
  }

  /** Writes every queued record to the registry; resolves when done (or failed, with an error logged). */
  flush(): Promise<void> {
    if (this.flushing)
      return this.flushing.then(() => (this.queue.length > 0 ? this.flush() : undefined));
    if (this.queue.length === 0 && this.dropped === 0) return Promise.resolve();
    this.flushing = (async () => {
      const size = this.options.batchSize ?? 500;
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, size);
        const unwritten = await this.write(batch);
        if (unwritten.error !== undefined) {
          // Back to the front, oldest first; the bound applies again.
          this.queue = [...unwritten.records, ...this.queue];
          this.trim();
          this.logFailure(unwritten.error);
          break;
        }
      }
      if (this.dropped > 0) {
        this.options.logger.error(
          { dropped: this.dropped },
          `audit: ${this.dropped} record(s) could not be kept for the registry (queue full); they are in the log only`,
        );
        this.dropped = 0;
      }
    })().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  /**
   * Writes one batch.
   * @returns the records not stored and why (no error when all were stored,
   *   or refused as invalid)
   */
  private async write(batch: AuditRecord[]): Promise<Unstored> {
    try {
      await this.options.registry.appendAudit(batch);
      this.succeeded();
      return { records: [] };
    } catch (e) {
      if (isMtlsError(e, 'MTLS_BAD_ARGUMENT')) return this.appendOneByOne(batch);
      return { records: batch, error: e };
    }
  }

  private succeeded(): void {
    if (this.failingSinceMs !== null) {
      this.options.logger.warn(
        { failedForMs: Date.now() - this.failingSinceMs, queued: this.queue.length },
        'audit: writing to the registry works again',
      );
    }
    this.failingSinceMs = null;
    this.lastError = null;
  }

  /**
   * Notes a failed registry write (called once the unstored records are back
   * in the queue, so the logged queue length counts them) and logs it, at
   * most every 10 s.
   */
  private logFailure(e: unknown): void {
    const now = Date.now();
    const err = toMtlsError(e);
    this.failingSinceMs ??= now;
    this.lastError = err.message;
    if (now - this.lastErrorLog > 10_000) {
      this.lastErrorLog = now;
      this.options.logger.error(
        { err: { code: err.code, message: err.message }, queued: this.queue.length },
        `audit: writing to the registry failed; ${this.queue.length} record(s) stay queued`,
      );
    }
  }

  /**
   * Since when registry writes have been failing, with the last error; null
   * while they succeed (readiness: see `audit.maxFailureSeconds`).
   */
  failure(): { sinceMs: number; error: string } | null {
    return this.failingSinceMs === null
      ? null
      : { sinceMs: this.failingSinceMs, error: this.lastError ?? 'unknown error' };
  }

  /**
   * Stores a batch record by record after the registry refused it as invalid,
   * so one bad record cannot block the queue: invalid ones are dropped (they
   * are in the log already) with an error.
   * @returns the records from the first one the registry failed to store for
   *   another reason (those are kept), with that error; no records when every
   *   record was handled
   */
  private async appendOneByOne(batch: AuditRecord[]): Promise<Unstored> {
    for (const [i, rec] of batch.entries()) {
      try {
        await this.options.registry.appendAudit([rec]);
      } catch (e) {
        if (!isMtlsError(e, 'MTLS_BAD_ARGUMENT')) return { records: batch.slice(i), error: e };
        this.options.logger.error(
          { err: { code: e.code, message: e.message }, audit: rec },
          'audit: the registry refused a record; it is kept in the log only',
        );
      }
    }
    this.succeeded();
    return { records: [] };
  }

  /** Waits for pending commits, flushes and stops the timer. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    while (this.committing) await new Promise((r) => setImmediate(r));
    await this.flush();
    this.closed = true;
  }
}
