/**
 * Connection-level hardening, over raw TLS sockets: pipelined requests after
 * a registry change, a client that resets the connection mid-request, and
 * requests the upstream could read differently from the gateway (no Host,
 * repeated singleton headers), which are refused with 400 and audited; the
 * per-address connection and per-institution rate limits; a body that does
 * not arrive within limits.requestTimeoutMs, and a request cut by the drain
 * timeout, each with its one accurate audit record.
 */
import 'reflect-metadata';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import type { SqliteRegistry } from '../../src/gateway/registry/sqlite-registry.js';
import { tempDir } from '../helpers/pki.js';
import {
  makeInstitution,
  makeServerPki,
  mtlsAttempt,
  openTestRegistry,
  registerInstitution,
  startEchoUpstream,
  startTestGateway,
  uploadCrl,
  auditRecords,
  waitFor,
  waitForAudit,
  type EchoUpstream,
  type TestGateway,
  type TestInstitution,
  type TestServerPki,
  gatewayClientTls,
} from '../helpers/gateway-harness.js';
import { Teardown } from '../helpers/teardown.js';
import { defined } from '../helpers/assert.js';

const { dir, cleanup } = tempDir('mtlskit-gw-hardening-');
const teardown = new Teardown();
teardown.defer(cleanup);
let pki: TestServerPki;
let registry: SqliteRegistry;
let upstream: EchoUpstream;
let gw: TestGateway;
let pipe: TestInstitution;
let reset: TestInstitution;
let pipe2: TestInstitution;
let streamer: TestInstitution;

before(async () => {
  pki = await makeServerPki(dir);
  registry = teardown.use(await openTestRegistry(dir));
  upstream = teardown.use(await startEchoUpstream());
  pipe = await makeInstitution(dir, 'pipe');
  reset = await makeInstitution(dir, 'reset');
  await registerInstitution(registry, 'pipe', pipe.root.certPem, ['127.0.0.1']);
  await registerInstitution(registry, 'reset', reset.root.certPem, ['127.0.0.40']);
  pipe2 = await makeInstitution(dir, 'pipe2');
  await registerInstitution(registry, 'pipe2', pipe2.root.certPem, ['127.0.0.41']);
  streamer = await makeInstitution(dir, 'streamer');
  await registerInstitution(registry, 'streamer', streamer.root.certPem, ['127.0.0.42']);
  gw = teardown.use(await startTestGateway({ registry, upstream: upstream.url, pki }));
});

after(() => teardown.run());

/** A TLS 1.2 connection with a client certificate, collecting everything the gateway sends. */
async function connect(
  leaf: { certPem: string; keyPem: string },
  localAddress: string,
  socket?: net.Socket,
  port = gw.port,
): Promise<{ tls: tls.TLSSocket; received: () => string; closed: Promise<void> }> {
  let data = '';
  const s = tls.connect({
    ...(socket ? { socket } : { host: '127.0.0.1', port, localAddress }),
    ...gatewayClientTls(pki, leaf),
  });
  s.on('data', (d: Buffer) => (data += d.toString('utf8')));
  const closed = new Promise<void>((r) => s.once('close', () => r()));
  s.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    s.once('secureConnect', () => resolve());
    s.once('error', reject);
  });
  return { tls: s, received: () => data, closed };
}

