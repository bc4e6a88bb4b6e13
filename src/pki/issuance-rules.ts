/**
 * The RFC 5280 profile rules a certificate must meet when a CA signs it,
 * beyond what its extension profile says: keyUsage bits the subject key can
 * actually use, the signature hash that matches the CA key, validity inside
 * the CA's, and subjectAltName on server certificates. Pure decisions; the
 * caller (`signCsr`) applies them and reports what they changed.
 */
import type { KeyObject } from 'node:crypto';
import type * as x509 from '@peculiar/x509';
import { MtlsError } from '../errors/index.js';
import { describeKey } from './keys.js';
import { EKU_OIDS, type ExtensionProfile, type KeyUsageName } from './profile.js';
import { ekuOid } from './eku-oid.js';

/**
 * keyUsage bits each public key algorithm may carry:
 * RSA, RFC 3279 §2.3.1 (signing and key transport);
 * RSASSA-PSS, RFC 4055 §1.2 (signing only);
 * EC, RFC 5480 §3 (keyEncipherment and dataEncipherment MUST NOT appear);
 * Ed25519/Ed448, RFC 8410 §5 (signing only).
 */
const USAGES_BY_ALGORITHM: Readonly<Record<string, readonly KeyUsageName[]>> = {
  rsa: [
    'digitalSignature',
    'nonRepudiation',
    'keyEncipherment',
    'dataEncipherment',
    'keyCertSign',
    'cRLSign',
  ],
  'rsa-pss': ['digitalSignature', 'nonRepudiation', 'keyCertSign', 'cRLSign'],
  ec: [
    'digitalSignature',
    'nonRepudiation',
    'keyAgreement',
    'keyCertSign',
    'cRLSign',
    'encipherOnly',
    'decipherOnly',
  ],
  ed25519: ['digitalSignature', 'nonRepudiation', 'keyCertSign', 'cRLSign'],
  ed448: ['digitalSignature', 'nonRepudiation', 'keyCertSign', 'cRLSign'],
};

const ALGORITHM_RFC: Readonly<Record<string, string>> = {
  rsa: 'RFC 3279 §2.3.1',
  'rsa-pss': 'RFC 4055 §1.2',
  ec: 'RFC 5480 §3',
  ed25519: 'RFC 8410 §5',
  ed448: 'RFC 8410 §5',
};

/** Key-establishment bits a TLS client certificate never uses. */
const KEY_ESTABLISHMENT: readonly KeyUsageName[] = [
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'encipherOnly',
  'decipherOnly',
];

/** One keyUsage bit left out, and why. */
export interface DroppedKeyUsage {
  usage: KeyUsageName;
  reason: string;
}

/** Inputs for {@link fitKeyUsageToKey}. */
export interface FitKeyUsageOptions {
  /** The signing profile. */
  profile: ExtensionProfile;
  /** The subject's public key (from the CSR). */
  publicKey: KeyObject;
}

/** Result of {@link fitKeyUsageToKey}. */
export interface FitKeyUsageResult {
  /** The profile to sign with: unchanged when nothing was dropped. */
  profile: ExtensionProfile;
  /** The bits left out, each with its reason (empty when none). */
  dropped: DroppedKeyUsage[];
}

function ekuOids(profile: ExtensionProfile): string[] {
  return (profile.extendedKeyUsage?.value ?? []).map((u) => EKU_OIDS[u] ?? u);
}

/**
 * Fits a profile's keyUsage to the subject key, as RFC 5280 linters demand:
 * bits the key's algorithm cannot use are left out (keyEncipherment on an EC
 * or Ed25519 key), and a leaf whose only extendedKeyUsage is clientAuth keeps
 * no key-establishment bits at all: a TLS client key only signs
 * CertificateVerify (RFC 5246 §7.4.8), since fixed-ECDH client authentication
 * is gone (RFC 8422 §3) and RSA key transport encrypts to the server's key,
 * never the client's.
 * @throws MTLS_KEY_UNSUPPORTED when no bit of the profile's keyUsage suits the key
 */
export function fitKeyUsageToKey(options: FitKeyUsageOptions): FitKeyUsageResult {
  const { profile } = options;
  const ku = profile.keyUsage;
  if (!ku) return { profile, dropped: [] };
  const key = describeKey(options.publicKey);
  const allowed = USAGES_BY_ALGORITHM[key.algorithm] ?? [];
  const isLeaf = profile.basicConstraints?.value.ca !== true;
  const ekus = ekuOids(profile);
  const clientOnly = isLeaf && ekus.length === 1 && ekus[0] === EKU_OIDS.clientAuth;
  const dropped: DroppedKeyUsage[] = [];
  const kept = ku.value.filter((usage) => {
    if (!allowed.includes(usage)) {
      dropped.push({
        usage,
        reason: `a ${key.text} key cannot carry ${usage} (${ALGORITHM_RFC[key.algorithm] ?? 'RFC 5280 §4.2.1.3'})`,
      });
      return false;
    }
    if (clientOnly && KEY_ESTABLISHMENT.includes(usage)) {
      dropped.push({
        usage,
        reason: `a TLS client key only signs (RFC 5246 §7.4.8), and ${profile.name}'s only extendedKeyUsage is clientAuth`,
      });
      return false;
    }
    return true;
  });
  if (dropped.length === 0) return { profile, dropped };
  if (kept.length === 0) {
    throw new MtlsError(
      'MTLS_KEY_UNSUPPORTED',
      `profile ${profile.name} asks for keyUsage ${ku.value.join(', ')}, none of which a ${key.text} key can carry`,
      {
        subject: profile.name,
        hint: 'Sign with a profile whose keyUsage includes digitalSignature (client or server), or use an RSA key.',
      },
    );
  }
  return { profile: { ...profile, keyUsage: { critical: ku.critical, value: kept } }, dropped };
}

