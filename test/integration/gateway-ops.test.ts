/**
 * Operations: a .pfx server credential, /healthz, /readyz (and 503 while
 * draining), /metrics, the admin API hosted by the gateway, and a client
 * certificate from an intermediate with its chain forwarded upstream.
 */
import 'reflect-metadata';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMtlsError } from '../../src/errors/index.js';
import { exportPrivateKeyPem } from '../../src/pki/keys.js';
import { buildPfx } from '../../src/pki/pkcs12/index.js';
import { loadServerCredential } from '../../src/gateway/server-credential.js';
import type { SqliteRegistry } from '../../src/gateway/registry/sqlite-registry.js';
import { makeCa, makeLeaf, tempDir } from '../helpers/pki.js';
import {
  makeInstitution,
  makeServerPki,
  mtlsAttempt,
  mtlsRequest,
  openTestRegistry,
  registerInstitution,
  startEchoUpstream,
  startTestGateway,
  waitFor,
  type EchoUpstream,
  type TestGateway,
  type TestInstitution,
  type TestServerPki,
} from '../helpers/gateway-harness.js';
import { Teardown } from '../helpers/teardown.js';

const { dir, cleanup } = tempDir('mtlskit-gw-ops-');
const teardown = new Teardown();
teardown.defer(cleanup);
let pki: TestServerPki;
let registry: SqliteRegistry;
let upstream: EchoUpstream;
let gw: TestGateway;
let acme: TestInstitution;
const tokenFile = join(dir, 'admin.token');
const token = 'f'.repeat(40);

before(async () => {
  pki = await makeServerPki(dir);
  registry = teardown.use(await openTestRegistry(dir));
  upstream = teardown.use(await startEchoUpstream());
  acme = await makeInstitution(dir, 'acme');
  await registerInstitution(registry, 'acme', acme.root.certPem, ['127.0.0.1']);
  const pfxPath = join(dir, 'server.pfx');
  writeFileSync(
    pfxPath,
    buildPfx({
      privateKey: pki.server.privateKey,
      certificate: pki.server.certPem,
      chain: [pki.serverCa.certPem],
      password: 's3cret',
    }),
  );
  writeFileSync(join(dir, 'pfx.pass'), 's3cret\n');
  writeFileSync(tokenFile, `${token}\n`);
  gw = teardown.use(
    await startTestGateway({
      registry,
      upstream: upstream.url,
      pki,
      values: {
        tls: { pfx: pfxPath, pfxPasswordFile: join(dir, 'pfx.pass') },
        admin: { listen: '127.0.0.1:0', tokenFile },
      },
    }),
  );
});

after(() => teardown.run());

const ops = (path: string) => fetch(`http://127.0.0.1:${gw.gateway.opsAddress()?.port}${path}`);

