/**
 * Request rate limits per institution: a token bucket per institution id
 * (`limits.institutionRequestsPerSecond`, `limits.institutionRequestBurst`),
 * the algorithm of nginx's `limit_req` and Envoy's local rate limit. An
 * institution that calls from several addresses or connections shares one
 * bucket, since it is one client of the API behind the gateway; one whose
 * client runs away (a retry storm) gets 429 instead of reaching the
 * upstream, and the others keep their share.
 *
 * The limit is per instance. A single process holds the buckets
 * ({@link InstitutionRateLimit}). With workers the primary holds them and
 * each worker leases tokens in small batches ({@link LeasedRateLimit}), so
 * a request costs an IPC round trip only when its worker's batch is used
 * up, and the instance as a whole stays within the rate however the kernel
 * spreads an institution's connections over the workers.
 */

/** Options for {@link InstitutionRateLimit}. */
export interface RateLimitOptions {
  /** Sustained requests per second per institution. */
  perSecond: number;
  /** Requests an idle institution may send at once (the bucket's size). */
  burst: number;
  /** A monotonic clock in ms (default `performance.now`; tests move it). */
  now?: () => number;
}

/** What a limiter decided for one request. */
export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/** What {@link InstitutionRateLimit.takeUpTo} granted. */
export interface RateGrant {
  /** Tokens taken, 0…n. */
  granted: number;
  /** When none was granted: whole seconds until one is back (at least 1); else 0. */
  retryAfterSeconds: number;
  /** When none was granted: milliseconds until one is back; else 0. */
  retryAfterMs: number;
}

/** A limiter as the request handler uses it: synchronous while a decision is at hand. */
export interface RateLimiter {
  take(institutionId: string): RateDecision | Promise<RateDecision>;
}

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date (ms, on the limiter's clock). */
  at: number;
}

/** Buckets untouched for long enough are full again, the same as absent: dropped every this many takes. */
const SWEEP_EVERY = 4096;

/** Token buckets by institution id. */
export class InstitutionRateLimit implements RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly now: () => number;
  private readonly perMs: number;
  private takes = 0;

  constructor(private readonly options: RateLimitOptions) {
    this.now = options.now ?? ((): number => performance.now());
    this.perMs = options.perSecond / 1000;
  }

  /**
   * Takes one request's token from the institution's bucket. When it is
   * empty, says how many whole seconds until one token is back (the
   * `Retry-After` of RFC 9110 §10.2.3, at least 1).
   */
  take(institutionId: string): RateDecision {
    const g = this.takeUpTo(institutionId, 1);
    return g.granted === 1
      ? { allowed: true }
      : { allowed: false, retryAfterSeconds: g.retryAfterSeconds };
  }

  /**
   * Takes up to `n` tokens from the institution's bucket, refilled for the
   * time since it was last touched (a worker's lease).
   */
  takeUpTo(institutionId: string, n: number): RateGrant {
    const now = this.now();
    const burst = this.options.burst;
    if (++this.takes % SWEEP_EVERY === 0) this.sweep(now);
    let b = this.buckets.get(institutionId);
    if (!b) {
      b = { tokens: burst, at: now };
      this.buckets.set(institutionId, b);
    } else {
      b.tokens = Math.min(burst, b.tokens + (now - b.at) * this.perMs);
      b.at = now;
    }
    const granted = Math.min(Math.max(0, Math.floor(n)), Math.floor(b.tokens));
    if (granted > 0) {
      b.tokens -= granted;
      return { granted, retryAfterSeconds: 0, retryAfterMs: 0 };
    }
    const retryAfterMs = (1 - b.tokens) / this.perMs;
    return {
      granted: 0,
      retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)),
      retryAfterMs,
    };
  }

  /** Institutions with a bucket (those that called recently). */
  get size(): number {
    return this.buckets.size;
  }

  /** Drops the buckets that have refilled completely: a new one starts full, which is the same. */
  private sweep(now: number): void {
    for (const [id, b] of this.buckets)
      if (b.tokens + (now - b.at) * this.perMs >= this.options.burst) this.buckets.delete(id);
  }
}

