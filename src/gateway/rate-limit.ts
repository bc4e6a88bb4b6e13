/**
 * Request rate limits per institution: a token bucket per institution id,
 * the algorithm of nginx's `limit_req` and Envoy's local rate limit. The
 * rate is the institution's own (`mtls gateway institution rate`, in the
 * registry) or else the gateway's `limits.institutionRequestsPerSecond` and
 * `institutionRequestBurst`, and it is given with every take, so a change in
 * the registry applies to the next request without resetting the bucket. An
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
import type { RequestRate } from './registry/types.js';
import { defaultBurst } from './registry/validate.js';

/** Options for {@link InstitutionRateLimit}. */
export interface RateLimitOptions {
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
  /** Takes one request's token from the institution's bucket, which holds `rate`. */
  take(institutionId: string, rate: RequestRate): RateDecision | Promise<RateDecision>;
}

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date (ms, on the limiter's clock). */
  at: number;
  /** The rate it was last taken under (for the sweep). */
  rate: RequestRate;
}

/** Buckets untouched for long enough are full again, the same as absent: dropped every this many takes. */
const SWEEP_EVERY = 4096;

/** Token buckets by institution id. */
export class InstitutionRateLimit implements RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly now: () => number;
  private takes = 0;

  constructor(options: RateLimitOptions = {}) {
    this.now = options.now ?? ((): number => performance.now());
  }

  /**
   * Takes one request's token from the institution's bucket. When it is
   * empty, says how many whole seconds until one token is back (the
   * `Retry-After` of RFC 9110 §10.2.3, at least 1).
   */
  take(institutionId: string, rate: RequestRate): RateDecision {
    const g = this.takeUpTo(institutionId, 1, rate);
    return g.granted === 1
      ? { allowed: true }
      : { allowed: false, retryAfterSeconds: g.retryAfterSeconds };
  }

  /**
   * Takes up to `n` tokens from the institution's bucket, refilled at `rate`
   * for the time since it was last touched (a worker's lease). A bucket
   * whose rate changed keeps its tokens, up to the new burst.
   */
  takeUpTo(institutionId: string, n: number, rate: RequestRate): RateGrant {
    const now = this.now();
    const perMs = rate.requestsPerSecond / 1000;
    if (++this.takes % SWEEP_EVERY === 0) this.sweep(now);
    let b = this.buckets.get(institutionId);
    if (!b) {
      b = { tokens: rate.burst, at: now, rate };
      this.buckets.set(institutionId, b);
    } else {
      b.tokens = Math.min(rate.burst, b.tokens + (now - b.at) * perMs);
      b.at = now;
      b.rate = rate;
    }
    const granted = Math.min(Math.max(0, Math.floor(n)), Math.floor(b.tokens));
    if (granted > 0) {
      b.tokens -= granted;
      return { granted, retryAfterSeconds: 0, retryAfterMs: 0 };
    }
    const retryAfterMs = (1 - b.tokens) / perMs;
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
      if (b.tokens + ((now - b.at) * b.rate.requestsPerSecond) / 1000 >= b.rate.burst)
        this.buckets.delete(id);
  }
}

/** Options for {@link LeasedRateLimit}. */
export interface LeasedRateLimitOptions {
  /** Asks the holder of the buckets (the primary) for up to `n` tokens of an institution's bucket of `rate`. */
  lease: (institutionId: string, n: number, rate: RequestRate) => Promise<RateGrant>;
  /** How many workers share the instance (a lease's size depends on it: {@link leaseBatch}). */
  workers: number;
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

  take(institutionId: string, rate: RequestRate): RateDecision | Promise<RateDecision> {
    return this.fromLease(institutionId) ?? this.renew(institutionId, rate);
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

  private async renew(institutionId: string, rate: RequestRate): Promise<RateDecision> {
    for (;;) {
      const inFlight = this.pending.get(institutionId);
      if (!inFlight) break;
      await inFlight;
      const decided = this.fromLease(institutionId);
      if (decided) return decided;
    }
    const batch = leaseBatch(rate, this.options.workers);
    const asked = this.options.lease(institutionId, batch, rate).then((g) => {
      this.leases.set(institutionId, {
        tokens: g.granted,
        until: this.now() + (g.granted > 0 ? this.ttlMs : Math.min(this.ttlMs, g.retryAfterMs)),
        retryAfterSeconds: g.granted > 0 ? 0 : g.retryAfterSeconds,
      });
    });
    const done = asked.finally(() => this.pending.delete(institutionId));
    this.pending.set(institutionId, done);
    await done;
    return this.fromLease(institutionId) ?? this.renew(institutionId, rate);
  }
}

/**
 * Tokens a worker leases at a time: about a tenth of a second of the rate,
 * and never more than a share of the burst, so that the workers' leases
 * together stay within the bucket; at least 1.
 */
export function leaseBatch(rate: RequestRate, workers: number): number {
  return Math.max(1, Math.floor(Math.min(rate.requestsPerSecond / 10, rate.burst / (2 * workers))));
}

/**
 * The gateway's request rate for institutions without their own, from its
 * configuration's `limits`, or null when none is set. The burst defaults to
 * the rate, rounded up, as an institution's does.
 */
export function rateLimitOf(limits: {
  institutionRequestsPerSecond: number | null;
  institutionRequestBurst: number | null;
}): RequestRate | null {
  const perSecond = limits.institutionRequestsPerSecond;
  if (perSecond === null) return null;
  return {
    requestsPerSecond: perSecond,
    burst: limits.institutionRequestBurst ?? defaultBurst(perSecond),
  };
}
