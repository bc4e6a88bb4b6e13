/**
 * Certificates `mtls ca` issues meet the RFC 5280 profile rules a linter
 * checks: keyUsage by key type, EKU by profile, the signature hash by CA key,
 * validity inside the CA's, SAN on server certificates, subject upper bounds.
 * openssl and certtool (GnuTLS) read every certificate independently.
 */
import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { initCa, openCa, signCsr, generateCrl, type OpenCa } from '../../src/ca/index.js';
import { createCsr } from '../../src/pki/csr.js';
import { generateKeyPair, KEY_TYPES, type KeyType } from '../../src/pki/keys.js';
import { isMtlsError } from '../../src/errors/index.js';
import { parseSubject } from '../../src/pki/names.js';
import { buildCertificate } from '../../src/pki/certificate.js';
import { BUILTIN_PROFILES, type ExtensionProfile } from '../../src/pki/profile.js';
import { run, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/pki.js';

const CA_SUBJECT = '/C=BR/ST=SP/O=Acme/CN=Acme Lint CA';

function tool(cmd: string, args: string[]): string {
  const r = run(cmd, args);
  assert.equal(r.code, 0, `${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

async function newCa(dir: string, keyType: KeyType, days = 3650): Promise<OpenCa> {
  await initCa({ dir, subject: CA_SUBJECT, keyType, days, noPassphrase: true });
  return openCa(dir);
}

async function csrFor(
  keyType: KeyType,
  cn: string,
  san?: string,
  keys?: Awaited<ReturnType<typeof generateKeyPair>>,
): Promise<string> {
  keys ??= await generateKeyPair(keyType);
  const csr = await createCsr({
    subject: parseSubject(`/C=BR/ST=SP/O=Acme/CN=${cn}`),
    privateKey: keys.privateKey,
    ...(san ? { subjectAltNames: [{ type: 'dns' as const, value: san }] } : {}),
  });
  return csr.pem;
}

const KU_TEXT: Record<string, { openssl: string; certtool: string }> = {
  sig: { openssl: 'Digital Signature', certtool: 'Digital signature.' },
  sigNr: {
    openssl: 'Digital Signature, Non Repudiation',
    certtool: 'Digital signature.\n\t\t\tNon repudiation.',
  },
  sigNrKe: {
    openssl: 'Digital Signature, Non Repudiation, Key Encipherment',
    certtool: 'Digital signature.\n\t\t\tNon repudiation.\n\t\t\tKey encipherment.',
  },
};

const EKU_TEXT: Record<string, { openssl: string; certtool: string }> = {
  client: { openssl: 'TLS Web Client Authentication', certtool: 'TLS WWW Client.' },
  server: { openssl: 'TLS Web Server Authentication', certtool: 'TLS WWW Server.' },
  usr_cert: {
    openssl: 'TLS Web Client Authentication, E-mail Protection',
    certtool: 'TLS WWW Client.\n\t\t\tEmail protection.',
  },
};

test('every profile x every key type under a P-384 CA: keyUsage, EKU, ecdsa-with-SHA384 and validity, read and verified by openssl and certtool', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const ca = await newCa(join(dir, 'ca'), 'ec-p384');
  const caPath = ca.config.certificate;
  const caNotAfter = new Date(
    (
      /^notAfter=(.+)$/m.exec(
        tool('openssl', ['x509', '-in', caPath, '-noout', '-enddate', '-dateopt', 'iso_8601']),
      )?.[1] ?? ''
    ).replace(' ', 'T'),
  ).getTime();
  // The generated openssl.cnf names the same digest, so openssl ca agrees.
  assert.match(readFileSync(ca.config.configPath, 'utf8'), /^default_md\s+= sha384$/m);
  // Every key type mtlskit generates; one key each, shared by the three profiles.
  const keyPairs = new Map<KeyType, Awaited<ReturnType<typeof generateKeyPair>>>();
  for (const keyType of KEY_TYPES) keyPairs.set(keyType, await generateKeyPair(keyType));
  for (const profile of ['client', 'server', 'usr_cert'] as const) {
    for (const keyType of KEY_TYPES) {
      const cn = `${profile}-${keyType}`;
      const csr = await csrFor(
        keyType,
        cn,
        profile === 'server' ? `${cn}.example` : undefined,
        keyPairs.get(keyType),
      );
      const r = await signCsr({ ca, csr, profile, days: 90 });
      const certPath = join(dir, `${cn}.pem`);
      writeFileSync(certPath, r.pem);
      const isRsa = keyType.startsWith('rsa');
      const ku = profile === 'usr_cert' ? (isRsa ? 'sigNrKe' : 'sigNr') : 'sig';
      const what = `${profile}/${keyType}`;

      const text = tool('openssl', ['x509', '-in', certPath, '-noout', '-text']);
      assert.match(text, /Signature Algorithm: ecdsa-with-SHA384/, what);
      assert.ok(
        text.includes(`X509v3 Key Usage: critical\n                ${KU_TEXT[ku]?.openssl}\n`),
        `${what}: keyUsage\n${text}`,
      );
      assert.ok(
        text.includes(
          `X509v3 Extended Key Usage: \n                ${EKU_TEXT[profile]?.openssl}\n`,
        ),
        `${what}: EKU`,
      );
      if (profile === 'server')
        assert.match(text, new RegExp(`DNS:${cn}\\.example`), `${what}: SAN copied from the CSR`);
      if (profile === 'usr_cert' && !isRsa)
        assert.ok(
          r.warnings.some((w) => w.includes('keyEncipherment left out') && w.includes('RFC')),
          `${what}: warned`,
        );

      const gnu = tool('certtool', ['-i', '--infile', certPath]);
      assert.match(gnu, /Signature Algorithm: ECDSA-SHA384/, what);
      assert.ok(
        gnu.includes(`Key Usage (critical):\n\t\t\t${KU_TEXT[ku]?.certtool}\n\t\tKey Purpose`),
        `${what}: certtool keyUsage\n${gnu}`,
      );
      assert.ok(
        gnu.includes(`Key Purpose (not critical):\n\t\t\t${EKU_TEXT[profile]?.certtool}\n`),
        `${what}: certtool EKU`,
      );
      if (!(profile === 'usr_cert' && isRsa))
        assert.doesNotMatch(gnu, /Key encipherment/, `${what}: no keyEncipherment`);

      // Validity: exactly the days asked for, inside the CA's, as openssl reads the fields.
      assert.equal(r.notAfter.getTime() - r.notBefore.getTime(), 90 * 86_400_000, what);
      assert.ok(r.notAfter <= ca.certificate.notAfter, what);
      const dates = tool('openssl', [
        'x509',
        '-in',
        certPath,
        '-noout',
        '-dates',
        '-dateopt',
        'iso_8601',
      ]);
      const field = (name: string): number =>
        new Date(
          (new RegExp(`^${name}=(.+)$`, 'm').exec(dates)?.[1] ?? '').replace(' ', 'T'),
        ).getTime();
      assert.equal(field('notBefore'), r.notBefore.getTime(), `${what}: notBefore`);
      assert.equal(field('notAfter'), r.notAfter.getTime(), `${what}: notAfter`);
      assert.ok(field('notAfter') <= caNotAfter, `${what}: notAfter inside the CA's`);
      // GnuTLS verifies the chain for the purpose under its medium profile as well.
      const eku = profile === 'server' ? '1.3.6.1.5.5.7.3.1' : '1.3.6.1.5.5.7.3.2';
      const gv = run('certtool', [
        '--verify',
        '--verify-profile',
        'medium',
        '--verify-purpose',
        eku,
        '--load-ca-certificate',
        caPath,
        '--infile',
        certPath,
      ]);
      assert.equal(gv.code, 0, `${what}: certtool --verify: ${gv.stdout}${gv.stderr}`);
      assert.match(gv.stdout, /Chain verification output: Verified\./, what);
      const purpose = profile === 'server' ? 'sslserver' : 'sslclient';
      const v = run('openssl', [
        'verify',
        '-x509_strict',
        '-purpose',
        purpose,
        '-CAfile',
        caPath,
        certPath,
      ]);
      assert.equal(v.code, 0, `${what}: openssl verify: ${v.stdout}${v.stderr}`);
    }
  }
  // The CRL is signed with the same digest.
  const crl = await generateCrl({ ca, outPath: join(dir, 'ca.crl.pem') });
  assert.match(
    tool('openssl', ['crl', '-in', crl.path, '-noout', '-text']),
    /Signature Algorithm: ecdsa-with-SHA384/,
  );
});

