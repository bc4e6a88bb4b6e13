/**
 * TLS on the gateway's second hop (`upstreamTls`): an https: upstream under a
 * private CA, checked against that CA and the configured name, and mTLS to
 * an upstream that asks for a client certificate (Node's https server and
 * `openssl s_server` as the upstream). Every refusal is a 502 to the client
 * and an audit record that says why.
 */
import 'reflect-metadata';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadGatewayConfig } from '../../src/gateway/config.js';
import { loadUpstreamTls } from '../../src/gateway/upstream-tls.js';
import type { SqliteRegistry } from '../../src/gateway/registry/sqlite-registry.js';
import {
  makeCa,
  makeLeaf,
  makeServerLeaf,
  tempDir,
  type TestCa,
  type TestLeaf,
} from '../helpers/pki.js';
import {
  refusalBody,
  makeInstitution,
  makeServerPki,
  mtlsRequest,
  openTestRegistry,
  registerInstitution,
  startTestGateway,
  waitForAudit,
  type TestInstitution,
  type TestServerPki,
} from '../helpers/gateway-harness.js';
import { parseEcho, startNodeServer, startOpensslServer } from '../helpers/tls-servers.js';
import { Teardown } from '../helpers/teardown.js';
import { errorCode } from '../helpers/assert.js';
import { runCli } from '../helpers/cli.js';

const { dir, cleanup } = tempDir('mtlskit-gw-upstream-tls-');
const teardown = new Teardown();
teardown.defer(cleanup);
let pki: TestServerPki;
let registry: SqliteRegistry;
let acme: TestInstitution;
/** The upstream's private CA and its server certificate (localhost, 127.0.0.1). */
let upstreamCa: TestCa;
let upstreamLeaf: TestLeaf;
/** The CA the upstream trusts for client certificates, and the gateway's certificate from it. */
let clientCa: TestCa;
let gatewayClient: TestLeaf;

before(async () => {
  pki = await makeServerPki(dir);
  registry = teardown.use(await openTestRegistry(dir));
  acme = await makeInstitution(dir, 'acme');
  await registerInstitution(registry, 'acme', acme.root.certPem, ['127.0.0.1']);
  upstreamCa = await makeCa(dir, { name: 'Upstream Private CA' });
  upstreamLeaf = await makeServerLeaf(dir, upstreamCa, { file: 'upstream-server' });
  clientCa = await makeCa(dir, { name: 'Upstream Client CA' });
  gatewayClient = await makeLeaf(dir, clientCa, { cn: 'gateway-to-upstream' });
});

after(() => teardown.run());

/** Starts a gateway in front of `upstream` with these upstreamTls values, calls it once. */
async function callThrough(
  upstream: string,
  upstreamTls: Record<string, unknown> | null,
  path = '/hello',
) {
  const gw = await startTestGateway({
    registry,
    upstream,
    pki,
    values: upstreamTls ? { upstreamTls } : {},
  });
  try {
    const res = await mtlsRequest({
      port: gw.port,
      ca: pki.serverCa.certPem,
      cert: acme.client.certPem,
      key: acme.client.keyPem,
      path,
    });
    const audit =
      res.status === 200
        ? null
        : await waitForAudit(
            gw.gateway,
            (r) => r.kind === 'request' && r.reason === 'upstream_error',
          );
    return { res, audit };
  } finally {
    await gw.close();
  }
}

