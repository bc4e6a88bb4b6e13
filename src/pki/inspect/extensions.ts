/**
 * Decodes X.509v3 extensions (RFC 5280 §4.2, §5.2, §5.3) into JSON-safe
 * descriptions. Anything it cannot decode is kept as hex, never dropped.
 */
import { MtlsError } from '../../errors/index.js';
import { readDerChildren, tlv, type DerElement } from '../der.js';
import { formatOpenSslText } from '../names.js';
import {
  KEY_USAGE_NAMES,
  NS_CERT_TYPE_NAMES,
  type KeyUsageName,
  type NsCertTypeName,
} from '../profile.js';
import { fromX509Name } from '../x509-name.js';
import {
  TAG,
  bitStringBits,
  childrenOf,
  decodeString,
  decodeTime,
  hex,
  integerValue,
  invalid,
  isoDate,
  oidOf,
  readWhole,
  smallInteger,
} from './asn1.js';
import {
  decodeGeneralName,
  decodeGeneralNames,
  type GeneralNameDescription,
} from './general-names.js';
import {
  ACCESS_METHODS,
  CRL_REASONS,
  EXTENSION_NAMES,
  POLICY_NAMES,
  REASON_FLAGS_DISPLAY,
  ekuNames,
} from './oid-names.js';

/** One extended key usage. */
export interface EkuDescription {
  oid: string;
  /** Short name (`clientAuth`), when known. */
  name?: string;
  /** OpenSSL's display name (`TLS Web Client Authentication`), or the OID. */
  text: string;
}

/** One CRL distribution point (RFC 5280 §4.2.1.13). */
export interface DistributionPointDescription {
  fullName?: GeneralNameDescription[];
  /** nameRelativeToCRLIssuer, as OpenSSL text. */
  relativeName?: string;
  /** ReasonFlags names as OpenSSL prints them. */
  reasons?: string[];
  crlIssuer?: GeneralNameDescription[];
}

/** One access description of AIA / SIA (RFC 5280 §4.2.2.1). */
export interface AccessDescriptionInfo {
  methodOid: string;
  /** `OCSP`, `caIssuers`, `timeStamping`, `caRepository`, or the OID. */
  method: string;
  location: GeneralNameDescription;
}

/** A policy qualifier (RFC 5280 §4.2.1.4). */
export type PolicyQualifierDescription =
  | { type: 'cps'; uri: string }
  | { type: 'userNotice'; organization?: string; noticeNumbers?: string[]; explicitText?: string }
  | { type: 'unknown'; oid: string; hex: string };

/** One PolicyInformation. */
export interface PolicyDescription {
  oid: string;
  /** Display name (`X509v3 Any Policy`) or the OID. */
  text: string;
  qualifiers: PolicyQualifierDescription[];
}

/** Fields every extension description carries. */
export interface ExtensionBase {
  oid: string;
  /** OpenSSL's display name (`X509v3 Basic Constraints`), or the OID when unknown. */
  name: string;
  critical: boolean;
}

/** A decoded extension; `kind` says which fields are present. */
export type ExtensionDescription = ExtensionBase &
  (
    | { kind: 'basicConstraints'; ca: boolean; pathLenConstraint?: number }
    | { kind: 'keyUsage'; usages: KeyUsageName[] }
    | { kind: 'extendedKeyUsage'; purposes: EkuDescription[] }
    | { kind: 'subjectKeyIdentifier'; keyIdentifier: string }
    | {
        kind: 'authorityKeyIdentifier';
        keyIdentifier?: string;
        authorityCertIssuer?: GeneralNameDescription[];
        authorityCertSerialNumber?: string;
      }
    | {
        kind: 'subjectAltName' | 'issuerAltName' | 'certificateIssuer';
        names: GeneralNameDescription[];
      }
    | { kind: 'nsCertType'; types: NsCertTypeName[] }
    | { kind: 'nsComment'; comment: string }
    | { kind: 'crlDistributionPoints' | 'freshestCrl'; points: DistributionPointDescription[] }
    | {
        kind: 'authorityInfoAccess' | 'subjectInfoAccess';
        accessDescriptions: AccessDescriptionInfo[];
      }
    | { kind: 'certificatePolicies'; policies: PolicyDescription[] }
    | {
        kind: 'nameConstraints';
        permitted: GeneralNameDescription[];
        excluded: GeneralNameDescription[];
      }
    | { kind: 'policyConstraints'; requireExplicitPolicy?: number; inhibitPolicyMapping?: number }
    | { kind: 'inhibitAnyPolicy'; skipCerts: number }
    | { kind: 'crlNumber' | 'deltaCrlIndicator'; number: string }
    | { kind: 'crlReason'; code: number; reason: string }
    | { kind: 'invalidityDate'; date: string }
    | { kind: 'ocspNoCheck' }
    | { kind: 'tlsFeature'; features: string[] }
    | {
        kind: 'unknown';
        /** The extnValue contents, lower-case hex. */
        hex: string;
        /** Why a known extension could not be decoded, if that was the case. */
        error?: string;
      }
  );

