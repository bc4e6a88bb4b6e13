/**
 * Keeps institutions' CRLs current by fetching them from their distribution
 * points on a schedule, so a revocation reaches the gateway without anyone
 * copying a file. Every download is validated like a manual upload before it
 * replaces anything (signed by a registered CA, current, not older than the
 * CRL in service); a failed or refused download leaves the last good CRL in
 * service, and the stale-CRL policy decides what happens once that one
 * passes its nextUpdate.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { MtlsError } from '../errors/index.js';
import { fetchCrl, type FetchCrlOptions, type FetchCrlResult } from './crl-fetch.js';

/** One registered CRL distribution point. */
export interface CrlSource {
  id: number;
  institutionId: string;
  url: string;
  /** Seconds between downloads. */
  intervalSeconds: number;
}

/** What storing a downloaded CRL did. */
export interface ApplyCrlResult {
  /** False when the download was byte-identical to the CRL in service. */
  changed: boolean;
  /** thisUpdate of the CRL now in service (ISO). */
  thisUpdate: string;
  /** nextUpdate of the CRL now in service (ISO), if it has one. */
  nextUpdate: string | null;
}

/** Outcome of one scheduled download, for metrics and status. */
export type CrlFetchOutcome =
  | {
      ok: true;
      source: CrlSource;
      changed: boolean;
      thisUpdate: string;
      nextUpdate: string | null;
      sha256: string;
      at: Date;
    }
  | { ok: false; source: CrlSource; code: string; message: string; at: Date };

/** Options for {@link CrlRefresher}. */
export interface CrlRefresherOptions {
  /**
   * The registered distribution points, of every institution or of the one
   * named (read again on every {@link CrlRefresher.sync}).
   */
  listSources: (institutionId?: string) => Promise<CrlSource[]>;
  /** Validates and stores one download; throws an MtlsError to refuse it. */
  apply: (source: CrlSource, body: Buffer) => Promise<ApplyCrlResult>;
  log: Logger;
  /** Called after every download attempt. */
  onOutcome?: (outcome: CrlFetchOutcome) => void;
  /** Download limits (url is set per source). */
  fetch?: Omit<FetchCrlOptions, 'url'>;
  /** Injected for tests (default {@link fetchCrl}). */
  fetchImpl?: (options: FetchCrlOptions) => Promise<FetchCrlResult>;
  /**
   * Delay before retrying a failed download, in seconds (default 60, and
   * never more than the source's interval): a CRL server that is down for a
   * minute should not leave the gateway a whole interval behind.
   */
  retrySeconds?: number;
}

interface Scheduled {
  source: CrlSource;
  timer: NodeJS.Timeout | undefined;
  running: Promise<void> | undefined;
}

/**
 * Schedules one timer per distribution point. {@link sync} reconciles the
 * timers with the registered sources (added, removed, changed interval), so
 * the owner calls it when the registry changes.
 */
export class CrlRefresher {
  private readonly scheduled = new Map<number, Scheduled>();
  private readonly last = new Map<number, CrlFetchOutcome>();
  private stopped = false;

  constructor(private readonly options: CrlRefresherOptions) {}

  /** The last outcome per source id. */
  get outcomes(): ReadonlyMap<number, CrlFetchOutcome> {
    return this.last;
  }

  /**
   * Reads the sources and schedules them: a new source is fetched at once, a
   * removed one is dropped, one whose URL or interval changed starts over.
   * With `institutionId`, only that institution's sources are read and
   * reconciled (a registry change names the institution it touched).
   */
  async sync(institutionId?: string): Promise<void> {
    if (this.stopped) return;
    const listed = await this.options.listSources(institutionId);
    const mine = (s: CrlSource): boolean =>
      institutionId === undefined || s.institutionId === institutionId;
    const sources = listed.filter(mine);
    const seen = new Set<number>();
    for (const source of sources) {
      seen.add(source.id);
      const current = this.scheduled.get(source.id);
      if (
        current &&
        current.source.url === source.url &&
        current.source.intervalSeconds === source.intervalSeconds
      )
        continue;
      if (current?.timer) clearTimeout(current.timer);
      const entry: Scheduled = { source, timer: undefined, running: undefined };
      this.scheduled.set(source.id, entry);
      this.arm(entry, 0);
    }
    for (const [id, entry] of this.scheduled) {
      if (seen.has(id) || !mine(entry.source)) continue;
      if (entry.timer) clearTimeout(entry.timer);
      this.scheduled.delete(id);
      this.last.delete(id);
    }
  }

