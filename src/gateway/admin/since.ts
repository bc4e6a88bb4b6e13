/**
 * The `since` filter of audit queries: a duration back from now (`90s`,
 * `15m`, `1h`, `7d`, `2w`) or an ISO 8601 time, read by the shared
 * time-text parser.
 */
import { parseSinceText } from '../../pki/time-text.js';

/**
 * Turns a `since` value into an ISO time.
 * @param now - reference time (default now)
 * @throws MTLS_BAD_ARGUMENT for anything else
 */
export function parseSince(value: string, now: Date = new Date()): string {
  return parseSinceText(value, 'since', now).toISOString();
}
