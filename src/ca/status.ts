/**
 * `mtls ca status`: what in a CA needs action, for a person and for cron or
 * monitoring. Each finding has a kind from a closed set; the CA is healthy
 * when there is none.
 */
import type * as x509 from '@peculiar/x509';
import { pathExists, readFileChecked } from '../io/index.js';
import { crlNumberOf, findRevoked, parseCrls } from '../pki/crl.js';
import { readCaChain } from './ca-chain.js';
import { readDatabase } from './ca-database.js';
import { certificateRows, type CertificateRow } from './list.js';
import type { OpenCa } from './open-ca.js';
import { crlFilePath } from './revoke.js';
import { errorMessage } from '../errors/mtls-error.js';

/** What needs action. */
export type CaStatusFindingKind =
  /** A certificate of the CA's chain (the CA itself or, for an intermediate, an issuer above it) has expired. */
  | 'ca_expired'
  /** …expires within the CA warning window. */
  | 'ca_expiring'
  /** No CRL has ever been generated: relying parties that check revocation refuse every certificate. */
  | 'crl_missing'
  /** The CRL file cannot be parsed. */
  | 'crl_unreadable'
  /** The CRL was not signed by this CA's key. */
  | 'crl_wrong_issuer'
  /** nextUpdate has passed: relying parties that check revocation refuse every certificate (RFC 5280 §5.1.2.5). */
  | 'crl_expired'
  /** nextUpdate is within the CRL warning window. */
  | 'crl_expiring'
  /** The CRL is older than its renewal interval: the scheduled `mtls ca crl` has not run. */
  | 'crl_overdue'
  /** A certificate revoked in index.txt is not on the current CRL. */
  | 'revocation_unpublished'
  /** A certificate expired within the warning window and nothing renewed it. */
  | 'certificate_expired'
  /** A certificate expires within the warning window and nothing renewed it yet. */
  | 'certificate_expiring';

/** One thing that needs action. */
export interface CaStatusFinding {
  kind: CaStatusFindingKind;
  /** `alarm`: broken now; `warning`: breaks soon. Both need action. */
  severity: 'alarm' | 'warning';
  message: string;
  /** The certificate concerned, for certificate and revocation findings. */
  serial?: string;
  subject?: string;
}

/** Inputs for {@link caStatus}. */
export interface CaStatusOptions {
  ca: OpenCa;
  /** Reference time (default now). */
  at?: Date;
  /** Issued certificates expiring within this many days need action (default 30). */
  warnDays?: number;
  /** The CA's chain expiring within this many days needs action (default 90: a new CA means a new chain at the provider). */
  caWarnDays?: number;
  /** A CRL whose nextUpdate is this close needs action (default 7). */
  crlWarnDays?: number;
  /**
   * A CRL older than this has missed its renewal (default: half its
   * validity, nextUpdate − thisUpdate, so a daily job has days of slack).
   */
  crlMaxAgeMs?: number;
}

/** The CRL as found on disk. */
export interface CaStatusCrl {
  path: string;
  present: boolean;
  thisUpdate?: Date;
  nextUpdate?: Date;
  crlNumber?: string;
  entries?: number;
}

/** Result of {@link caStatus}. */
export interface CaStatusResult {
  /** True when nothing needs action. */
  ok: boolean;
  at: Date;
  ca: {
    subject: string;
    notAfter: Date;
    daysLeft: number;
    chain: Array<{ subject: string; notAfter: Date }>;
  };
  crl: CaStatusCrl;
  counts: { valid: number; expired: number; revoked: number; expiring: number; renewed: number };
  findings: CaStatusFinding[];
}

const DAY_MS = 86_400_000;
const days = (ms: number): number => Math.floor(ms / DAY_MS);

