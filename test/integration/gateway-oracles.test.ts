/**
 * The gateway against independent clients: curl, openssl s_client and
 * `mtls request`. TLS 1.2 works, TLS 1.1 and 1.3 are refused, and with 50
 * institutions registered the CertificateRequest names only the connecting
 * institution's CA.
 */
import 'reflect-metadata';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { makeCa, tempDir, type TestCa } from '../helpers/pki.js';
import type { SqliteRegistry } from '../../src/gateway/registry/sqlite-registry.js';
import {
  makeInstitution,
  makeServerPki,
  openTestRegistry,
  registerInstitution,
  run,
  startEchoUpstream,
  startTestGateway,
  waitForAudit,
  type EchoUpstream,
  type TestGateway,
  type TestInstitution,
  type TestServerPki,
} from '../helpers/gateway-harness.js';
import { Teardown } from '../helpers/teardown.js';

const { dir, cleanup } = tempDir('mtlskit-gw-oracles-');
const teardown = new Teardown();
teardown.defer(cleanup);
let pki: TestServerPki;
let registry: SqliteRegistry;
let upstream: EchoUpstream;
let gw: TestGateway;
let acme: TestInstitution;
/** An institution registered nowhere: its certificate is refused with unknown_ca. */
let stranger: TestInstitution;
const many: Array<{ id: string; ca: TestCa; ip: string }> = [];

before(async () => {
  pki = await makeServerPki(dir);
  registry = teardown.use(await openTestRegistry(dir));
  upstream = teardown.use(await startEchoUpstream());
  acme = await makeInstitution(dir, 'acme');
  stranger = await makeInstitution(dir, 'stranger');
  await registerInstitution(registry, 'acme', acme.root.certPem, ['127.0.0.1']);
  for (let i = 1; i <= 50; i++) {
    const id = `bank-${String(i).padStart(2, '0')}`;
    const ca = await makeCa(dir, { name: `${id} Root CA` });
    const ip = `127.0.1.${i}`;
    await registerInstitution(registry, id, ca.certPem, [ip]);
    many.push({ id, ca, ip });
  }
  gw = teardown.use(await startTestGateway({ registry, upstream: upstream.url, pki }));
});

after(() => teardown.run());

const httpGet = (path: string): string =>
  `GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`;

/**
 * curl as acme from 127.0.0.1, offering only TLS 1.2 (or only 1.3), with more
 * curl arguments before the URL.
 */
const curlAsAcme = (path: string, extra: string[] = [], tls: '1.2' | '1.3' = '1.2') =>
  run('curl', [
    '-sS',
    '--cert',
    acme.client.certPath,
    '--key',
    acme.client.keyPath,
    '--cacert',
    pki.serverCa.certPath,
    ...(tls === '1.2' ? ['--tlsv1.2', '--tls-max', '1.2'] : ['--tlsv1.3']),
    '--interface',
    '127.0.0.1',
    ...extra,
    `https://localhost:${gw.port}${path}`,
  ]);

