/**
 * One gateway, several institutions on different loopback source addresses,
 * and one test per reason code: what the client sees and what the audit says.
 */
import 'reflect-metadata';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { buildCertificate } from '../../src/pki/certificate.js';
import { exportPrivateKeyPem } from '../../src/pki/keys.js';
import { parseSubject } from '../../src/pki/names.js';
import { BUILTIN_PROFILES, type ExtensionProfile } from '../../src/pki/profile.js';
import type { SqliteRegistry } from '../../src/gateway/registry/sqlite-registry.js';
import type { AuditRecord } from '../../src/gateway/registry/types.js';
import { makeCa, makeLeaf, tempDir, type TestLeaf } from '../helpers/pki.js';
import {
  refusalBody,
  makeInstitution,
  makeServerPki,
  mtlsRequest,
  openTestRegistry,
  registerInstitution,
  startEchoUpstream,
  startTestGateway,
  uploadCrl,
  waitForAudit,
  type EchoUpstream,
  type TestGateway,
  type TestInstitution,
  type TestServerPki,
} from '../helpers/gateway-harness.js';
import { Teardown } from '../helpers/teardown.js';
import { errorCode } from '../helpers/assert.js';

const { dir, cleanup } = tempDir('mtlskit-gw-reasons-');
const teardown = new Teardown();
teardown.defer(cleanup);
let pki: TestServerPki;
let registry: SqliteRegistry;
let upstream: EchoUpstream;
let gw: TestGateway;
let acme: TestInstitution;
let beta: TestInstitution;
let frozen: TestInstitution;
let natA: TestInstitution;
let natB: TestInstitution;
let pinned: TestInstitution;
let revoker: TestInstitution;
let revokedLeaf: TestLeaf;

const call = (
  leaf: { certPem: string; keyPem: string } | null,
  localAddress = '127.0.0.1',
  extra: Partial<Parameters<typeof mtlsRequest>[0]> = {},
) =>
  mtlsRequest({
    port: gw.port,
    ca: pki.serverCa.certPem,
    localAddress,
    ...(leaf ? { cert: leaf.certPem, key: leaf.keyPem } : {}),
    ...extra,
  });

/** Expects a 403 whose body is exactly the reason code, and the matching connection audit record. */
async function expectRejected(
  leaf: { certPem: string; keyPem: string } | null,
  reason: string,
  localAddress = '127.0.0.1',
): Promise<AuditRecord> {
  const res = await call(leaf, localAddress, { path: `/probe-${reason}` });
  assert.equal(res.status, 403, `status for ${reason}: ${res.body}`);
  assert.deepEqual(refusalBody(res), { error: reason, requestId: '<id>' });
  assert.equal(
    upstream.requests.some((r) => r.url === `/probe-${reason}`),
    false,
    'a rejected request must not reach the upstream',
  );
  return waitForAudit(
    gw.gateway,
    (r) => r.kind === 'connection' && r.reason === reason && r.ip === localAddress,
    `connection audit ${reason}`,
  );
}

/** Expects the connection to fail before any HTTP response. */
async function expectClosed(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (e) {
    return e as Error;
  }
  assert.fail('the connection should have been closed');
}

