/**
 * `mtls cert renew`: a new certificate for the same subject, subjectAltNames
 * and profile, signed by the CA and recorded beside the old one, which stays
 * valid until it expires (two certificates per credential is how a client
 * rotates without downtime) unless the caller revokes it as superseded.
 * Files follow `mtls ca issue`'s layout; the files replaced are kept as
 * NAME.OLDSERIAL.cert.pem / .pfx / .key.pem.
 */
import type { KeyObject } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type * as x509 from '@peculiar/x509';
import { MtlsError } from '../errors/index.js';
import { pathExists, readFileChecked, writeFilesAtomic } from '../io/index.js';
import { certificatePublicKey, parseCertificate } from '../pki/certificate.js';
import { createCsr } from '../pki/csr.js';
import {
  exportPrivateKeyPem,
  generateKeyPair,
  keysMatch,
  loadPrivateKey,
  type KeyType,
} from '../pki/keys.js';
import { buildPfx, parsePfx, type PfxFlavour } from '../pki/pkcs12/index.js';
import { fromX509Name } from '../pki/x509-name.js';
import { readCaChain } from './ca-chain.js';
import { readDatabase } from './ca-database.js';
import { normaliseSerial, type IndexEntry } from './index-db.js';
import { findProfile, type OpenCa } from './open-ca.js';
import { detectProfile, keyTypeOf, subjectAltNamesOf } from './renewal-profile.js';
import { revokeCertificate } from './revoke.js';
import { signCsr, type SignCsrResult } from './sign-csr.js';

/** Inputs for {@link renewCertificate}. */
export interface RenewCertificateOptions {
  ca: OpenCa;
  /** The certificate to renew: a file (PEM/DER) or a hex serial from index.txt. */
  certificatePath?: string;
  serial?: string;
  caKey: KeyObject;
  /** Keep the old key pair (default false: a new key of the same type). */
  reuseKey?: boolean;
  /** New key type (default the old key's type). */
  keyType?: KeyType;
  /** Profile name (default: detected from the old certificate's extensions). */
  profile?: string;
  /** Validity in days (default the old certificate's lifetime, as step renews). */
  days?: number;
  /**
   * Encrypts the new key at rest and protects the .pfx (the key file and the
   * .pfx of `mtls ca issue` share it). Required unless only a certificate is written.
   */
  pfxPassword?: string;
  /** Write a .pfx even when the old certificate had none. */
  pfx?: boolean;
  pfxFlavour?: PfxFlavour;
  /** Revoke the old certificate as superseded once the new one is written. */
  revokeOld?: boolean;
  /** Write the new files here instead of next to the old ones (nothing old is replaced). */
  outDir?: string;
}

/** The files of a certificate issued by `mtls ca issue`. */
export interface CertificateFiles {
  certPath: string;
  keyPath: string;
  pfxPath: string;
}

/** Result of {@link renewCertificate}. */
export interface RenewCertificateResult extends SignCsrResult {
  oldSerial: string;
  /** Files written. */
  certPath: string;
  keyPath?: string;
  pfxPath?: string;
  /** Files replaced, kept under their old serial. */
  archived: string[];
  keyReused: boolean;
  oldRevoked: boolean;
}

const CERT_SUFFIX = '.cert.pem';

/** Where `mtls ca issue` laid out the files of the certificate at `certPath`. */
function filesOf(ca: OpenCa, path: string): CertificateFiles {
  const certPath = resolve(path);
  const stem = basename(certPath).endsWith(CERT_SUFFIX)
    ? basename(certPath).slice(0, -CERT_SUFFIX.length)
    : basename(certPath).replace(/\.[^.]+$/, '');
  const dir = dirname(certPath);
  const caCerts = ca.config.certs ?? join(ca.config.dir, 'certs');
  return {
    certPath,
    // ca issue puts the key in DIR/private unless --out-dir put everything together.
    keyPath:
      dir === caCerts
        ? join(ca.config.dir, 'private', `${stem}.key.pem`)
        : join(dir, `${stem}.key.pem`),
    pfxPath: join(dir, `${stem}.pfx`),
  };
}

