/**
 * The certificate extensions path validation reads (RFC 5280 §4.2), decoded
 * strictly. A value that does not follow its ASN.1 (or a "MUST" of its
 * section) is a {@link DerFieldError}, which makes the certificate malformed.
 */
import type { DerElement } from '../der.js';
import {
  bad,
  boolean,
  children,
  integerBytes,
  namedBits,
  oid,
  one,
  smallUnsigned,
  T,
} from './der-fields.js';
import { decodeGeneralName, decodeGeneralNames, type GeneralName } from './general-names.js';
import { decodeCrlDistributionPoints, type DistributionPoint } from './distribution-points.js';

/** Extension OIDs (RFC 5280 §4.2, and the few others the validator reads). */
export const EXT = {
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  issuerAltName: '2.5.29.18',
  basicConstraints: '2.5.29.19',
  nameConstraints: '2.5.29.30',
  crlDistributionPoints: '2.5.29.31',
  certificatePolicies: '2.5.29.32',
  policyMappings: '2.5.29.33',
  authorityKeyIdentifier: '2.5.29.35',
  policyConstraints: '2.5.29.36',
  extendedKeyUsage: '2.5.29.37',
  freshestCrl: '2.5.29.46',
  inhibitAnyPolicy: '2.5.29.54',
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1',
  subjectInfoAccess: '1.3.6.1.5.5.7.1.11',
  nsCertType: '2.16.840.1.113730.1.1',
  ocspNoCheck: '1.3.6.1.5.5.7.48.1.5',
  ipAddrBlocks: '1.3.6.1.5.5.7.1.7',
  autonomousSysIds: '1.3.6.1.5.5.7.1.8',
} as const;

/** One raw extension. */
export interface RawExtension {
  oid: string;
  critical: boolean;
  value: Buffer;
}

/** The keyUsage bits (RFC 5280 §4.2.1.3), in bit order. */
export const KEY_USAGE_BITS = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
] as const;

/** One keyUsage bit name. */
export type KeyUsageBit = (typeof KEY_USAGE_BITS)[number];

/** nsCertType bits (Netscape): 0 client, 1 server. */
export const NS_CERT_TYPE_BITS = [
  'client',
  'server',
  'email',
  'objsign',
  'reserved',
  'sslCA',
  'emailCA',
  'objCA',
] as const;

/** A GeneralSubtree (RFC 5280 §4.2.1.10); minimum 0 and no maximum, as the section requires. */
export interface GeneralSubtree {
  base: GeneralName;
}

/** The decoded extensions the validator acts on. Absent means the extension is absent. */
export interface DecodedExtensions {
  basicConstraints?: { ca: boolean; pathLen?: number };
  keyUsage?: Set<KeyUsageBit>;
  extendedKeyUsage?: string[];
  subjectKeyIdentifier?: Buffer;
  authorityKeyIdentifier?: { keyIdentifier?: Buffer; hasIssuer: boolean; hasSerial: boolean };
  subjectAltName?: GeneralName[];
  nameConstraints?: { permitted?: GeneralSubtree[]; excluded?: GeneralSubtree[] };
  nsCertType?: Set<string>;
  crlDistributionPoints?: DistributionPoint[];
}

function octets(value: Buffer, what: string): Buffer {
  const el = one(value, what);
  if (el.tag !== T.octetString) bad(what, 'expected an OCTET STRING');
  return el.content;
}

function basicConstraints(value: Buffer): NonNullable<DecodedExtensions['basicConstraints']> {
  const what = 'basicConstraints';
  const fields = children(one(value, what), T.sequence, what);
  let ca = false;
  let pathLen: number | undefined;
  let i = 0;
  const caEl = fields[i];
  if (caEl?.tag === T.boolean) {
    ca = boolean(caEl, `${what} cA`);
    // DER omits a value equal to its DEFAULT (X.690 §11.5).
    if (!ca) bad(what, 'cA FALSE is encoded, DER omits the DEFAULT');
    i++;
  }
  if (fields[i]) pathLen = smallUnsigned(fields[i++], `${what} pathLenConstraint`);
  if (fields[i]) bad(what, 'unexpected field');
  return { ca, ...(pathLen !== undefined ? { pathLen } : {}) };
}

function keyUsage(value: Buffer): Set<KeyUsageBit> {
  const bits = namedBits(one(value, 'keyUsage'), 'keyUsage');
  // §4.2.1.3: when keyUsage is present, at least one bit MUST be set.
  if (bits.length === 0) bad('keyUsage', 'no bit is set (RFC 5280 §4.2.1.3)');
  return new Set(
    bits.flatMap((b) => {
      // Bits past decipherOnly are unnamed (RFC 5280 §4.2.1.3) and ignored.
      const name = KEY_USAGE_BITS[b];
      return name === undefined ? [] : [name];
    }),
  );
}

function extendedKeyUsage(value: Buffer): string[] {
  const list = children(one(value, 'extendedKeyUsage'), T.sequence, 'extendedKeyUsage');
  if (list.length === 0) bad('extendedKeyUsage', 'empty (SIZE (1..MAX), RFC 5280 §4.2.1.12)');
  return list.map((e) => oid(e, 'extendedKeyUsage purpose'));
}