describe('gateway against curl, openssl and mtls request', () => {
  test('curl --tlsv1.2 --tls-max 1.2 with a client certificate reaches the upstream', async () => {
    const r = await curlAsAcme('/via-curl', ['-H', 'Authorization: Bearer abc']);
    assert.equal(r.code, 0, r.stderr);
    const seen = JSON.parse(r.stdout) as { url: string; headers: Record<string, string> };
    assert.equal(seen.url, '/via-curl');
    assert.equal(seen.headers['x-mtls-institution'], 'acme');
    assert.equal(seen.headers.authorization, 'Bearer abc');
  });

  test("every request gets the gateway's own id: the upstream, the client's answer and the audit record agree", async () => {
    const curl = (path: string) =>
      curlAsAcme(path, ['-i', '-H', 'X-Request-Id: chosen-by-the-client']);
    const idOf = (head: string): string | undefined => /^x-request-id: (.*)\r$/im.exec(head)?.[1];
    const r = await curl('/own-request-id');
    assert.equal(r.code, 0, r.stderr);
    const [head = '', body = ''] = r.stdout.split('\r\n\r\n');
    const seen = JSON.parse(body) as { headers: Record<string, string> };
    const id = seen.headers['x-request-id'] ?? '';
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(
      idOf(head),
      id,
      "the answer carries the id the upstream got, not the upstream's own nor the client's",
    );
    assert.equal((head.match(/^x-request-id:/gim) ?? []).length, 1, head);
    const rec = await waitForAudit(gw.gateway, (a) => a.requestId === id, 'the audit record');
    assert.equal(rec.path, '/own-request-id');
    assert.equal(rec.status, 200);
    assert.deepEqual(
      (await registry.queryAudit({ requestId: id })).map((a) => a.path),
      ['/own-request-id'],
    );
    const again = await curl('/via-curl');
    assert.notEqual(idOf(again.stdout), id, 'each request has its own id');
  });

  test('mtls request names the request id of a refused call, and the audit record has it', async () => {
    const r = await run(process.execPath, [
      'dist/bin/mtls.js',
      'request',
      `https://localhost:${gw.port}/refused`,
      '--cert',
      stranger.client.certPath,
      '--key',
      stranger.client.keyPath,
      '--ca',
      pki.serverCa.certPath,
      '--resolve',
      `localhost:${gw.port}:127.0.0.1`,
    ]);
    assert.notEqual(r.code, 0);
    const id = /request id ([0-9a-f-]{36})/.exec(r.stderr)?.[1];
    assert.ok(id, r.stderr);
    assert.match(r.stderr, /unknown_ca/);
    const rec = await waitForAudit(gw.gateway, (a) => a.requestId === id, 'the refusal record');
    assert.equal(rec.reason, 'unknown_ca');
    assert.equal(rec.status, 403);
  });

  test('curl without a client certificate gets 403 no_client_cert; curl with TLS 1.3 is refused', async () => {
    const noCert = await run('curl', [
      '-sS',
      '--cacert',
      pki.serverCa.certPath,
      '--tlsv1.2',
      '--tls-max',
      '1.2',
      `https://localhost:${gw.port}/no-cert`,
      '-w',
      '%{http_code}',
    ]);
    assert.equal(noCert.code, 0, noCert.stderr);
    const [body, status] = noCert.stdout.trim().split('\n');
    assert.equal(status, '403');
    assert.match(body ?? '', /^\{"error":"no_client_cert","requestId":"[0-9a-f-]{36}"\}$/);
    const tls13 = await curlAsAcme('/', [], '1.3');
    assert.notEqual(tls13.code, 0);
    // The server answers a TLS 1.3-only ClientHello with protocol_version (RFC 8446 §4.2.1).
    assert.match(tls13.stderr, /tlsv1 alert protocol version/);
  });

  test('openssl s_client -tls1_2 makes a good call', async () => {
    const r = await run(
      'openssl',
      [
        's_client',
        '-connect',
        `127.0.0.1:${gw.port}`,
        '-servername',
        'localhost',
        '-tls1_2',
        '-cert',
        acme.client.certPath,
        '-key',
        acme.client.keyPath,
        '-CAfile',
        pki.serverCa.certPath,
        '-verify_return_error',
        '-quiet',
      ],
      httpGet('/via-openssl'),
    );
    assert.match(r.stdout, /^HTTP\/1\.1 200 OK/);
    assert.match(r.stdout, /"x-mtls-institution":"acme"/);
    assert.match(r.stdout, /"url":"\/via-openssl"/);
  });

  for (const flag of ['-tls1_1', '-tls1_3']) {
    test(`openssl s_client ${flag} is refused with a protocol_version alert`, async () => {
      const args = [
        's_client',
        '-connect',
        `127.0.0.1:${gw.port}`,
        '-servername',
        'localhost',
        flag,
        '-cert',
        acme.client.certPath,
        '-key',
        acme.client.keyPath,
        '-CAfile',
        pki.serverCa.certPath,
      ];
      if (flag === '-tls1_1') args.push('-cipher', 'DEFAULT@SECLEVEL=0');
      const r = await run('openssl', args, '');
      assert.notEqual(r.code, 0);
      assert.match(r.stdout + r.stderr, /alert protocol version|SSL alert number 70/);
      await waitForAudit(gw.gateway, (x) => x.reason === 'tls_version' && x.ip === '127.0.0.1');
    });
  }

  test('with 50 institutions, the CertificateRequest lists only the connecting institution CA', async () => {
    for (const pick of [many[6], many[41]]) {
      assert.ok(pick);
      const r = await run(
        'openssl',
        [
          's_client',
          '-connect',
          `127.0.0.1:${gw.port}`,
          '-bind',
          pick.ip,
          '-servername',
          'localhost',
          '-tls1_2',
          '-CAfile',
          pki.serverCa.certPath,
        ],
        '',
      );
      const out = r.stdout;
      const start = out.indexOf('Acceptable client certificate CA names');
      assert.ok(start >= 0, `no CertificateRequest seen:\n${out}\n${r.stderr}`);
      const names = out
        .slice(start)
        .split('\n')
        .slice(1)
        .filter((l) => /^[A-Z]+ = /.test(l));
      assert.deepEqual(names, [`C = BR, ST = SP, O = ${pick.id} Root CA, CN = ${pick.id} Root CA`]);
    }
    const fromAcme = await run(
      'openssl',
      [
        's_client',
        '-connect',
        `127.0.0.1:${gw.port}`,
        '-bind',
        '127.0.0.1',
        '-servername',
        'localhost',
        '-tls1_2',
        '-CAfile',
        pki.serverCa.certPath,
      ],
      '',
    );
    assert.match(
      fromAcme.stdout,
      /Acceptable client certificate CA names\nC = BR, ST = SP, O = acme Root CA, CN = acme Root CA\n(?!C = )/,
    );
  });

  test('an unregistered source address gets no handshake at all (openssl sees no server certificate)', async () => {
    const r = await run(
      'openssl',
      [
        's_client',
        '-connect',
        `127.0.0.1:${gw.port}`,
        '-bind',
        '127.0.2.1',
        '-servername',
        'localhost',
        '-tls1_2',
      ],
      '',
    );
    assert.notEqual(r.code, 0);
    assert.doesNotMatch(r.stdout, /BEGIN CERTIFICATE|Server certificate/);
    assert.match(
      r.stdout + r.stderr,
      /no peer certificate available|errno=104|Connection reset|unexpected eof/i,
    );
  });

  test(
    'mtls request makes a good call',
    { skip: !existsSync('dist/bin/mtls.js') && 'build first (npm run build)' },
    async () => {
      const r = await run(process.execPath, [
        'dist/bin/mtls.js',
        'request',
        `https://localhost:${gw.port}/via-mtls-request`,
        '--cert',
        acme.client.certPath,
        '--key',
        acme.client.keyPath,
        '--ca',
        pki.serverCa.certPath,
        '--resolve',
        `localhost:${gw.port}:127.0.0.1`,
      ]);
      assert.equal(r.code, 0, r.stderr);
      const seen = JSON.parse(r.stdout) as { url: string; headers: Record<string, string> };
      assert.equal(seen.url, '/via-mtls-request');
      assert.equal(seen.headers['x-mtls-institution'], 'acme');
    },
  );
});
