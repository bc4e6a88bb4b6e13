/**
 * The gateway behind a real HAProxy relaying TCP with the PROXY protocol (v1
 * `send-proxy` and v2 `send-proxy-v2`, deploy/haproxy.cfg as is). The client
 * connects to HAProxy from 127.0.0.5, HAProxy connects to the gateway from
 * 127.0.0.1 (the trusted proxy); the institution is registered for
 * 127.0.0.5 only, so a 200 proves the header's address chose the trust. Then
 * every refusal of the PROXY stage, with raw sockets.
 */
import 'reflect-metadata';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { Duplex } from 'node:stream';
import type { SqliteRegistry } from '../../src/gateway/registry/sqlite-registry.js';
import { buildProxyHeader } from '../../src/gateway/proxy-protocol.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnJsonLogCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/pki.js';
import { haveHaproxy, startHaproxy, type RunningHaproxy } from '../helpers/haproxy.js';
import {
  makeInstitution,
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
  type TestInstitution,
  type TestServerPki,
  gatewayClientTls,
} from '../helpers/gateway-harness.js';
import { Teardown } from '../helpers/teardown.js';

const CLIENT = '127.0.0.5';
const STRANGER = '127.0.0.6';

const { dir, cleanup } = tempDir('mtlskit-gw-haproxy-');
const teardown = new Teardown();
teardown.defer(cleanup);
let pki: TestServerPki;
let registry: SqliteRegistry;
let upstream: EchoUpstream;
let acme: TestInstitution;
const started: Array<{ stop(): Promise<void> }> = [];

before(async () => {
  pki = await makeServerPki(dir);
  registry = teardown.use(await openTestRegistry(dir));
  acme = await makeInstitution(dir, 'acme');
  await registerInstitution(registry, 'acme', acme.root.certPem, [CLIENT]);
  upstream = teardown.use(await startEchoUpstream());
});

after(async () => {
  for (const s of started.reverse()) await s.stop().catch(() => undefined);
  await teardown.run();
});

async function gatewayWith(values: Record<string, unknown>): Promise<TestGateway> {
  const gw = await startTestGateway({ registry, upstream: upstream.url, pki, values });
  started.push({ stop: () => gw.close() });
  return gw;
}

/** Expects the connection to fail before any HTTP response. */
async function expectClosed(promise: Promise<unknown>): Promise<void> {
  await assert.rejects(promise, (e: Error & { code?: string }) =>
    /ECONNRESET|socket hang up|EPIPE|disconnected|closed/i.test(`${e.code ?? ''} ${e.message}`),
  );
}

/**
 * Connects from `localAddress`, writes `prefix` in the given pieces (with a
 * pause between them, so they leave as separate TCP segments), then runs
 * TLS and one HTTPS request over the same socket.
 */
function requestAfterPrefix(
  port: number,
  localAddress: string,
  pieces: Buffer[],
  path = '/',
  leaf = acme.client,
): Promise<MtlsResponse> {
  return new Promise((resolve, reject) => {
    const raw = net.connect({ host: '127.0.0.1', port, localAddress });
    raw.setNoDelay(true);
    const timer = setTimeout(() => {
      raw.destroy();
      reject(new Error('request over the prefixed socket timed out'));
    }, 10_000);
    const fail = (e: Error): void => {
      clearTimeout(timer);
      reject(e);
    };
    raw.on('error', fail);
    const writePieces = async (): Promise<void> => {
      for (const p of pieces) {
        raw.write(p);
        await new Promise((r) => setTimeout(r, 30));
      }
      const secure = tls.connect({
        socket: raw,
        ...gatewayClientTls(pki, leaf),
      });
      secure.on('error', fail);
      const req = https.request(
        {
          createConnection: () => secure,
          path,
          headers: { host: 'localhost', 'x-forwarded-for': '6.6.6.6' },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (d: Buffer) => chunks.push(d));
          res.on('end', () => {
            clearTimeout(timer);
            const body = Buffer.concat(chunks).toString('utf8');
            let json: unknown;
            try {
              json = JSON.parse(body);
            } catch {
              json = undefined;
            }
            raw.destroy();
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json });
          });
        },
      );
      req.on('error', fail);
      req.end();
    };
    raw.once('connect', () => {
      writePieces().catch(fail);
    });
  });
}

