/**
 * Decodes a certificate (RFC 5280 §4.1) for path validation: every field the
 * validator reads, the raw to-be-signed bytes for the signature check, and the
 * decoded extensions. Parsing is strict DER; {@link parseCertificateDer}
 * reports the first problem rather than guessing.
 */
import { createHash } from 'node:crypto';
import type { DerElement } from '../der.js';
import {
  algorithm,
  bad,
  bitString,
  boolean,
  children,
  integerBytes,
  oid,
  one,
  present,
  smallUnsigned,
  T,
  time,
  type AlgorithmIdentifier,
} from './der-fields.js';
import { decodeName, type DecodedName } from './distinguished-name.js';
import { decodeExtensions, type DecodedExtensions, type RawExtension } from './extensions.js';
import { errorMessage } from '../../errors/mtls-error.js';

/** A certificate as the validator sees it. */
export interface ParsedCertificate {
  der: Buffer;
  /** SHA-256 of the DER, lower-case hex; identifies the certificate. */
  fingerprint: string;
  /** 1, 2 or 3. */
  version: number;
  /** The serial number's INTEGER content bytes. */
  serial: Buffer;
  tbs: Buffer;
  /** The outer signatureAlgorithm (equal to the one inside tbsCertificate, §4.1.1.2). */
  signatureAlgorithm: AlgorithmIdentifier;
  signature: Buffer;
  issuer: DecodedName;
  subject: DecodedName;
  notBefore: Date;
  notAfter: Date;
  /** The SubjectPublicKeyInfo DER, as node:crypto imports it. */
  spki: Buffer;
  spkiAlgorithm: AlgorithmIdentifier;
  extensions: RawExtension[];
  ext: DecodedExtensions;
}

/** The outcome of {@link parseCertificateDer}. */
export type ParseCertificateResult =
  { ok: true; cert: ParsedCertificate } | { ok: false; detail: string; fingerprint: string };

function extensionsOf(el: DerElement): RawExtension[] {
  const [seq, extra] = children({ ...el, tag: T.sequence }, T.sequence, 'extensions');
  if (extra) bad('extensions', 'more than one Extensions field');
  const list = children(seq, T.sequence, 'extensions');
  // §4.1: Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension.
  if (list.length === 0) bad('extensions', 'present but empty');
  const seen = new Set<string>();
  return list.map((e) => {
    const fields = children(e, T.sequence, 'extension');
    const id = oid(fields[0], 'extension id');
    let i = 1;
    let critical = false;
    const criticalEl = fields[i];
    if (criticalEl?.tag === T.boolean) {
      critical = boolean(criticalEl, `extension ${id} critical`);
      if (!critical) bad(`extension ${id}`, 'critical FALSE is encoded, DER omits the DEFAULT');
      i++;
    }
    const value = fields[i];
    if (!value || value.tag !== T.octetString || fields[i + 1])
      bad(`extension ${id}`, 'expected (extnID, critical, extnValue OCTET STRING)');
    // §4.2: "A certificate MUST NOT include more than one instance of a particular extension."
    if (seen.has(id)) bad(`extension ${id}`, 'appears more than once (RFC 5280 §4.2)');
    seen.add(id);
    return { oid: id, critical, value: value.content };
  });
}

function parse(der: Buffer): ParsedCertificate {
  const [tbsEl, sigAlgEl, sigEl, extra] = children(
    one(der, 'certificate'),
    T.sequence,
    'certificate',
  );
  if (extra) bad('certificate', 'more than three fields');
  const tbs = children(tbsEl, T.sequence, 'tbsCertificate');
  let i = 0;
  let version = 1;
  if (tbs[0]?.tag === 0xa0) {
    const [v, more] = children({ ...tbs[0], tag: T.sequence }, T.sequence, 'version');
    if (more) bad('version', 'unexpected data');
    version = smallUnsigned(v, 'version') + 1;
    // DER omits the DEFAULT v1 (X.690 §11.5); only v2 and v3 exist beyond it (§4.1.2.1).
    if (version === 1) bad('version', 'v1 is encoded explicitly, DER omits the DEFAULT');
    if (version > 3) bad('version', `unknown version ${version}`);
    i++;
  }
  const serial = integerBytes(tbs[i++], 'serialNumber');
  const innerAlg = algorithm(tbs[i++], 'tbsCertificate signature');
  const issuer = decodeName(tbs[i++], 'issuer');
  const [nb, na, more] = children(tbs[i++], T.sequence, 'validity');
  if (more) bad('validity', 'more than two times');
  const notBefore = time(nb, 'notBefore');
  const notAfter = time(na, 'notAfter');
  const subject = decodeName(tbs[i++], 'subject');
  const spkiEl = tbs[i++];
  const [spkiAlgEl, keyEl, spkiExtra] = children(spkiEl, T.sequence, 'subjectPublicKeyInfo');
  if (spkiExtra) bad('subjectPublicKeyInfo', 'more than two fields');
  const spkiAlgorithm = algorithm(spkiAlgEl, 'subjectPublicKeyInfo algorithm');
  bitString(keyEl, 'subjectPublicKey');
  let extensions: RawExtension[] = [];
  let lastTag = 0;
  for (const f of tbs.slice(i)) {
    if (f.tag <= lastTag) bad('tbsCertificate', 'optional fields out of order or repeated');
    lastTag = f.tag;
    if (f.tag === 0x81 || f.tag === 0x82) {
      // §4.1.2.8: unique identifiers only in v2 and v3.
      if (version < 2) bad('tbsCertificate', 'a unique identifier in a v1 certificate');
    } else if (f.tag === 0xa3) {
      // §4.1.2.9: extensions only in v3.
      if (version !== 3) bad('tbsCertificate', `extensions in a v${version} certificate`);
      extensions = extensionsOf(f);
    } else bad('tbsCertificate', `unexpected field tag 0x${f.tag.toString(16)}`);
  }
  const signatureAlgorithm = algorithm(sigAlgEl, 'signatureAlgorithm');
  // §4.1.1.2: the outer algorithm MUST equal the signature field in tbsCertificate.
  if (!signatureAlgorithm.raw.equals(innerAlg.raw))
    bad(
      'signatureAlgorithm',
      'differs from the signature field inside tbsCertificate (RFC 5280 §4.1.1.2)',
    );
  const sig = bitString(sigEl, 'signatureValue');
  if (sig.unused !== 0) bad('signatureValue', 'has unused bits');
  return {
    der,
    fingerprint: createHash('sha256').update(der).digest('hex'),
    version,
    serial,
    tbs: present(tbsEl, 'tbsCertificate').raw,
    signatureAlgorithm,
    signature: sig.bytes,
    issuer,
    subject,
    notBefore,
    notAfter,
    spki: present(spkiEl, 'subjectPublicKeyInfo').raw,
    spkiAlgorithm,
    extensions,
    ext: decodeExtensions(extensions),
  };
}

/**
 * Parses one certificate from DER. Never throws: a malformed certificate
 * comes back as `{ ok: false, detail }` naming the field.
 */
export function parseCertificateDer(der: Uint8Array): ParseCertificateResult {
  const buf = Buffer.from(der);
  try {
    return { ok: true, cert: parse(buf) };
  } catch (e) {
    return {
      ok: false,
      detail: errorMessage(e),
      fingerprint: createHash('sha256').update(buf).digest('hex'),
    };
  }
}

/** The serial number as upper-case hex without leading zero bytes. */
export function serialHex(c: ParsedCertificate): string {
  let i = 0;
  while (i < c.serial.length - 1 && c.serial[i] === 0) i++;
  return c.serial.subarray(i).toString('hex').toUpperCase();
}