describe('gateway operations', () => {
  test('a .pfx server credential serves mTLS calls', async () => {
    const res = await mtlsRequest({
      port: gw.port,
      ca: pki.serverCa.certPem,
      cert: acme.client.certPem,
      key: acme.client.keyPem,
      path: '/pfx',
    });
    assert.equal(res.status, 200);
  });

  test('/healthz, /readyz and /metrics on the ops listener', async () => {
    assert.equal((await ops('/healthz')).status, 200);
    const ready = await ops('/readyz');
    assert.equal(ready.status, 200);
    const body = (await ready.json()) as { status: string; registryVersion: number };
    assert.equal(body.status, 'ready');
    assert.equal(typeof body.registryVersion, 'number');
    const metrics = await (await ops('/metrics')).text();
    assert.match(metrics, /mtls_gateway_connections_total\{outcome="accepted",reason="ok"\} \d+/);
    assert.match(
      metrics,
      /mtls_gateway_requests_total\{outcome="accepted",reason="ok",status="2xx"\} \d+/,
    );
    assert.equal((await ops('/nope')).status, 404);
  });

  test('the admin API runs on its own listener and needs the token', async () => {
    const url = gw.gateway.adminUrl();
    assert.ok(url);
    assert.equal((await fetch(`${url}/v1/institutions`)).status, 401);
    const ok = await fetch(`${url}/v1/institutions`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(ok.status, 200);
    assert.match(await ok.text(), /"acme"/);
    const added = await fetch(`${url}/v1/institutions/acme/ips`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ cidr: '127.0.0.40' }),
    });
    assert.equal(added.status, 201);
    await waitFor(
      () => gw.gateway.snapshot().matcher.match('127.0.0.40').includes('acme'),
      2_000,
      'the admin change to reach the gateway',
    );
    const res = await mtlsRequest({
      port: gw.port,
      ca: pki.serverCa.certPem,
      cert: acme.client.certPem,
      key: acme.client.keyPem,
      localAddress: '127.0.0.40',
      path: '/via-admin-ip',
    });
    assert.equal(res.status, 200);
  });

  test('a client certificate from an intermediate: the client sends the chain, Client-Cert-Chain carries it', async () => {
    const sub = await makeCa(dir, { name: 'acme Issuing CA', issuer: acme.root });
    const leaf = await makeLeaf(dir, sub, { cn: 'acme-sub-client' });
    const res = await mtlsRequest({
      port: gw.port,
      ca: pki.serverCa.certPem,
      cert: leaf.certPem + sub.certPem,
      key: leaf.keyPem,
      path: '/chain',
    });
    assert.equal(res.status, 200, res.body);
    const h = (res.json as { headers: Record<string, string> }).headers;
    assert.equal(h['x-mtls-issuer'], 'CN=acme Issuing CA,O=acme Issuing CA,ST=SP,C=BR');
    const b64 = (x: { certificate: { rawData: ArrayBuffer } }) =>
      Buffer.from(x.certificate.rawData).toString('base64');
    assert.equal(h['client-cert-chain'], `:${b64(sub)}:, :${b64(acme.root)}:`);
  });

  test('server credential checks: encrypted key, missing passphrase, wrong key, expired certificate', async () => {
    const none = { keyPassphraseFile: null, pfx: null, pfxPasswordFile: null };
    const encKey = join(dir, 'server.enc.key');
    writeFileSync(
      encKey,
      exportPrivateKeyPem(pki.server.privateKey, { passphrase: 'key pass', iterations: 1000 }),
    );
    writeFileSync(join(dir, 'key.pass'), 'key pass\n');
    const ok = await loadServerCredential(
      { ...none, cert: pki.server.certPath, key: encKey, keyPassphraseFile: join(dir, 'key.pass') },
      {},
    );
    assert.match(ok.subject, /CN=localhost/);
    const viaEnv = await loadServerCredential(
      { ...none, cert: pki.server.certPath, key: encKey },
      { MTLS_GATEWAY_KEY_PASSPHRASE: 'key pass' },
    );
    assert.equal(viaEnv.fingerprint, ok.fingerprint);
    const code = async (p: Promise<unknown>): Promise<string> =>
      p.then(
        () => 'no error',
        (e: unknown) => (isMtlsError(e) ? e.code : String(e)),
      );
    assert.equal(
      await code(loadServerCredential({ ...none, cert: pki.server.certPath, key: encKey }, {})),
      'MTLS_PASSPHRASE_REQUIRED',
    );
    assert.equal(
      await code(
        loadServerCredential({ ...none, cert: pki.server.certPath, key: acme.client.keyPath }, {}),
      ),
      'MTLS_KEY_MISMATCH',
    );
    assert.equal(
      await code(
        loadServerCredential(
          { ...none, cert: join(dir, 'absent.pem'), key: pki.server.keyPath },
          {},
        ),
      ),
      'MTLS_FILE_NOT_FOUND',
    );
    const old = await makeLeaf(dir, pki.serverCa, {
      cn: 'old-server',
      profile: 'server_cert',
      notBefore: new Date(Date.now() - 20 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
    });
    assert.equal(
      await code(loadServerCredential({ ...none, cert: old.certPath, key: old.keyPath }, {})),
      'MTLS_VERIFY_FAILED',
    );
  });

  test('/readyz answers 503 while draining', async () => {
    const slow = mtlsRequest({
      port: gw.port,
      ca: pki.serverCa.certPem,
      cert: acme.client.certPem,
      key: acme.client.keyPem,
      path: '/slow?ms=600',
    });
    await waitFor(
      () => upstream.requests.some((r) => r.url === '/slow?ms=600'),
      3_000,
      'the slow request',
    );
    // drainDelayMs: not ready at once, but still accepting until it has passed.
    const closing = gw.gateway.close({ drainTimeoutMs: 3_000, drainDelayMs: 1_500 });
    const ready = await ops('/readyz');
    assert.equal(ready.status, 503);
    assert.match(await ready.text(), /draining/);
    const call = (path: string) =>
      mtlsAttempt({
        port: gw.port,
        ca: pki.serverCa.certPem,
        cert: acme.client.certPem,
        key: acme.client.keyPem,
        path,
      }).catch((e: unknown) => (e as NodeJS.ErrnoException).code ?? String(e));
    assert.equal(
      await call('/during-delay'),
      200,
      'a new connection during drainDelayMs is served',
    );
    assert.equal((await slow).status, 200);
    await waitFor(
      async () => ((await call('/after-delay')) === 200 ? undefined : true),
      5_000,
      'new connections refused once the delay has passed',
    );
    assert.ok(
      gw.lines.some((l) => /accepting connections for drainDelayMs/.test(String(l.msg))),
      'the delay is logged',
    );
    await closing;
  });
});
