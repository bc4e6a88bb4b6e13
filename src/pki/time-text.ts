/**
 * Times and durations written as text, read the same way by every command
 * and by the admin API: a duration is a whole number and a unit (`90s`,
 * `15m`, `12h`, `30d`, `2w`); a time is ISO 8601 (`2027-01-31`,
 * `2027-01-31T12:00:00Z`).
 */
import { MtlsError } from '../errors/index.js';

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

const DURATION = /^(\d{1,7})\s*([smhdw])$/i;

function isUnit(u: string): u is keyof typeof UNIT_MS {
  return u in UNIT_MS;
}

/** True when `value` is written as a duration (`30d`), not as a time. */
export function isDurationText(value: string): boolean {
  return DURATION.test(value.trim());
}

/**
 * Reads a duration in milliseconds.
 * @param what - the option or field it came from, named in the error
 * @throws MTLS_BAD_ARGUMENT for anything but a whole number and one of s m h d w
 */
export function parseDurationText(value: string, what: string): number {
  const m = DURATION.exec(value.trim());
  const unit = m?.[2]?.toLowerCase();
  if (!m || unit === undefined || !isUnit(unit)) {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `${what} must be a duration such as 30d, 12h or 2w, got "${value}"`,
      { subject: what },
    );
  }
  return Number(m[1]) * UNIT_MS[unit];
}

/**
 * Reads an ISO 8601 time (a date alone is midnight UTC).
 * @param what - the option or field it came from, named in the error
 * @throws MTLS_BAD_ARGUMENT for anything that is not a date (and time)
 */
export function parseTimeText(value: string, what: string): Date {
  const v = value.trim();
  const d = new Date(v);
  if (!/^\d{4}-\d{2}-\d{2}/.test(v) || Number.isNaN(d.getTime())) {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `${what} must be an ISO-8601 time such as 2027-01-31 or 2027-01-31T12:00:00Z, got "${value}"`,
      { subject: what },
    );
  }
  return d;
}

/**
 * Reads "a duration back from `now`, or a time" (the `since` of audit
 * queries) as a Date.
 * @throws MTLS_BAD_ARGUMENT for anything else, naming `what`
 */
export function parseSinceText(value: string, what: string, now: Date = new Date()): Date {
  if (isDurationText(value)) return new Date(now.getTime() - parseDurationText(value, what));
  if (/^\d{4}-\d{2}-\d{2}/.test(value.trim())) {
    const d = new Date(value.trim());
    if (!Number.isNaN(d.getTime())) return d;
  }
  throw new MtlsError(
    'MTLS_BAD_ARGUMENT',
    `${what} "${value}" is neither a duration nor an ISO time`,
    {
      subject: what,
      hint: 'Write a duration such as 30m, 1h, 7d, or a time such as 2025-01-31T12:00:00Z.',
    },
  );
}
