/**
 * The PKCS#12 key derivation function (RFC 7292 App. B.2), used by the legacy
 * pbeWithSHAAnd… ciphers (keys and IVs) and by the PKCS#12 MAC (its HMAC key)
 * in every flavour, including files whose bags use PBES2.
 */
import * as crypto from 'node:crypto';
import { MtlsError } from '../../errors/index.js';
import { at } from '../bytes.js';

/** Output size u and block size v, in bytes, of each digest (RFC 7292 App. B.2). */
const HASH_SIZES = {
  sha1: { u: 20, v: 64 },
  sha224: { u: 28, v: 64 },
  sha256: { u: 32, v: 64 },
  sha384: { u: 48, v: 128 },
  sha512: { u: 64, v: 128 },
  'sha512-224': { u: 28, v: 128 },
  'sha512-256': { u: 32, v: 128 },
} as const;

/** A digest the PKCS#12 KDF can run on. */
export type Pkcs12KdfDigest = keyof typeof HASH_SIZES;

/** The diversifier ID (RFC 7292 App. B.3): 1 key material, 2 IV, 3 MAC key. */
export const PKCS12_KDF_ID = { key: 1, iv: 2, mac: 3 } as const;

/** The output size of a digest in bytes (the length of a PKCS#12 MAC key). */
export function digestSize(digest: Pkcs12KdfDigest): number {
  return HASH_SIZES[digest].u;
}

/**
 * The password as RFC 7292 App. B.1 wants it: a BMPString (UTF-16 big-endian)
 * followed by two zero bytes. The empty password becomes just `00 00`, as in
 * OpenSSL. Characters outside the BMP become surrogate pairs, which is what
 * OpenSSL's UTF-8 to BMPString conversion produces as well.
 */
export function bmpPassword(password: string): Buffer {
  return Buffer.concat([Buffer.from(password, 'utf16le').swap16(), Buffer.alloc(2)]);
}

/**
 * One digest of `data`. The KDF runs its digest once per iteration (100,000
 * times for the MAC key of a .pfx mtlskit writes), and Node's one-shot
 * `crypto.hash` (Node 20.12+) does that in about half the time of a
 * `createHash` object per round, with less garbage; older Node 20 releases
 * use `createHash`.
 */
const digestOnce: (digest: Pkcs12KdfDigest, data: Buffer) => Buffer =
  typeof crypto.hash === 'function'
    ? (digest, data) => crypto.hash(digest, data, 'buffer')
    : (digest, data) => crypto.createHash(digest).update(data).digest();

/** Repeats `src` to fill `v * ceil(src.length / v)` bytes (RFC 7292 App. B.2 steps 2, 3). */
function stretch(src: Buffer, v: number): Buffer {
  if (src.length === 0) return Buffer.alloc(0);
  // Buffer.alloc with a Buffer fill repeats it to the requested size.
  return Buffer.alloc(v * Math.ceil(src.length / v), src);
}

/**
 * Derives `length` bytes with the PKCS#12 KDF (RFC 7292 App. B.2).
 * @param passwordBytes - the formatted password, usually {@link bmpPassword}
 * @param id - the diversifier: 1 key, 2 IV, 3 MAC key (see {@link PKCS12_KDF_ID})
 * @throws MTLS_BAD_ARGUMENT on an unknown digest, a non-positive iteration count or length
 */
export function pkcs12Kdf(
  digest: Pkcs12KdfDigest,
  passwordBytes: Uint8Array,
  salt: Uint8Array,
  id: 1 | 2 | 3,
  iterations: number,
  length: number,
): Buffer {
  // The type already says which digests exist; a JavaScript caller may still pass another name.
  if (!Object.hasOwn(HASH_SIZES, digest))
    throw new MtlsError('MTLS_BAD_ARGUMENT', `the PKCS#12 KDF does not support digest ${digest}`);
  const sizes = HASH_SIZES[digest];
  if (!Number.isSafeInteger(iterations) || iterations < 1) {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `PKCS#12 KDF iteration count ${iterations} must be a positive integer`,
    );
  }
  if (!Number.isSafeInteger(length) || length < 1)
    throw new MtlsError('MTLS_BAD_ARGUMENT', `PKCS#12 KDF output length ${length} is invalid`);
  const { u, v } = sizes;
  const D = Buffer.alloc(v, id);
  const I = Buffer.concat([stretch(Buffer.from(salt), v), stretch(Buffer.from(passwordBytes), v)]);
  const blocks = Math.ceil(length / u);
  const out = Buffer.alloc(blocks * u);
  const B = Buffer.alloc(v);
  for (let i = 0; i < blocks; i++) {
    let A: Buffer = crypto.createHash(digest).update(D).update(I).digest();
    for (let r = 1; r < iterations; r++) A = digestOnce(digest, A);
    A.copy(out, i * u);
    if (i === blocks - 1) break;
    B.fill(A); // B is A repeated to v bytes (RFC 7292 App. B.2 step 6B)
    // I_j = (I_j + B + 1) mod 2^(8v) for every v-byte block of I (RFC 7292 App. B.2 step 6C).
    for (let j = 0; j < I.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const sum = at(I, j + k) + at(B, k) + carry;
        I[j + k] = sum & 0xff;
        carry = sum >>> 8;
      }
    }
  }
  return out.subarray(0, length);
}
