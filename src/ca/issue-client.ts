/**
 * `mtls ca issue NAME`: a client key, its CSR, the signed certificate
 * and a `.pfx`, in one call.
 */
import type { KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { MtlsError } from '../errors/index.js';
import { assertCanWrite, checkOutDir, makeOutDir, writeFilesAtomic } from '../io/index.js';
import { createCsr } from '../pki/csr.js';
import { exportPrivateKeyPem, generateKeyPair, type KeyType } from '../pki/keys.js';
import { assertSubjectBounds, dnValues, type DistinguishedName } from '../pki/names.js';
import { buildPfx, type PfxFlavour } from '../pki/pkcs12/index.js';
import type { GeneralNameSpec } from '../pki/profile.js';
import { fromX509Name } from '../pki/x509-name.js';
import { readCaChain } from './ca-chain.js';
import { findProfile, type OpenCa } from './open-ca.js';
import { revokeCertificate } from './revoke.js';
import { signCsr, type SignCsrResult } from './sign-csr.js';
import { errorMessage } from '../errors/mtls-error.js';

/** Inputs for {@link issueClientCertificate}. */
export interface IssueClientOptions {
  ca: OpenCa;
  /** The client's name: the CN, and the stem of the file names. */
  name: string;
  /** Default rsa2048 (what `openssl req -newkey` and the client profiles assume). */
  keyType?: KeyType;
  /** Default `client` (keyUsage + EKU clientAuth); `usr_cert` is the guide's own. */
  profile?: string;
  days?: number;
  caKey?: KeyObject;
  caPassphrase?: string;
  /** Protects the `.pfx` and encrypts the client key at rest. */
  pfxPassword: string;
  /** `modern` (default) or `legacy` (3DES/SHA-1 for older keystores). */
  pfxFlavour?: PfxFlavour;
  /** Extra subject fields (OU, emailAddress, …); C/ST/O default to the CA's. */
  subject?: DistinguishedName;
  subjectAltNames?: GeneralNameSpec[];
  /** Output directory (default: the CA's certs/ and private/, as in the guide); created (0700) when missing. */
  outDir?: string;
  force?: boolean;
}

/** Result of {@link issueClientCertificate}. */
export interface IssueClientResult extends SignCsrResult {
  keyPath: string;
  csrPath: string;
  certPath: string;
  pfxPath: string;
  /** The CA certificate file: the chain to send to the provider. */
  chainPath: string;
}

/** Builds the subject: the CA's C, ST and O (what policy_strict matches), extra fields, CN = name. */
function clientSubject(
  caSubject: DistinguishedName,
  name: string,
  extra: DistinguishedName = [],
): DistinguishedName {
  const out: DistinguishedName = [];
  for (const t of ['C', 'ST', 'L', 'O']) {
    const given = dnValues(extra, t);
    for (const v of given.length ? given : t === 'L' ? [] : dnValues(caSubject, t))
      out.push({ type: t, value: v });
  }
  for (const a of extra) if (!['C', 'ST', 'L', 'O', 'CN'].includes(a.type)) out.push(a);
  out.push({ type: 'CN', value: name });
  return out;
}

/** The inputs {@link planIssue} checks: everything cheap, before any secret is asked for. */
export type PlanIssueOptions = Pick<
  IssueClientOptions,
  'ca' | 'name' | 'profile' | 'outDir' | 'force' | 'subject'
>;

/**
 * Checks the cheap inputs of an issue — the name, the extra subject fields
 * (RFC 5280 upper bounds), the profile, the output directory (writable, or
 * creatable) and paths — and returns where the files will go. The CLI calls it
 * before it prompts for the CA passphrase and the .pfx password.
 * @throws MTLS_BAD_ARGUMENT, MTLS_BAD_SUBJECT, MTLS_PROFILE_UNKNOWN, MTLS_FILE_EXISTS, MTLS_FILE_WRITE
 */
export async function planIssue(
  options: PlanIssueOptions,
): Promise<{ keyPath: string; csrPath: string; certPath: string; pfxPath: string }> {
  const { ca, name } = options;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `"${name}" is not a usable client name (letters, digits, . _ -; up to 64)`,
      { subject: 'NAME' },
    );
  }
  if (options.subject) assertSubjectBounds(options.subject);
  findProfile(ca, options.profile ?? 'client');
  if (options.outDir) await checkOutDir(options.outDir);
  const certDir = options.outDir ?? ca.config.certs ?? join(ca.config.dir, 'certs');
  const paths = {
    keyPath: join(options.outDir ?? join(ca.config.dir, 'private'), `${name}.key.pem`),
    csrPath: join(options.outDir ?? ca.config.dir, `${name}.csr.pem`),
    certPath: join(certDir, `${name}.cert.pem`),
    pfxPath: join(certDir, `${name}.pfx`),
  };
  for (const p of Object.values(paths)) await assertCanWrite(p, options.force);
  return paths;
}