/** Writes raw bytes from `localAddress` and resolves when the gateway closes the connection. */
function sendAndWaitClose(
  port: number,
  localAddress: string,
  bytes: Buffer[],
  delayMs = 30,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const raw = net.connect({ host: '127.0.0.1', port, localAddress });
    const timer = setTimeout(() => {
      raw.destroy();
      reject(new Error('the gateway did not close the connection'));
    }, 10_000);
    raw.on('error', () => undefined);
    raw.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    const writeBytes = async (): Promise<void> => {
      for (const b of bytes) {
        if (raw.destroyed) return;
        raw.write(b);
        await new Promise((r) => setTimeout(r, delayMs));
      }
    };
    raw.once('connect', () => {
      writeBytes().catch((e: unknown) => {
        clearTimeout(timer);
        raw.destroy();
        reject(e instanceof Error ? e : new Error(String(e)));
      });
    });
  });
}

const header = (source: string, version: 1 | 2 = 1): Buffer =>
  buildProxyHeader({
    version,
    source: { address: source, port: 40000 },
    destination: { address: '127.0.0.1', port: 8443 },
  });

describe(
  'PROXY protocol required, behind a real HAProxy',
  { skip: !haveHaproxy() && 'haproxy is not installed (.ci/run installs it)' },
  () => {
    let gw: TestGateway;
    let lb: RunningHaproxy;
    before(async () => {
      gw = await gatewayWith({
        proxyProtocol: 'required',
        trustedProxies: ['127.0.0.1'],
        proxyHeaderTimeoutMs: 1_000,
      });
      lb = await startHaproxy(gw.port);
      started.push(lb);
    });

    for (const version of ['v1', 'v2'] as const) {
      test(`through HAProxy send-proxy${version === 'v2' ? '-v2' : ''}: the client's address chooses trust and reaches the audit and X-Forwarded-For`, async () => {
        const path = `/through-${version}`;
        const res = await mtlsRequest({
          port: version === 'v1' ? lb.v1Port : lb.v2Port,
          ca: pki.serverCa.certPem,
          cert: acme.client.certPem,
          key: acme.client.keyPem,
          localAddress: CLIENT,
          path,
          headers: { 'x-forwarded-for': '6.6.6.6' },
        });
        assert.equal(res.status, 200, `${res.body}\nhaproxy: ${lb.output()}`);
        const seen = res.json as { url: string; headers: Record<string, string> };
        assert.equal(seen.url, path);
        assert.equal(seen.headers['x-mtls-institution'], 'acme');
        assert.equal(
          seen.headers['x-forwarded-for'],
          CLIENT,
          "X-Forwarded-For is the PROXY source, and the client's own copy is dropped",
        );
        const conn = await waitForAudit(
          gw.gateway,
          (r) => r.kind === 'connection' && r.reason === 'ok' && r.ip === CLIENT,
        );
        assert.equal(conn.institutionId, 'acme');
        const req = await waitForAudit(gw.gateway, (r) => r.kind === 'request' && r.path === path);
        assert.equal(req.ip, CLIENT);
      });
    }

    test('through HAProxy from an unregistered source address: refused before the handshake as ip_not_registered', async () => {
      await expectClosed(
        mtlsRequest({
          port: lb.v2Port,
          ca: pki.serverCa.certPem,
          cert: acme.client.certPem,
          key: acme.client.keyPem,
          localAddress: STRANGER,
          path: '/stranger',
        }),
      );
      const rec = await waitForAudit(
        gw.gateway,
        (r) => r.reason === 'ip_not_registered' && r.ip === STRANGER,
      );
      assert.equal(rec.kind, 'connection');
      assert.equal(
        upstream.requests.some((r) => r.url === '/stranger'),
        false,
      );
    });

    test('a trusted peer connecting without a header: proxy_header_missing, audited with the real peer', async () => {
      await expectClosed(
        mtlsRequest({
          port: gw.port,
          ca: pki.serverCa.certPem,
          cert: acme.client.certPem,
          key: acme.client.keyPem,
          localAddress: '127.0.0.1',
          path: '/direct',
        }),
      );
      const rec = await waitForAudit(
        gw.gateway,
        (r) => r.reason === 'proxy_header_missing' && r.ip === '127.0.0.1',
      );
      assert.match(rec.detail ?? '', /no PROXY protocol header/);
    });

    test('a PROXY header from a peer outside trustedProxies: proxy_untrusted, and its claimed address is not believed', async () => {
      await expectClosed(requestAfterPrefix(gw.port, CLIENT, [header(CLIENT)], '/spoof'));
      const rec = await waitForAudit(
        gw.gateway,
        (r) => r.reason === 'proxy_untrusted' && r.ip === CLIENT,
      );
      assert.match(rec.detail ?? '', /not in trustedProxies/);
      assert.equal(
        upstream.requests.some((r) => r.url === '/spoof'),
        false,
      );
    });

    test('a malformed header from the trusted proxy: proxy_header_invalid', async () => {
      await sendAndWaitClose(gw.port, '127.0.0.1', [
        Buffer.from('PROXY TCP4 127.0.0.256 127.0.0.1 1 2\r\n'),
      ]);
      const rec = await waitForAudit(
        gw.gateway,
        (r) =>
          r.reason === 'proxy_header_invalid' &&
          r.ip === '127.0.0.1' &&
          /address/.test(r.detail ?? ''),
      );
      assert.equal(rec.outcome, 'rejected');
    });

    test('an oversized v2 header: proxy_header_invalid from its first 16 bytes', async () => {
      const big = Buffer.from(header(CLIENT, 2));
      big.writeUInt16BE(60_000, 14);
      await sendAndWaitClose(gw.port, '127.0.0.1', [big.subarray(0, 16)]);
      await waitForAudit(
        gw.gateway,
        (r) => r.reason === 'proxy_header_invalid' && /at most/.test(r.detail ?? ''),
      );
    });

    test('a header that never completes: proxy_header_invalid after proxyHeaderTimeoutMs', async () => {
      await sendAndWaitClose(gw.port, '127.0.0.1', [Buffer.from('PROXY TCP4 127.0.0.5')]);
      await waitForAudit(
        gw.gateway,
        (r) => r.reason === 'proxy_header_invalid' && /within 1000 ms/.test(r.detail ?? ''),
      );
    });

    for (const version of [1, 2] as const) {
      test(`a v${version} header split across TCP segments, the ClientHello after it: accepted as ${CLIENT}`, async () => {
        const h = header(CLIENT, version);
        const pieces = [
          h.subarray(0, 1),
          h.subarray(1, 9),
          h.subarray(9, h.length - 1),
          h.subarray(h.length - 1),
        ];
        const res = await requestAfterPrefix(gw.port, '127.0.0.1', pieces, `/split-v${version}`);
        assert.equal(res.status, 200, res.body);
        assert.equal(
          (res.json as { headers: Record<string, string> }).headers['x-forwarded-for'],
          CLIENT,
        );
      });
    }

    test('a header and the ClientHello in one segment: the bytes behind the header reach TLS', async () => {
      // node:tls writes straight to a net.Socket's handle, so the TLS client runs
      // over a JS stream instead: its first write (the ClientHello) leaves in
      // one raw write together with the header.
      const res = await new Promise<MtlsResponse>((resolve, reject) => {
        const raw = net.connect({ host: '127.0.0.1', port: gw.port, localAddress: '127.0.0.1' });
        raw.setNoDelay(true);
        raw.on('error', reject);
        let first = true;
        const wire = new Duplex({
          read() {},
          write(chunk: Buffer, _enc, cb) {
            const out = first ? Buffer.concat([header(CLIENT, 2), chunk]) : chunk;
            first = false;
            raw.write(out, cb);
          },
          final(cb) {
            raw.end();
            cb();
          },
        });
        raw.on('data', (d: Buffer) => wire.push(d));
        raw.on('end', () => wire.push(null));
        raw.once('connect', () => {
          const secure = tls.connect({
            socket: wire,
            ...gatewayClientTls(pki, acme.client),
          });
          secure.on('error', reject);
          const req = http.request(
            {
              createConnection: () => secure,
              path: '/one-segment',
              headers: { host: 'localhost' },
            },
            (r) => {
              const chunks: Buffer[] = [];
              r.on('data', (d: Buffer) => chunks.push(d));
              r.on('end', () => {
                raw.destroy();
                resolve({
                  status: r.statusCode ?? 0,
                  headers: r.headers,
                  body: Buffer.concat(chunks).toString('utf8'),
                  json: undefined,
                });
              });
            },
          );
          req.on('error', reject);
          req.end();
        });
      });
      assert.equal(res.status, 200, res.body);
      await waitForAudit(
        gw.gateway,
        (r) => r.kind === 'request' && r.path === '/one-segment' && r.ip === CLIENT,
      );
    });

    test('a v2 LOCAL header (a balancer health check) stands for the balancer itself', async () => {
      await sendAndWaitClose(gw.port, '127.0.0.1', [
        buildProxyHeader({ version: 2 }),
        Buffer.from([0x16, 0x03, 0x01]),
      ]);
      // 127.0.0.1 is not a registered institution: refused as what it is, the balancer.
      await waitForAudit(
        gw.gateway,
        (r) => r.reason === 'ip_not_registered' && r.ip === '127.0.0.1',
      );
    });
  },
);

