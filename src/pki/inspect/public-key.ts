/**
 * SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) decoding for display: RSA modulus
 * and exponent (RFC 8017 §A.1.1), EC point and curve (RFC 5480 §2), EdDSA
 * public key (RFC 8410 §4).
 */
import { createHash, createPublicKey } from 'node:crypto';
import { describeKey } from '../keys.js';
import {
  TAG,
  bitStringBytes,
  childrenOf,
  hex,
  integerValue,
  invalid,
  oidOf,
  readWhole,
} from './asn1.js';
import { CURVES, algorithmName } from './oid-names.js';

/** A described public key. */
export interface PublicKeyDescription {
  /** OpenSSL's algorithm name: `rsaEncryption`, `id-ecPublicKey`, `ED25519`, … or the OID. */
  algorithm: string;
  oid: string;
  /** Key size in bits (RSA modulus, EC field, 256 for Ed25519); 0 when unknown. */
  bits: number;
  /** Short text: `RSA 2048`, `EC P-256`, `Ed25519`. */
  summary: string;
  /** RSA: modulus as OpenSSL prints it (lower-case hex, with a leading 00 when the top bit is set) and exponent (decimal). */
  rsa?: { modulus: string; exponent: string };
  /** EC: curve and the encoded public point (lower-case hex). */
  ec?: { curveOid: string; curve?: string; nistCurve?: string; publicPoint: string };
  /** Other algorithms (EdDSA, X25519, unknown): the subjectPublicKey bytes, lower-case hex. */
  publicKey?: string;
  /** Base64 SHA-256 of the DER SubjectPublicKeyInfo: the `pin-sha256` value of RFC 7469 §2.4. */
  spkiSha256: string;
}

function bitLength(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length;
}

/**
 * Describes a DER SubjectPublicKeyInfo.
 * @throws MTLS_DER_INVALID when the structure is malformed
 */
export function describePublicKey(spki: Buffer, what = 'public key'): PublicKeyDescription {
  const [algEl, keyEl] = childrenOf(readWhole(spki, what), TAG.sequence, what);
  const [oidEl, params] = childrenOf(algEl, TAG.sequence, what);
  const oid = oidOf(oidEl, what);
  const keyBytes = bitStringBytes(keyEl, what);
  const spkiSha256 = createHash('sha256').update(spki).digest('base64');
  let summary: { bits: number; text: string } | undefined;
  try {
    const d = describeKey(createPublicKey({ key: spki, format: 'der', type: 'spki' }));
    if (d.bits > 0) summary = { bits: d.bits, text: d.text };
  } catch {
    summary = undefined;
  }
  const base = { algorithm: algorithmName(oid), oid, spkiSha256 };
  if (oid === '1.2.840.113549.1.1.1' || oid === '1.2.840.113549.1.1.10') {
    const [n, e] = childrenOf(readWhole(keyBytes, what), TAG.sequence, what);
    if (!n) invalid(what, 'the RSA key has no modulus');
    const modulus = integerValue(n, `${what} modulus`);
    const bits = summary?.bits ?? bitLength(modulus);
    return {
      ...base,
      bits,
      summary: summary?.text ?? `RSA ${bits}`,
      rsa: {
        modulus: hex(n.content),
        exponent: integerValue(e, `${what} exponent`).toString(),
      },
    };
  }
  if (oid === '1.2.840.10045.2.1') {
    const curveOid = params && params.tag === TAG.oid ? oidOf(params, what) : 'explicit parameters';
    const c = CURVES[curveOid];
    const bits = summary?.bits ?? c?.bits ?? 0;
    return {
      ...base,
      bits,
      summary: summary?.text ?? `EC ${c?.nist ?? c?.name ?? curveOid}`,
      ec: {
        curveOid,
        ...(c ? { curve: c.name } : {}),
        ...(c?.nist ? { nistCurve: c.nist } : {}),
        publicPoint: hex(keyBytes),
      },
    };
  }
  const fixed: Record<string, { bits: number; text: string }> = {
    '1.3.101.112': { bits: 256, text: 'Ed25519' },
    '1.3.101.113': { bits: 456, text: 'Ed448' },
    '1.3.101.110': { bits: 253, text: 'X25519' },
    '1.3.101.111': { bits: 448, text: 'X448' },
  };
  const f = summary ?? fixed[oid];
  return {
    ...base,
    bits: f?.bits ?? 0,
    summary: f?.text ?? algorithmName(oid),
    publicKey: hex(keyBytes),
  };
}
