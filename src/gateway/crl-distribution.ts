/**
 * CRLs that reach the gateway by themselves: the registered distribution
 * points (`crl_sources`) are downloaded on their schedule by a
 * {@link CrlRefresher}, each download goes through the same checks as a
 * manual upload (`onboardCrls`: signature by one of the institution's CAs,
 * parseable, current, not older than the CRL in service) and is stored in one
 * registry write, which every gateway process picks up from the change feed
 * like any other registry change. A refused or failed download stores
 * nothing, so the last good CRL stays in service; its outcome is recorded on
 * the source for `crl url list` and counted in the metrics.
 */
import type { Logger } from 'pino';
import { MtlsError, toMtlsError } from '../errors/index.js';
import { parseCrlUrl, type FetchCrlOptions } from './crl-fetch.js';
import {
  CrlRefresher,
  fetchAndApplyCrl,
  type ApplyCrlResult,
  type CrlFetchOutcome,
  type CrlSource,
} from './crl-refresher.js';
import type { CrlFetchMetrics } from './metrics.js';
import { onboardCrls } from './onboarding.js';
import type { Registry } from './registry/types.js';

/** One download's outcome as the admin API reports it. */
export interface CrlRefreshResult {
  sourceId: number;
  institutionId: string;
  url: string;
  ok: boolean;
  /** False when the download was byte-identical to the CRL in service (nothing stored). */
  changed: boolean;
  thisUpdate: string | null;
  nextUpdate: string | null;
  /** Why the download was refused; the last good CRL stays in service. */
  error: { code: string; message: string } | null;
  at: string;
}

/** Options shared by scheduled and on-demand downloads. */
export interface CrlDownloadOptions {
  registry: Registry;
  /** Receives a line per refreshed CRL and per refused download. */
  log?: Logger;
  /** Counts downloads by outcome (the process that downloads owns it). */
  metrics?: CrlFetchMetrics;
  /** Download limits (size, time, redirects). */
  fetch?: Omit<FetchCrlOptions, 'url'>;
}

/** Validates a downloaded body like an upload and stores it (nothing when byte-identical). */
function applier(registry: Registry): (source: CrlSource, body: Buffer) => Promise<ApplyCrlResult> {
  return async (source, body) => {
    const r = await onboardCrls(registry, source.institutionId, body, {
      source: `CRL from ${source.url}`,
    });
    const first = r.validated[0];
    return {
      changed: r.unchanged < r.validated.length,
      thisUpdate: first?.thisUpdate ?? new Date().toISOString(),
      nextUpdate: first?.nextUpdate ?? null,
    };
  };
}

/** Records a download's outcome on its source and in the metrics; a failure to record is logged, never thrown. */
async function record(outcome: CrlFetchOutcome, options: CrlDownloadOptions): Promise<void> {
  const inst = outcome.source.institutionId;
  options.metrics?.fetches.inc({
    institution: inst,
    result: !outcome.ok ? 'failed' : outcome.changed ? 'stored' : 'unchanged',
  });
  try {
    await options.registry.recordCrlFetch(
      outcome.source.id,
      outcome.ok
        ? {
            ok: true,
            at: outcome.at.toISOString(),
            sha256: outcome.sha256,
            thisUpdate: outcome.thisUpdate,
            nextUpdate: outcome.nextUpdate,
          }
        : { ok: false, at: outcome.at.toISOString(), error: `${outcome.code}: ${outcome.message}` },
    );
  } catch (e) {
    const err = toMtlsError(e);
    options.log?.error(
      { err: { code: err.code, message: err.message }, institution: inst, url: outcome.source.url },
      'could not record the CRL download outcome',
    );
  }
}

function toResult(o: CrlFetchOutcome): CrlRefreshResult {
  const base = {
    sourceId: o.source.id,
    institutionId: o.source.institutionId,
    url: o.source.url,
    at: o.at.toISOString(),
  };
  return o.ok
    ? {
        ...base,
        ok: true,
        changed: o.changed,
        thisUpdate: o.thisUpdate,
        nextUpdate: o.nextUpdate,
        error: null,
      }
    : {
        ...base,
        ok: false,
        changed: false,
        thisUpdate: null,
        nextUpdate: null,
        error: { code: o.code, message: o.message },
      };
}

