/**
 * Unit checks of the CA core against OpenSSL's behaviour: index.txt lines
 * OpenSSL writes, AKI encoding, DN escaping, policy semantics, atomic writes.
 */
import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { formatIndex, parseIndex, reasonCode } from '../../src/ca/index-db.js';
import { applyPolicy } from '../../src/ca/policy.js';
import { initCa } from '../../src/ca/init-ca.js';
import { assertCode } from '../helpers/assert.js';
import { writeFilesAtomic } from '../../src/io/index.js';
import { buildCertificate } from '../../src/pki/certificate.js';
import { generateKeyPair } from '../../src/pki/keys.js';
import { formatSlash, parseSubject } from '../../src/pki/names.js';
import { BUILTIN_PROFILES, type ExtensionProfile } from '../../src/pki/profile.js';
import { fromX509Name, toX509Name } from '../../src/pki/x509-name.js';
import { run } from '../helpers/cli.js';
import { tempDir } from '../helpers/pki.js';

test('index.txt: OpenSSL hold/compromise lines parse, round-trip verbatim, and map to CRL reasons', () => {
  const text =
    [
      'R\t271208101940Z\t261128101940Z,holdInstruction,1.2.840.10040.2.2\t0A\tunknown\t/C=BR/CN=a',
      'R\t271208101940Z\t261128101940Z,keyTime,20261101000000Z\t0B\tunknown\t/C=BR/CN=b',
      'R\t271208101940Z\t261128101940Z,removeFromCRL\t0C\tunknown\t/C=BR/CN=c',
      'V\t20510101000000Z\t\t0D\tunknown\t/C=BR/CN=d',
    ].join('\n') + '\n';
  const entries = parseIndex(text);
  assert.equal(formatIndex(entries), text);
  assert.deepEqual(
    entries.map((e) => (e.reason ? reasonCode(e.reason) : null)),
    [6, 1, 8, null],
  );
  assert.equal(entries[3]?.expiry.getUTCFullYear(), 2051);
  assert.throws(
    () => parseIndex('R\t271208101940Z\t261128101940Z,privilegeWithdrawn\t0A\tunknown\t/CN=x\n'),
    { code: 'MTLS_CA_CORRUPT' },
  );
});

test('DN: index.txt form escapes like X509_NAME_oneline, types resolve by OID, string types are enforced', () => {
  const dn = fromX509Name(toX509Name(parseSubject('/C=BR/ST=São Paulo/GN=John/title=Dr/CN=x')));
  assert.equal(formatSlash(dn), '/C=BR/ST=S\\xC3\\xA3o Paulo/GN=John/title=Dr/CN=x');
  assert.throws(() => toX509Name(parseSubject('/serialNumber=12_34@x/CN=y')), {
    code: 'MTLS_BAD_SUBJECT',
  });
  assert.throws(() => toX509Name(parseSubject('/CN=y/emailAddress=joão@x.br')), {
    code: 'MTLS_BAD_SUBJECT',
  });
});

test('policy: a match field carries the CA value; unnamed fields are dropped', () => {
  const r = applyPolicy({
    policy: [
      { field: 'countryName', rule: 'match' },
      { field: 'organizationName', rule: 'match' },
      { field: 'commonName', rule: 'supplied' },
    ],
    caSubject: parseSubject('/C=BR/O=Acme/CN=Root'),
    requested: parseSubject('/C=BR/L=Campinas/O=Acme/CN=client'),
  });
  assert.equal(formatSlash(r.subject), '/C=BR/O=Acme/CN=client');
  assert.deepEqual(r.dropped, [{ type: 'L', value: 'Campinas' }]);
});

test("policy: a match field the CA's own subject lacks is a misconfigured policy, said as such, not a CSR to fix", () => {
  assert.throws(
    () =>
      applyPolicy({
        policy: [
          { field: 'stateOrProvinceName', rule: 'match' },
          { field: 'commonName', rule: 'supplied' },
        ],
        policyName: 'policy_strict',
        caSubject: parseSubject('/C=BR/O=Acme/CN=Root'),
        requested: parseSubject('/C=BR/O=Acme/CN=client'),
      }),
    assertCode(
      'MTLS_CONFIG_INVALID',
      /policy_strict says stateOrProvinceName = match, but the CA certificate has no stateOrProvinceName/,
    ),
  );
});

