/**
 * `mtls cert verify --crl` against `openssl verify -crl_check` on a CA made
 * and revoked by mtls: a revoked certificate is refused with reason `revoked`
 * (exit 4), a good one passes, and OpenSSL agrees on both.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
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