/**
 * Downloads an institution's distribution points now (all, or the one with
 * `url`), each checked and stored like a scheduled download.
 * @throws MTLS_NOT_FOUND when the institution has no such source
 */
export async function refreshCrlSources(
  institutionId: string,
  url: string | undefined,
  options: CrlDownloadOptions,
): Promise<CrlRefreshResult[]> {
  const all = await options.registry.listCrlSources(institutionId);
  const norm = url === undefined ? undefined : parseCrlUrl(url).toString();
  const chosen = norm === undefined ? all : all.filter((s) => s.url === norm);
  if (chosen.length === 0) {
    throw new MtlsError(
      'MTLS_NOT_FOUND',
      url === undefined
        ? `institution "${institutionId}" has no CRL URL`
        : `${url} is not a CRL URL of "${institutionId}"`,
      {
        subject: url ?? institutionId,
        hint: `List them with \`mtls gateway crl url list ${institutionId}\`; add one with \`mtls gateway crl url add ${institutionId} URL\`.`,
      },
    );
  }
  const out: CrlRefreshResult[] = [];
  for (const source of chosen) {
    const outcome = await fetchAndApplyCrl(source, {
      apply: applier(options.registry),
      ...(options.fetch ? { fetch: options.fetch } : {}),
      ...(options.log ? { log: options.log } : {}),
    });
    await record(outcome, options);
    out.push(toResult(outcome));
  }
  return out;
}

/** The scheduled downloads of one gateway instance. */
export class CrlDistribution {
  private readonly refresher: CrlRefresher;
  private unsubscribe: (() => void) | undefined;
  private syncing: Promise<void> | null = null;
  /** Re-read every institution's sources on the next pass. */
  private pendingAll = false;
  /** Institutions whose sources to re-read on the next pass. */
  private readonly pendingIds = new Set<string>();

  constructor(
    private readonly options: CrlDownloadOptions & { log: Logger; retrySeconds?: number },
  ) {
    this.refresher = new CrlRefresher({
      listSources: (institutionId) => options.registry.listCrlSources(institutionId),
      apply: applier(options.registry),
      log: options.log,
      onOutcome: (o) => void record(o, options),
      ...(options.fetch ? { fetch: options.fetch } : {}),
      ...(options.retrySeconds !== undefined ? { retrySeconds: options.retrySeconds } : {}),
    });
  }

  /** Schedules every registered source (each is fetched at once) and follows additions and removals. */
  async start(): Promise<void> {
    await this.sync(undefined);
    this.unsubscribe = this.options.registry.onChange(
      (change) => this.requestSync(change.institutionId),
      () => undefined,
    );
  }

  /**
   * Re-reads the sources of the institution a change names (all of them for
   * null). Changes arriving while a sync runs are gathered into the next
   * one, so a burst of changes does not start a sync each.
   */
  private requestSync(institutionId: string | null): void {
    if (institutionId === null) this.pendingAll = true;
    else this.pendingIds.add(institutionId);
    this.kick();
  }

  private kick(): void {
    this.syncing ??= this.drain().finally(() => {
      this.syncing = null;
      // A change that arrived after the last pass looked: run again.
      if (this.pendingAll || this.pendingIds.size > 0) this.kick();
    });
  }

  private async drain(): Promise<void> {
    // Let every change one registry poll reported join this pass.
    await Promise.resolve();
    while (this.pendingAll || this.pendingIds.size > 0) {
      const all = this.pendingAll;
      const ids = [...this.pendingIds];
      this.pendingAll = false;
      this.pendingIds.clear();
      if (all) await this.sync(undefined);
      else for (const id of ids) await this.sync(id);
    }
  }

  private async sync(institutionId: string | undefined): Promise<void> {
    try {
      await this.refresher.sync(institutionId);
    } catch (e) {
      const err = toMtlsError(e);
      this.options.log.error(
        { err: { code: err.code, message: err.message } },
        'could not read the CRL URLs; the current schedule stays',
      );
    }
  }

  /** Stops the timers and waits for downloads in flight. */
  async stop(): Promise<void> {
    this.unsubscribe?.();
    await this.refresher.stop();
  }
}
