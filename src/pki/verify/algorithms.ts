/**
 * Public keys and signature algorithms the validator accepts, and the
 * signature check itself (RFC 5280 §6.1.3(a)(1)) through node:crypto.
 *
 * Accepted keys: RSA of 2048 bits or more whose modulus is a whole number of
 * bytes, ECDSA on a named P-256, P-384 or P-521 curve (RFC 5480 §2.1.1: named
 * curves only, so explicit parameters are refused), Ed25519 and Ed448.
 * Accepted signatures: RSA PKCS #1 v1.5 and RSA-PSS with SHA-256/384/512,
 * ECDSA with SHA-256/384/512, Ed25519, Ed448. SHA-1 and MD5 are refused
 * (RFC 9155 deprecates them for TLS 1.2 signatures).
 */
import { createPublicKey, verify, constants, type KeyObject } from 'node:crypto';
import type { AlgorithmIdentifier } from './der-fields.js';
import { children, oid, smallUnsigned, T } from './der-fields.js';
import { errorMessage } from '../../errors/mtls-error.js';

const RSA = '1.2.840.113549.1.1.1';
const RSA_PSS = '1.2.840.113549.1.1.10';
const EC = '1.2.840.10045.2.1';
const ED25519 = '1.3.101.112';
const ED448 = '1.3.101.113';

const NAMED_CURVES: Readonly<Record<string, string>> = {
  '1.2.840.10045.3.1.7': 'P-256',
  '1.3.132.0.34': 'P-384',
  '1.3.132.0.35': 'P-521',
};

const HASH_OIDS: Readonly<Record<string, string>> = {
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

interface SignatureScheme {
  key: 'rsa' | 'ec' | 'ed25519' | 'ed448';
  hash: string | null;
  pss?: boolean;
  /** RFC 4055 §5 / RFC 5758 §3.2: RSA v1.5 carries NULL parameters, ECDSA and EdDSA none. */
  params: 'null' | 'absent' | 'pss';
}

const SIGNATURES: Readonly<Record<string, SignatureScheme>> = {
  '1.2.840.113549.1.1.11': { key: 'rsa', hash: 'sha256', params: 'null' },
  '1.2.840.113549.1.1.12': { key: 'rsa', hash: 'sha384', params: 'null' },
  '1.2.840.113549.1.1.13': { key: 'rsa', hash: 'sha512', params: 'null' },
  [RSA_PSS]: { key: 'rsa', hash: null, pss: true, params: 'pss' },
  '1.2.840.10045.4.3.2': { key: 'ec', hash: 'sha256', params: 'absent' },
  '1.2.840.10045.4.3.3': { key: 'ec', hash: 'sha384', params: 'absent' },
  '1.2.840.10045.4.3.4': { key: 'ec', hash: 'sha512', params: 'absent' },
  [ED25519]: { key: 'ed25519', hash: null, params: 'absent' },
  [ED448]: { key: 'ed448', hash: null, params: 'absent' },
};

const WEAK_SIGNATURES: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.1.4': 'md5WithRSAEncryption',
  '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption',
  '1.2.840.10045.4.1': 'ecdsa-with-SHA1',
  '1.2.840.10040.4.3': 'dsa-with-SHA1',
  '2.16.840.1.101.3.4.3.2': 'dsa-with-SHA256',
};

/** A public key the validator accepts. */
export interface AcceptedKey {
  key: KeyObject;
  kind: SignatureScheme['key'];
  /** `RSA-2048`, `EC P-256`, `Ed25519`. */
  description: string;
}

/** The outcome of {@link checkPublicKey}. */
export type PublicKeyCheck =
  | { ok: true; key: AcceptedKey }
  | { ok: false; reason: 'weak_key' | 'unsupported_algorithm'; detail: string };

/** Checks a SubjectPublicKeyInfo against the accepted key types and sizes. */
export function checkPublicKey(spki: Buffer, algorithmId: AlgorithmIdentifier): PublicKeyCheck {
  const a = algorithmId.oid;
  if (a === EC) {
    const p = algorithmId.params;
    if (!p || p.tag !== T.oid)
      return {
        ok: false,
        reason: 'unsupported_algorithm',
        detail: 'the EC key has explicit curve parameters; RFC 5480 §2.1.1 requires a named curve',
      };
    const curveOid = oid(p, 'namedCurve');
    const curve = NAMED_CURVES[curveOid];
    if (!curve)
      return {
        ok: false,
        reason: 'weak_key',
        detail: `the EC key is on curve ${curveOid}, not on P-256, P-384 or P-521`,
      };
    return importKey(spki, 'ec', `EC ${curve}`);
  }
  if (a === RSA || a === RSA_PSS) {
    const imported = importKey(spki, 'rsa', 'RSA');
    if (!imported.ok) return imported;
    const bits = imported.key.key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < 2048)
      return {
        ok: false,
        reason: 'weak_key',
        detail: `the RSA key has ${bits} bits; at least 2048 are required`,
      };
    if (bits % 8 !== 0)
      return {
        ok: false,
        reason: 'weak_key',
        detail: `the RSA modulus has ${bits} bits, not a whole number of bytes`,
      };
    return { ok: true, key: { ...imported.key, description: `RSA-${bits}` } };
  }
  if (a === ED25519) return importKey(spki, 'ed25519', 'Ed25519');
  if (a === ED448) return importKey(spki, 'ed448', 'Ed448');
  if (a === '1.2.840.10040.4.1')
    return { ok: false, reason: 'weak_key', detail: 'DSA keys are not accepted' };
  return {
    ok: false,
    reason: 'unsupported_algorithm',
    detail: `the public key algorithm ${a} is not supported`,
  };
}

