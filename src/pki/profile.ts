/**
 * Declarative X.509v3 extension profiles: what an openssl.cnf extension
 * section (x509v3_config(5)) says, as data. `buildExtensions` turns a profile
 * into DER extensions for one certificate.
 */

/** keyUsage bit names, as openssl.cnf spells them (RFC 5280 §4.2.1.3). */
export const KEY_USAGE_NAMES = [
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
/** A keyUsage bit name. */
export type KeyUsageName = (typeof KEY_USAGE_NAMES)[number];

/** extendedKeyUsage short names and their OIDs (RFC 5280 §4.2.1.12). */
export const EKU_OIDS: Readonly<Record<string, string>> = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  OCSPSigning: '1.3.6.1.5.5.7.3.9',
  ipsecIKE: '1.3.6.1.5.5.7.3.17',
  msCodeInd: '1.3.6.1.4.1.311.2.1.21',
  msCodeCom: '1.3.6.1.4.1.311.2.1.22',
  msCTLSign: '1.3.6.1.4.1.311.10.3.1',
  msEFS: '1.3.6.1.4.1.311.10.3.4',
  anyExtendedKeyUsage: '2.5.29.37.0',
};

/** Netscape cert type bits (obsolete; kept for the guide's usr_cert). */
export const NS_CERT_TYPE_NAMES = [
  'client',
  'server',
  'email',
  'objsign',
  'reserved',
  'sslCA',
  'emailCA',
  'objCA',
] as const;
/** A Netscape cert type name. */
export type NsCertTypeName = (typeof NS_CERT_TYPE_NAMES)[number];

/** A GeneralName in a profile (subjectAltName, CRL DP, AIA). */
export type GeneralNameSpec =
  | { type: 'dns'; value: string }
  | { type: 'ip'; value: string }
  | { type: 'email'; value: string }
  | { type: 'uri'; value: string }
  | { type: 'dirName'; value: string }
  | { type: 'rid'; value: string }
  /** `email:copy`: copy the subject's emailAddress. */
  | { type: 'emailCopy' };

/** authorityKeyIdentifier options: `keyid[:always], issuer[:always]`. */
export interface AuthorityKeyIdSpec {
  /** `always` fails without an issuer key id; `ifAvailable` includes it when known. */
  keyid?: 'always' | 'ifAvailable';
  /** Include issuer name and serial: `always`, or only `ifAvailable` when keyid can't be had. */
  issuer?: 'always' | 'ifAvailable';
}

/** A flag plus a criticality bit. */
export interface Critical<T> {
  critical: boolean;
  value: T;
}

/** One extension section of openssl.cnf, as data. */
export interface ExtensionProfile {
  /** The section name (`usr_cert`, `client_cert`, `v3_ca`, …). */
  name: string;
  basicConstraints?: Critical<{ ca: boolean; pathLen?: number }>;
  keyUsage?: Critical<KeyUsageName[]>;
  /** Short names from {@link EKU_OIDS} or dotted OIDs. */
  extendedKeyUsage?: Critical<string[]>;
  /** `hash` computes RFC 5280 §4.2.1.2 method 1; `none` omits it. */
  subjectKeyIdentifier?: 'hash' | 'none';
  authorityKeyIdentifier?: AuthorityKeyIdSpec;
  subjectAltName?: Critical<GeneralNameSpec[]>;
  issuerAltName?: Critical<GeneralNameSpec[]>;
  nsCertType?: NsCertTypeName[];
  nsComment?: string;
  /** Full-name URIs (or other GeneralNames) of CRL distribution points. */
  crlDistributionPoints?: GeneralNameSpec[];
  /** `OCSP;URI:…` and `caIssuers;URI:…` entries. */
  authorityInfoAccess?: Array<{ method: 'OCSP' | 'caIssuers'; location: GeneralNameSpec }>;
  /** Certificate policy OIDs (certificatePolicies, no qualifiers). */
  certificatePolicies?: Critical<string[]>;
}

/** The profiles mtlskit writes into a new CA's openssl.cnf. */
export const BUILTIN_PROFILES: Readonly<Record<string, ExtensionProfile>> = {
  v3_ca: {
    name: 'v3_ca',
    subjectKeyIdentifier: 'hash',
    authorityKeyIdentifier: { keyid: 'always', issuer: 'ifAvailable' },
    basicConstraints: { critical: true, value: { ca: true } },
    keyUsage: { critical: true, value: ['digitalSignature', 'cRLSign', 'keyCertSign'] },
  },
  v3_intermediate_ca: {
    name: 'v3_intermediate_ca',
    subjectKeyIdentifier: 'hash',
    authorityKeyIdentifier: { keyid: 'always', issuer: 'ifAvailable' },
    basicConstraints: { critical: true, value: { ca: true, pathLen: 0 } },
    keyUsage: { critical: true, value: ['digitalSignature', 'cRLSign', 'keyCertSign'] },
  },
  v3_req: {
    name: 'v3_req',
    keyUsage: { critical: false, value: ['nonRepudiation', 'digitalSignature', 'keyEncipherment'] },
  },
  usr_cert: {
    name: 'usr_cert',
    basicConstraints: { critical: false, value: { ca: false } },
    nsCertType: ['client', 'email'],
    nsComment: 'OpenSSL Generated Client Certificate',
    subjectKeyIdentifier: 'hash',
    authorityKeyIdentifier: { keyid: 'ifAvailable', issuer: 'ifAvailable' },
    keyUsage: { critical: true, value: ['nonRepudiation', 'digitalSignature', 'keyEncipherment'] },
    extendedKeyUsage: { critical: false, value: ['clientAuth', 'emailProtection'] },
  },
  // A TLS client key only signs CertificateVerify (RFC 5246 §7.4.8), whatever its type.
  client_cert: {
    name: 'client_cert',
    basicConstraints: { critical: true, value: { ca: false } },
    subjectKeyIdentifier: 'hash',
    authorityKeyIdentifier: { keyid: 'ifAvailable', issuer: 'ifAvailable' },
    keyUsage: { critical: true, value: ['digitalSignature'] },
    extendedKeyUsage: { critical: false, value: ['clientAuth'] },
  },
  // digitalSignature only, for every key type: with ECDHE the server key signs
  // the ServerKeyExchange (RFC 8422 §5.4, RFC 5246 §7.4.3) and never decrypts.
  // keyEncipherment would serve only RSA key transport (TLS_RSA_*), which has
  // no forward secrecy, which TLS 1.3 removed and which mtlskit never
  // negotiates; a server that must offer it needs its own profile.
  server_cert: {
    name: 'server_cert',
    basicConstraints: { critical: true, value: { ca: false } },
    subjectKeyIdentifier: 'hash',
    authorityKeyIdentifier: { keyid: 'ifAvailable', issuer: 'ifAvailable' },
    keyUsage: { critical: true, value: ['digitalSignature'] },
    extendedKeyUsage: { critical: false, value: ['serverAuth'] },
  },
};

/** CLI profile aliases: `client` → client_cert, `server` → server_cert. */
export const PROFILE_ALIASES: Readonly<Record<string, string>> = {
  client: 'client_cert',
  server: 'server_cert',
  ca: 'v3_ca',
};
