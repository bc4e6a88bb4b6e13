import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { MtlsError } from '../../src/errors/index.js';
import { fetchCrl, parseCrlUrl } from '../../src/gateway/crl-fetch.js';
import { runAsync } from '../helpers/cli.js';
import { makeCa, makeServerLeaf, tempDir } from '../helpers/pki.js';

/** Asserts an MtlsError with `code` whose message matches `re`. */
function fails(code: string, re: RegExp) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof MtlsError, `expected MtlsError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, re);
    return true;
  };
}

describe('fetchCrl', () => {
  let server: Server;
  let base: string;
  const body = Buffer.from('3082010a0201', 'hex');
  before(async () => {
    server = createServer((req, res) => {
      switch (req.url) {
        case '/ca.crl':
          res.writeHead(200, {
            'content-type': 'application/pkix-crl',
            'content-length': body.length,
          });
          res.end(body);
          return;
        case '/moved':
          res.writeHead(302, { location: '/ca.crl' });
          res.end();
          return;
        case '/loop':
          res.writeHead(301, { location: '/loop' });
          res.end();
          return;
        case '/to-file':
          res.writeHead(302, { location: 'file:///etc/passwd' });
          res.end();
          return;
        case '/big-declared':
          res.writeHead(200, { 'content-length': 5000 });
          res.end(Buffer.alloc(5000));
          return;
        case '/big-chunked':
          // No Content-Length: the limit must hold on the bytes themselves.
          res.writeHead(200);
          for (let i = 0; i < 10; i++) res.write(Buffer.alloc(1000));
          res.end();
          return;
        case '/slow':
          res.writeHead(200);
          res.write(Buffer.alloc(10));
          return; // never ends
        default:
          res.writeHead(404);
          res.end('not here');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  it('downloads the CRL bytes as served', async () => {
    const r = await fetchCrl({ url: `${base}/ca.crl` });
    assert.deepEqual(r.body, body);
    assert.equal(r.contentType, 'application/pkix-crl');
    assert.equal(r.finalUrl, `${base}/ca.crl`);
  });

  it('follows an http redirect and reports where it ended', async () => {
    const r = await fetchCrl({ url: `${base}/moved` });
    assert.deepEqual(r.body, body);
    assert.equal(r.finalUrl, `${base}/ca.crl`);
  });

  it('refuses a redirect loop after the limit', async () => {
    await assert.rejects(
      fetchCrl({ url: `${base}/loop`, maxRedirects: 2 }),
      fails('MTLS_HTTP_STATUS', /redirected more than 2 times/),
    );
  });

  it('refuses a redirect to another scheme', async () => {
    await assert.rejects(
      fetchCrl({ url: `${base}/to-file` }),
      fails('MTLS_BAD_ARGUMENT', /file; only http and https/),
    );
  });

  it('refuses an HTTP error status, naming it', async () => {
    await assert.rejects(
      fetchCrl({ url: `${base}/nope` }),
      fails('MTLS_HTTP_STATUS', /answered HTTP 404/),
    );
  });

  it('refuses a body over the limit, declared or not', async () => {
    await assert.rejects(
      fetchCrl({ url: `${base}/big-declared`, maxBytes: 4096 }),
      fails('MTLS_HTTP_STATUS', /larger than the 4096-byte limit/),
    );
    await assert.rejects(
      fetchCrl({ url: `${base}/big-chunked`, maxBytes: 4096 }),
      fails('MTLS_HTTP_STATUS', /larger than the 4096-byte limit/),
    );
  });

  it('gives up on a server that never finishes', async () => {
    await assert.rejects(
      fetchCrl({ url: `${base}/slow`, timeoutMs: 300 }),
      fails('MTLS_TIMEOUT', /did not finish within 300 ms/),
    );
  });

  it('names a server that cannot be reached', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    await assert.rejects(
      fetchCrl({ url: `http://127.0.0.1:${port}/ca.crl` }),
      fails('MTLS_NETWORK', /ECONNREFUSED/),
    );
  });

  it('accepts only absolute http(s) URLs without credentials', () => {
    assert.equal(parseCrlUrl('https://crl.example/ca.crl').host, 'crl.example');
    assert.throws(
      () => parseCrlUrl('ldap://dir.example/cn=CA'),
      fails('MTLS_BAD_ARGUMENT', /uses ldap/),
    );
    assert.throws(() => parseCrlUrl('/ca.crl'), fails('MTLS_BAD_ARGUMENT', /not an absolute URL/));
    assert.throws(
      () => parseCrlUrl('http://u:secret@crl.example/ca.crl'),
      (e: unknown) => {
        assert.ok(e instanceof MtlsError);
        assert.doesNotMatch(e.message, /secret/);
        return true;
      },
    );
  });

  it('over HTTPS: downloads from a server the trust store vouches for, refuses one it does not', async () => {
    const t = tempDir();
    const ca = await makeCa(t.dir, { name: 'CRL host CA' });
    const leaf = await makeServerLeaf(t.dir, ca);
    const tlsServer = createHttpsServer({ cert: leaf.certPem, key: leaf.keyPem }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/pkix-crl' });
      res.end(body);
    });
    await new Promise<void>((r) => tlsServer.listen(0, '127.0.0.1', r));
    const url = `https://localhost:${(tlsServer.address() as AddressInfo).port}/ca.crl`;
    try {
      // This process does not trust the CRL host's CA: no bytes are taken.
      await assert.rejects(
        fetchCrl({ url }),
        fails(
          'MTLS_NETWORK',
          /CRL download from https:\/\/localhost:\d+\/ca\.crl failed: the server's TLS certificate does not verify \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/,
        ),
      );
      // A gateway process started with the CA in its trust store
      // (NODE_EXTRA_CA_CERTS) downloads it.
      const root = join(import.meta.dirname, '..', '..');
      const script = `import { fetchCrl } from ${JSON.stringify(join(root, 'src', 'gateway', 'crl-fetch.ts'))};
const r = await fetchCrl({ url: ${JSON.stringify(url)} });
process.stdout.write(r.body.toString('hex'));`;
      const child = await runAsync(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', script],
        { env: { NODE_EXTRA_CA_CERTS: ca.certPath }, cwd: root },
      );
      assert.equal(child.code, 0, child.stderr);
      assert.equal(child.stdout, body.toString('hex'));
    } finally {
      tlsServer.closeAllConnections();
      tlsServer.close();
      t.cleanup();
    }
  });
});