describe('PROXY protocol optional', () => {
  let gw: TestGateway;
  before(async () => {
    // 127.0.0.1 is the balancer; the institution's own address is not trusted.
    gw = await gatewayWith({ proxyProtocol: 'optional', trustedProxies: ['127.0.0.1/32'] });
  });

  test('a direct client outside trustedProxies is served under its own address', async () => {
    const res = await mtlsRequest({
      port: gw.port,
      ca: pki.serverCa.certPem,
      cert: acme.client.certPem,
      key: acme.client.keyPem,
      localAddress: CLIENT,
      path: '/optional-direct',
    });
    assert.equal(res.status, 200, res.body);
    assert.equal(
      (res.json as { headers: Record<string, string> }).headers['x-forwarded-for'],
      CLIENT,
    );
  });

  test('the trusted balancer with a header is believed', async () => {
    const res = await requestAfterPrefix(
      gw.port,
      '127.0.0.1',
      [header(CLIENT, 2)],
      '/optional-proxied',
    );
    assert.equal(res.status, 200, res.body);
  });

  test('a PROXY header from a registered peer outside trustedProxies: proxy_untrusted', async () => {
    await expectClosed(requestAfterPrefix(gw.port, CLIENT, [header(CLIENT)], '/optional-spoof'));
    await waitForAudit(gw.gateway, (r) => r.reason === 'proxy_untrusted' && r.ip === CLIENT);
    assert.equal(
      upstream.requests.some((r) => r.url === '/optional-spoof'),
      false,
    );
  });
});