const get = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: api\r\n\r\n`;

describe('gateway hardening', () => {
  test('pipelined requests after a revocation all wait for the re-check: none reaches the upstream', async () => {
    const c = await connect(pipe.client, '127.0.0.1');
    try {
      c.tls.write(get('/pipe-1'));
      await waitFor(() => c.received().includes('"url":"/pipe-1"'), 5_000, 'the first response');
      await uploadCrl(registry, 'pipe', pipe.root, [pipe.client.serialHex]);
      await gw.gateway.reloadTrust();
      c.tls.write(get('/pipe-2') + get('/pipe-3') + get('/pipe-4'));
      await Promise.race([c.closed, new Promise((r) => setTimeout(r, 3_000))]);
      const forwarded = upstream.requests.map((r) => r.url).filter((u) => u.startsWith('/pipe-'));
      assert.deepEqual(
        forwarded,
        ['/pipe-1'],
        `forwarded after the revocation: ${forwarded.join(', ')}`,
      );
      assert.match(
        c.received(),
        /HTTP\/1\.1 403[\s\S]*\{"error":"revoked","requestId":"[0-9a-f-]{36}"\}/,
      );
    } finally {
      c.tls.destroy();
    }
  });

  test('a streaming answer reaches the client piece by piece, not held until the upstream ends it', async () => {
    const { tls: s, received, closed } = await connect(streamer.client, '127.0.0.42');
    s.write('GET /stream HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    // The upstream sends its second piece only once the first reached the client.
    await waitFor(() => received().includes('first'), 5_000, 'the first piece');
    assert.equal(received().includes('second'), false);
    upstream.releaseStreams();
    await closed;
    assert.match(received(), /^HTTP\/1\.1 200/);
    assert.match(received(), /first\n[\s\S]*second\n/);
  });

  test('a client that resets the connection mid-request is audited', async () => {
    const raw = net.connect({ host: '127.0.0.1', port: gw.port, localAddress: '127.0.0.40' });
    await new Promise<void>((resolve, reject) => {
      raw.once('connect', () => resolve());
      raw.once('error', reject);
    });
    raw.on('error', () => undefined);
    const c = await connect(reset.client, '127.0.0.40', raw);
    // The gateway has decided on the connection once its audit record exists.
    await waitForAudit(
      gw.gateway,
      (a) => a.kind === 'connection' && a.ip === '127.0.0.40' && a.reason === 'ok',
      'the accepted connection',
    );
    await new Promise<void>((r) => c.tls.write('GET /half HTTP/1.1\r\nHost: api\r\n', () => r()));
    // Loopback delivers the half request well within this; then a TCP RST, no close_notify, no FIN.
    await new Promise((r) => setTimeout(r, 200));
    raw.resetAndDestroy();
    const r = await waitForAudit(
      gw.gateway,
      (a) => a.kind === 'request' && a.ip === '127.0.0.40' && /ECONNRESET/.test(a.detail ?? ''),
      'the reset request audit',
    );
    assert.equal(r.reason, 'bad_request');
    assert.equal(r.institutionId, 'reset');
    assert.match(r.detail ?? '', /ECONNRESET: the client reset the connection/);
  });

  test('a registered address that connects and closes before the handshake is audited with its address', async () => {
    for (const end of ['close', 'reset'] as const) {
      const raw = net.connect({ host: '127.0.0.1', port: gw.port, localAddress: '127.0.0.40' });
      await new Promise<void>((resolve, reject) => {
        raw.once('connect', () => resolve());
        raw.once('error', reject);
      });
      raw.on('error', () => undefined);
      const since = new Date().toISOString();
      if (end === 'close') raw.end();
      else raw.resetAndDestroy();
      const rec = await waitForAudit(
        gw.gateway,
        (a) => a.kind === 'connection' && a.reason === 'bad_request' && a.time >= since,
        `the record of a connection that ends with a ${end} before the handshake`,
      );
      assert.equal(rec.ip, '127.0.0.40', `the address, not "unknown" (${end})`);
      assert.match(rec.detail ?? '', /closed the connection during the handshake|ECONNRESET/);
    }
  });

  /** Sends one raw request on a fresh accepted connection and returns what came back before the close. */
  async function rawExchange(request: string): Promise<string> {
    const c = await connect(pipe2.client, '127.0.0.41');
    c.tls.write(request);
    await Promise.race([c.closed, new Promise((r) => setTimeout(r, 3_000))]);
    c.tls.destroy();
    return c.received();
  }

  /**
   * Asserts the gateway's 400 refusal (same body and headers as its other
   * refusals, the request id in both), nothing upstream, and a request audit
   * record under that id.
   */
  async function expectBadRequest(
    request: string,
    path: string,
    detail: RegExp,
    status = 400,
  ): Promise<void> {
    const got = await rawExchange(request);
    assert.match(got, new RegExp(`^HTTP/1\\.1 ${status} `), got);
    assert.match(got, /\r\ncontent-type: application\/json\r\n/i);
    assert.match(got, /\r\nconnection: close\r\n/i);
    const id = /\r\nx-request-id: ([0-9a-f-]{36})\r\n/i.exec(got)?.[1];
    assert.ok(id, `no X-Request-Id in ${got}`);
    assert.ok(got.endsWith(`\r\n\r\n{"error":"bad_request","requestId":"${id}"}\n`), got);
    assert.equal(
      upstream.requests.some((r) => r.url === path),
      false,
      `${path} must not reach the upstream`,
    );
    const rec = await waitForAudit(
      gw.gateway,
      (a) => a.kind === 'request' && a.ip === '127.0.0.41' && detail.test(a.detail ?? ''),
      `the audit record of ${path}`,
    );
    assert.equal(rec.reason, 'bad_request');
    assert.equal(rec.outcome, 'rejected');
    assert.equal(rec.status, status);
    assert.equal(rec.institutionId, 'pipe2');
    assert.equal(rec.requestId, id);
  }

  test('an HTTP/1.1 request without Host gets 400 bad_request and an audit record; HTTP/1.0 without Host is served', async () => {
    await expectBadRequest(
      'GET /no-host HTTP/1.1\r\n\r\n',
      '/no-host',
      /without a Host header field/,
    );
    const rec = defined(
      (await auditRecords(gw.gateway)).find(
        (a) => a.kind === 'request' && /without a Host/.test(a.detail ?? ''),
      ),
      'the audit record of the request without Host',
    );
    assert.equal(rec.path, '/no-host');
    assert.equal(rec.method, 'GET');
    const old = await rawExchange('GET /http10 HTTP/1.0\r\n\r\n');
    assert.match(old, /^HTTP\/1\.1 200 /, old);
    assert.ok(upstream.requests.some((r) => r.url === '/http10'));
  });

  test('two Host headers get 400 bad_request before forwarding, not an upstream error', async () => {
    await expectBadRequest(
      'GET /two-hosts HTTP/1.1\r\nHost: api\r\nHost: other\r\n\r\n',
      '/two-hosts',
      /2 host header fields/,
    );
  });

  test('two Authorization or Content-Type headers get 400; two Content-Length headers are a parse error, also 400', async () => {
    await expectBadRequest(
      'GET /two-auth HTTP/1.1\r\nHost: api\r\nAuthorization: Basic YTpi\r\nAuthorization: Basic Yzpk\r\n\r\n',
      '/two-auth',
      /2 authorization header fields/,
    );
    await expectBadRequest(
      'POST /two-ct HTTP/1.1\r\nHost: api\r\nContent-Type: a/b\r\ncontent-type: c/d\r\nContent-Length: 0\r\n\r\n',
      '/two-ct',
      /2 content-type header fields/,
    );
    await expectBadRequest(
      'POST /two-cl HTTP/1.1\r\nHost: api\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx',
      '/two-cl',
      /Duplicate Content-Length/,
    );
  });

  test('a transfer coding other than chunked gets 501: the upstream must never get gzip bytes passed off as the body', async () => {
    await expectBadRequest(
      'POST /te-gzip HTTP/1.1\r\nHost: api\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
      '/te-gzip',
      /transfer coding "gzip, chunked" is not implemented/,
      501,
    );
    // chunked itself, in any case, passes.
    const ok = await rawExchange(
      'POST /te-upper HTTP/1.1\r\nHost: api\r\nTransfer-Encoding: CHUNKED\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
    );
    assert.match(ok, /^HTTP\/1\.1 200 /, ok);
  });

  test('a fragment in the request target gets 400, and an HTTP major version other than 1 gets 505', async () => {
    await expectBadRequest(
      'GET /frag#part HTTP/1.1\r\nHost: api\r\n\r\n',
      '/frag#part',
      /a fragment \(#\) in the request target/,
    );
    await expectBadRequest(
      'GET /two-oh HTTP/2.0\r\nHost: api\r\n\r\n',
      '/two-oh',
      /HTTP\/2\.0 is not supported/,
      505,
    );
  });
});

describe('limits.maxConnectionsPerIp', () => {
  test('one address at its limit is refused before the handshake and audited; other addresses are not affected; a closed connection frees its slot', async () => {
    const limited = await makeInstitution(dir, 'limited');
    await registerInstitution(registry, 'limited', limited.root.certPem, ['127.0.0.43']);
    const capped = await startTestGateway({
      registry,
      upstream: upstream.url,
      pki,
      values: { limits: { maxConnectionsPerIp: 2 } },
    });
    try {
      const call = (cert: TestInstitution, localAddress: string) =>
        mtlsAttempt({
          port: capped.port,
          ca: pki.serverCa.certPem,
          cert: cert.client.certPem,
          key: cert.client.keyPem,
          localAddress,
        });
      const first = await connect(limited.client, '127.0.0.43', undefined, capped.port);
      const second = await connect(limited.client, '127.0.0.43', undefined, capped.port);
      assert.equal(await call(limited, '127.0.0.43'), 'closed', 'a third connection');
      const rec = await waitForAudit(
        capped.gateway,
        (a) => a.reason === 'connection_limit',
        'the connection_limit record',
      );
      assert.equal(rec.kind, 'connection');
      assert.equal(rec.outcome, 'rejected');
      assert.equal(rec.ip, '127.0.0.43');
      assert.equal(rec.institutionId, 'limited');
      assert.equal(rec.subject, null, 'refused before any certificate was seen');
      assert.match(rec.detail ?? '', /2 connection\(s\) from this address are already open/);
      assert.equal(await call(pipe2, '127.0.0.41'), 200, 'another address is served meanwhile');
      // Both held connections still work: the limit refuses new ones only.
      first.tls.write(get('/held'));
      await waitFor(
        () => (/^HTTP\/1\.1 200 /.test(first.received()) ? true : undefined),
        5_000,
        'the held connection answers',
      );
      second.tls.destroy();
      await second.closed;
      await waitFor(
        async () => ((await call(limited, '127.0.0.43')) === 200 ? true : undefined),
        5_000,
        'a slot freed by the close',
      );
      const metrics = await capped.gateway.metrics.registry.metrics();
      assert.match(
        metrics,
        /mtls_gateway_connections_total\{outcome="rejected",reason="connection_limit"\} [1-9]/,
      );
      first.tls.destroy();
    } finally {
      await capped.close();
    }
  });
});

/** The answers in what a keep-alive connection received, split at each status line. */
const answersOf = (received: string): string[] =>
  received.split(/(?=HTTP\/1\.1 \d{3} [A-Z])/).filter((a) => a !== '');

describe('limits.institutionRequestsPerSecond', () => {
  test('an institution over its rate gets 429 with Retry-After on a connection kept open, audited and not forwarded; another institution is not affected', async () => {
    const busy = await makeInstitution(dir, 'busy');
    await registerInstitution(registry, 'busy', busy.root.certPem, ['127.0.0.44']);
    const limited = await startTestGateway({
      registry,
      upstream: upstream.url,
      pki,
      values: { limits: { institutionRequestsPerSecond: 1, institutionRequestBurst: 2 } },
    });
    try {
      const c = await connect(busy.client, '127.0.0.44', undefined, limited.port);
      // Three requests at once on one keep-alive connection: the burst of two, then one too many.
      c.tls.write(get('/rate-1') + get('/rate-2') + get('/rate-3'));
      await waitFor(
        () => (answersOf(c.received()).length === 3 ? true : undefined),
        5_000,
        'three answers',
      );
      const answers = answersOf(c.received());
      assert.match(defined(answers[0], 'first'), /^HTTP\/1\.1 200 /);
      assert.match(defined(answers[1], 'second'), /^HTTP\/1\.1 200 /);
      const third = defined(answers[2], 'third');
      assert.match(third, /^HTTP\/1\.1 429 Too Many Requests\r\n/);
      assert.match(third, /\r\nretry-after: 1\r\n/i);
      assert.doesNotMatch(third, /\r\nconnection: close\r\n/i, 'the connection stays open');
      const id = defined(/\r\nx-request-id: ([0-9a-f-]{36})\r\n/i.exec(third)?.[1], 'request id');
      assert.ok(third.endsWith(`{"error":"rate_limited","requestId":"${id}"}\n`), third);
      assert.equal(
        upstream.requests.some((r) => r.url === '/rate-3'),
        false,
        'the refused request never reached the upstream',
      );
      const rec = await waitForAudit(
        limited.gateway,
        (a) => a.reason === 'rate_limited',
        'the rate_limited record',
      );
      assert.equal(rec.kind, 'request');
      assert.equal(rec.status, 429);
      assert.equal(rec.institutionId, 'busy');
      assert.equal(rec.path, '/rate-3');
      assert.equal(rec.requestId, id);
      // Another institution has its own bucket.
      const other = await mtlsAttempt({
        port: limited.port,
        ca: pki.serverCa.certPem,
        cert: pipe2.client.certPem,
        key: pipe2.client.keyPem,
        localAddress: '127.0.0.41',
      });
      assert.equal(other, 200);
      // After Retry-After, the same connection is served again.
      await new Promise((r) => setTimeout(r, 1_100));
      c.tls.write(get('/rate-4'));
      await waitFor(
        () => (answersOf(c.received()).length === 4 ? true : undefined),
        5_000,
        'the fourth answer',
      );
      assert.match(defined(answersOf(c.received())[3], 'fourth'), /^HTTP\/1\.1 200 /);
      c.tls.destroy();
      const metrics = await limited.gateway.metrics.registry.metrics();
      assert.match(
        metrics,
        /mtls_gateway_requests_total\{outcome="rejected",reason="rate_limited",status="4xx"\} 1\n/,
      );
    } finally {
      await limited.close();
    }
  });

  test("an institution's own rate from the registry replaces the gateway's, on a running gateway and an open connection; cleared, the gateway's applies again", async () => {
    const quota = await makeInstitution(dir, 'quota');
    await registerInstitution(registry, 'quota', quota.root.certPem, ['127.0.0.45']);
    // The gateway's own limit is strict; the institution's contract allows more.
    const limited = await startTestGateway({
      registry,
      upstream: upstream.url,
      pki,
      values: { limits: { institutionRequestsPerSecond: 0.5, institutionRequestBurst: 1 } },
    });
    const burstOf = async (c: Awaited<ReturnType<typeof connect>>, tag: string, n: number) => {
      const before = answersOf(c.received()).length;
      c.tls.write(Array.from({ length: n }, (_, i) => get(`/${tag}-${i}`)).join(''));
      await waitFor(
        () => (answersOf(c.received()).length === before + n ? true : undefined),
        5_000,
        `${n} answers to ${tag}`,
      );
      return answersOf(c.received())
        .slice(before)
        .map((a) => Number(a.slice(9, 12)));
    };
    try {
      const c = await connect(quota.client, '127.0.0.45', undefined, limited.port);
      assert.deepEqual(await burstOf(c, 'default', 3), [200, 429, 429], "the gateway's burst of 1");
      await registry.setInstitutionRequestRate('quota', { requestsPerSecond: 10, burst: 5 });
      // Applied within the registry's poll: the same connection gets the bigger burst.
      await waitFor(
        async () => ((await burstOf(c, 'probe', 1))[0] === 200 ? true : undefined),
        3_000,
        'the institution rate applied',
      );
      // Refilled to its burst at 10/s; seven at once leave no time for another token.
      await new Promise((r) => setTimeout(r, 600));
      assert.deepEqual(await burstOf(c, 'own', 7), [200, 200, 200, 200, 200, 429, 429]);
      const rec = await waitForAudit(
        limited.gateway,
        (a) => a.reason === 'rate_limited' && a.path === '/own-5',
        'the refusal under its own rate',
      );
      assert.match(rec.detail ?? '', /over the institution's own request rate \(10\/s, burst 5\)/);
      // Cleared: the gateway's limits again.
      await registry.setInstitutionRequestRate('quota', null);
      await new Promise((r) => setTimeout(r, 2_100));
      await waitFor(
        async () => ((await burstOf(c, 'back', 2)).join() === '200,429' ? true : undefined),
        3_000,
        "the gateway's limit applied again",
      );
      const back = await waitForAudit(
        limited.gateway,
        (a) => a.reason === 'rate_limited' && (a.path ?? '').startsWith('/back-'),
        "the refusal under the gateway's limit",
      );
      assert.match(
        back.detail ?? '',
        /over limits\.institutionRequestsPerSecond \(0\.5\/s, burst 1\)/,
      );
      c.tls.destroy();
    } finally {
      await limited.close();
    }
  });
});

/** The value of an unlabelled metric in the gateway's /metrics text. */
async function gauge(g: TestGateway, name: string): Promise<number> {
  const text = await g.gateway.metrics.registry.metrics();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return Number(defined(m?.[1], `${name} in the metrics`));
}

/** The request audit records from `ip` (flushed first). */
async function requestRecordsFrom(g: TestGateway, ip: string) {
  return (await auditRecords(g.gateway, { ip })).filter((a) => a.kind === 'request');
}

describe('limits.requestTimeoutMs', () => {
  let timed: TestGateway;
  let slowpoke: TestInstitution;
  before(async () => {
    slowpoke = await makeInstitution(dir, 'slowpoke');
    await registerInstitution(registry, 'slowpoke', slowpoke.root.certPem, [
      '127.0.0.46',
      '127.0.0.47',
      '127.0.0.48',
      '127.0.0.61',
    ]);
    // The smallest timeout the configuration accepts.
    timed = teardown.use(
      await startTestGateway({
        registry,
        upstream: upstream.url,
        pki,
        values: { limits: { requestTimeoutMs: 1_000 } },
      }),
    );
  });

  /**
   * Opens an accepted connection, sends a POST announcing a 1000-byte body
   * and then one byte every 100 ms (for 10 s unless stopped); returns when
   * the request is in flight at the gateway.
   */
  async function trickle(ip: string, path: string, read: boolean) {
    const c = await connect(slowpoke.client, ip, undefined, timed.port);
    if (!read) c.tls.pause();
    c.tls.write(`POST ${path} HTTP/1.1\r\nHost: api\r\nContent-Length: 1000\r\n\r\n`);
    const sentAt = Date.now();
    let n = 0;
    const timer = setInterval(() => {
      if (c.tls.destroyed || ++n > 100) clearInterval(timer);
      else c.tls.write('x');
    }, 100);
    await waitFor(async () => (await gauge(timed, 'mtls_gateway_requests_in_flight')) === 1);
    return { ...c, sentAt, stop: () => clearInterval(timer) };
  }

  /** Waits for the connection to close, failing when it is still open after `ms`. */
  async function closedWithin(closed: Promise<void>, ms: number, what: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      closed,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} still open after ${ms} ms`)), ms);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  /** Asserts the request's one audit record and returns it. */
  async function oneRecord(ip: string, path: string) {
    await waitForAudit(
      timed.gateway,
      (a) => a.kind === 'request' && a.ip === ip,
      `the record of ${path}`,
    );
    // A second record (the client's close seen as a 499) would follow at once.
    await new Promise((r) => setTimeout(r, 300));
    const records = await requestRecordsFrom(timed, ip);
    assert.deepEqual(
      records.map((a) => `${a.reason} ${a.status} ${a.path}`),
      [`bad_request 408 ${path}`],
      'exactly one request record',
    );
    return defined(records[0], 'the record');
  }

  test('a slow body from a client that reads nothing: the connection is closed soon after the timeout, the upstream request aborted, nothing left in flight, one 408 audit record', async () => {
    const c = await trickle('127.0.0.46', '/trickle-unread', false);
    try {
      // node:http checks the timeout once a second (connectionsCheckingInterval).
      await closedWithin(c.closed, 4_000, 'the connection of a client still sending its body');
      assert.ok(Date.now() - c.sentAt >= 1_000, 'not before limits.requestTimeoutMs');
      await waitFor(
        () => upstream.aborted.includes('/trickle-unread'),
        2_000,
        'the upstream request aborted',
      );
      assert.equal(
        upstream.requests.some((r) => r.url === '/trickle-unread'),
        false,
        'the upstream never got the whole body',
      );
      await waitFor(async () => (await gauge(timed, 'mtls_gateway_requests_in_flight')) === 0);
      await waitFor(async () => (await gauge(timed, 'mtls_gateway_open_connections')) === 0);
      const rec = await oneRecord('127.0.0.46', '/trickle-unread');
      assert.equal(rec.method, 'POST');
      assert.equal(rec.institutionId, 'slowpoke');
      assert.match(
        rec.detail ?? '',
        /^ERR_HTTP_REQUEST_TIMEOUT: the request was not received in full within limits\.requestTimeoutMs \(1000 ms\)$/,
      );
    } finally {
      c.stop();
      c.tls.destroy();
    }
  });

  test('a slow body from a client that reads: 408 with the request id, then the connection closes; one audit record under that id', async () => {
    const c = await trickle('127.0.0.47', '/trickle-read', true);
    try {
      await closedWithin(c.closed, 4_000, 'the connection after the 408');
      const got = c.received();
      assert.match(got, /^HTTP\/1\.1 408 Request Timeout\r\n/, got);
      assert.match(got, /\r\nconnection: close\r\n/i);
      const id = defined(/\r\nx-request-id: ([0-9a-f-]{36})\r\n/i.exec(got)?.[1], 'a request id');
      assert.ok(got.endsWith(`\r\n\r\n{"error":"bad_request","requestId":"${id}"}\n`), got);
      await waitFor(
        () => upstream.aborted.includes('/trickle-read'),
        2_000,
        'the upstream request aborted',
      );
      const rec = await oneRecord('127.0.0.47', '/trickle-read');
      assert.equal(rec.requestId, id, 'the record of the request the client was answered for');
      await waitFor(async () => (await gauge(timed, 'mtls_gateway_requests_in_flight')) === 0);
    } finally {
      c.stop();
      c.tls.destroy();
    }
  });

  test('a slow body after the upstream has answered: the connection is closed at the timeout without a second, unasked-for answer; the one record is the answer', async () => {
    const c = await connect(slowpoke.client, '127.0.0.61', undefined, timed.port);
    c.tls.write('POST /early HTTP/1.1\r\nHost: api\r\nContent-Length: 1000\r\n\r\n');
    const timer = setInterval(() => {
      if (!c.tls.destroyed) c.tls.write('x');
    }, 100);
    try {
      await closedWithin(c.closed, 4_000, 'the connection of a client still sending its body');
      const statusLines = c.received().match(/^HTTP\/1\.1 \d{3} .*$/gm) ?? [];
      assert.deepEqual(statusLines, ['HTTP/1.1 501 Not Implemented'], c.received());
      await new Promise((r) => setTimeout(r, 300));
      const records = await requestRecordsFrom(timed, '127.0.0.61');
      assert.deepEqual(
        records.map((a) => `${a.reason} ${a.status} ${a.path}`),
        ['ok 501 /early'],
      );
    } finally {
      clearInterval(timer);
      c.tls.destroy();
    }
  });

  test('a client that resets the connection in the middle of a forwarded body: the upstream request is aborted, one audit record (499, ECONNRESET)', async () => {
    const raw = net.connect({ host: '127.0.0.1', port: timed.port, localAddress: '127.0.0.48' });
    raw.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      raw.once('connect', () => resolve());
      raw.once('error', reject);
    });
    const c = await connect(slowpoke.client, '127.0.0.48', raw, timed.port);
    c.tls.write('POST /reset-mid-body HTTP/1.1\r\nHost: api\r\nContent-Length: 1000\r\n\r\nxx');
    await waitFor(async () => (await gauge(timed, 'mtls_gateway_requests_in_flight')) === 1);
    raw.resetAndDestroy();
    await waitFor(
      () => upstream.aborted.includes('/reset-mid-body'),
      2_000,
      'the upstream request aborted',
    );
    await waitForAudit(
      timed.gateway,
      (a) => a.kind === 'request' && a.ip === '127.0.0.48',
      'the record of the reset request',
    );
    await new Promise((r) => setTimeout(r, 300));
    const records = await requestRecordsFrom(timed, '127.0.0.48');
    assert.equal(records.length, 1, records.map((a) => a.detail).join('\n'));
    const rec = defined(records[0], 'the record');
    assert.equal(rec.reason, 'bad_request');
    assert.equal(rec.status, 499);
    assert.equal(rec.path, '/reset-mid-body');
    assert.match(rec.detail ?? '', /^ECONNRESET: the client reset the connection/);
    await waitFor(async () => (await gauge(timed, 'mtls_gateway_requests_in_flight')) === 0);
  });
});

