/**
 * Audit retention (`audit.retentionDays`): deletes registry audit records
 * older than the retention, at start and then every hour, so the audit table
 * stops growing with traffic. Without it a busy gateway fills its disk, and
 * a registry that can no longer store audit records makes `/readyz` fail.
 *
 * The records go in chunks, one short transaction each, so the gateway's own
 * audit writes (and, on SQLite, the other processes') never wait long for
 * the lock. The JSON log lines are not touched: where they are shipped to
 * (journald, a SIEM) is the long-term archive.
 *
 * One process per instance runs it (the primary, or the single process);
 * several instances on one PostgreSQL each run it, which only repeats a
 * delete that finds nothing.
 */
import type { Logger } from 'pino';
import type { Registry as PromRegistry } from 'prom-client';
import { toMtlsError } from '../errors/index.js';
import { AuditTrailMetrics } from './metrics.js';
import type { Registry } from './registry/types.js';

/** Records deleted per transaction. */
export const PRUNE_CHUNK = 5_000;
const DAY_MS = 86_400_000;

/**
 * Deletes every audit record older than `before` (ISO), {@link PRUNE_CHUNK}
 * per transaction, yielding to the event loop between chunks, until none
 * is left or `stop()` says so.
 * @returns how many records went
 * @throws MTLS_BAD_ARGUMENT for a bad time; the registry's errors as they come
 */
export async function pruneAuditBefore(
  registry: Pick<Registry, 'pruneAudit'>,
  before: string,
  stop: () => boolean = () => false,
): Promise<number> {
  let deleted = 0;
  for (;;) {
    const n = await registry.pruneAudit(before, PRUNE_CHUNK);
    deleted += n;
    if (n < PRUNE_CHUNK || stop()) return deleted;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** Options for {@link AuditRetention}. */
export interface AuditRetentionOptions {
  registry: Pick<Registry, 'pruneAudit'>;
  /** Records older than this many days are deleted. */
  retentionDays: number;
  logger: Logger;
  /** Time between two passes (default one hour). */
  intervalMs?: number;
  /** The clock, in ms since the epoch (tests move it). */
  now?: () => number;
  /** Told of every pass that finished without an error, and when (the metrics). */
  onPass?: (result: AuditPruneResult, atMs: number) => void;
}

/** Result of one pruning: the cutoff and how many records older than it went. */
export interface AuditPruneResult {
  /** The cutoff (ISO): records older than this went. */
  before: string;
  deleted: number;
}

/** Deletes audit records past the retention, now and periodically. */
export class AuditRetention {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<AuditPruneResult | null> | null = null;
  private stopped = false;
  private readonly now: () => number;

  constructor(private readonly options: AuditRetentionOptions) {
    this.now = options.now ?? ((): number => Date.now());
  }

  /** Runs a first pass now (in the background) and then one every interval. */
  start(): void {
    this.stopped = false;
    void this.tick();
    this.timer = setInterval(() => void this.tick(), this.options.intervalMs ?? 3_600_000);
    this.timer.unref();
  }

  /** Stops the schedule and waits for a pass under way to finish its chunk. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  /** A pass unless one is under way; failures are logged and retried at the next one. */
  private async tick(): Promise<void> {
    if (this.running) return;
    this.running = this.runOnce();
    try {
      await this.running;
    } catch (e) {
      const err = toMtlsError(e);
      this.options.logger.warn(
        { err: { code: err.code, message: err.message }, event: 'audit_retention_failed' },
        'audit retention: deleting old audit records failed; the next pass tries again',
      );
    } finally {
      this.running = null;
    }
  }

  /**
   * Deletes every record older than the retention, chunk by chunk, yielding
   * to the event loop between chunks. Logs what went when anything did.
   */
  async runOnce(): Promise<AuditPruneResult> {
    const before = new Date(this.now() - this.options.retentionDays * DAY_MS).toISOString();
    const deleted = await pruneAuditBefore(this.options.registry, before, () => this.stopped);
    if (deleted > 0) {
      this.options.logger.info(
        { event: 'audit_retention', deleted, before, retentionDays: this.options.retentionDays },
        `audit retention: deleted ${deleted} audit record(s) older than ${before}`,
      );
    }
    this.options.onPass?.({ before, deleted }, this.now());
    return { before, deleted };
  }
}

/**
 * The instance's audit chores, for the one process that owns them (the single
 * gateway process, or the primary with workers): the audit-trail metrics,
 * registered on `registers`, and the retention when `retentionDays` is set
 * (returned, not started; its passes feed the metrics).
 */
export function auditTrailChores(o: {
  registry: Pick<Registry, 'pruneAudit' | 'auditOldest'>;
  retentionDays: number | null;
  logger: Logger;
  registers: PromRegistry[];
}): AuditRetention | null {
  const metrics = new AuditTrailMetrics(
    o.registers,
    () => o.registry.auditOldest(),
    o.retentionDays,
  );
  return o.retentionDays === null
    ? null
    : new AuditRetention({
        registry: o.registry,
        retentionDays: o.retentionDays,
        logger: o.logger,
        onPass: (r, at) => metrics.retentionPass(r.deleted, at),
      });
}
