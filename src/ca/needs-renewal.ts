/**
 * `mtls cert needs-renewal`: whether a certificate is inside its renewal
 * window, for scripts (step's convention: exit 0 when it needs renewal).
 */
import type * as x509 from '@peculiar/x509';

/** Inputs for {@link needsRenewal}. */
export interface NeedsRenewalOptions {
  certificate: x509.X509Certificate;
  /** Reference time (default now). */
  at?: Date;
  /** Renew when notAfter is this close, in milliseconds (default 30 days). */
  withinMs?: number;
  /** Or: renew when less than this fraction of the lifetime is left (0–1), as step's `--expires-in 33%`. */
  withinFraction?: number;
}

/** Result of {@link needsRenewal}. */
export interface NeedsRenewalResult {
  needsRenewal: boolean;
  expired: boolean;
  notAfter: Date;
  /** Milliseconds from `at` to notAfter (negative once expired). */
  remainingMs: number;
  /** The renewal window used, in milliseconds before notAfter. */
  windowMs: number;
}

/** Decides whether a certificate is due for renewal. Pure. */
export function needsRenewal(options: NeedsRenewalOptions): NeedsRenewalResult {
  const c = options.certificate;
  const at = options.at ?? new Date();
  const lifetime = c.notAfter.getTime() - c.notBefore.getTime();
  const windowMs =
    options.withinFraction !== undefined
      ? lifetime * options.withinFraction
      : (options.withinMs ?? 30 * 86_400_000);
  const remainingMs = c.notAfter.getTime() - at.getTime();
  return {
    needsRenewal: remainingMs <= windowMs,
    expired: remainingMs <= 0,
    notAfter: c.notAfter,
    remainingMs,
    windowMs,
  };
}
