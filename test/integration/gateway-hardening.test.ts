/**
 * Connection-level hardening, over raw TLS sockets: pipelined requests after
 * a registry change, and a client that resets the connection mid-request.
 */
import 'reflect-metadata';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import type { SqliteRegistry } from '../../src/gateway/registry/sqlite-registry.js';
import { tempDir } from '../helpers/pki.js';
import {
  makeInstitution,
  makeServerPki,
  openTestRegistry,
  registerInstitution,
  startEchoUpstream,
  startTestGateway,
  uploadCrl,
  waitFor,
  waitForAudit,
  type EchoUpstream,
  type TestGateway,
  type TestInstitution,
  type TestServerPki,
} from '../helpers/gateway-harness.js';

const { dir, cleanup } = tempDir('mtlskit-gw-hardening-');
let pki: TestServerPki;
let registry: SqliteRegistry;
let upstream: EchoUpstream;
let gw: TestGateway;
let pipe: TestInstitution;
let reset: TestInstitution;

before(async () => {
  pki = await makeServerPki(dir);
  registry = await openTestRegistry(dir);
  upstream = await startEchoUpstream();
  pipe = await makeInstitution(dir, 'pipe');
  reset = await makeInstitution(dir, 'reset');
  await registerInstitution(registry, 'pipe', pipe.root.certPem, ['127.0.0.1']);
  await registerInstitution(registry, 'reset', reset.root.certPem, ['127.0.0.40']);
  gw = await startTestGateway({ registry, upstream: upstream.url, pki });
});

after(async () => {
  await gw?.close();
  await upstream?.close();
  await registry?.close();
  cleanup();
});

/** A TLS 1.2 connection with a client certificate, collecting everything the gateway sends. */
async function connect(leaf: { certPem: string; keyPem: string }, localAddress: string, socket?: net.Socket): Promise<{ tls: tls.TLSSocket; received: () => string; closed: Promise<void> }> {
  let data = '';
  const s = tls.connect({
    ...(socket ? { socket } : { host: '127.0.0.1', port: gw.port, localAddress }),
    servername: 'localhost',
    ca: pki.serverCa.certPem,
    cert: leaf.certPem,
    key: leaf.keyPem,
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.2',
  });
  s.on('data', (d: Buffer) => (data += d.toString('utf8')));
  const closed = new Promise<void>((r) => s.once('close', () => r()));
  s.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    s.once('secureConnect', () => resolve());
    s.once('error', reject);
  });
  return { tls: s, received: () => data, closed };
}

const get = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: api\r\n\r\n`;

describe('gateway hardening', () => {
  test('pipelined requests after a revocation all wait for the re-check: none reaches the upstream', async () => {
    const c = await connect(pipe.client, '127.0.0.1');
    try {
      c.tls.write(get('/pipe-1'));
      await waitFor(() => c.received().includes('"url":"/pipe-1"'), 5_000, 'the first response');
      await uploadCrl(registry, 'pipe', pipe.root, [pipe.client.serialHex]);
      await gw.gateway.reloadTrust();
      c.tls.write(get('/pipe-2') + get('/pipe-3') + get('/pipe-4'));
      await Promise.race([c.closed, new Promise((r) => setTimeout(r, 3_000))]);
      const forwarded = upstream.requests.map((r) => r.url).filter((u) => u.startsWith('/pipe-'));
      assert.deepEqual(forwarded, ['/pipe-1'], `forwarded after the revocation: ${forwarded.join(', ')}`);
      assert.match(c.received(), /HTTP\/1\.1 403[\s\S]*\{"error":"revoked"\}/);
    } finally {
      c.tls.destroy();
    }
  });

  test('a client that resets the connection mid-request is audited', async () => {
    const raw = net.connect({ host: '127.0.0.1', port: gw.port, localAddress: '127.0.0.40' });
    await new Promise<void>((resolve, reject) => {
      raw.once('connect', () => resolve());
      raw.once('error', reject);
    });
    raw.on('error', () => undefined);
    const c = await connect(reset.client, '127.0.0.40', raw);
    // The gateway has decided on the connection once its audit record exists.
    await waitForAudit(gw.gateway, (a) => a.kind === 'connection' && a.ip === '127.0.0.40' && a.reason === 'ok', 'the accepted connection');
    await new Promise<void>((r) => c.tls.write('GET /half HTTP/1.1\r\nHost: api\r\n', () => r()));
    // Loopback delivers the half request well within this; then a TCP RST, no close_notify, no FIN.
    await new Promise((r) => setTimeout(r, 200));
    raw.resetAndDestroy();
    const r = await waitForAudit(gw.gateway, (a) => a.kind === 'request' && a.ip === '127.0.0.40' && /ECONNRESET/.test(a.detail ?? ''), 'the reset request audit');
    assert.equal(r.reason, 'bad_request');
    assert.equal(r.institutionId, 'reset');
    assert.match(r.detail ?? '', /ECONNRESET: the client reset the connection/);
  });
});
