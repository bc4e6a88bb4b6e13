/**
 * RC4, for reading the oldest `.pfx` files (pbeWithSHAAnd128BitRC4 and
 * pbeWithSHAAnd40BitRC4, RFC 7292 App. C). Node 17+ has no RC4 without
 * OpenSSL's legacy provider. RC4 is broken (RFC 7465); mtlskit never writes it.
 */
import { MtlsError } from '../../errors/index.js';

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
  const S = new Uint8Array(256);
  for (let i = 0; i < 256; i++) S[i] = i;
  for (let i = 0, j = 0; i < 256; i++) {
    j = (j + (S[i] as number) + (key[i % key.length] as number)) & 0xff;
    const t = S[i] as number;
    S[i] = S[j] as number;
    S[j] = t;
  }
  const out = Buffer.alloc(data.length);
  for (let n = 0, i = 0, j = 0; n < data.length; n++) {
    i = (i + 1) & 0xff;
    j = (j + (S[i] as number)) & 0xff;
    const t = S[i] as number;
    S[i] = S[j] as number;
    S[j] = t;
    out[n] = (data[n] as number) ^ (S[((S[i] as number) + (S[j] as number)) & 0xff] as number);
  }
  return out;
}
