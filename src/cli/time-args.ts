/**
 * Time arguments of the CLI: `--at` (an ISO 8601 time), windows such as
 * `--within 30d` / `--expiring 12h`, `--since` and day counts. The parsing is
 * the library's (src/pki/time-text.ts), shared with the admin API.
 */
import { MtlsError } from '../errors/index.js';
import { parseDurationText, parseTimeText } from '../pki/time-text.js';

export { isDurationText } from '../pki/time-text.js';

/**
 * Parses a duration: a whole number and a unit, s m h d w (`30d`, `12h`).
 * @throws MTLS_BAD_ARGUMENT naming the option
 */
export function parseDurationArg(value: string, option: string): number {
  return parseDurationText(value, option);
}

/**
 * Parses a time: ISO 8601, a date or a date and time (`2027-01-31`, `2027-01-31T12:00:00Z`).
 * @throws MTLS_BAD_ARGUMENT naming the option
 */
export function parseTimeArg(value: string, option: string): Date {
  return parseTimeText(value, option);
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
