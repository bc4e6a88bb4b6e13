/**
 * `mtls ca revoke` and `mtls ca crl`: revocation in index.txt and CRL
 * generation, interchangeable with `openssl ca -revoke` / `-gencrl`.
 */
import type { KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { MtlsError } from '../errors/index.js';
import { assertCanWrite, pathExists, readFileChecked, writeFileAtomic } from '../io/index.js';
import { parseCertificate } from '../pki/certificate.js';
import { buildCrl } from '../pki/crl.js';
import { signatureHashFor } from '../pki/issuance-rules.js';
import { readDatabase, markRevoked } from './ca-database.js';
import {
  normaliseSerial,
  REVOCATION_REASONS,
  reasonCode,
  type IndexEntry,
  type RevocationReason,
} from './index-db.js';
import { withCaLock } from './lock.js';
import type { CaConfigResult } from './ca-config.js';
import { loadCaKey, type OpenCa } from './open-ca.js';

/** Inputs for {@link revokeCertificate}. */
export interface RevokeCertificateOptions {
  ca: OpenCa;
  /** Hex serial, or the certificate (PEM/DER) to revoke. */
  serial?: string;
  certificate?: string | Uint8Array;
  reason?: RevocationReason;
}

/**
 * Marks a certificate revoked in the CA database. Run `generateCrl` to publish it.
 * @throws MTLS_NOT_FOUND, MTLS_ALREADY_REVOKED, MTLS_BAD_ARGUMENT
 */
export async function revokeCertificate(options: RevokeCertificateOptions): Promise<IndexEntry> {
  let serial = options.serial;
  if (options.certificate !== undefined) {
    const cert = parseCertificate(options.certificate, 'certificate to revoke');
    if (cert.issuer !== options.ca.certificate.subject) {
      throw new MtlsError(
        'MTLS_BAD_ARGUMENT',
        `the certificate was issued by "${cert.issuer}", not by this CA ("${options.ca.certificate.subject}")`,
      );
    }
    serial = cert.serialNumber;
  }
  if (!serial) throw new MtlsError('MTLS_USAGE', 'give a serial number or a certificate to revoke');
  const reason = options.reason;
  if (reason && !REVOCATION_REASONS.some((known) => known === reason)) {
    throw new MtlsError('MTLS_BAD_ARGUMENT', `unknown revocation reason "${options.reason}"`, {
      hint: `Use one of: ${REVOCATION_REASONS.join(', ')}.`,
    });
  }
  const s = serial;
  return withCaLock(options.ca.lockPath, () =>
    markRevoked(options.ca.config, {
      serial: s,
      ...(options.reason ? { reason: options.reason } : {}),
    }),
  );
}

/** The CA's current CRL file: `crl` in openssl.cnf, else crl_dir/ca.crl.pem, else DIR/crl/ca.crl.pem. */
export function crlFilePath(config: CaConfigResult): string {
  return config.crlFile ?? join(config.crlDir ?? join(config.dir, 'crl'), 'ca.crl.pem');
}

/** Inputs for {@link generateCrl}. */
export interface GenerateCrlOptions {
  ca: OpenCa;
  caKey?: KeyObject;
  passphrase?: string;
  /** Days until nextUpdate (default the CA's default_crl_days). */
  days?: number;
  /** Also write the CRL here. */
  outPath?: string;
  /**
   * Encoding of {@link outPath} (default `pem`). `der` is what a CRL
   * distribution point URL must serve (RFC 5280 §4.2.1.13: "a single DER
   * encoded CRL"); fetchers such as OpenSSL's and Windows' read nothing else.
   */
  outFormat?: 'pem' | 'der';
  force?: boolean;
}

/** Result of {@link generateCrl}. */
export interface GenerateCrlResult {
  crlNumber: bigint;
  revoked: number;
  thisUpdate: Date;
  nextUpdate: Date;
  pem: string;
  /** The CA's `crl` file (or crl/ca.crl.pem). */
  path: string;
  outPath?: string;
  warnings: string[];
}

/**
 * Generates a CRL of every revoked certificate in the database, signed by the
 * CA, and bumps `crlnumber` (RFC 5280 §5.2.3: monotonically increasing).
 * @throws MTLS_BAD_PASSPHRASE, MTLS_CA_CORRUPT, MTLS_FILE_EXISTS
 */
export async function generateCrl(options: GenerateCrlOptions): Promise<GenerateCrlResult> {
  const { ca } = options;
  const cfg = ca.config;
  if (options.outPath) await assertCanWrite(options.outPath, options.force);
  const caKey = options.caKey ?? (await loadCaKey(ca, options.passphrase));
  const warnings: string[] = [];
  const path = crlFilePath(cfg);
  const result = await withCaLock(ca.lockPath, async () => {
    const entries = await readDatabase(cfg);
    const crlNumber = await readCrlNumber(cfg.crlNumberFile, warnings);
    const revoked = entries.filter(
      (e): e is IndexEntry & { revokedAt: Date } => e.status === 'R' && e.revokedAt !== null,
    );
    const days = options.days ?? cfg.defaultCrlDays + cfg.defaultCrlHours / 24;
    // The same digest as the CA's certificates (curve-bound for ECDSA, default_md for RSA), as openssl ca -gencrl uses.
    const { hash } = signatureHashFor({ caKey, defaultMd: cfg.defaultMd });
    const built = await buildCrl({
      signer: { privateKey: caKey, certificate: ca.certificate },
      ...(hash ? { hash } : {}),
      crlNumber,
      days,
      entries: revoked.map((e) => ({
        serial: e.serial,
        revokedAt: e.revokedAt,
        reasonCode: reasonCode(e.reason ?? 'unspecified'),
      })),
    });
    // Bump the counter before publishing: a crash in between leaves a gap, never a reused number (RFC 5280 §5.2.3).
    if (cfg.crlNumberFile)
      await writeFileAtomic(
        cfg.crlNumberFile,
        `${normaliseSerial((crlNumber + 1n).toString(16))}\n`,
        { force: true },
      );
    await writeFileAtomic(path, built.pem, { force: true });
    return { built, crlNumber, revoked: revoked.length };
  });
  if (options.outPath)
    await writeFileAtomic(
      options.outPath,
      options.outFormat === 'der' ? result.built.der : result.built.pem,
      { force: options.force ?? false },
    );
  const nextUpdate = result.built.crl.nextUpdate;
  // buildCrl always sets nextUpdate from `days`.
  if (!nextUpdate)
    throw new MtlsError('MTLS_INTERNAL', `the CRL built for ${path} has no nextUpdate`);
  return {
    crlNumber: result.crlNumber,
    revoked: result.revoked,
    thisUpdate: result.built.crl.thisUpdate,
    nextUpdate,
    pem: result.built.pem,
    path,
    ...(options.outPath ? { outPath: options.outPath } : {}),
    warnings,
  };
}

async function readCrlNumber(file: string | undefined, warnings: string[]): Promise<bigint> {
  if (!file) {
    warnings.push(
      'the CA has no crlnumber file configured; the CRL number is derived from the time (set crlnumber = $dir/crlnumber in openssl.cnf)',
    );
    return BigInt(Math.floor(Date.now() / 1000));
  }
  if (!(await pathExists(file))) {
    warnings.push(
      `${file} did not exist; started CRL numbering at 1000 (openssl ca -gencrl fails without this file)`,
    );
    return 0x1000n;
  }
  const text = (await readFileChecked(file, 'crlnumber')).toString('utf8').trim();
  if (!/^[0-9A-Fa-f]+$/.test(text))
    throw new MtlsError(
      'MTLS_CA_CORRUPT',
      `${file} does not hold a hex number ("${text.slice(0, 20)}")`,
      { subject: file },
    );
  return BigInt(`0x${text}`);
}
