/**
 * Certificate handling the PKCS#12 code needs: normalising inputs, the
 * subject CN (the default friendlyName), and ordering a chain from the leaf up.
 */
import { X509Certificate } from 'node:crypto';
import { MtlsError } from '../../errors/index.js';
import { decodeOid, readDer, readDerChildren } from '../der.js';
import { derBlocksOf } from '../pem.js';
import { readCertificateDer } from '../read-x509.js';
import { errorMessage } from '../../errors/mtls-error.js';

/** A certificate as DER, PEM text, or a node:crypto X509Certificate. */
export type PfxCertificateInput = Uint8Array | string | X509Certificate;

/** PEM labels a certificate may carry. */
export const CERTIFICATE_LABELS: readonly string[] = [
  'CERTIFICATE',
  'X509 CERTIFICATE',
  'TRUSTED CERTIFICATE',
];

/**
 * Parses a certificate from DER bytes.
 * @throws MTLS_DER_INVALID when the bytes are not an X.509 certificate
 */
export function parseCertificateDer(der: Buffer, what: string): X509Certificate {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(der);
  } catch (e) {
    // OpenSSL reports the last decoder it tried, often PEM's "no start line"
    // for DER input; the boundary reader names the broken structure instead.
    readCertificateDer(der, what);
    throw new MtlsError(
      'MTLS_DER_INVALID',
      `${what} is not a valid X.509 certificate: OpenSSL refuses its DER encoding (${errorMessage(e)})`,
      {
        subject: what,
        cause: e,
        hint: `The certificate is corrupt; export ${what} again from its source.`,
      },
    );
  }
  // OpenSSL accepts a malformed UTCTime/GeneralizedTime and prints it as it is; a date nobody can compare is corrupt.
  for (const [field, text] of [
    ['notBefore', cert.validFrom],
    ['notAfter', cert.validTo],
  ] as const) {
    if (Number.isNaN(Date.parse(text))) {
      throw new MtlsError('MTLS_DER_INVALID', `the ${field} of ${what} is malformed ("${text}")`, {
        subject: what,
        hint: `The certificate is corrupt at its validity; export ${what} again from its source.`,
      });
    }
  }
  try {
    // Decoding and re-encoding the subjectPublicKeyInfo throws when it is malformed.
    cert.publicKey.export({ type: 'spki', format: 'der' });
  } catch (e) {
    throw new MtlsError(
      'MTLS_DER_INVALID',
      `the subjectPublicKeyInfo of ${what} is malformed (${errorMessage(e)})`,
      {
        subject: what,
        cause: e,
        hint: `The certificate is corrupt at its public key; export ${what} again from its source.`,
      },
    );
  }
  return cert;
}

/**
 * Reads every certificate in PEM text (all CERTIFICATE blocks, in order) or in
 * one DER blob. Other PEM blocks (keys, CSRs) are ignored.
 * @param source - file name, for messages
 * @throws MTLS_PEM_INVALID when PEM holds no certificate block or the input is empty
 * @throws MTLS_DER_INVALID when a block is not a certificate
 */
export function loadCertificates(
  data: string | Uint8Array,
  source = 'certificate',
): X509Certificate[] {
  return derBlocksOf(data, CERTIFICATE_LABELS, source).map((der, i, all) =>
    parseCertificateDer(der, all.length > 1 ? `${source} (certificate ${i + 1})` : source),
  );
}

/**
 * Normalises one certificate input to a node X509Certificate.
 * @throws MTLS_PEM_INVALID, MTLS_DER_INVALID when it is not a certificate
 */
export function toX509(input: PfxCertificateInput, what: string): X509Certificate {
  if (input instanceof X509Certificate) return input;
  const first = loadCertificates(input, what)[0];
  if (!first)
    throw new MtlsError('MTLS_PEM_INVALID', `${what}: no certificate found`, { subject: what });
  return first;
}

function decodeDirectoryString(tag: number, content: Buffer): string | undefined {
  switch (tag) {
    case 0x0c: // UTF8String
      return content.toString('utf8');
    case 0x13: // PrintableString
    case 0x16: // IA5String
    case 0x1a: // VisibleString
      return content.toString('ascii');
    case 0x14: // TeletexString, read as Latin-1 like most implementations
      return content.toString('latin1');
    case 0x1e: // BMPString
      return Buffer.from(content).swap16().toString('utf16le');
    case 0x1c: {
      // UniversalString (UTF-32BE)
      const cps: number[] = [];
      for (let i = 0; i + 3 < content.length; i += 4) cps.push(content.readUInt32BE(i));
      return String.fromCodePoint(...cps);
    }
    default:
      return undefined;
  }
}

/**
 * The most specific commonName of a certificate's subject (RFC 5280 §4.1.2.6),
 * decoded from its ASN.1 string type, or undefined when the subject has none.
 */
export function subjectCommonName(cert: X509Certificate): string | undefined {
  const what = 'certificate';
  const [tbs] = readDerChildren(readDer(cert.raw, 0, what).content, what);
  if (!tbs) return undefined;
  const fields = readDerChildren(tbs.content, what);
  // TBSCertificate: [0] version (optional), serial, signature, issuer, validity, subject.
  const subject = fields[(fields[0]?.tag === 0xa0 ? 1 : 0) + 4];
  if (!subject) return undefined;
  let cn: string | undefined;
  for (const rdn of readDerChildren(subject.content, what)) {
    for (const atv of readDerChildren(rdn.content, what)) {
      const [type, value] = readDerChildren(atv.content, what);
      if (type?.tag === 0x06 && value && decodeOid(type.content) === '2.5.4.3') {
        cn = decodeDirectoryString(value.tag, value.content) ?? cn;
      }
    }
  }
  return cn;
}

/** Node's multi-line DN text as one line: `C=BR, O=Acme, CN=client`. */
export function formatName(nodeDn: string): string {
  return nodeDn.split('\n').filter(Boolean).join(', ');
}

/** Chain ordering lives in src/pki/chain-order.ts; re-exported for the PKCS#12 and TLS credential readers. */
export { orderChain } from '../chain-order.js';
