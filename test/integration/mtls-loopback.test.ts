/**
 * A real mTLS call on loopback, the guide's end state: a Node server pinned to
 * TLS 1.2 with requestCert + rejectUnauthorized, trusting the chain exported
 * by `mtls ca chain`, accepts the client from `mtls ca issue` via its .pfx and
 * via curl --cert/--key, and rejects everything else.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import tls from 'node:tls';
import { readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { runCli, run, runAsync } from '../helpers/cli.js';
import { makeCa, makeLeaf, makeServerLeaf, tempDir } from '../helpers/pki.js';

let dir = '';
let cleanup = (): void => undefined;
let server: https.Server;
let port = 0;
let caDir = '';
const pfxPass = 'pfx secret 123';

before(async () => {
  const t = tempDir();
  dir = t.dir;
  cleanup = t.cleanup;
  caDir = join(dir, 'myCA');
  writeFileSync(join(dir, 'pfx.pass'), `${pfxPass}\n`);
  assert.equal(
    (
      await runCli([
        'ca',
        'init',
        caDir,
        '--subject',
        '/C=BR/ST=SP/O=Acme/CN=Acme Root',
        '--key-type',
        'ec-p256',
        '--no-passphrase',
        '--insecure',
      ])
    ).code,
    0,
  );
  const issued = await runCli([
    'ca',
    'issue',
    'acme-client',
    '--ca',
    caDir,
    '--key-type',
    'ec-p256',
    '--password-file',
    join(dir, 'pfx.pass'),
  ]);
  assert.equal(issued.code, 0, issued.stderr);
  assert.match(issued.stdout, /Send to the provider/);
  assert.match(issued.stdout, /Never send/);
  assert.equal(
    (await runCli(['ca', 'chain', '--ca', caDir, '--out', join(dir, 'chain.pem')])).code,
    0,
  );
  // The provider's own server certificate comes from the provider's CA, not the institution's.
  const providerCa = await makeCa(dir, { name: 'Provider CA' });
  const srv = await makeServerLeaf(dir, providerCa);
  server = https.createServer(
    {
      key: srv.keyPem,
      cert: srv.certPem,
      ca: readFileSync(join(dir, 'chain.pem'), 'utf8'),
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
      maxVersion: 'TLSv1.2',
    },
    (req, res) => {
      const s = req.socket;
      if (!(s instanceof tls.TLSSocket)) throw new Error('an https request without TLS');
      res.end(JSON.stringify({ cn: s.getPeerCertificate().subject.CN, protocol: s.getProtocol() }));
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  cleanup();
});

function get(options: https.RequestOptions): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path: '/',
        servername: 'localhost',
        ca: readFileSync(join(dir, 'provider-ca.cert.pem')),
        ...options,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

test('accepts our client via the .pfx (Node loads it as it stands)', async () => {
  const pfx = readFileSync(join(caDir, 'certs', 'acme-client.pfx'));
  assert.doesNotThrow(() => tls.createSecureContext({ pfx, passphrase: pfxPass }));
  const r = await get({ pfx, passphrase: pfxPass, agent: false });
  assert.equal(r.status, 200);
  assert.deepEqual(JSON.parse(r.body), { cn: 'acme-client', protocol: 'TLSv1.2' });
});

test('accepts our client via curl --cert/--key', async () => {
  const keyPass = join(dir, 'pfx.pass');
  const plainKey = join(dir, 'client-plain.key');
  assert.equal(
    run('openssl', [
      'pkey',
      '-in',
      join(caDir, 'private', 'acme-client.key.pem'),
      '-passin',
      `file:${keyPass}`,
      '-out',
      plainKey,
    ]).code,
    0,
  );
  const r = await runAsync('curl', [
    '-sS',
    '--fail',
    '--tlsv1.2',
    '--tls-max',
    '1.2',
    '--cacert',
    join(dir, 'provider-ca.cert.pem'),
    '--cert',
    join(caDir, 'certs', 'acme-client.cert.pem'),
    '--key',
    plainKey,
    '--resolve',
    `localhost:${port}:127.0.0.1`,
    `https://localhost:${port}/`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as { cn: string }).cn, 'acme-client');
});

test('rejects a certificate from another CA, and a call without a certificate', async () => {
  const other = await makeCa(dir, { name: 'Other CA' });
  const leaf = await makeLeaf(dir, other, { cn: 'intruder' });
  // A foreign chain: the server closes without an alert (see s_client below),
  // which Node's client reports as a reset.
  const reset = (e: NodeJS.ErrnoException): boolean => e.code === 'ECONNRESET';
  // No certificate: OpenSSL sends handshake_failure, unless the server's close
  // wins the race with the alert and the client sees the reset first.
  const noCertificate = (e: NodeJS.ErrnoException): boolean =>
    (e.code === 'EPROTO' &&
      /sslv3 alert handshake failure:.*:SSL alert number 40\b/.test(e.message)) ||
    e.code === 'ECONNRESET';
  await assert.rejects(get({ key: leaf.keyPem, cert: leaf.certPem, agent: false }), reset);
  await assert.rejects(get({ agent: false }), noCertificate);
  // openssl s_client shows exactly what the server did. With no certificate
  // OpenSSL itself ends the handshake with handshake_failure (alert 40,
  // RFC 5246 §7.2.2). A chain it cannot build is judged by Node after
  // OpenSSL's verify callback, so the server closes without an alert.
  const sClient = [
    's_client',
    '-connect',
    `127.0.0.1:${port}`,
    '-servername',
    'localhost',
    '-tls1_2',
    '-CAfile',
    join(dir, 'provider-ca.cert.pem'),
  ];
  const foreign = await runAsync(
    'openssl',
    [...sClient, '-cert', leaf.certPath, '-key', leaf.keyPath],
    { input: '' },
  );
  assert.match(foreign.stderr, /unexpected eof while reading/);
  const none = await runAsync('openssl', sClient, { input: '' });
  assert.match(none.stderr, /SSL alert number 40/);
});

test('openssl s_client -tls1_3 fails; -tls1_2 completes', async () => {
  const args = [
    's_client',
    '-connect',
    `127.0.0.1:${port}`,
    '-servername',
    'localhost',
    '-CAfile',
    join(dir, 'provider-ca.cert.pem'),
  ];
  const t13 = await runAsync('openssl', [...args, '-tls1_3'], { input: '' });
  assert.notEqual(t13.code, 0);
  // A TLS 1.2-only server answers a 1.3-only ClientHello with the protocol_version alert (RFC 8446 §4.2.1).
  assert.match(t13.stderr, /tlsv1 alert protocol version/);
  const t12 = await runAsync(
    'openssl',
    [
      ...args,
      '-tls1_2',
      '-cert',
      join(caDir, 'certs', 'acme-client.cert.pem'),
      '-key',
      join(dir, 'client-plain.key'),
    ],
    { input: '' },
  );
  assert.match(t12.stdout, /Protocol\s*: TLSv1\.2/);
  assert.match(t12.stdout, /Verify return code: 0 \(ok\)/);
});