/** The extension kinds. */
export type ExtensionKind = ExtensionDescription['kind'];

const TLS_FEATURES: Readonly<Record<number, string>> = {
  5: 'status_request',
  17: 'status_request_v2',
};

function ekuOf(oid: string): EkuDescription {
  const n = ekuNames(oid);
  return n ? { oid, name: n.short, text: n.long } : { oid, text: oid };
}

function decodeDistributionPoints(value: Buffer, what: string): DistributionPointDescription[] {
  return childrenOf(readWhole(value, what), TAG.sequence, what).map((dpEl) => {
    const dp: DistributionPointDescription = {};
    for (const f of childrenOf(dpEl, TAG.sequence, what)) {
      if (f.tag === 0xa0) {
        const [choice] = readDerChildren(f.content, what);
        if (choice?.tag === 0xa0) dp.fullName = decodeGeneralNames(choice.content, what);
        else if (choice?.tag === 0xa1) {
          // RelativeDistinguishedName: wrap as a one-RDN Name to reuse the Name reader.
          dp.relativeName = formatOpenSslText(
            fromX509Name(tlv(TAG.sequence, tlv(TAG.set, choice.content))),
          );
        } else invalid(what, 'bad DistributionPointName');
      } else if (f.tag === 0x81) {
        const bits = bitStringBits({ tag: TAG.bitString, content: f.content, raw: f.raw }, what);
        dp.reasons = bits.map((b) => REASON_FLAGS_DISPLAY[b] ?? `bit ${b}`);
      } else if (f.tag === 0xa2) {
        dp.crlIssuer = decodeGeneralNames(f.content, what);
      } else invalid(what, `unexpected DistributionPoint field 0x${f.tag.toString(16)}`);
    }
    return dp;
  });
}

function displayText(el: DerElement | undefined, what: string): string {
  if (!el) return invalid(what, 'DisplayText missing');
  return decodeString(el, what);
}

function decodePolicies(value: Buffer, what: string): PolicyDescription[] {
  return childrenOf(readWhole(value, what), TAG.sequence, what).map((piEl) => {
    const [idEl, qualsEl] = childrenOf(piEl, TAG.sequence, what);
    const oid = oidOf(idEl, what);
    const qualifiers: PolicyQualifierDescription[] = [];
    for (const q of qualsEl ? childrenOf(qualsEl, TAG.sequence, what) : []) {
      const [qidEl, qv] = childrenOf(q, TAG.sequence, what);
      const qid = oidOf(qidEl, what);
      if (qid === '1.3.6.1.5.5.7.2.1' && qv) {
        qualifiers.push({ type: 'cps', uri: decodeString(qv, what) });
      } else if (qid === '1.3.6.1.5.5.7.2.2') {
        const notice: PolicyQualifierDescription & { type: 'userNotice' } = { type: 'userNotice' };
        for (const part of qv ? childrenOf(qv, TAG.sequence, what) : []) {
          if (part.tag === TAG.sequence) {
            const [org, numbers] = readDerChildren(part.content, what);
            notice.organization = displayText(org, what);
            notice.noticeNumbers = numbers
              ? childrenOf(numbers, TAG.sequence, what).map((n) => integerValue(n, what).toString())
              : [];
          } else notice.explicitText = displayText(part, what);
        }
        qualifiers.push(notice);
      } else {
        qualifiers.push({ type: 'unknown', oid: qid, hex: qv ? hex(qv.raw) : '' });
      }
    }
    return { oid, text: POLICY_NAMES[oid] ?? oid, qualifiers };
  });
}

