/**
 * Certificate building: self-signed roots and certificates signed by a CA.
 */
import {
  createPublicKey,
  randomBytes,
  X509Certificate as NodeX509,
  type KeyObject,
} from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { MtlsError } from '../errors/index.js';
import { buildExtensions } from './extensions.js';
import { publicKeyOf, signingAlgorithmFor, toCryptoKeyPair } from './keys.js';
import type { DistinguishedName } from './names.js';
import { readDer } from './der.js';
import { decodePemBlocks, isPem } from './pem.js';
import { at } from './bytes.js';
import { readCertificateDer } from './read-x509.js';
import type { ExtensionProfile, GeneralNameSpec } from './profile.js';
import { toX509Name } from './x509-name.js';

/** The CA that signs; omit `certificate` for a self-signed certificate. */
export interface Signer {
  privateKey: KeyObject;
  certificate?: x509.X509Certificate;
}

/** Inputs for {@link buildCertificate}. */
export interface BuildCertificateOptions {
  subject: DistinguishedName;
  /** The subject's public key (for self-signed: derived from the signer key when omitted). */
  publicKey?: KeyObject;
  signer: Signer;
  /** Hex serial; default {@link randomSerial}. */
  serialNumber?: string;
  /** Default now. */
  notBefore?: Date;
  /** Default notBefore + `days`. */
  notAfter?: Date;
  /** Validity in days when `notAfter` is not given (default 375). */
  days?: number;
  profile: ExtensionProfile;
  extraSubjectAltNames?: GeneralNameSpec[];
  /** Digest for RSA/ECDSA signatures (default SHA-256; P-384 keys default SHA-384). */
  hash?: string;
}

/** A built certificate. */
export interface BuildCertificateResult {
  certificate: x509.X509Certificate;
  der: Buffer;
  pem: string;
  /** Upper-case hex serial, as index.txt and newcerts/ use it. */
  serialHex: string;
}

/**
 * A random positive serial from the CSPRNG: 16 bytes (127 bits of entropy),
 * first byte 0x01–0x7f so the DER INTEGER is positive and of fixed length.
 * CA/B Forum BR §7.1 asks for at least 64 bits; RFC 5280 §4.1.2.2 caps at 20 octets.
 */
export function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = (at(b, 0) & 0x7f) | 0x01;
  return b.toString('hex').toUpperCase();
}

/**
 * Builds and signs a certificate.
 * @throws MTLS_KEY_UNSUPPORTED for signer keys that cannot sign
 * @throws MTLS_CONFIG_INVALID for impossible profiles
 */
export async function buildCertificate(
  options: BuildCertificateOptions,
): Promise<BuildCertificateResult> {
  const { signer } = options;
  const publicKey = options.publicKey ?? publicKeyOf(signer.privateKey);
  const signingAlgorithm = signingAlgorithmFor(signer.privateKey, options.hash);
  const keys = await toCryptoKeyPair(
    signer.privateKey,
    'hash' in signingAlgorithm ? signingAlgorithm.hash : undefined,
  );
  const notBefore = options.notBefore ?? new Date(Math.floor(Date.now() / 1000) * 1000);
  const notAfter =
    options.notAfter ?? new Date(notBefore.getTime() + (options.days ?? 375) * 86_400_000);
  if (notAfter <= notBefore) {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      'the certificate would expire before it becomes valid',
      { subject: 'days' },
    );
  }
  const serialHex = (options.serialNumber ?? randomSerial()).toUpperCase();
  const extensions = buildExtensions({
    profile: options.profile,
    subjectPublicKey: publicKey,
    subject: options.subject,
    issuer: {
      publicKey: publicKeyOf(signer.privateKey),
      ...(signer.certificate ? { certificate: signer.certificate } : {}),
    },
    ...(options.extraSubjectAltNames ? { extraSubjectAltNames: options.extraSubjectAltNames } : {}),
  });
  const subjectName = toX509Name(options.subject);
  const issuerName = signer.certificate
    ? new x509.Name(signer.certificate.subjectName.toArrayBuffer())
    : subjectName;
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serialHex,
    subject: subjectName,
    issuer: issuerName,
    notBefore,
    notAfter,
    publicKey: publicKey.export({ format: 'der', type: 'spki' }),
    signingKey: keys.privateKey,
    signingAlgorithm,
    extensions,
  });
  const der = Buffer.from(certificate.rawData);
  return { certificate, der, pem: certificate.toString('pem') + '\n', serialHex };
}

