/**
 * `mtls pfx unpack`: a .pfx (ours, or OpenSSL's RC2-40 that Node cannot read)
 * becomes PEM files that python3's ssl module loads as they stand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/pki.js';

const PY_LOAD =
  'import ssl,sys\nctx=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)\nctx.load_cert_chain(sys.argv[1], sys.argv[2], password=(sys.argv[3] if len(sys.argv)>3 else None))\nprint("loaded")';

test('unpack: ours and an OpenSSL RC2-40 file become PEM that python ssl loads; key 0600 and encrypted unless asked', async () => {
  const t = tempDir();
  try {
    const pass = join(t.dir, 'pfx.pass');
    writeFileSync(pass, 'unpack me 42\n');
    const ca = join(t.dir, 'ca');
    assert.equal(
      (
        await runCli([
          'ca',
          'init',
          ca,
          '--subject',
          '/C=BR/ST=SP/O=Acme/CN=Root',
          '--key-type',
          'ec-p256',
          '--no-passphrase',
          '--insecure',
        ])
      ).code,
      0,
    );
    assert.equal(
      (
        await runCli([
          'ca',
          'issue',
          'cli',
          '--ca',
          ca,
          '--key-type',
          'ec-p256',
          '--password-file',
          pass,
        ])
      ).code,
      0,
    );
    const pfx = join(ca, 'certs', 'cli.pfx');
    const out = join(t.dir, 'pem');
    run('mkdir', ['-p', out]);
    const r = await runCli([
      'pfx',
      'unpack',
      pfx,
      '--out-dir',
      out,
      '--password-file',
      pass,
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const res = JSON.parse(r.stdout) as {
      cert: string;
      chain: string;
      key: string;
      keyEncrypted: boolean;
    };
    assert.equal(res.keyEncrypted, true);
    assert.equal(statSync(res.key).mode & 0o777, 0o600);
    assert.match(readFileSync(res.key, 'utf8'), /BEGIN ENCRYPTED PRIVATE KEY/);
    assert.equal(run('openssl', ['verify', '-CAfile', res.chain, res.cert]).code, 0);
    const py = run('python3', ['-c', PY_LOAD, res.cert, res.key, 'unpack me 42']);
    assert.equal(py.code, 0, py.stderr);
    // Refuses to overwrite, leaves the files alone.
    const again = await runCli(['pfx', 'unpack', pfx, '--out-dir', out, '--password-file', pass]);
    assert.equal(again.code, 5);
    assert.match(again.stderr, /error\[MTLS_FILE_EXISTS\]/);
    // OpenSSL's RC2-40 flavour, unencrypted key on request (for Go).
    const plainKey = join(t.dir, 'plain.key');
    run('openssl', ['pkey', '-in', res.key, '-passin', `file:${pass}`, '-out', plainKey]);
    const rc2 = join(t.dir, 'rc2.p12');
    const mk = run('openssl', [
      'pkcs12',
      '-export',
      '-legacy',
      '-in',
      res.cert,
      '-inkey',
      plainKey,
      '-certfile',
      res.chain,
      '-passout',
      `file:${pass}`,
      '-out',
      rc2,
    ]);
    assert.equal(mk.code, 0, mk.stderr);
    const r2 = await runCli([
      'pfx',
      'unpack',
      rc2,
      '--out-dir',
      out,
      '--name',
      'from-rc2',
      '--no-key-passphrase',
      '--password-file',
      pass,
    ]);
    assert.equal(r2.code, 0, r2.stderr);
    assert.match(readFileSync(join(out, 'from-rc2.key.pem'), 'utf8'), /BEGIN PRIVATE KEY/);
    assert.equal(statSync(join(out, 'from-rc2.key.pem')).mode & 0o777, 0o600);
    assert.equal(
      run('python3', ['-c', PY_LOAD, join(out, 'from-rc2.cert.pem'), join(out, 'from-rc2.key.pem')])
        .code,
      0,
    );
    // A file without a MAC is refused unless the user accepts it.
    const nomac = join(t.dir, 'nomac.p12');
    assert.equal(
      run('openssl', [
        'pkcs12',
        '-export',
        '-nomac',
        '-in',
        res.cert,
        '-inkey',
        plainKey,
        '-passout',
        `file:${pass}`,
        '-out',
        nomac,
      ]).code,
      0,
    );
    const refused = await runCli([
      'pfx',
      'unpack',
      nomac,
      '--out-dir',
      out,
      '--name',
      'nomac',
      '--password-file',
      pass,
    ]);
    assert.equal(refused.code, 4);
    assert.match(
      refused.stderr,
      /error\[MTLS_VERIFY_FAILED\][\s\S]*no integrity MAC[\s\S]*--allow-no-mac/,
    );
    assert.ok(!existsSync(join(out, 'nomac.cert.pem')));
    assert.equal(
      (
        await runCli([
          'pfx',
          'unpack',
          nomac,
          '--out-dir',
          out,
          '--name',
          'nomac',
          '--allow-no-mac',
          '--password-file',
          pass,
        ])
      ).code,
      0,
    );
    const conv = await runCli([
      'pfx',
      'convert',
      nomac,
      '--out',
      join(t.dir, 'conv.pfx'),
      '--password-file',
      pass,
    ]);
    assert.equal(conv.code, 4);
    assert.ok(!existsSync(join(t.dir, 'conv.pfx')));
    // A wrong password: clear error, nothing written.
    const wrong = join(t.dir, 'wrong');
    writeFileSync(wrong, 'nope\n');
    const bad = await runCli([
      'pfx',
      'unpack',
      pfx,
      '--out-dir',
      out,
      '--name',
      'bad',
      '--password-file',
      wrong,
    ]);
    assert.equal(bad.code, 4);
    assert.match(bad.stderr, /error\[MTLS_BAD_PASSPHRASE\]/);
    assert.ok(!existsSync(join(out, 'bad.cert.pem')) && !existsSync(join(out, 'bad.key.pem')));
  } finally {
    t.cleanup();
  }
});
