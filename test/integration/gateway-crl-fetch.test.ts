/**
 * CRLs that reach the gateway by themselves: a CA made and revoked with the
 * `mtls` CLI publishes its CRL on a local HTTP server, the gateway downloads
 * it from the registered URL (at once when the URL is added, then on demand
 * through the admin API, as the schedule would), and a revocation takes
 * effect without a restart. Refused downloads (tampered, another CA's,
 * oversized) keep the last good CRL in service with a log line naming the
 * institution, the URL and the reason; renewal through rollover (with
 * `cert renew --revoke-old` too); an intermediate made by `ca init
 * --intermediate` whose clients pass with only the root registered and whose
 * CRL, like the root's, arrives by URL; a CRL past
 * its nextUpdate (made by `openssl ca -gencrl -crlsec`) under each
 * `crl.stale` policy, for new connections and for a kept-alive one.
 */
import 'reflect-metadata';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPrivateKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createAdminClient, type AdminClient } from '../../src/gateway/admin/client.js';
import type { CrlRefreshResult } from '../../src/gateway/crl-distribution.js';
import type { SqliteRegistry } from '../../src/gateway/registry/sqlite-registry.js';
import { runCli, run } from '../helpers/cli.js';
import { tempDir } from '../helpers/pki.js';
import {
  makeServerPki,
  mtlsRequest,
  openTestRegistry,
  registerInstitution,
  startEchoUpstream,
  startTestGateway,
  waitFor,
  waitForAudit,
  type EchoUpstream,
  type MtlsResponse,
  type TestGateway,
  type TestServerPki,
} from '../helpers/gateway-harness.js';
import { Teardown } from '../helpers/teardown.js';
import { at, defined } from '../helpers/assert.js';

const { dir, cleanup } = tempDir('mtlskit-crl-fetch-');
const teardown = new Teardown();
teardown.defer(cleanup);
const ca = join(dir, 'ca');
const otherCa = join(dir, 'other');
const pfxPass = join(dir, 'pfx.pass');
const tokenFile = join(dir, 'admin.token');
let pki: TestServerPki;
let registry: SqliteRegistry;
let upstream: EchoUpstream;
let gw: TestGateway;
let crlServer: Server;
let admin: AdminClient;
let crlUrl: string;
/** What the CRL server answers on /ca.crl (the root's CRL). */
let served: Buffer = Buffer.alloc(0);
/** …and on /issuing.crl (the intermediate's). */
let servedIssuing: Buffer = Buffer.alloc(0);

interface Client {
  serial: string;
  certPem: string;
  keyPem: string;
}
let c1: Client;
let c2: Client;

async function mtls(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runCli(args);
}

