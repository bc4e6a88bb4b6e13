/**
 * Node's TLS stack as the oracle: our .pfx files load with
 * tls.createSecureContext({pfx, passphrase}) and carry a client through a real
 * TLS 1.2 mutual handshake on loopback. An openssl -legacy (RC2-40) file does
 * not load in Node until `convertPfx` rewrites it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { buildPfx, convertPfx, type PfxFlavour } from '../../src/pki/pkcs12/index.js';
import { makePfxFixture, openssl, type PfxFixture } from '../helpers/pfx-fixtures.js';

const PASSWORD = 'tls-pfx-pw';

describe('PKCS#12 with node:tls', () => {
  let fx: PfxFixture;
  let server: tls.Server;
  let port: number;
  const seen: Array<{ authorized: boolean; cn: string | undefined }> = [];

  before(async () => {
    fx = makePfxFixture('rsa');
    server = tls.createServer({
      key: readFileSync(fx.files.serverKey),
      cert: readFileSync(fx.files.server),
      ca: readFileSync(fx.files.root),
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
      maxVersion: 'TLSv1.2',
    });
    server.on('secureConnection', (socket) => {
      const peer = socket.getPeerCertificate();
      const cn = peer.subject.CN;
      seen.push({ authorized: socket.authorized, cn: Array.isArray(cn) ? cn.join('+') : cn });
      socket.end('hello\n');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server.close();
    await once(server, 'close');
    fx.cleanup();
  });

  const ours = (flavour: PfxFlavour): Buffer =>
    buildPfx({
      privateKey: fx.leafKey,
      certificate: fx.leafCert,
      chain: [fx.intermediateCert],
      password: PASSWORD,
      flavour,
    });

  async function call(pfx: Buffer, passphrase: string): Promise<string> {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      ca: readFileSync(fx.files.root),
      pfx,
      passphrase,
      minVersion: 'TLSv1.2',
      maxVersion: 'TLSv1.2',
    });
    let body = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      body += d;
    });
    await once(socket, 'end');
    socket.destroy();
    return body;
  }

  for (const flavour of ['modern', 'legacy'] as const) {
    it(`tls.createSecureContext loads our ${flavour} .pfx and refuses a wrong passphrase`, () => {
      const pfx = ours(flavour);
      assert.ok(tls.createSecureContext({ pfx, passphrase: PASSWORD }));
      assert.throws(() => tls.createSecureContext({ pfx, passphrase: 'wrong' }), {
        message: 'mac verify failure',
      });
    });

    it(`our ${flavour} .pfx authenticates a client in a TLS 1.2 mutual handshake (chain sent from the .pfx)`, async () => {
      const before = seen.length;
      assert.equal(await call(ours(flavour), PASSWORD), 'hello\n');
      assert.deepEqual(seen.slice(before), [{ authorized: true, cn: 'ACME Client 01' }]);
    });
  }

  it('an openssl -legacy (RC2-40) .pfx fails in Node, and loads after convertPfx', async () => {
    const file = fx.path('legacy-rc2.p12');
    const pwFile = fx.path('pw.txt');
    writeFileSync(pwFile, `${PASSWORD}\n`);
    openssl([
      'pkcs12',
      '-export',
      '-legacy',
      '-inkey',
      fx.files.leafKey,
      '-in',
      fx.files.leaf,
      '-certfile',
      fx.files.intermediate,
      '-out',
      file,
      '-passout',
      `file:${pwFile}`,
    ]);
    const rc2 = readFileSync(file);
    assert.throws(
      () => tls.createSecureContext({ pfx: rc2, passphrase: PASSWORD }),
      /unsupported/i,
    );
    const converted = convertPfx(rc2, PASSWORD);
    const before = seen.length;
    assert.equal(await call(converted, PASSWORD), 'hello\n');
    assert.deepEqual(seen.slice(before), [{ authorized: true, cn: 'ACME Client 01' }]);
  });
});
