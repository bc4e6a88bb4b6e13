/**
 * Input validation shared by every registry implementation, so that SQLite and
 * PostgreSQL accept and refuse exactly the same values.
 */
import { MtlsError } from '../../errors/index.js';
import { parseCrlUrl } from '../crl-fetch.js';
import {
  AUDIT_REASONS,
  CRL_SOURCE_INTERVAL,
  type AddCrlSourceInput,
  type AuditQuery,
  type AuditRecord,
  type AuditReason,
  type InstitutionStatus,
  type PinnedRule,
  type PutCrlInput,
  type RequestRate,
} from './types.js';

const ID_RE = /^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$/;

/**
 * Checks an institution id: a slug of 1–64 characters, lower-case letters,
 * digits, `.`, `_` and `-`, starting and ending with a letter or digit (it
 * appears in URLs, headers and audit lines unescaped).
 * @throws MTLS_BAD_ARGUMENT
 */
export function validateInstitutionId(id: unknown): string {
  if (typeof id !== 'string' || !ID_RE.test(id)) {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `institution id ${JSON.stringify(id)} is not a valid id`,
      {
        subject: 'institution id',
        hint: 'Use 1–64 lower-case letters, digits, ".", "_" or "-", starting and ending with a letter or digit, e.g. acme-bank.',
      },
    );
  }
  return id;
}

/**
 * Checks an institution display name: 1–200 characters, no control characters.
 * @throws MTLS_BAD_ARGUMENT
 */
export function validateInstitutionName(name: unknown): string {
  if (
    typeof name !== 'string' ||
    name.trim() === '' ||
    name.length > 200 ||
    // eslint-disable-next-line no-control-regex -- refusing control characters is the point
    /[\u0000-\u001f\u007f]/.test(name)
  ) {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `institution name ${JSON.stringify(name)} must be 1–200 printable characters`,
      { subject: 'name' },
    );
  }
  return name.trim();
}

/**
 * Checks an institution status.
 * @throws MTLS_BAD_ARGUMENT
 */
export function validateStatus(status: unknown): InstitutionStatus {
  if (status !== 'active' && status !== 'suspended') {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `status ${JSON.stringify(status)} is not one of active, suspended`,
      { subject: 'status' },
    );
  }
  return status;
}

/** The largest request rate and burst accepted (an institution's, and the gateway's `limits`). */
export const MAX_REQUEST_RATE = 1_000_000;

/** A value as an error names it: numbers as JavaScript prints them (NaN, Infinity), the rest as JSON. */
const shown = (v: unknown): string => (typeof v === 'number' ? String(v) : JSON.stringify(v));

/** The burst of a rate given without one: the rate itself, rounded up, at least 1. */
export function defaultBurst(requestsPerSecond: number): number {
  return Math.max(1, Math.ceil(requestsPerSecond));
}

/**
 * Checks a request rate and fills in its burst ({@link defaultBurst}).
 * @throws MTLS_BAD_ARGUMENT naming `requestsPerSecond` or `burst`
 */
export function validateRequestRate(rate: {
  requestsPerSecond: unknown;
  burst?: unknown;
}): RequestRate {
  const { requestsPerSecond: perSecond, burst } = rate;
  if (
    typeof perSecond !== 'number' ||
    !Number.isFinite(perSecond) ||
    perSecond <= 0 ||
    perSecond > MAX_REQUEST_RATE
  ) {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `requestsPerSecond ${shown(perSecond)} is not a number of requests per second above 0 and at most ${MAX_REQUEST_RATE}`,
      { subject: 'requestsPerSecond', hint: 'Give e.g. 100, or 0.5 for one request every 2 s.' },
    );
  }
  if (burst === undefined || burst === null) {
    return { requestsPerSecond: perSecond, burst: defaultBurst(perSecond) };
  }
  if (
    typeof burst !== 'number' ||
    !Number.isInteger(burst) ||
    burst < 1 ||
    burst > MAX_REQUEST_RATE
  ) {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `burst ${shown(burst)} is not a whole number of requests from 1 to ${MAX_REQUEST_RATE}`,
      {
        subject: 'burst',
        hint: 'Give the requests an idle institution may send at once, e.g. 200; leave it out for the rate itself.',
      },
    );
  }
  return { requestsPerSecond: perSecond, burst };
}

/**
 * Normalises a SHA-256 fingerprint to 64 lower-case hex digits without
 * separators (`AB:CD:…` and `abcd…` are both accepted).
 * @throws MTLS_BAD_ARGUMENT
 */