/** Options for {@link LeasedRateLimit}. */
export interface LeasedRateLimitOptions {
  /** Asks the holder of the buckets (the primary) for up to `n` tokens of an institution. */
  lease: (institutionId: string, n: number) => Promise<RateGrant>;
  /** Tokens asked for at a time. */
  batch: number;
  /**
   * How long leased tokens stay usable, in ms (default 1000): a worker that
   * stops receiving an institution's requests does not hold its tokens for
   * long. A refusal is repeated without asking again until the primary's
   * next token is due, at most this long.
   */
  ttlMs?: number;
  /** A monotonic clock in ms (default `performance.now`). */
  now?: () => number;
}

interface Lease {
  tokens: number;
  /** Until when the tokens, or the refusal, hold. */
  until: number;
  /** Seconds to wait after a refusal; 0 while tokens are held. */
  retryAfterSeconds: number;
}

/**
 * A worker's view of the primary's buckets: tokens leased a batch at a
 * time. Requests of one institution that arrive while a lease is being
 * asked for wait for that one answer rather than ask again.
 */
export class LeasedRateLimit implements RateLimiter {
  private readonly leases = new Map<string, Lease>();
  private readonly pending = new Map<string, Promise<void>>();
  private readonly now: () => number;
  private readonly ttlMs: number;

  constructor(private readonly options: LeasedRateLimitOptions) {
    this.now = options.now ?? ((): number => performance.now());
    this.ttlMs = options.ttlMs ?? 1_000;
  }

  take(institutionId: string): RateDecision | Promise<RateDecision> {
    return this.fromLease(institutionId) ?? this.renew(institutionId);
  }

  /** The decision the current lease gives, or null when a new lease is needed. */
  private fromLease(institutionId: string): RateDecision | null {
    const lease = this.leases.get(institutionId);
    if (!lease || this.now() > lease.until) return null;
    if (lease.tokens >= 1) {
      lease.tokens -= 1;
      return { allowed: true };
    }
    return lease.retryAfterSeconds > 0
      ? { allowed: false, retryAfterSeconds: lease.retryAfterSeconds }
      : null;
  }

  private async renew(institutionId: string): Promise<RateDecision> {
    for (;;) {
      const inFlight = this.pending.get(institutionId);
      if (!inFlight) break;
      await inFlight;
      const decided = this.fromLease(institutionId);
      if (decided) return decided;
    }
    const asked = this.options.lease(institutionId, this.options.batch).then((g) => {
      this.leases.set(institutionId, {
        tokens: g.granted,
        until: this.now() + (g.granted > 0 ? this.ttlMs : Math.min(this.ttlMs, g.retryAfterMs)),
        retryAfterSeconds: g.granted > 0 ? 0 : g.retryAfterSeconds,
      });
    });
    const done = asked.finally(() => this.pending.delete(institutionId));
    this.pending.set(institutionId, done);
    await done;
    return this.fromLease(institutionId) ?? this.renew(institutionId);
  }
}

/**
 * Tokens a worker leases at a time: about a tenth of a second of the rate,
 * and never more than a share of the burst, so that the workers' leases
 * together stay within the bucket; at least 1.
 */
export function leaseBatch(perSecond: number, burst: number, workers: number): number {
  return Math.max(1, Math.floor(Math.min(perSecond / 10, burst / (2 * workers))));
}

/**
 * The bucket settings of a configuration's `limits`, or null when no request
 * rate is set. The burst defaults to the rate (at least 1).
 */
export function rateLimitOf(limits: {
  institutionRequestsPerSecond: number | null;
  institutionRequestBurst: number | null;
}): { perSecond: number; burst: number } | null {
  const perSecond = limits.institutionRequestsPerSecond;
  if (perSecond === null) return null;
  return { perSecond, burst: limits.institutionRequestBurst ?? Math.max(1, Math.ceil(perSecond)) };
}
