/**
 * The `since` filter of audit queries: a duration back from now (`90s`,
 * `15m`, `1h`, `7d`, `2w`) or an ISO 8601 time, read by the shared
 * time-text parser.
 */
import { parseSinceText } from '../../pki/time-text.js';

/**
 * Turns a `since` value (or another time given the same way, such as the
 * `before` of an audit prune) into an ISO time.
 * @param now - reference time (default now)
 * @param what - the field or option, for the message (default `since`)
 * @throws MTLS_BAD_ARGUMENT for anything else
 */
export function parseSince(value: string, now: Date = new Date(), what = 'since'): string {
  return parseSinceText(value, what, now).toISOString();
}
