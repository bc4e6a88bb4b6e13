/**
 * The issuer and subject Names of a certificate as encoded, found by walking
 * the outer TLVs of the TBSCertificate (RFC 5280 §4.1) without building an
 * ASN.1 object model: issuer matching compares Name encodings byte for byte,
 * and a full parse of every registered CA certificate just to reach two
 * fields dominated a large registry's start-up.
 */
import { MtlsError } from '../errors/index.js';
import { readDer, type DerElement } from './der.js';

/** The encoded Names of one certificate. */
export interface CertificateNamesResult {
  /** The issuer Name, tag through content (a view into the certificate's bytes). */
  issuerDer: Buffer;
  /** The subject Name, tag through content (a view into the certificate's bytes). */
  subjectDer: Buffer;
}

const SEQUENCE = 0x30;
const INTEGER = 0x02;
/** `[0] EXPLICIT Version` (constructed, context-specific 0). */
const VERSION_TAG = 0xa0;

/**
 * Reads the issuer and subject Name encodings of a DER certificate:
 *
 *     Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }
 *     TBSCertificate ::= SEQUENCE { [0] version OPTIONAL (absent for v1), serialNumber,
 *                                   signature, issuer, validity, subject, … }
 *
 * Only the framing of the fields before `subject` is checked (tags, lengths,
 * nothing trailing after the certificate); the content of each field is
 * whatever the full parser that runs beside this one (node:crypto) accepted.
 * @throws MTLS_DER_INVALID when the bytes are truncated, have trailing data,
 *   or do not have the certificate's shape
 */
export function readCertificateNames(der: Buffer): CertificateNamesResult {
  const what = 'certificate';
  const cert = readDer(der, 0, what);
  expectTag(cert, SEQUENCE, 'Certificate');
  if (cert.next !== der.length)
    invalid(`${der.length - cert.next} bytes of trailing data after the Certificate`);
  const tbs = readDer(cert.content, 0, what);
  expectTag(tbs, SEQUENCE, 'tbsCertificate');
  const fields = tbs.content;
  let p = 0;
  const next = (field: string, tag: number): DerElement => {
    if (p >= fields.length) invalid(`tbsCertificate ends before its ${field}`);
    const el = readDer(fields, p, what);
    expectTag(el, tag, field);
    p = el.next;
    return el;
  };
  // The version is OPTIONAL with DEFAULT v1, so a v1 certificate starts at the serial.
  if (fields[0] === VERSION_TAG) next('version', VERSION_TAG);
  next('serialNumber', INTEGER);
  next('signature AlgorithmIdentifier', SEQUENCE);
  const issuer = next('issuer Name', SEQUENCE);
  next('validity', SEQUENCE);
  const subject = next('subject Name', SEQUENCE);
  return { issuerDer: issuer.raw, subjectDer: subject.raw };
}

function expectTag(el: DerElement, tag: number, field: string): void {
  if (el.tag !== tag)
    invalid(
      `its ${field} has tag 0x${el.tag.toString(16).padStart(2, '0')}, expected 0x${tag.toString(16)}`,
    );
}

function invalid(why: string): never {
  throw new MtlsError('MTLS_DER_INVALID', `certificate is not valid DER: ${why}`);
}
