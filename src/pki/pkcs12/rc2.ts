/**
 * RC2 (RFC 2268), implemented in TypeScript because Node 17+ runs OpenSSL 3
 * without the legacy provider, so `createDecipheriv('rc2-40-cbc')` fails.
 * mtlskit only needs it to read old `.pfx` files (pbeWithSHAAnd40BitRC2-CBC,
 * the certificate encryption of `openssl pkcs12 -export -legacy` and of many
 * Windows and Java exports). RC2-40 is broken; nothing here writes it by default.
 */
import { MtlsError } from '../../errors/index.js';
import { at } from '../bytes.js';

/** RC2 block size in bytes. */
export const RC2_BLOCK_SIZE = 8;

/** PITABLE, the byte permutation derived from the digits of pi (RFC 2268 §2). */
const PITABLE = Buffer.from(
  'd978f9c419ddb5ed28e9fd794aa0d89dc67e37832b76538e624c6488448bfba2' +
    '179a59f587b34f1361456d8d09817d32bd8f40eb86b77b0bf09521225c6b4e82' +
    '54d66593ce60b21c7356c014a78cf1dc1275ca1f3bbee4d1423dd430a33cb626' +
    '6fbf0eda4669075727f21d9bbc944303f811c7f690ef3ee706c3d52fc8661ed7' +
    '08e8eade8052eef784aa72ac354d6a2a961ad2715a1549744b9fd05e0418a4ec' +
    'c2e0416e0f51cbcc2491af50a1f47039997c3a8523b8b47afc02365b25559731' +
    '2d5dfa98e38a92ae05df2910676cbac9d300e6cfe19ea82c6316013f58e289a9' +
    '0d38341bab33ffb0bb480c5fb9b1cd2ec5f3db47e5a59c770aa62068fe7fc1ad',
  'hex',
);

/**
 * Expands a key into the 64 16-bit subkeys K[0..63] (RFC 2268 §2).
 * @param key - 1 to 128 bytes
 * @param effectiveBits - the effective key length T1, 1 to 1024 (40 for RC2-40)
 * @throws MTLS_BAD_ARGUMENT when the key or the effective length is out of range
 */
export function rc2ExpandKey(key: Uint8Array, effectiveBits: number): Uint16Array {
  if (key.length < 1 || key.length > 128) {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `RC2 key length ${key.length} is outside 1..128 bytes`,
    );
  }
  if (!Number.isInteger(effectiveBits) || effectiveBits < 1 || effectiveBits > 1024) {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `RC2 effective key length ${effectiveBits} is outside 1..1024 bits`,
    );
  }
  const T = key.length;
  const T8 = Math.ceil(effectiveBits / 8);
  const TM = 0xff >> (8 * T8 - effectiveBits);
  const L = new Uint8Array(128);
  L.set(key);
  for (let i = T; i < 128; i++) L[i] = at(PITABLE, (at(L, i - 1) + at(L, i - T)) & 0xff);
  L[128 - T8] = at(PITABLE, at(L, 128 - T8) & TM);
  for (let i = 127 - T8; i >= 0; i--) L[i] = at(PITABLE, at(L, i + 1) ^ at(L, i + T8));
  const K = new Uint16Array(64);
  for (let i = 0; i < 64; i++) K[i] = at(L, 2 * i) | (at(L, 2 * i + 1) << 8);
  return K;
}

const rol16 = (x: number, s: number): number => ((x << s) | (x >>> (16 - s))) & 0xffff;
const ror16 = (x: number, s: number): number => ((x >>> s) | (x << (16 - s))) & 0xffff;

/** Little-endian 16-bit word `w` (0..3) of the block at `offset`. */
const word = (block: Uint8Array, offset: number, w: number): number =>
  at(block, offset + 2 * w) | (at(block, offset + 2 * w + 1) << 8);

function writeWords(
  r0: number,
  r1: number,
  r2: number,
  r3: number,
  out: Uint8Array,
  offset: number,
): void {
  out[offset] = r0 & 0xff;
  out[offset + 1] = r0 >>> 8;
  out[offset + 2] = r1 & 0xff;
  out[offset + 3] = r1 >>> 8;
  out[offset + 4] = r2 & 0xff;
  out[offset + 5] = r2 >>> 8;
  out[offset + 6] = r3 & 0xff;
  out[offset + 7] = r3 >>> 8;
}

/*
 * The four words R[0..3] live in locals r0..r3 and each round is written out
 * word by word (RFC 2268 §3.2, §3.3, §4.1, §4.2), so the only indexed reads
 * are into the key schedule, whose indices stay in 0..63 by construction.
 */