export function normaliseFingerprint(value: unknown, field = 'fingerprint'): string {
  const hex = typeof value === 'string' ? value.trim().replace(/[:\s]/g, '').toLowerCase() : '';
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `${field} ${JSON.stringify(value)} is not a SHA-256 fingerprint (64 hex digits)`,
      {
        subject: field,
        hint: 'Print it with `openssl x509 -in cert.pem -noout -fingerprint -sha256`.',
      },
    );
  }
  return hex;
}

/** Pinned rule kinds. */
export const PINNED_RULE_KINDS: readonly PinnedRule['kind'][] = [
  'subject_cn',
  'subject_o',
  'fingerprint_sha256',
];

/**
 * Checks and normalises a pinned rule: a known kind, and a value of 1–256
 * printable characters (fingerprints normalised to lower-case hex).
 * @throws MTLS_BAD_ARGUMENT
 */
export function validatePinnedRule(rule: { kind: unknown; value: unknown }): {
  kind: PinnedRule['kind'];
  value: string;
} {
  const kind = PINNED_RULE_KINDS.find((k) => k === rule.kind);
  if (kind === undefined) {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `pinned rule kind ${JSON.stringify(rule.kind)} is not one of ${PINNED_RULE_KINDS.join(', ')}`,
      { subject: 'kind' },
    );
  }
  if (kind === 'fingerprint_sha256')
    return { kind, value: normaliseFingerprint(rule.value, 'pinned fingerprint') };
  if (
    typeof rule.value !== 'string' ||
    rule.value === '' ||
    rule.value.length > 256 ||
    // eslint-disable-next-line no-control-regex -- refusing control characters is the point
    /[\u0000-\u001f\u007f]/.test(rule.value)
  ) {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `pinned rule value ${JSON.stringify(rule.value)} must be 1–256 printable characters`,
      { subject: 'value' },
    );
  }
  return { kind, value: rule.value };
}

/**
 * Checks an ISO time and returns it in the canonical `toISOString()` form, so
 * stored times compare correctly as text.
 * @throws MTLS_BAD_ARGUMENT
 */
export function canonicalTime(value: unknown, field: string): string {
  const d = typeof value === 'string' || value instanceof Date ? new Date(value) : new Date(NaN);
  if (Number.isNaN(d.getTime())) {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `${field} ${JSON.stringify(value)} is not a valid time`,
      { subject: field, hint: 'Use an ISO 8601 time such as 2025-01-31T12:00:00Z.' },
    );
  }
  return d.toISOString();
}

/**
 * Checks an audit reason code against the closed set.
 * @throws MTLS_BAD_ARGUMENT
 */
export function validateAuditReason(reason: unknown): AuditReason {
  const known = AUDIT_REASONS.find((r) => r === reason);
  if (known === undefined) {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `audit reason ${JSON.stringify(reason)} is not one of ${AUDIT_REASONS.join(', ')}`,
      { subject: 'reason' },
    );
  }
  return known;
}

/** The closed sets of the audit columns besides the reason ({@link AUDIT_REASONS}). */
export const AUDIT_KINDS: readonly AuditRecord['kind'][] = ['connection', 'request'];
export const AUDIT_OUTCOMES: readonly AuditRecord['outcome'][] = ['accepted', 'rejected'];

/**
 * Checks one audit record before it is stored (time canonicalised, closed
 * sets enforced).
 * @throws MTLS_BAD_ARGUMENT
 */
export function validateAuditRecord(r: AuditRecord): AuditRecord {
  // Records also arrive from JavaScript callers and worker messages: the
  // closed sets are checked at run time, whatever the type says.
  if (!AUDIT_KINDS.some((k) => k === r.kind)) {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `audit kind ${JSON.stringify(r.kind)} is not connection or request`,
      { subject: 'kind' },
    );
  }
  if (!AUDIT_OUTCOMES.some((o) => o === r.outcome)) {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `audit outcome ${JSON.stringify(r.outcome)} is not accepted or rejected`,
      { subject: 'outcome' },
    );
  }
  if (typeof r.ip !== 'string' || r.ip === '')
    throw new MtlsError('MTLS_BAD_ARGUMENT', 'audit record has no ip', { subject: 'ip' });
  const out = {
    ...r,
    time: canonicalTime(r.time, 'audit time'),
    reason: validateAuditReason(r.reason),
  };
  if (r.requestId !== undefined && r.requestId !== null)
    out.requestId = validateRequestId(r.requestId);
  return out;
}