  /** Fetches one source now (the admin "refresh" action); resolves with its outcome. */
  async refresh(sourceId: number): Promise<CrlFetchOutcome> {
    const entry = this.scheduled.get(sourceId);
    if (!entry) {
      throw new MtlsError('MTLS_NOT_FOUND', `CRL source ${sourceId} is not registered`, {
        hint: "List the institution's CRL URLs first.",
      });
    }
    if (entry.timer) clearTimeout(entry.timer);
    await this.run(entry);
    const outcome = this.last.get(sourceId);
    if (!outcome)
      throw new MtlsError('MTLS_INTERNAL', `CRL source ${sourceId} finished without an outcome`);
    return outcome;
  }

  /** Cancels every timer and waits for downloads in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    const running: Promise<void>[] = [];
    for (const entry of this.scheduled.values()) {
      if (entry.timer) clearTimeout(entry.timer);
      if (entry.running) running.push(entry.running);
    }
    await Promise.allSettled(running);
  }

  private arm(entry: Scheduled, delaySeconds: number): void {
    if (this.stopped || this.scheduled.get(entry.source.id) !== entry) return;
    entry.timer = setTimeout(() => void this.run(entry), delaySeconds * 1000);
    entry.timer.unref();
  }

  private run(entry: Scheduled): Promise<void> {
    entry.running ??= this.download(entry).finally(() => {
      entry.running = undefined;
    });
    return entry.running;
  }

  private async download(entry: Scheduled): Promise<void> {
    const { source } = entry;
    const outcome = await fetchAndApplyCrl(source, this.options);
    this.last.set(source.id, outcome);
    this.options.onOutcome?.(outcome);
    const retry = Math.min(source.intervalSeconds, this.options.retrySeconds ?? 60);
    this.arm(entry, outcome.ok ? source.intervalSeconds : retry);
  }
}

/** What {@link fetchAndApplyCrl} needs. */
export type FetchAndApplyOptions = Pick<CrlRefresherOptions, 'apply' | 'fetch' | 'fetchImpl'> & {
  log?: Logger;
};

/**
 * Downloads one source and hands the body to `apply` (validation and
 * storage). Never throws: a failed download or a refused CRL is an outcome
 * with the error's code, logged (institution, URL, reason) as a warning.
 */
export async function fetchAndApplyCrl(
  source: CrlSource,
  options: FetchAndApplyOptions,
): Promise<CrlFetchOutcome> {
  const { log } = options;
  try {
    const fetched = await (options.fetchImpl ?? fetchCrl)({ ...options.fetch, url: source.url });
    const applied = await options.apply(source, fetched.body);
    const sha256 = createHash('sha256').update(fetched.body).digest('hex');
    if (applied.changed) {
      log?.info(
        {
          event: 'crl_refreshed',
          institution: source.institutionId,
          url: source.url,
          thisUpdate: applied.thisUpdate,
          nextUpdate: applied.nextUpdate,
        },
        'CRL refreshed',
      );
    }
    return {
      ok: true,
      source,
      changed: applied.changed,
      thisUpdate: applied.thisUpdate,
      nextUpdate: applied.nextUpdate,
      sha256,
      at: new Date(),
    };
  } catch (e) {
    const code = e instanceof MtlsError ? e.code : 'MTLS_INTERNAL';
    const message = e instanceof Error ? e.message : String(e);
    log?.warn(
      {
        event: 'crl_refresh_failed',
        institution: source.institutionId,
        url: source.url,
        code,
        ...(e instanceof MtlsError && e.details?.check ? { check: e.details.check } : {}),
      },
      `CRL refresh failed, the last good CRL stays in service: ${message}`,
    );
    return { ok: false, source, code, message, at: new Date() };
  }
}