describe(
  'limits.maxConnectionsPerIp behind a real HAProxy',
  { skip: !haveHaproxy() && 'haproxy is not installed (.ci/run installs it)' },
  () => {
    test("counts each client's PROXY source address, not the balancer's: one client at its limit, another served through the same balancer", async () => {
      const OTHER = '127.0.0.7';
      const beta = await makeInstitution(dir, 'beta');
      await registerInstitution(registry, 'beta', beta.root.certPem, [OTHER]);
      const gw = await gatewayWith({
        proxyProtocol: 'required',
        trustedProxies: ['127.0.0.1'],
        limits: { maxConnectionsPerIp: 1 },
      });
      const lb = await startHaproxy(gw.port);
      started.push(lb);
      // One connection from CLIENT held open through the balancer.
      const raw = net.connect({ host: '127.0.0.1', port: lb.v2Port, localAddress: CLIENT });
      raw.on('error', () => undefined);
      const held = tls.connect({
        socket: raw,
        ...gatewayClientTls(pki, acme.client),
      });
      held.on('error', () => undefined);
      await new Promise<void>((resolve, reject) => {
        held.once('secureConnect', () => resolve());
        held.once('error', reject);
      });
      try {
        await waitForAudit(
          gw.gateway,
          (r) => r.kind === 'connection' && r.reason === 'ok' && r.ip === CLIENT,
        );
        const call = (cert: TestInstitution, localAddress: string, path: string) =>
          mtlsRequest({
            port: lb.v2Port,
            ca: pki.serverCa.certPem,
            cert: cert.client.certPem,
            key: cert.client.keyPem,
            localAddress,
            path,
          });
        await expectClosed(call(acme, CLIENT, '/over-limit'));
        const rec = await waitForAudit(gw.gateway, (r) => r.reason === 'connection_limit');
        assert.equal(rec.ip, CLIENT, 'the PROXY source, not the balancer');
        assert.equal(rec.institutionId, 'acme');
        const other = await call(beta, OTHER, '/other-client');
        assert.equal(other.status, 200, `${other.body}\nhaproxy: ${lb.output()}`);
      } finally {
        held.destroy();
      }
    });
  },
);

