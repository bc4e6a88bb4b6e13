/**
 * `mtls ca init`: the CA directory, its openssl.cnf, the encrypted root key
 * and the self-signed root certificate, in one call. Builds the whole CA in a
 * temporary sibling directory and renames it into place, so a failure or a
 * crash never leaves a half-made CA behind.
 */
import { promises as fs } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { randomBytes, type KeyObject } from 'node:crypto';
import { MtlsError } from '../errors/index.js';
import { syncDir, writeFileAtomic } from '../io/index.js';
import { buildCertificate, fingerprintSha256, parseCertificate } from '../pki/certificate.js';
import { signatureHashFor } from '../pki/issuance-rules.js';
import { describeKey, exportPrivateKeyPem, generateKeyPair, type KeyType } from '../pki/keys.js';
import {
  dnValues,
  findAttributeType,
  formatSlash,
  parseSubject,
  type DistinguishedName,
} from '../pki/names.js';
import { fromX509Name } from '../pki/x509-name.js';
import { BUILTIN_PROFILES, type ExtensionProfile } from '../pki/profile.js';
import { caChainPath } from './ca-chain.js';
import { withCrlDistributionPoint } from './crl-distribution.js';
import { caLayout, type CaLayout } from './layout.js';
import { renderOpenSslCnf, STRICT_MATCH_FIELDS } from './render-cnf.js';
import { errorCode, systemErrorText } from '../errors/mtls-error.js';

/** Inputs for {@link initCa}. */
export interface InitCaOptions {
  /** The CA directory; must not exist or be empty. */
  dir: string;
  /** `/C=BR/ST=SP/O=Acme/CN=Acme Root CA` or RFC 4514, or a parsed DN. */
  subject: string | DistinguishedName;
  /** Default rsa4096, as in the guide. */
  keyType?: KeyType;
  /** Root validity in days (default 7300, as in the guide). */
  days?: number;
  /** Encrypts the CA key (PBES2 AES-256-CBC, PBKDF2-HMAC-SHA256). Required unless `noPassphrase`. */
  passphrase?: string;
  /** Write the CA key unencrypted (explicit opt-out). */
  noPassphrase?: boolean;
  /** PBKDF2 iterations for the key (default 600,000). */
  iterations?: number;
  /** Default validity of issued certificates (default 375). */
  defaultDays?: number;
  /** CRL distribution point written into the signing profiles (see {@link withCrlDistributionPoint}). */
  crlUrl?: string;
  /**
   * An intermediate: the key and the certificate a parent CA signed for it,
   * and the chain (this certificate first, root last) for ca-chain.cert.pem.
   * Without it, initCa makes a key and a self-signed root.
   */
  issued?: { privateKey: KeyObject; certificatePem: string; chainPem: string };
}

/** Result of {@link initCa}. */
export interface InitCaResult {
  layout: CaLayout;
  subject: string;
  serial: string;
  notAfter: Date;
  key: string;
  keyEncrypted: boolean;
  fingerprintSha256: string;
}

/**
 * Creates a CA directory compatible with `openssl ca -config DIR/openssl.cnf`.
 * @throws MTLS_FILE_EXISTS when DIR exists and is not empty
 * @throws MTLS_PASSPHRASE_REQUIRED without a passphrase or `noPassphrase`
 * @throws MTLS_BAD_SUBJECT, MTLS_BAD_KEY_TYPE, MTLS_FILE_WRITE, MTLS_BAD_ARGUMENT (a bad `crlUrl`)
 */
