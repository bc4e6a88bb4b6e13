/**
 * RC4, for reading the oldest `.pfx` files (pbeWithSHAAnd128BitRC4 and
 * pbeWithSHAAnd40BitRC4, RFC 7292 App. C). Node 17+ has no RC4 without
 * OpenSSL's legacy provider. RC4 is broken (RFC 7465); mtlskit never writes it.
 */
import { MtlsError } from '../../errors/index.js';
import { at } from '../bytes.js';

/**
 * RC4 keystream XOR: encryption and decryption are the same operation.
 * @param key - 1 to 256 bytes
 * @throws MTLS_BAD_ARGUMENT on an empty or oversized key
 */
export function rc4(key: Uint8Array, data: Uint8Array): Buffer {
  if (key.length < 1 || key.length > 256)
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `RC4 key length ${key.length} is outside 1..256 bytes`,
    );
  // S is a 256-byte permutation and every index below is masked with 0xff,
  // so `at` never throws here; it stands in for an unchecked read.
  const S = new Uint8Array(256);
  for (let i = 0; i < 256; i++) S[i] = i;
  for (let i = 0, j = 0; i < 256; i++) {
    const si = at(S, i);
    j = (j + si + at(key, i % key.length)) & 0xff;
    S[i] = at(S, j);
    S[j] = si;
  }
  const out = Buffer.alloc(data.length);
  let i = 0;
  let j = 0;
  for (let n = 0; n < data.length; n++) {
    i = (i + 1) & 0xff;
    const si = at(S, i);
    j = (j + si) & 0xff;
    const sj = at(S, j);
    S[i] = sj;
    S[j] = si;
    out[n] = at(data, n) ^ at(S, (si + sj) & 0xff);
  }
  return out;
}