function importKey(spki: Buffer, kind: AcceptedKey['kind'], description: string): PublicKeyCheck {
  try {
    const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
    return { ok: true, key: { key, kind, description } };
  } catch (e) {
    return {
      ok: false,
      reason: 'unsupported_algorithm',
      detail: `the ${description} public key cannot be read (${errorMessage(e)})`,
    };
  }
}

/** The outcome of {@link verifySignature}. */
export type SignatureCheck =
  | { ok: true }
  | {
      ok: false;
      reason: 'signature_invalid' | 'unsupported_algorithm' | 'weak_algorithm';
      detail: string;
    };

function pssParams(
  params: AlgorithmIdentifier['params'],
): { hash: string; saltLength: number } | undefined {
  // RSASSA-PSS-params (RFC 4055 §3.1); only SHA-2 with MGF1 of the same hash is accepted.
  try {
    const fields = children(params, T.sequence, 'RSASSA-PSS-params');
    let hash: string | undefined;
    let mgfHash: string | undefined;
    let saltLength = 20;
    for (const f of fields) {
      const [inner] = children({ ...f, tag: T.sequence }, T.sequence, 'PSS field');
      if (f.tag === 0xa0) hash = HASH_OIDS[oid(children(inner, T.sequence, 'hash')[0], 'hash')];
      else if (f.tag === 0xa1) {
        const [mgf, mgfParams] = children(inner, T.sequence, 'mgf');
        if (oid(mgf, 'mgf') !== '1.2.840.113549.1.1.8') return undefined;
        mgfHash = HASH_OIDS[oid(children(mgfParams, T.sequence, 'mgf hash')[0], 'mgf hash')];
      } else if (f.tag === 0xa2) saltLength = smallUnsigned(inner, 'saltLength');
      else if (f.tag === 0xa3 && smallUnsigned(inner, 'trailerField') !== 1) return undefined;
    }
    if (!hash || hash !== mgfHash) return undefined;
    return { hash, saltLength };
  } catch {
    return undefined;
  }
}

/**
 * Verifies `signature` over `data` with the issuer's key, under the named
 * algorithm, which must match the key's type. Never throws.
 */
export function verifySignature(
  data: Buffer,
  signature: Buffer,
  alg: AlgorithmIdentifier,
  issuerKey: AcceptedKey,
): SignatureCheck {
  const weak = WEAK_SIGNATURES[alg.oid];
  if (weak)
    return {
      ok: false,
      reason: 'weak_algorithm',
      detail: `signed with ${weak}, which is not accepted`,
    };
  const scheme = SIGNATURES[alg.oid];
  if (!scheme)
    return {
      ok: false,
      reason: 'unsupported_algorithm',
      detail: `the signature algorithm ${alg.oid} is not supported`,
    };
  if (scheme.key !== issuerKey.kind)
    return {
      ok: false,
      reason: 'signature_invalid',
      detail: `the signature algorithm (${alg.oid}) does not fit the issuer's ${issuerKey.description} key`,
    };
  const params = alg.params;
  if (scheme.params === 'absent' && params)
    return {
      ok: false,
      reason: 'signature_invalid',
      detail: 'the signature algorithm carries parameters it must not have',
    };
  if (
    scheme.params === 'null' &&
    params &&
    !(params.tag === T.null && params.content.length === 0)
  ) {
    return {
      ok: false,
      reason: 'signature_invalid',
      detail: 'the RSA signature algorithm parameters are not NULL',
    };
  }
  try {
    if (scheme.pss) {
      const p = pssParams(params);
      if (!p)
        return {
          ok: false,
          reason: 'unsupported_algorithm',
          detail: 'the RSA-PSS parameters are not SHA-256/384/512 with a matching MGF1',
        };
      const ok = verify(
        p.hash,
        data,
        { key: issuerKey.key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: p.saltLength },
        signature,
      );
      return ok
        ? { ok: true }
        : { ok: false, reason: 'signature_invalid', detail: 'the signature does not verify' };
    }
    const ok = verify(scheme.hash, data, issuerKey.key, signature);
    return ok
      ? { ok: true }
      : { ok: false, reason: 'signature_invalid', detail: 'the signature does not verify' };
  } catch (e) {
    return {
      ok: false,
      reason: 'signature_invalid',
      detail: `the signature cannot be checked (${errorMessage(e)})`,
    };
  }
}