function authorityKeyIdentifier(
  value: Buffer,
): NonNullable<DecodedExtensions['authorityKeyIdentifier']> {
  const what = 'authorityKeyIdentifier';
  const fields = children(one(value, what), T.sequence, what);
  let keyIdentifier: Buffer | undefined;
  let hasIssuer = false;
  let hasSerial = false;
  let last = -1;
  for (const f of fields) {
    const n = f.tag & 0x1f;
    if (n <= last) bad(what, 'fields out of order or repeated');
    last = n;
    if (f.tag === 0x80) keyIdentifier = f.content;
    else if (f.tag === 0xa1) {
      decodeGeneralNames({ ...f, tag: T.sequence }, `${what} authorityCertIssuer`);
      hasIssuer = true;
    } else if (f.tag === 0x82) {
      integerBytes(f, `${what} authorityCertSerialNumber`, 0x82);
      hasSerial = true;
    } else bad(what, `unexpected field tag 0x${f.tag.toString(16)}`);
  }
  // §4.2.1.1: authorityCertIssuer and authorityCertSerialNumber go together.
  if (hasIssuer !== hasSerial)
    bad(
      what,
      'authorityCertIssuer and authorityCertSerialNumber must both be present or both absent',
    );
  return { ...(keyIdentifier ? { keyIdentifier } : {}), hasIssuer, hasSerial };
}

function subtrees(el: DerElement, what: string): GeneralSubtree[] {
  const list = children({ ...el, tag: T.sequence }, T.sequence, what);
  if (list.length === 0) bad(what, 'empty GeneralSubtrees (SIZE (1..MAX))');
  return list.map((st) => {
    const [base, ...rest] = children(st, T.sequence, what);
    if (!base) bad(what, 'GeneralSubtree without a base');
    // §4.2.1.10: minimum MUST be zero (so DER omits it) and maximum MUST be absent.
    if (rest.length)
      bad(what, 'GeneralSubtree has minimum or maximum, which RFC 5280 §4.2.1.10 forbids');
    return { base: decodeGeneralName(base, what, 'constraint') };
  });
}

function nameConstraints(value: Buffer): NonNullable<DecodedExtensions['nameConstraints']> {
  const what = 'nameConstraints';
  const fields = children(one(value, what), T.sequence, what);
  const out: NonNullable<DecodedExtensions['nameConstraints']> = {};
  let last = -1;
  for (const f of fields) {
    if (f.tag !== 0xa0 && f.tag !== 0xa1) bad(what, `unexpected field tag 0x${f.tag.toString(16)}`);
    const n = f.tag & 0x1f;
    if (n <= last) bad(what, 'fields out of order or repeated');
    last = n;
    if (f.tag === 0xa0) out.permitted = subtrees(f, `${what} permittedSubtrees`);
    else out.excluded = subtrees(f, `${what} excludedSubtrees`);
  }
  // §4.2.1.10: "either the permittedSubtrees field or the excludedSubtrees MUST be present".
  if (!out.permitted && !out.excluded)
    bad(what, 'neither permittedSubtrees nor excludedSubtrees is present (RFC 5280 §4.2.1.10)');
  return out;
}

function accessDescriptions(value: Buffer, what: string): void {
  const list = children(one(value, what), T.sequence, what);
  if (list.length === 0) bad(what, 'empty (SIZE (1..MAX))');
  for (const ad of list) {
    const [method, location, extra] = children(ad, T.sequence, `${what} AccessDescription`);
    if (!location || extra) bad(what, 'AccessDescription is not (accessMethod, accessLocation)');
    oid(method, `${what} accessMethod`);
    decodeGeneralName(location, `${what} accessLocation`, 'name');
  }
}

function nsCertType(value: Buffer): Set<string> {
  return new Set(
    namedBits(one(value, 'nsCertType'), 'nsCertType').map((b) => NS_CERT_TYPE_BITS[b] ?? String(b)),
  );
}

/**
 * Decodes the extensions the validator reads.
 * @throws DerFieldError when one of them is malformed
 */
export function decodeExtensions(raw: readonly RawExtension[]): DecodedExtensions {
  const out: DecodedExtensions = {};
  for (const e of raw) {
    switch (e.oid) {
      case EXT.basicConstraints:
        out.basicConstraints = basicConstraints(e.value);
        break;
      case EXT.keyUsage:
        out.keyUsage = keyUsage(e.value);
        break;
      case EXT.extendedKeyUsage:
        out.extendedKeyUsage = extendedKeyUsage(e.value);
        break;
      case EXT.subjectKeyIdentifier:
        out.subjectKeyIdentifier = octets(e.value, 'subjectKeyIdentifier');
        break;
      case EXT.authorityKeyIdentifier:
        out.authorityKeyIdentifier = authorityKeyIdentifier(e.value);
        break;
      case EXT.subjectAltName:
        out.subjectAltName = decodeGeneralNames(one(e.value, 'subjectAltName'), 'subjectAltName');
        break;
      case EXT.nameConstraints:
        out.nameConstraints = nameConstraints(e.value);
        break;
      case EXT.authorityInfoAccess:
        accessDescriptions(e.value, 'authorityInfoAccess');
        break;
      case EXT.subjectInfoAccess:
        accessDescriptions(e.value, 'subjectInfoAccess');
        break;
      case EXT.nsCertType:
        out.nsCertType = nsCertType(e.value);
        break;
      case EXT.crlDistributionPoints:
        out.crlDistributionPoints = decodeCrlDistributionPoints(e.value);
        break;
      default:
        break;
    }
  }
  return out;
}