/** Encrypts one 8-byte block in place (RFC 2268 §3). */
export function rc2EncryptBlock(K: Uint16Array, block: Uint8Array, offset = 0): void {
  let r0 = word(block, offset, 0);
  let r1 = word(block, offset, 1);
  let r2 = word(block, offset, 2);
  let r3 = word(block, offset, 3);
  let j = 0;
  for (let round = 0; round < 16; round++) {
    // MIX (§3.1); rotation amounts 1, 2, 3, 5.
    r0 = rol16((r0 + at(K, j++) + (r3 & r2) + (~r3 & r1)) & 0xffff, 1);
    r1 = rol16((r1 + at(K, j++) + (r0 & r3) + (~r0 & r2)) & 0xffff, 2);
    r2 = rol16((r2 + at(K, j++) + (r1 & r0) + (~r1 & r3)) & 0xffff, 3);
    r3 = rol16((r3 + at(K, j++) + (r2 & r1) + (~r2 & r0)) & 0xffff, 5);
    // MASH (§3.2) after the 5th and the 11th mixing round.
    if (round === 4 || round === 10) {
      r0 = (r0 + at(K, r3 & 63)) & 0xffff;
      r1 = (r1 + at(K, r0 & 63)) & 0xffff;
      r2 = (r2 + at(K, r1 & 63)) & 0xffff;
      r3 = (r3 + at(K, r2 & 63)) & 0xffff;
    }
  }
  writeWords(r0, r1, r2, r3, block, offset);
}

/** Decrypts one 8-byte block in place (RFC 2268 §4). */
export function rc2DecryptBlock(K: Uint16Array, block: Uint8Array, offset = 0): void {
  let r0 = word(block, offset, 0);
  let r1 = word(block, offset, 1);
  let r2 = word(block, offset, 2);
  let r3 = word(block, offset, 3);
  let j = 63;
  for (let round = 0; round < 16; round++) {
    // R-MIX (§4.1), words in the order 3, 2, 1, 0.
    r3 = (ror16(r3, 5) - at(K, j--) - (r2 & r1) - (~r2 & r0)) & 0xffff;
    r2 = (ror16(r2, 3) - at(K, j--) - (r1 & r0) - (~r1 & r3)) & 0xffff;
    r1 = (ror16(r1, 2) - at(K, j--) - (r0 & r3) - (~r0 & r2)) & 0xffff;
    r0 = (ror16(r0, 1) - at(K, j--) - (r3 & r2) - (~r3 & r1)) & 0xffff;
    // R-MASH (§4.2) after the 5th and the 11th reverse mixing round.
    if (round === 4 || round === 10) {
      r3 = (r3 - at(K, r2 & 63)) & 0xffff;
      r2 = (r2 - at(K, r1 & 63)) & 0xffff;
      r1 = (r1 - at(K, r0 & 63)) & 0xffff;
      r0 = (r0 - at(K, r3 & 63)) & 0xffff;
    }
  }
  writeWords(r0, r1, r2, r3, block, offset);
}

function checkCbcArgs(iv: Uint8Array, data: Uint8Array, padded: boolean): void {
  if (iv.length !== RC2_BLOCK_SIZE)
    throw new MtlsError('MTLS_BAD_ARGUMENT', `RC2-CBC needs an 8-byte IV, got ${iv.length} bytes`);
  if (padded && data.length % RC2_BLOCK_SIZE !== 0) {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `RC2-CBC ciphertext length ${data.length} is not a multiple of 8`,
    );
  }
}

/**
 * RC2-CBC encryption with PKCS#7 padding (RFC 8018 §6.1.1 step 4).
 * @param effectiveBits - T1 (40 for RC2-40, 128 for RC2-128)
 * @throws MTLS_BAD_ARGUMENT on a bad key, effective length or IV
 */
export function rc2CbcEncrypt(
  key: Uint8Array,
  effectiveBits: number,
  iv: Uint8Array,
  plaintext: Uint8Array,
): Buffer {
  checkCbcArgs(iv, plaintext, false);
  const K = rc2ExpandKey(key, effectiveBits);
  const pad = RC2_BLOCK_SIZE - (plaintext.length % RC2_BLOCK_SIZE);
  const out = Buffer.concat([Buffer.from(plaintext), Buffer.alloc(pad, pad)]);
  let prev: Uint8Array = iv;
  for (let off = 0; off < out.length; off += RC2_BLOCK_SIZE) {
    for (let i = 0; i < RC2_BLOCK_SIZE; i++) out[off + i] = at(out, off + i) ^ at(prev, i);
    rc2EncryptBlock(K, out, off);
    prev = out.subarray(off, off + RC2_BLOCK_SIZE);
  }
  return out;
}

/**
 * RC2-CBC decryption. Returns the plaintext with its PKCS#7 padding still in
 * place; the caller checks and strips it, because a bad pad is how a wrong
 * password shows up.
 * @throws MTLS_BAD_ARGUMENT on a bad key, effective length, IV, or a length that is not a multiple of 8
 */
export function rc2CbcDecryptRaw(
  key: Uint8Array,
  effectiveBits: number,
  iv: Uint8Array,
  ciphertext: Uint8Array,
): Buffer {
  checkCbcArgs(iv, ciphertext, true);
  const K = rc2ExpandKey(key, effectiveBits);
  const out = Buffer.from(ciphertext);
  for (let off = out.length - RC2_BLOCK_SIZE; off >= 0; off -= RC2_BLOCK_SIZE) {
    rc2DecryptBlock(K, out, off);
    const prev = off === 0 ? iv : ciphertext.subarray(off - RC2_BLOCK_SIZE, off);
    for (let i = 0; i < RC2_BLOCK_SIZE; i++) out[off + i] = at(out, off + i) ^ at(prev, i);
  }
  return out;
}
