/**
 * The registry's heartbeat: its version, asked for once a second.
 *
 * The change feed only speaks when something happens: a change, or an error.
 * A link that neither answers nor fails (a network partition that drops
 * packets, a database stopped mid-failover, a firewall) says nothing at all,
 * and a LISTEN connection or a poll waiting on it waits for the kernel's TCP
 * retransmission timeout, about 15 minutes on Linux. Without a question that
 * must be answered in time, the gateway would go on serving a trust snapshot
 * nobody can confirm, with suspensions and revocations made meanwhile never
 * applied, and call itself ready. So a question unanswered within
 * `timeoutMs` is a failure dated from when it was asked, and the maximum
 * staleness runs from there (trust-cache.ts).
 *
 * The answer serves a second purpose: a version ahead of the snapshot's,
 * still ahead a heartbeat later, is a change the feed did not announce (a
 * LISTEN connection that stopped delivering), and the cache reloads.
 *
 * One question at a time: the next is asked a period after the last one
 * settles, so a hung link holds one query, not one per second.
 */
import { MtlsError, toMtlsError } from '../errors/index.js';

/** Options for {@link startRegistryHeartbeat}. */
export interface RegistryHeartbeatOptions {
  /** Reads the registry's version (`Registry.version`). */
  version: () => Promise<number>;
  /** Time between the end of one question and the next. */
  intervalMs: number;
  /** Time an answer may take before the link counts as failed. */
  timeoutMs: number;
  /** The registry answered. */
  onAnswer: (version: number) => void;
  /** The registry failed to answer: an error, or no answer in time (then `since` is when it was asked). */
  onFailure: (error: MtlsError, since: number) => void;
}

/** Starts the heartbeat; returns its stop function. */
export function startRegistryHeartbeat(options: RegistryHeartbeatOptions): () => void {
  let stopped = false;
  let next: NodeJS.Timeout | undefined;
  const ask = (): void => {
    if (stopped) return;
    const since = Date.now();
    let settled = false;
    const hung = setTimeout(() => {
      if (settled || stopped) return;
      options.onFailure(
        new MtlsError(
          'MTLS_NETWORK',
          `the registry did not answer within ${options.timeoutMs} ms (a hung connection or server)`,
          {
            hint: 'Check the network path to the registry and the database server; the gateway refuses connections once the registry has been unconfirmed for longer than the maximum staleness.',
          },
        ),
        since,
      );
    }, options.timeoutMs);
    hung.unref();
    options
      .version()
      .then(
        (version) => {
          if (!stopped) options.onAnswer(version);
        },
        (e: unknown) => {
          if (!stopped)
            options.onFailure(toMtlsError(e, 'MTLS_INTERNAL', 'registry check failed'), since);
        },
      )
      .finally(() => {
        settled = true;
        clearTimeout(hung);
        if (stopped) return;
        next = setTimeout(ask, options.intervalMs);
        next.unref();
      });
  };
  next = setTimeout(ask, options.intervalMs);
  next.unref();
  return () => {
    stopped = true;
    if (next) clearTimeout(next);
  };
}
