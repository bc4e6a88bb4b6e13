/**
 * `mtls ca sign`: signs a CSR under the CA's policy and records it, as
 * `openssl ca -extensions PROFILE -in CSR` would, with the guide's pitfalls
 * absorbed (value comparison, named fields in errors, no TXT_DB clashes).
 */
import type { KeyObject } from 'node:crypto';
import { MtlsError } from '../errors/index.js';
import { assertCanWrite, writeFileAtomic } from '../io/index.js';
import { buildCertificate, fingerprintSha256 } from '../pki/certificate.js';
import { parseCsr, verifyCsrSignature, type ParsedCsr } from '../pki/csr.js';
import { assertKeyStrength } from '../pki/keys.js';
import {
  assertWithinIssuerValidity,
  fitKeyUsageToKey,
  issuesServerCertificates,
  signatureHashFor,
} from '../pki/issuance-rules.js';
import { assertSubjectBounds, formatSlash } from '../pki/names.js';
import { fromX509Name } from '../pki/x509-name.js';
import type { GeneralNameSpec } from '../pki/profile.js';
import { freshSerial, readDatabase, recordIssued } from './ca-database.js';
import { withCaLock } from './lock.js';
import { findProfile, loadCaKey, type OpenCa } from './open-ca.js';
import { assertPathLength } from './path-length.js';
import { applyPolicy } from './policy.js';

/** Inputs for {@link signCsr}. */
export interface SignCsrOptions {
  ca: OpenCa;
  /** The CSR, PEM or DER. */
  csr: string | Uint8Array;
  /** Where the CSR came from, for messages. */
  csrSource?: string;
  /** Profile name or alias (default: the CA's x509_extensions, else usr_cert). */
  profile?: string;
  /** Validity in days (default the CA's default_days, 375 in the guide). */
  days?: number;
  /** The CA key, already loaded (saves a PBKDF2 run per certificate). */
  caKey?: KeyObject;
  /** Passphrase to load the CA key when `caKey` is not given. */
  passphrase?: string;
  /** Extra subjectAltNames to add. */
  subjectAltNames?: GeneralNameSpec[];
  /** Also write the certificate here (never overwritten without `force`). */
  outPath?: string;
  force?: boolean;
  notBefore?: Date;
}

/** Result of {@link signCsr}. */
export interface SignCsrResult {
  serial: string;
  subject: string;
  notBefore: Date;
  notAfter: Date;
  profile: string;
  pem: string;
  /** newcerts/SERIAL.pem */
  newCertPath: string;
  outPath?: string;
  fingerprintSha256: string;
  /** CSR subject fields the policy does not name, dropped as OpenSSL does. */
  droppedFields: string[];
  warnings: string[];
}

/**
 * Checks a CSR against the CA: signature, key strength, CA request through a
 * leaf profile. Pure; no I/O.
 * @throws MTLS_CSR_SIGNATURE, MTLS_KEY_TOO_WEAK, MTLS_KEY_UNSUPPORTED, MTLS_POLICY_CA_REQUEST
 */
export async function checkCsr(
  csr: ParsedCsr,
  profileName: string,
  profileIsCa: boolean,
  source: string,
): Promise<void> {
  assertKeyStrength(csr.publicKey, `${source} public key`);
  await verifyCsrSignature(csr, source);
  if (csr.requestsCa && !profileIsCa) {
    throw new MtlsError(
      'MTLS_POLICY_CA_REQUEST',
      `${source} asks for a CA certificate (basicConstraints CA:TRUE) but profile ${profileName} issues leaf certificates`,
      {
        subject: source,
      },
    );
  }
}

/**
 * Signs a CSR and records it in index.txt / newcerts / serial under the CA lock.
 * Before signing, the RFC 5280 issuance rules apply (src/pki/issuance-rules.ts):
 * the subject's values within their upper bounds, keyUsage fitted to the
 * subject key (each dropped bit is a warning), the signature hash fixed by the
 * CA key, a notAfter no later than the CA's (refused, never capped), and a
 * subjectAltName on server certificates (the CSR's is copied for them even
 * with copy_extensions = none, and only that extension).
 * @throws MTLS_CSR_SIGNATURE, MTLS_KEY_TOO_WEAK, MTLS_POLICY_CA_REQUEST,
 *   MTLS_POLICY_FIELD_MISMATCH, MTLS_POLICY_FIELD_MISSING, MTLS_PROFILE_UNKNOWN,
 *   MTLS_BAD_SUBJECT, MTLS_VALIDITY_BEYOND_CA, MTLS_SAN_REQUIRED,
 *   MTLS_BAD_PASSPHRASE, MTLS_FILE_EXISTS, MTLS_LOCK_TIMEOUT, MTLS_CA_CORRUPT,
 *   MTLS_PATHLEN_EXCEEDED
 */
