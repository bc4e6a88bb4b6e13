/**
 * Turns an {@link ExtensionProfile} into the DER extensions of one certificate,
 * as `openssl ca -extensions SECTION` would (x509v3_config(5)).
 */
import { createHash, type KeyObject } from 'node:crypto';
import { publicKeyOf } from './keys.js';
import * as x509 from '@peculiar/x509';
import { MtlsError } from '../errors/index.js';
import { derBitString, derIa5String, readDer, readDerChildren, tlv } from './der.js';
import { dnValues, parseSubject, type DistinguishedName } from './names.js';
import {
  EKU_OIDS,
  KEY_USAGE_NAMES,
  NS_CERT_TYPE_NAMES,
  type ExtensionProfile,
  type GeneralNameSpec,
} from './profile.js';
import { toX509Name } from './x509-name.js';

/** OIDs of extensions mtlskit builds raw. */
export const EXT_OID = {
  nsCertType: '2.16.840.1.113730.1.1',
  nsComment: '2.16.840.1.113730.1.13',
  crlNumber: '2.5.29.20',
} as const;

/** The issuer side of extension building. */
export interface IssuerContext {
  /** The issuer's certificate; absent for a self-signed certificate. */
  certificate?: x509.X509Certificate;
  /** The issuer's public key (for a self-signed certificate: the subject key). */
  publicKey: KeyObject;
}

/** Inputs for {@link buildExtensions}. */
export interface BuildExtensionsOptions {
  profile: ExtensionProfile;
  /** The new certificate's public key. */
  subjectPublicKey: KeyObject;
  /** The new certificate's subject (for `email:copy`). */
  subject: DistinguishedName;
  issuer: IssuerContext;
  /** Extra subjectAltName entries (from the CSR or the command line) appended to the profile's. */
  extraSubjectAltNames?: GeneralNameSpec[];
}

/**
 * Computes a key identifier: SHA-1 of the subjectPublicKey BIT STRING
 * (RFC 5280 §4.2.1.2, method 1), as OpenSSL's `hash` does.
 */
export function keyIdentifier(publicKey: KeyObject): Buffer {
  const spki = publicKeyOf(publicKey).export({ format: 'der', type: 'spki' });
  // SubjectPublicKeyInfo ::= SEQUENCE { algorithm, subjectPublicKey BIT STRING }
  const [, bits] = readDerChildren(readDer(spki, 0, 'public key').content, 'public key');
  if (!bits)
    throw new MtlsError(
      'MTLS_DER_INVALID',
      'public key: SubjectPublicKeyInfo has no subjectPublicKey',
    );
  return createHash('sha1').update(bits.content.subarray(1)).digest();
}

/** Converts profile GeneralNames to @peculiar/x509 JSON form. */
export function toGeneralNames(
  specs: GeneralNameSpec[],
  subject: DistinguishedName,
): x509.JsonGeneralName[] {
  const out: x509.JsonGeneralName[] = [];
  for (const s of specs) {
    switch (s.type) {
      case 'dns':
        out.push({ type: 'dns', value: s.value });
        break;
      case 'ip':
        out.push({ type: 'ip', value: s.value });
        break;
      case 'email':
        out.push({ type: 'email', value: s.value });
        break;
      case 'uri':
        out.push({ type: 'url', value: s.value });
        break;
      case 'rid':
        out.push({ type: 'id', value: s.value });
        break;
      case 'dirName':
        out.push({ type: 'dn', value: toX509Name(parseSubject(s.value)).toString() });
        break;
      case 'emailCopy':
        for (const e of dnValues(subject, 'emailAddress')) out.push({ type: 'email', value: e });
        break;
    }
  }
  return out;
}

function nsCertTypeExtension(names: readonly string[]): x509.Extension {
  const bits = names.map((n) => {
    const i = NS_CERT_TYPE_NAMES.findIndex((t) => t === n);
    if (i < 0)
      throw new MtlsError('MTLS_CONFIG_INVALID', `unknown nsCertType "${n}"`, {
        subject: 'nsCertType',
      });
    return i;
  });
  return new x509.Extension(EXT_OID.nsCertType, false, derBitString(bits));
}

/**
 * Builds the extensions for one certificate from a profile.
 * @throws MTLS_CONFIG_INVALID when the profile asks for something impossible
 *   (authorityKeyIdentifier keyid:always without an issuer key id)
 */