/** A request id as the gateway makes them: an RFC 9562 UUID, hex digits in lower case. */
const REQUEST_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Checks a request id (see `AuditRecord.requestId`) and returns it in lower
 * case, the form the gateway stores: one pasted from a log or a ticket in
 * upper case still finds its record.
 * @param subject - the field or option it came in, for the message (`requestId`, `--request-id`)
 * @throws MTLS_BAD_ARGUMENT when it is not a UUID
 */
export function validateRequestId(id: unknown, subject = 'requestId'): string {
  const text = typeof id === 'string' ? id.trim().toLowerCase() : '';
  if (!REQUEST_ID.test(text)) {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `${subject} ${JSON.stringify(id)} is not a gateway request id`,
      {
        subject,
        hint: 'Give the UUID the gateway answered with, in its request-id header (X-Request-Id unless renamed) or its error body, e.g. 01938f2a-6b1c-7d2e-9f3a-4b5c6d7e8f90.',
      },
    );
  }
  return text;
}

/** Default and maximum number of audit records one query returns. */
export const AUDIT_QUERY_DEFAULT_LIMIT = 100;
/** Upper bound on {@link AuditQuery.limit}. */
export const AUDIT_QUERY_MAX_LIMIT = 10_000;

/**
 * Checks an audit query: canonical `since`, known outcome and reason, limit
 * between 1 and 10,000 (default 100).
 * @throws MTLS_BAD_ARGUMENT
 */
export function validateAuditQuery(
  q: AuditQuery,
): Required<Pick<AuditQuery, 'limit'>> & AuditQuery {
  const out: Required<Pick<AuditQuery, 'limit'>> & AuditQuery = {
    limit: AUDIT_QUERY_DEFAULT_LIMIT,
  };
  if (q.since !== undefined) out.since = canonicalTime(q.since, 'since');
  if (q.until !== undefined) out.until = canonicalTime(q.until, 'until');
  if (q.institutionId !== undefined) out.institutionId = validateInstitutionId(q.institutionId);
  if (q.ip !== undefined) {
    if (typeof q.ip !== 'string' || !/^[0-9A-Fa-f:.]{2,45}$/.test(q.ip)) {
      throw new MtlsError('MTLS_BAD_ARGUMENT', `ip ${JSON.stringify(q.ip)} is not an IP address`, {
        subject: 'ip',
        hint: 'Give one address as recorded, e.g. 203.0.113.7 or 2001:db8::7.',
      });
    }
    out.ip = q.ip;
  }
  if (q.requestId !== undefined) out.requestId = validateRequestId(q.requestId);
  for (const key of ['afterId', 'offset'] as const) {
    const v = q[key];
    if (v === undefined) continue;
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new MtlsError(
        'MTLS_BAD_ARGUMENT',
        `${key} ${JSON.stringify(v)} must be a non-negative integer`,
        { subject: key },
      );
    }
    out[key] = v;
  }
  if (q.outcome !== undefined) {
    if (!AUDIT_OUTCOMES.some((o) => o === q.outcome)) {
      throw new MtlsError(
        'MTLS_BAD_ARGUMENT',
        `outcome ${JSON.stringify(q.outcome)} is not accepted or rejected`,
        { subject: 'outcome' },
      );
    }
    out.outcome = q.outcome;
  }
  if (q.reason !== undefined) out.reason = validateAuditReason(q.reason);
  if (q.limit !== undefined) {
    if (!Number.isInteger(q.limit) || q.limit < 1 || q.limit > AUDIT_QUERY_MAX_LIMIT) {
      throw new MtlsError(
        'MTLS_BAD_ARGUMENT',
        `limit ${JSON.stringify(q.limit)} must be an integer from 1 to ${AUDIT_QUERY_MAX_LIMIT}`,
        { subject: 'limit' },
      );
    }
    out.limit = q.limit;
  }
  return out;
}

/**
 * Checks the chain record handed to `addCaChain` (onboarding produced it):
 * non-empty PEM, 1–4 well-formed fingerprints without repeats.
 * @throws MTLS_BAD_ARGUMENT
 */