export async function initCa(options: InitCaOptions): Promise<InitCaResult> {
  const dir = resolve(options.dir);
  const issuedCert = options.issued
    ? parseCertificate(options.issued.certificatePem, 'intermediate certificate')
    : undefined;
  const subject = issuedCert
    ? fromX509Name(issuedCert.subjectName)
    : typeof options.subject === 'string'
      ? parseSubject(options.subject)
      : options.subject;
  // policy_strict (the guide's, which the CA directory is set up with) makes
  // every certificate match the CA's C, ST and O; OpenSSL's `ca` refuses to
  // issue when the CA itself lacks one ("the 'policy' is misconfigured"), so
  // a CA without them could issue nothing: say so before creating it.
  const short = (field: string): string => findAttributeType(field)?.short ?? field;
  const lacking = STRICT_MATCH_FIELDS.filter((f) => dnValues(subject, f).length === 0).map(short);
  if (lacking.length > 0) {
    throw new MtlsError(
      'MTLS_BAD_SUBJECT',
      `the CA subject ${formatSlash(subject)} has no ${lacking.join(', ')}: policy_strict (the guide's policy) makes every certificate match the CA's ${STRICT_MATCH_FIELDS.map(short).join(', ')}, so this CA could issue nothing`,
      {
        subject: 'subject',
        hint: `Give the CA subject ${lacking.map((f) => `${f}=…`).join(', ')}, e.g. /C=BR/ST=SP/O=Acme/CN=Acme Root CA.`,
      },
    );
  }
  if (options.passphrase === undefined && !options.noPassphrase) {
    throw new MtlsError(
      'MTLS_PASSPHRASE_REQUIRED',
      'the CA key needs a passphrase (or an explicit choice to store it unencrypted)',
    );
  }
  if (options.passphrase !== undefined && options.passphrase.length < 4) {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      'the CA passphrase must have at least 4 characters (OpenSSL refuses shorter ones)',
      { subject: 'passphrase' },
    );
  }
  await assertEmptyOrMissing(dir);
  const profiles =
    options.crlUrl !== undefined
      ? withCrlDistributionPoint(BUILTIN_PROFILES, options.crlUrl)
      : undefined;
  const keys = options.issued ?? (await generateKeyPair(options.keyType ?? 'rsa4096'));
  const issuedPem = options.issued?.certificatePem;
  const root =
    issuedCert && issuedPem !== undefined
      ? {
          certificate: issuedCert,
          pem: issuedPem,
          serialHex: issuedCert.serialNumber.toUpperCase(),
        }
      : await buildCertificate({
          subject,
          signer: { privateKey: keys.privateKey },
          // BUILTIN_PROFILES is typed as a string record, but v3_ca is one of its fixed entries.
          profile: BUILTIN_PROFILES.v3_ca as ExtensionProfile,
          days: options.days ?? 7300,
        });
  const keyPem = exportPrivateKeyPem(
    keys.privateKey,
    options.passphrase === undefined
      ? {}
      : {
          passphrase: options.passphrase,
          ...(options.iterations ? { iterations: options.iterations } : {}),
        },
  );

  const staging = join(dirname(dir), `.${basename(dir)}.init-${randomBytes(4).toString('hex')}`);
  const final = caLayout(dir);
  const st = caLayout(staging);
  try {
    await fs.mkdir(staging, { mode: 0o755 });
    for (const d of [st.certs, st.crlDir, st.newCerts]) await fs.mkdir(d, { mode: 0o755 });
    await fs.mkdir(st.privateDir, { mode: 0o700 });
    await fs.chmod(st.privateDir, 0o700);
    await writeFileAtomic(st.caKey, keyPem, { mode: 0o400 });
    await writeFileAtomic(st.caCert, root.pem, { mode: 0o444 });
    if (options.issued)
      await writeFileAtomic(caChainPath(st.caCert), options.issued.chainPem, { mode: 0o444 });
    await writeFileAtomic(st.database, '');
    // unique_subject = no: renewing with the same subject must not fail (TXT_DB error number 2).
    await writeFileAtomic(st.databaseAttr, 'unique_subject = no\n');
    await writeFileAtomic(st.serial, '1000\n');
    await writeFileAtomic(st.crlNumber, '1000\n');
    await writeFileAtomic(
      st.config,
      // default_md follows the CA key (sha384 for P-384), so openssl ca signs as mtls does.
      renderOpenSslCnf({
        dir: final.dir,
        caSubject: subject,
        defaultDays: options.defaultDays ?? 375,
        defaultMd: signatureHashFor({ caKey: keys.privateKey }).defaultMd,
        ...(profiles ? { profiles } : {}),
      }),
    );
    await syncDir(staging);
    await fs.rmdir(dir).catch(() => undefined);
    await fs.rename(staging, dir);
    await syncDir(dirname(dir));
  } catch (e) {
    await fs.rm(staging, { recursive: true, force: true }).catch(() => undefined);
    if (e instanceof MtlsError) throw e;
    throw new MtlsError(
      'MTLS_FILE_WRITE',
      `cannot create the CA in ${dir}: ${systemErrorText(e)}`,
      { subject: dir, cause: e },
    );
  }
  return {
    layout: final,
    subject: formatSlash(subject),
    serial: root.serialHex,
    notAfter: root.certificate.notAfter,
    key: describeKey(keys.privateKey).text,
    keyEncrypted: options.passphrase !== undefined,
    fingerprintSha256: fingerprintSha256(root.certificate),
  };
}

/**
 * Checks that `dir` can become a new CA: missing (with an existing parent) or empty.
 * @throws MTLS_FILE_EXISTS, MTLS_FILE_WRITE, MTLS_FILE_READ
 */
export async function assertEmptyOrMissing(dir: string): Promise<void> {
  let entries: string[];
  try {
    entries = await fs.readdir(dir);
  } catch (e) {
    const code = errorCode(e);
    if (code === 'ENOENT') {
      try {
        await fs.access(dirname(dir));
      } catch {
        throw new MtlsError('MTLS_FILE_WRITE', `the parent directory of ${dir} does not exist`, {
          subject: dir,
          hint: 'Create the parent directory first.',
        });
      }
      return;
    }
    if (code === 'ENOTDIR') {
      // readdir says ENOTDIR both for a file at `dir` and for a file on the way to it.
      const isFile = await fs.stat(dir).then(
        (st) => st.isFile(),
        () => false,
      );
      throw new MtlsError(
        isFile ? 'MTLS_FILE_EXISTS' : 'MTLS_FILE_WRITE',
        isFile
          ? `${dir} exists and is a file`
          : `cannot create the CA in ${dir}: ${systemErrorText(e)}`,
        { subject: dir, hint: 'Choose a path whose parent is a directory.' },
      );
    }
    throw new MtlsError('MTLS_FILE_READ', `cannot read ${dir}: ${systemErrorText(e)}`, {
      subject: dir,
      cause: e,
    });
  }
  if (entries.length > 0) {
    throw new MtlsError(
      'MTLS_FILE_EXISTS',
      `${dir} already exists and is not empty; refusing to overwrite a CA`,
      {
        subject: dir,
        hint: 'Pick a new directory, or adopt the existing CA with `mtls ca adopt DIR`.',
      },
    );
  }
}
