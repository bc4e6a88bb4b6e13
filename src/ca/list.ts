/**
 * `mtls ca list`: the CA database (index.txt) as rows a person or a script
 * reads: serial, subject, state at a given time, expiry, revocation reason,
 * and which certificate renewed it.
 */
import type { IndexEntry } from './index-db.js';
import { readDatabase } from './ca-database.js';
import type { OpenCa } from './open-ca.js';

/** A certificate's state at the time asked about (not index.txt's letter, which `openssl ca -updatedb` refreshes only when run). */
export type CertificateState = 'valid' | 'expired' | 'revoked';

/** One certificate of the database. */
export interface CertificateRow {
  serial: string;
  /** OpenSSL oneline subject `/C=…/CN=…`. */
  subject: string;
  state: CertificateState;
  notAfter: Date;
  /** Whole days from the reference time to notAfter (negative once expired). */
  daysLeft: number;
  revokedAt: Date | null;
  reason: string | null;
  /**
   * The serial of a certificate with the same subject that is valid at the
   * reference time and expires later: this one has been renewed.
   */
  renewedBy?: string;
}

/** Inputs for {@link listCertificates}. */
export interface ListCertificatesOptions {
  ca: OpenCa;
  /** Reference time (default now). */
  at?: Date;
  /** Only valid certificates expiring within this many milliseconds of `at`. */
  expiringWithinMs?: number;
  /** Only revoked certificates. */
  revokedOnly?: boolean;
}

/** Result of {@link listCertificates}. */
export interface ListCertificatesResult {
  at: Date;
  certificates: CertificateRow[];
}

const DAY_MS = 86_400_000;

/**
 * Turns index.txt entries into rows at time `at`, each linked to the
 * certificate that renewed it, if any. Pure.
 */
export function certificateRows(entries: readonly IndexEntry[], at: Date): CertificateRow[] {
  const rows: CertificateRow[] = entries.map((e) => ({
    serial: e.serial,
    subject: e.subject,
    state: e.status === 'R' ? 'revoked' : e.expiry.getTime() <= at.getTime() ? 'expired' : 'valid',
    notAfter: e.expiry,
    daysLeft: Math.floor((e.expiry.getTime() - at.getTime()) / DAY_MS),
    revokedAt: e.revokedAt,
    reason: e.reason,
  }));
  for (const row of rows) {
    const successor = rows
      .filter(
        (r) =>
          r !== row &&
          r.state === 'valid' &&
          r.subject === row.subject &&
          r.notAfter.getTime() > row.notAfter.getTime(),
      )
      .sort((a, b) => b.notAfter.getTime() - a.notAfter.getTime())[0];
    if (successor) row.renewedBy = successor.serial;
  }
  return rows;
}

/**
 * Lists the CA's certificates, filtered as asked, in index.txt order.
 * @throws MTLS_CA_CORRUPT for an unreadable index.txt, MTLS_FILE_NOT_FOUND
 */
export async function listCertificates(
  options: ListCertificatesOptions,
): Promise<ListCertificatesResult> {
  const at = options.at ?? new Date();
  let rows = certificateRows(await readDatabase(options.ca.config), at);
  if (options.revokedOnly) rows = rows.filter((r) => r.state === 'revoked');
  const within = options.expiringWithinMs;
  if (within !== undefined)
    rows = rows.filter((r) => r.state === 'valid' && r.notAfter.getTime() - at.getTime() <= within);
  return { at, certificates: rows };
}
