/**
 * The CA against the OpenSSL CLI as oracle: `mtls ca init` makes a directory
 * `openssl ca` uses as it stands; our certificates, CSRs and keys pass
 * `openssl verify`, `req -verify` and `pkey`; index.txt stays OpenSSL's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, run, opensslEcCsr } from '../helpers/cli.js';
import { tempDir } from '../helpers/pki.js';

const SUBJECT = '/C=BR/ST=SP/O=Acme/CN=Acme Root CA';

function setup(): { dir: string; ca: string; pass: string; cleanup: () => void } {
  const t = tempDir();
  const pass = join(t.dir, 'ca.pass');
  writeFileSync(pass, 'correct horse battery\n');
  return { dir: t.dir, ca: join(t.dir, 'myCA'), pass, cleanup: t.cleanup };
}

test('ca init: the guide layout, absolute dir, encrypted PKCS#8 key openssl reads, v3_ca root', async () => {
  const s = setup();
  try {
    const r = await runCli(['ca', 'init', s.ca, '--subject', SUBJECT, '--passphrase-file', s.pass]);
    assert.equal(r.code, 0, r.stderr);
    for (const d of ['certs', 'crl', 'newcerts', 'private'])
      assert.ok(statSync(join(s.ca, d)).isDirectory());
    assert.equal(statSync(join(s.ca, 'private')).mode & 0o777, 0o700);
    assert.equal(statSync(join(s.ca, 'private', 'ca.key.pem')).mode & 0o777, 0o400);
    assert.equal(readFileSync(join(s.ca, 'index.txt'), 'utf8'), '');
    assert.match(readFileSync(join(s.ca, 'index.txt.attr'), 'utf8'), /unique_subject = no/);
    assert.match(readFileSync(join(s.ca, 'serial'), 'utf8'), /^[0-9A-F]+\n$/);
    assert.match(readFileSync(join(s.ca, 'crlnumber'), 'utf8'), /^[0-9A-F]+\n$/);
    const cnf = readFileSync(join(s.ca, 'openssl.cnf'), 'utf8');
    const dirLine = /^\s*dir\s*=\s*(.+)$/m.exec(cnf)?.[1]?.trim() ?? '';
    assert.ok(dirLine.startsWith('/'), `dir must be absolute, got ${dirLine}`);
    for (const sec of [
      'CA_default',
      'policy_strict',
      'req',
      'v3_ca',
      'v3_req',
      'usr_cert',
      'client_cert',
      'server_cert',
      'crl_ext',
    ]) {
      assert.match(cnf, new RegExp(`^\\[\\s*${sec}\\s*\\]`, 'm'), `section ${sec}`);
    }
    // The key: encrypted PKCS#8, PBES2 / PBKDF2-HMAC-SHA256 / AES-256-CBC, >= 600,000 iterations.
    const keyPath = join(s.ca, 'private', 'ca.key.pem');
    assert.match(readFileSync(keyPath, 'utf8'), /BEGIN ENCRYPTED PRIVATE KEY/);
    const asn = run('openssl', ['asn1parse', '-in', keyPath]).stdout;
    assert.match(asn, /PBES2/);
    assert.match(asn, /hmacWithSHA256/);
    assert.match(asn, /aes-256-cbc/);
    const iter = [...asn.matchAll(/INTEGER\s+:([0-9A-F]+)/g)].map((m) =>
      parseInt(m[1] as string, 16),
    );
    assert.ok(
      iter.some((n) => n >= 600_000),
      `iterations ${iter.join(', ')}`,
    );
    const pkey = run('openssl', [
      'pkey',
      '-in',
      keyPath,
      '-passin',
      `file:${s.pass}`,
      '-noout',
      '-text',
    ]);
    assert.equal(pkey.code, 0, pkey.stderr);
    assert.match(pkey.stdout, /Private-Key: \(4096 bit/);
    assert.notEqual(
      run('openssl', ['pkey', '-in', keyPath, '-passin', 'pass:wrong', '-noout']).code,
      0,
    );
    // The root: self-signed, SHA-256, 7300 days, v3_ca extensions.
    const text = run('openssl', [
      'x509',
      '-in',
      join(s.ca, 'certs', 'ca.cert.pem'),
      '-noout',
      '-text',
    ]).stdout;
    assert.match(text, /Signature Algorithm: sha256WithRSAEncryption/);
    assert.match(text, /Issuer: C = BR, ST = SP, O = Acme, CN = Acme Root CA/);
    assert.match(text, /Basic Constraints: critical\s+CA:TRUE/);
    assert.match(text, /Key Usage: critical\s+Digital Signature, Certificate Sign, CRL Sign/);
    assert.match(text, /Subject Key Identifier/);
    const dates = run('openssl', [
      'x509',
      '-in',
      join(s.ca, 'certs', 'ca.cert.pem'),
      '-noout',
      '-startdate',
      '-enddate',
    ]).stdout;
    const nb = Date.parse(/notBefore=(.+)/.exec(dates)?.[1] ?? '');
    const na = Date.parse(/notAfter=(.+)/.exec(dates)?.[1] ?? '');
    assert.equal(Math.round((na - nb) / 86_400_000), 7300);
    assert.equal(
      run('openssl', [
        'verify',
        '-CAfile',
        join(s.ca, 'certs', 'ca.cert.pem'),
        join(s.ca, 'certs', 'ca.cert.pem'),
      ]).code,
      0,
    );
  } finally {
    s.cleanup();
  }
});

test('on a CA made by ca init, openssl ca signs, revokes and generates a CRL; our records stay readable', async () => {
  const s = setup();
  try {
    assert.equal(
      (
        await runCli([
          'ca',
          'init',
          s.ca,
          '--subject',
          SUBJECT,
          '--key-type',
          'ec-p256',
          '--passphrase-file',
          s.pass,
        ])
      ).code,
      0,
    );
    const cnf = join(s.ca, 'openssl.cnf');
    const key = join(s.dir, 'c.key');
    const csr = join(s.dir, 'c.csr');
    assert.equal(opensslEcCsr(key, csr, '/C=BR/ST=SP/O=Acme/CN=by-openssl').code, 0);
    const signed = run('openssl', [
      'ca',
      '-config',
      cnf,
      '-batch',
      '-passin',
      `file:${s.pass}`,
      '-extensions',
      'usr_cert',
      '-in',
      csr,
      '-out',
      join(s.dir, 'o.pem'),
    ]);
    assert.equal(signed.code, 0, signed.stderr);
    // Our sign after OpenSSL's: both lines in one index.
    const r = await runCli([
      'ca',
      'sign',
      csr,
      '--ca',
      s.ca,
      '--profile',
      'client',
      '--passphrase-file',
      s.pass,
      '--out',
      join(s.dir, 'ours.pem'),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      run('openssl', [
        'ca',
        '-config',
        cnf,
        '-passin',
        `file:${s.pass}`,
        '-revoke',
        join(s.dir, 'o.pem'),
      ]).code,
      0,
    );
    const crl = run('openssl', [
      'ca',
      '-config',
      cnf,
      '-passin',
      `file:${s.pass}`,
      '-gencrl',
      '-out',
      join(s.dir, 'o.crl'),
    ]);
    assert.equal(crl.code, 0, crl.stderr);
    assert.match(
      run('openssl', ['crl', '-in', join(s.dir, 'o.crl'), '-noout', '-text']).stdout,
      /CRL Number/,
    );
    // Our revoke + crl on the same database.
    const serial = /serial ([0-9A-F]+)/.exec(r.stdout)?.[1] as string;
    assert.equal(
      (await runCli(['ca', 'revoke', serial, '--ca', s.ca, '--reason', 'keyCompromise'])).code,
      0,
    );
    const ours = await runCli([
      'ca',
      'crl',
      '--ca',
      s.ca,
      '--passphrase-file',
      s.pass,
      '--out',
      join(s.dir, 'ours.crl'),
    ]);
    assert.equal(ours.code, 0, ours.stderr);
    const crlText = run('openssl', [
      'crl',
      '-in',
      join(s.dir, 'ours.crl'),
      '-noout',
      '-text',
      '-CAfile',
      join(s.ca, 'certs', 'ca.cert.pem'),
    ]);
    assert.equal(crlText.code, 0, crlText.stderr);
    assert.match(crlText.stderr + crlText.stdout, /verify OK/);
    assert.match(crlText.stdout, new RegExp(`Serial Number: ${serial}`));
    assert.match(crlText.stdout, /Key Compromise/);
    assert.equal((crlText.stdout.match(/Serial Number:/g) ?? []).length, 2);
    const index = readFileSync(join(s.ca, 'index.txt'), 'utf8').trim().split('\n');
    assert.equal(index.length, 2);
    assert.ok(
      index.every((l) =>
        /^R\t\d{12}Z\t\d{12}Z(,\w+)?\t[0-9A-F]+\tunknown\t\/C=BR\/ST=SP\/O=Acme\/CN=by-openssl$/.test(
          l,
        ),
      ),
      index.join('\n'),
    );
    assert.equal(
      run('openssl', ['ca', '-config', cnf, '-passin', `file:${s.pass}`, '-updatedb']).code,
      0,
    );
  } finally {
    s.cleanup();
  }
});

test('our key, CSR and certificate pass openssl pkey, req -verify and verify -purpose sslclient', async () => {
  const s = setup();
  try {
    await runCli([
      'ca',
      'init',
      s.ca,
      '--subject',
      SUBJECT,
      '--key-type',
      'ec-p384',
      '--no-passphrase',
      '--insecure',
    ]);
    const kp = join(s.dir, 'k.pass');
    writeFileSync(kp, 'key pass phrase\n');
    const key = join(s.dir, 'client.key.pem');
    const csr = join(s.dir, 'client.csr.pem');
    const cert = join(s.dir, 'client.cert.pem');
    assert.equal(
      (await runCli(['key', 'new', key, '--type', 'rsa2048', '--passphrase-file', kp])).code,
      0,
    );
    assert.equal(statSync(key).mode & 0o777, 0o600);
    assert.equal(run('openssl', ['pkey', '-in', key, '-passin', `file:${kp}`, '-noout']).code, 0);
    const c = await runCli([
      'csr',
      'new',
      '--key',
      key,
      '--key-passphrase-file',
      kp,
      '--ca',
      s.ca,
      '--cn',
      'client-1',
      '--san',
      'DNS:client-1.acme.example',
      '--out',
      csr,
    ]);
    assert.equal(c.code, 0, c.stderr);
    const rv = run('openssl', ['req', '-in', csr, '-verify', '-noout', '-subject']);
    assert.equal(rv.code, 0, rv.stderr);
    assert.match(rv.stdout, /C = BR, ST = SP, O = Acme, CN = client-1/);
    const sg = await runCli([
      'ca',
      'sign',
      csr,
      '--ca',
      s.ca,
      '--profile',
      'usr_cert',
      '--out',
      cert,
    ]);
    assert.equal(sg.code, 0, sg.stderr);
    const v = run('openssl', [
      'verify',
      '-CAfile',
      join(s.ca, 'certs', 'ca.cert.pem'),
      '-purpose',
      'sslclient',
      cert,
    ]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    const text = run('openssl', ['x509', '-in', cert, '-noout', '-text']).stdout;
    assert.match(text, /Netscape Cert Type:\s+SSL Client, S\/MIME/);
    assert.match(text, /Netscape Comment:\s+OpenSSL Generated Client Certificate/);
    assert.match(text, /TLS Web Client Authentication, E-mail Protection/);
    // A P-384 CA signs with SHA-384, the hash that matches its key strength (as its own certificate and CRL do).
    assert.match(text, /Signature Algorithm: ecdsa-with-SHA384/);
    // 375 days by default; serial random, positive, >= 64 bits.
    const dates = run('openssl', [
      'x509',
      '-in',
      cert,
      '-noout',
      '-startdate',
      '-enddate',
      '-serial',
    ]).stdout;
    const nb = Date.parse(/notBefore=(.+)/.exec(dates)?.[1] ?? '');
    const na = Date.parse(/notAfter=(.+)/.exec(dates)?.[1] ?? '');
    assert.equal(Math.round((na - nb) / 86_400_000), 375);
    const serial = /serial=([0-9A-F]+)/.exec(dates)?.[1] as string;
    assert.ok(serial.length >= 16 && parseInt(serial.slice(0, 2), 16) < 0x80, serial);
    assert.ok(existsSync(join(s.ca, 'newcerts', `${serial}.pem`)));
    assert.equal(
      readFileSync(join(s.ca, 'serial'), 'utf8').trim(),
      (BigInt(`0x${serial}`) + 1n).toString(16).toUpperCase().padStart(serial.length, '0'),
    );
    // The SAN was copied (copy_extensions = copy) or reported as dropped: the user sees which.
    if (!/DNS:client-1.acme.example/.test(text))
      assert.match(sg.stderr, /subjectAltName was not copied/);
  } finally {
    s.cleanup();
  }
});

test("ca adopt: a CA built with the guide's own commands (typos fixed) signs, and openssl reads the index", async () => {
  const t = tempDir();
  try {
    const home = t.dir;
    const my = join(home, 'myCA');
    // The directory layout, by hand.
    run('bash', [
      '-c',
      `mkdir -p ${my}/{certs,crl,newcerts,private} && chmod 700 ${my}/private && touch ${my}/index.txt && echo 1000 > ${my}/serial`,
    ]);
    // test/fixtures/guide-openssl.cnf: a hand-written openssl.cnf with dir = ~/myCA, verbatim (trailing spaces trimmed).
    writeFileSync(
      join(my, 'openssl.cnf'),
      readFileSync(new URL('../fixtures/guide-openssl.cnf', import.meta.url), 'utf8'),
    );
    // OpenSSL itself does not expand ~: give it the expanded copy, as a user who fixed it would.
    const forOpenssl = join(home, 'openssl-abs.cnf');
    writeFileSync(
      forOpenssl,
      readFileSync(join(my, 'openssl.cnf'), 'utf8').replace('dir = ~/myCA', `dir = ${my}`),
    );
    const pass = join(home, 'pass');
    writeFileSync(pass, 'guide pass\n');
    // The root key (generated once, not twice) and the CA certificate.
    assert.equal(
      run('openssl', [
        'genrsa',
        '-aes256',
        '-passout',
        `file:${pass}`,
        '-out',
        join(my, 'private/ca.key.pem'),
        '2048',
      ]).code,
      0,
    );
    const req = run('openssl', [
      'req',
      '-config',
      forOpenssl,
      '-key',
      join(my, 'private/ca.key.pem'),
      '-passin',
      `file:${pass}`,
      '-new',
      '-x509',
      '-days',
      '7300',
      '-sha256',
      '-extensions',
      'v3_ca',
      '-subj',
      '/C=BR/ST=SP/O=Guide Bank/CN=Guide Root',
      '-out',
      join(my, 'certs/ca.cert.pem'),
    ]);
    assert.equal(req.code, 0, req.stderr);
    // A client key and CSR (with an ASCII hyphen where the guide has an en dash), signed by openssl.
    run('openssl', ['genrsa', '-out', join(my, 'private/client.key.pem'), '2048']);
    assert.equal(
      run('openssl', [
        'req',
        '-config',
        forOpenssl,
        '-key',
        join(my, 'private/client.key.pem'),
        '-new',
        '-sha256',
        '-subj',
        '/C=BR/ST=SP/O=Guide Bank/CN=client',
        '-out',
        join(my, 'client.csr.pem'),
      ]).code,
      0,
    );
    const os = run('openssl', [
      'ca',
      '-config',
      forOpenssl,
      '-batch',
      '-passin',
      `file:${pass}`,
      '-extensions',
      'usr_cert',
      '-days',
      '375',
      '-notext',
      '-md',
      'sha256',
      '-in',
      join(my, 'client.csr.pem'),
      '-out',
      join(my, 'certs/client.cert.pem'),
    ]);
    assert.equal(os.code, 0, os.stderr);

    const env = { HOME: home };
    const adopt = await runCli(['ca', 'adopt', my, '--passphrase-file', pass, '--fix'], { env });
    assert.equal(adopt.code, 0, adopt.stderr);
    assert.ok(adopt.stderr.includes(`"~" expanded to ${home} in `), adopt.stderr);
    assert.match(
      adopt.stderr,
      /: OpenSSL itself does not expand "~" \(openssl ca would look for a directory literally named "~"/,
    );
    assert.match(adopt.stdout, /usr_cert/);
    assert.match(adopt.stdout, /1 valid/);
    assert.match(adopt.stdout, /key matches/);
    // Renewal with the same subject works after adopt (unique_subject = no).
    const renew = await runCli(
      [
        'ca',
        'sign',
        join(my, 'client.csr.pem'),
        '--ca',
        my,
        '--profile',
        'usr_cert',
        '--passphrase-file',
        pass,
        '--out',
        join(home, 'renewed.pem'),
      ],
      { env },
    );
    assert.equal(renew.code, 0, renew.stderr);
    const v = run('openssl', [
      'verify',
      '-CAfile',
      join(my, 'certs/ca.cert.pem'),
      '-purpose',
      'sslclient',
      join(home, 'renewed.pem'),
    ]);
    assert.equal(v.code, 0, v.stdout);
    assert.equal(readFileSync(join(my, 'index.txt'), 'utf8').trim().split('\n').length, 2);
    const upd = run('openssl', [
      'ca',
      '-config',
      forOpenssl,
      '-passin',
      `file:${pass}`,
      '-updatedb',
    ]);
    assert.equal(upd.code, 0, upd.stderr);
    // openssl can still sign after us.
    const again = run('openssl', [
      'ca',
      '-config',
      forOpenssl,
      '-batch',
      '-passin',
      `file:${pass}`,
      '-extensions',
      'usr_cert',
      '-in',
      join(my, 'client.csr.pem'),
      '-out',
      join(home, 'third.pem'),
    ]);
    assert.equal(again.code, 0, again.stderr);
    // An unsupported directive is an error that names the file and the line.
    writeFileSync(
      join(my, 'openssl.cnf'),
      `${readFileSync(join(my, 'openssl.cnf'), 'utf8')}\n[ weird ]\nbasicConstraints = CA:FALSE\nproxyCertInfo = critical,language:id-ppl-anyLanguage\n`,
    );
    const bad = await runCli(['ca', 'adopt', my], { env });
    assert.equal(bad.code, 3);
    assert.match(bad.stderr, /error\[MTLS_CONFIG_UNSUPPORTED\]/);
    assert.match(bad.stderr, /openssl\.cnf:\d+/);
    assert.match(bad.stderr, /proxyCertInfo/);
  } finally {
    t.cleanup();
  }
});

test('4 processes x 25 CSRs: 100 unique serials, 100 index lines, openssl ca -updatedb succeeds', async () => {
  const s = setup();
  try {
    await runCli([
      'ca',
      'init',
      s.ca,
      '--subject',
      SUBJECT,
      '--key-type',
      'ec-p256',
      '--no-passphrase',
      '--insecure',
    ]);
    const key = join(s.dir, 'k.pem');
    run('openssl', [
      'genpkey',
      '-algorithm',
      'EC',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-out',
      key,
    ]);
    const groups: string[][] = [[], [], [], []];
    for (let i = 0; i < 100; i++) {
      const csr = join(s.dir, `c${i}.csr`);
      run('openssl', [
        'req',
        '-new',
        '-key',
        key,
        '-subj',
        `/C=BR/ST=SP/O=Acme/CN=client-${i}`,
        '-out',
        csr,
      ]);
      (groups[i % 4] as string[]).push(csr);
    }
    const results = await Promise.all(
      groups.map((g) =>
        runCli(['ca', 'sign', ...g, '--ca', s.ca, '--profile', 'client', '--json']),
      ),
    );
    for (const r of results) assert.equal(r.code, 0, r.stderr);
    const lines = readFileSync(join(s.ca, 'index.txt'), 'utf8').trim().split('\n');
    assert.equal(lines.length, 100);
    const serials = new Set(lines.map((l) => l.split('\t')[3]));
    assert.equal(serials.size, 100);
    assert.equal(readdirSync(join(s.ca, 'newcerts')).length, 100);
    const upd = run('openssl', ['ca', '-config', join(s.ca, 'openssl.cnf'), '-updatedb']);
    assert.equal(upd.code, 0, upd.stderr);
    assert.ok(!existsSync(join(s.ca, '.mtls.lock')));
  } finally {
    s.cleanup();
  }
});

test('a signer killed with SIGKILL mid-run leaves a database the next run accepts', async () => {
  const s = setup();
  try {
    await runCli([
      'ca',
      'init',
      s.ca,
      '--subject',
      SUBJECT,
      '--key-type',
      'ec-p256',
      '--no-passphrase',
      '--insecure',
    ]);
    const key = join(s.dir, 'k.pem');
    run('openssl', [
      'genpkey',
      '-algorithm',
      'EC',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-out',
      key,
    ]);
    const csrs: string[] = [];
    for (let i = 0; i < 60; i++) {
      const csr = join(s.dir, `c${i}.csr`);
      run('openssl', [
        'req',
        '-new',
        '-key',
        key,
        '-subj',
        `/C=BR/ST=SP/O=Acme/CN=k-${i}`,
        '-out',
        csr,
      ]);
      csrs.push(csr);
    }
    const { spawn } = await import('node:child_process');
    const { CLI } = await import('../helpers/cli.js');
    const child = spawn(
      process.execPath,
      [CLI, 'ca', 'sign', ...csrs, '--ca', s.ca, '--profile', 'client'],
      { stdio: 'pipe' },
    );
    // Kill once it has signed a few.
    await new Promise<void>((resolve) => {
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        if ((out.match(/signed/g) ?? []).length >= 5) resolve();
      });
      child.on('close', () => resolve());
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.on('close', r));
    const next = await runCli([
      'ca',
      'sign',
      csrs[0] as string,
      '--ca',
      s.ca,
      '--profile',
      'client',
    ]);
    assert.equal(next.code, 0, next.stderr);
    const lines = readFileSync(join(s.ca, 'index.txt'), 'utf8').trim().split('\n');
    assert.ok(lines.length >= 6);
    assert.equal(run('openssl', ['ca', '-config', join(s.ca, 'openssl.cnf'), '-updatedb']).code, 0);
    assert.ok(
      readdirSync(s.ca).every((f) => !f.endsWith('.tmp')),
      'no temp files left in the CA dir',
    );
  } finally {
    s.cleanup();
  }
});
