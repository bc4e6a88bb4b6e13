/**
 * Recording issued and revoked certificates in the CA's OpenSSL database
 * (index.txt, serial, newcerts/), under the CA lock and with atomic writes, so
 * that concurrent signers never collide and a crash at any point leaves a
 * database `openssl ca` accepts.
 */
import { dirname, join } from 'node:path';
import type * as x509 from '@peculiar/x509';
import { MtlsError } from '../errors/index.js';
import { pathExists, readFileChecked, syncDir, writeFileAtomic } from '../io/index.js';
import { randomSerial } from '../pki/certificate.js';
import { formatSlash } from '../pki/names.js';
import { fromX509Name } from '../pki/x509-name.js';
import type { CaConfigResult } from './ca-config.js';
import {
  formatIndex,
  normaliseSerial,
  parseIndex,
  type IndexEntry,
  type RevocationReason,
} from './index-db.js';

/** Reads and parses the CA database. */
export async function readDatabase(config: CaConfigResult): Promise<IndexEntry[]> {
  const text = (await readFileChecked(config.database, 'CA database')).toString('utf8');
  return parseIndex(text, config.database);
}

/**
 * Writes the CA database atomically, keeping the previous one as index.txt.old
 * as OpenSSL does (a hard link, not a copy).
 * @param syncDirectory - fsync the directory (default true; recordIssued syncs once itself)
 */
export async function writeDatabase(
  config: CaConfigResult,
  entries: readonly IndexEntry[],
  syncDirectory = true,
): Promise<void> {
  await writeFileAtomic(config.database, formatIndex(entries), {
    force: true,
    keepBackupAs: `${config.database}.old`,
    syncDir: syncDirectory,
  });
}

/** A serial that is in neither the database nor newcerts/ (CSPRNG, 127 bits). */
export async function freshSerial(
  config: CaConfigResult,
  entries: readonly IndexEntry[],
): Promise<string> {
  const used = new Set(entries.map((e) => e.serial));
  for (;;) {
    const s = normaliseSerial(randomSerial());
    if (!used.has(s) && !(await pathExists(join(config.newCertsDir, `${s}.pem`)))) return s;
  }
}

/** Options for {@link recordIssued}. */
export interface RecordIssuedOptions {
  config: CaConfigResult;
  certificate: x509.X509Certificate;
  pem: string;
}

/**
 * Records a freshly signed certificate: newcerts/SERIAL.pem first, then the
 * index.txt line, then `serial` (next value). Must run under the CA lock.
 * A crash between steps leaves at worst an unreferenced newcerts file.
 * @throws MTLS_CONFLICT when `unique_subject = yes` and a valid certificate has the subject
 */
export async function recordIssued(
  options: RecordIssuedOptions,
  entries: IndexEntry[],
): Promise<IndexEntry> {
  const { config, certificate, pem } = options;
  const serial = normaliseSerial(certificate.serialNumber);
  const subject = formatSlash(fromX509Name(certificate.subjectName));
  if (config.uniqueSubject) {
    const clash = entries.find((e) => e.status === 'V' && e.subject === subject);
    if (clash) {
      throw new MtlsError(
        'MTLS_CONFLICT',
        `a valid certificate with subject ${subject} exists (serial ${clash.serial}) and unique_subject = yes`,
        {
          subject,
          hint: `Revoke serial ${clash.serial} first, or set unique_subject = no in ${config.database}.attr.`,
        },
      );
    }
  }
  // Each file is fsynced before it is renamed into place, so every step is
  // atomic. The certificate is durable before the index names it; index and
  // serial share one directory fsync at the end.
  await writeFileAtomic(join(config.newCertsDir, `${serial}.pem`), pem, { mode: 0o644 });
  const entry: IndexEntry = {
    status: 'V',
    expiry: certificate.notAfter,
    revokedAt: null,
    reason: null,
    serial,
    file: 'unknown',
    subject,
  };
  await writeDatabase(config, [...entries, entry], false);
  await writeFileAtomic(config.serialFile, `${nextSerial(serial)}\n`, {
    force: true,
    syncDir: false,
  });
  for (const d of new Set([dirname(config.database), dirname(config.serialFile)])) await syncDir(d);
  return entry;
}

/** serial + 1 in OpenSSL's even-length upper-case hex. */
export function nextSerial(serial: string): string {
  return normaliseSerial((BigInt(`0x${serial}`) + 1n).toString(16));
}

/** Options for {@link markRevoked}. */
export interface MarkRevokedOptions {
  serial: string;
  reason?: RevocationReason;
  at?: Date;
}

/**
 * Marks a certificate revoked in the database (status R, revocation date and
 * reason), as `openssl ca -revoke` does. Must run under the CA lock.
 * @throws MTLS_NOT_FOUND when the serial is not in the database
 * @throws MTLS_ALREADY_REVOKED when it already is
 */
export async function markRevoked(
  config: CaConfigResult,
  options: MarkRevokedOptions,
): Promise<IndexEntry> {
  const entries = await readDatabase(config);
  const serial = normaliseSerial(options.serial);
  const i = entries.findIndex((e) => e.serial === serial);
  const e = entries[i];
  if (!e)
    throw new MtlsError('MTLS_NOT_FOUND', `serial ${serial} is not in ${config.database}`, {
      subject: serial,
    });
  if (e.status === 'R') {
    throw new MtlsError(
      'MTLS_ALREADY_REVOKED',
      `serial ${serial} (${e.subject}) was already revoked on ${e.revokedAt?.toISOString()}`,
      { subject: serial },
    );
  }
  const updated: IndexEntry = {
    ...e,
    status: 'R',
    revokedAt: options.at ?? new Date(Math.floor(Date.now() / 1000) * 1000),
    reason: options.reason ?? 'unspecified',
  };
  entries[i] = updated;
  await writeDatabase(config, entries);
  return updated;
}
