import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { isMtlsError } from '../../src/errors/index.js';
import { describeEncryption } from '../../src/pki/pkcs12/encryption.js';
import {
  PKCS12_PBE_OID,
  legacyPbeDecrypt,
  legacyPbeEncrypt,
} from '../../src/pki/pkcs12/pbe-legacy.js';
import { bmpPassword } from '../../src/pki/pkcs12/pkcs12-kdf.js';
import { rc4 } from '../../src/pki/pkcs12/rc4.js';
import {
  derInteger,
  derOctetString,
  derOid,
  derSequence,
  readDer,
  readDerChildren,
} from '../../src/pki/der.js';

const params = (algorithm: Buffer): Buffer =>
  (readDerChildren(readDer(algorithm).content)[1] as { raw: Buffer }).raw;

describe('PKCS#12 PBE schemes (RFC 7292 App. C)', () => {
  it('RC4 matches RFC 6229 (40-bit key 0102030405, first 16 keystream bytes)', () => {
    assert.equal(
      rc4(Buffer.from('0102030405', 'hex'), Buffer.alloc(16)).toString('hex'),
      'b2396305f03dc027ccc3524a0a1118a8',
    );
  });

  for (const [name, oid] of Object.entries(PKCS12_PBE_OID)) {
    it(`${name}: encrypts and decrypts with the right password`, () => {
      const plain = randomBytes(123);
      const pw = bmpPassword('s3cret-ü');
      const { algorithm, ciphertext } = legacyPbeEncrypt(oid, plain, pw, { iterations: 100 });
      assert.deepEqual(legacyPbeDecrypt(oid, params(algorithm), ciphertext, pw), plain);
      const d = describeEncryption(algorithm, 'test');
      assert.equal(d.scheme, 'pkcs12-pbe');
      assert.equal(d.iterations, 100);
    });
  }

  it('3DES with a wrong password fails as MTLS_BAD_PASSPHRASE (padding check)', () => {
    const oid = PKCS12_PBE_OID.sha1And3KeyTripleDesCbc;
    const { algorithm, ciphertext } = legacyPbeEncrypt(
      oid,
      randomBytes(200),
      bmpPassword('right'),
      { iterations: 10 },
    );
    // A wrong key gives a valid pad about 1 time in 256; try several passwords so the test never flakes.
    let refused = 0;
    for (let i = 0; i < 8; i++) {
      try {
        legacyPbeDecrypt(oid, params(algorithm), ciphertext, bmpPassword(`wrong-${i}`));
      } catch (e) {
        assert.ok(isMtlsError(e, 'MTLS_BAD_PASSPHRASE'));
        refused++;
      }
    }
    assert.ok(refused >= 6, `only ${refused} of 8 wrong passwords were refused`);
  });

  it("describes and writes pbeWithSHAAnd3-KeyTripleDES-CBC with OpenSSL's defaults (8-byte salt, 2048 iterations)", () => {
    const { algorithm } = legacyPbeEncrypt(
      PKCS12_PBE_OID.sha1And3KeyTripleDesCbc,
      Buffer.from('x'),
      bmpPassword('p'),
    );
    const d = describeEncryption(algorithm, 'test');
    assert.equal(d.algorithm, 'pbeWithSHAAnd3-KeyTripleDES-CBC');
    assert.equal(d.cipher, 'des-ede3-cbc');
    assert.equal(d.iterations, 2048);
    const salt = readDerChildren(readDer(params(algorithm)).content)[0];
    assert.equal(salt?.content.length, 8);
  });

  it('refuses a ciphertext that is not whole blocks as MTLS_DER_INVALID', () => {
    const oid = PKCS12_PBE_OID.sha1And40BitRc2Cbc;
    const { algorithm } = legacyPbeEncrypt(oid, Buffer.from('abc'), bmpPassword('p'), {
      iterations: 1,
    });
    assert.throws(
      () => legacyPbeDecrypt(oid, params(algorithm), Buffer.alloc(13), bmpPassword('p')),
      (e) => isMtlsError(e, 'MTLS_DER_INVALID'),
    );
  });

  it('refuses an unknown algorithm and an absurd iteration count as MTLS_KEY_UNSUPPORTED', () => {
    assert.throws(
      () => legacyPbeDecrypt('1.2.3.4', Buffer.alloc(0), Buffer.alloc(8), bmpPassword('p')),
      (e) => isMtlsError(e, 'MTLS_KEY_UNSUPPORTED'),
    );
    const algorithm = derSequence(
      derOid(PKCS12_PBE_OID.sha1And3KeyTripleDesCbc),
      derSequence(derOctetString(randomBytes(8)), derInteger(2 ** 31)),
    );
    assert.throws(
      () => describeEncryption(algorithm, 'test'),
      (e) => isMtlsError(e, 'MTLS_KEY_UNSUPPORTED'),
    );
  });
});