describe('upstream TLS', () => {
  test('an upstream under a private CA is reached with upstreamTls.ca, and refused without it', async () => {
    const up = await startNodeServer({
      certPem: upstreamLeaf.certPem,
      keyPem: upstreamLeaf.keyPem,
      requestCert: false,
    });
    try {
      const ok = await callThrough(up.url, { ca: upstreamCa.certPath });
      assert.equal(ok.res.status, 200, ok.res.body);
      assert.equal(parseEcho(ok.res.body).path, '/hello');

      const refused = await callThrough(up.url, null);
      assert.equal(refused.res.status, 502);
      assert.deepEqual(refusalBody(refused.res), { error: 'upstream_error', requestId: '<id>' });
      assert.equal(refused.res.body.includes('CERT'), false, 'no internals to the client');
      assert.match(
        refused.audit?.detail ?? '',
        /UNABLE_TO_VERIFY_LEAF_SIGNATURE|unable to verify/i,
      );
    } finally {
      await up.close();
    }
  });

  test("the upstream's certificate must carry the name: the URL's host, or upstreamTls.servername", async () => {
    const named = await makeLeaf(dir, upstreamCa, {
      cn: 'api.internal',
      profile: 'server_cert',
      sans: [{ type: 'dns', value: 'api.internal' }],
      file: 'api-internal',
    });
    const up = await startNodeServer({
      certPem: named.certPem,
      keyPem: named.keyPem,
      requestCert: false,
    });
    try {
      const url = `https://127.0.0.1:${up.port}`;
      const wrongName = await callThrough(url, { ca: upstreamCa.certPath });
      assert.equal(wrongName.res.status, 502);
      assert.match(wrongName.audit?.detail ?? '', /ERR_TLS_CERT_ALTNAME_INVALID|altnames/i);

      const right = await callThrough(url, { ca: upstreamCa.certPath, servername: 'api.internal' });
      assert.equal(right.res.status, 200, right.res.body);
    } finally {
      await up.close();
    }
  });

  test('mTLS to an upstream that requires a client certificate (node:https)', async () => {
    const up = await startNodeServer({
      certPem: upstreamLeaf.certPem,
      keyPem: upstreamLeaf.keyPem,
      ca: [clientCa.certPem],
    });
    try {
      const ok = await callThrough(up.url, {
        ca: upstreamCa.certPath,
        cert: gatewayClient.certPath,
        key: gatewayClient.keyPath,
      });
      assert.equal(ok.res.status, 200, ok.res.body);
      assert.equal(parseEcho(ok.res.body).client, 'gateway-to-upstream');

      const without = await callThrough(up.url, { ca: upstreamCa.certPath });
      assert.equal(without.res.status, 502, 'no client certificate: the upstream refuses');
      assert.equal(up.seen.length, 1, 'only the call with the certificate got through');
    } finally {
      await up.close();
    }
  });

  test('SIGHUP reload: a renewed upstream client certificate is used by new connections; a broken one keeps the old', async () => {
    const up = await startNodeServer({
      certPem: upstreamLeaf.certPem,
      keyPem: upstreamLeaf.keyPem,
      ca: [clientCa.certPem],
    });
    const certPath = join(dir, 'rotating.cert.pem');
    const keyPath = join(dir, 'rotating.key.pem');
    writeFileSync(certPath, gatewayClient.certPem);
    writeFileSync(keyPath, gatewayClient.keyPem, { mode: 0o600 });
    const gw = await startTestGateway({
      registry,
      upstream: up.url,
      pki,
      values: { upstreamTls: { ca: upstreamCa.certPath, cert: certPath, key: keyPath } },
    });
    const callOnce = async () =>
      parseEcho(
        (
          await mtlsRequest({
            port: gw.port,
            ca: pki.serverCa.certPem,
            cert: acme.client.certPem,
            key: acme.client.keyPem,
            path: '/who',
          })
        ).body,
      ).client;
    try {
      assert.equal(await callOnce(), 'gateway-to-upstream');
      const expiry = async (): Promise<number> =>
        Number(
          /mtls_gateway_certificate_expiry_seconds\{certificate="upstream_client"\} (\S+)/.exec(
            await gw.gateway.metrics.registry.metrics(),
          )?.[1],
        );
      assert.ok(
        Math.abs((await expiry()) - 30 * 86_400) < 120,
        'the 30-day certificate in service',
      );
      const renewed = await makeLeaf(dir, clientCa, { cn: 'gateway-renewed', days: 90 });
      writeFileSync(certPath, renewed.certPem);
      writeFileSync(keyPath, renewed.keyPem, { mode: 0o600 });
      const r = await gw.gateway.reloadCredential();
      assert.equal(r.ok, true);
      assert.equal(await callOnce(), 'gateway-renewed');
      assert.ok((await expiry()) > 89 * 86_400, 'the metric follows the renewed certificate');
      writeFileSync(keyPath, 'not a key\n', { mode: 0o600 });
      const broken = await gw.gateway.reloadCredential();
      assert.equal(broken.ok, false, 'a key that does not load is refused');
      assert.equal(await callOnce(), 'gateway-renewed', 'and the credential in service stays');
    } finally {
      await gw.close();
      await up.close();
    }
  });

  test('mTLS to openssl s_server -Verify 1: the oracle accepts the gateway as a client', async () => {
    const up = await startOpensslServer({
      certPath: upstreamLeaf.certPath,
      keyPath: upstreamLeaf.keyPath,
      caFile: clientCa.certPath,
    });
    try {
      const ok = await callThrough(
        `https://localhost:${up.port}`,
        { ca: upstreamCa.certPath, cert: gatewayClient.certPath, key: gatewayClient.keyPath },
        '/',
      );
      assert.equal(ok.res.status, 200, ok.res.body);
      // s_server -www prints the session, with the client certificate's subject.
      assert.match(ok.res.body, /gateway-to-upstream/);
    } finally {
      await up.close();
    }
  });

  test('an encrypted upstream client key needs its passphrase: file, or the environment', async () => {
    const { privateKey } = gatewayClient;
    const encPath = join(dir, 'gateway-to-upstream.enc.key.pem');
    writeFileSync(
      encPath,
      privateKey.export({
        type: 'pkcs8',
        format: 'pem',
        cipher: 'aes-256-cbc',
        passphrase: 'up-secret',
      }),
      { mode: 0o600 },
    );
    const passFile = join(dir, 'up-pass.txt');
    writeFileSync(passFile, 'up-secret\n', { mode: 0o600 });
    const src = {
      ca: null,
      cert: gatewayClient.certPath,
      key: encPath,
      keyPassphraseFile: null,
      servername: null,
    };
    const err = await loadUpstreamTls(src, {}).catch((e: unknown) => e);
    assert.equal(errorCode(err), 'MTLS_PASSPHRASE_REQUIRED');
    assert.match((err as Error).message, /upstream client private key/);
    const viaFile = await loadUpstreamTls({ ...src, keyPassphraseFile: passFile }, {});
    assert.match(viaFile?.client?.subject ?? '', /gateway-to-upstream/);
    const viaEnv = await loadUpstreamTls(src, {
      MTLS_GATEWAY_UPSTREAM_KEY_PASSPHRASE: 'up-secret',
    });
    assert.ok(viaEnv?.client);
    const wrong = await loadUpstreamTls(src, {
      MTLS_GATEWAY_UPSTREAM_KEY_PASSPHRASE: 'nope',
    }).catch((e: unknown) => e);
    assert.equal(errorCode(wrong), 'MTLS_BAD_PASSPHRASE');
    assert.equal((wrong as Error).message.includes('nope'), false, 'no secret in errors');
  });

  test('bad upstreamTls settings are refused at start, naming the key or the file', async () => {
    const base = {
      listen: '127.0.0.1:0',
      tls: { cert: pki.server.certPath, key: pki.server.keyPath },
    };
    const configError = (values: Record<string, unknown>) => {
      try {
        loadGatewayConfig({ values: { ...base, ...values }, requireRegistry: false, env: {} });
      } catch (e) {
        return e as Error & { code?: string; subject?: string };
      }
      return assert.fail('the configuration should be refused');
    };
    const onHttp = configError({
      upstream: 'http://127.0.0.1:1',
      upstreamTls: { ca: upstreamCa.certPath },
    });
    assert.equal(errorCode(onHttp), 'MTLS_CONFIG_INVALID');
    assert.match(onHttp.message, /upstreamTls.*not https/);
    const halfPair = configError({
      upstream: 'https://127.0.0.1:1',
      upstreamTls: { cert: gatewayClient.certPath },
    });
    assert.match(halfPair.message, /upstreamTls\.key` is missing/);
    const badName = configError({
      upstream: 'https://127.0.0.1:1',
      upstreamTls: { servername: 'not a name' },
    });
    assert.match(badName.message, /upstreamTls\.servername.*DNS name/);

    const missingCa = await loadUpstreamTls(
      {
        ca: join(dir, 'nope.pem'),
        cert: null,
        key: null,
        keyPassphraseFile: null,
        servername: null,
      },
      {},
    ).catch((e: unknown) => e);
    assert.equal(errorCode(missingCa), 'MTLS_FILE_NOT_FOUND');
    assert.match((missingCa as Error).message, /nope\.pem/);
    const notPem = join(dir, 'not-a-ca.pem');
    writeFileSync(notPem, 'hello\n');
    const emptyCa = await loadUpstreamTls(
      { ca: notPem, cert: null, key: null, keyPassphraseFile: null, servername: null },
      {},
    ).catch((e: unknown) => e);
    assert.equal(errorCode(emptyCa), 'MTLS_PEM_INVALID');

    // The CLI's preflight says the same, with a non-zero exit.
    const cfgFile = join(dir, 'gw-bad-upstream-tls.yaml');
    writeFileSync(
      cfgFile,
      `listen: 127.0.0.1:0\nupstream: https://127.0.0.1:1\nregistry: ${join(dir, 'registry.db')}\ntls:\n  cert: ${pki.server.certPath}\n  key: ${pki.server.keyPath}\nupstreamTls:\n  ca: ${join(dir, 'nope.pem')}\n`,
    );
    const r = await runCli(['gateway', 'start', '--config', cfgFile, '--check']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /MTLS_FILE_NOT_FOUND/);
    assert.match(r.stderr, /nope\.pem/);
  });
});
