import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { isMtlsError } from '../../src/errors/index.js';
import { bmpPassword, pkcs12Kdf, type Pkcs12KdfDigest } from '../../src/pki/pkcs12/pkcs12-kdf.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');

// The PKCS#12 KDF vectors published by Dr Stephen Henson (drh-consultancy
// test.txt), which OpenSSL, NSS and Bouncy Castle test against: SHA-1.
const VECTORS: Array<[string, string, number, 1 | 2 | 3, string]> = [
  ['smeg', '0A58CF64530D823F', 1, 1, '8AAAE6297B6CB04642AB5B077851284EB7128F1A2A7FBCA3'],
  ['smeg', '0A58CF64530D823F', 1, 2, '79993DFE048D3B76'],
  ['smeg', '642B99AB44FB4B1F', 1, 1, 'F3A95FEC48D7711E985CFE67908C5AB79FA3D7C5CAA5D966'],
  ['smeg', '642B99AB44FB4B1F', 1, 2, 'C0A38D64A79BEA1D'],
  ['smeg', '3D83C0E4546AC140', 1, 3, '8D967D88F6CAA9D714800AB3D48051D63F73A312'],
  ['queeg', '05DEC959ACFF72F7', 1000, 1, 'ED2034E36328830FF09DF1E1A07DD357185DAC0D4F9EB3D4'],
  ['queeg', '05DEC959ACFF72F7', 1000, 2, '11DEDAD7758D4860'],
  ['queeg', '1682C0FC5B3F7EC5', 1000, 1, '483DD6E919D7DE2E8E648BA8F862F3FBFBDC2BCB2C02957F'],
  ['queeg', '1682C0FC5B3F7EC5', 1000, 2, '9D461D1B00355C50'],
  ['queeg', '263216FCC2FAB31C', 1000, 3, '5EC4C7A80DF652294C3925B6489A7AB857C83476'],
];

describe('PKCS#12 KDF (RFC 7292 App. B)', () => {
  it('formats the password as a BMPString with two trailing zero bytes', () => {
    assert.equal(bmpPassword('smeg').toString('hex'), '0073006d006500670000');
    assert.equal(bmpPassword('').toString('hex'), '0000');
    assert.equal(bmpPassword('é').toString('hex'), '00e90000');
    // Outside the BMP: a surrogate pair, as OpenSSL's UTF-8 conversion writes it.
    assert.equal(bmpPassword('\u{1F511}').toString('hex'), 'd83ddd110000');
  });

  for (const [pw, salt, iter, id, want] of VECTORS) {
    it(`matches the published vector "${pw}" salt ${salt} id ${id} (${iter} iterations)`, () => {
      assert.equal(
        pkcs12Kdf('sha1', bmpPassword(pw), hex(salt), id, iter, want.length / 2)
          .toString('hex')
          .toUpperCase(),
        want,
      );
    });
  }

  // OpenSSL's own PKCS12KDF as the oracle for the digests with other block
  // sizes (v = 64 for SHA-256, 128 for SHA-384/512) and multi-block outputs,
  // with salt and password lengths that are not multiples of v.
  const cases: Array<[Pkcs12KdfDigest, string, string, number, 1 | 2 | 3, number]> = [
    ['sha256', 'correct horse', '00112233445566778899aabbccddeeff', 2048, 3, 32],
    ['sha256', 'p\u00e4ss', '0102030405', 7, 1, 100],
    ['sha384', 'x', 'ffeeddccbbaa99887766554433221100ff', 3, 3, 48],
    [
      'sha512',
      'longer password than one block of sixty-four bytes, surely it is',
      '0a0b',
      5,
      1,
      150,
    ],
  ];
  for (const [digest, pw, salt, iter, id, len] of cases) {
    it(`agrees with openssl kdf PKCS12KDF for ${digest}, ${len} bytes`, () => {
      const theirs = execFileSync(
        'openssl',
        [
          'kdf',
          '-keylen',
          String(len),
          '-kdfopt',
          `digest:${digest.toUpperCase()}`,
          '-kdfopt',
          `hexpass:${bmpPassword(pw).toString('hex')}`,
          '-kdfopt',
          `hexsalt:${salt}`,
          '-kdfopt',
          `iter:${iter}`,
          '-kdfopt',
          `id:${id}`,
          'PKCS12KDF',
        ],
        { encoding: 'utf8' },
      )
        .trim()
        .replace(/:/g, '')
        .toLowerCase();
      assert.equal(
        pkcs12Kdf(digest, bmpPassword(pw), hex(salt), id, iter, len).toString('hex'),
        theirs,
      );
    });
  }

  it('refuses a zero iteration count and a zero length', () => {
    assert.throws(
      () => pkcs12Kdf('sha1', bmpPassword('a'), hex('00'), 1, 0, 8),
      (e) => isMtlsError(e, 'MTLS_BAD_ARGUMENT'),
    );
    assert.throws(
      () => pkcs12Kdf('sha1', bmpPassword('a'), hex('00'), 1, 1, 0),
      (e) => isMtlsError(e, 'MTLS_BAD_ARGUMENT'),
    );
  });
});