describe(
  'PROXY protocol with --workers 2 behind HAProxy (the CLI, flags only)',
  { skip: !haveHaproxy() && 'haproxy is not installed (.ci/run installs it)' },
  () => {
    test("every worker parses the header: all calls are the client's, refusals audited", async () => {
      const config = join(dir, 'workers.yaml');
      writeFileSync(
        config,
        [
          `listen: 127.0.0.1:0`,
          `upstream: ${upstream.url}`,
          `registry: ${join(dir, 'registry.db')}`,
          'tls:',
          `  cert: ${pki.server.certPath}`,
          `  key: ${pki.server.keyPath}`,
          'ops:',
          '  listen: off',
          'drainTimeoutMs: 2000',
          '',
        ].join('\n'),
      );
      const cli = spawnJsonLogCli([
        'gateway',
        'start',
        '--config',
        config,
        '--workers',
        '2',
        '--proxy-protocol',
        'required',
        '--trusted-proxies',
        '127.0.0.1',
      ]);
      const stopCli = async (): Promise<void> => {
        if (cli.child.exitCode !== null || cli.child.signalCode !== null) return;
        cli.child.kill('SIGTERM');
        const timer = setTimeout(() => cli.child.kill('SIGKILL'), 10_000);
        await cli.exited;
        clearTimeout(timer);
      };
      started.push({ stop: stopCli });
      const up = await waitFor(
        () => cli.lines.find((l) => l.msg === 'gateway workers started'),
        60_000,
        `workers start (stderr: ${cli.stderr()})`,
      );
      const upTime = up.time;
      assert.ok(typeof upTime === 'string', 'the start line carries an ISO time');
      const port = Number(String(up.listen).split(':').pop());
      const lb = await startHaproxy(port);
      started.push(lb);
      const calls = [];
      for (let i = 0; i < 8; i++) {
        calls.push(
          mtlsRequest({
            port: i % 2 ? lb.v1Port : lb.v2Port,
            ca: pki.serverCa.certPem,
            cert: acme.client.certPem,
            key: acme.client.keyPem,
            localAddress: CLIENT,
            path: `/workers-${i}`,
          }),
        );
      }
      for (const res of await Promise.all(calls)) {
        assert.equal(res.status, 200, res.body);
        assert.equal(
          (res.json as { headers: Record<string, string> }).headers['x-forwarded-for'],
          CLIENT,
        );
      }
      await expectClosed(
        mtlsRequest({
          port,
          ca: pki.serverCa.certPem,
          cert: acme.client.certPem,
          key: acme.client.keyPem,
          localAddress: '127.0.0.1',
          path: '/workers-direct',
        }),
      );
      await waitFor(
        async () =>
          (await registry.queryAudit({ limit: 1000 })).filter(
            (r) =>
              r.kind === 'request' && r.ip === CLIENT && (r.path ?? '').startsWith('/workers-'),
          ).length === 8,
        10_000,
        'the 8 request records',
      );
      await waitFor(
        async () =>
          (await registry.queryAudit({ limit: 1000 })).some(
            (r) =>
              r.reason === 'proxy_header_missing' &&
              /127\.0\.0\.1/.test(r.detail ?? '') &&
              r.time > upTime,
          ),
        10_000,
        'proxy_header_missing from a worker',
      );
      await stopCli();
      assert.equal(await cli.exited, 0);
    });
  },
);
