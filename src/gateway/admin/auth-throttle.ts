/**
 * Failed sign-ins per client address, so the admin bearer token cannot be
 * guessed at network speed: after `maxFailures` refusals within `windowMs`,
 * the address gets 429 with Retry-After until its oldest counted failure
 * leaves the window. A correct token is refused too while the address is
 * blocked; otherwise the answer would still tell an attacker when a guess
 * was right. A success clears the address's count.
 *
 * The table is bounded: past `maxAddresses` the address with the oldest
 * latest failure is forgotten first, so a flood of source addresses costs
 * memory up to the bound and no more.
 */

/** Limits for {@link AuthThrottle}. */
export interface AuthThrottleOptions {
  /** Failures an address may have within the window before it is refused (default 10). */
  maxFailures?: number;
  /** The window in milliseconds (default 60 s). */
  windowMs?: number;
  /** Addresses remembered at most (default 10,000). */
  maxAddresses?: number;
}

/** The defaults of {@link AuthThrottleOptions}. */
export const DEFAULT_AUTH_THROTTLE: Readonly<Required<AuthThrottleOptions>> = Object.freeze({
  maxFailures: 10,
  windowMs: 60_000,
  maxAddresses: 10_000,
});

/** Counts failed authentications per address; pure apart from its table (the caller passes the time). */
export class AuthThrottle {
  private readonly limits: Required<AuthThrottleOptions>;
  /** Failure times per address, oldest first; Map order is the order of the latest failure. */
  private readonly failures = new Map<string, number[]>();

  constructor(options: AuthThrottleOptions = {}) {
    this.limits = { ...DEFAULT_AUTH_THROTTLE, ...options };
  }

  /** Seconds (rounded up) before `address` may try again; 0 when it may now. */
  retryAfterSeconds(address: string, now: number): number {
    const times = this.recent(address, now);
    if (times.length < this.limits.maxFailures) return 0;
    const oldest = times[times.length - this.limits.maxFailures] ?? now;
    return Math.max(1, Math.ceil((oldest + this.limits.windowMs - now) / 1000));
  }

  /** Records a refused authentication from `address`. */
  failed(address: string, now: number): void {
    const times = this.recent(address, now);
    times.push(now);
    // Only the last maxFailures matter to the decision.
    if (times.length > this.limits.maxFailures)
      times.splice(0, times.length - this.limits.maxFailures);
    this.failures.delete(address);
    this.failures.set(address, times);
    while (this.failures.size > this.limits.maxAddresses) {
      const first = this.failures.keys().next();
      if (first.done) break;
      this.failures.delete(first.value);
    }
  }

  /** Forgets `address`'s failures after it authenticated. */
  succeeded(address: string): void {
    this.failures.delete(address);
  }

  /** Addresses currently remembered (for tests and metrics). */
  get size(): number {
    return this.failures.size;
  }

  /** `address`'s failures still inside the window (older ones are dropped). */
  private recent(address: string, now: number): number[] {
    const times = this.failures.get(address);
    if (!times) return [];
    const from = now - this.limits.windowMs;
    const kept = times.filter((t) => t > from);
    if (kept.length === 0) this.failures.delete(address);
    else this.failures.set(address, kept);
    return kept;
  }
}
