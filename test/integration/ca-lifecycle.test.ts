/**
 * Year two of a CA, with real processes: `ca status` exit codes over time
 * (--at, no sleeps), renewal that keeps subject/SAN/profile (openssl x509 as
 * oracle), --revoke-old published as superseded (openssl crl), `openssl ca`
 * still working on the directory, and an intermediate whose client
 * certificate passes a real TLS 1.2 handshake with `openssl s_server`
 * trusting only the root.
 */
import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { openCa } from '../../src/ca/open-ca.js';
import { caStatus } from '../../src/ca/status.js';
import { run, runAsync, runCli, type CliResult, opensslEcCsr } from '../helpers/cli.js';
import { makeCa, makeServerLeaf, tempDir } from '../helpers/pki.js';
import { startOpensslServer } from '../helpers/tls-servers.js';

const DAY = 86_400_000;
const ROOT_SUBJECT = '/C=BR/ST=SP/O=Acme/CN=Acme Root CA';

interface Setup {
  dir: string;
  ca: string;
  pass: string;
  pfxPass: string;
  cleanup: () => void;
}

async function setup(extra: string[] = []): Promise<Setup> {
  const t = tempDir();
  const pass = join(t.dir, 'ca.pass');
  const pfxPass = join(t.dir, 'pfx.pass');
  writeFileSync(pass, 'root passphrase\n');
  writeFileSync(pfxPass, 'pfx password\n');
  const ca = join(t.dir, 'root');
  // Unencrypted: 600,000 PBKDF2 rounds per command would dominate the run; passphrases are tested elsewhere.
  const r = await runCli([
    'ca',
    'init',
    ca,
    '--subject',
    ROOT_SUBJECT,
    '--key-type',
    'ec-p256',
    '--no-passphrase',
    '--insecure',
    ...extra,
  ]);
  assert.equal(r.code, 0, r.stderr);
  return { dir: t.dir, ca, pass, pfxPass, cleanup: t.cleanup };
}

async function mtls(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runCli(args);
}

async function status(
  s: Setup,
  ...args: string[]
): Promise<{ code: number; kinds: string[]; out: string }> {
  const r = await mtls(['ca', 'status', '--ca', s.ca, '--json', ...args]);
  const json = JSON.parse(r.stdout) as { ok: boolean; findings: Array<{ kind: string }> };
  assert.equal(json.ok, r.code === 0, r.stdout);
  return { code: r.code, kinds: json.findings.map((f) => f.kind), out: r.stdout };
}

