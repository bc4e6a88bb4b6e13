/**
 * Certificate revocation lists (RFC 5280 §5): building, parsing, and lookup.
 */
import * as x509 from '@peculiar/x509';
import { decodeUnsigned, derInteger, readDer } from './der.js';
import { keyIdentifier } from './extensions.js';
import { publicKeyOf, signingAlgorithmFor, toCryptoKeyPair } from './keys.js';
import { derBlocksOf, encodePem } from './pem.js';
import { readCrlDer } from './read-x509.js';
import type { Signer } from './certificate.js';

/** One revoked certificate. */
export interface CrlEntrySpec {
  /** Hex serial. */
  serial: string;
  revokedAt: Date;
  /** RFC 5280 §5.3.1 reason code number (0 unspecified … 10 aACompromise); omitted for unspecified. */
  reasonCode?: number;
}

/** Inputs for {@link buildCrl}. */
export interface BuildCrlOptions {
  signer: Required<Signer>;
  entries: CrlEntrySpec[];
  /** crlNumber (RFC 5280 §5.2.3), from the CA's `crlnumber` file. */
  crlNumber: bigint;
  thisUpdate?: Date;
  /** Default thisUpdate + `days`. */
  nextUpdate?: Date;
  /** Days until nextUpdate (default 30, as the guide's default_crl_days). */
  days?: number;
  hash?: string;
}

/** A built CRL. */
export interface BuildCrlResult {
  crl: x509.X509Crl;
  der: Buffer;
  /** PEM with label `X509 CRL` (the label OpenSSL and Node require). */
  pem: string;
}

/**
 * Builds and signs a v2 CRL with authorityKeyIdentifier and crlNumber
 * (RFC 5280 §5.2.1, §5.2.3: both required for conforming CRL issuers).
 */
export async function buildCrl(options: BuildCrlOptions): Promise<BuildCrlResult> {
  const { signer } = options;
  const signingAlgorithm = signingAlgorithmFor(signer.privateKey, options.hash);
  const keys = await toCryptoKeyPair(
    signer.privateKey,
    'hash' in signingAlgorithm ? signingAlgorithm.hash : undefined,
  );
  const thisUpdate = options.thisUpdate ?? new Date(Math.floor(Date.now() / 1000) * 1000);
  const nextUpdate =
    options.nextUpdate ?? new Date(thisUpdate.getTime() + (options.days ?? 30) * 86_400_000);
  const ski = signer.certificate.extensions.find((e) => e.type === '2.5.29.14');
  const keyId = ski
    ? new x509.SubjectKeyIdentifierExtension(ski.rawData).keyId
    : keyIdentifier(publicKeyOf(signer.privateKey)).toString('hex');
  const crl = await x509.X509CrlGenerator.create({
    issuer: new x509.Name(signer.certificate.subjectName.toArrayBuffer()),
    thisUpdate,
    nextUpdate,
    signingKey: keys.privateKey,
    signingAlgorithm,
    extensions: [
      new x509.AuthorityKeyIdentifierExtension(keyId),
      new x509.Extension('2.5.29.20', false, derInteger(options.crlNumber)),
    ],
    entries: options.entries.map((e) => ({
      serialNumber: e.serial,
      revocationDate: e.revokedAt,
      ...(e.reasonCode !== undefined && e.reasonCode !== 0 ? { reason: e.reasonCode } : {}),
    })),
  });
  const der = Buffer.from(crl.rawData);
  return { crl, der, pem: encodePem('X509 CRL', der) };
}

/**
 * Parses CRLs from PEM (`X509 CRL`, and the mislabelled `CRL`) or DER.
 * @throws MTLS_PEM_INVALID / MTLS_DER_INVALID
 */
export function parseCrls(data: string | Uint8Array, source = 'CRL'): x509.X509Crl[] {
  return derBlocksOf(data, ['X509 CRL', 'CRL'], source).map((der, i) =>
    readCrlDer(der, `CRL #${i + 1} in ${source}`),
  );
}

/** The crlNumber of a CRL, if present. */
export function crlNumberOf(crl: x509.X509Crl): bigint | undefined {
  const ext = crl.extensions.find((e) => e.type === '2.5.29.20');
  if (!ext) return undefined;
  return decodeUnsigned(readDer(Buffer.from(ext.value), 0, 'crlNumber').content);
}

/** Finds a serial (hex, any case/leading zeros) among a CRL's entries. */
export function findRevoked(crl: x509.X509Crl, serialHex: string): x509.X509CrlEntry | undefined {
  const want = serialHex.replace(/^0+/, '').toUpperCase();
  return crl.entries.find((e) => e.serialNumber.replace(/^0+/, '').toUpperCase() === want);
}
