/**
 * Java 17 keytool as the oracle: it lists both of our flavours, decrypts our
 * keys (-importkeystore), and we read the files Java writes, modern and legacy.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { buildPfx, parsePfx, type PfxFlavour } from '../../src/pki/pkcs12/index.js';
import { makePfxFixture, pkcs8, type PfxFixture } from '../helpers/pfx-fixtures.js';

const PASSWORD = 'keytool-interop-pw';

function keytool(args: string[]): string {
  return execFileSync('keytool', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('PKCS#12 interop with Java keytool', () => {
  let fx: PfxFixture;
  before(() => {
    fx = makePfxFixture('ec');
  });
  after(() => fx.cleanup());

  const ours = (flavour: PfxFlavour): string => {
    const file = fx.path(`ours-${flavour}.p12`);
    writeFileSync(
      file,
      buildPfx({
        privateKey: fx.leafKey,
        certificate: fx.leafCert,
        chain: [fx.intermediateCert, fx.rootCert],
        password: PASSWORD,
        flavour,
      }),
    );
    return file;
  };

  for (const flavour of ['modern', 'legacy'] as const) {
    it(`keytool -list -storetype PKCS12 reads our ${flavour} file: one PrivateKeyEntry with a chain of 3`, () => {
      const listing = keytool([
        '-list',
        '-v',
        '-storetype',
        'PKCS12',
        '-keystore',
        ours(flavour),
        '-storepass',
        PASSWORD,
      ]);
      assert.match(listing, /Your keystore contains 1 entry/);
      assert.match(listing, /Alias name: acme client 01/i);
      assert.match(listing, /Entry type: PrivateKeyEntry/);
      assert.match(listing, /Certificate chain length: 3/);
      assert.ok(listing.includes(fx.leafCert.fingerprint256), 'the leaf fingerprint is listed');
    });

    it(`keytool -importkeystore decrypts the key of our ${flavour} file, and we read the keystore Java writes`, () => {
      const dest = fx.path(`java-copy-of-${flavour}.p12`);
      keytool([
        '-importkeystore',
        '-noprompt',
        '-srckeystore',
        ours(flavour),
        '-srcstoretype',
        'PKCS12',
        '-srcstorepass',
        PASSWORD,
        '-destkeystore',
        dest,
        '-deststoretype',
        'PKCS12',
        '-deststorepass',
        'java-side-pw',
      ]);
      const p = parsePfx(readFileSync(dest), 'java-side-pw');
      assert.deepEqual(pkcs8(p.privateKey as never), pkcs8(fx.leafKey));
      assert.equal(p.certificate?.fingerprint256, fx.leafCert.fingerprint256);
      assert.equal(p.chain.length, 2);
      assert.match(p.friendlyName ?? '', /^acme client 01$/i);
    });
  }

  for (const legacy of [false, true]) {
    it(`parses a keystore made by keytool -genkeypair${legacy ? ' with -Dkeystore.pkcs12.legacy (RC2-40 + 3DES)' : ' (Java 17 defaults)'}`, () => {
      const file = fx.path(`genkeypair-${legacy}.p12`);
      keytool([
        ...(legacy ? ['-J-Dkeystore.pkcs12.legacy'] : []),
        '-genkeypair',
        '-keyalg',
        'EC',
        '-groupname',
        'secp256r1',
        '-alias',
        'java-made',
        '-dname',
        'CN=java made,O=ACME Test',
        '-validity',
        '5',
        '-storetype',
        'PKCS12',
        '-keystore',
        file,
        '-storepass',
        PASSWORD,
        '-keypass',
        PASSWORD,
      ]);
      const p = parsePfx(readFileSync(file), PASSWORD);
      assert.ok(p.privateKey);
      assert.equal(p.keyMatchesCertificate, true);
      assert.equal(p.friendlyName, 'java-made');
      assert.match(p.certificate?.subject ?? '', /CN=java made/);
      if (legacy) {
        assert.equal(p.algorithms.flavour, 'legacy-rc2');
        assert.equal(p.algorithms.macAlgorithm, 'sha1');
      } else {
        assert.equal(p.algorithms.keyEncryption?.scheme, 'pbes2');
        assert.equal(p.algorithms.macAlgorithm, 'sha256');
      }
    });
  }
});
