import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { isMtlsError } from '../../src/errors/index.js';
import {
  rc2CbcDecryptRaw,
  rc2CbcEncrypt,
  rc2DecryptBlock,
  rc2EncryptBlock,
  rc2ExpandKey,
} from '../../src/pki/pkcs12/rc2.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');

// RFC 2268 §5: key, effective key bits, plaintext, ciphertext.
const RFC_2268_VECTORS: Array<[string, number, string, string]> = [
  ['0000000000000000', 63, '0000000000000000', 'ebb773f993278eff'],
  ['ffffffffffffffff', 64, 'ffffffffffffffff', '278b27e42e2f0d49'],
  ['3000000000000000', 64, '1000000000000001', '30649edf9be7d2c2'],
  ['88', 64, '0000000000000000', '61a8a244adacccf0'],
  ['88bca90e90875a', 64, '0000000000000000', '6ccf4308974c267f'],
  ['88bca90e90875a7f0f79c384627bafb2', 64, '0000000000000000', '1a807d272bbe5db1'],
  ['88bca90e90875a7f0f79c384627bafb2', 128, '0000000000000000', '2269552ab0f85ca6'],
  [
    '88bca90e90875a7f0f79c384627bafb216f80a6f85920584c42fceb0be255daf1e',
    129,
    '0000000000000000',
    '5b78d3a43dfff1f1',
  ],
];

describe('RC2 (RFC 2268)', () => {
  for (const [key, bits, plain, cipher] of RFC_2268_VECTORS) {
    it(`matches the RFC 2268 vector key=${key.slice(0, 16)}… T1=${bits}`, () => {
      const K = rc2ExpandKey(hex(key), bits);
      const block = hex(plain);
      rc2EncryptBlock(K, block);
      assert.equal(block.toString('hex'), cipher);
      rc2DecryptBlock(K, block);
      assert.equal(block.toString('hex'), plain);
    });
  }

  it('CBC with PKCS#7 padding round-trips every length from 0 to 40 bytes', () => {
    const key = randomBytes(5);
    const iv = randomBytes(8);
    for (let n = 0; n <= 40; n++) {
      const plain = randomBytes(n);
      const enc = rc2CbcEncrypt(key, 40, iv, plain);
      assert.equal(enc.length, (Math.floor(n / 8) + 1) * 8);
      const dec = rc2CbcDecryptRaw(key, 40, iv, enc);
      const pad = dec[dec.length - 1] as number;
      assert.deepEqual(dec.subarray(0, dec.length - pad), plain);
    }
  });

  // OpenSSL's legacy provider as an independent oracle for the CBC mode and
  // the effective-key-bits parameter of the two PKCS#12 variants.
  for (const [cipher, keyLen] of [
    ['rc2-40-cbc', 5],
    ['rc2-cbc', 16],
  ] as const) {
    it(`agrees with openssl enc -${cipher} (legacy provider)`, () => {
      const key = randomBytes(keyLen);
      const iv = randomBytes(8);
      const plain = randomBytes(77);
      const theirs = execFileSync(
        'openssl',
        [
          'enc',
          `-${cipher}`,
          '-provider',
          'legacy',
          '-provider',
          'default',
          '-K',
          key.toString('hex'),
          '-iv',
          iv.toString('hex'),
        ],
        { input: plain },
      );
      assert.deepEqual(rc2CbcEncrypt(key, keyLen * 8, iv, plain), theirs);
    });
  }

  it('refuses keys, effective lengths, IVs and ciphertexts that RC2 cannot take', () => {
    const bad = (fn: () => unknown): void =>
      assert.throws(fn, (e) => isMtlsError(e, 'MTLS_BAD_ARGUMENT'));
    bad(() => rc2ExpandKey(Buffer.alloc(0), 40));
    bad(() => rc2ExpandKey(Buffer.alloc(129), 40));
    bad(() => rc2ExpandKey(Buffer.alloc(5), 0));
    bad(() => rc2ExpandKey(Buffer.alloc(5), 1025));
    bad(() => rc2CbcEncrypt(Buffer.alloc(5), 40, Buffer.alloc(7), Buffer.alloc(8)));
    bad(() => rc2CbcDecryptRaw(Buffer.alloc(5), 40, Buffer.alloc(8), Buffer.alloc(12)));
  });
});
