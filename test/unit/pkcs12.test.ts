import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey, randomBytes } from 'node:crypto';
import { isMtlsError, type ErrorCode } from '../../src/errors/index.js';
import { readDer, readDerChildren, tlv } from '../../src/pki/der.js';
import { berToDer } from '../../src/pki/pkcs12/ber.js';
import { parseCertificateDer } from '../../src/pki/pkcs12/certificates.js';
import {
  buildPfx,
  convertPfx,
  describePfx,
  parsePfx,
  type PfxFlavour,
} from '../../src/pki/pkcs12/index.js';
import { exportPrivateKeyPem } from '../../src/pki/keys.js';
import { makePfxFixture, pkcs8, type PfxFixture } from '../helpers/pfx-fixtures.js';
import { at, defined } from '../helpers/assert.js';

const rejects =
  (code: ErrorCode) =>
  (e: unknown): boolean => {
    assert.ok(
      isMtlsError(e, code),
      `expected ${code}, got ${e instanceof Error ? String(e.stack) : String(e)}`,
    );
    return true;
  };

/** Re-encodes DER as BER the way Java/NSS do: indefinite lengths, chunked OCTET STRINGs (never inside one). */
function toBer(der: Buffer): Buffer {
  const el = readDer(der);
  if (el.tag & 0x20) {
    const kids = readDerChildren(el.content).map((k) => toBer(k.raw));
    return Buffer.concat([Buffer.from([el.tag, 0x80]), ...kids, Buffer.from([0, 0])]);
  }
  if (el.tag === 0x04 && el.content.length > 100) {
    const chunks: Buffer[] = [];
    for (let i = 0; i < el.content.length; i += 100)
      chunks.push(tlv(0x04, el.content.subarray(i, i + 100)));
    return Buffer.concat([Buffer.from([0x24, 0x80]), ...chunks, Buffer.from([0, 0])]);
  }
  return el.raw;
}

