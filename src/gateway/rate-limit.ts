/**
 * Request rate limits per institution: a token bucket per institution id
 * (`limits.institutionRequestsPerSecond`, `limits.institutionRequestBurst`),
 * the algorithm of nginx's `limit_req` and Envoy's local rate limit. An
 * institution that calls from several addresses or connections shares one
 * bucket, since it is one client of the API behind the gateway; one whose
 * client runs away (a retry storm) gets 429 instead of reaching the
 * upstream, and the others keep their share.
 *
 * The buckets live in the process that serves the request: with N workers
 * an institution may get up to N times the rate, as with Envoy's limit per
 * instance. One bucket per registered institution at most, so memory is
 * bounded by the registry.
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

/** What {@link InstitutionRateLimit.take} decided. */
export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date (ms, on the limiter's clock). */
  at: number;
}

/** Token buckets by institution id. */
export class InstitutionRateLimit {
  private readonly buckets = new Map<string, Bucket>();
  private readonly now: () => number;
  private readonly perMs: number;

  constructor(private readonly options: RateLimitOptions) {
    this.now = options.now ?? ((): number => performance.now());
    this.perMs = options.perSecond / 1000;
  }

  /**
   * Takes one request's token from the institution's bucket, refilled for
   * the time since it was last touched. When it is empty, says how many whole
   * seconds until one token is back (the `Retry-After` of RFC 9110 §10.2.3,
   * at least 1).
   */
  take(institutionId: string): RateDecision {
    const now = this.now();
    const burst = this.options.burst;
    let b = this.buckets.get(institutionId);
    if (!b) {
      b = { tokens: burst, at: now };
      this.buckets.set(institutionId, b);
    } else {
      b.tokens = Math.min(burst, b.tokens + (now - b.at) * this.perMs);
      b.at = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { allowed: true };
    }
    return {
      allowed: false,
      retryAfterSeconds: Math.max(1, Math.ceil((1 - b.tokens) / this.perMs / 1000)),
    };
  }

  /** Forgets the buckets of institutions no longer registered (a registry change). */
  retain(institutionIds: ReadonlySet<string>): void {
    for (const id of this.buckets.keys()) if (!institutionIds.has(id)) this.buckets.delete(id);
  }
}