function x509Text(file: string): string {
  const r = run('openssl', ['x509', '-in', file, '-noout', '-text']);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

test('ca status: 1 without a CRL, 0 when fresh, 1 near and past nextUpdate and when renewal is overdue, 1 for an expiring certificate until it is renewed', async () => {
  const s = await setup();
  try {
    assert.deepEqual((await status(s)).kinds, ['crl_missing']);
    const crl = await mtls(['ca', 'crl', '--ca', s.ca, '--passphrase-file', s.pass]);
    assert.equal(crl.code, 0, crl.stderr);
    const fresh = await status(s);
    assert.equal(fresh.code, 0, fresh.out);
    // default_crl_days = 30: nextUpdate 30 days on.
    const at = (d: number): string => new Date(Date.now() + d * DAY).toISOString();
    const near = await status(s, '--at', at(25));
    assert.equal(near.code, 1);
    assert.ok(near.kinds.includes('crl_expiring'), near.out);
    const past = await status(s, '--at', at(31));
    assert.deepEqual(past.kinds, ['crl_expired']);
    // Half the validity without a renewal: the scheduled job has not run.
    assert.deepEqual((await status(s, '--at', at(16))).kinds, ['crl_overdue']);
    const text = await mtls(['ca', 'status', '--ca', s.ca, '--at', at(31)]);
    assert.equal(text.code, 1);
    assert.match(text.stdout, /ALARM \[crl_expired\].*refuse EVERY certificate/);

    const issued = await mtls([
      'ca',
      'issue',
      'soon',
      '--ca',
      s.ca,
      '--key-type',
      'ec-p256',
      '--days',
      '20',
      '--password-file',
      s.pfxPass,
      '--passphrase-file',
      s.pass,
    ]);
    assert.equal(issued.code, 0, issued.stderr);
    const expiring = await status(s);
    assert.equal(expiring.code, 1);
    assert.deepEqual(expiring.kinds, ['certificate_expiring']);
    assert.equal((await status(s, '--warn-days', '10')).code, 0);
    const list = await mtls(['ca', 'list', '--ca', s.ca, '--expiring', '30d', '--json']);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(
      (JSON.parse(list.stdout) as { items: Array<{ subject: string; state: string }> }).items.map(
        (r) => [r.subject, r.state],
      ),
      [['C=BR, ST=SP, O=Acme, CN=soon', 'valid']],
    );

    // A renewal with a longer life answers the warning.
    const renewed = await mtls([
      'cert',
      'renew',
      join(s.ca, 'certs', 'soon.cert.pem'),
      '--ca',
      s.ca,
      '--days',
      '375',
      '--password-file',
      s.pfxPass,
      '--passphrase-file',
      s.pass,
    ]);
    assert.equal(renewed.code, 0, renewed.stderr);
    assert.equal((await status(s)).code, 0);
  } finally {
    s.cleanup();
  }
});

test("ca status alarms: an unpublished revocation, an unreadable CRL, another CA's CRL, the CA expiring or expired, a certificate expired with no successor; a missing CA exits 3, not 1", async () => {
  const s = await setup();
  const other = await setup();
  try {
    // The exit codes are the CLI's (above and at the end); the findings in
    // between are read in-process, one process fewer each.
    const ca = await openCa(s.ca);
    const kinds = async (daysAhead = 0, crlMaxAgeMs?: number): Promise<string[]> =>
      (
        await caStatus({
          ca,
          at: new Date(Date.now() + daysAhead * DAY),
          ...(crlMaxAgeMs !== undefined ? { crlMaxAgeMs } : {}),
        })
      ).findings.map((f) => f.kind);
    const issued = await mtls([
      'ca',
      'issue',
      'short',
      '--ca',
      s.ca,
      '--key-type',
      'ec-p256',
      '--days',
      '10',
      '--password-file',
      s.pfxPass,
    ]);
    assert.equal(issued.code, 0, issued.stderr);
    assert.equal((await mtls(['ca', 'crl', '--ca', s.ca])).code, 0);
    // Two days after it expired (the CRL, renewed daily, is not the point here).
    assert.deepEqual(await kinds(12, 30 * DAY), ['certificate_expired']);

    const serial = run('openssl', [
      'x509',
      '-noout',
      '-serial',
      '-in',
      join(s.ca, 'certs', 'short.cert.pem'),
    ])
      .stdout.trim()
      .replace(/^serial=/, '');
    assert.equal((await mtls(['ca', 'revoke', serial, '--ca', s.ca])).code, 0);
    const unpublished = await mtls(['ca', 'status', '--ca', s.ca]);
    assert.equal(unpublished.code, 1);
    assert.match(
      unpublished.stdout,
      new RegExp(`ALARM \\[revocation_unpublished\\].*serial ${serial}.*not on the CRL`),
    );
    assert.equal((await mtls(['ca', 'crl', '--ca', s.ca])).code, 0);
    assert.deepEqual(await kinds(), [], 'published: nothing left to do');

    // The root lives 7300 days: 60 days before, a warning; after, an alarm.
    assert.deepEqual(await kinds(7300 - 60), ['ca_expiring', 'crl_expired']);
    assert.ok((await kinds(7301)).includes('ca_expired'));

    const crlPath = join(s.ca, 'crl', 'ca.crl.pem');
    const good = readFileSync(crlPath);
    writeFileSync(crlPath, '-----BEGIN X509 CRL-----\nnot base64\n-----END X509 CRL-----\n');
    assert.deepEqual(await kinds(), ['crl_unreadable']);
    // The other CA has the same name: only the signature tells them apart.
    assert.equal((await mtls(['ca', 'crl', '--ca', other.ca])).code, 0);
    writeFileSync(crlPath, readFileSync(join(other.ca, 'crl', 'ca.crl.pem')));
    assert.deepEqual(await kinds(), ['crl_wrong_issuer']);
    writeFileSync(crlPath, good);

    // A CA that cannot be opened is not "needs action": monitoring must tell them apart.
    const missing = await mtls(['ca', 'status', '--ca', join(s.dir, 'absent'), '--json']);
    assert.equal(missing.code, 3, missing.stdout + missing.stderr);
    assert.match(missing.stdout, /"schema": ?"mtls\.error\/v1"/);
  } finally {
    s.cleanup();
    other.cleanup();
  }
});

test('cert needs-renewal: exit 0 inside the window or expired, 1 outside; errors are not 0 or 1', async () => {
  const s = await setup();
  try {
    assert.equal(
      (
        await mtls([
          'ca',
          'issue',
          'c',
          '--ca',
          s.ca,
          '--key-type',
          'ec-p256',
          '--days',
          '100',
          '--password-file',
          s.pfxPass,
          '--passphrase-file',
          s.pass,
        ])
      ).code,
      0,
    );
    const cert = join(s.ca, 'certs', 'c.cert.pem');
    assert.equal((await mtls(['cert', 'needs-renewal', cert])).code, 1);
    assert.equal((await mtls(['cert', 'needs-renewal', cert, '--within', '120d'])).code, 0);
    assert.equal(
      (
        await mtls([
          'cert',
          'needs-renewal',
          cert,
          '--within',
          '50%',
          '--at',
          new Date(Date.now() + 60 * DAY).toISOString(),
        ])
      ).code,
      0,
    );
    assert.equal(
      (
        await mtls([
          'cert',
          'needs-renewal',
          cert,
          '--at',
          new Date(Date.now() + 101 * DAY).toISOString(),
        ])
      ).code,
      0,
    );
    assert.equal((await mtls(['cert', 'needs-renewal', join(s.dir, 'missing.pem')])).code, 5);
    const bad = await mtls(['cert', 'needs-renewal', cert, '--within', 'soon']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--within must be a duration/);
  } finally {
    s.cleanup();
  }
});

test('cert renew keeps subject, SANs and profile with a new key; --revoke-old is superseded in index.txt and the CRL; openssl ca keeps working', async () => {
  const s = await setup(['--crl-url', 'http://pki.acme.example/root.crl']);
  try {
    const issued = await mtls([
      'ca',
      'issue',
      'acme-client',
      '--ca',
      s.ca,
      '--key-type',
      'ec-p256',
      '--ou',
      'Payments',
      '--san',
      'DNS:client.acme.example,IP:10.0.0.7',
      '--password-file',
      s.pfxPass,
      '--passphrase-file',
      s.pass,
    ]);
    assert.equal(issued.code, 0, issued.stderr);
    const certPath = join(s.ca, 'certs', 'acme-client.cert.pem');
    const oldText = x509Text(certPath);
    const oldSerial = run('openssl', ['x509', '-in', certPath, '-noout', '-serial'])
      .stdout.trim()
      .split('=')[1] as string;
    const oldKey = readFileSync(join(s.ca, 'private', 'acme-client.key.pem'), 'utf8');

    const r = await mtls([
      'cert',
      'renew',
      certPath,
      '--ca',
      s.ca,
      '--revoke-old',
      '--password-file',
      s.pfxPass,
      '--passphrase-file',
      s.pass,
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const res = JSON.parse(r.stdout) as {
      serial: string;
      oldSerial: string;
      profile: string;
      archived: string[];
    };
    assert.equal(res.oldSerial, oldSerial);
    assert.equal(res.profile, 'client_cert');
    const newText = x509Text(certPath);
    const field = (t: string, re: RegExp): string => re.exec(t)?.[1]?.trim() ?? '';
    for (const re of [
      /Subject: (.+)/,
      /X509v3 Subject Alternative Name:\s*\n\s*(.+)/,
      /X509v3 Extended Key Usage:\s*\n\s*(.+)/,
      /X509v3 Key Usage: (?:critical)?\s*\n\s*(.+)/,
      /URI:(.+)/,
    ]) {
      assert.notEqual(field(oldText, re), '', `old certificate lacks ${re}`);
      assert.equal(field(newText, re), field(oldText, re), `${re}`);
    }
    assert.match(newText, /OU = Payments/);
    assert.match(newText, /DNS:client.acme.example, IP Address:10.0.0.7/);
    assert.notEqual(
      field(newText, /Serial Number:\s*\n\s*(.+)/),
      field(oldText, /Serial Number:\s*\n\s*(.+)/),
    );
    assert.notEqual(
      field(newText, /pub:\s*\n([\s\S]+?)ASN1 OID/),
      field(oldText, /pub:\s*\n([\s\S]+?)ASN1 OID/),
      'a new key by default',
    );
    assert.notEqual(readFileSync(join(s.ca, 'private', 'acme-client.key.pem'), 'utf8'), oldKey);
    // The replaced files are kept under the old serial.
    assert.ok(existsSync(join(s.ca, 'certs', `acme-client.${oldSerial}.cert.pem`)));
    assert.equal(
      readFileSync(join(s.ca, 'private', `acme-client.${oldSerial}.key.pem`), 'utf8'),
      oldKey,
    );
    // The new .pfx opens with the password and holds the new certificate.
    const pfx = run('openssl', [
      'pkcs12',
      '-in',
      join(s.ca, 'certs', 'acme-client.pfx'),
      '-passin',
      `file:${s.pfxPass}`,
      '-nokeys',
      '-clcerts',
    ]);
    assert.equal(pfx.code, 0, pfx.stderr);
    assert.match(pfx.stdout, /subject=.*CN = acme-client/);

    const index = readFileSync(join(s.ca, 'index.txt'), 'utf8');
    assert.match(index, new RegExp(`^R\\t\\d+Z\\t\\d+Z,superseded\\t${oldSerial}\\t`, 'm'));
    assert.match(index, new RegExp(`^V\\t\\d+Z\\t\\t${res.serial}\\t`, 'm'));
    const cnf = join(s.ca, 'openssl.cnf');
    // openssl ca on the same directory: -updatedb, -gencrl (superseded listed), and a signature of its own.
    const upd = run('openssl', ['ca', '-config', cnf, '-updatedb', '-passin', `file:${s.pass}`]);
    assert.equal(upd.code, 0, upd.stderr);
    const crlFile = join(s.dir, 'openssl.crl');
    const gen = run('openssl', [
      'ca',
      '-config',
      cnf,
      '-gencrl',
      '-passin',
      `file:${s.pass}`,
      '-out',
      crlFile,
    ]);
    assert.equal(gen.code, 0, gen.stderr);
    const crlText = run('openssl', ['crl', '-in', crlFile, '-noout', '-text']).stdout;
    assert.match(
      crlText,
      new RegExp(`Serial Number: ${oldSerial}[\\s\\S]*?CRL Reason Code:\\s*\\n\\s*Superseded`),
    );
    // Ours: the next CRL also says superseded.
    assert.equal((await mtls(['ca', 'crl', '--ca', s.ca, '--passphrase-file', s.pass])).code, 0);
    const ours = run('openssl', [
      'crl',
      '-in',
      join(s.ca, 'crl', 'ca.crl.pem'),
      '-noout',
      '-text',
    ]).stdout;
    assert.match(
      ours,
      new RegExp(`Serial Number: ${oldSerial}[\\s\\S]*?CRL Reason Code:\\s*\\n\\s*Superseded`),
    );
    assert.doesNotMatch(ours, new RegExp(res.serial));
    const key = join(s.dir, 'o.key');
    const csr = join(s.dir, 'o.csr');
    assert.equal(opensslEcCsr(key, csr, '/C=BR/ST=SP/O=Acme/CN=acme-client').code, 0);
    const signed = run('openssl', [
      'ca',
      '-config',
      cnf,
      '-batch',
      '-passin',
      `file:${s.pass}`,
      '-extensions',
      'client_cert',
      '-in',
      csr,
      '-out',
      join(s.dir, 'o.pem'),
    ]);
    assert.equal(
      signed.code,
      0,
      `same subject as a valid certificate must sign (unique_subject = no): ${signed.stderr}`,
    );
    assert.match(x509Text(join(s.dir, 'o.pem')), /URI:http:\/\/pki.acme.example\/root.crl/);
    // And we still read what openssl wrote.
    const list = await mtls(['ca', 'list', '--ca', s.ca, '--json']);
    assert.equal(list.code, 0, list.stderr);
    assert.equal((JSON.parse(list.stdout) as { items: unknown[] }).items.length, 3);
    const revoked = await mtls(['ca', 'list', '--ca', s.ca, '--revoked']);
    assert.match(revoked.stdout, new RegExp(`${oldSerial}\\s+revoked.*superseded`));
  } finally {
    s.cleanup();
  }
});

test('cert renew --reuse-key keeps the key; a revoked certificate and a foreign one are refused', async () => {
  const s = await setup();
  try {
    assert.equal(
      (
        await mtls([
          'ca',
          'issue',
          'k',
          '--ca',
          s.ca,
          '--key-type',
          'ec-p256',
          '--password-file',
          s.pfxPass,
          '--passphrase-file',
          s.pass,
        ])
      ).code,
      0,
    );
    const certPath = join(s.ca, 'certs', 'k.cert.pem');
    const pub = (): string => run('openssl', ['x509', '-in', certPath, '-noout', '-pubkey']).stdout;
    const before = pub();
    const serial = run('openssl', ['x509', '-in', certPath, '-noout', '-serial'])
      .stdout.trim()
      .split('=')[1] as string;
    const r = await mtls([
      'cert',
      'renew',
      serial,
      '--ca',
      s.ca,
      '--reuse-key',
      '--password-file',
      s.pfxPass,
      '--passphrase-file',
      s.pass,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(pub(), before);
    assert.equal((await mtls(['ca', 'revoke', serial, '--ca', s.ca])).code, 0);
    const again = await mtls([
      'cert',
      'renew',
      serial,
      '--ca',
      s.ca,
      '--password-file',
      s.pfxPass,
      '--passphrase-file',
      s.pass,
    ]);
    assert.equal(again.code, 4);
    assert.match(again.stderr, /error\[MTLS_ALREADY_REVOKED\]/);
    const other = await setup();
    try {
      const foreign = await mtls([
        'cert',
        'renew',
        certPath,
        '--ca',
        other.ca,
        '--password-file',
        s.pfxPass,
        '--passphrase-file',
        other.pass,
      ]);
      assert.equal(foreign.code, 4);
      assert.match(foreign.stderr, /error\[MTLS_NOT_FOUND\].*not issued by this CA/);
    } finally {
      other.cleanup();
    }
  } finally {
    s.cleanup();
  }
});

test('cert renew of a certificate signed from a CSR: a .pfx only with --pfx (with the chain), never without a password, and --reuse-key needs the old key', async () => {
  const s = await setup();
  try {
    const key = join(s.dir, 'csr-client.key.pem');
    const csr = join(s.dir, 'csr-client.csr.pem');
    const certPath = join(s.dir, 'csr-client.cert.pem');
    const req = opensslEcCsr(key, csr, '/C=BR/ST=SP/O=Acme/CN=csr-client');
    assert.equal(req.code, 0, req.stderr);
    const signed = await mtls(['ca', 'sign', csr, '--ca', s.ca, '--out', certPath]);
    assert.equal(signed.code, 0, signed.stderr);
    const index = (): string => readFileSync(join(s.ca, 'index.txt'), 'utf8');
    const before = index();

    const noPassword = await mtls(['cert', 'renew', certPath, '--ca', s.ca]);
    assert.equal(noPassword.code, 3);
    assert.match(
      noPassword.stderr,
      /error\[MTLS_PASSPHRASE_REQUIRED\]: no \.pfx password given[\s\S]*hint: Pass --password-file/,
    );
    assert.equal(index(), before, 'nothing signed');

    const renewed = await mtls([
      'cert',
      'renew',
      certPath,
      '--ca',
      s.ca,
      '--password-file',
      s.pfxPass,
      '--json',
    ]);
    assert.equal(renewed.code, 0, renewed.stderr);
    assert.equal((JSON.parse(renewed.stdout) as { pfxPath?: string }).pfxPath, undefined);
    assert.equal(existsSync(join(s.dir, 'csr-client.pfx')), false, 'the old one had no .pfx');
    // The new key, encrypted with the password, matches the new certificate.
    const pub = (args: string[]): string => {
      const r = run('openssl', args);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout;
    };
    assert.equal(
      pub(['pkey', '-in', key, '-passin', `file:${s.pfxPass}`, '-pubout']),
      pub(['x509', '-in', certPath, '-noout', '-pubkey']),
    );

    const withPfx = await mtls([
      'cert',
      'renew',
      certPath,
      '--ca',
      s.ca,
      '--pfx',
      '--password-file',
      s.pfxPass,
    ]);
    assert.equal(withPfx.code, 0, withPfx.stderr);
    const pfx = pub([
      'pkcs12',
      '-in',
      join(s.dir, 'csr-client.pfx'),
      '-passin',
      `file:${s.pfxPass}`,
      '-nokeys',
    ]);
    assert.deepEqual(
      [...pfx.matchAll(/^subject=.*CN = (.+)$/gm)].map((m) => m[1]),
      ['csr-client', 'Acme Root CA'],
    );

    // --reuse-key without the old key next to the certificate (or in a .pfx).
    rmSync(key);
    rmSync(join(s.dir, 'csr-client.pfx'));
    const reuse = await mtls([
      'cert',
      'renew',
      certPath,
      '--ca',
      s.ca,
      '--reuse-key',
      '--password-file',
      s.pfxPass,
    ]);
    assert.equal(reuse.code, 5, reuse.stderr);
    assert.match(
      reuse.stderr,
      /error\[MTLS_FILE_NOT_FOUND\]: reusing the key: neither .* holds the old key/,
    );
    assert.match(reuse.stderr, /hint: Renew with a new key, or sign a CSR made with the old key/);
  } finally {
    s.cleanup();
  }
});

test('intermediate: recorded by the root, pathlen 0 enforced, chain exported, and its client passes TLS 1.2 with s_server trusting only the root', async () => {
  const s = await setup();
  try {
    const ipass = join(s.dir, 'issuing.pass');
    writeFileSync(ipass, 'issuing passphrase\n');
    const issuing = join(s.dir, 'issuing');
    const init = await mtls([
      'ca',
      'init',
      issuing,
      '--intermediate',
      '--parent',
      s.ca,
      '--subject',
      '/C=BR/ST=SP/O=Acme/CN=Acme Issuing CA',
      '--key-type',
      'ec-p256',
      '--parent-passphrase-file',
      s.pass,
      '--passphrase-file',
      ipass,
    ]);
    assert.equal(init.code, 0, init.stderr);
    const caText = x509Text(join(issuing, 'certs', 'ca.cert.pem'));
    assert.match(caText, /CA:TRUE, pathlen:0/);
    assert.match(caText, /Issuer: C = BR, ST = SP, O = Acme, CN = Acme Root CA/);
    assert.match(readFileSync(join(s.ca, 'index.txt'), 'utf8'), /^V\t.*\/CN=Acme Issuing CA$/m);
    const rootPem = join(s.ca, 'certs', 'ca.cert.pem');
    assert.equal(
      run('openssl', ['verify', '-CAfile', rootPem, join(issuing, 'certs', 'ca.cert.pem')]).code,
      0,
    );

    const sub = await mtls([
      'ca',
      'init',
      join(s.dir, 'sub'),
      '--intermediate',
      '--parent',
      issuing,
      '--subject',
      '/C=BR/ST=SP/O=Acme/CN=Sub',
      '--key-type',
      'ec-p256',
      '--parent-passphrase-file',
      ipass,
      '--passphrase-file',
      ipass,
    ]);
    assert.equal(sub.code, 4);
    assert.match(sub.stderr, /error\[MTLS_PATHLEN_EXCEEDED\].*pathlen 0/);
    assert.equal(existsSync(join(s.dir, 'sub')), false);
    const half = await mtls([
      'ca',
      'init',
      join(s.dir, 'x'),
      '--parent',
      s.ca,
      '--subject',
      '/C=BR/ST=SP/O=Acme/CN=X',
      '--passphrase-file',
      ipass,
    ]);
    assert.equal(half.code, 2);

    const chain = await mtls(['ca', 'chain', '--ca', issuing, '--out', join(s.dir, 'chain.pem')]);
    assert.equal(chain.code, 0, chain.stderr);
    const subjects = run('openssl', [
      'crl2pkcs7',
      '-nocrl',
      '-certfile',
      join(s.dir, 'chain.pem'),
    ]).stdout;
    const printed = run('openssl', ['pkcs7', '-print_certs', '-noout'], { input: subjects }).stdout;
    assert.deepEqual(
      [...printed.matchAll(/subject=.*CN = (.+)/g)].map((m) => m[1]),
      ['Acme Issuing CA', 'Acme Root CA'],
    );

    const issued = await mtls([
      'ca',
      'issue',
      'branch',
      '--ca',
      issuing,
      '--key-type',
      'ec-p256',
      '--password-file',
      s.pfxPass,
      '--passphrase-file',
      ipass,
    ]);
    assert.equal(issued.code, 0, issued.stderr);
    const pfx = run('openssl', [
      'pkcs12',
      '-in',
      join(issuing, 'certs', 'branch.pfx'),
      '-passin',
      `file:${s.pfxPass}`,
      '-nokeys',
    ]);
    assert.deepEqual(
      [...pfx.stdout.matchAll(/^subject=.*CN = (.+)$/gm)].map((m) => m[1]),
      ['branch', 'Acme Issuing CA', 'Acme Root CA'],
    );

    const srvCa = await makeCa(s.dir, { name: 'Provider Server CA' });
    const srv = await makeServerLeaf(s.dir, srvCa);
    const server = await startOpensslServer({
      certPath: srv.certPath,
      keyPath: srv.keyPath,
      caFile: rootPem,
      verifyDepth: 2,
    });
    try {
      const call = (
        withChain: boolean,
      ): Promise<{ code: number; stdout: string; stderr: string }> =>
        runAsync(
          'openssl',
          [
            's_client',
            '-connect',
            `127.0.0.1:${server.port}`,
            '-tls1_2',
            '-quiet',
            '-CAfile',
            srvCa.certPath,
            '-verify_return_error',
            '-verify_hostname',
            'localhost',
            '-cert',
            join(issuing, 'certs', 'branch.cert.pem'),
            '-key',
            join(issuing, 'private', 'branch.key.pem'),
            '-pass',
            `file:${s.pfxPass}`,
            ...(withChain ? ['-cert_chain', join(issuing, 'certs', 'ca.cert.pem')] : []),
          ],
          { input: 'GET / HTTP/1.0\r\n\r\n' },
        );
      const ok = await call(true);
      assert.match(ok.stdout, /HTTP\/1.0 200 ok/, ok.stderr);
      assert.match(ok.stdout, /Protocol\s*: TLSv1.2/);
      // Without the intermediate the root alone cannot vouch for the client.
      const bare = await call(false);
      assert.doesNotMatch(bare.stdout, /200 ok/);
    } finally {
      await server.close();
    }
  } finally {
    s.cleanup();
  }
});

test("the documented CRL schedule (deploy/mtls-crl.service, the README cron line) publishes a DER CRL that openssl verify -crl_download fetches from the certificates' distribution point", async () => {
  const root = join(import.meta.dirname, '..', '..');
  const t = tempDir();
  const published = join(t.dir, 'ca.crl');
  // The web server behind the CA's --crl-url: serves whatever is published now.
  const web = createServer((req, res) => {
    if (req.url !== '/ca.crl' || !existsSync(published)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/pkix-crl' });
    res.end(readFileSync(published));
  });
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(web.address() as AddressInfo).port}/ca.crl`;
  const s = await setup(['--crl-url', url]);
  try {
    const issued = await mtls([
      'ca',
      'issue',
      'c',
      '--ca',
      s.ca,
      '--key-type',
      'ec-p256',
      '--password-file',
      s.pfxPass,
    ]);
    assert.equal(issued.code, 0, issued.stderr);
    /** A documented `mtls …` command line, run here on this CA. */
    const runDocumented = async (line: string): Promise<void> => {
      const args = line
        .replaceAll('/srv/ca', s.ca)
        .replaceAll('%d/ca-passphrase', s.pass)
        .replaceAll('/etc/mtls/ca.pass', s.pass)
        .replaceAll('/var/www/pki/ca.crl', published)
        .split(/\s+/);
      assert.match(args[0] ?? '', /(^|\/)mtls$/, line);
      const r = await mtls(args.slice(1));
      assert.equal(r.code, 0, `${line}: ${r.stdout}${r.stderr}`);
      assert.doesNotMatch(r.stderr, /deprecated/);
    };
    /** What a relying party that follows the distribution point says (OpenSSL reads DER only there). */
    const relyingParty = (): Promise<CliResult> =>
      runAsync('openssl', [
        'verify',
        '-crl_check',
        '-crl_download',
        '-CAfile',
        join(s.ca, 'certs', 'ca.cert.pem'),
        join(s.ca, 'certs', 'c.cert.pem'),
      ]);

    const unit = readFileSync(join(root, 'deploy', 'mtls-crl.service'), 'utf8');
    const steps = [...unit.matchAll(/^ExecStart(?:Post)?=(.+)$/gm)].map((m) => m[1] ?? '');
    assert.equal(steps.length, 2, 'renew and publish, then check');
    for (const step of steps) await runDocumented(step);
    const before = await relyingParty();
    assert.equal(before.code, 0, before.stdout + before.stderr);
    assert.match(before.stdout, /c\.cert\.pem: OK/);

    // The README's crontab line, after a revocation: the next run publishes it.
    assert.equal(
      (await mtls(['ca', 'revoke', '--cert', join(s.ca, 'certs', 'c.cert.pem'), '--ca', s.ca]))
        .code,
      0,
    );
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const cron = /^17 3 \* \* \* {2}(.+)$/m.exec(readme)?.[1];
    assert.ok(cron, 'the README has the cron line');
    for (const step of cron.split(' && ')) await runDocumented(step);
    const after = await relyingParty();
    assert.notEqual(after.code, 0);
    assert.match(after.stdout + after.stderr, /certificate revoked/);

    const noOut = await mtls(['ca', 'crl', '--ca-dir', s.ca, '--der']);
    assert.equal(noOut.code, 2);
    assert.match(noOut.stderr, /error\[MTLS_USAGE\]: --der says how to write --out/);
  } finally {
    s.cleanup();
    t.cleanup();
    web.close();
  }
});

test('ca init --crl-url refuses URLs that cannot serve a CRL, before making anything', async () => {
  const t = tempDir();
  try {
    for (const url of ['ldap://x/crl', 'http://user:secret@pki.example/ca.crl', 'not a url']) {
      const r = await runCli([
        'ca',
        'init',
        join(t.dir, 'ca'),
        '--subject',
        ROOT_SUBJECT,
        '--key-type',
        'ec-p256',
        '--no-passphrase',
        '--insecure',
        '--crl-url',
        url,
      ]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /error\[MTLS_BAD_ARGUMENT\]: the CRL URL/);
      assert.doesNotMatch(r.stderr, /secret/);
      assert.equal(existsSync(join(t.dir, 'ca')), false);
    }
  } finally {
    t.cleanup();
  }
});