describe('drainTimeoutMs', () => {
  let drained: TestInstitution;
  before(async () => {
    drained = await makeInstitution(dir, 'drained');
    await registerInstitution(registry, 'drained', drained.root.certPem, ['127.0.0.49']);
  });

  for (const durability of ['batched', 'durable'] as const) {
    test(`a request still in flight when the drain time runs out is audited as drain_timeout, not as an upstream error (audit ${durability})`, async () => {
      const since = new Date().toISOString();
      const path = `/slow?ms=3000&drain=${durability}`;
      const draining = await startTestGateway({
        registry,
        upstream: upstream.url,
        pki,
        values: { audit: { flushIntervalMs: 50, durability } },
      });
      const call = mtlsAttempt({
        port: draining.port,
        ca: pki.serverCa.certPem,
        cert: drained.client.certPem,
        key: drained.client.keyPem,
        localAddress: '127.0.0.49',
        path,
      });
      await waitFor(() => upstream.requests.some((r) => r.url === path), 5_000, path);
      await draining.gateway.close({ drainTimeoutMs: 500 });
      assert.equal(await call, 'closed', 'the client gets no answer');
      // The gateway does not close a registry it was given: its records are there.
      const records = (await registry.queryAudit({ ip: '127.0.0.49', since })).filter(
        (a) => a.kind === 'request',
      );
      assert.deepEqual(
        records.map((a) => `${a.reason} ${a.status} ${a.path}`),
        ['drain_timeout null /slow'],
        'one record, with the reason the gateway cut the request for',
      );
      const rec = defined(records[0], 'the record');
      assert.equal(rec.outcome, 'rejected');
      assert.equal(rec.institutionId, 'drained');
      assert.match(
        rec.detail ?? '',
        /^still in flight when the drain time \(500 ms\) ran out at shutdown: the gateway closed the connection before the upstream answered/,
      );
      const metrics = await draining.gateway.metrics.registry.metrics();
      assert.match(
        metrics,
        /mtls_gateway_requests_total\{outcome="rejected",reason="drain_timeout",status="none"\} 1\n/,
      );
      assert.doesNotMatch(metrics, /reason="upstream_error"/, 'not counted as an upstream error');
    });
  }
});