function decodeSubtrees(el: DerElement, what: string): GeneralNameDescription[] {
  return readDerChildren(el.content, what).map((subtree) => {
    const [base] = childrenOf(subtree, TAG.sequence, what);
    if (!base) return invalid(what, 'empty GeneralSubtree');
    return decodeGeneralName(base, what, true);
  });
}

function decodeKnown(
  short: string,
  value: Buffer,
  what: string,
): Record<string, unknown> & { kind: ExtensionKind } {
  switch (short) {
    case 'basicConstraints': {
      const fields = childrenOf(readWhole(value, what), TAG.sequence, what);
      let ca = false;
      let pathLenConstraint: number | undefined;
      for (const f of fields) {
        if (f.tag === TAG.boolean) ca = f.content[0] !== 0;
        else if (f.tag === TAG.integer) pathLenConstraint = smallInteger(f, what);
        else invalid(what, 'unexpected field');
      }
      return {
        kind: 'basicConstraints',
        ca,
        ...(pathLenConstraint !== undefined ? { pathLenConstraint } : {}),
      };
    }
    case 'keyUsage': {
      const bits = bitStringBits(readWhole(value, what), what);
      return {
        kind: 'keyUsage',
        usages: bits.flatMap((b) => {
          // Bits past decipherOnly have no name and are left out.
          const name = KEY_USAGE_NAMES[b];
          return name === undefined ? [] : [name];
        }),
      };
    }
    case 'extendedKeyUsage':
      return {
        kind: 'extendedKeyUsage',
        purposes: childrenOf(readWhole(value, what), TAG.sequence, what).map((e) =>
          ekuOf(oidOf(e, what)),
        ),
      };
    case 'subjectKeyIdentifier': {
      const el = readWhole(value, what);
      if (el.tag !== TAG.octetString) invalid(what, 'expected an OCTET STRING');
      return { kind: 'subjectKeyIdentifier', keyIdentifier: hex(el.content) };
    }
    case 'authorityKeyIdentifier': {
      const out: Record<string, unknown> & { kind: ExtensionKind } = {
        kind: 'authorityKeyIdentifier',
      };
      for (const f of childrenOf(readWhole(value, what), TAG.sequence, what)) {
        if (f.tag === 0x80) out.keyIdentifier = hex(f.content);
        else if (f.tag === 0xa1) out.authorityCertIssuer = decodeGeneralNames(f.content, what);
        else if (f.tag === 0x82)
          out.authorityCertSerialNumber = f.content.toString('hex').toUpperCase();
        else invalid(what, 'unexpected field');
      }
      return out;
    }
    case 'subjectAltName':
    case 'issuerAltName':
    case 'certificateIssuer': {
      const el = readWhole(value, what);
      if (el.tag !== TAG.sequence) invalid(what, 'expected GeneralNames');
      return { kind: short, names: decodeGeneralNames(el.content, what) };
    }
    case 'nsCertType': {
      const bits = bitStringBits(readWhole(value, what), what);
      return {
        kind: 'nsCertType',
        types: bits.flatMap((b) => {
          const name = NS_CERT_TYPE_NAMES[b];
          return name === undefined ? [] : [name];
        }),
      };
    }
    case 'nsComment':
      return { kind: 'nsComment', comment: decodeString(readWhole(value, what), what) };
    case 'crlDistributionPoints':
    case 'freshestCrl':
      return { kind: short, points: decodeDistributionPoints(value, what) };
    case 'authorityInfoAccess':
    case 'subjectInfoAccess':
      return {
        kind: short,
        accessDescriptions: childrenOf(readWhole(value, what), TAG.sequence, what).map((ad) => {
          const [m, loc] = childrenOf(ad, TAG.sequence, what);
          const methodOid = oidOf(m, what);
          if (!loc) return invalid(what, 'AccessDescription without a location');
          return {
            methodOid,
            method: ACCESS_METHODS[methodOid]?.short ?? methodOid,
            location: decodeGeneralName(loc, what),
          };
        }),
      };
    case 'certificatePolicies':
      return { kind: 'certificatePolicies', policies: decodePolicies(value, what) };
    case 'nameConstraints': {
      let permitted: GeneralNameDescription[] = [];
      let excluded: GeneralNameDescription[] = [];
      for (const f of childrenOf(readWhole(value, what), TAG.sequence, what)) {
        if (f.tag === 0xa0) permitted = decodeSubtrees(f, what);
        else if (f.tag === 0xa1) excluded = decodeSubtrees(f, what);
        else invalid(what, 'unexpected field');
      }
      return { kind: 'nameConstraints', permitted, excluded };
    }
    case 'policyConstraints': {
      const out: Record<string, unknown> & { kind: ExtensionKind } = { kind: 'policyConstraints' };
      for (const f of childrenOf(readWhole(value, what), TAG.sequence, what)) {
        const n = smallInteger({ tag: TAG.integer, content: f.content, raw: f.raw }, what);
        if (f.tag === 0x80) out.requireExplicitPolicy = n;
        else if (f.tag === 0x81) out.inhibitPolicyMapping = n;
        else invalid(what, 'unexpected field');
      }
      return out;
    }
    case 'inhibitAnyPolicy':
      return { kind: 'inhibitAnyPolicy', skipCerts: smallInteger(readWhole(value, what), what) };
    case 'crlNumber':
    case 'deltaCrlIndicator':
      return { kind: short, number: integerValue(readWhole(value, what), what).toString() };
    case 'crlReason': {
      const el = readWhole(value, what);
      if (el.tag !== 0x0a) invalid(what, 'expected ENUMERATED');
      const code = smallInteger({ tag: TAG.integer, content: el.content, raw: el.raw }, what);
      return { kind: 'crlReason', code, reason: CRL_REASONS[code]?.name ?? `reason${code}` };
    }
    case 'invalidityDate':
      return { kind: 'invalidityDate', date: isoDate(decodeTime(readWhole(value, what), what)) };
    case 'ocspNoCheck':
      return { kind: 'ocspNoCheck' };
    case 'tlsFeature':
      // RFC 7633 §6: SEQUENCE OF INTEGER (TLS extension numbers).
      return {
        kind: 'tlsFeature',
        features: childrenOf(readWhole(value, what), TAG.sequence, what).map((f) => {
          const n = smallInteger(f, what);
          return TLS_FEATURES[n] ?? String(n);
        }),
      };
    default:
      return { kind: 'unknown', hex: hex(value) };
  }
}