export function validateChainInput(chain: {
  pem: string;
  fingerprints: string[];
  subject: string;
  notAfter: string;
}): {
  pem: string;
  fingerprints: string[];
  subject: string;
  notAfter: string;
} {
  if (typeof chain.pem !== 'string' || !chain.pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new MtlsError('MTLS_BAD_ARGUMENT', 'the CA chain has no CERTIFICATE block', {
      subject: 'pem',
    });
  }
  if (/PRIVATE KEY-----/.test(chain.pem)) {
    throw new MtlsError(
      'MTLS_PRIVATE_KEY_IN_CHAIN',
      'the CA chain contains a PRIVATE KEY block; it was not stored',
      { subject: 'pem' },
    );
  }
  if (!Array.isArray(chain.fingerprints) || chain.fingerprints.length === 0) {
    throw new MtlsError('MTLS_BAD_ARGUMENT', 'the CA chain has no fingerprints', {
      subject: 'fingerprints',
    });
  }
  const fingerprints = chain.fingerprints.map((f) => normaliseFingerprint(f));
  if (new Set(fingerprints).size !== fingerprints.length) {
    throw new MtlsError('MTLS_BAD_ARGUMENT', 'the CA chain lists the same certificate twice', {
      subject: 'fingerprints',
    });
  }
  return {
    pem: chain.pem,
    fingerprints,
    subject: typeof chain.subject === 'string' ? chain.subject : '',
    notAfter: canonicalTime(chain.notAfter, 'notAfter'),
  };
}

/**
 * Checks the CRL record handed to `putCrl` (onboarding produced it): PEM
 * labelled `X509 CRL`, an issuer name, the signer's SHA-256, canonical times,
 * and the optional id of a pre-schema-2 CRL it replaces.
 * @throws MTLS_BAD_ARGUMENT
 */
export function validateCrlInput(crl: PutCrlInput): Required<PutCrlInput> {
  if (typeof crl.pem !== 'string' || !crl.pem.includes('-----BEGIN X509 CRL-----')) {
    throw new MtlsError('MTLS_BAD_ARGUMENT', 'the CRL must be PEM with the label X509 CRL', {
      subject: 'pem',
    });
  }
  if (typeof crl.issuer !== 'string' || crl.issuer === '')
    throw new MtlsError('MTLS_BAD_ARGUMENT', 'the CRL has no issuer', { subject: 'issuer' });
  const replaces = crl.replaces ?? null;
  if (replaces !== null && (!Number.isInteger(replaces) || replaces < 1)) {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `replaces ${JSON.stringify(replaces)} is not a CRL id`,
      { subject: 'replaces' },
    );
  }
  return {
    pem: crl.pem,
    issuer: crl.issuer,
    issuerFingerprint: normaliseFingerprint(crl.issuerFingerprint, 'CRL issuer fingerprint'),
    thisUpdate: canonicalTime(crl.thisUpdate, 'thisUpdate'),
    nextUpdate: crl.nextUpdate === null ? null : canonicalTime(crl.nextUpdate, 'nextUpdate'),
    replaces,
  };
}

/** Renders seconds the way `--every` takes them (90 → `90s`, 3600 → `1h`). */
function formatSeconds(n: number): string {
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
  ] as const)
    if (n % size === 0) return `${n / size}${unit}`;
  return `${n}s`;
}

/**
 * Checks a CRL distribution point: an absolute http(s) URL without
 * credentials (RFC 5280 §4.2.1.13; other schemes are not fetched), and an
 * interval from 1 minute to 7 days (default 1 hour).
 * @throws MTLS_BAD_ARGUMENT naming the field (`url` or `interval`)
 */
export function validateCrlSourceInput(input: AddCrlSourceInput): {
  url: string;
  intervalSeconds: number;
} {
  if (typeof input.url !== 'string' || input.url.length > 2048) {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      'the CRL URL must be a string of at most 2048 characters',
      { subject: 'url' },
    );
  }
  const url = parseCrlUrl(input.url.trim()).toString();
  const interval = input.intervalSeconds ?? CRL_SOURCE_INTERVAL.default;
  if (
    !Number.isInteger(interval) ||
    interval < CRL_SOURCE_INTERVAL.min ||
    interval > CRL_SOURCE_INTERVAL.max
  ) {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `CRL download interval ${typeof interval === 'number' && Number.isFinite(interval) ? formatSeconds(interval) : JSON.stringify(interval)} is out of bounds: it must be from ${formatSeconds(CRL_SOURCE_INTERVAL.min)} to ${formatSeconds(CRL_SOURCE_INTERVAL.max)}`,
      {
        subject: 'interval',
        hint: "Give --every as a duration such as 15m, 1h or 1d; download well within the CRL's validity so a missed fetch or two is harmless.",
      },
    );
  }
  return { url, intervalSeconds: interval };
}
