/**
 * Fuzzes the `.pfx` reader in every flavour (modern AES/PBES2, legacy 3DES,
 * OpenSSL's RC2-40, without MAC) and the private key readers (plain and
 * encrypted PKCS#8, PKCS#1, SEC1; PEM and DER), and checks the round trips.
 */
import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { X509Certificate, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { exportPrivateKeyPem, loadPrivateKey } from '../../src/pki/keys.js';
import { buildPfx, describePfx, parsePfx } from '../../src/pki/pkcs12/index.js';
import { inspectPki, renderInspectionText } from '../../src/pki/inspect/index.js';
import { pkcs8 } from '../helpers/pfx-fixtures.js';
import {
  KEY_PASSPHRASE,
  PFX_PASSWORD,
  pfxSeeds,
  pkiSeeds,
  type PfxSeeds,
  type PkiSeeds,
} from './seeds.js';
import { LONG_RUN, fuzz, selected } from './harness.js';

/** What `mtls pfx show` / `mtls cert show x.pfx` do with the bytes. */
async function showPfx(input: Buffer): Promise<unknown> {
  const parsed = parsePfx(input, PFX_PASSWORD, { source: 'client.pfx' });
  describePfx(parsed);
  renderInspectionText(
    await inspectPki({ data: input, source: 'client.pfx', password: PFX_PASSWORD }),
  );
  return parsed;
}

describe('fuzz: .pfx files and private keys', () => {
  let s: PkiSeeds;
  let p: PfxSeeds;
  before(async () => {
    s = await pkiSeeds();
    p = pfxSeeds(s);
  });
  after(() => s.cleanup());
  const target = (name: string, run: () => Promise<unknown>): void => {
    it(name, { skip: !selected(name) }, async () => {
      await run();
    });
  };

  target('pfx-modern', () =>
    fuzz({ name: 'pfx-modern', seeds: p.modern, parse: showPfx, runs: 600 }),
  );
  target('pfx-legacy-3des', () =>
    fuzz({ name: 'pfx-legacy-3des', seeds: p.legacy3des, parse: showPfx, runs: 600 }),
  );
  target('pfx-rc2', () => fuzz({ name: 'pfx-rc2', seeds: p.rc2, parse: showPfx, runs: 600 }));
  // Java's flavour: keytool writes its own attributes (a trusted-certificate
  // usage OID on certificate-only entries) and PBES2 with HmacSHA256 in Java 17.
  target('pfx-java', () => {
    const keytool = (args: string[]): void => {
      execFileSync(
        'keytool',
        [
          // Low iteration counts keep each case cheap, as for the other seeds.
          '-J-Dkeystore.pkcs12.certPbeIterationCount=1',
          '-J-Dkeystore.pkcs12.keyPbeIterationCount=1',
          '-J-Dkeystore.pkcs12.macIterationCount=1',
          ...args,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
    };
    const source = s.openssl.path('for-java.p12');
    writeFileSync(source, p.modern[0] as Buffer);
    const keystore = s.openssl.path('java-keystore.p12');
    const truststore = s.openssl.path('java-truststore.p12');
    keytool([
      '-importkeystore',
      '-noprompt',
      '-srckeystore',
      source,
      '-srcstoretype',
      'PKCS12',
      '-srcstorepass',
      PFX_PASSWORD,
      '-destkeystore',
      keystore,
      '-deststoretype',
      'PKCS12',
      '-deststorepass',
      PFX_PASSWORD,
    ]);
    keytool([
      '-importcert',
      '-noprompt',
      '-alias',
      'fuzz root',
      '-file',
      s.openssl.files.root,
      '-keystore',
      truststore,
      '-storetype',
      'PKCS12',
      '-storepass',
      PFX_PASSWORD,
    ]);
    const seeds = [readFileSync(keystore), readFileSync(truststore)];
    // Both seeds read as Java wrote them: the key entry with its chain, the trusted root alone.
    const key = parsePfx(seeds[0] as Buffer, PFX_PASSWORD);
    assert.deepEqual(pkcs8(key.privateKey as KeyObject), pkcs8(s.leaf.privateKey));
    assert.equal(key.chain.length, 2);
    const trust = parsePfx(seeds[1] as Buffer, PFX_PASSWORD);
    assert.equal(trust.privateKey, undefined);
    assert.deepEqual([trust.certificate?.raw, ...trust.chain.map((c) => c.raw)].filter(Boolean), [
      new X509Certificate(readFileSync(s.openssl.files.root)).raw,
    ]);
    return fuzz({ name: 'pfx-java', seeds, parse: showPfx, runs: 600 });
  });

  const keySeeds = (): Buffer[] => {
    const ec = s.leaf.privateKey;
    const rsa = s.openssl.path('rsa.key');
    return [
      Buffer.from(exportPrivateKeyPem(ec)),
      Buffer.from(exportPrivateKeyPem(ec, { passphrase: KEY_PASSPHRASE, iterations: 1 })),
      ec.export({ format: 'der', type: 'pkcs8' }),
      ec.export({
        format: 'der',
        type: 'pkcs8',
        cipher: 'aes-128-cbc',
        passphrase: KEY_PASSPHRASE,
      }),
      Buffer.from(ec.export({ format: 'pem', type: 'sec1' }) as string),
      Buffer.from(
        ec.export({
          format: 'pem',
          type: 'sec1',
          cipher: 'aes-128-cbc',
          passphrase: KEY_PASSPHRASE,
        }) as string,
      ),
      Buffer.from(
        loadPrivateKey(readFileSync(rsa)).export({ format: 'pem', type: 'pkcs1' }) as string,
      ),
    ];
  };
  target('private-key', () =>
    fuzz({
      name: 'private-key',
      seeds: keySeeds(),
      parse: (b) => loadPrivateKey(b, KEY_PASSPHRASE, 'client.key'),
      accepted: (_input, key) => assert.ok((key as { type?: string }).type === 'private'),
    }),
  );
  target('private-key-no-passphrase', () =>
    fuzz({
      name: 'private-key-no-passphrase',
      seeds: keySeeds(),
      parse: (b) => loadPrivateKey(b, undefined, 'client.key'),
    }),
  );

  it(
    'round trip: a .pfx built in either flavour, with any password, gives back its key, certificate and chain',
    { skip: !selected('roundtrip') },
    () => {
      const chain = [
        Buffer.from(s.intermediate.certificate.rawData),
        Buffer.from(s.root.certificate.rawData),
      ];
      fc.assert(
        fc.property(
          fc.constantFrom('modern' as const, 'legacy' as const),
          fc.string({ maxLength: 24 }),
          fc.string({ maxLength: 32 }),
          (flavour, password, friendlyName) => {
            const pfx = buildPfx({
              privateKey: s.leaf.privateKey,
              certificate: s.leaf.certPem,
              chain,
              password,
              flavour,
              friendlyName,
              iterations: 1,
            });
            const back = parsePfx(pfx, password);
            assert.ok(back.privateKey && back.certificate);
            assert.deepEqual(pkcs8(back.privateKey), pkcs8(s.leaf.privateKey));
            assert.deepEqual(back.certificate.raw, Buffer.from(s.leaf.certificate.rawData));
            assert.deepEqual(
              back.chain.map((c) => c.raw),
              chain,
            );
          },
        ),
        { seed: 0x13f022, numRuns: LONG_RUN ? 2000 : 100 },
      );
    },
  );

  it(
    'round trip: an encrypted key gives back the same key with its passphrase',
    { skip: !selected('roundtrip') },
    () => {
      fc.assert(
        fc.property(fc.string({ minLength: 1, maxLength: 40 }), (passphrase) => {
          const pem = exportPrivateKeyPem(s.leaf.privateKey, { passphrase, iterations: 1 });
          assert.deepEqual(pkcs8(loadPrivateKey(pem, passphrase)), pkcs8(s.leaf.privateKey));
        }),
        { seed: 0x13f022, numRuns: LONG_RUN ? 2000 : 100 },
      );
    },
  );
});