async function ok(args: string[]): Promise<string> {
  const r = await mtls(args);
  assert.equal(r.code, 0, `mtls ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** The client as issued now under certs/NAME (key decrypted with the .pfx password). */
function clientFiles(name: string): Client {
  const certPem = readFileSync(join(ca, 'certs', `${name}.cert.pem`), 'utf8');
  const keyPem = createPrivateKey({
    key: readFileSync(join(ca, 'private', `${name}.key.pem`)),
    passphrase: 'pfx password',
  }).export({ type: 'pkcs8', format: 'pem' }) as string;
  const serial = run('openssl', ['x509', '-noout', '-serial'], { input: certPem })
    .stdout.trim()
    .replace(/^serial=/, '');
  return { serial, certPem, keyPem };
}

/** 'ok' for a 200, else the reason code the gateway answered. */
function reasonOf(r: MtlsResponse): string {
  return r.status === 200
    ? 'ok'
    : ((r.json as { error?: string } | undefined)?.error ?? `status ${r.status}`);
}

/** The status and reason of one call with `c`. */
async function call(c: Client): Promise<[number, string]> {
  const r = await mtlsRequest({
    port: gw.port,
    ca: pki.serverCa.certPem,
    cert: c.certPem,
    key: c.keyPem,
    path: '/x',
  });
  return [r.status, reasonOf(r)];
}

/** 'ok' for a 200, else the reason code the gateway answered. */
async function outcome(c: Client): Promise<string> {
  return (await call(c))[1];
}

/** The port of a test gateway's ops listener. */
function opsPort(g: TestGateway): number {
  const address = g.gateway.opsAddress();
  assert.ok(address, 'the ops listener is on');
  return address.port;
}

/** The PEM of every CRL stored for acme. */
async function storedCrls(): Promise<string[]> {
  const [trust] = await registry.loadTrust('acme');
  assert.ok(trust, 'acme is registered');
  return trust.crls.map((r) => r.pem);
}

/** One request on `agent`'s connection: the status, the reason refused, and whether the connection was reused. */
function keptAlive(
  port: number,
  agent: https.Agent,
  c: Client,
): Promise<{ status: number; reason: string | null; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        servername: 'localhost',
        port,
        path: '/kept',
        ca: pki.serverCa.certPem,
        cert: c.certPem,
        key: c.keyPem,
        minVersion: 'TLSv1.2',
        maxVersion: 'TLSv1.2',
        agent,
      },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString('utf8')));
        res.on('end', () => {
          let reason: string | null = null;
          try {
            reason = (JSON.parse(body) as { error?: string }).error ?? null;
          } catch {
            reason = null;
          }
          resolve({ status: res.statusCode ?? 0, reason, reused: req.reusedSocket });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Publishes the CA's current CRL (as written by `mtls ca crl`) on the CRL server. */
async function publishCrl(): Promise<void> {
  await ok(['ca', 'crl', '--ca', ca]);
  served = readFileSync(join(ca, 'crl', 'ca.crl.pem'));
}

/** `mtls gateway crl url refresh` against the gateway's admin API: the gateway downloads now, as its schedule would. */
function refreshCli(): Promise<{ code: number; stdout: string; stderr: string }> {
  return mtls([
    'gateway',
    'crl',
    'url',
    'refresh',
    'acme',
    '--admin',
    gw.gateway.adminUrl() as string,
    '--admin-token-file',
    tokenFile,
    '--json',
  ]);
}

/** The same through the admin API client (no CLI start-up on a loaded machine), for the root's CRL. */
async function refresh(): Promise<CrlRefreshResult> {
  const [r] = await admin.refreshCrlSources('acme', crlUrl);
  assert.ok(r);
  return r;
}

before(async () => {
  writeFileSync(pfxPass, 'pfx password\n');
  writeFileSync(tokenFile, 'crl-fetch-admin-token-0123456789\n');
  await ok([
    'ca',
    'init',
    ca,
    '--subject',
    '/C=BR/ST=SP/O=Acme/CN=Acme Root',
    '--key-type',
    'ec-p256',
    '--no-passphrase',
    '--insecure',
  ]);
  await ok([
    'ca',
    'init',
    otherCa,
    '--subject',
    '/C=BR/ST=SP/O=Acme/CN=Acme Root',
    '--key-type',
    'ec-p256',
    '--no-passphrase',
    '--insecure',
  ]);
  for (const name of ['c1', 'c2'])
    await ok([
      'ca',
      'issue',
      name,
      '--ca',
      ca,
      '--key-type',
      'ec-p256',
      '--password-file',
      pfxPass,
    ]);
  c1 = clientFiles('c1');
  c2 = clientFiles('c2');
  pki = await makeServerPki(dir);
  registry = teardown.use(await openTestRegistry(dir));
  await registerInstitution(
    registry,
    'acme',
    readFileSync(join(ca, 'certs', 'ca.cert.pem'), 'utf8'),
    ['127.0.0.1'],
  );
  upstream = teardown.use(await startEchoUpstream());
  crlServer = createServer((req, res) => {
    const body = { '/ca.crl': served, '/issuing.crl': servedIssuing }[req.url ?? ''];
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/pkix-crl' });
    res.end(body);
  });
  teardown.defer(() => {
    crlServer.closeAllConnections();
    crlServer.close();
  });
  await new Promise<void>((r) => crlServer.listen(0, '127.0.0.1', r));
  crlUrl = `http://127.0.0.1:${(crlServer.address() as AddressInfo).port}/ca.crl`;
  await publishCrl();
  gw = teardown.use(
    await startTestGateway({
      registry,
      upstream: upstream.url,
      pki,
      values: { admin: { listen: '127.0.0.1:0', tokenFile }, crl: { maxBytes: 4096 } },
    }),
  );
  admin = teardown.use(
    await createAdminClient({ url: gw.gateway.adminUrl() as string, tokenFile }),
  );
});

after(() => teardown.run());

