/**
 * The CLI speaks with one voice: one DN form, CRL numbers as openssl prints
 * them, JSON tagged with its schema, --ca-file for trusted certificates,
 * --version, completion, cert show --short, and the secret and confirmation
 * rules for CA keys and institution removal.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, runCli } from '../helpers/cli.js';

let dir: string;
let ca: string;
const ROOT_SUBJECT = '/C=BR/ST=São Paulo/O=Acme/CN=Acme Root';

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mtls-voice-'));
  ca = join(dir, 'ca');
  const init = await runCli([
    'ca',
    'init',
    ca,
    '--subject',
    ROOT_SUBJECT,
    '--key-type',
    'ec-p256',
    '--no-passphrase',
    '--insecure',
  ]);
  assert.equal(init.code, 0, init.stderr);
  // Human output names the subject as text, in OpenSSL's order.
  assert.match(init.stdout, /subject +C=BR, ST=São Paulo, O=Acme, CN=Acme Root\n/);
  writeFileSync(join(dir, 'pfx.pass'), 'pfx-password\n');
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('--version prints the package version, Node and OpenSSL', async () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  const r = await runCli(['--version']);
  assert.equal(r.code, 0);
  assert.equal(
    r.stdout,
    `mtlskit ${pkg.version}\nnode ${process.versions.node}\nopenssl ${process.versions.openssl}\n`,
  );
});

test('ca issue, ca show and ca list print UTF-8 names as text, never \\xHH', async () => {
  const issue = await runCli([
    'ca',
    'issue',
    'client1',
    '--ca-dir',
    ca,
    '--key-type',
    'ec-p256',
    '--out-dir',
    join(dir, 'out'),
    '--password-file',
    join(dir, 'pfx.pass'),
  ]);
  assert.equal(issue.code, 0, issue.stderr);
  assert.match(issue.stdout, /issued C=BR, ST=São Paulo, O=Acme, CN=client1 \(serial/);
  // index.txt keeps OpenSSL's oneline form, as openssl ca writes it.
  assert.match(readFileSync(join(ca, 'index.txt'), 'utf8'), /\/ST=S\\xC3\\xA3o Paulo\//);
  const show = await runCli(['ca', 'show', '--ca-dir', ca]);
  assert.equal(show.code, 0, show.stderr);
  assert.doesNotMatch(show.stdout, /\\x/);
  assert.match(show.stdout, /C=BR, ST=São Paulo, O=Acme, CN=client1/);
  const list = await runCli(['ca', 'list', '--ca-dir', ca, '--json']);
  assert.equal(list.code, 0, list.stderr);
  const j = JSON.parse(list.stdout) as {
    schema: string;
    items: Array<{ subject: string; serial: string }>;
  };
  assert.equal(j.schema, 'mtls.ca-list/v1');
  assert.equal(j.items[0]?.subject, 'C=BR, ST=São Paulo, O=Acme, CN=client1');
  // The same serial as openssl's, under the one name `serial`.
  const serial = run('openssl', [
    'x509',
    '-in',
    join(dir, 'out', 'client1.cert.pem'),
    '-noout',
    '-serial',
  ]).stdout.trim();
  const [first] = j.items;
  assert.ok(first);
  assert.equal(`serial=${first.serial}`, serial);
});

test('every JSON output carries its schema; a certificate serial is named serial', async () => {
  const show = await runCli(['ca', 'show', '--ca-dir', ca, '--json']);
  assert.equal((JSON.parse(show.stdout) as { schema: string }).schema, 'mtls.ca-show/v1');
  const cert = await runCli(['cert', 'show', join(dir, 'out', 'client1.cert.pem'), '--json']);
  assert.equal(cert.code, 0, cert.stderr);
  assert.match(cert.stdout, /"schema": "mtls.cert-show\/v1"/);
  assert.match(cert.stdout, /"serial": /);
  assert.doesNotMatch(cert.stdout, /"serialNumber"/);
});

test('ca crl prints the CRL number as openssl crl -crlnumber does', async () => {
  for (let i = 0; i < 2; i++) {
    const r = await runCli(['ca', 'crl', '--ca-dir', ca]);
    assert.equal(r.code, 0, r.stderr);
    const ours = /CRL (0x[0-9A-F]+) with/.exec(r.stdout)?.[1];
    const theirs = run('openssl', [
      'crl',
      '-in',
      join(ca, 'crl', 'ca.crl.pem'),
      '-noout',
      '-crlnumber',
    ]).stdout.trim();
    assert.equal(`crlNumber=${ours ?? '?'}`, theirs);
  }
});

test('cert show --short gives one line per certificate', async () => {
  const bundle = join(dir, 'bundle.pem');
  writeFileSync(
    bundle,
    readFileSync(join(dir, 'out', 'client1.cert.pem'), 'utf8') +
      readFileSync(join(ca, 'certs', 'ca.cert.pem'), 'utf8'),
  );
  const r = await runCli(['cert', 'show', bundle, '--short']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.equal(lines.length, 2);
  assert.match(lines[0] ?? '', /^certificate C=BR, ST=São Paulo, O=Acme, CN=client1 \| issuer /);
  assert.match(
    lines[1] ?? '',
    /^certificate C=BR, ST=São Paulo, O=Acme, CN=Acme Root \| issuer \(self\)/,
  );
});

test('cert verify takes --ca-file; the old --ca still works, with a deprecation warning', async () => {
  const cert = join(dir, 'out', 'client1.cert.pem');
  const root = join(ca, 'certs', 'ca.cert.pem');
  const good = await runCli(['cert', 'verify', cert, '--ca-file', root, '--purpose', 'client']);
  assert.equal(good.code, 0, good.stderr);
  assert.equal(good.stderr, '');
  assert.match(good.stdout, /1 C=BR, ST=São Paulo, O=Acme, CN=Acme Root \(trust anchor\)/);
  const old = await runCli(['cert', 'verify', cert, '--ca', root, '--purpose', 'client']);
  assert.equal(old.code, 0, old.stderr);
  assert.match(old.stderr, /--ca is deprecated; use --ca-file/);
});

test('snippet --cert without --key is a usage error, as for request and probe', async () => {
  const cert = join(dir, 'out', 'client1.cert.pem');
  for (const args of [
    ['snippet', '--lang', 'curl', 'https://api.example/', '--cert', cert],
    ['request', 'https://127.0.0.1:1/', '--cert', cert],
  ]) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `${args[0] ?? ''}: ${r.stderr}`);
    assert.match(r.stderr, /^error\[MTLS_USAGE\]: --cert needs --key\n/);
  }
});

test('ca sign and ca issue state the same default profile', async () => {
  for (const verb of ['sign', 'issue']) {
    const r = await runCli(['ca', verb, '--help']);
    assert.match(r.stdout, /--profile <name>[\s\S]*?\(default: "client"\)/, verb);
  }
});

test('an unencrypted CA key needs --no-passphrase --insecure together', async () => {
  const r = await runCli([
    'ca',
    'init',
    join(dir, 'plain'),
    '--subject',
    '/C=BR/O=Acme/CN=Plain',
    '--key-type',
    'ec-p256',
    '--no-passphrase',
  ]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^error\[MTLS_USAGE\]: --no-passphrase .* needs --insecure/);
});

test('a CA passphrase shorter than 8 characters is refused; --passphrase-file - reads stdin', async () => {
  const short = await runCli(
    [
      'ca',
      'init',
      join(dir, 'short'),
      '--subject',
      '/C=BR/O=Acme/CN=Short',
      '--key-type',
      'ec-p256',
      '--passphrase-file',
      '-',
    ],
    { input: 'abc123\n' },
  );
  assert.equal(short.code, 2, short.stderr);
  assert.match(
    short.stderr,
    /CA passphrase from standard input has 6 characters; it needs at least 8/,
  );
  const good = await runCli(
    [
      'ca',
      'init',
      join(dir, 'stdin'),
      '--subject',
      '/C=BR/ST=SP/O=Acme/CN=Stdin',
      '--key-type',
      'ec-p256',
      '--passphrase-file',
      '-',
    ],
    { input: 'long enough passphrase\n' },
  );
  assert.equal(good.code, 0, good.stderr);
  // openssl opens the key with the passphrase that came on stdin.
  const check = run('openssl', [
    'pkey',
    '-in',
    join(dir, 'stdin', 'private', 'ca.key.pem'),
    '-passin',
    'pass:long enough passphrase',
    '-noout',
  ]);
  assert.equal(check.code, 0, check.stderr);
});

test('completion bash completes commands and flags from the command tree', async () => {
  const r = await runCli(['completion', 'bash']);
  assert.equal(r.code, 0, r.stderr);
  const script = join(dir, 'mtls.bash');
  writeFileSync(script, r.stdout);
  const complete = (line: string): string =>
    run('bash', [
      '-c',
      `source ${script}; read -a COMP_WORDS <<< "$1"; [[ $1 == *" " ]] && COMP_WORDS+=(""); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); _mtls; echo "\${COMPREPLY[*]}"`,
      'bash',
      line,
    ]).stdout.trim();
  assert.equal(complete('mtls ca i'), 'init issue');
  assert.equal(complete('mtls gateway crl url '), 'add list remove refresh');
  assert.equal(complete('mtls cert show --sh'), '--short');
  for (const shell of ['zsh', 'fish']) {
    const s = await runCli(['completion', shell]);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /snippet/);
  }
  const bad = await runCli(['completion', 'tcsh']);
  assert.equal(bad.code, 2);
});

test('gateway institution remove without a terminal needs --yes', async () => {
  const registry = join(dir, 'reg.db');
  const add = await runCli([
    'gateway',
    'institution',
    'add',
    'acme',
    '--name',
    'Acme',
    '--registry',
    registry,
  ]);
  assert.equal(add.code, 0, add.stderr);
  const refused = await runCli([
    'gateway',
    'institution',
    'remove',
    'acme',
    '--registry',
    registry,
  ]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /--yes/);
  const list = await runCli(['gateway', 'institution', 'list', '--registry', registry, '--json']);
  assert.equal((JSON.parse(list.stdout) as { items: unknown[] }).items.length, 1);
  const removed = await runCli([
    'gateway',
    'institution',
    'remove',
    'acme',
    '--yes',
    '--registry',
    registry,
  ]);
  assert.equal(removed.code, 0, removed.stderr);
});

test('system errors are said in words, with the errno name beside them', async () => {
  const file = join(dir, 'plain-file');
  writeFileSync(file, 'not a directory\n');
  // A path through a regular file fails the same way for root, unlike a mode-000 file.
  const show = await runCli(['cert', 'show', join(file, 'cert.pem')]);
  assert.equal(show.code, 5, show.stderr);
  assert.match(
    show.stderr,
    /^error\[MTLS_FILE_READ\]: cannot read input file .*plain-file\/cert\.pem: a part of the path is not a directory \(ENOTDIR\)$/m,
  );
  const init = await runCli([
    'ca',
    'init',
    join(file, 'ca'),
    '--subject',
    '/CN=x',
    '--no-passphrase',
    '--insecure',
  ]);
  assert.equal(init.code, 5, init.stderr);
  assert.match(
    init.stderr,
    /^error\[MTLS_FILE_WRITE\]: cannot create the CA in .*plain-file\/ca: a part of the path is not a directory \(ENOTDIR\)$/m,
  );
  assert.doesNotMatch(`${show.stderr}${init.stderr}`, /: E[A-Z]+$/m, 'never a bare errno name');
});
