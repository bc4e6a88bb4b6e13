/**
 * The `since` filter of audit queries: a duration back from now (`90s`,
 * `15m`, `1h`, `7d`, `2w`) or an ISO 8601 time.
 */
import { MtlsError } from '../../errors/index.js';

const UNITS: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * Turns a `since` value into an ISO time.
 * @param now - reference time (default now)
 * @throws MTLS_BAD_ARGUMENT for anything else
 */
export function parseSince(value: string, now: Date = new Date()): string {
  const v = value.trim();
  const m = /^(\d{1,6})\s*([smhdw])$/i.exec(v);
  const unit = UNITS[m?.[2]?.toLowerCase() ?? ''];
  if (m && unit !== undefined) return new Date(now.getTime() - Number(m[1]) * unit).toISOString();
  if (/^\d{4}-\d{2}-\d{2}/.test(v)) {
    const d = new Date(v);
    if (!Number.isNaN(d.getTime())) return d.toISOString();
  }
  throw new MtlsError(
    'MTLS_BAD_ARGUMENT',
    `since "${value}" is neither a duration nor an ISO time`,
    {
      subject: 'since',
      hint: 'Write a duration such as 30m, 1h, 7d, or a time such as 2025-01-31T12:00:00Z.',
    },
  );
}
