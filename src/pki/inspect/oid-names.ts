/**
 * Display names for the OIDs a certificate, CSR or CRL carries, spelled as
 * OpenSSL 3.0 prints them (its `objects.txt` short and long names), so that
 * `mtls cert show` reads like `openssl x509 -text`.
 */
import { EKU_OIDS } from '../profile.js';

/** Signature and public-key algorithm names (OpenSSL's long names). */
export const ALGORITHM_NAMES: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.1.1': 'rsaEncryption',
  '1.2.840.113549.1.1.2': 'md2WithRSAEncryption',
  '1.2.840.113549.1.1.4': 'md5WithRSAEncryption',
  '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption',
  '1.2.840.113549.1.1.10': 'rsassaPss',
  '1.2.840.113549.1.1.11': 'sha256WithRSAEncryption',
  '1.2.840.113549.1.1.12': 'sha384WithRSAEncryption',
  '1.2.840.113549.1.1.13': 'sha512WithRSAEncryption',
  '1.2.840.113549.1.1.14': 'sha224WithRSAEncryption',
  '2.16.840.1.101.3.4.3.13': 'RSA-SHA3-224',
  '2.16.840.1.101.3.4.3.14': 'RSA-SHA3-256',
  '2.16.840.1.101.3.4.3.15': 'RSA-SHA3-384',
  '2.16.840.1.101.3.4.3.16': 'RSA-SHA3-512',
  '1.2.840.10045.2.1': 'id-ecPublicKey',
  '1.2.840.10045.4.1': 'ecdsa-with-SHA1',
  '1.2.840.10045.4.3.1': 'ecdsa-with-SHA224',
  '1.2.840.10045.4.3.2': 'ecdsa-with-SHA256',
  '1.2.840.10045.4.3.3': 'ecdsa-with-SHA384',
  '1.2.840.10045.4.3.4': 'ecdsa-with-SHA512',
  '1.3.101.110': 'X25519',
  '1.3.101.111': 'X448',
  '1.3.101.112': 'ED25519',
  '1.3.101.113': 'ED448',
  '1.2.840.10040.4.1': 'dsaEncryption',
  '1.2.840.10040.4.3': 'dsaWithSHA1',
  '2.16.840.1.101.3.4.3.1': 'dsa_with_SHA224',
  '2.16.840.1.101.3.4.3.2': 'dsa_with_SHA256',
};

/** Named curves: OpenSSL's curve name and, when NIST names it, the NIST name (FIPS 186-4 App. D). */
export const CURVES: Readonly<Record<string, { name: string; nist?: string; bits: number }>> = {
  '1.2.840.10045.3.1.1': { name: 'prime192v1', nist: 'P-192', bits: 192 },
  '1.3.132.0.33': { name: 'secp224r1', nist: 'P-224', bits: 224 },
  '1.2.840.10045.3.1.7': { name: 'prime256v1', nist: 'P-256', bits: 256 },
  '1.3.132.0.34': { name: 'secp384r1', nist: 'P-384', bits: 384 },
  '1.3.132.0.35': { name: 'secp521r1', nist: 'P-521', bits: 521 },
  '1.3.132.0.10': { name: 'secp256k1', bits: 256 },
  '1.3.36.3.3.2.8.1.1.7': { name: 'brainpoolP256r1', bits: 256 },
  '1.3.36.3.3.2.8.1.1.11': { name: 'brainpoolP384r1', bits: 384 },
  '1.3.36.3.3.2.8.1.1.13': { name: 'brainpoolP512r1', bits: 512 },
};