/**
 * Parses one or more certificates from PEM (every CERTIFICATE block) or DER.
 * @throws MTLS_PEM_INVALID / MTLS_DER_INVALID
 */
export function parseCertificates(
  data: string | Uint8Array,
  source = 'certificate',
): x509.X509Certificate[] {
  return readCertificates(data, source);
}

/**
 * The DER of every certificate in PEM (CERTIFICATE and OpenSSL's TRUSTED
 * CERTIFICATE blocks) or DER input, not decoded further, so that a path
 * validator can report a malformed certificate as its own finding. A TRUSTED
 * CERTIFICATE block appends OpenSSL's trust settings after the certificate;
 * only the certificate is kept.
 * @throws MTLS_PEM_INVALID when there is no certificate block, or the input is empty
 */
export function certificateDers(
  data: string | Uint8Array,
  source = 'certificate',
): [Buffer, ...Buffer[]] {
  if (!isPem(data)) {
    const buf = typeof data === 'string' ? Buffer.from(data, 'binary') : Buffer.from(data);
    if (buf.length === 0)
      throw new MtlsError('MTLS_PEM_INVALID', `${source}: the file is empty`, { subject: source });
    return [buf];
  }
  const text = typeof data === 'string' ? data : Buffer.from(data).toString('utf8');
  const ders = decodePemBlocks(text, source).flatMap((b, i) => {
    if (b.label === 'CERTIFICATE') return [b.der];
    if (b.label !== 'TRUSTED CERTIFICATE') return [];
    // A block too short to hold its first element is passed on whole, to fail where it is decoded.
    try {
      return [readDer(b.der, 0, `PEM block ${i + 1} of ${source}`).raw];
    } catch {
      return [b.der];
    }
  });
  const [first, ...rest] = ders;
  if (!first)
    throw new MtlsError(
      'MTLS_PEM_INVALID',
      `${source}: no CERTIFICATE / TRUSTED CERTIFICATE block found`,
      { subject: source },
    );
  return [first, ...rest];
}

/** {@link parseCertificates}, typed as the non-empty list it always is. */
function readCertificates(
  data: string | Uint8Array,
  source: string,
): [x509.X509Certificate, ...x509.X509Certificate[]] {
  const [first, ...rest] = certificateDers(data, source);
  return [
    readCertificateDer(first, `certificate #1 in ${source}`),
    ...rest.map((der, i) => readCertificateDer(der, `certificate #${i + 2} in ${source}`)),
  ];
}

/** Parses exactly one certificate (the first). */
export function parseCertificate(
  data: string | Uint8Array,
  source = 'certificate',
): x509.X509Certificate {
  return readCertificates(data, source)[0];
}

/** The Node X509Certificate view of a certificate (fingerprints, checkPrivateKey, verify). */
export function toNodeCertificate(cert: x509.X509Certificate): NodeX509 {
  return new NodeX509(Buffer.from(cert.rawData));
}

/** The certificate's public key as a Node KeyObject. */
export function certificatePublicKey(cert: x509.X509Certificate): KeyObject {
  return createPublicKey({ key: Buffer.from(cert.publicKey.rawData), format: 'der', type: 'spki' });
}

/** Upper-case colon-separated SHA-256 fingerprint, as `openssl x509 -fingerprint -sha256` prints it. */
export function fingerprintSha256(cert: x509.X509Certificate): string {
  return toNodeCertificate(cert).fingerprint256;
}