test('ca init refuses a subject without the C, ST and O that policy_strict matches, and creates nothing', async () => {
  const { dir } = tempDir('mtlskit-ca-init-subject-');
  const target = join(dir, 'ca');
  await assert.rejects(
    initCa({
      dir: target,
      subject: '/C=BR/O=Acme/CN=Root',
      keyType: 'ec-p256',
      noPassphrase: true,
    }),
    assertCode('MTLS_BAD_SUBJECT', /has no ST: policy_strict .* could issue nothing/),
  );
  assert.equal(existsSync(target), false);
});

test('AKI with issuer serial: a serial with its top bit set stays positive and openssl verifies the chain', async () => {
  const t = tempDir();
  try {
    const k = await generateKeyPair('ec-p256');
    const akiBoth = { keyid: 'always', issuer: 'always' } as const;
    const root = await buildCertificate({
      subject: parseSubject('/CN=root'),
      signer: { privateKey: k.privateKey },
      profile: { ...(BUILTIN_PROFILES.v3_ca as ExtensionProfile), authorityKeyIdentifier: akiBoth },
      serialNumber: '8201FF',
    });
    const l = await generateKeyPair('ec-p256');
    const leaf = await buildCertificate({
      subject: parseSubject('/CN=leaf'),
      publicKey: l.publicKey,
      signer: { privateKey: k.privateKey, certificate: root.certificate },
      profile: {
        ...(BUILTIN_PROFILES.client_cert as ExtensionProfile),
        authorityKeyIdentifier: akiBoth,
      },
    });
    writeFileSync(join(t.dir, 'root.pem'), root.pem);
    writeFileSync(join(t.dir, 'leaf.pem'), leaf.pem);
    assert.equal(
      run('openssl', ['verify', '-CAfile', join(t.dir, 'root.pem'), join(t.dir, 'leaf.pem')]).code,
      0,
    );
    assert.match(
      run('openssl', ['x509', '-in', join(t.dir, 'leaf.pem'), '-noout', '-text']).stdout,
      /serial:82:01:FF/,
    );
  } finally {
    t.cleanup();
  }
});

test('writeFilesAtomic: a failure on one file leaves every target as it was and no temp files', async () => {
  const t = tempDir();
  try {
    const ok = join(t.dir, 'a.txt');
    writeFileSync(ok, 'old a');
    const locked = join(t.dir, 'locked');
    mkdirSync(locked);
    writeFileSync(join(locked, 'b.txt'), 'old b');
    chmodSync(locked, 0o500);
    const asRoot = process.getuid?.() === 0;
    await assert.rejects(
      writeFilesAtomic(
        [
          { path: ok, data: 'new a' },
          {
            path: asRoot ? join(t.dir, 'missing-dir', 'b.txt') : join(locked, 'b.txt'),
            data: 'new b',
          },
        ],
        { force: true },
      ),
      { code: 'MTLS_FILE_WRITE' },
    );
    chmodSync(locked, 0o700);
    assert.equal(readFileSync(ok, 'utf8'), 'old a');
    assert.deepEqual(
      readdirSync(t.dir).filter((f) => f.endsWith('.tmp') || f.endsWith('.bak')),
      [],
    );
    await assert.rejects(writeFilesAtomic([{ path: ok, data: 'x' }]), { code: 'MTLS_FILE_EXISTS' });
    assert.equal(readFileSync(ok, 'utf8'), 'old a');
  } finally {
    t.cleanup();
  }
});

test("CA lock: a dead owner's lock is taken over, a live one times out naming its holder", async () => {
  const { withCaLock } = await import('../../src/ca/lock.js');
  const { hostname } = await import('node:os');
  const t = tempDir();
  try {
    const lock = join(t.dir, '.mtls.lock');
    // pid 2^22+7 is above Linux's largest possible pid_max (2^22): never alive.
    writeFileSync(lock, `4194311\n${hostname()}\n2026-01-01T00:00:00Z\ndeadbeef\n`);
    assert.equal(await withCaLock(lock, () => Promise.resolve('ran'), { timeoutMs: 5000 }), 'ran');
    assert.deepEqual(readdirSync(t.dir), []);
    writeFileSync(lock, `${process.pid}\n${hostname()}\n2026-01-01T00:00:00Z\nlive\n`);
    await assert.rejects(
      withCaLock(lock, () => Promise.resolve('no'), { timeoutMs: 200 }),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'MTLS_LOCK_TIMEOUT');
        assert.match(e.message, new RegExp(`pid ${process.pid}`));
        return true;
      },
    );
    assert.match(readFileSync(lock, 'utf8'), /live/, "the live owner's lock is untouched");
  } finally {
    t.cleanup();
  }
});