/** Finds the certificate's file in the CA's certs/ (by serial), else names one after its CN. */
async function locate(
  ca: OpenCa,
  serial: string,
  cert: x509.X509Certificate,
): Promise<CertificateFiles> {
  const certs = ca.config.certs ?? join(ca.config.dir, 'certs');
  const names = await fs.readdir(certs).catch((): string[] => []);
  for (const n of names.filter((f) => f.endsWith(CERT_SUFFIX))) {
    const p = join(certs, n);
    const c = await readFileChecked(p, 'certificate')
      .then((d) => parseCertificate(d, p))
      .catch(() => undefined);
    if (c && normaliseSerial(c.serialNumber) === serial && c.issuer === cert.issuer)
      return filesOf(ca, p);
  }
  const cn =
    fromX509Name(cert.subjectName)
      .filter((a) => a.type === 'CN')
      .pop()?.value ?? serial;
  return filesOf(ca, join(certs, `${cn.replace(/[^A-Za-z0-9._-]+/g, '-')}${CERT_SUFFIX}`));
}

async function loadOld(
  options: RenewCertificateOptions,
): Promise<{ cert: x509.X509Certificate; entry: IndexEntry; path?: string }> {
  const { ca } = options;
  let cert: x509.X509Certificate;
  let serial: string;
  if (options.certificatePath) {
    cert = parseCertificate(
      await readFileChecked(options.certificatePath, 'certificate'),
      options.certificatePath,
    );
    serial = normaliseSerial(cert.serialNumber);
  } else if (options.serial) {
    serial = normaliseSerial(options.serial);
    const p = join(ca.config.newCertsDir, `${serial}.pem`);
    if (!(await pathExists(p)))
      throw new MtlsError(
        'MTLS_NOT_FOUND',
        `serial ${serial} has no certificate in ${ca.config.newCertsDir}`,
        { subject: serial },
      );
    cert = parseCertificate(await readFileChecked(p, 'certificate'), p);
  } else {
    throw new MtlsError('MTLS_USAGE', 'give the certificate to renew: a file or a serial');
  }
  const entry = (await readDatabase(ca.config)).find((e) => e.serial === serial);
  if (!entry || cert.issuer !== ca.certificate.subject) {
    throw new MtlsError(
      'MTLS_NOT_FOUND',
      `${cert.subject} (serial ${serial}) was not issued by this CA (${ca.config.database} has no such serial)`,
      {
        subject: serial,
        hint: 'Use the directory of the CA that issued the certificate.',
      },
    );
  }
  if (entry.status === 'R') {
    throw new MtlsError(
      'MTLS_ALREADY_REVOKED',
      `serial ${serial} (${entry.subject}) is revoked (${entry.reason ?? 'unspecified'}); a revoked certificate is not renewed`,
      {
        subject: serial,
        hint: 'Issue a new certificate instead.',
      },
    );
  }
  return { cert, entry, ...(options.certificatePath ? { path: options.certificatePath } : {}) };
}

async function oldKey(
  files: CertificateFiles,
  password: string | undefined,
  cert: x509.X509Certificate,
): Promise<KeyObject> {
  if (password === undefined)
    throw new MtlsError(
      'MTLS_PASSPHRASE_REQUIRED',
      'reusing the key needs the password that protects the old key file or .pfx',
    );
  let key: KeyObject | undefined;
  if (await pathExists(files.keyPath))
    key = loadPrivateKey(
      await readFileChecked(files.keyPath, 'private key'),
      password,
      files.keyPath,
    );
  else if (await pathExists(files.pfxPath))
    key = parsePfx(await readFileChecked(files.pfxPath, '.pfx'), password, {
      source: files.pfxPath,
    }).privateKey;
  if (!key) {
    throw new MtlsError(
      'MTLS_FILE_NOT_FOUND',
      `reusing the key: neither ${files.keyPath} nor ${files.pfxPath} holds the old key`,
      {
        subject: files.keyPath,
        hint: 'Renew with a new key, or sign a CSR made with the old key.',
      },
    );
  }
  if (!keysMatch(key, certificatePublicKey(cert))) {
    throw new MtlsError(
      'MTLS_KEY_MISMATCH',
      `${files.keyPath} does not hold the key of ${cert.subject} (serial ${cert.serialNumber})`,
      { subject: files.keyPath },
    );
  }
  return key;
}

/**
 * Renews a certificate of this CA. Order: every input is read and checked
 * first; then the new certificate is signed and recorded; then its files are
 * written as one unit (a failure revokes the new certificate, so no valid
 * certificate exists whose key was lost); then, with `revokeOld`, the old one
 * is marked revoked (superseded) in index.txt — run `mtls ca crl` to publish.
 * @throws MTLS_NOT_FOUND, MTLS_ALREADY_REVOKED, MTLS_RENEW_PROFILE_UNKNOWN,
 *   MTLS_PASSPHRASE_REQUIRED, MTLS_KEY_MISMATCH, MTLS_FILE_NOT_FOUND, and what {@link signCsr} throws
 */
