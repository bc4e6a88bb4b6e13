/**
 * OpenSSL 3.0 as the oracle for PKCS#12: it reads both of our flavours
 * without -legacy, and we read every flavour it writes, including RC2-40
 * (`-legacy`), which Node itself cannot open.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, createPublicKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { isMtlsError } from '../../src/errors/index.js';
import {
  buildPfx,
  convertPfx,
  describePfx,
  parsePfx,
  type PfxDetectedFlavour,
  type PfxFlavour,
} from '../../src/pki/pkcs12/index.js';
import {
  makePfxFixture,
  openssl,
  pkcs8,
  writePasswordFile,
  type PfxFixture,
} from '../helpers/pfx-fixtures.js';

const PASSWORD = 'Tr0ub4dor&3 interop';

describe('PKCS#12 interop with the openssl CLI', () => {
  let fx: PfxFixture;
  let pwFile: string;
  before(() => {
    fx = makePfxFixture('rsa');
    pwFile = writePasswordFile(fx, 'pw.txt', PASSWORD);
  });
  after(() => fx.cleanup());

  const ours = (flavour: PfxFlavour, name: string, password = PASSWORD): string => {
    const file = fx.path(name);
    writeFileSync(
      file,
      buildPfx({
        privateKey: fx.leafKey,
        certificate: fx.leafCert,
        chain: [fx.intermediateCert, fx.rootCert],
        password,
        flavour,
      }),
    );
    return file;
  };

  /** openssl pkcs12 -in F … with the password file; never with -legacy. */
  const readWithOpenssl = (file: string, args: string[], passin = `file:${pwFile}`): string =>
    openssl(['pkcs12', '-in', file, '-passin', passin, ...args]);

  const expectations: Record<PfxFlavour, { mac: RegExp; enc: RegExp }> = {
    modern: {
      mac: /MAC: sha256, Iteration 100000/,
      enc: /PBES2, PBKDF2, AES-256-CBC, Iteration 100000, PRF hmacWithSHA256/,
    },
    legacy: {
      mac: /MAC: sha1, Iteration 2048/,
      enc: /pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048/,
    },
  };

  for (const flavour of ['modern', 'legacy'] as const) {
    it(`openssl pkcs12 -info reads our ${flavour} file without -legacy, with friendlyName and localKeyId`, () => {
      const file = ours(flavour, `ours-${flavour}.pfx`);
      const info = readWithOpenssl(file, ['-info', '-nokeys']);
      // -info prints the algorithm lines on stderr.
      const stderr = opensslStderr([
        'pkcs12',
        '-in',
        file,
        '-passin',
        `file:${pwFile}`,
        '-info',
        '-noout',
      ]);
      assert.match(stderr, expectations[flavour].mac);
      assert.match(stderr, new RegExp(`Shrouded Keybag: ${expectations[flavour].enc.source}`));
      assert.match(stderr, new RegExp(`PKCS7 Encrypted data: ${expectations[flavour].enc.source}`));
      assert.match(info, /friendlyName: ACME Client 01/);
      const keyId = createHash('sha1')
        .update(fx.leafCert.raw)
        .digest('hex')
        .toUpperCase()
        .match(/../g)
        ?.join(' ');
      assert.ok(
        info.includes(`localKeyID: ${keyId}`),
        'localKeyID is the SHA-1 of the certificate',
      );
      assert.equal(info.match(/-----BEGIN CERTIFICATE-----/g)?.length, 3);
    });

    it(`openssl decrypts the key of our ${flavour} file (-nodes) and pairs it with the leaf (-clcerts)`, () => {
      const file = ours(flavour, `ours-${flavour}-nodes.pfx`);
      const keyPem = readWithOpenssl(file, ['-nocerts', '-nodes']);
      const pub = openssl(['pkey', '-pubout'], { input: keyPem, stdio: ['pipe', 'pipe', 'pipe'] });
      assert.equal(pub, createPublicKey(fx.leafKey).export({ format: 'pem', type: 'spki' }));
      const leaf = readWithOpenssl(file, ['-nokeys', '-clcerts']);
      assert.equal(leaf.match(/-----BEGIN CERTIFICATE-----/g)?.length, 1);
      assert.match(leaf, /subject=C = BR, O = ACME Test, CN = ACME Client 01/);
      const cas = readWithOpenssl(file, ['-nokeys', '-cacerts']);
      assert.equal(cas.match(/-----BEGIN CERTIFICATE-----/g)?.length, 2);
    });

    it(`openssl reads our ${flavour} file made with a non-ASCII password and with an empty one`, () => {
      const utf8 = 'pässwörd €';
      const f1 = ours(flavour, `ours-${flavour}-utf8.pfx`, utf8);
      const utf8File = writePasswordFile(fx, `pw-utf8-${flavour}.txt`, utf8);
      assert.match(
        readWithOpenssl(f1, ['-nokeys', '-nodes'], `file:${utf8File}`),
        /BEGIN CERTIFICATE/,
      );
      const f2 = ours(flavour, `ours-${flavour}-empty.pfx`, '');
      assert.match(readWithOpenssl(f2, ['-nocerts', '-nodes'], 'pass:'), /BEGIN PRIVATE KEY/);
    });
  }

  interface Case {
    args: string[];
    flavour: PfxDetectedFlavour;
    keyCipher: string | null;
    certCipher: string | null;
    mac: string | null;
  }
  const CASES: Record<string, Case> = {
    'default (AES-256-CBC, SHA-256 MAC)': {
      args: [],
      flavour: 'modern',
      keyCipher: 'aes-256-cbc',
      certCipher: 'aes-256-cbc',
      mac: 'sha256',
    },
    '-legacy (RC2-40 certificates, 3DES key)': {
      args: ['-legacy'],
      flavour: 'legacy-rc2',
      keyCipher: 'des-ede3-cbc',
      certCipher: 'rc2-40-cbc',
      mac: 'sha1',
    },
    '-legacy with RC2-128 certificates': {
      args: ['-legacy', '-certpbe', 'PBE-SHA1-RC2-128'],
      flavour: 'legacy-rc2',
      keyCipher: 'des-ede3-cbc',
      certCipher: 'rc2-128-cbc',
      mac: 'sha1',
    },
    '-legacy with RC4-128 key and RC4-40 certificates': {
      args: ['-legacy', '-keypbe', 'PBE-SHA1-RC4-128', '-certpbe', 'PBE-SHA1-RC4-40'],
      flavour: 'legacy-rc4',
      keyCipher: 'rc4-128',
      certCipher: 'rc4-40',
      mac: 'sha1',
    },
    '3DES key and certificates, SHA-1 MAC': {
      args: ['-keypbe', 'PBE-SHA1-3DES', '-certpbe', 'PBE-SHA1-3DES', '-macalg', 'sha1'],
      flavour: 'legacy-3des',
      keyCipher: 'des-ede3-cbc',
      certCipher: 'des-ede3-cbc',
      mac: 'sha1',
    },
    '2-key 3DES': {
      args: ['-keypbe', 'PBE-SHA1-2DES', '-certpbe', 'PBE-SHA1-2DES', '-macalg', 'sha1'],
      flavour: 'legacy-3des',
      keyCipher: 'des-ede-cbc',
      certCipher: 'des-ede-cbc',
      mac: 'sha1',
    },
    'AES-128 key, AES-192 certificates, SHA-512 MAC': {
      args: ['-keypbe', 'AES-128-CBC', '-certpbe', 'AES-192-CBC', '-macalg', 'sha512'],
      flavour: 'modern',
      keyCipher: 'aes-128-cbc',
      certCipher: 'aes-192-cbc',
      mac: 'sha512',
    },
    'AES with a SHA-1 MAC': {
      args: ['-macalg', 'sha1'],
      flavour: 'mixed',
      keyCipher: 'aes-256-cbc',
      certCipher: 'aes-256-cbc',
      mac: 'sha1',
    },
    'unencrypted key and certificates': {
      args: ['-keypbe', 'NONE', '-certpbe', 'NONE'],
      flavour: 'unencrypted',
      keyCipher: 'none',
      certCipher: 'none',
      mac: 'sha256',
    },
    // OpenSSL's -nomac also leaves the certificates unencrypted.
    'no MAC': {
      args: ['-nomac'],
      flavour: 'mixed',
      keyCipher: 'aes-256-cbc',
      certCipher: 'none',
      mac: null,
    },
  };

  const opensslExport = (name: string, args: string[], passout = `file:${pwFile}`): Buffer => {
    const file = fx.path(name);
    openssl([
      'pkcs12',
      '-export',
      '-inkey',
      fx.files.leafKey,
      '-in',
      fx.files.leaf,
      '-certfile',
      fx.files.chain,
      '-name',
      'made by openssl',
      '-out',
      file,
      '-passout',
      passout,
      ...args,
    ]);
    return readFileSync(file);
  };

  for (const [label, c] of Object.entries(CASES)) {
    it(`parses a file from openssl pkcs12 -export: ${label}`, () => {
      const p = parsePfx(
        opensslExport(`openssl-${c.flavour}-${c.certCipher}.p12`, c.args),
        PASSWORD,
      );
      assert.deepEqual(pkcs8(p.privateKey as never), pkcs8(fx.leafKey));
      assert.equal(p.certificate?.fingerprint256, fx.leafCert.fingerprint256);
      assert.deepEqual(
        p.chain.map((x) => x.fingerprint256),
        [fx.intermediateCert.fingerprint256, fx.rootCert.fingerprint256],
      );
      assert.equal(p.friendlyName, 'made by openssl');
      assert.deepEqual(p.localKeyId, createHash('sha1').update(fx.leafCert.raw).digest());
      assert.equal(p.algorithms.flavour, c.flavour);
      assert.equal(p.algorithms.keyEncryption?.cipher, c.keyCipher);
      assert.equal(p.algorithms.certEncryption?.cipher, c.certCipher);
      assert.equal(p.algorithms.macAlgorithm, c.mac);
      if (c.mac === null) assert.ok(describePfx(p).warnings.some((w) => /no MAC/.test(w)));
    });
  }

  it('a wrong password is MTLS_BAD_PASSPHRASE on an openssl -legacy file and on one without a MAC', () => {
    const legacy = opensslExport('wrongpw.p12', ['-legacy']);
    assert.throws(
      () => parsePfx(legacy, 'not it'),
      (e) => isMtlsError(e, 'MTLS_BAD_PASSPHRASE'),
    );
    // Without a MAC the failure shows up in decryption instead.
    const noMac = opensslExport('wrongpw-nomac.p12', ['-nomac', '-keypbe', 'PBE-SHA1-3DES']);
    assert.throws(
      () => parsePfx(noMac, 'not it'),
      (e) => isMtlsError(e, 'MTLS_BAD_PASSPHRASE'),
    );
  });

  it('parses openssl files with an empty password and with a non-ASCII password', () => {
    assert.ok(parsePfx(opensslExport('empty.p12', [], 'pass:'), '').privateKey);
    assert.ok(parsePfx(opensslExport('empty-legacy.p12', ['-legacy'], 'pass:'), '').privateKey);
    const utf8 = 'ñandú 🔑';
    const utf8File = writePasswordFile(fx, 'pw-openssl-utf8.txt', utf8);
    assert.ok(
      parsePfx(opensslExport('utf8.p12', ['-legacy'], `file:${utf8File}`), utf8).privateKey,
    );
    assert.ok(parsePfx(opensslExport('utf8-modern.p12', [], `file:${utf8File}`), utf8).privateKey);
  });

  it('reads a certificate-only file (a trust store) and refuses to convert it', () => {
    const file = fx.path('certs-only.p12');
    openssl([
      'pkcs12',
      '-export',
      '-nokeys',
      '-in',
      fx.files.chain,
      '-out',
      file,
      '-passout',
      `file:${pwFile}`,
    ]);
    const p = parsePfx(readFileSync(file), PASSWORD);
    assert.equal(p.privateKey, undefined);
    assert.equal(p.certificate, undefined);
    assert.equal(p.chain.length, 2);
    assert.equal(p.algorithms.keyEncryption, null);
    assert.throws(
      () => convertPfx(readFileSync(file), PASSWORD),
      (e) => isMtlsError(e, 'MTLS_BAD_ARGUMENT'),
    );
  });

  for (const flavour of ['modern', 'legacy'] as const) {
    it(`converts an openssl -legacy (RC2-40) file to ${flavour}, and openssl reads the result without -legacy`, () => {
      const rc2 = opensslExport(`rc2-for-${flavour}.p12`, ['-legacy']);
      const out = fx.path(`converted-${flavour}.pfx`);
      writeFileSync(out, convertPfx(rc2, PASSWORD, { flavour }));
      const p = parsePfx(readFileSync(out), PASSWORD);
      assert.equal(p.algorithms.flavour, flavour === 'modern' ? 'modern' : 'legacy-3des');
      assert.equal(p.friendlyName, 'made by openssl');
      const keyPem = readWithOpenssl(out, ['-nocerts', '-nodes']);
      assert.equal(
        openssl(['pkey', '-pubout'], { input: keyPem, stdio: ['pipe', 'pipe', 'pipe'] }),
        createPublicKey(fx.leafKey).export({ format: 'pem', type: 'spki' }),
      );
      assert.equal(
        readWithOpenssl(out, ['-nokeys']).match(/-----BEGIN CERTIFICATE-----/g)?.length,
        3,
      );
    });
  }
});

/** Runs openssl, asserts success and returns its stderr (where `pkcs12 -info` prints the algorithms). */
function opensslStderr(args: string[]): string {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stderr;
}