function chainFindings(
  chain: readonly x509.X509Certificate[],
  at: Date,
  warnMs: number,
): CaStatusFinding[] {
  const out: CaStatusFinding[] = [];
  chain.forEach((c, i) => {
    const left = c.notAfter.getTime() - at.getTime();
    const who = i === 0 ? 'the CA certificate' : `issuer ${c.subject} of the CA`;
    if (left <= 0)
      out.push({
        kind: 'ca_expired',
        severity: 'alarm',
        message: `${who} (${c.subject}) expired on ${c.notAfter.toISOString()}; nothing it issued verifies`,
      });
    else if (left <= warnMs) {
      out.push({
        kind: 'ca_expiring',
        severity: 'warning',
        message: `${who} (${c.subject}) expires on ${c.notAfter.toISOString()}, in ${days(left)} day(s); build its successor and send the new chain to the provider`,
      });
    }
  });
  return out;
}

async function readCrl(
  ca: OpenCa,
  path: string,
): Promise<{ crl?: x509.X509Crl; finding?: CaStatusFinding }> {
  if (!(await pathExists(path))) {
    return {
      finding: {
        kind: 'crl_missing',
        severity: 'alarm',
        message: `no CRL at ${path}; generate one with \`mtls ca crl\` and schedule it (see \`mtls ca status --help\`)`,
      },
    };
  }
  let crl: x509.X509Crl | undefined;
  try {
    crl = parseCrls(await readFileChecked(path, 'CRL'), path)[0];
  } catch (e) {
    return {
      finding: {
        kind: 'crl_unreadable',
        severity: 'alarm',
        message: `${path} cannot be read as a CRL (${errorMessage(e)}); regenerate it with \`mtls ca crl\``,
      },
    };
  }
  if (!crl)
    return {
      finding: {
        kind: 'crl_unreadable',
        severity: 'alarm',
        message: `${path} holds no CRL; regenerate it with \`mtls ca crl\``,
      },
    };
  const signed =
    crl.issuer === ca.certificate.subject &&
    (await crl.verify({ publicKey: ca.certificate }).catch(() => false));
  if (!signed) {
    return {
      crl,
      finding: {
        kind: 'crl_wrong_issuer',
        severity: 'alarm',
        message: `${path} was not signed by this CA (${ca.certificate.subject}); regenerate it with \`mtls ca crl\``,
      },
    };
  }
  return { crl };
}

function crlTimeFindings(
  crl: x509.X509Crl,
  path: string,
  at: Date,
  options: CaStatusOptions,
): CaStatusFinding[] {
  const out: CaStatusFinding[] = [];
  const next = crl.nextUpdate;
  const age = at.getTime() - crl.thisUpdate.getTime();
  if (next) {
    const left = next.getTime() - at.getTime();
    if (left <= 0) {
      out.push({
        kind: 'crl_expired',
        severity: 'alarm',
        message: `the CRL ${path} passed its nextUpdate on ${next.toISOString()}: relying parties that check revocation now refuse EVERY certificate of this CA; run \`mtls ca crl\` and publish it`,
      });
    } else if (left <= (options.crlWarnDays ?? 7) * DAY_MS) {
      out.push({
        kind: 'crl_expiring',
        severity: 'warning',
        message: `the CRL ${path} reaches its nextUpdate on ${next.toISOString()}, in ${days(left)} day(s) ${Math.floor((left % DAY_MS) / 3_600_000)} hour(s); run \`mtls ca crl\` and publish it`,
      });
    }
  }
  const maxAge =
    options.crlMaxAgeMs ?? (next ? (next.getTime() - crl.thisUpdate.getTime()) / 2 : undefined);
  if (maxAge !== undefined && age > maxAge && !out.some((f) => f.kind === 'crl_expired')) {
    out.push({
      kind: 'crl_overdue',
      severity: 'alarm',
      message: `the CRL ${path} was generated on ${crl.thisUpdate.toISOString()}, ${days(age)} day(s) ago, beyond its renewal interval of ${(maxAge / DAY_MS).toFixed(1)} day(s): the scheduled \`mtls ca crl\` has not run`,
    });
  }
  return out;
}