before(async () => {
  pki = await makeServerPki(dir);
  registry = teardown.use(await openTestRegistry(dir));
  upstream = teardown.use(await startEchoUpstream());
  acme = await makeInstitution(dir, 'acme');
  beta = await makeInstitution(dir, 'beta');
  frozen = await makeInstitution(dir, 'frozen');
  natA = await makeInstitution(dir, 'nat-a');
  natB = await makeInstitution(dir, 'nat-b');
  pinned = await makeInstitution(dir, 'pinned', { cn: 'pinned-good' });
  revoker = await makeInstitution(dir, 'revoker');
  revokedLeaf = await makeLeaf(dir, revoker.root, { cn: 'revoker-revoked' });
  await registerInstitution(registry, 'acme', acme.root.certPem, ['127.0.0.1']);
  await registerInstitution(registry, 'beta', beta.root.certPem, ['127.0.0.4']);
  await registerInstitution(registry, 'frozen', frozen.root.certPem, ['127.0.0.3']);
  await registry.setInstitutionStatus('frozen', 'suspended');
  await registerInstitution(registry, 'nat-a', natA.root.certPem, ['127.0.0.5']);
  await registerInstitution(registry, 'nat-b', natB.root.certPem, ['127.0.0.5', '127.0.0.8/30']);
  await registerInstitution(registry, 'pinned', pinned.root.certPem, ['127.0.0.6']);
  await registry.addPinnedRule('pinned', { kind: 'subject_cn', value: 'pinned-good' });
  await registerInstitution(registry, 'revoker', revoker.root.certPem, ['127.0.0.7']);
  await uploadCrl(registry, 'revoker', revoker.root, [revokedLeaf.serialHex]);
  gw = teardown.use(
    await startTestGateway({
      registry,
      upstream: upstream.url,
      pki,
      values: {
        tls: { cert: pki.server.certPath, key: pki.server.keyPath, handshakeTimeoutMs: 400 },
        limits: { maxBodyBytes: '1mb' },
      },
    }),
  );
});

after(() => teardown.run());

