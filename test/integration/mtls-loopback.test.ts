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
  assert.equal((await runCli(['ca', 'init', caDir, '--subject', '/C=BR/ST=SP/O=Acme/CN=Acme Root', '--key-type', 'ec-p256', '--no-passphrase'])).code, 0);
  const issued = await runCli(['ca', 'issue', 'acme-client', '--ca', caDir, '--key-type', 'ec-p256', '--password-file', join(dir, 'pfx.pass')]);
  assert.equal(issued.code, 0, issued.stderr);
  assert.match(issued.stdout, /Send to the provider/);
  assert.match(issued.stdout, /Never send/);
  assert.equal((await runCli(['ca', 'chain', '--ca', caDir, '--out', join(dir, 'chain.pem')])).code, 0);
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
      const s = req.socket as tls.TLSSocket;
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
    const req = https.request({ host: '127.0.0.1', port, path: '/', servername: 'localhost', ca: readFileSync(join(dir, 'provider-ca.cert.pem')), ...options }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
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
  assert.equal(run('openssl', ['pkey', '-in', join(caDir, 'private', 'acme-client.key.pem'), '-passin', `file:${keyPass}`, '-out', plainKey]).code, 0);
  const r = await runAsync('curl', ['-sS', '--fail', '--tlsv1.2', '--tls-max', '1.2', '--cacert', join(dir, 'provider-ca.cert.pem'), '--cert', join(caDir, 'certs', 'acme-client.cert.pem'), '--key', plainKey, '--resolve', `localhost:${port}:127.0.0.1`, `https://localhost:${port}/`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).cn, 'acme-client');
});

test('rejects a certificate from another CA, and a call without a certificate', async () => {
  const other = await makeCa(dir, { name: 'Other CA' });
  const leaf = await makeLeaf(dir, other, { cn: 'intruder' });
  await assert.rejects(get({ key: leaf.keyPem, cert: leaf.certPem, agent: false }), /socket hang up|ECONNRESET|alert|certificate|disconnected/i);
  await assert.rejects(get({ agent: false }), /socket hang up|ECONNRESET|alert|certificate|disconnected/i);
});

test('openssl s_client -tls1_3 fails; -tls1_2 completes', async () => {
  const args = ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-CAfile', join(dir, 'provider-ca.cert.pem')];
  const t13 = await runAsync('openssl', [...args, '-tls1_3'], { input: '' });
  assert.notEqual(t13.code, 0);
  assert.match(t13.stdout + t13.stderr, /protocol version|alert|no protocols|wrong version/i);
  const t12 = await runAsync('openssl', [...args, '-tls1_2', '-cert', join(caDir, 'certs', 'acme-client.cert.pem'), '-key', join(dir, 'client-plain.key')], { input: '' });
  assert.match(t12.stdout, /Protocol\s*: TLSv1\.2/);
  assert.match(t12.stdout, /Verify return code: 0 \(ok\)/);
});
