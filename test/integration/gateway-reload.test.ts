/**
 * Registry changes made by another process (a second registry handle on the
 * same SQLite file) apply to new connections within 1 s, under a steady
 * request loop that never sees a failure it should not; requests in flight
 * complete; the server credential reloads, and a broken one is refused.
 */
import 'reflect-metadata';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import tls from 'node:tls';
import { onboardCaChain } from '../../src/gateway/onboarding.js';
import {
  openSqliteRegistry,
  type SqliteRegistry,
} from '../../src/gateway/registry/sqlite-registry.js';
import { makeCa, makeLeaf, makeServerLeaf, tempDir, type TestLeaf } from '../helpers/pki.js';
import {
  makeInstitution,
  makeServerPki,
  mtlsRequest,
  openTestRegistry,
  registerInstitution,
  startEchoUpstream,
  startTestGateway,
  uploadCrl,
  type EchoUpstream,
  type TestGateway,
  type TestInstitution,
  type TestServerPki,
  gatewayClientTls,
} from '../helpers/gateway-harness.js';
import { Teardown } from '../helpers/teardown.js';

const { dir, cleanup } = tempDir('mtlskit-gw-reload-');
const teardown = new Teardown();
teardown.defer(cleanup);
let pki: TestServerPki;
let registry: SqliteRegistry;
let other: SqliteRegistry;
let upstream: EchoUpstream;
let gw: TestGateway;
let acme: TestInstitution;
let beta: TestInstitution;

before(async () => {
  pki = await makeServerPki(dir);
  registry = teardown.use(await openTestRegistry(dir));
  other = teardown.use(await openSqliteRegistry(join(dir, 'registry.db')));
  upstream = teardown.use(await startEchoUpstream());
  acme = await makeInstitution(dir, 'acme');
  beta = await makeInstitution(dir, 'beta');
  await registerInstitution(registry, 'acme', acme.root.certPem, ['127.0.0.1']);
  await registerInstitution(registry, 'beta', beta.root.certPem, ['127.0.0.30']);
  gw = teardown.use(
    await startTestGateway({
      registry,
      upstream: upstream.url,
      pki,
      values: { registryPollMs: 250 },
    }),
  );
});

after(() => teardown.run());

