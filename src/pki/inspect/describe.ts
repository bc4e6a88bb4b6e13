/**
 * Structured, JSON-safe descriptions of certificates (RFC 5280 §4.1), CSRs
 * (RFC 2986 §4) and CRLs (RFC 5280 §5.1), read straight from their DER so
 * that every field `openssl x509|req|crl -text` shows is present.
 */
import type * as x509 from '@peculiar/x509';
import { MtlsError } from '../../errors/index.js';
import { fingerprintSha256, toNodeCertificate } from '../certificate.js';
import { crlNumberOf } from '../crl.js';
import { verifyCsrSignature, type ParsedCsr } from '../csr.js';
import { formatOpenSslText, formatRfc4514, type DistinguishedName } from '../names.js';
import { fromX509Name } from '../x509-name.js';
import {
  TAG,
  bitStringBytes,
  childrenOf,
  decodeString,
  decodeTime,
  hex,
  integerHex,
  integerIsNegative,
  invalid,
  isoDate,
  oidOf,
  readWhole,
  smallInteger,
} from './asn1.js';
import { decodeExtensions, type ExtensionDescription } from './extensions.js';
import { CSR_ATTRIBUTE_NAMES, CRL_REASONS, algorithmName } from './oid-names.js';
import { describePublicKey, type PublicKeyDescription } from './public-key.js';
import type { DerElement } from '../der.js';
import { errorMessage } from '../../errors/mtls-error.js';

/** A distinguished name in three forms. */
export interface NameDescription {
  /** As `openssl x509 -text` prints it: `C = BR, ST = SP, O = Acme, CN = x`. */
  text: string;
  /** RFC 4514 (`CN=x,O=Acme,ST=SP,C=BR`). */
  rfc4514: string;
  /** The attributes, most significant first. */
  dn: DistinguishedName;
}

/** RSASSA-PSS parameters (RFC 4055 §3.1), defaults filled in. */
export interface PssParameters {
  /** Digest name (`sha256`) or OID. */
  hash: string;
  /** Mask generation: `mgf1` and its digest. */
  maskGeneration: string;
  maskHash: string;
  saltLength: number;
  trailerField: number;
}

/** A signature or algorithm identifier. */
export interface AlgorithmDescription {
  oid: string;
  /** OpenSSL's name (`sha256WithRSAEncryption`, `ecdsa-with-SHA256`, `ED25519`) or the OID. */
  name: string;
  /** For rsassaPss. */
  pss?: PssParameters;
}

/** A described X.509 certificate. Binary values are lower-case hex unless noted. */
export interface CertificateDescription {
  type: 'certificate';
  /** 1, 2 or 3. */
  version: number;
  /** Upper-case hex, no leading zero bytes (as index.txt and newcerts/ use it). */
  serialNumber: string;
  /** True when the serial is a negative INTEGER (RFC 5280 §4.1.2.2 forbids it). */
  serialNegative: boolean;
  signatureAlgorithm: AlgorithmDescription;
  issuer: NameDescription;
  subject: NameDescription;
  /** ISO-8601 UTC. */
  notBefore: string;
  notAfter: string;
  publicKey: PublicKeyDescription;
  extensions: ExtensionDescription[];
  /** The outer signature: algorithm and value (hex). */
  signature: AlgorithmDescription & { value: string };
  /** Upper-case colon-separated, as `openssl x509 -fingerprint` prints them. */
  fingerprints: { sha256: string; sha1: string };
  /** Issuer and subject are the same name (RFC 5280 §3.3 "self-issued"). */
  selfIssued: boolean;
  /** basicConstraints CA:TRUE is present. */
  isCa: boolean;
}

/** A non-extension CSR attribute (RFC 2985 §5.4). */
export interface CsrAttributeDescription {
  oid: string;
  name: string;
  /** Text values; a challengePassword is never shown (`(hidden)`). */
  values: string[];
}

/** A described PKCS#10 request. */
export interface CsrDescription {
  type: 'csr';
  /** PKCS#10 version number as encoded (0 means v1). */
  version: number;
  subject: NameDescription;
  publicKey: PublicKeyDescription;
  attributes: CsrAttributeDescription[];
  /** Extensions of the extensionRequest attribute (RFC 2985 §5.4.2). */
  requestedExtensions: ExtensionDescription[];
  signatureAlgorithm: AlgorithmDescription;
  signature: AlgorithmDescription & { value: string };
  /** Whether the self-signature verifies with the request's own key (RFC 2986 §3, proof of possession). */
  signatureValid: boolean;
}