describe('gateway CRL distribution', () => {
  test('a CRL URL added to the registry is downloaded at once; a revocation takes effect after a refresh, without a restart', async () => {
    const add = await mtls([
      'gateway',
      'crl',
      'url',
      'add',
      'acme',
      crlUrl,
      '--every',
      '1h',
      '--registry',
      registry.path,
      '--json',
    ]);
    assert.equal(add.code, 0, add.stderr);
    await waitFor(
      () =>
        gw.lines.find(
          (l) => l.event === 'crl_refreshed' && l.institution === 'acme' && l.url === crlUrl,
        ),
      5_000,
      'the first download',
    );
    assert.equal(await outcome(c1), 'ok');
    assert.equal(await outcome(c2), 'ok');

    await ok(['ca', 'revoke', c1.serial, '--ca', ca]);
    await publishCrl();
    const r = await refreshCli();
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const res = at((JSON.parse(r.stdout) as { items: CrlRefreshResult[] }).items, 0);
    assert.deepEqual([res.ok, res.changed], [true, true]);
    assert.equal(
      await waitFor(
        async () => ((await outcome(c1)) === 'revoked' ? 'revoked' : undefined),
        3_000,
        'c1 revoked',
      ),
      'revoked',
    );
    assert.equal(await outcome(c2), 'ok');
    await waitForAudit(
      gw.gateway,
      (a) =>
        a.kind === 'connection' &&
        a.reason === 'revoked' &&
        a.serial === c1.serial.replace(/^0+/, ''),
    );

    // The same bytes again: nothing stored, and the registry did not move.
    const version = await registry.version();
    const again = await refresh();
    assert.deepEqual([again.ok, again.changed], [true, false]);
    assert.equal(await registry.version(), version);

    const list = (
      JSON.parse(
        await ok(['gateway', 'crl', 'url', 'list', 'acme', '--registry', registry.path, '--json']),
      ) as { items: Array<{ lastStatus: string; lastGoodSha256: string; intervalSeconds: number }> }
    ).items;
    assert.equal(at(list, 0).lastStatus, 'ok');
    assert.equal(at(list, 0).intervalSeconds, 3600);
    assert.equal(
      at(list, 0).lastGoodSha256,
      createHash('sha256').update(served).digest('hex'),
      'the fingerprint of the file as served',
    );

    const metrics = await (await fetch(`http://127.0.0.1:${opsPort(gw)}/metrics`)).text();
    assert.match(metrics, /mtls_gateway_crl_fetches_total\{institution="acme",result="stored"\} 2/);
    assert.match(
      metrics,
      /mtls_gateway_crl_fetches_total\{institution="acme",result="unchanged"\} 1/,
    );
    assert.match(metrics, /mtls_gateway_crl_age_seconds\{institution="acme"\} \d+/);
    const next = /mtls_gateway_crl_next_update_seconds\{institution="acme"\} (\d+)/.exec(metrics);
    assert.ok(next && Number(next[1]) > 29 * 86400, 'default_crl_days = 30 ahead');
  });

  test('a tampered CRL, a CRL from another CA and an oversized body are refused with a log line; the last good CRL stays in service', async () => {
    const good = served;
    const crlDer = Buffer.from(
      good
        .toString('utf8')
        .replace(/-----(BEGIN|END) X509 CRL-----/g, '')
        .replace(/\s+/g, ''),
      'base64',
    );
    const flipped = Buffer.from(crlDer);
    flipped[flipped.length - 5] = (flipped[flipped.length - 5] as number) ^ 0x01; // inside the signature
    await ok(['ca', 'crl', '--ca', otherCa]);
    const foreign = readFileSync(join(otherCa, 'crl', 'ca.crl.pem'));
    const cases: Array<{ name: string; body: Buffer; reason: RegExp }> = [
      { name: 'tampered', body: flipped, reason: /signature does not verify/ },
      { name: 'another CA', body: foreign, reason: /signature does not verify/ },
      {
        name: 'oversized',
        body: Buffer.alloc(5000, 0x30),
        reason: /larger than the 4096-byte limit/,
      },
    ];
    for (const c of cases) {
      const crlsBefore = await storedCrls();
      const before = gw.lines.length;
      served = c.body;
      const r = await refresh();
      assert.equal(r.ok, false, `${c.name}: refused`);
      assert.match(r.error?.message ?? '', c.reason, c.name);
      const line = gw.lines.slice(before).find((l) => l.event === 'crl_refresh_failed');
      assert.ok(line, `${c.name}: a log line`);
      assert.equal(line.institution, 'acme');
      assert.equal(line.url, crlUrl);
      assert.match(String(line.msg), /the last good CRL stays in service/);
      assert.match(String(line.msg), c.reason);
      assert.deepEqual(await storedCrls(), crlsBefore, `${c.name}: nothing stored`);
      assert.equal(await outcome(c1), 'revoked', `${c.name}: the revocation still holds`);
      assert.equal(await outcome(c2), 'ok');
      const src = at(await registry.listCrlSources('acme'), 0);
      assert.equal(src.lastStatus, 'failed');
      assert.match(defined(src.lastError, 'the last error'), c.reason);
    }
    // The CLI says so and exits non-zero (4: refused by the onboarding checks).
    served = flipped;
    const cli = await refreshCli();
    assert.equal(cli.code, 4);
    assert.match(cli.stdout, /MTLS_ONBOARD_REJECTED/);
    const list = await mtls(['gateway', 'crl', 'url', 'list', '--registry', registry.path]);
    assert.match(list.stdout, /failed/);
    const metrics = await (await fetch(`http://127.0.0.1:${opsPort(gw)}/metrics`)).text();
    assert.match(metrics, /mtls_gateway_crl_fetches_total\{institution="acme",result="failed"\} 4/);
    served = good;
  });

  test('renewal through rollover: old and new certificates both pass; the old one gets 403 after revoking it (by serial, or with --revoke-old) and a CRL refresh', async () => {
    const renew = async (revokeOld: boolean): Promise<{ oldSerial: string; oldRevoked: boolean }> =>
      JSON.parse(
        await ok([
          'cert',
          'renew',
          join(ca, 'certs', 'c2.cert.pem'),
          '--ca',
          ca,
          '--password-file',
          pfxPass,
          ...(revokeOld ? ['--revoke-old'] : []),
          '--json',
        ]),
      ) as { oldSerial: string; oldRevoked: boolean };
    /** Status and reason of a call, once the refreshed CRL is in service. */
    const refusedOnceRefreshed = (c: Client): Promise<[number, string]> =>
      waitFor(
        async () => {
          const r = await call(c);
          return r[0] === 200 ? undefined : r;
        },
        3_000,
        'the refreshed CRL in service',
      );

    // Clients switch at their pace; the old certificate is revoked afterwards.
    const old = c2;
    const first = await renew(false);
    assert.equal(first.oldRevoked, false);
    const fresh = clientFiles('c2');
    assert.notEqual(fresh.serial, old.serial);
    assert.deepEqual(await call(old), [200, 'ok']);
    assert.deepEqual(await call(fresh), [200, 'ok']);
    await ok(['ca', 'revoke', first.oldSerial, '--ca', ca, '--reason', 'superseded']);
    await publishCrl();
    assert.equal((await refresh()).changed, true);
    assert.deepEqual(await refusedOnceRefreshed(old), [403, 'revoked']);
    assert.deepEqual(await call(fresh), [200, 'ok']);

    // --revoke-old: revoked in the CA at once, yet both keep working until
    // the CA publishes its CRL and the gateway downloads it.
    const second = await renew(true);
    assert.deepEqual([second.oldSerial, second.oldRevoked], [fresh.serial, true]);
    const newest = clientFiles('c2');
    assert.deepEqual(await call(fresh), [200, 'ok'], 'the gateway has not seen the revocation yet');
    assert.deepEqual(await call(newest), [200, 'ok']);
    await publishCrl();
    assert.equal((await refresh()).changed, true);
    assert.deepEqual(await refusedOnceRefreshed(fresh), [403, 'revoked']);
    assert.deepEqual(await call(newest), [200, 'ok']);
    const audit = await waitForAudit(
      gw.gateway,
      (a) =>
        a.kind === 'connection' &&
        a.reason === 'revoked' &&
        a.serial === fresh.serial.replace(/^0+/, ''),
    );
    assert.match(audit.detail ?? '', /is revoked by CRL/);
    c2 = newest;
  });

  test("an intermediate made with ca init --intermediate: its client (a .pfx with the chain) passes with only the root registered; the intermediate's and the root's revocations both arrive by URL", async () => {
    const issuing = join(dir, 'issuing');
    await ok([
      'ca',
      'init',
      issuing,
      '--intermediate',
      '--parent',
      ca,
      '--subject',
      '/C=BR/ST=SP/O=Acme/CN=Acme Issuing CA',
      '--key-type',
      'ec-p256',
      '--no-passphrase',
      '--insecure',
    ]);
    for (const name of ['branch', 'kiosk'])
      await ok([
        'ca',
        'issue',
        name,
        '--ca',
        issuing,
        '--key-type',
        'ec-p256',
        '--password-file',
        pfxPass,
      ]);
    const viaPfx = async (name: string): Promise<[number, string]> => {
      const r = await mtlsRequest({
        port: gw.port,
        ca: pki.serverCa.certPem,
        pfx: readFileSync(join(issuing, 'certs', `${name}.pfx`)),
        passphrase: 'pfx password',
        path: `/${name}`,
      });
      return [r.status, reasonOf(r)];
    };
    const [acme] = await registry.loadTrust('acme');
    assert.equal(defined(acme, 'acme').chains.length, 1, 'only the root is registered');
    assert.deepEqual(await viaPfx('branch'), [200, 'ok']);
    assert.deepEqual(await viaPfx('kiosk'), [200, 'ok']);

    // The intermediate's CRL is refused until its certificate is registered too.
    await ok(['ca', 'crl', '--ca', issuing]);
    servedIssuing = readFileSync(join(issuing, 'crl', 'ca.crl.pem'));
    const issuingUrl = crlUrl.replace(/ca\.crl$/, 'issuing.crl');
    // Gateway-side registration through the admin API: the CLI's own path is tested above.
    await admin.addCrlSource('acme', issuingUrl);
    const unknown = await admin.refreshCrlSources('acme', issuingUrl);
    assert.equal(at(unknown, 0).ok, false);
    assert.match(
      at(unknown, 0).error?.message ?? '',
      /was not issued by any CA registered for this institution/,
    );
    await admin.addCaChain('acme', readFileSync(join(issuing, 'certs', 'ca-chain.cert.pem')));
    await ok(['ca', 'revoke', '--cert', join(issuing, 'certs', 'kiosk.cert.pem'), '--ca', issuing]);
    await ok(['ca', 'crl', '--ca', issuing]);
    servedIssuing = readFileSync(join(issuing, 'crl', 'ca.crl.pem'));
    const stored = await admin.refreshCrlSources('acme', issuingUrl);
    assert.deepEqual([at(stored, 0).ok, at(stored, 0).changed], [true, true]);
    assert.deepEqual(
      await waitFor(
        async () => {
          const r = await viaPfx('kiosk');
          return r[0] === 200 ? undefined : r;
        },
        3_000,
        "the intermediate's CRL in service",
      ),
      [403, 'revoked'],
    );
    assert.deepEqual(await viaPfx('branch'), [200, 'ok']);

    // The root revokes the intermediate: everything it issued is refused.
    const intermediateSerial = run('openssl', [
      'x509',
      '-noout',
      '-serial',
      '-in',
      join(issuing, 'certs', 'ca.cert.pem'),
    ])
      .stdout.trim()
      .replace(/^serial=/, '');
    await ok(['ca', 'revoke', intermediateSerial, '--ca', ca, '--reason', 'cessationOfOperation']);
    await publishCrl();
    assert.equal((await refresh()).changed, true);
    assert.deepEqual(
      await waitFor(
        async () => {
          const r = await viaPfx('branch');
          return r[0] === 200 ? undefined : r;
        },
        3_000,
        'the root CRL in service',
      ),
      [403, 'revoked'],
    );
    const record = await waitForAudit(
      gw.gateway,
      (a) =>
        a.kind === 'connection' && a.reason === 'revoked' && /CA certificate/.test(a.detail ?? ''),
    );
    assert.match(record.detail ?? '', /Acme Issuing CA/);
    assert.deepEqual(await call(c2), [200, 'ok'], "the root's own clients are unaffected");
    await registry.removeCrlSource('acme', issuingUrl);
  });

  test('a CRL past its nextUpdate: fail_closed refuses with crl_expired (kept-alive connections too), fail_open_with_alarm accepts with the reason, a metric and a warning', async () => {
    // openssl ca -crlsec: nextUpdate 5 s after thisUpdate (fresh when downloaded).
    const short = join(dir, 'short.crl');
    const gen = run('openssl', [
      'ca',
      '-gencrl',
      '-config',
      join(ca, 'openssl.cnf'),
      '-crlsec',
      '5',
      '-out',
      short,
    ]);
    assert.equal(gen.code, 0, gen.stderr);
    served = readFileSync(short);
    const r = await refresh();
    assert.equal(r.ok, true, r.error?.message);
    const nextUpdate = Date.parse(r.nextUpdate as string);
    const open = await startTestGateway({
      registry,
      upstream: upstream.url,
      pki,
      values: { crl: { stale: 'fail_open_with_alarm' } },
    });
    // A connection to each gateway, accepted while the CRL is current and kept alive.
    const closedAgent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    const openAgent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (const [port, agent] of [
        [gw.port, closedAgent],
        [open.port, openAgent],
      ] as const) {
        const first = await keptAlive(port, agent, c2);
        assert.equal(first.status, 200, 'accepted while the CRL is current');
        // Requests keep it alive (keepAliveTimeoutMs 5 s) until just before nextUpdate.
        while (Date.now() < nextUpdate - 1_000) {
          await new Promise((res) => setTimeout(res, 500));
          assert.equal((await keptAlive(port, agent, c2)).status, 200);
        }
      }
      await new Promise((res) => setTimeout(res, Math.max(0, nextUpdate - Date.now()) + 300));
      // No registry change since: the clock alone moves the decision of the kept-alive connection.
      const kept = await keptAlive(gw.port, closedAgent, c2);
      assert.equal(kept.reused, true, 'the same connection');
      assert.deepEqual([kept.status, kept.reason], [403, 'crl_expired']);
      const keptRecord = await waitForAudit(
        gw.gateway,
        (a) => a.kind === 'request' && a.path === '/kept' && a.reason === 'crl_expired',
      );
      assert.equal(keptRecord.outcome, 'rejected');
      assert.match(keptRecord.detail ?? '', /past its nextUpdate/);
      const keptOpen = await keptAlive(open.port, openAgent, c2);
      assert.deepEqual(
        [keptOpen.reused, keptOpen.status],
        [true, 200],
        'fail_open_with_alarm: the kept-alive connection goes on',
      );

      // Default policy (fail_closed), a new connection: the same reason.
      assert.equal(await outcome(c2), 'crl_expired');
      const refused = await waitForAudit(
        gw.gateway,
        (a) => a.kind === 'connection' && a.reason === 'crl_expired',
      );
      assert.equal(refused.outcome, 'rejected');
      assert.match(refused.detail ?? '', /past its nextUpdate/);
      // fail_closed has its metric and log line too.
      const closedMetrics = await (await fetch(`http://127.0.0.1:${opsPort(gw)}/metrics`)).text();
      assert.match(
        closedMetrics,
        /mtls_gateway_connections_total\{outcome="rejected",reason="crl_expired"\} [1-9]/,
      );
      assert.ok(
        gw.lines.some(
          (l) =>
            l.level === 40 &&
            l.msg === 'audit connection rejected crl_expired' &&
            /past its nextUpdate/.test(
              String((l.audit as { detail?: string } | undefined)?.detail),
            ),
        ),
        'a warning line naming the stale CRL',
      );
      assert.equal(await outcome(c1), 'revoked', 'a stale CRL still revokes what it lists');

      const resp = await mtlsRequest({
        port: open.port,
        ca: pki.serverCa.certPem,
        cert: c2.certPem,
        key: c2.keyPem,
        path: '/x',
      });
      assert.equal(resp.status, 200);
      const accepted = await waitForAudit(
        open.gateway,
        (a) => a.kind === 'connection' && a.reason === 'crl_expired' && a.outcome === 'accepted',
      );
      assert.match(accepted.detail ?? '', /fail_open_with_alarm/);
      assert.ok(
        open.lines.some(
          (l) => l.event === 'crl_expired_accepted' && l.level === 40 && l.institution === 'acme',
        ),
        'a warning line',
      );
      const metrics = await (await fetch(`http://127.0.0.1:${opsPort(open)}/metrics`)).text();
      assert.match(
        metrics,
        /mtls_gateway_connections_total\{outcome="accepted",reason="crl_expired"\} 1/,
      );
      assert.match(metrics, /mtls_gateway_crl_next_update_seconds\{institution="acme"\} -\d+/);

      // The server still serves the stale CRL: refused as out of date, logged.
      const stale = await refresh();
      assert.equal(stale.ok, false);
      assert.match(stale.error?.message ?? '', /out of date: nextUpdate was/);
    } finally {
      closedAgent.destroy();
      openAgent.destroy();
      await open.close();
    }
  });
});
