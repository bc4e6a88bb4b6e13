/**
 * Bad input to the CA commands: each gets a clear error code, a non-zero exit
 * code, and leaves no partial output.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, run, opensslEcCsr } from '../helpers/cli.js';
import { tempDir } from '../helpers/pki.js';

let dir = '';
let cleanup = (): void => undefined;
let ca = '';
let pass = '';
let goodCsr = '';

before(async () => {
  const t = tempDir();
  dir = t.dir;
  cleanup = t.cleanup;
  ca = join(dir, 'ca');
  pass = join(dir, 'pass');
  writeFileSync(pass, 'the right passphrase\n');
  const r = await runCli([
    'ca',
    'init',
    ca,
    '--subject',
    '/C=BR/ST=SP/O=Acme/CN=Acme Root',
    '--key-type',
    'ec-p256',
    '--passphrase-file',
    pass,
  ]);
  assert.equal(r.code, 0, r.stderr);
  goodCsr = join(dir, 'good.csr');
  opensslEcCsr(join(dir, 'good.key'), goodCsr, '/C=BR/ST=SP/O=Acme/CN=good');
});
after(() => cleanup());

function indexLines(): number {
  return readFileSync(join(ca, 'index.txt'), 'utf8').split('\n').filter(Boolean).length;
}

async function expectFailure(
  args: string[],
  code: string,
  exit: number,
  message?: RegExp,
): Promise<string> {
  const before = indexLines();
  const newcerts = readdirSync(join(ca, 'newcerts')).length;
  const r = await runCli(args);
  assert.equal(r.code, exit, `exit code for ${args.join(' ')}: ${r.stderr}`);
  assert.match(r.stderr, new RegExp(`error\\[${code}\\]`));
  assert.match(r.stderr, /\nhint: /);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  if (message) assert.match(r.stderr, message);
  assert.equal(indexLines(), before, 'index.txt unchanged');
  assert.equal(readdirSync(join(ca, 'newcerts')).length, newcerts, 'newcerts unchanged');
  return r.stderr;
}

test('garbage PEM', async () => {
  const f = join(dir, 'garbage.csr');
  writeFileSync(
    f,
    '-----BEGIN CERTIFICATE REQUEST-----\n!!!not base64!!!\n-----END CERTIFICATE REQUEST-----\n',
  );
  await expectFailure(
    ['ca', 'sign', f, '--ca', ca, '--passphrase-file', pass],
    'MTLS_PEM_INVALID',
    5,
    /garbage\.csr/,
  );
  writeFileSync(f, 'hello world');
  await expectFailure(
    ['ca', 'sign', f, '--ca', ca, '--passphrase-file', pass],
    'MTLS_DER_INVALID',
    5,
  );
});

test('truncated DER', async () => {
  const der = run('openssl', ['req', '-in', goodCsr, '-outform', 'DER']);
  const f = join(dir, 'trunc.der');
  const full = Buffer.from(
    readFileSync(goodCsr, 'utf8')
      .replace(/-----[^-]+-----/g, '')
      .replace(/\s/g, ''),
    'base64',
  );
  assert.equal(der.code, 0);
  writeFileSync(f, full.subarray(0, full.length - 20));
  await expectFailure(
    ['ca', 'sign', f, '--ca', ca, '--passphrase-file', pass],
    'MTLS_DER_INVALID',
    5,
    /trunc\.der/,
  );
});

test('wrong passphrase', async () => {
  const wrong = join(dir, 'wrong');
  writeFileSync(wrong, 'not it\n');
  const err = await expectFailure(
    ['ca', 'sign', goodCsr, '--ca', ca, '--passphrase-file', wrong],
    'MTLS_BAD_PASSPHRASE',
    4,
  );
  assert.doesNotMatch(err, /not it|the right passphrase/, 'the passphrase is never echoed');
});

test('no passphrase and no terminal', async () => {
  await expectFailure(['ca', 'sign', goodCsr, '--ca', ca], 'MTLS_PASSPHRASE_REQUIRED', 3);
});

test('a CSR with a broken signature', async () => {
  const der = Buffer.from(
    readFileSync(goodCsr, 'utf8')
      .replace(/-----[^-]+-----/g, '')
      .replace(/\s/g, ''),
    'base64',
  );
  // Flip a byte inside the subject CN ("good" → "gooe"): still parses, signature fails.
  const i = der.indexOf(Buffer.from('good'));
  der[i + 3] = 'e'.charCodeAt(0);
  const f = join(dir, 'tampered.csr');
  writeFileSync(
    f,
    `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`,
  );
  const o = run('openssl', ['req', '-in', f, '-verify', '-noout']);
  assert.match(
    o.stdout + o.stderr,
    /^Certificate request self-signature verify failure$/m,
    'openssl agrees it is broken',
  );
  await expectFailure(
    ['ca', 'sign', f, '--ca', ca, '--passphrase-file', pass],
    'MTLS_CSR_SIGNATURE',
    4,
    /tampered\.csr/,
  );
});

test('a policy mismatch names the field, the CSR value and the CA value', async () => {
  const f = join(dir, 'other-org.csr');
  run('openssl', [
    'req',
    '-new',
    '-key',
    join(dir, 'good.key'),
    '-subj',
    '/C=BR/ST=SP/O=Other Corp/CN=x',
    '-out',
    f,
  ]);
  await expectFailure(
    ['ca', 'sign', f, '--ca', ca, '--passphrase-file', pass],
    'MTLS_POLICY_FIELD_MISMATCH',
    4,
    /organizationName[\s\S]*"Other Corp"[\s\S]*"Acme"/,
  );
  const g = join(dir, 'no-cn.csr');
  run('openssl', [
    'req',
    '-new',
    '-key',
    join(dir, 'good.key'),
    '-subj',
    '/C=BR/ST=SP/O=Acme/OU=x',
    '-out',
    g,
  ]);
  await expectFailure(
    ['ca', 'sign', g, '--ca', ca, '--passphrase-file', pass],
    'MTLS_POLICY_FIELD_MISSING',
    4,
    /commonName/,
  );
});

test('values compare, not ASN.1 string types (openssl#16772)', async () => {
  const f = join(dir, 'printable.csr');
  // string_mask default makes OpenSSL write PrintableString where our CA used UTF8String.
  const r0 = run('openssl', [
    'req',
    '-new',
    '-key',
    join(dir, 'good.key'),
    '-subj',
    '/C=BR/ST=SP/O=Acme/CN=printable',
    '-out',
    f,
    '-utf8',
    '-reqopt',
    'no_header',
  ]);
  assert.equal(r0.code, 0, r0.stderr);
  const r = await runCli([
    'ca',
    'sign',
    f,
    '--ca',
    ca,
    '--passphrase-file',
    pass,
    '--profile',
    'client',
  ]);
  assert.equal(r.code, 0, r.stderr);
});

test('refuses a CA request through a leaf profile, and weak keys', async () => {
  const f = join(dir, 'wants-ca.csr');
  run('openssl', [
    'req',
    '-new',
    '-key',
    join(dir, 'good.key'),
    '-subj',
    '/C=BR/ST=SP/O=Acme/CN=sneaky',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-out',
    f,
  ]);
  await expectFailure(
    ['ca', 'sign', f, '--ca', ca, '--passphrase-file', pass, '--profile', 'client'],
    'MTLS_POLICY_CA_REQUEST',
    4,
  );
  const weak = join(dir, 'weak.csr');
  run('openssl', [
    'req',
    '-new',
    '-newkey',
    'rsa:1024',
    '-nodes',
    '-keyout',
    join(dir, 'weak.key'),
    '-subj',
    '/C=BR/ST=SP/O=Acme/CN=weak',
    '-out',
    weak,
  ]);
  await expectFailure(
    ['ca', 'sign', weak, '--ca', ca, '--passphrase-file', pass],
    'MTLS_KEY_TOO_WEAK',
    4,
    /RSA 1024/,
  );
  const p224 = join(dir, 'p224.csr');
  run('openssl', [
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-224',
    '-nodes',
    '-keyout',
    join(dir, 'p224.key'),
    '-subj',
    '/C=BR/ST=SP/O=Acme/CN=p224',
    '-out',
    p224,
  ]);
  await expectFailure(
    ['ca', 'sign', p224, '--ca', ca, '--passphrase-file', pass],
    'MTLS_KEY_TOO_WEAK',
    4,
  );
});

test('an output file that already exists is not overwritten', async () => {
  const out = join(dir, 'exists.pem');
  writeFileSync(out, 'precious');
  await expectFailure(
    ['ca', 'sign', goodCsr, '--ca', ca, '--passphrase-file', pass, '--out', out],
    'MTLS_FILE_EXISTS',
    5,
  );
  assert.equal(readFileSync(out, 'utf8'), 'precious');
  const r = await runCli([
    'ca',
    'init',
    ca,
    '--subject',
    '/CN=again',
    '--no-passphrase',
    '--insecure',
  ]);
  assert.equal(r.code, 5);
  assert.match(r.stderr, /error\[MTLS_FILE_EXISTS\]/);
});

test('a missing CA directory', async () => {
  const r = await runCli(['ca', 'sign', goodCsr, '--ca', join(dir, 'nope')]);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /error\[MTLS_CA_NOT_FOUND\]/);
  assert.match(r.stderr, /nope/);
});

test('a private key handed to ca chain is refused and nothing is written', async () => {
  const out = join(dir, 'chain.pem');
  const r = await runCli(['ca', 'chain', '--ca', ca, join(dir, 'good.key'), '--out', out]);
  assert.equal(r.code, 4);
  assert.match(r.stderr, /error\[MTLS_PRIVATE_KEY_IN_CHAIN\]/);
  assert.ok(!existsSync(out));
  const ok = await runCli(['ca', 'chain', '--ca', ca, '--out', out]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /SHA-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}/);
  assert.doesNotMatch(readFileSync(out, 'utf8'), /PRIVATE KEY/);
});

test('ca init: a bad subject and a bad key type are usage errors; a failed init leaves nothing', async () => {
  const target = join(dir, 'new-ca');
  const r = await runCli([
    'ca',
    'init',
    target,
    '--subject',
    '/C=Brazil/CN=x',
    '--no-passphrase',
    '--insecure',
  ]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /error\[MTLS_BAD_SUBJECT\][\s\S]*countryName/);
  assert.ok(!existsSync(target));
  const k = await runCli([
    'ca',
    'init',
    target,
    '--subject',
    '/CN=x',
    '--key-type',
    'dsa1024',
    '--no-passphrase',
    '--insecure',
  ]);
  assert.equal(k.code, 2);
  assert.ok(!existsSync(target));
  assert.ok(
    readdirSync(dir).every((f) => !f.includes('.init-')),
    'no staging directory left',
  );
});
