/**
 * `mtls cert verify --crl` against `openssl verify -crl_check` on a CA made
 * and revoked by mtls: a revoked certificate is refused with reason `revoked`
 * (exit 4), a good one passes, and OpenSSL agrees on both.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { jsonError, run, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/pki.js';

test('cert verify --crl: revoked is refused with reason revoked, as openssl verify -crl_check says', async () => {
  const t = tempDir('mtlskit-verify-crl-');
  try {
    const ca = join(t.dir, 'ca');
    const pfxPass = join(t.dir, 'pfx.pass');
    writeFileSync(pfxPass, 'pfx password\n');
    const init = await runCli([
      'ca',
      'init',
      ca,
      '--subject',
      '/C=BR/ST=SP/O=Acme/CN=Acme Root',
      '--key-type',
      'ec-p256',
      '--no-passphrase',
      '--insecure',
    ]);
    assert.equal(init.code, 0, init.stderr);
    for (const name of ['good', 'bad']) {
      const r = await runCli([
        'ca',
        'issue',
        name,
        '--ca-dir',
        ca,
        '--key-type',
        'ec-p256',
        '--password-file',
        pfxPass,
      ]);
      assert.equal(r.code, 0, r.stderr);
    }
    const serial = run('openssl', [
      'x509',
      '-in',
      join(ca, 'certs', 'bad.cert.pem'),
      '-noout',
      '-serial',
    ])
      .stdout.trim()
      .replace(/^serial=/, '');
    const revoke = await runCli([
      'ca',
      'revoke',
      serial,
      '--ca-dir',
      ca,
      '--reason',
      'keyCompromise',
    ]);
    assert.equal(revoke.code, 0, revoke.stderr);
    const crl = await runCli(['ca', 'crl', '--ca-dir', ca]);
    assert.equal(crl.code, 0, crl.stderr);
    const crlPath = join(ca, 'crl', 'ca.crl.pem');
    const caCert = join(ca, 'certs', 'ca.cert.pem');

    const bad = await runCli([
      'cert',
      'verify',
      join(ca, 'certs', 'bad.cert.pem'),
      '--ca-file',
      caCert,
      '--purpose',
      'client',
      '--crl',
      crlPath,
      '--json',
    ]);
    assert.equal(bad.code, 4, bad.stderr);
    const details = jsonError(bad.stdout).details as { verification: { reason: string } };
    assert.equal(details.verification.reason, 'revoked');
    const sslBad = run('openssl', [
      'verify',
      '-crl_check',
      '-CAfile',
      caCert,
      '-CRLfile',
      crlPath,
      join(ca, 'certs', 'bad.cert.pem'),
    ]);
    assert.notEqual(sslBad.code, 0);
    assert.match(sslBad.stdout + sslBad.stderr, /certificate revoked/);

    const good = await runCli([
      'cert',
      'verify',
      join(ca, 'certs', 'good.cert.pem'),
      '--ca-file',
      caCert,
      '--purpose',
      'client',
      '--crl',
      crlPath,
    ]);
    assert.equal(good.code, 0, good.stderr);
    const sslGood = run('openssl', [
      'verify',
      '-crl_check',
      '-CAfile',
      caCert,
      '-CRLfile',
      crlPath,
      join(ca, 'certs', 'good.cert.pem'),
    ]);
    assert.equal(sslGood.code, 0, sslGood.stderr);

    const notCrl = await runCli([
      'cert',
      'verify',
      join(ca, 'certs', 'good.cert.pem'),
      '--ca-file',
      caCert,
      '--purpose',
      'client',
      '--crl',
      caCert,
    ]);
    assert.equal(notCrl.code, 5, notCrl.stderr);
    assert.match(notCrl.stderr, /error\[MTLS_PEM_INVALID\]: .*holds no X509 CRL block/);
  } finally {
    t.cleanup();
  }
});

test('cert verify --crl honours issuingDistributionPoint scope on CRLs made by openssl ca -gencrl', async () => {
  const t = tempDir('mtlskit-verify-idp-');
  try {
    const ca = join(t.dir, 'ca');
    const pfxPass = join(t.dir, 'pfx.pass');
    writeFileSync(pfxPass, 'pfx password\n');
    const url = 'http://pki.example/acme.crl';
    const init = await runCli([
      'ca',
      'init',
      ca,
      '--subject',
      '/C=BR/ST=SP/O=Acme/CN=Acme IDP Root',
      '--key-type',
      'ec-p256',
      '--no-passphrase',
      '--insecure',
      '--crl-url',
      url,
    ]);
    assert.equal(init.code, 0, init.stderr);
    const issued = await runCli([
      'ca',
      'issue',
      'held',
      '--ca-dir',
      ca,
      '--key-type',
      'ec-p256',
      '--password-file',
      pfxPass,
    ]);
    assert.equal(issued.code, 0, issued.stderr);
    const leaf = join(ca, 'certs', 'held.cert.pem');
    const caCert = join(ca, 'certs', 'ca.cert.pem');
    assert.match(
      run('openssl', ['x509', '-in', leaf, '-noout', '-ext', 'crlDistributionPoints']).stdout,
      new RegExp(`URI:${url}`),
    );
    const serial = run('openssl', ['x509', '-in', leaf, '-noout', '-serial'])
      .stdout.trim()
      .replace(/^serial=/, '');
    const revoke = await runCli(['ca', 'revoke', serial, '--ca-dir', ca, '--reason', 'superseded']);
    assert.equal(revoke.code, 0, revoke.stderr);

    // CRL sections a CA might publish, each a different issuingDistributionPoint (RFC 5280 §5.2.5).
    const cnf = join(ca, 'openssl.cnf');
    const idp = (name: string, body: string): string =>
      `\n[ ${name} ]\nauthorityKeyIdentifier = keyid:always\nissuingDistributionPoint = critical, @${name}_idp\n[ ${name}_idp ]\n${body}\n`;
    writeFileSync(
      cnf,
      readFileSync(cnf, 'utf8') +
        idp('idp_users', `fullname = URI:${url}\nonlyuser = TRUE`) +
        idp('idp_cas', 'onlyCA = TRUE') +
        idp('idp_partition', 'fullname = URI:http://pki.example/partition-2.crl') +
        idp('idp_indirect', 'indirectCRL = TRUE'),
    );
    const crlOf = (section: string): string => {
      const out = join(t.dir, `${section}.crl.pem`);
      const r = run('openssl', ['ca', '-config', cnf, '-gencrl', '-crlexts', section, '-out', out]);
      assert.equal(r.code, 0, r.stderr);
      return out;
    };
    const mtlsVerify = (
      crl: string,
    ): Promise<{ code: number | null; stdout: string; stderr: string }> =>
      runCli([
        'cert',
        'verify',
        leaf,
        '--ca-file',
        caCert,
        '--purpose',
        'client',
        '--crl',
        crl,
        '--json',
      ]);
    const sslVerify = (crl: string): string => {
      const r = run('openssl', ['verify', '-crl_check', '-CAfile', caCert, '-CRLfile', crl, leaf]);
      assert.notEqual(r.code, 0);
      return r.stdout + r.stderr;
    };

    // In scope (an end entity, the distribution point its certificate names): revoked.
    const users = crlOf('idp_users');
    const r1 = await mtlsVerify(users);
    assert.equal(r1.code, 4, r1.stderr);
    const v1 = jsonError(r1.stdout).details as { verification: { reason: string; detail: string } };
    assert.equal(v1.verification.reason, 'revoked');
    assert.match(v1.verification.detail, /reason: superseded/);
    assert.match(sslVerify(users), /certificate revoked/);

    // Scoped to other certificates: no evidence either way, said in a warning. OpenSSL does
    // not take it as evidence either; with -crl_check it then fails for want of a CRL.
    for (const [section, why, openssl] of [
      ['idp_cas', /CA certificates only \(onlyContainsCACerts\)/, /different CRL scope/],
      ['idp_partition', /not among the certificate's cRLDistributionPoints/, /different CRL scope/],
    ] as const) {
      const crl = crlOf(section);
      const r = await mtlsVerify(crl);
      assert.equal(r.code, 0, `${section}: ${r.stderr}`);
      const warnings = (
        JSON.parse(r.stdout) as { warnings: Array<{ code: string; message: string }> }
      ).warnings;
      const w = warnings.find((x) => x.code === 'no_crl');
      assert.ok(w, `${section}: ${JSON.stringify(warnings)}`);
      assert.match(w.message, why, section);
      assert.match(sslVerify(crl), openssl, section);
    }

    // Indirect CRLs are not supported: refused, not silently trusted.
    const r4 = await mtlsVerify(crlOf('idp_indirect'));
    assert.equal(r4.code, 4, r4.stderr);
    const v4 = jsonError(r4.stdout).details as { verification: { reason: string; detail: string } };
    assert.equal(v4.verification.reason, 'crl_invalid');
    assert.match(v4.verification.detail, /indirect CRL/);
  } finally {
    t.cleanup();
  }
});