export function buildExtensions(options: BuildExtensionsOptions): x509.Extension[] {
  const { profile, subjectPublicKey, subject, issuer } = options;
  const exts: x509.Extension[] = [];
  if (profile.basicConstraints) {
    const bc = profile.basicConstraints;
    exts.push(new x509.BasicConstraintsExtension(bc.value.ca, bc.value.pathLen, bc.critical));
  }
  if (profile.keyUsage) {
    let flags = 0;
    for (const u of profile.keyUsage.value) flags |= 1 << KEY_USAGE_NAMES.indexOf(u);
    // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment -- the library takes a bit mask of KeyUsageFlags, which is a number, not one member
    exts.push(new x509.KeyUsagesExtension(flags, profile.keyUsage.critical));
  }
  if (profile.extendedKeyUsage) {
    const oids = profile.extendedKeyUsage.value.map((u) => EKU_OIDS[u] ?? u);
    exts.push(new x509.ExtendedKeyUsageExtension(oids, profile.extendedKeyUsage.critical));
  }
  if (profile.nsCertType?.length) exts.push(nsCertTypeExtension(profile.nsCertType));
  if (profile.nsComment !== undefined)
    exts.push(new x509.Extension(EXT_OID.nsComment, false, derIa5String(profile.nsComment)));
  if (profile.subjectKeyIdentifier === 'hash') {
    exts.push(
      new x509.SubjectKeyIdentifierExtension(keyIdentifier(subjectPublicKey).toString('hex')),
    );
  }
  if (profile.authorityKeyIdentifier) {
    const aki = authorityKeyIdentifier(profile.authorityKeyIdentifier, issuer);
    if (aki) exts.push(aki);
  }
  const sans = [...(profile.subjectAltName?.value ?? []), ...(options.extraSubjectAltNames ?? [])];
  if (sans.length) {
    const names = toGeneralNames(sans, subject);
    if (names.length)
      exts.push(
        new x509.SubjectAlternativeNameExtension(names, profile.subjectAltName?.critical ?? false),
      );
  }
  if (profile.issuerAltName?.value.length) {
    exts.push(
      new x509.Extension(
        '2.5.29.18',
        profile.issuerAltName.critical,
        new x509.GeneralNames(toGeneralNames(profile.issuerAltName.value, subject)).rawData,
      ),
    );
  }
  if (profile.crlDistributionPoints?.length) {
    const uris = profile.crlDistributionPoints.flatMap((g) => (g.type === 'uri' ? [g.value] : []));
    if (uris.length !== profile.crlDistributionPoints.length) {
      throw new MtlsError(
        'MTLS_CONFIG_UNSUPPORTED',
        `profile ${profile.name}: crlDistributionPoints supports URI names only`,
      );
    }
    exts.push(new x509.CRLDistributionPointsExtension(uris));
  }
  if (profile.authorityInfoAccess?.length) {
    const params: { ocsp: x509.GeneralName[]; caIssuers: x509.GeneralName[] } = {
      ocsp: [],
      caIssuers: [],
    };
    for (const a of profile.authorityInfoAccess) {
      const [g] = toGeneralNames([a.location], subject);
      if (g)
        params[a.method === 'OCSP' ? 'ocsp' : 'caIssuers'].push(
          new x509.GeneralName(g.type, g.value),
        );
    }
    exts.push(new x509.AuthorityInfoAccessExtension(params));
  }
  if (profile.certificatePolicies?.value.length) {
    exts.push(
      new x509.CertificatePolicyExtension(
        profile.certificatePolicies.value,
        profile.certificatePolicies.critical,
      ),
    );
  }
  return exts;
}

function authorityKeyIdentifier(
  spec: NonNullable<ExtensionProfile['authorityKeyIdentifier']>,
  issuer: IssuerContext,
): x509.Extension | undefined {
  let keyId: string | undefined;
  if (spec.keyid) {
    const ski = issuer.certificate?.getExtension(x509.SubjectKeyIdentifierExtension);
    keyId = ski
      ? ski.keyId
      : issuer.certificate
        ? undefined
        : keyIdentifier(issuer.publicKey).toString('hex');
    if (!keyId && spec.keyid === 'always') {
      throw new MtlsError(
        'MTLS_CONFIG_INVALID',
        'authorityKeyIdentifier = keyid:always, but the issuer certificate has no subjectKeyIdentifier',
        {
          hint: 'Re-issue the CA certificate with subjectKeyIdentifier = hash, or use keyid without :always.',
        },
      );
    }
  }
  // RFC 5280 §4.2.1.1; OpenSSL adds issuer+serial when asked "always", or when
  // "issuer" is given and no key id could be had.
  const wantIssuer =
    (spec.issuer === 'always' || (spec.issuer === 'ifAvailable' && !keyId)) &&
    issuer.certificate !== undefined;
  if (!keyId && !wantIssuer) return undefined;
  return new x509.Extension(
    '2.5.29.35',
    false,
    encodeAki(keyId, wantIssuer ? issuer.certificate : undefined),
  );
}

/**
 * AuthorityKeyIdentifier ::= SEQUENCE { [0] keyIdentifier, [1] authorityCertIssuer
 * GeneralNames, [2] authorityCertSerialNumber } (RFC 5280 §4.2.1.1). The serial is
 * the issuer certificate's positive INTEGER content, a leading 00 restored when
 * its top bit is set (the library's hex form drops it).
 */
function encodeAki(
  keyIdHex: string | undefined,
  issuerCert: x509.X509Certificate | undefined,
): Buffer {
  const parts: Buffer[] = [];
  if (keyIdHex) parts.push(tlv(0x80, Buffer.from(keyIdHex, 'hex')));
  if (issuerCert) {
    const hex =
      issuerCert.serialNumber.length % 2 ? `0${issuerCert.serialNumber}` : issuerCert.serialNumber;
    let serial = Buffer.from(hex, 'hex');
    if (((serial[0] ?? 0) & 0x80) !== 0) serial = Buffer.concat([Buffer.from([0]), serial]);
    parts.push(
      tlv(0xa1, tlv(0xa4, Buffer.from(issuerCert.issuerName.toArrayBuffer()))),
      tlv(0x82, serial),
    );
  }
  return tlv(0x30, Buffer.concat(parts));
}
