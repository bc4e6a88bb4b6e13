/**
 * 300 institutions, each with its own CA and IP: the CertificateRequest a
 * client sees (read off the wire by `openssl s_client -msg`, an independent
 * oracle) is the same size as with one institution, since each source IP
 * gets a TLS server that names only its own institution's CAs; the
 * institution is accepted, and another institution's certificate from its IP
 * is not. (nginx puts every CA in one CertificateRequest and fails past
 * about 800; the 10,000-institution figures are in `npm run bench:gateway`.)
 */
import 'reflect-metadata';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { SqliteRegistry } from '../../src/gateway/registry/sqlite-registry.js';
import { tempDir } from '../helpers/pki.js';
import {
  makeInstitution,
  makeServerPki,
  mtlsRequest,
  openTestRegistry,
  registerInstitution,
  startEchoUpstream,
  startTestGateway,
  type EchoUpstream,
  type TestGateway,
  type TestInstitution,
  type TestServerPki,
} from '../helpers/gateway-harness.js';
import { makeRootCaPems, manyIp, registerMany } from '../helpers/many-institutions.js';
import { Teardown } from '../helpers/teardown.js';
import { errorCode } from '../helpers/assert.js';

const MANY = 300;
const { dir, cleanup } = tempDir('mtlskit-gw-many-');
const teardown = new Teardown();
teardown.defer(cleanup);
let pki: TestServerPki;
let upstream: EchoUpstream;
let acme: TestInstitution;
let beta: TestInstitution;
let oneReg: SqliteRegistry;
let manyReg: SqliteRegistry;
let one: TestGateway;
let many: TestGateway;

before(async () => {
  pki = await makeServerPki(dir);
  upstream = teardown.use(await startEchoUpstream());
  acme = await makeInstitution(dir, 'acme');
  beta = await makeInstitution(dir, 'beta');
  mkdirSync(join(dir, 'one'));
  mkdirSync(join(dir, 'many'));
  oneReg = teardown.use(await openTestRegistry(join(dir, 'one')));
  manyReg = teardown.use(await openTestRegistry(join(dir, 'many')));
  // acme on 127.0.0.1 in both, so openssl s_client (which cannot choose its source address) reaches acme's TLS server.
  await registerInstitution(oneReg, 'acme', acme.root.certPem, ['127.0.0.1']);
  await registerInstitution(manyReg, 'acme', acme.root.certPem, ['127.0.0.1']);
  await registerInstitution(manyReg, 'beta', beta.root.certPem, ['127.0.0.2']);
  await registerMany(manyReg, await makeRootCaPems(0, MANY));
  one = teardown.use(await startTestGateway({ registry: oneReg, upstream: upstream.url, pki }));
  many = teardown.use(await startTestGateway({ registry: manyReg, upstream: upstream.url, pki }));
});

after(() => teardown.run());

/**
 * The CertificateRequest handshake message length, as `openssl s_client -msg`
 * prints it (spawned asynchronously: the gateway runs in this process).
 */
async function certificateRequestLength(port: number): Promise<number> {
  const child = spawn('openssl', [
    's_client',
    '-connect',
    `127.0.0.1:${port}`,
    '-tls1_2',
    '-msg',
    '-servername',
    'localhost',
    '-CAfile',
    pki.serverCa.certPath,
    '-cert',
    acme.client.certPath,
    '-key',
    acme.client.keyPath,
  ]);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
  child.stdin.end('Q\n');
  const timer = setTimeout(() => child.kill(), 20_000);
  await new Promise((r) => child.once('close', r));
  clearTimeout(timer);
  const m = /<<< TLS 1\.2, Handshake \[length ([0-9a-f]+)\], CertificateRequest/.exec(out);
  assert.ok(m, `no CertificateRequest in openssl s_client -msg output:\n${out.slice(0, 1500)}`);
  return parseInt(m[1] as string, 16);
}

describe(`${MANY} institutions`, () => {
  test('the CertificateRequest is the same size as with one institution', async () => {
    const size = await certificateRequestLength(many.port);
    assert.equal(size, await certificateRequestLength(one.port));
    // Small: one CA name, far from the 64 KB where a single list of every CA breaks.
    assert.ok(size < 1_000, `CertificateRequest of ${size} bytes`);
  });

  test("each IP gets its own institution's trust", async () => {
    const ok = await mtlsRequest({
      port: many.port,
      ca: pki.serverCa.certPem,
      cert: acme.client.certPem,
      key: acme.client.keyPem,
      path: '/many',
    });
    assert.equal(ok.status, 200);
    const okBeta = await mtlsRequest({
      port: many.port,
      ca: pki.serverCa.certPem,
      cert: beta.client.certPem,
      key: beta.client.keyPem,
      localAddress: '127.0.0.2',
      path: '/many',
    });
    assert.equal(okBeta.status, 200);
    // acme's certificate from one of the 300 other institutions' IPs: that IP's server does not know acme's CA.
    const wrong = await mtlsRequest({
      port: many.port,
      ca: pki.serverCa.certPem,
      cert: acme.client.certPem,
      key: acme.client.keyPem,
      localAddress: manyIp(MANY >> 1),
      path: '/many',
    }).then(
      (r) => `status ${r.status} ${(r.json as { error?: string } | undefined)?.error ?? ''}`,
      (e: unknown) => `closed ${errorCode(e)}`,
    );
    assert.notEqual(wrong.slice(0, 10), 'status 200', wrong);
  });
});