/** A digest name as WebCrypto spells it. */
export type SignatureHash = 'SHA-256' | 'SHA-384' | 'SHA-512';

/** Inputs for {@link signatureHashFor}. */
export interface SignatureHashOptions {
  /** The CA's signing key. */
  caKey: KeyObject;
  /** The CA's `default_md` (openssl.cnf), if any; `default` means the key type's default. */
  defaultMd?: 'sha256' | 'sha384' | 'sha512' | 'default';
}

/** Result of {@link signatureHashFor}. */
export interface SignatureHashResult {
  /** The digest to sign with; absent for Ed25519/Ed448, which hash internally (RFC 8410 §6). */
  hash?: SignatureHash;
  /** The `default_md` value that makes `openssl ca` sign the same way (`sha256` for EdDSA, which ignores it). */
  defaultMd: 'sha256' | 'sha384' | 'sha512';
  /** Set when the configured `default_md` was overruled, saying why. */
  note?: string;
}

/** ECDSA curve → digest of matching strength (RFC 5480 §4). */
const EC_HASH: Readonly<Record<string, SignatureHash>> = {
  'P-256': 'SHA-256',
  'P-384': 'SHA-384',
  'P-521': 'SHA-512',
};

const MD_OF: Readonly<Record<SignatureHash, SignatureHashResult['defaultMd']>> = {
  'SHA-256': 'sha256',
  'SHA-384': 'sha384',
  'SHA-512': 'sha512',
};
const toMd = (h: SignatureHash): SignatureHashResult['defaultMd'] => MD_OF[h];

/**
 * The digest a CA signs certificates and CRLs with. An ECDSA key fixes it by
 * its curve, so the CA's own certificate, its leaves and its CRLs agree:
 * P-256 SHA-256, P-384 SHA-384, P-521 SHA-512 (RFC 5480 §4); a different
 * `default_md` is overruled, with a note. An RSA key follows `default_md`
 * (SHA-256 when unset or `default`). Ed25519 needs none.
 */
export function signatureHashFor(options: SignatureHashOptions): SignatureHashResult {
  const key = describeKey(options.caKey);
  const md = options.defaultMd;
  if (key.algorithm === 'ed25519' || key.algorithm === 'ed448') return { defaultMd: 'sha256' };
  const curveHash = key.algorithm === 'ec' ? EC_HASH[key.curve ?? ''] : undefined;
  if (curveHash) {
    const wanted = toMd(curveHash);
    if (md === undefined || md === 'default' || md === wanted)
      return { hash: curveHash, defaultMd: wanted };
    return {
      hash: curveHash,
      defaultMd: wanted,
      note: `default_md = ${md} is overruled: a ${key.text} CA key signs with ${curveHash} (RFC 5480 §4), as its own certificate does; set default_md = ${wanted} so openssl ca agrees`,
    };
  }
  const hash: SignatureHash = md === 'sha384' ? 'SHA-384' : md === 'sha512' ? 'SHA-512' : 'SHA-256';
  return { hash, defaultMd: toMd(hash) };
}

/** Inputs for {@link assertWithinIssuerValidity}. */
export interface IssuerValidityOptions {
  /** The new certificate's validity. */
  notBefore: Date;
  notAfter: Date;
  /** The CA certificate that signs it. */
  issuer: x509.X509Certificate;
}

/**
 * Refuses a certificate that would outlive its CA. Past the CA's notAfter no
 * relying party can build a valid path to it (RFC 5280 §6.1.3 (a)(2) checks
 * every certificate of the path), so the extra lifetime is one nobody can use,
 * and a user reading the leaf's notAfter would be misled. mtlskit refuses
 * rather than quietly shortening the certificate, so what is issued is what
 * was asked for.
 * @throws MTLS_VALIDITY_BEYOND_CA naming both dates and the longest validity that fits
 */
export function assertWithinIssuerValidity(options: IssuerValidityOptions): void {
  const { notBefore, notAfter, issuer } = options;
  if (notAfter.getTime() <= issuer.notAfter.getTime()) return;
  const maxDays = Math.floor((issuer.notAfter.getTime() - notBefore.getTime()) / 86_400_000);
  throw new MtlsError(
    'MTLS_VALIDITY_BEYOND_CA',
    `the certificate would be valid until ${notAfter.toISOString()}, but the CA certificate "${issuer.subject}" expires on ${issuer.notAfter.toISOString()}; a certificate may not outlive its CA`,
    {
      subject: 'days',
      details: {
        notAfter: notAfter.toISOString(),
        caNotAfter: issuer.notAfter.toISOString(),
        maxDays: Math.max(0, maxDays),
      },
      hint:
        maxDays >= 1
          ? `Ask for at most ${maxDays} day(s) with --days ${maxDays}, or renew the CA certificate first.`
          : 'The CA certificate expires within a day (or has expired): renew the CA certificate first.',
    },
  );
}

/**
 * True when a profile issues TLS server certificates (extendedKeyUsage
 * serverAuth). Such a certificate needs a subjectAltName: clients match the
 * host name against subjectAltName only and ignore the commonName
 * (RFC 9525 §6.3, RFC 6125 §6.4.4).
 */
export function issuesServerCertificates(profile: ExtensionProfile): boolean {
  return ekuOids(profile).includes(ekuOid('serverAuth'));
}
