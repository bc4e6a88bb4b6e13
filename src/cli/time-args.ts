/**
 * Time arguments shared by the lifecycle commands: `--at` (an ISO 8601
 * time) and windows such as `--within 30d` / `--expiring 12h`.
 */
import { MtlsError } from '../errors/index.js';

const UNITS: Readonly<Record<string, number>> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * Parses a duration: a whole number and a unit, s m h d w (`30d`, `12h`).
 * @throws MTLS_BAD_ARGUMENT naming the option
 */
export function parseDurationArg(value: string, option: string): number {
  const m = /^(\d{1,7})\s*([smhdw])$/i.exec(value.trim());
  if (!m) {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `${option} must be a duration such as 30d, 12h or 2w, got "${value}"`,
      { subject: option },
    );
  }
  return Number(m[1]) * (UNITS[(m[2] as string).toLowerCase()] as number);
}

/**
 * Parses a time: ISO 8601, a date or a date and time (`2027-01-31`, `2027-01-31T12:00:00Z`).
 * @throws MTLS_BAD_ARGUMENT naming the option
 */
export function parseTimeArg(value: string, option: string): Date {
  const d = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(d.getTime())) {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `${option} must be an ISO-8601 time such as 2027-01-31 or 2027-01-31T12:00:00Z, got "${value}"`,
      { subject: option },
    );
  }
  return d;
}

/**
 * Parses a whole number of days (`--warn-days 30`).
 * @throws MTLS_BAD_ARGUMENT naming the option
 */
export function parseDaysArg(value: string, option: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `${option} must be a whole number of days, got "${value}"`,
      { subject: option },
    );
  return n;
}