export async function signCsr(options: SignCsrOptions): Promise<SignCsrResult> {
  const { ca } = options;
  const cfg = ca.config;
  const source = options.csrSource ?? 'CSR';
  const profileName = options.profile ?? cfg.x509Extensions ?? 'usr_cert';
  const requestedProfile = findProfile(ca, profileName);
  const profileIsCa = requestedProfile.basicConstraints?.value.ca === true;
  assertPathLength({
    signer: ca.certificate,
    profile: requestedProfile,
    signerSource: cfg.certificate,
  });
  if (options.outPath) await assertCanWrite(options.outPath, options.force);
  const csr = parseCsr(options.csr, source);
  await checkCsr(csr, requestedProfile.name, profileIsCa, source);
  const warnings: string[] = [];
  const fitted = fitKeyUsageToKey({ profile: requestedProfile, publicKey: csr.publicKey });
  const profile = fitted.profile;
  for (const d of fitted.dropped) warnings.push(`keyUsage ${d.usage} left out: ${d.reason}`);
  const { subject, dropped } = applyPolicy({
    policy: cfg.policyRules,
    caSubject: fromX509Name(ca.certificate.subjectName),
    requested: csr.subject,
    preserve: cfg.preserve,
    emailInDn: cfg.emailInDn,
    policyName: cfg.policy,
  });
  assertSubjectBounds(subject, source);
  if (dropped.length)
    warnings.push(
      `dropped subject fields the policy does not name: ${dropped.map((a) => `${a.type}=${a.value}`).join(', ')}`,
    );
  const sans: GeneralNameSpec[] = [...(options.subjectAltNames ?? [])];
  const key = (g: GeneralNameSpec): string => JSON.stringify(g);
  const fromCsr = csr.subjectAltNames.filter((g) => !sans.some((s) => key(s) === key(g)));
  const serverProfile = issuesServerCertificates(profile);
  if (fromCsr.length) {
    if (serverProfile && !profile.subjectAltName) {
      // A server certificate is useless without its names (RFC 9525 §6.3), so
      // the CSR's subjectAltName, and no other CSR extension, is copied.
      sans.push(...fromCsr);
    } else if (cfg.copyExtensions === 'none') {
      warnings.push(
        `the CSR's subjectAltName was not copied (copy_extensions = none in ${cfg.configPath}); pass it with --san`,
      );
    } else if (!profile.subjectAltName) {
      sans.push(...fromCsr);
    }
  }
  if (
    serverProfile &&
    sans.length === 0 &&
    !profile.subjectAltName?.value.some((g) => g.type !== 'emailCopy')
  ) {
    throw new MtlsError(
      'MTLS_SAN_REQUIRED',
      `${source}: profile ${profile.name} issues server certificates (extendedKeyUsage serverAuth), but neither the CSR nor --san gives a subjectAltName; clients match host names against subjectAltName only (RFC 9525 §6.3)`,
      {
        subject: 'subjectAltName',
      },
    );
  }
  const days = options.days ?? cfg.defaultDays;
  if (!Number.isInteger(days) || days <= 0)
    throw new MtlsError('MTLS_BAD_ARGUMENT', `days must be a positive whole number, got ${days}`, {
      subject: 'days',
    });
  const notBefore = options.notBefore ?? new Date(Math.floor(Date.now() / 1000) * 1000);
  const notAfter = new Date(notBefore.getTime() + days * 86_400_000);
  assertWithinIssuerValidity({ notBefore, notAfter, issuer: ca.certificate });
  const caKey = options.caKey ?? (await loadCaKey(ca, options.passphrase));
  const signature = signatureHashFor({ caKey, defaultMd: cfg.defaultMd });
  if (signature.note) warnings.push(signature.note);
  const hash = signature.hash;

  const issued = await withCaLock(ca.lockPath, async () => {
    const entries = await readDatabase(cfg);
    const serialNumber = await freshSerial(cfg, entries);
    const built = await buildCertificate({
      subject,
      publicKey: csr.publicKey,
      signer: { privateKey: caKey, certificate: ca.certificate },
      serialNumber,
      notBefore,
      notAfter,
      profile,
      ...(sans.length ? { extraSubjectAltNames: sans } : {}),
      ...(hash ? { hash } : {}),
    });
    const entry = await recordIssued(
      { config: cfg, certificate: built.certificate, pem: built.pem },
      entries,
    );
    return { built, entry };
  });
  if (options.outPath)
    await writeFileAtomic(options.outPath, issued.built.pem, {
      mode: 0o644,
      force: options.force ?? false,
    });
  const cert = issued.built.certificate;
  return {
    serial: issued.entry.serial,
    subject: formatSlash(subject),
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    profile: profile.name,
    pem: issued.built.pem,
    newCertPath: `${cfg.newCertsDir}/${issued.entry.serial}.pem`,
    ...(options.outPath ? { outPath: options.outPath } : {}),
    fingerprintSha256: fingerprintSha256(cert),
    droppedFields: dropped.map((a) => a.type),
    warnings,
  };
}