describe('PKCS#12 build and parse', () => {
  let fx: PfxFixture;
  before(() => {
    fx = makePfxFixture('ec');
  });
  after(() => fx.cleanup());

  // Most tests are not about the work factor: 2048 iterations (the legacy
  // default) instead of the modern 100,000 keeps each build and parse cheap.
  // The default itself is checked by the test that builds without `iterations`.
  const build = (
    flavour: PfxFlavour,
    password = 'correct horse',
    extra: Partial<Parameters<typeof buildPfx>[0]> = {},
  ): Buffer =>
    buildPfx({
      privateKey: fx.leafKey,
      certificate: fx.leafCert,
      // Given root first on purpose: the parser must return it leaf-upwards.
      chain: [fx.rootCert.raw, fx.intermediateCert],
      password,
      flavour,
      iterations: 2048,
      ...extra,
    });

  for (const flavour of ['modern', 'legacy'] as const) {
    it(`${flavour}: round-trips key, leaf, chain, friendlyName and localKeyId`, () => {
      const p = parsePfx(build(flavour), 'correct horse');
      assert.ok(p.privateKey);
      assert.deepEqual(pkcs8(p.privateKey), pkcs8(fx.leafKey));
      assert.equal(p.certificate?.fingerprint256, fx.leafCert.fingerprint256);
      assert.deepEqual(
        p.chain.map((c) => c.fingerprint256),
        [fx.intermediateCert.fingerprint256, fx.rootCert.fingerprint256],
      );
      assert.equal(p.friendlyName, 'ACME Client 01');
      assert.deepEqual(p.localKeyId, createHash('sha1').update(fx.leafCert.raw).digest());
      assert.equal(p.keyMatchesCertificate, true);
      assert.equal(p.keyCount, 1);
      const leafEntry = defined(
        p.certificates.find((c) => c.certificate.fingerprint256 === fx.leafCert.fingerprint256),
        'the leaf entry',
      );
      assert.equal(leafEntry.friendlyName, 'ACME Client 01');
      assert.deepEqual(leafEntry.localKeyId, p.localKeyId);
      // Chain certificates carry no attributes, as OpenSSL writes them.
      assert.ok(
        p.certificates
          .filter((c) => c !== leafEntry)
          .every((c) => c.friendlyName === undefined && c.localKeyId === undefined),
      );
    });
  }

  it('modern uses PBES2 AES-256-CBC with PBKDF2-HMAC-SHA256 for key and certificates and a SHA-256 MAC', () => {
    // The real default work factor: no `iterations` given.
    const a = parsePfx(
      buildPfx({ privateKey: fx.leafKey, certificate: fx.leafCert, password: 'correct horse' }),
      'correct horse',
    ).algorithms;
    assert.equal(a.flavour, 'modern');
    assert.equal(a.macAlgorithm, 'sha256');
    assert.equal(a.macIterations, 100_000);
    assert.equal(a.macSaltLength, 16);
    for (const e of [a.keyEncryption, a.certEncryption]) {
      const enc = defined(e, 'an encryption description');
      assert.equal(enc.scheme, 'pbes2');
      assert.equal(enc.cipher, 'aes-256-cbc');
      assert.equal(enc.kdf, 'PBKDF2-hmacWithSHA256');
      assert.equal(enc.iterations, 100_000);
    }
  });

  it('legacy uses pbeWithSHAAnd3-KeyTripleDES-CBC for key and certificates and a SHA-1 MAC', () => {
    // The real legacy default work factor: no `iterations` given.
    const a = parsePfx(
      buildPfx({
        privateKey: fx.leafKey,
        certificate: fx.leafCert,
        password: 'correct horse',
        flavour: 'legacy',
      }),
      'correct horse',
    ).algorithms;
    assert.equal(a.flavour, 'legacy-3des');
    assert.equal(a.macAlgorithm, 'sha1');
    assert.equal(a.macSaltLength, 8);
    assert.equal(a.macIterations, 2048);
    for (const e of [a.keyEncryption, a.certEncryption]) {
      const enc = defined(e, 'an encryption description');
      assert.equal(enc.algorithm, 'pbeWithSHAAnd3-KeyTripleDES-CBC');
      assert.equal(enc.iterations, 2048);
    }
  });

  it('defaults to the modern flavour and honours friendlyName and iteration options', () => {
    const p = parsePfx(
      buildPfx({
        privateKey: fx.leafKey,
        certificate: fx.leafCert,
        password: 'pw',
        friendlyName: 'Zoë – client',
        iterations: 3000,
        macIterations: 4000,
      }),
      'pw',
    );
    assert.equal(p.algorithms.flavour, 'modern');
    assert.equal(p.friendlyName, 'Zoë – client');
    assert.equal(p.algorithms.keyEncryption?.iterations, 3000);
    assert.equal(p.algorithms.macIterations, 4000);
    assert.deepEqual(p.chain, []);
    const none = parsePfx(
      buildPfx({
        privateKey: fx.leafKey,
        certificate: fx.leafCert,
        password: 'pw',
        friendlyName: '',
      }),
      'pw',
    );
    assert.equal(none.friendlyName, undefined);
  });

  it('accepts PEM text and drops duplicate chain certificates', () => {
    const p = parsePfx(
      buildPfx({
        privateKey: fx.leafKey,
        certificate: fx.leafCert.toString(),
        chain: [fx.intermediateCert.toString(), fx.intermediateCert, fx.leafCert],
        password: 'pw',
      }),
      'pw',
    );
    assert.deepEqual(
      p.chain.map((c) => c.fingerprint256),
      [fx.intermediateCert.fingerprint256],
    );
  });

  for (const flavour of ['modern', 'legacy'] as const) {
    it(`${flavour}: works with an empty password and with non-ASCII passwords`, () => {
      for (const pw of ['', 'pässwörd 🔑']) {
        const p = parsePfx(build(flavour, pw), pw);
        assert.equal(p.certificate?.fingerprint256, fx.leafCert.fingerprint256);
      }
    });

    it(`${flavour}: a wrong password is MTLS_BAD_PASSPHRASE`, () => {
      const data = build(flavour);
      for (const pw of ['wrong', '', 'correct horse ', 'Correct horse']) {
        assert.throws(() => parsePfx(data, pw), rejects('MTLS_BAD_PASSPHRASE'));
      }
    });
  }

  it('a file altered after the MAC was computed is refused as MTLS_BAD_PASSPHRASE (MAC mismatch)', () => {
    const data = build('modern');
    const tampered = Buffer.from(data);
    const i = Math.floor(data.length / 2);
    tampered[i] = (tampered[i] as number) ^ 0x01;
    // The middle byte lies inside the AuthenticatedSafe, which the MAC covers and which is checked first.
    assert.throws(() => parsePfx(tampered, 'correct horse'), rejects('MTLS_BAD_PASSPHRASE'));
  });

  it('truncated DER is MTLS_DER_INVALID at every cut point', () => {
    const data = build('legacy');
    for (const cut of [1, 2, 3, 10, 100, data.length >> 1, data.length - 40, data.length - 1]) {
      assert.throws(
        () => parsePfx(data.subarray(0, cut), 'correct horse'),
        rejects('MTLS_DER_INVALID'),
        `cut at ${cut}`,
      );
    }
  });

  it('garbage, empty input, trailing bytes and non-PKCS#12 DER are MTLS_DER_INVALID; PEM text is MTLS_PEM_INVALID', () => {
    assert.throws(() => parsePfx(randomBytes(600), 'x'), rejects('MTLS_DER_INVALID'));
    assert.throws(() => parsePfx(Buffer.alloc(0), 'x'), rejects('MTLS_DER_INVALID'));
    assert.throws(
      () => parsePfx(Buffer.concat([build('modern'), Buffer.from([0])]), 'correct horse'),
      rejects('MTLS_DER_INVALID'),
    );
    assert.throws(() => parsePfx(fx.leafCert.raw, 'x'), rejects('MTLS_DER_INVALID'));
    assert.throws(
      () => parsePfx(Buffer.from(fx.leafCert.toString()), 'x'),
      rejects('MTLS_PEM_INVALID'),
    );
  });

  it('names the file in error messages when given a source', () => {
    assert.throws(
      () => parsePfx(build('modern'), 'nope', { source: 'client.pfx' }),
      (e) => {
        assert.ok(isMtlsError(e, 'MTLS_BAD_PASSPHRASE'));
        assert.match((e as Error).message, /client\.pfx/);
        assert.doesNotMatch((e as Error).message, /nope/);
        return true;
      },
    );
  });

  it('reads BER: indefinite lengths and constructed OCTET STRINGs (Java, Windows, NSS)', () => {
    const der = build('legacy');
    const ber = toBer(der);
    assert.notDeepEqual(ber, der);
    assert.deepEqual(berToDer(ber), der);
    const p = parsePfx(ber, 'correct horse');
    assert.equal(p.certificate?.fingerprint256, fx.leafCert.fingerprint256);
  });

  it('refuses a key that does not match the certificate (MTLS_KEY_MISMATCH) and a public key (MTLS_BAD_ARGUMENT)', () => {
    assert.throws(
      () => buildPfx({ privateKey: fx.otherKey, certificate: fx.leafCert, password: 'pw' }),
      rejects('MTLS_KEY_MISMATCH'),
    );
    assert.throws(
      () =>
        buildPfx({
          privateKey: fx.leafKey,
          certificate: fx.rootCert,
          password: 'pw',
          flavour: 'legacy',
        }),
      rejects('MTLS_KEY_MISMATCH'),
    );
    assert.throws(
      () =>
        buildPfx({
          privateKey: createPublicKey(fx.leafKey),
          certificate: fx.leafCert,
          password: 'pw',
        }),
      rejects('MTLS_BAD_ARGUMENT'),
    );
  });

  it('refuses bad iteration counts, unknown flavours and non-certificates', () => {
    const base = { privateKey: fx.leafKey, certificate: fx.leafCert, password: 'pw' };
    assert.throws(() => buildPfx({ ...base, iterations: 0 }), rejects('MTLS_BAD_ARGUMENT'));
    assert.throws(() => buildPfx({ ...base, iterations: 1.5 }), rejects('MTLS_BAD_ARGUMENT'));
    assert.throws(
      () => buildPfx({ ...base, flavour: 'rc2' as PfxFlavour }),
      rejects('MTLS_BAD_ARGUMENT'),
    );
    assert.throws(
      () => buildPfx({ ...base, certificate: randomBytes(64) }),
      rejects('MTLS_DER_INVALID'),
    );
    assert.throws(
      () => buildPfx({ ...base, chain: ['-----BEGIN X-----\nAAAA\n-----END X-----\n'] }),
      rejects('MTLS_PEM_INVALID'),
    );
  });

  it('refuses PBMAC1 (RFC 9579) with MTLS_KEY_UNSUPPORTED rather than a wrong-password error', () => {
    const data = build('modern');
    // Swap the SHA-256 OID of the MAC for PBMAC1's (same length).
    const sha256 = Buffer.from('0609608648016503040201', 'hex');
    const pbmac1 = Buffer.from('06092a864886f70d01050e', 'hex');
    const at = data.lastIndexOf(sha256);
    assert.ok(at > 0);
    const swapped = Buffer.from(data);
    pbmac1.copy(swapped, at);
    assert.throws(() => parsePfx(swapped, 'correct horse'), rejects('MTLS_KEY_UNSUPPORTED'));
  });

  it('convertPfx turns each flavour into the other, keeping key, chain and friendlyName, optionally with a new password', () => {
    const legacy = convertPfx(build('modern', 'old', { friendlyName: 'kept name' }), 'old', {
      flavour: 'legacy',
      newPassword: 'new',
    });
    assert.throws(() => parsePfx(legacy, 'old'), rejects('MTLS_BAD_PASSPHRASE'));
    const l = parsePfx(legacy, 'new');
    assert.equal(l.algorithms.flavour, 'legacy-3des');
    assert.equal(l.friendlyName, 'kept name');
    const modern = parsePfx(convertPfx(legacy, 'new', { iterations: 2048 }), 'new');
    assert.equal(modern.algorithms.flavour, 'modern');
    assert.deepEqual(pkcs8(modern.privateKey as never), pkcs8(fx.leafKey));
    assert.deepEqual(
      modern.chain.map((c) => c.fingerprint256),
      [fx.intermediateCert.fingerprint256, fx.rootCert.fingerprint256],
    );
    assert.equal(modern.friendlyName, 'kept name');
  });

  it('describePfx reports algorithms and certificates but never key material or the password', () => {
    const password = 'describe-secret-pw';
    const d = describePfx(parsePfx(build('legacy', password), password));
    const json = JSON.stringify(d);
    const keyPem = exportPrivateKeyPem(fx.leafKey);
    const keyB64 = pkcs8(fx.leafKey).toString('base64');
    assert.ok(!json.includes(password));
    assert.ok(!json.includes(keyB64) && !json.includes(keyPem.split('\n')[1] as string));
    assert.ok(!json.includes(pkcs8(fx.leafKey).toString('hex')));
    assert.equal(d.flavour, 'legacy-3des');
    assert.deepEqual(d.privateKey, {
      algorithm: 'ec',
      bits: 256,
      curve: 'P-256',
      text: 'EC P-256',
      matchesCertificate: true,
    });
    assert.deepEqual(
      d.certificates.map((c) => c.role),
      ['leaf', 'chain', 'chain'],
    );
    const leaf = at(d.certificates, 0);
    assert.equal(leaf.subject, 'C=BR, O=ACME Test, CN=ACME Client 01');
    assert.equal(leaf.issuer, 'C=BR, O=ACME Test, CN=ACME Test Issuing CA');
    assert.equal(leaf.serial, fx.leafCert.serialNumber.toUpperCase());
    assert.equal(leaf.sha256, fx.leafCert.fingerprint256);
    assert.equal(leaf.notAfter, new Date(fx.leafCert.validTo).toISOString());
    assert.ok(d.warnings.some((w) => /legacy flavour/.test(w)));
    const later = describePfx(parsePfx(build('modern'), 'correct horse'), {
      now: new Date(Date.now() + 400 * 86400_000),
    });
    assert.ok(later.warnings.some((w) => /expired/.test(w)));
  });
});

describe('a certificate bag whose DER is broken', () => {
  let fx: PfxFixture;
  before(() => {
    fx = makePfxFixture('ec');
  });
  after(() => fx.cleanup());

  it('is MTLS_DER_INVALID naming the bag and the schema that fails, not the PEM decoder OpenSSL tried last', () => {
    const der = Buffer.from(fx.leafCert.raw);
    // The validity SEQUENCE (two UTCTimes) turned into a SET.
    const validity = der.indexOf(Buffer.from([0x30, 0x1e, 0x17]));
    assert.ok(validity > 0);
    der[validity] = 0x31;
    assert.throws(
      () => parseCertificateDer(der, 'client.pfx bag 1 certificate'),
      (e: unknown) => {
        assert.ok(isMtlsError(e, 'MTLS_DER_INVALID'));
        assert.match(e.message, /client\.pfx bag 1 certificate is malformed \(.*Validity/);
        assert.doesNotMatch(e.message, /PEM routines/);
        assert.match(e.hint, /client\.pfx bag 1 certificate/);
        return true;
      },
    );
  });
});