/**
 * Decodes one extension. Unknown OIDs, and known extensions whose value is
 * malformed, come back as `kind: 'unknown'` with the hex value (and `error`).
 */
export function decodeExtension(
  oid: string,
  critical: boolean,
  value: Buffer,
): ExtensionDescription {
  const known = EXTENSION_NAMES[oid];
  const base: ExtensionBase = { oid, name: known?.display ?? oid, critical };
  if (!known) return { ...base, kind: 'unknown', hex: hex(value) };
  try {
    // decodeKnown returns each variant's fields next to its `kind` (one switch case per kind),
    // but through a loose Record type the union cannot be checked against; the cast names it.
    return { ...base, ...decodeKnown(known.short, value, known.display) } as ExtensionDescription;
  } catch (e) {
    if (!(e instanceof MtlsError)) throw e;
    return { ...base, kind: 'unknown', hex: hex(value), error: e.message };
  }
}

/**
 * Decodes an `Extensions` SEQUENCE (RFC 5280 §4.1: SEQUENCE OF Extension).
 * @throws MTLS_DER_INVALID when the list itself is malformed
 */
export function decodeExtensions(seq: DerElement, what: string): ExtensionDescription[] {
  return childrenOf(seq, TAG.sequence, what).map((extEl) => {
    const fields = childrenOf(extEl, TAG.sequence, what);
    const oid = oidOf(fields[0], what);
    let critical = false;
    let valueEl = fields[1];
    if (valueEl?.tag === TAG.boolean) {
      critical = valueEl.content[0] !== 0;
      valueEl = fields[2];
    }
    if (!valueEl || valueEl.tag !== TAG.octetString)
      invalid(what, `extension ${oid} has no OCTET STRING value`);
    return decodeExtension(oid, critical, valueEl.content);
  });
}