/** Extension OIDs: the short name used as the JSON `kind` and OpenSSL's display name. */
export const EXTENSION_NAMES: Readonly<Record<string, { short: string; display: string }>> = {
  '2.5.29.9': {
    short: 'subjectDirectoryAttributes',
    display: 'X509v3 Subject Directory Attributes',
  },
  '2.5.29.14': { short: 'subjectKeyIdentifier', display: 'X509v3 Subject Key Identifier' },
  '2.5.29.15': { short: 'keyUsage', display: 'X509v3 Key Usage' },
  '2.5.29.16': { short: 'privateKeyUsagePeriod', display: 'X509v3 Private Key Usage Period' },
  '2.5.29.17': { short: 'subjectAltName', display: 'X509v3 Subject Alternative Name' },
  '2.5.29.18': { short: 'issuerAltName', display: 'X509v3 Issuer Alternative Name' },
  '2.5.29.19': { short: 'basicConstraints', display: 'X509v3 Basic Constraints' },
  '2.5.29.20': { short: 'crlNumber', display: 'X509v3 CRL Number' },
  '2.5.29.21': { short: 'crlReason', display: 'X509v3 CRL Reason Code' },
  '2.5.29.23': { short: 'holdInstructionCode', display: 'Hold Instruction Code' },
  '2.5.29.24': { short: 'invalidityDate', display: 'Invalidity Date' },
  '2.5.29.27': { short: 'deltaCrlIndicator', display: 'X509v3 Delta CRL Indicator' },
  '2.5.29.28': { short: 'issuingDistributionPoint', display: 'X509v3 Issuing Distribution Point' },
  '2.5.29.29': { short: 'certificateIssuer', display: 'X509v3 Certificate Issuer' },
  '2.5.29.30': { short: 'nameConstraints', display: 'X509v3 Name Constraints' },
  '2.5.29.31': { short: 'crlDistributionPoints', display: 'X509v3 CRL Distribution Points' },
  '2.5.29.32': { short: 'certificatePolicies', display: 'X509v3 Certificate Policies' },
  '2.5.29.33': { short: 'policyMappings', display: 'X509v3 Policy Mappings' },
  '2.5.29.35': { short: 'authorityKeyIdentifier', display: 'X509v3 Authority Key Identifier' },
  '2.5.29.36': { short: 'policyConstraints', display: 'X509v3 Policy Constraints' },
  '2.5.29.37': { short: 'extendedKeyUsage', display: 'X509v3 Extended Key Usage' },
  '2.5.29.46': { short: 'freshestCrl', display: 'X509v3 Freshest CRL' },
  '2.5.29.54': { short: 'inhibitAnyPolicy', display: 'X509v3 Inhibit Any Policy' },
  '1.3.6.1.5.5.7.1.1': { short: 'authorityInfoAccess', display: 'Authority Information Access' },
  '1.3.6.1.5.5.7.1.11': { short: 'subjectInfoAccess', display: 'Subject Information Access' },
  '1.3.6.1.5.5.7.1.24': { short: 'tlsFeature', display: 'TLS Feature' },
  '1.3.6.1.5.5.7.48.1.5': { short: 'ocspNoCheck', display: 'OCSP No Check' },
  '1.3.6.1.4.1.11129.2.4.2': { short: 'ctPrecertificateScts', display: 'CT Precertificate SCTs' },
  '1.3.6.1.4.1.11129.2.4.3': {
    short: 'ctPrecertificatePoison',
    display: 'CT Precertificate Poison',
  },
  '2.16.840.1.113730.1.1': { short: 'nsCertType', display: 'Netscape Cert Type' },
  '2.16.840.1.113730.1.13': { short: 'nsComment', display: 'Netscape Comment' },
};

/** keyUsage bits as OpenSSL prints them (RFC 5280 §4.2.1.3 order). */
export const KEY_USAGE_DISPLAY: readonly string[] = [
  'Digital Signature',
  'Non Repudiation',
  'Key Encipherment',
  'Data Encipherment',
  'Key Agreement',
  'Certificate Sign',
  'CRL Sign',
  'Encipher Only',
  'Decipher Only',
];

/** Netscape cert type bits as OpenSSL prints them. */
export const NS_CERT_TYPE_DISPLAY: readonly string[] = [
  'SSL Client',
  'SSL Server',
  'S/MIME',
  'Object Signing',
  'Unused',
  'SSL CA',
  'S/MIME CA',
  'Object Signing CA',
];

const EKU_LONG: Readonly<Record<string, string>> = {
  serverAuth: 'TLS Web Server Authentication',
  clientAuth: 'TLS Web Client Authentication',
  codeSigning: 'Code Signing',
  emailProtection: 'E-mail Protection',
  timeStamping: 'Time Stamping',
  OCSPSigning: 'OCSP Signing',
  ipsecIKE: 'ipsec Internet Key Exchange',
  msCodeInd: 'Microsoft Individual Code Signing',
  msCodeCom: 'Microsoft Commercial Code Signing',
  msCTLSign: 'Microsoft Trust List Signing',
  msEFS: 'Microsoft Encrypted File System',
  anyExtendedKeyUsage: 'Any Extended Key Usage',
};

