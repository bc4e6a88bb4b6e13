/**
 * Object identifiers used by PKCS#12 (RFC 7292), PKCS#7/CMS content types
 * (RFC 5652 §3) and the digests of the PKCS#12 MAC.
 */

/** Content types of ContentInfo (RFC 5652 §4, §8; PKCS#7). */
export const CONTENT_TYPE = {
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  envelopedData: '1.2.840.113549.1.7.3',
  encryptedData: '1.2.840.113549.1.7.6',
} as const;

/** SafeBag types (RFC 7292 §4.2). */
export const BAG_TYPE = {
  keyBag: '1.2.840.113549.1.12.10.1.1',
  pkcs8ShroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  certBag: '1.2.840.113549.1.12.10.1.3',
  crlBag: '1.2.840.113549.1.12.10.1.4',
  secretBag: '1.2.840.113549.1.12.10.1.5',
  safeContentsBag: '1.2.840.113549.1.12.10.1.6',
} as const;

/** Readable names of the bag types, for display. */
export const BAG_NAMES: Readonly<Record<string, string>> = {
  [BAG_TYPE.keyBag]: 'keyBag',
  [BAG_TYPE.pkcs8ShroudedKeyBag]: 'pkcs8ShroudedKeyBag',
  [BAG_TYPE.certBag]: 'certBag',
  [BAG_TYPE.crlBag]: 'crlBag',
  [BAG_TYPE.secretBag]: 'secretBag',
  [BAG_TYPE.safeContentsBag]: 'safeContentsBag',
};

/** CertBag certificate types (RFC 7292 §4.2.3). */
export const CERT_TYPE = {
  x509Certificate: '1.2.840.113549.1.9.22.1',
  sdsiCertificate: '1.2.840.113549.1.9.22.2',
} as const;

/** PKCS#9 bag attributes (RFC 2985 §5.5.1, §5.5.2). */
export const ATTRIBUTE = {
  friendlyName: '1.2.840.113549.1.9.20',
  localKeyId: '1.2.840.113549.1.9.21',
} as const;

/** OIDs of the digests a PKCS#12 MAC may use, by node:crypto name (RFC 8017 App. B.1, RFC 5754). */
export const DIGEST_OID = {
  sha1: '1.3.14.3.2.26',
  sha224: '2.16.840.1.101.3.4.2.4',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
  'sha512-224': '2.16.840.1.101.3.4.2.5',
  'sha512-256': '2.16.840.1.101.3.4.2.6',
} as const;

/** A digest name a PKCS#12 MAC may use. */
export type MacDigest = keyof typeof DIGEST_OID;

function isMacDigest(name: string): name is MacDigest {
  return Object.hasOwn(DIGEST_OID, name);
}

/** node:crypto digest name for a digest OID (inverse of {@link DIGEST_OID}). */
export const DIGEST: Readonly<Record<string, MacDigest>> = Object.fromEntries(
  Object.entries(DIGEST_OID).flatMap(([name, oid]): [string, MacDigest][] =>
    isMacDigest(name) ? [[oid, name]] : [],
  ),
);

/** PBMAC1 (RFC 9579), recognised so that the error can name it. */
export const PBMAC1 = '1.2.840.113549.1.5.14';