describe('gateway reason codes', () => {
  test('ok: a registered institution reaches the upstream with its identity', async () => {
    const res = await call(acme.client, '127.0.0.1', {
      path: '/hello?x=1',
      headers: { authorization: 'Basic dXNlcjpwYXNz' },
    });
    assert.equal(res.status, 200, res.body);
    assert.equal(res.headers['x-upstream'], 'echo');
    const seen = res.json as { url: string; headers: Record<string, string> };
    assert.equal(seen.url, '/hello?x=1');
    assert.equal(seen.headers['x-mtls-institution'], 'acme');
    assert.equal(seen.headers['x-mtls-subject'], 'CN=acme-client,O=Test,ST=SP,C=BR');
    assert.equal(seen.headers['x-mtls-issuer'], 'CN=acme Root CA,O=acme Root CA,ST=SP,C=BR');
    assert.equal(seen.headers['x-mtls-serial'], acme.client.serialHex.replace(/^0+/, ''));
    const der = Buffer.from(acme.client.certificate.rawData);
    assert.equal(
      seen.headers['x-mtls-fingerprint-sha256'],
      createHash('sha256').update(der).digest('hex'),
    );
    assert.equal(seen.headers['client-cert'], `:${der.toString('base64')}:`);
    assert.equal(
      seen.headers['client-cert-chain'],
      `:${Buffer.from(acme.root.certificate.rawData).toString('base64')}:`,
    );
    assert.equal(
      seen.headers.authorization,
      'Basic dXNlcjpwYXNz',
      'Authorization passes through untouched',
    );
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
    const conn = await waitForAudit(
      gw.gateway,
      (r) => r.kind === 'connection' && r.reason === 'ok' && r.institutionId === 'acme',
    );
    assert.equal(conn.outcome, 'accepted');
    assert.equal(conn.tlsVersion, 'TLSv1.2');
    assert.match(conn.cipher ?? '', /^ECDHE-(ECDSA|RSA)-(AES\d+-GCM-SHA\d+|CHACHA20-POLY1305)$/);
    assert.equal(conn.subject, 'C=BR, ST=SP, O=Test, CN=acme-client');
    assert.equal(conn.fingerprintSha256, createHash('sha256').update(der).digest('hex'));
    const reqRec = await waitForAudit(
      gw.gateway,
      (r) => r.kind === 'request' && r.path === '/hello',
    );
    assert.equal(reqRec.status, 200);
    assert.equal(reqRec.method, 'GET');
    assert.equal(reqRec.reason, 'ok');
    assert.equal(typeof reqRec.durationMs, 'number');
  });

  test('ok: a POST body streams to the upstream (chunked and with Content-Length)', async () => {
    const sized = await call(acme.client, '127.0.0.1', {
      method: 'POST',
      path: '/post',
      body: 'z'.repeat(300_000),
      headers: { 'content-type': 'application/octet-stream' },
    });
    assert.equal(sized.status, 200);
    assert.equal((sized.json as { bodyLength: number }).bodyLength, 300_000);
    const chunked = await call(acme.client, '127.0.0.1', {
      method: 'PUT',
      path: '/put',
      body: 'q'.repeat(70_000),
      headers: { 'transfer-encoding': 'chunked' },
    });
    assert.equal(chunked.status, 200);
    assert.equal((chunked.json as { bodyLength: number }).bodyLength, 70_000);
  });

  test('ip_not_registered: an unknown source address is closed before the handshake', async () => {
    const err = await expectClosed(call(acme.client, '127.0.0.2'));
    assert.match(errorCode(err), /ECONNRESET|socket hang up|EPIPE/);
    const rec = await waitForAudit(
      gw.gateway,
      (r) => r.reason === 'ip_not_registered' && r.ip === '127.0.0.2',
    );
    assert.equal(rec.outcome, 'rejected');
    assert.equal(rec.tlsVersion, null, 'no handshake happened');
  });

  test('institution_suspended: a suspended institution is closed before the handshake', async () => {
    await expectClosed(call(frozen.client, '127.0.0.3'));
    const rec = await waitForAudit(
      gw.gateway,
      (r) => r.reason === 'institution_suspended' && r.ip === '127.0.0.3',
    );
    assert.equal(rec.institutionId, 'frozen');
  });

  test('tls_version: a TLS 1.3-only client gets a protocol_version alert', async () => {
    const err = await expectClosed(
      call(acme.client, '127.0.0.1', { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' }),
    );
    // The TLS alert itself (protocol_version, 70), not any failure.
    assert.match(err.message, /tlsv1 alert protocol version.*SSL alert number 70/);
    await waitForAudit(gw.gateway, (r) => r.reason === 'tls_version' && r.ip === '127.0.0.1');
  });

  test('no_client_cert: a client without a certificate gets 403', async () => {
    const rec = await expectRejected(null, 'no_client_cert');
    assert.equal(
      rec.institutionId,
      'acme',
      'the only institution registered for the IP is named for the operator',
    );
  });

  test('unknown_ca: a certificate from an unregistered CA gets 403', async () => {
    const stranger = await makeInstitution(dir, 'stranger');
    const rec = await expectRejected(stranger.client, 'unknown_ca');
    assert.match(rec.detail ?? '', /does not chain to a CA registered/);
    assert.equal(rec.subject, 'C=BR, ST=SP, O=Test, CN=stranger-client');
  });

  test('expired: an expired client certificate gets 403', async () => {
    const old = await makeCa(dir, {
      name: 'acme-old',
      notBefore: new Date(Date.now() - 40 * 86_400_000),
      days: 3650,
    });
    const expiredLeaf = await makeLeaf(dir, old, {
      cn: 'expired-leaf',
      notBefore: new Date(Date.now() - 30 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
    });
    await registry.createInstitution({ id: 'old', name: 'Old Bank' });
    const { onboardCaChain } = await import('../../src/gateway/onboarding.js');
    await onboardCaChain(registry, 'old', old.certPem);
    await registry.addIp('old', '127.0.0.12');
    await waitForTrust((s) => (s.institutions.get('old')?.cidrs.length ?? 0) > 0);
    const rec = await expectRejected(expiredLeaf, 'expired', '127.0.0.12');
    assert.equal(rec.institutionId, 'old');
  });

  test('not_yet_valid: a client certificate valid only from tomorrow gets 403', async () => {
    const future = await makeLeaf(dir, beta.root, {
      cn: 'future-leaf',
      notBefore: new Date(Date.now() + 86_400_000),
      days: 30,
    });
    const rec = await expectRejected(future, 'not_yet_valid', '127.0.0.4');
    assert.equal(rec.institutionId, 'beta');
  });

  test('revoked: a certificate on the institution CRL gets 403; its siblings pass', async () => {
    const rec = await expectRejected(revokedLeaf, 'revoked', '127.0.0.7');
    assert.equal(rec.institutionId, 'revoker');
    const ok = await call(revoker.client, '127.0.0.7');
    assert.equal(ok.status, 200, 'a CRL must not break certificates it does not list');
  });

  test('eku_missing: no EKU extension, or serverAuth only, gets 403', async () => {
    const noEku: ExtensionProfile = {
      ...(BUILTIN_PROFILES.client_cert as ExtensionProfile),
      name: 'no_eku',
    };
    delete noEku.extendedKeyUsage;
    const leafNoEku = await makeLeaf(dir, beta.root, { cn: 'no-eku', profile: noEku });
    const rec = await expectRejected(leafNoEku, 'eku_missing', '127.0.0.4');
    assert.match(rec.detail ?? '', /no extendedKeyUsage extension/);
    const serverOnly = await makeLeaf(dir, beta.root, {
      cn: 'server-only',
      profile: 'server_cert',
    });
    const res = await call(serverOnly, '127.0.0.4');
    assert.deepEqual(refusalBody(res), { error: 'eku_missing', requestId: '<id>' });
  });

  test('ca_certificate: a CA certificate used as client certificate gets 403', async () => {
    const intermediate = await makeCa(dir, { name: 'beta-sub', issuer: beta.root });
    const rec = await expectRejected(
      { certPem: intermediate.certPem, keyPem: intermediate.keyPem },
      'ca_certificate',
      '127.0.0.4',
    );
    assert.match(rec.detail ?? '', /CA:TRUE/);
    assert.equal(rec.institutionId, 'beta');
    // The institution's registered root itself: the same fault, not unknown_ca.
    const root = await expectRejected(
      { certPem: beta.root.certPem, keyPem: beta.root.keyPem },
      'ca_certificate',
      '127.0.0.4',
    );
    assert.match(root.detail ?? '', /is the CA certificate institution beta registered/);
    assert.equal(root.institutionId, 'beta');
  });

  test('weak_key: an RSA-1024 client key gets 403', async () => {
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const built = await buildCertificate({
      subject: parseSubject('/C=BR/O=Test/CN=weak-rsa'),
      publicKey: weak.publicKey,
      signer: { privateKey: beta.root.privateKey, certificate: beta.root.certificate },
      profile: BUILTIN_PROFILES.client_cert as ExtensionProfile,
      days: 10,
    });
    const rec = await expectRejected(
      { certPem: built.pem, keyPem: exportPrivateKeyPem(weak.privateKey) },
      'weak_key',
      '127.0.0.4',
    );
    assert.match(rec.subject ?? '', /weak-rsa/);
    assert.match(rec.detail ?? '', /RSA 1024/);
  });

  test('pinned_rule_mismatch: only the pinned subject CN passes', async () => {
    const other = await makeLeaf(dir, pinned.root, { cn: 'pinned-other' });
    const rec = await expectRejected(other, 'pinned_rule_mismatch', '127.0.0.6');
    assert.equal(rec.institutionId, 'pinned');
    const ok = await call(pinned.client, '127.0.0.6');
    assert.equal(ok.status, 200);
    assert.equal(
      (ok.json as { headers: Record<string, string> }).headers['x-mtls-subject'],
      'CN=pinned-good,O=Test,ST=SP,C=BR',
    );
  });

  test('handshake_timeout: a client that never sends a ClientHello is cut off', async () => {
    const started = Date.now();
    const sock = net.connect({ port: gw.port, host: '127.0.0.1', localAddress: '127.0.0.6' });
    sock.on('error', () => undefined);
    await new Promise((r) => sock.once('close', r));
    const elapsed = Date.now() - started;
    assert.ok(
      elapsed >= 300 && elapsed < 5_000,
      `closed after ${elapsed} ms (handshakeTimeoutMs 400)`,
    );
    await waitForAudit(gw.gateway, (r) => r.reason === 'handshake_timeout' && r.ip === '127.0.0.6');
  });

  test('bad_request: oversized headers get 431, an oversized body 413, plain HTTP is refused', async () => {
    const big = await call(acme.client, '127.0.0.1', {
      path: '/big-headers',
      headers: { 'x-filler': 'a'.repeat(20_000) },
    });
    assert.equal(big.status, 431);
    assert.deepEqual(refusalBody(big), { error: 'bad_request', requestId: '<id>' });
    const body = await call(acme.client, '127.0.0.1', {
      method: 'POST',
      path: '/big-body',
      headers: { 'content-length': String(2 * 1024 * 1024) },
      body: Buffer.alloc(0),
    }).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
    if (!(body instanceof Error)) {
      assert.equal(body.status, 413);
      assert.deepEqual(refusalBody(body), { error: 'bad_request', requestId: '<id>' });
    }
    const chunked = await call(acme.client, '127.0.0.1', {
      method: 'POST',
      path: '/big-chunked',
      headers: { 'transfer-encoding': 'chunked' },
      body: Buffer.alloc(1536 * 1024, 7),
    }).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
    if (!(chunked instanceof Error)) assert.equal(chunked.status, 413);
    await waitForAudit(
      gw.gateway,
      (r) => r.kind === 'request' && r.path === '/big-chunked' && r.status === 413,
    );
    await waitForAudit(
      gw.gateway,
      (r) => r.kind === 'request' && r.reason === 'bad_request' && r.status === 431,
    );
    await waitForAudit(
      gw.gateway,
      (r) => r.kind === 'request' && r.reason === 'bad_request' && r.status === 413,
    );
    const plain = await new Promise<string>((resolve) => {
      const s = net.connect({ port: gw.port, host: '127.0.0.1', localAddress: '127.0.0.6' }, () =>
        s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
      );
      let got = '';
      s.on('data', (d: Buffer) => (got += d.toString('latin1')));
      s.on('error', () => undefined);
      s.on('close', () => resolve(got));
    });
    assert.equal(plain.includes('HTTP/1.1 200'), false);
    await waitForAudit(
      gw.gateway,
      (r) => r.kind === 'connection' && r.reason === 'bad_request' && r.ip === '127.0.0.6',
    );
  });

  test('upstream_error: an upstream that times out answers 504 without internals', async () => {
    const { startTestGateway: start } = await import('../helpers/gateway-harness.js');
    const slow = await start({
      registry,
      upstream: upstream.url,
      pki,
      values: { upstreamPool: { responseTimeoutMs: 200 } },
    });
    try {
      const res = await mtlsRequest({
        port: slow.port,
        ca: pki.serverCa.certPem,
        cert: acme.client.certPem,
        key: acme.client.keyPem,
        path: '/slow?ms=1500',
      });
      assert.equal(res.status, 504);
      assert.deepEqual(refusalBody(res), { error: 'upstream_error', requestId: '<id>' });
      const rec = await waitForAudit(
        slow.gateway,
        (r) => r.kind === 'request' && r.reason === 'upstream_error',
      );
      assert.equal(rec.status, 504);
      assert.match(rec.detail ?? '', /UND_ERR_HEADERS_TIMEOUT/);
    } finally {
      await slow.close();
    }
  });

  test('upstream_error: a refused upstream answers 502', async () => {
    const free = net.createServer();
    await new Promise<void>((r) => free.listen(0, '127.0.0.1', r));
    const deadPort = (free.address() as net.AddressInfo).port;
    await new Promise((r) => free.close(r));
    const { startTestGateway: start } = await import('../helpers/gateway-harness.js');
    const dead = await start({ registry, upstream: `http://127.0.0.1:${deadPort}`, pki });
    try {
      const res = await mtlsRequest({
        port: dead.port,
        ca: pki.serverCa.certPem,
        cert: acme.client.certPem,
        key: acme.client.keyPem,
        path: '/x',
      });
      assert.equal(res.status, 502);
      const withBody = await mtlsRequest({
        port: dead.port,
        ca: pki.serverCa.certPem,
        cert: acme.client.certPem,
        key: acme.client.keyPem,
        method: 'POST',
        path: '/x',
        body: 'y'.repeat(200_000),
      });
      assert.equal(
        withBody.status,
        502,
        'the client gets its answer even when the body was not forwarded',
      );
      assert.deepEqual(refusalBody(res), { error: 'upstream_error', requestId: '<id>' });
      assert.equal(res.body.includes('ECONNREFUSED'), false, 'no internals to the client');
      const rec = await waitForAudit(
        dead.gateway,
        (r) => r.kind === 'request' && r.reason === 'upstream_error',
      );
      assert.match(rec.detail ?? '', /ECONNREFUSED/);
    } finally {
      await dead.close();
    }
  });
});

describe('institution binding', () => {
  test("institution A's certificate from institution B's IP is rejected", async () => {
    const rec = await expectRejected(acme.client, 'unknown_ca', '127.0.0.4');
    assert.equal(rec.institutionId, 'beta', 'the operator sees whose IP it was');
    assert.equal(rec.subject, 'C=BR, ST=SP, O=Test, CN=acme-client');
  });

  test('two institutions behind one NAT address are each told apart by their chain', async () => {
    const a = await call(natA.client, '127.0.0.5');
    const b = await call(natB.client, '127.0.0.5');
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    assert.equal(
      (a.json as { headers: Record<string, string> }).headers['x-mtls-institution'],
      'nat-a',
    );
    assert.equal(
      (b.json as { headers: Record<string, string> }).headers['x-mtls-institution'],
      'nat-b',
    );
    const fromNatBOnly = await call(natA.client, '127.0.0.9');
    assert.deepEqual(
      refusalBody(fromNatBOnly),
      { error: 'unknown_ca', requestId: '<id>' },
      'nat-a is not registered for 127.0.0.9 (only nat-b 127.0.0.8/30 is)',
    );
    const natBFromBlock = await call(natB.client, '127.0.0.9');
    assert.equal(natBFromBlock.status, 200, 'a CIDR block matches its addresses');
  });

  test('spoofed identity headers never reach the upstream', async () => {
    const res = await call(acme.client, '127.0.0.1', {
      path: '/spoof',
      headers: {
        'X-Mtls-Institution': 'beta',
        'X-Mtls-Subject': 'CN=admin',
        'X-Mtls-Fingerprint-Sha256': 'ff'.repeat(32),
        'X-Client-Verify': 'SUCCESS',
        'X-Client-Cert-Dn': 'CN=admin',
        'Client-Cert': ':Zm9v:',
        'Client-Cert-Chain': ':Zm9v:',
        'X-Forwarded-Client-Cert': 'By=spiffe://x;Hash=1',
        'X-Forwarded-For': '10.0.0.1',
        Forwarded: 'for=10.0.0.1',
        Connection: 'X-Custom-Hop',
        'X-Custom-Hop': 'drop-me',
      },
    });
    assert.equal(res.status, 200);
    const h = (res.json as { headers: Record<string, string> }).headers;
    assert.equal(h['x-mtls-institution'], 'acme');
    assert.equal(h['x-mtls-subject'], 'CN=acme-client,O=Test,ST=SP,C=BR');
    assert.notEqual(h['x-mtls-fingerprint-sha256'], 'ff'.repeat(32));
    assert.equal(h['x-client-verify'], undefined);
    assert.equal(h['x-client-cert-dn'], undefined);
    assert.notEqual(h['client-cert'], ':Zm9v:');
    assert.notEqual(h['client-cert-chain'], ':Zm9v:');
    assert.equal(h['x-forwarded-client-cert'], undefined);
    assert.equal(h['x-forwarded-for'], '127.0.0.1');
    assert.equal(h.forwarded, undefined);
    assert.equal(h['x-custom-hop'], undefined);
    const upstreamSaw = upstream.requests.find((r) => r.url === '/spoof');
    assert.ok(upstreamSaw);
    assert.equal(
      Object.keys(upstreamSaw.headers).filter((k) => k === 'x-mtls-institution').length,
      1,
    );
  });
});

async function waitForTrust(
  pred: (s: ReturnType<TestGateway['gateway']['snapshot']>) => boolean,
): Promise<void> {
  const deadline = Date.now() + 3_000;
  while (!pred(gw.gateway.snapshot())) {
    if (Date.now() > deadline)
      throw new Error('the registry change did not reach the gateway within 3 s');
    await new Promise((r) => setTimeout(r, 20));
  }
}