/** One revoked certificate of a CRL. */
export interface RevokedCertificateDescription {
  /** Upper-case hex, no leading zero bytes. */
  serialNumber: string;
  /** ISO-8601 UTC. */
  revocationDate: string;
  /** RFC 5280 §5.3.1 reason name (`keyCompromise` …), when the entry has a reasonCode. */
  reason?: string;
  /** ISO-8601 invalidity date (RFC 5280 §5.3.2), when present. */
  invalidityDate?: string;
  extensions: ExtensionDescription[];
}

/** A described CRL. */
export interface CrlDescription {
  type: 'crl';
  /** 1 or 2. */
  version: number;
  signatureAlgorithm: AlgorithmDescription;
  issuer: NameDescription;
  /** ISO-8601 UTC (OpenSSL's "Last Update"). */
  thisUpdate: string;
  nextUpdate?: string;
  /** crlNumber in decimal (RFC 5280 §5.2.3). */
  crlNumber?: string;
  /** authorityKeyIdentifier keyIdentifier (hex), to match the issuer's SKI (RFC 5280 §5.2.1). */
  authorityKeyIdentifier?: string;
  extensions: ExtensionDescription[];
  revoked: RevokedCertificateDescription[];
  signature: AlgorithmDescription & { value: string };
}

/** Any described object. */
export type PkiObjectDescription = CertificateDescription | CsrDescription | CrlDescription;

function nameOf(el: DerElement | undefined, what: string): NameDescription {
  if (!el || el.tag !== TAG.sequence) invalid(what, 'expected a Name');
  let dn: DistinguishedName;
  try {
    dn = fromX509Name(el.raw);
  } catch (e) {
    if (e instanceof MtlsError) throw e;
    return invalid(what, `malformed Name (${errorMessage(e)})`);
  }
  return { text: formatOpenSslText(dn), rfc4514: formatRfc4514(dn), dn };
}

const DIGESTS: Readonly<Record<string, string>> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.4': 'sha224',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};
const MGF1 = '1.2.840.113549.1.1.8';
const RSASSA_PSS = '1.2.840.113549.1.1.10';

function digestOf(el: DerElement | undefined, what: string): string {
  const [oidEl] = childrenOf(el, TAG.sequence, what);
  const oid = oidOf(oidEl, what);
  return DIGESTS[oid] ?? oid;
}

/** RSASSA-PSS-params (RFC 4055 §3.1): every field is optional with a SHA-1 / 20-byte default. */
function pssParameters(params: DerElement, what: string): PssParameters {
  const out: PssParameters = {
    hash: 'sha1',
    maskGeneration: 'mgf1',
    maskHash: 'sha1',
    saltLength: 20,
    trailerField: 1,
  };
  for (const f of childrenOf(params, TAG.sequence, what)) {
    const [inner] = childrenOf(f, f.tag, what);
    if (f.tag === 0xa0) out.hash = digestOf(inner, what);
    else if (f.tag === 0xa1) {
      const [mgfOid, mgfParams] = childrenOf(inner, TAG.sequence, what);
      const oid = oidOf(mgfOid, what);
      out.maskGeneration = oid === MGF1 ? 'mgf1' : oid;
      if (mgfParams) out.maskHash = digestOf(mgfParams, what);
    } else if (f.tag === 0xa2) out.saltLength = smallInteger(inner, what);
    else if (f.tag === 0xa3) out.trailerField = smallInteger(inner, what);
  }
  return out;
}

function algorithmOf(el: DerElement | undefined, what: string): AlgorithmDescription {
  const [oidEl, params] = childrenOf(el, TAG.sequence, what);
  const oid = oidOf(oidEl, what);
  if (oid === RSASSA_PSS && params && params.tag === TAG.sequence)
    return { oid, name: algorithmName(oid), pss: pssParameters(params, what) };
  return { oid, name: algorithmName(oid) };
}

function signatureOf(
  algEl: DerElement | undefined,
  sigEl: DerElement | undefined,
  what: string,
): AlgorithmDescription & { value: string } {
  return { ...algorithmOf(algEl, what), value: hex(bitStringBytes(sigEl, `${what} signature`)) };
}

function explicitExtensions(el: DerElement, what: string): ExtensionDescription[] {
  const [seq] = childrenOf(el, el.tag, what);
  if (!seq) invalid(what, 'empty extensions wrapper');
  return decodeExtensions(seq, what);
}

