/**
 * OpenSSL's CA database, `index.txt` (ca(1) "FILES"; crypto/txt_db): one line
 * per certificate, six tab-separated fields:
 *   status (V|R|E)  expiry  revocation[,reason]  serial (hex)  file ("unknown")  subject (/C=…/CN=…)
 * Dates are UTCTime YYMMDDHHMMSSZ, or GeneralizedTime YYYYMMDDHHMMSSZ from 2050
 * (RFC 5280 §4.1.2.5), exactly as OpenSSL writes them.
 */
import { MtlsError } from '../errors/index.js';

/** Status letter. */
export type IndexStatus = 'V' | 'R' | 'E';

/**
 * Revocation reasons `openssl ca -revoke -crl_reason` accepts and writes in
 * index.txt (apps/ca.c crl_reasons), each an RFC 5280 §5.3.1 CRLReason.
 */
export const REVOCATION_REASONS = [
  'unspecified',
  'keyCompromise',
  'CACompromise',
  'affiliationChanged',
  'superseded',
  'cessationOfOperation',
  'certificateHold',
  'removeFromCRL',
] as const;
/** A revocation reason name. */
export type RevocationReason = (typeof REVOCATION_REASONS)[number];

/**
 * Further names OpenSSL writes for `-crl_hold` / `-crl_compromise` /
 * `-crl_CA_compromise`, with a third field (an OID or a time), and the
 * CRLReason each stands for.
 */
const OPENSSL_EXTRA_REASONS: Readonly<Record<string, RevocationReason>> = {
  holdInstruction: 'certificateHold',
  keyTime: 'keyCompromise',
  CAkeyTime: 'CACompromise',
};

/** One index.txt entry. */
export interface IndexEntry {
  status: IndexStatus;
  expiry: Date;
  revokedAt: Date | null;
  /** The reason as written (an OpenSSL name: REVOCATION_REASONS, holdInstruction, keyTime, CAkeyTime). */
  reason: string | null;
  /** OpenSSL's third revocation field (hold instruction OID or compromise time), kept verbatim. */
  revocationExtra?: string | null;
  /** Upper-case hex, even length, as OpenSSL writes it. */
  serial: string;
  file: string;
  /** OpenSSL oneline subject `/C=BR/O=x/CN=y`. */
  subject: string;
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** Formats a date as index.txt does: UTCTime before 2050, GeneralizedTime after. */
export function formatIndexTime(d: Date): string {
  const y = d.getUTCFullYear();
  const rest = `${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}Z`;
  return y >= 1950 && y < 2050 ? `${pad(y % 100)}${rest}` : `${pad(y, 4)}${rest}`;
}

/** Parses an index.txt date (UTCTime or GeneralizedTime). */
export function parseIndexTime(s: string, where: string): Date {
  const m = /^(\d{2}|\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) throw new MtlsError('MTLS_CA_CORRUPT', `${where}: bad date "${s}"`, { subject: where });
  let y = Number(m[1]);
  if (m[1]?.length === 2) y += y >= 50 ? 1900 : 2000;
  return new Date(
    Date.UTC(y, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])),
  );
}

/** Normalises a serial to OpenSSL's index form: upper-case hex, even length. */
export function normaliseSerial(serial: string): string {
  const h = serial
    .replace(/[:\s]/g, '')
    .replace(/^0x/i, '')
    .toUpperCase()
    .replace(/^0+(?=.)/, '');
  if (!/^[0-9A-F]+$/.test(h))
    throw new MtlsError('MTLS_BAD_ARGUMENT', `"${serial}" is not a hex serial number`, {
      subject: 'serial',
    });
  return h.length % 2 ? `0${h}` : h;
}

/** Formats one entry as an index.txt line (without newline). */
export function formatIndexLine(e: IndexEntry): string {
  const reason =
    e.reason && e.reason !== 'unspecified'
      ? `,${e.reason}${e.revocationExtra ? `,${e.revocationExtra}` : ''}`
      : '';
  const rev = e.revokedAt ? `${formatIndexTime(e.revokedAt)}${reason}` : '';
  return [e.status, formatIndexTime(e.expiry), rev, e.serial, e.file, e.subject].join('\t');
}

/**
 * Parses index.txt.
 * @param source - path, for error messages
 * @throws MTLS_CA_CORRUPT naming the line
 */
export function parseIndex(text: string, source = 'index.txt'): IndexEntry[] {
  const out: IndexEntry[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line === '') return;
    const where = `${source}:${i + 1}`;
    const f = line.split('\t');
    if (f.length !== 6)
      throw new MtlsError(
        'MTLS_CA_CORRUPT',
        `${where}: expected 6 tab-separated fields, found ${f.length}`,
        { subject: source },
      );
    const [status = '', expiry = '', rev = '', serial = '', file = '', subject = ''] = f;
    if (status !== 'V' && status !== 'R' && status !== 'E') {
      throw new MtlsError(
        'MTLS_CA_CORRUPT',
        `${where}: unknown status "${status}" (expected V, R or E)`,
        { subject: source },
      );
    }
    let revokedAt: Date | null = null;
    let reason: string | null = null;
    let revocationExtra: string | null = null;
    if (rev) {
      const [t, r, extra] = rev.split(',');
      revokedAt = parseIndexTime(t ?? '', where);
      reason = r ?? 'unspecified';
      revocationExtra = extra ?? null;
      if (
        !REVOCATION_REASONS.some((known) => known === reason) &&
        !(reason in OPENSSL_EXTRA_REASONS)
      ) {
        throw new MtlsError('MTLS_CA_CORRUPT', `${where}: unknown revocation reason "${r}"`, {
          subject: source,
        });
      }
    } else if (status === 'R') {
      throw new MtlsError('MTLS_CA_CORRUPT', `${where}: status R without a revocation date`, {
        subject: source,
      });
    }
    if (!/^[0-9A-Fa-f]+$/.test(serial))
      throw new MtlsError('MTLS_CA_CORRUPT', `${where}: bad serial "${serial}"`, {
        subject: source,
      });
    out.push({
      status,
      expiry: parseIndexTime(expiry, where),
      revokedAt,
      reason,
      revocationExtra,
      serial: serial.toUpperCase(),
      file,
      subject,
    });
  });
  return out;
}

/** Serialises entries back to index.txt text (newline-terminated). */
export function formatIndex(entries: readonly IndexEntry[]): string {
  return entries.map((e) => `${formatIndexLine(e)}\n`).join('');
}

/**
 * The RFC 5280 §5.3.1 CRLReason code of an index.txt reason name
 * (removeFromCRL is 8: value 7 is unused).
 */
export function reasonCode(reason: string): number {
  const name = OPENSSL_EXTRA_REASONS[reason] ?? reason;
  const i = REVOCATION_REASONS.findIndex((known) => known === name);
  return i < 0 ? 0 : i === 7 ? 8 : i;
}