/** Extended key usages beyond {@link EKU_OIDS} that OpenSSL names. */
const EXTRA_EKU: Readonly<Record<string, { short: string; long: string }>> = {
  '1.3.6.1.5.5.7.3.5': { short: 'ipsecEndSystem', long: 'IPSec End System' },
  '1.3.6.1.5.5.7.3.6': { short: 'ipsecTunnel', long: 'IPSec Tunnel' },
  '1.3.6.1.5.5.7.3.7': { short: 'ipsecUser', long: 'IPSec User' },
  '1.3.6.1.4.1.311.20.2.2': { short: 'msSmartcardLogin', long: 'Microsoft Smartcard Login' },
  '1.3.6.1.4.1.311.10.3.3': { short: 'msSGC', long: 'Microsoft Server Gated Crypto' },
  '2.16.840.1.113730.4.1': { short: 'nsSGC', long: 'Netscape Server Gated Crypto' },
  '1.3.6.1.5.2.3.4': { short: 'pkInitClientAuth', long: 'PKINIT Client Auth' },
  '1.3.6.1.5.2.3.5': { short: 'pkInitKDC', long: 'Signing KDC Response' },
};

/** Short and long (OpenSSL display) names of an extended key usage OID, when known. */
export function ekuNames(oid: string): { short: string; long: string } | undefined {
  for (const [short, o] of Object.entries(EKU_OIDS)) {
    if (o === oid) return { short, long: EKU_LONG[short] ?? short };
  }
  return EXTRA_EKU[oid];
}

/** Access methods of authorityInfoAccess / subjectInfoAccess (RFC 5280 §4.2.2.1–2). */
export const ACCESS_METHODS: Readonly<Record<string, { short: string; display: string }>> = {
  '1.3.6.1.5.5.7.48.1': { short: 'OCSP', display: 'OCSP' },
  '1.3.6.1.5.5.7.48.2': { short: 'caIssuers', display: 'CA Issuers' },
  '1.3.6.1.5.5.7.48.3': { short: 'timeStamping', display: 'AD Time Stamping' },
  '1.3.6.1.5.5.7.48.5': { short: 'caRepository', display: 'CA Repository' },
};

/** Policy OIDs OpenSSL names (RFC 5280 §4.2.1.4 anyPolicy). */
export const POLICY_NAMES: Readonly<Record<string, string>> = {
  '2.5.29.32.0': 'X509v3 Any Policy',
};

/** CRL reason codes (RFC 5280 §5.3.1): JSON name and OpenSSL display text; code 7 is unused. */
export const CRL_REASONS: Readonly<Record<number, { name: string; display: string }>> = {
  0: { name: 'unspecified', display: 'Unspecified' },
  1: { name: 'keyCompromise', display: 'Key Compromise' },
  2: { name: 'cACompromise', display: 'CA Compromise' },
  3: { name: 'affiliationChanged', display: 'Affiliation Changed' },
  4: { name: 'superseded', display: 'Superseded' },
  5: { name: 'cessationOfOperation', display: 'Cessation Of Operation' },
  6: { name: 'certificateHold', display: 'Certificate Hold' },
  8: { name: 'removeFromCRL', display: 'Remove From CRL' },
  9: { name: 'privilegeWithdrawn', display: 'Privilege Withdrawn' },
  10: { name: 'aACompromise', display: 'AA Compromise' },
};

/** Reason flags of a distribution point (RFC 5280 §4.2.1.13 ReasonFlags), as OpenSSL prints them. */
export const REASON_FLAGS_DISPLAY: readonly string[] = [
  'Unused',
  'Key Compromise',
  'CA Compromise',
  'Affiliation Changed',
  'Superseded',
  'Cessation Of Operation',
  'Certificate Hold',
  'Privilege Withdrawn',
  'AA Compromise',
];

/** PKCS#9 / CSR attribute names (RFC 2985 §5.4). */
export const CSR_ATTRIBUTE_NAMES: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.9.7': 'challengePassword',
  '1.2.840.113549.1.9.2': 'unstructuredName',
  '1.2.840.113549.1.9.14': 'extensionRequest',
  '1.3.6.1.4.1.311.2.1.14': 'msExtReq',
};

/** The name OpenSSL gives an algorithm OID, or the OID itself. */
export function algorithmName(oid: string): string {
  return ALGORITHM_NAMES[oid] ?? oid;
}