function fingerprintsOf(cert: x509.X509Certificate): { sha256: string; sha1: string } {
  try {
    return { sha256: fingerprintSha256(cert), sha1: toNodeCertificate(cert).fingerprint };
  } catch (e) {
    throw new MtlsError(
      'MTLS_DER_INVALID',
      `certificate is not readable by OpenSSL (${errorMessage(e)})`,
      { subject: 'certificate', cause: e },
    );
  }
}

/**
 * Describes a certificate: every field `openssl x509 -text` shows, plus
 * SHA-256 and SHA-1 fingerprints.
 * @throws MTLS_DER_INVALID when the DER is malformed
 */
export function describeCertificate(cert: x509.X509Certificate): CertificateDescription {
  const what = 'certificate';
  const der = Buffer.from(cert.rawData);
  const [tbsEl, sigAlgEl, sigEl] = childrenOf(readWhole(der, what), TAG.sequence, what);
  const tbs = childrenOf(tbsEl, TAG.sequence, `${what} TBSCertificate`);
  let i = 0;
  let version = 1;
  if (tbs[0]?.tag === 0xa0) {
    const [v] = childrenOf(tbs[0], 0xa0, `${what} version`);
    version = smallInteger(v, `${what} version`) + 1;
    i = 1;
  }
  const serialEl = tbs[i];
  if (!serialEl || serialEl.tag !== TAG.integer) invalid(what, 'serialNumber missing');
  const signatureAlgorithm = algorithmOf(tbs[i + 1], `${what} signature algorithm`);
  const issuer = nameOf(tbs[i + 2], `${what} issuer`);
  const [nb, na] = childrenOf(tbs[i + 3], TAG.sequence, `${what} validity`);
  const subject = nameOf(tbs[i + 4], `${what} subject`);
  const spkiEl = tbs[i + 5];
  if (!spkiEl) invalid(what, 'subjectPublicKeyInfo missing');
  const publicKey = describePublicKey(spkiEl.raw, `${what} public key`);
  const extEl = tbs.slice(i + 6).find((e) => e.tag === 0xa3);
  const extensions = extEl ? explicitExtensions(extEl, `${what} extensions`) : [];
  const bc = extensions.find((e) => e.kind === 'basicConstraints');
  return {
    type: 'certificate',
    version,
    serialNumber: integerHex(serialEl.content),
    serialNegative: integerIsNegative(serialEl.content),
    signatureAlgorithm,
    issuer,
    subject,
    notBefore: isoDate(decodeTime(nb, `${what} notBefore`)),
    notAfter: isoDate(decodeTime(na, `${what} notAfter`)),
    publicKey,
    extensions,
    signature: signatureOf(sigAlgEl, sigEl, what),
    fingerprints: fingerprintsOf(cert),
    selfIssued:
      Buffer.compare(tbs[i + 2]?.raw ?? Buffer.alloc(0), tbs[i + 4]?.raw ?? Buffer.alloc(1)) ===
        0 || issuer.rfc4514 === subject.rfc4514,
    isCa: bc?.kind === 'basicConstraints' && bc.ca,
  };
}

const EXTENSION_REQUEST = '1.2.840.113549.1.9.14';
const CHALLENGE_PASSWORD = '1.2.840.113549.1.9.7';

/**
 * Describes a CSR and checks its self-signature.
 * @throws MTLS_DER_INVALID when the DER is malformed
 */
export async function describeCsr(csr: ParsedCsr): Promise<CsrDescription> {
  const what = 'CSR';
  const [infoEl, sigAlgEl, sigEl] = childrenOf(readWhole(csr.der, what), TAG.sequence, what);
  const [versionEl, subjectEl, spkiEl, attrsEl] = childrenOf(
    infoEl,
    TAG.sequence,
    `${what} CertificationRequestInfo`,
  );
  if (!spkiEl) invalid(what, 'subjectPublicKeyInfo missing');
  const attributes: CsrAttributeDescription[] = [];
  let requestedExtensions: ExtensionDescription[] = [];
  for (const attr of attrsEl && attrsEl.tag === 0xa0
    ? childrenOf(attrsEl, 0xa0, `${what} attributes`)
    : []) {
    const [typeEl, valuesEl] = childrenOf(attr, TAG.sequence, `${what} attribute`);
    const oid = oidOf(typeEl, `${what} attribute`);
    const values = childrenOf(valuesEl, TAG.set, `${what} attribute ${oid}`);
    if (oid === EXTENSION_REQUEST) {
      const [seq] = values;
      if (seq) requestedExtensions = decodeExtensions(seq, `${what} extensionRequest`);
      continue;
    }
    attributes.push({
      oid,
      name: CSR_ATTRIBUTE_NAMES[oid] ?? oid,
      values: values.map((v) => {
        if (oid === CHALLENGE_PASSWORD) return '(hidden)';
        try {
          return decodeString(v, `${what} attribute ${oid}`);
        } catch {
          return hex(v.raw);
        }
      }),
    });
  }
  let signatureValid = true;
  try {
    await verifyCsrSignature(csr, what);
  } catch {
    signatureValid = false;
  }
  return {
    type: 'csr',
    version: smallInteger(versionEl, `${what} version`),
    subject: nameOf(subjectEl, `${what} subject`),
    publicKey: describePublicKey(spkiEl.raw, `${what} public key`),
    attributes,
    requestedExtensions,
    signatureAlgorithm: algorithmOf(sigAlgEl, `${what} signature algorithm`),
    signature: signatureOf(sigAlgEl, sigEl, what),
    signatureValid,
  };
}