function certificateFindings(
  rows: readonly CertificateRow[],
  at: Date,
  warnMs: number,
): CaStatusFinding[] {
  const out: CaStatusFinding[] = [];
  for (const r of rows) {
    if (r.state === 'revoked' || r.renewedBy) continue;
    const left = r.notAfter.getTime() - at.getTime();
    if (left > 0 && left <= warnMs) {
      out.push({
        kind: 'certificate_expiring',
        severity: 'warning',
        serial: r.serial,
        subject: r.subject,
        message: `${r.subject} (serial ${r.serial}) expires on ${r.notAfter.toISOString()}, in ${r.daysLeft} day(s); renew it with \`mtls cert renew ${r.serial}\``,
      });
    } else if (left <= 0 && left > -warnMs) {
      out.push({
        kind: 'certificate_expired',
        severity: 'alarm',
        serial: r.serial,
        subject: r.subject,
        message: `${r.subject} (serial ${r.serial}) expired on ${r.notAfter.toISOString()} and no valid certificate replaces it; renew it with \`mtls cert renew ${r.serial}\``,
      });
    }
  }
  return out;
}

/**
 * Checks the CA's chain expiry, its CRL (present, signed by the CA, within
 * nextUpdate, renewed on schedule, listing every revocation in index.txt) and
 * the issued certificates expiring within the window that were not renewed.
 * A certificate counts as renewed when a valid certificate with the same
 * subject expires after it. Reads only; needs no key.
 * @throws MTLS_CA_CORRUPT for an unreadable index.txt or chain file
 */
export async function caStatus(options: CaStatusOptions): Promise<CaStatusResult> {
  const { ca } = options;
  const at = options.at ?? new Date();
  const warnMs = (options.warnDays ?? 30) * DAY_MS;
  const chain = (await readCaChain(ca)).certificates;
  const rows = certificateRows(await readDatabase(ca.config), at);
  const findings: CaStatusFinding[] = chainFindings(chain, at, (options.caWarnDays ?? 90) * DAY_MS);

  const path = crlFilePath(ca.config);
  const { crl, finding } = await readCrl(ca, path);
  if (finding) findings.push(finding);
  if (crl && !finding) {
    findings.push(...crlTimeFindings(crl, path, at, options));
    for (const r of rows) {
      if (r.state !== 'revoked' || findRevoked(crl, r.serial)) continue;
      findings.push({
        kind: 'revocation_unpublished',
        severity: 'alarm',
        serial: r.serial,
        subject: r.subject,
        message: `${r.subject} (serial ${r.serial}) was revoked${r.revokedAt ? ` on ${r.revokedAt.toISOString()}` : ''} but is not on the CRL ${path}; run \`mtls ca crl\` and publish it`,
      });
    }
  }
  findings.push(...certificateFindings(rows, at, warnMs));
  const number = crl ? crlNumberOf(crl) : undefined;
  return {
    ok: findings.length === 0,
    at,
    ca: {
      subject: ca.certificate.subject,
      notAfter: ca.certificate.notAfter,
      daysLeft: days(ca.certificate.notAfter.getTime() - at.getTime()),
      chain: chain.map((c) => ({ subject: c.subject, notAfter: c.notAfter })),
    },
    crl: {
      path,
      present: crl !== undefined,
      ...(crl ? { thisUpdate: crl.thisUpdate, entries: crl.entries.length } : {}),
      ...(crl?.nextUpdate ? { nextUpdate: crl.nextUpdate } : {}),
      ...(number !== undefined ? { crlNumber: number.toString(16).toUpperCase() } : {}),
    },
    counts: {
      valid: rows.filter((r) => r.state === 'valid').length,
      expired: rows.filter((r) => r.state === 'expired').length,
      revoked: rows.filter((r) => r.state === 'revoked').length,
      expiring: rows.filter(
        (r) => r.state === 'valid' && r.notAfter.getTime() - at.getTime() <= warnMs,
      ).length,
      renewed: rows.filter((r) => r.state !== 'revoked' && r.renewedBy !== undefined).length,
    },
    findings,
  };
}