test('the signature hash follows the CA key: RSA sha256 (default_md), P-256 SHA-256, Ed25519, P-521 SHA-512; openssl ca agrees', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  for (const [keyType, openssl, certtool] of [
    ['rsa2048', 'sha256WithRSAEncryption', 'RSA-SHA256'],
    ['ec-p256', 'ecdsa-with-SHA256', 'ECDSA-SHA256'],
    ['ed25519', 'ED25519', 'EdDSA-Ed25519'],
  ] as const) {
    const ca = await newCa(join(dir, keyType), keyType);
    const r = await signCsr({
      ca,
      csr: await csrFor('ec-p256', `leaf-${keyType}`),
      profile: 'client',
    });
    const certPath = join(dir, `leaf-${keyType}.pem`);
    writeFileSync(certPath, r.pem);
    assert.match(
      tool('openssl', ['x509', '-in', certPath, '-noout', '-text']),
      new RegExp(`Signature Algorithm: ${openssl}`),
      keyType,
    );
    assert.match(
      tool('certtool', ['-i', '--infile', certPath]),
      new RegExp(`Signature Algorithm: ${certtool}`),
      keyType,
    );
    const crl = await generateCrl({ ca });
    assert.match(
      tool('openssl', ['crl', '-in', crl.path, '-noout', '-text']),
      new RegExp(`Signature Algorithm: ${openssl}`),
      `${keyType} CRL`,
    );
  }
  // openssl ca with the generated file signs a P-384 CA's leaf with SHA-384, as mtls does.
  const p384 = await newCa(join(dir, 'p384'), 'ec-p384');
  const csrPath = join(dir, 'o.csr.pem');
  writeFileSync(csrPath, await csrFor('ec-p256', 'by-openssl'));
  const out = join(dir, 'o.pem');
  tool('openssl', [
    'ca',
    '-config',
    p384.config.configPath,
    '-batch',
    '-extensions',
    'client_cert',
    '-in',
    csrPath,
    '-out',
    out,
  ]);
  const text = tool('openssl', ['x509', '-in', out, '-noout', '-text']);
  assert.match(text, /Signature Algorithm: ecdsa-with-SHA384/);
  assert.match(text, /X509v3 Key Usage: critical\n\s+Digital Signature\n/);
  // P-521 (read, never generated, by mtlskit): a P-521 signer uses SHA-512.
  const k521 = (await import('node:crypto')).generateKeyPairSync('ec', { namedCurve: 'secp521r1' });
  const root = await buildCertificate({
    subject: parseSubject('/CN=P-521 root'),
    signer: { privateKey: k521.privateKey },
    profile: BUILTIN_PROFILES.v3_ca as ExtensionProfile,
  });
  writeFileSync(join(dir, 'p521.pem'), root.pem);
  assert.match(
    tool('openssl', ['x509', '-in', join(dir, 'p521.pem'), '-noout', '-text']),
    /Signature Algorithm: ecdsa-with-SHA512/,
  );
});