/**
 * Describes a CRL: issuer, dates, crlNumber, AKI, every revoked serial with
 * its date and reason. The CRL's signature is not checked here (that needs
 * the issuer's certificate).
 * @throws MTLS_DER_INVALID when the DER is malformed
 */
export function describeCrl(crl: x509.X509Crl): CrlDescription {
  const what = 'CRL';
  const der = Buffer.from(crl.rawData);
  const [tbsEl, sigAlgEl, sigEl] = childrenOf(readWhole(der, what), TAG.sequence, what);
  const tbs = childrenOf(tbsEl, TAG.sequence, `${what} TBSCertList`);
  let i = 0;
  let version = 1;
  if (tbs[0]?.tag === TAG.integer) {
    version = smallInteger(tbs[0], `${what} version`) + 1;
    i = 1;
  }
  const signatureAlgorithm = algorithmOf(tbs[i], `${what} signature algorithm`);
  const issuer = nameOf(tbs[i + 1], `${what} issuer`);
  const thisUpdate = isoDate(decodeTime(tbs[i + 2], `${what} thisUpdate`));
  let j = i + 3;
  let nextUpdate: string | undefined;
  const maybeNext = tbs[j];
  if (maybeNext && (maybeNext.tag === TAG.utcTime || maybeNext.tag === TAG.generalizedTime)) {
    nextUpdate = isoDate(decodeTime(maybeNext, `${what} nextUpdate`));
    j++;
  }
  const revoked: RevokedCertificateDescription[] = [];
  let extensions: ExtensionDescription[] = [];
  for (const el of tbs.slice(j)) {
    if (el.tag === TAG.sequence) {
      for (const entry of childrenOf(el, TAG.sequence, `${what} revokedCertificates`)) {
        const [serialEl, dateEl, entryExtEl] = childrenOf(entry, TAG.sequence, `${what} entry`);
        if (!serialEl || serialEl.tag !== TAG.integer) invalid(`${what} entry`, 'serial missing');
        const entryExts = entryExtEl
          ? decodeExtensions(entryExtEl, `${what} entry extensions`)
          : [];
        const reasonExt = entryExts.find((e) => e.kind === 'crlReason');
        const invalidity = entryExts.find((e) => e.kind === 'invalidityDate');
        revoked.push({
          serialNumber: integerHex(serialEl.content),
          revocationDate: isoDate(decodeTime(dateEl, `${what} revocationDate`)),
          ...(reasonExt?.kind === 'crlReason'
            ? { reason: CRL_REASONS[reasonExt.code]?.name ?? reasonExt.reason }
            : {}),
          ...(invalidity?.kind === 'invalidityDate' ? { invalidityDate: invalidity.date } : {}),
          extensions: entryExts,
        });
      }
    } else if (el.tag === 0xa0) {
      extensions = explicitExtensions(el, `${what} extensions`);
    } else invalid(what, `unexpected TBSCertList field 0x${el.tag.toString(16)}`);
  }
  const crlNumber = crlNumberOf(crl);
  const aki = extensions.find((e) => e.kind === 'authorityKeyIdentifier');
  return {
    type: 'crl',
    version,
    signatureAlgorithm,
    issuer,
    thisUpdate,
    ...(nextUpdate ? { nextUpdate } : {}),
    ...(crlNumber !== undefined ? { crlNumber: crlNumber.toString() } : {}),
    ...(aki?.kind === 'authorityKeyIdentifier' && aki.keyIdentifier
      ? { authorityKeyIdentifier: aki.keyIdentifier }
      : {}),
    extensions,
    revoked,
    signature: signatureOf(sigAlgEl, sigEl, what),
  };
}