export async function renewCertificate(
  options: RenewCertificateOptions,
): Promise<RenewCertificateResult> {
  const { ca } = options;
  const old = await loadOld(options);
  const located =
    old.path && !options.outDir
      ? filesOf(ca, old.path)
      : await locate(ca, old.entry.serial, old.cert);
  const target = options.outDir
    ? filesOf(ca, join(options.outDir, basename(located.certPath)))
    : located;
  const profile = options.profile ? findProfile(ca, options.profile) : detectProfile(ca, old.cert);
  const sans = subjectAltNamesOf(old.cert);
  const writePfx = options.pfx === true || (await pathExists(located.pfxPath));
  const writeKey = !options.reuseKey || writePfx;
  // A .pfx always comes with a new key file (writeKey covers writePfx).
  const password = options.pfxPassword;
  if (writeKey && password === undefined) {
    throw new MtlsError('MTLS_PASSPHRASE_REQUIRED', 'the renewed key and .pfx need a password');
  }
  if (options.pfxPassword !== undefined && options.pfxPassword.length < 4) {
    throw new MtlsError('MTLS_BAD_ARGUMENT', 'the .pfx password must have at least 4 characters', {
      subject: 'password',
    });
  }
  const caChain = await readCaChain(ca);
  const privateKey = options.reuseKey
    ? await oldKey(located, options.pfxPassword, old.cert)
    : (await generateKeyPair(options.keyType ?? keyTypeOf(old.cert))).privateKey;
  const lifetimeDays = Math.max(
    1,
    Math.round((old.cert.notAfter.getTime() - old.cert.notBefore.getTime()) / 86_400_000),
  );
  const csr = await createCsr({ subject: fromX509Name(old.cert.subjectName), privateKey });
  const signed = await signCsr({
    ca,
    csr: csr.pem,
    csrSource: `the renewal of serial ${old.entry.serial}`,
    profile: profile.name,
    caKey: options.caKey,
    days: options.days ?? lifetimeDays,
    // The profile's own names are added by the profile; carry only the certificate's others.
    ...(sans.length
      ? {
          subjectAltNames: sans.filter(
            (g) =>
              !(profile.subjectAltName?.value ?? []).some(
                (p) => JSON.stringify(p) === JSON.stringify(g),
              ),
          ),
        }
      : {}),
  });
  const archive = (p: string): string =>
    p.replace(/(\.cert\.pem|\.key\.pem|\.pfx)$/, `.${old.entry.serial}$1`);
  const files: Array<{
    path: string;
    data: string | Uint8Array;
    mode: number;
    keepBackupAs?: string;
  }> = [{ path: target.certPath, data: signed.pem, mode: 0o644 }];
  if (writeKey && password !== undefined)
    files.push({
      path: target.keyPath,
      data: exportPrivateKeyPem(privateKey, { passphrase: password }),
      mode: 0o600,
    });
  if (writePfx && password !== undefined) {
    const pfx = buildPfx({
      privateKey,
      certificate: signed.pem,
      chain: caChain.certificates.map((c) => c.toString('pem')),
      password,
      flavour: options.pfxFlavour ?? 'modern',
      friendlyName: basename(target.certPath, CERT_SUFFIX),
    });
    files.push({ path: target.pfxPath, data: pfx, mode: 0o600 });
  }
  const archived: string[] = [];
  for (const f of files) {
    if (options.outDir || !(await pathExists(f.path))) continue;
    f.keepBackupAs = archive(f.path);
    archived.push(f.keepBackupAs);
  }
  try {
    await writeFilesAtomic(files, { force: !options.outDir });
  } catch (e) {
    await revokeCertificate({ ca, serial: signed.serial, reason: 'cessationOfOperation' }).catch(
      () => undefined,
    );
    throw e;
  }
  if (options.revokeOld)
    await revokeCertificate({ ca, serial: old.entry.serial, reason: 'superseded' });
  return {
    ...signed,
    oldSerial: old.entry.serial,
    certPath: target.certPath,
    ...(writeKey ? { keyPath: target.keyPath } : {}),
    ...(writePfx ? { pfxPath: target.pfxPath } : {}),
    archived,
    keyReused: options.reuseKey === true,
    oldRevoked: options.revokeOld === true,
  };
}