/** 'ok' for a 200, else the reason code or the connection error. */
async function outcome(leaf: TestLeaf, localAddress: string, agent?: https.Agent): Promise<string> {
  try {
    const r = await mtlsRequest({
      port: gw.port,
      ca: pki.serverCa.certPem,
      cert: leaf.certPem,
      key: leaf.keyPem,
      localAddress,
      path: '/loop',
      ...(agent ? { agent } : {}),
    });
    return r.status === 200
      ? 'ok'
      : ((r.json as { error?: string } | undefined)?.error ?? `status ${r.status}`);
  } catch (e) {
    return `closed (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
  }
}

/** Applies a change through the other handle and measures until the outcome flips to `want`. */
async function measure(
  change: () => Promise<unknown>,
  probe: () => Promise<string>,
  want: (o: string) => boolean,
): Promise<number> {
  await change();
  const t0 = Date.now();
  for (let i = 0; i < 200; i++) {
    const o = await probe();
    if (want(o)) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail('the change never took effect');
}

describe('registry changes under load', () => {
  test('each change applies within 1 s while a steady loop never fails', async (t) => {
    // An object, not a let: the loop reads what the test body sets later.
    const state = { stop: false };
    const loop: string[] = [];
    const keepAlive = new https.Agent({ keepAlive: true, maxSockets: 1 });
    const steady = (async () => {
      for (let i = 0; i < 2_000 && !state.stop; i++) {
        loop.push(await outcome(acme.client, '127.0.0.1', i % 2 === 0 ? keepAlive : undefined));
      }
    })();
    const rotated = await makeCa(dir, { name: 'acme Root CA 2' });
    const rotatedLeaf = await makeLeaf(dir, rotated, { cn: 'acme-rotated' });
    const doomed = await makeLeaf(dir, acme.root, { cn: 'acme-doomed' });
    const timings: Record<string, number> = {};
    try {
      timings.ipAdded = await measure(
        () => other.addIp('acme', '127.0.0.20'),
        () => outcome(acme.client, '127.0.0.20'),
        (o) => o === 'ok',
      );
      timings.caAdded = await measure(
        () => onboardCaChain(other, 'acme', rotated.certPem),
        () => outcome(rotatedLeaf, '127.0.0.1'),
        (o) => o === 'ok',
      );
      timings.crlUpdated = await measure(
        () => uploadCrl(other, 'acme', acme.root, [doomed.serialHex]),
        () => outcome(doomed, '127.0.0.1'),
        (o) => o === 'revoked',
      );
      timings.ipRemoved = await measure(
        () => other.removeIp('acme', '127.0.0.20'),
        () => outcome(acme.client, '127.0.0.20'),
        (o) => o.startsWith('closed'),
      );
      const chainId = (await other.loadTrust())
        .find((t) => t.institution.id === 'acme')
        ?.chains.find((c) => c.subject.includes('Root CA 2'))?.id;
      assert.ok(chainId);
      timings.caRemoved = await measure(
        () => other.removeCaChain('acme', chainId),
        () => outcome(rotatedLeaf, '127.0.0.1'),
        (o) => o === 'unknown_ca',
      );
      timings.suspended = await measure(
        () => other.setInstitutionStatus('beta', 'suspended'),
        () => outcome(beta.client, '127.0.0.30'),
        (o) => o.startsWith('closed'),
      );
      timings.reactivated = await measure(
        () => other.setInstitutionStatus('beta', 'active'),
        () => outcome(beta.client, '127.0.0.30'),
        (o) => o === 'ok',
      );
    } finally {
      state.stop = true;
      await steady;
      keepAlive.destroy();
    }
    t.diagnostic(
      `apply times (ms): ${JSON.stringify(timings)}; steady loop: ${loop.length} requests`,
    );
    for (const [name, ms] of Object.entries(timings))
      assert.ok(ms < 1_000, `${name} took ${ms} ms to apply`);
    assert.ok(loop.length > 5, `the steady loop ran ${loop.length} requests`);
    const failures = loop.filter((o) => o !== 'ok');
    assert.deepEqual(
      failures,
      [],
      `requests that should have passed failed: ${failures.slice(0, 5).join(', ')}`,
    );
  });

  test('a request in flight completes when its institution is suspended; the next one is refused', async () => {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const slow = mtlsRequest({
        port: gw.port,
        ca: pki.serverCa.certPem,
        cert: beta.client.certPem,
        key: beta.client.keyPem,
        localAddress: '127.0.0.30',
        path: '/slow?ms=700',
        agent,
      });
      await new Promise((r) => setTimeout(r, 150));
      await other.setInstitutionStatus('beta', 'suspended');
      const res = await slow;
      assert.equal(res.status, 200, 'the request in flight completed');
      const deadline = Date.now() + 1_000;
      let next = '';
      while (Date.now() < deadline) {
        next = await outcome(beta.client, '127.0.0.30', agent);
        if (next !== 'ok') break;
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.match(
        next,
        /^(institution_suspended|closed)/,
        'the kept-alive connection is refused once the suspension is seen',
      );
    } finally {
      agent.destroy();
      await other.setInstitutionStatus('beta', 'active');
    }
  });
});

describe('server credential reload', () => {
  test('a broken credential keeps the old one; a good one is served to new connections', async () => {
    const serverSerial = async (): Promise<string> =>
      new Promise((resolve, reject) => {
        const s = tls.connect(
          {
            port: gw.port,
            host: '127.0.0.1',
            ...gatewayClientTls(pki, acme.client),
          },
          () => {
            const serial = s.getPeerCertificate().serialNumber;
            s.end();
            resolve(serial);
          },
        );
        s.on('error', reject);
      });
    const before = await serverSerial();
    writeFileSync(
      pki.server.keyPath,
      '-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n',
    );
    const broken = await gw.gateway.reloadCredential();
    assert.equal(broken.ok, false);
    assert.equal(await serverSerial(), before, 'the old credential stays in service');
    assert.ok(gw.lines.some((l) => String(l.msg).includes('server credential reload failed')));
    // What an alert sees: the files a restart would read are broken.
    const metric = async (): Promise<string> => gw.gateway.metrics.registry.metrics();
    assert.match(await metric(), /\nmtls_gateway_credential_last_reload_successful 0\n/);
    assert.match(await metric(), /\nmtls_gateway_credential_reloads_total\{outcome="failed"\} 1\n/);
    const fresh = await makeServerLeaf(dir, pki.serverCa, { file: 'server' });
    const good = await gw.gateway.reloadCredential();
    assert.equal(good.ok, true, good.ok ? '' : good.error.message);
    assert.match(await metric(), /\nmtls_gateway_credential_last_reload_successful 1\n/);
    assert.match(await metric(), /\nmtls_gateway_credential_reloads_total\{outcome="ok"\} 1\n/);
    const after = await serverSerial();
    assert.notEqual(after, before);
    assert.equal(after.replace(/^0+/, ''), fresh.serialHex.replace(/^0+/, ''));
  });
});