test('a default_md the CA key overrules is reported', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const caDir = join(dir, 'ca');
  await initCa({ dir: caDir, subject: CA_SUBJECT, keyType: 'ec-p384', noPassphrase: true });
  const cnf = join(caDir, 'openssl.cnf');
  writeFileSync(
    cnf,
    readFileSync(cnf, 'utf8').replace(/^default_md(\s+)= sha384$/m, 'default_md$1= sha256'),
  );
  const r = await signCsr({
    ca: await openCa(caDir),
    csr: await csrFor('ec-p256', 'x'),
    profile: 'client',
  });
  assert.ok(
    r.warnings.some((w) => w.includes('default_md = sha256 is overruled') && w.includes('SHA-384')),
    r.warnings.join('\n'),
  );
});

test('reject paths: outliving the CA, a server certificate without SAN, subjects beyond the RFC 5280 bounds', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const caDir = join(dir, 'ca');
  await newCa(caDir, 'ec-p256', 100);
  const csrPath = join(dir, 'c.csr.pem');
  writeFileSync(csrPath, await csrFor('ec-p256', 'long-lived'));

  // --days 9000 under a 100-day CA: refused (exit 4), never capped; the hint gives the longest that fits.
  const long = await runCli([
    'ca',
    'sign',
    csrPath,
    '--ca',
    caDir,
    '--profile',
    'client',
    '--days',
    '9000',
  ]);
  assert.equal(long.code, 4, long.stderr);
  assert.match(
    long.stderr,
    /error\[MTLS_VALIDITY_BEYOND_CA\]: the certificate would be valid until .* but the CA certificate .* expires on /,
  );
  assert.match(long.stderr, /hint: Ask for at most (99|100) day\(s\) with --days/);
  const fits = await runCli([
    'ca',
    'sign',
    csrPath,
    '--ca',
    caDir,
    '--profile',
    'client',
    '--days',
    '99',
    '--json',
  ]);
  assert.equal(fits.code, 0, fits.stderr);

  // server without any SAN: refused; with --san: accepted and written.
  const noSan = await runCli([
    'ca',
    'sign',
    csrPath,
    '--ca',
    caDir,
    '--profile',
    'server',
    '--days',
    '30',
  ]);
  assert.equal(noSan.code, 4, noSan.stderr);
  assert.match(
    noSan.stderr,
    /error\[MTLS_SAN_REQUIRED\]: .*c\.csr\.pem: profile server_cert issues server certificates .* neither the CSR nor --san gives a subjectAltName/,
  );
  const withSan = await runCli([
    'ca',
    'sign',
    csrPath,
    '--ca',
    caDir,
    '--profile',
    'server',
    '--days',
    '30',
    '--san',
    'DNS:api.example',
    '--out',
    join(dir, 's.pem'),
  ]);
  assert.equal(withSan.code, 0, withSan.stderr);
  assert.match(
    tool('openssl', ['x509', '-in', join(dir, 's.pem'), '-noout', '-ext', 'subjectAltName']),
    /DNS:api\.example/,
  );
  // Nothing was recorded for the refused requests.
  assert.equal(readFileSync(join(caDir, 'index.txt'), 'utf8').trim().split('\n').length, 2);

  // Upper bounds at every place a subject is built or signed, naming the field.
  const init = await runCli([
    'ca',
    'init',
    join(dir, 'ca2'),
    '--subject',
    `/C=BR/O=Acme/CN=${'x'.repeat(300)}`,
    '--key-type',
    'ec-p256',
    '--no-passphrase',
    '--insecure',
  ]);
  assert.equal(init.code, 2, init.stderr);
  assert.match(
    init.stderr,
    /commonName \(CN\) has 300 characters; RFC 5280 allows at most 64 \(ub-common-name\)/,
  );
  assert.equal(existsSync(join(dir, 'ca2')), false);
  for (const [field, subject, message] of [
    [
      'O',
      `/C=BR/O=${'o'.repeat(65)}/CN=x`,
      /organizationName \(O\) has 65 characters; RFC 5280 allows at most 64 \(ub-organization-name\)/,
    ],
    [
      'OU',
      `/C=BR/OU=${'u'.repeat(65)}/CN=x`,
      /organizationalUnitName \(OU\) has 65 characters.*ub-organizational-unit-name/,
    ],
    [
      'L',
      `/C=BR/L=${'l'.repeat(129)}/CN=x`,
      /localityName \(L\) has 129 characters.*at most 128 \(ub-locality-name\)/,
    ],
    [
      'ST',
      `/C=BR/ST=${'s'.repeat(129)}/CN=x`,
      /stateOrProvinceName \(ST\) has 129 characters.*ub-state-name/,
    ],
    [
      'emailAddress',
      `/C=BR/CN=x/emailAddress=${'e'.repeat(250)}@x.example`,
      /emailAddress \(emailAddress\) has 260 characters.*at most 255 \(ub-emailaddress-length\)/,
    ],
    [
      'serialNumber',
      `/C=BR/CN=x/serialNumber=${'1'.repeat(65)}`,
      /serialNumber \(serialNumber\) has 65 characters.*ub-serial-number/,
    ],
  ] as const) {
    assert.throws(
      () => parseSubject(subject),
      (e: unknown) =>
        isMtlsError(e, 'MTLS_BAD_SUBJECT') && message.test(e.message) && e.subject === field,
      field,
    );
  }
  // Exactly at the bound is fine, counted in characters, not bytes.
  assert.equal(parseSubject(`/CN=${'é'.repeat(64)}`)[0]?.value.length, 64);
  const keyPath = join(dir, 'k.pem');
  tool('openssl', [
    'genpkey',
    '-algorithm',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-out',
    keyPath,
  ]);
  const csrNew = await runCli([
    'csr',
    'new',
    '--key',
    keyPath,
    '--subject',
    `/C=BR/CN=${'c'.repeat(65)}`,
    '--out',
    join(dir, 'n.csr.pem'),
  ]);
  assert.equal(csrNew.code, 2, csrNew.stderr);
  assert.match(csrNew.stderr, /commonName \(CN\) has 65 characters/);
  const issue = await runCli(
    [
      'ca',
      'issue',
      'client1',
      '--ca',
      caDir,
      '--ou',
      'u'.repeat(70),
      '--days',
      '30',
      '--key-type',
      'ec-p256',
    ],
    { env: { MTLS_PFX_PASSWORD: 'secret-pw' } },
  );
  assert.equal(issue.code, 2, issue.stderr);
  assert.match(issue.stderr, /organizationalUnitName \(OU\) has 70 characters/);
  // A CSR made by a tool without bounds is refused when signed, naming the CSR and the field.
  const longCsr = join(dir, 'long.csr.pem');
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(alg, false, ['sign', 'verify']);
  const req = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${'z'.repeat(65)},O=Acme,ST=SP,C=BR`,
    keys,
    signingAlgorithm: alg,
  });
  writeFileSync(longCsr, req.toString('pem'));
  const signLong = await runCli([
    'ca',
    'sign',
    longCsr,
    '--ca',
    caDir,
    '--profile',
    'client',
    '--days',
    '30',
  ]);
  assert.equal(signLong.code, 2, signLong.stderr);
  assert.match(
    signLong.stderr,
    /long\.csr\.pem: commonName \(CN\) has 65 characters; RFC 5280 allows at most 64/,
  );
});

test("ca adopt --fix adds the guide's missing [crl_ext] and an absolute dir, and openssl ca -gencrl works afterwards", async (t) => {
  const { dir: home, cleanup } = tempDir();
  t.after(cleanup);
  const caDir = join(home, 'myCA');
  for (const d of ['certs', 'crl', 'newcerts', 'private'])
    mkdirSync(join(caDir, d), { recursive: true });
  writeFileSync(join(caDir, 'index.txt'), '');
  writeFileSync(join(caDir, 'serial'), '1000\n');
  const cnf = join(caDir, 'openssl.cnf');
  copyFileSync(new URL('../fixtures/guide-openssl.cnf', import.meta.url), cnf);
  // The root key (P-256 to keep it fast); dir = ~/myCA points at HOME/myCA.
  const real = readFileSync(cnf, 'utf8').replace('dir = ~/myCA', `dir = ${caDir}`);
  const tmpCnf = join(home, 'abs.cnf');
  writeFileSync(tmpCnf, real);
  tool('openssl', [
    'req',
    '-config',
    tmpCnf,
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    join(caDir, 'private', 'ca.key.pem'),
    '-new',
    '-x509',
    '-days',
    '3650',
    '-extensions',
    'v3_ca',
    '-subj',
    CA_SUBJECT,
    '-out',
    join(caDir, 'certs', 'ca.cert.pem'),
  ]);
  const before = run('openssl', [
    'ca',
    '-config',
    cnf,
    '-gencrl',
    '-out',
    join(home, 'before.crl'),
  ]);
  assert.notEqual(before.code, 0, 'the guide file as written cannot make a CRL');

  const dry = await runCli(['ca', 'adopt', caDir], { env: { HOME: home } });
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /to fix \(run with --fix\): add the \[ crl_ext \] section/);
  const fixed = await runCli(['ca', 'adopt', caDir, '--fix', '--json'], { env: { HOME: home } });
  assert.equal(fixed.code, 0, fixed.stderr);
  const report = JSON.parse(fixed.stdout) as { repairs: string[]; profiles: string[] };
  assert.ok(report.profiles.includes('crl_ext'), report.profiles.join(','));
  const text = readFileSync(cnf, 'utf8');
  assert.match(text, /\[ crl_ext \]\nauthorityKeyIdentifier = keyid:always\n/);
  assert.ok(text.includes(`dir = ${caDir}\n`));
  assert.ok(existsSync(`${cnf}.old`), 'the old file is kept');

  const crlPath = join(home, 'after.crl');
  tool('openssl', ['ca', '-config', cnf, '-gencrl', '-out', crlPath]);
  assert.match(
    tool('openssl', ['crl', '-in', crlPath, '-noout', '-text']),
    /X509v3 Authority Key Identifier:/,
  );
  // And mtls reads the repaired file with no crl_ext warning.
  const again = await runCli(['ca', 'adopt', caDir], { env: { HOME: home } });
  assert.doesNotMatch(again.stderr, /crl_ext/);
});

test('--out-dir: ca issue and pfx unpack create a missing directory (0700); an unusable one is refused before signing', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const caDir = join(dir, 'ca');
  await newCa(caDir, 'ec-p256');
  const env = { MTLS_PFX_PASSWORD: 'secret-pw' };
  const out = join(dir, 'new', 'nested');
  const ok = await runCli(
    ['ca', 'issue', 'c1', '--ca', caDir, '--key-type', 'ec-p256', '--out-dir', out, '--json'],
    { env },
  );
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(statSync(out).mode & 0o777, 0o700);
  for (const f of ['c1.key.pem', 'c1.cert.pem', 'c1.pfx', 'c1.csr.pem'])
    assert.ok(existsSync(join(out, f)), f);

  const file = join(dir, 'a-file');
  writeFileSync(file, 'x');
  const bad = await runCli(
    ['ca', 'issue', 'c2', '--ca', caDir, '--key-type', 'ec-p256', '--out-dir', join(file, 'sub')],
    { env },
  );
  assert.equal(bad.code, 5, bad.stderr);
  assert.match(
    bad.stderr,
    /error\[MTLS_FILE_WRITE\]: cannot use --out-dir .*a-file exists and is not a directory/,
  );
  // Refused before signing: only c1 is in the database.
  assert.equal(readFileSync(join(caDir, 'index.txt'), 'utf8').trim().split('\n').length, 1);

  const pem = join(dir, 'pem', 'deeper');
  const unpack = await runCli(
    ['pfx', 'unpack', join(out, 'c1.pfx'), '--out-dir', pem, '--name', 'c1'],
    { env },
  );
  assert.equal(unpack.code, 0, unpack.stderr);
  assert.equal(statSync(pem).mode & 0o777, 0o700);
  assert.ok(existsSync(join(pem, 'c1.cert.pem')));
  const badUnpack = await runCli(
    ['pfx', 'unpack', join(out, 'c1.pfx'), '--out-dir', join(file, 'x')],
    { env },
  );
  assert.equal(badUnpack.code, 5, badUnpack.stderr);
  assert.match(badUnpack.stderr, /not a directory/);
});

test('a failed issue revokes what it signed and names the serial; openssl ca sees it revoked', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const caDir = join(dir, 'ca');
  await newCa(caDir, 'ec-p256');
  const env = { MTLS_PFX_PASSWORD: 'secret-pw' };
  // A directory where the .pfx goes: every check before signing passes (--force),
  // and the final rename fails once the certificate is already in the database.
  mkdirSync(join(caDir, 'certs', 'c9.pfx'), { recursive: true });
  writeFileSync(join(caDir, 'certs', 'c9.pfx', 'keep'), 'x');
  const r = await runCli(['ca', 'issue', 'c9', '--ca', caDir, '--key-type', 'ec-p256', '--force'], {
    env,
  });
  assert.notEqual(r.code, 0, r.stderr);
  const m = /serial ([0-9A-F]+) was revoked \(cessationOfOperation\) and no file was written/.exec(
    r.stderr,
  );
  assert.ok(m, r.stderr);
  assert.match(r.stderr, /hint: .*mtls ca crl.*to publish the revocation of [0-9A-F]+/);
  const serial = m[1] as string;
  const index = readFileSync(join(caDir, 'index.txt'), 'utf8').trim().split('\n');
  assert.equal(index.length, 1);
  const fields = (index[0] as string).split('\t');
  assert.equal(fields[0], 'R');
  assert.equal(fields[3], serial);
  assert.match(fields[2] as string, /,cessationOfOperation$/);
  // No key, CSR or certificate of the failed issue is left behind.
  for (const f of [
    join(caDir, 'private', 'c9.key.pem'),
    join(caDir, 'c9.csr.pem'),
    join(caDir, 'certs', 'c9.cert.pem'),
  ])
    assert.ok(!existsSync(f), f);
  // OpenSSL reads the same database: the serial is revoked.
  const status = run('openssl', ['ca', '-config', join(caDir, 'openssl.cnf'), '-status', serial]);
  assert.match(status.stdout + status.stderr, new RegExp(`${serial}=Revoked`));
});