/**
 * Issues a client certificate with key, CSR and `.pfx`.
 * Files: private/NAME.key.pem (0600, encrypted with the pfx password),
 * NAME.csr.pem, certs/NAME.cert.pem, certs/NAME.pfx (0600).
 * @throws MTLS_FILE_EXISTS before any work when an output exists (without `force`)
 * @throws everything {@link signCsr} throws
 */
export async function issueClientCertificate(
  options: IssueClientOptions,
): Promise<IssueClientResult> {
  const { ca, name } = options;
  if (options.pfxPassword.length < 4) {
    throw new MtlsError('MTLS_BAD_ARGUMENT', 'the .pfx password must have at least 4 characters', {
      subject: 'password',
    });
  }
  const paths = await planIssue(options);
  // The .pfx carries the CA chain up to the root, so a client sends its intermediate (RFC 5246 §7.4.6).
  const caChain = await readCaChain(ca);
  const keys = await generateKeyPair(options.keyType ?? 'rsa2048');
  const csr = await createCsr({
    subject: clientSubject(fromX509Name(ca.certificate.subjectName), name, options.subject),
    privateKey: keys.privateKey,
    ...(options.subjectAltNames ? { subjectAltNames: options.subjectAltNames } : {}),
  });
  const signed = await signCsr({
    ca,
    csr: csr.pem,
    csrSource: paths.csrPath,
    profile: options.profile ?? 'client',
    ...(options.days ? { days: options.days } : {}),
    ...(options.caKey ? { caKey: options.caKey } : {}),
    ...(options.caPassphrase !== undefined ? { passphrase: options.caPassphrase } : {}),
    ...(options.subjectAltNames ? { subjectAltNames: options.subjectAltNames } : {}),
  });
  const pfx = buildPfx({
    privateKey: keys.privateKey,
    certificate: signed.pem,
    chain: caChain.certificates.map((c) => c.toString('pem')),
    password: options.pfxPassword,
    flavour: options.pfxFlavour ?? 'modern',
    friendlyName: name,
  });
  try {
    if (options.outDir) await makeOutDir(options.outDir);
    await writeFilesAtomic(
      [
        {
          path: paths.keyPath,
          data: exportPrivateKeyPem(keys.privateKey, { passphrase: options.pfxPassword }),
          mode: 0o600,
        },
        { path: paths.csrPath, data: csr.pem, mode: 0o644 },
        { path: paths.certPath, data: signed.pem, mode: 0o644 },
        { path: paths.pfxPath, data: pfx, mode: 0o600 },
      ],
      { force: options.force ?? false },
    );
  } catch (e) {
    // The certificate is in the database but its key never reached the disk:
    // revoke it, so no valid certificate exists whose key is lost, and say so.
    const cause =
      e instanceof MtlsError ? e : new MtlsError('MTLS_FILE_WRITE', errorMessage(e), { cause: e });
    const revoked = await revokeCertificate({
      ca,
      serial: signed.serial,
      reason: 'cessationOfOperation',
    }).then(
      () => true,
      () => false,
    );
    throw new MtlsError(
      cause.code,
      revoked
        ? `${cause.message}; the certificate was already signed, so serial ${signed.serial} was revoked (cessationOfOperation) and no file was written`
        : `${cause.message}; the certificate was already signed as serial ${signed.serial} and could NOT be revoked`,
      {
        ...(cause.subject !== undefined ? { subject: cause.subject } : {}),
        cause: e,
        details: { ...cause.details, serial: signed.serial, revoked },
        hint: revoked
          ? `${cause.hint} Then issue again; run \`mtls ca crl\` to publish the revocation of ${signed.serial}.`
          : `Revoke serial ${signed.serial} in the CA at ${ca.config.dir} by hand, then fix the cause and issue again.`,
      },
    );
  }
  return { ...signed, ...paths, chainPath: caChain.path ?? ca.config.certificate };
}
