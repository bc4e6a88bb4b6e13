/**
 * Test harness for the gateway: a header-echoing upstream, a PKI (server CA,
 * institution CAs and client certificates), a SQLite registry in a temp dir,
 * a gateway on 127.0.0.1:0, and an mTLS HTTP client with a chosen source
 * address. Everything is on loopback.
 */
import 'reflect-metadata';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { loadGatewayConfig } from '../../src/gateway/config.js';
import { startGateway, type RunningGateway } from '../../src/gateway/gateway.js';
import { onboardCaChain, onboardCrls } from '../../src/gateway/onboarding.js';
import {
  openSqliteRegistry,
  type SqliteRegistry,
} from '../../src/gateway/registry/sqlite-registry.js';
import type { AuditQuery, AuditRecord, Registry } from '../../src/gateway/registry/types.js';
import { buildCrl } from '../../src/pki/crl.js';
import {
  makeCa,
  makeLeaf,
  makeServerLeaf,
  type MakeLeafOptions,
  type TestCa,
  type TestLeaf,
} from './pki.js';

/** What the echo upstream saw for one request. */
export interface EchoedRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  bodyLength: number;
}

/** A plain HTTP upstream on 127.0.0.1:0 that answers every request with the request it saw, as JSON. */
export interface EchoUpstream {
  url: string;
  port: number;
  requests: EchoedRequest[];
  /** The URLs of requests whose connection closed before their body ended. */
  aborted: string[];
  /** Lets every `/stream` answer waiting after its first piece finish. */
  releaseStreams(): void;
  close(): Promise<void>;
}

/**
 * Starts the echo upstream. `/slow?ms=N` waits N ms before answering;
 * `/status?code=N` answers with that status; `/stream` sends `first\n`
 * (chunked), then waits for {@link EchoUpstream.releaseStreams} to send
 * `second\n` and end; `/own-request-id` answers with an `X-Request-Id` of
 * its own (`chosen-by-the-upstream`).
 */
export async function startEchoUpstream(): Promise<EchoUpstream> {
  const requests: EchoedRequest[] = [];
  const aborted: string[] = [];
  let waiting: Array<() => void> = [];
  const server = http.createServer((req, res) => {
    req.once('close', () => {
      if (!req.complete) aborted.push(req.url ?? '');
    });
    if (req.url === '/early') {
      // Answers before the body has arrived, as an API refusing a request
      // by its headers does.
      res.writeHead(501, { 'content-length': 2 });
      res.end('no');
      return;
    }
    let bodyLength = 0;
    req.on('data', (d: Buffer) => {
      bodyLength += d.length;
    });
    req.on('end', () => {
      const seen: EchoedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        bodyLength,
      };
      requests.push(seen);
      const u = new URL(req.url ?? '/', 'http://x');
      if (u.pathname === '/stream') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first\n');
        waiting.push(() => res.end('second\n'));
        return;
      }
      const delay = u.pathname === '/slow' ? Number(u.searchParams.get('ms') ?? '0') : 0;
      const status = u.pathname === '/status' ? Number(u.searchParams.get('code') ?? '200') : 200;
      setTimeout(() => {
        const body = JSON.stringify(seen);
        res.writeHead(status, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'x-upstream': 'echo',
          ...(u.pathname === '/own-request-id' ? { 'x-request-id': 'chosen-by-the-upstream' } : {}),
        });
        res.end(body);
      }, delay);
    });
  });
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    aborted,
    releaseStreams: () => {
      const w = waiting;
      waiting = [];
      for (const f of w) f();
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

/** One institution of the test PKI. */
export interface TestInstitution {
  id: string;
  root: TestCa;
  client: TestLeaf;
}

/** The server side of the test PKI. */
export interface TestServerPki {
  serverCa: TestCa;
  server: TestLeaf;
}

/** Makes the gateway's server CA and certificate (localhost, 127.0.0.1, ::1). */
export async function makeServerPki(dir: string): Promise<TestServerPki> {
  const serverCa = await makeCa(dir, { name: 'Gateway Server CA' });
  const server = await makeServerLeaf(dir, serverCa);
  return { serverCa, server };
}

/**
 * What a client of the test gateway passes to `tls.connect`: TLS 1.2 only
 * (the gateway's one version), the server CA, and `leaf` as its certificate.
 */
export function gatewayClientTls(
  pki: TestServerPki,
  leaf: { certPem: string; keyPem: string },
): tls.ConnectionOptions {
  return {
    servername: 'localhost',
    ca: pki.serverCa.certPem,
    cert: leaf.certPem,
    key: leaf.keyPem,
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.2',
  };
}

/** Makes an institution: a root CA and one good client certificate. */
export async function makeInstitution(
  dir: string,
  id: string,
  leaf: MakeLeafOptions = {},
): Promise<TestInstitution> {
  const root = await makeCa(dir, { name: `${id} Root CA` });
  const client = await makeLeaf(dir, root, { cn: `${id}-client`, ...leaf });
  return { id, root, client };
}

/** Opens a fresh SQLite registry in `dir`. */
export function openTestRegistry(dir: string): Promise<SqliteRegistry> {
  return openSqliteRegistry(join(dir, 'registry.db'), { pollIntervalMs: 100 });
}

/** Registers an institution with its CA chain (through onboarding) and its IPs. */
export async function registerInstitution(
  registry: Registry,
  id: string,
  chainPem: string,
  ips: string[],
): Promise<void> {
  await registry.createInstitution({ id, name: `${id} Bank` });
  await onboardCaChain(registry, id, chainPem, { source: `${id}.chain.pem` });
  for (const ip of ips) await registry.addIp(id, ip);
}

/** Builds a CRL signed by `ca` revoking `serials` and uploads it through onboarding. */
export async function uploadCrl(
  registry: Registry,
  institutionId: string,
  ca: TestCa,
  serials: string[],
  crlNumber = 1n,
): Promise<void> {
  const crl = await buildCrl({
    signer: { privateKey: ca.privateKey, certificate: ca.certificate },
    entries: serials.map((serial) => ({ serial, revokedAt: new Date(Date.now() - 60_000) })),
    crlNumber,
  });
  await onboardCrls(registry, institutionId, crl.pem, { source: `${institutionId}.crl.pem` });
}

/** A logger that keeps every line (parsed) in memory. */
export function memoryLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n'))
        if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

/** Options for {@link startTestGateway}. */
export interface StartTestGatewayOptions {
  registry: Registry;
  upstream: string;
  pki: TestServerPki;
  /** Extra configuration values (merged over the defaults used here). */
  values?: Record<string, unknown>;
}

/** A gateway started for a test, with its captured log. */
export interface TestGateway {
  gateway: RunningGateway;
  port: number;
  lines: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

/** Starts a gateway on 127.0.0.1:0 (ops listener on 127.0.0.1:0) with a memory logger. */
export async function startTestGateway(o: StartTestGatewayOptions): Promise<TestGateway> {
  const config = loadGatewayConfig({
    values: {
      listen: '127.0.0.1:0',
      upstream: o.upstream,
      tls: { cert: o.pki.server.certPath, key: o.pki.server.keyPath, handshakeTimeoutMs: 2_000 },
      ops: { listen: '127.0.0.1:0' },
      registryPollMs: 100,
      audit: { flushIntervalMs: 50 },
      ...(o.values ?? {}),
    },
    requireRegistry: false,
    env: {},
  });
  const { logger, lines } = memoryLogger();
  const gateway = await startGateway({ config, registry: o.registry, logger, env: {} });
  return {
    gateway,
    port: gateway.address().port,
    lines,
    close: () => gateway.close({ drainTimeoutMs: 2_000 }),
  };
}

/** Result of {@link mtlsRequest}. */
export interface MtlsResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Parsed JSON body, when it is JSON. */
  json: unknown;
}

/**
 * The body the gateway refuses with, checked: `{"error": reason, "requestId": id}`
 * with the same id in the `X-Request-Id` header. Returns the body with the id
 * replaced by `"<id>"`, so a test can compare it whole.
 */
export function refusalBody(res: Pick<MtlsResponse, 'headers' | 'json'>): unknown {
  const header = res.headers['x-request-id'];
  assert.match(
    String(header),
    /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
  );
  if (typeof res.json !== 'object' || res.json === null || !('requestId' in res.json))
    assert.fail(`no requestId in ${JSON.stringify(res.json)}`);
  assert.equal(res.json.requestId, header, 'the body and the header name the same request');
  return { ...res.json, requestId: '<id>' };
}

/** Options for {@link mtlsRequest}. */
export interface MtlsRequestOptions {
  port: number;
  /** Client certificate and key PEM (omit both to send none). */
  cert?: string;
  key?: string;
  /** A .pfx (client key, certificate and its chain) and its password, instead of cert/key. */
  pfx?: Buffer;
  passphrase?: string;
  /** The gateway's server CA (PEM). */
  ca: string;
  /** Source address on loopback (default 127.0.0.1). */
  localAddress?: string;
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Keep-alive agent to reuse connections. */
  agent?: https.Agent;
  /** TLS version range (default TLS 1.2 only). */
  minVersion?: tls.SecureVersion;
  maxVersion?: tls.SecureVersion;
  timeoutMs?: number;
}

/**
 * One HTTPS request with a client certificate, verifying the gateway's
 * certificate against `ca` (servername localhost).
 * @throws the socket or TLS error when the connection fails
 */
export function mtlsRequest(o: MtlsRequestOptions): Promise<MtlsResponse> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        servername: 'localhost',
        port: o.port,
        method: o.method ?? 'GET',
        path: o.path ?? '/',
        headers: o.headers ?? {},
        ca: o.ca,
        ...(o.cert ? { cert: o.cert } : {}),
        ...(o.key ? { key: o.key } : {}),
        ...(o.pfx ? { pfx: o.pfx, passphrase: o.passphrase } : {}),
        localAddress: o.localAddress ?? '127.0.0.1',
        minVersion: o.minVersion ?? 'TLSv1.2',
        maxVersion: o.maxVersion ?? 'TLSv1.2',
        agent: o.agent ?? false,
        timeout: o.timeoutMs ?? 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          let json: unknown = undefined;
          try {
            json = JSON.parse(body);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    if (o.body !== undefined) req.end(o.body);
    else req.end();
  });
}

/**
 * One call: the HTTP status, or `closed` when the gateway closed the
 * connection before the handshake (its answer to a source IP with no active
 * institution, or to a registry it can no longer trust).
 */
export async function mtlsAttempt(o: MtlsRequestOptions): Promise<number | 'closed'> {
  try {
    return (await mtlsRequest(o)).status;
  } catch (e) {
    if (
      ['ECONNRESET', 'EPIPE'].includes((e as NodeJS.ErrnoException).code ?? '') ||
      /socket disconnected|socket hang up/.test((e as Error).message)
    )
      return 'closed';
    throw e;
  }
}

/** Runs a program and collects its output (never throws on a non-zero exit). */
export function run(
  cmd: string,
  args: string[],
  input = '',
  timeoutMs = 20_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

/** Waits until `check` returns a value (polls every 25 ms, bounded). */
export async function waitFor<T>(
  check: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs = 5_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Flushes the gateway's audit queue and queries the registry. */
export async function auditRecords(
  g: RunningGateway,
  query: AuditQuery = {},
): Promise<AuditRecord[]> {
  await g.flushAudit();
  return g.registry.queryAudit({ limit: 1000, ...query });
}

/** Waits for an audit record matching `pred` (newest first in the registry). */
export async function waitForAudit(
  g: RunningGateway,
  pred: (r: AuditRecord) => boolean,
  what = 'audit record',
): Promise<AuditRecord> {
  try {
    return await waitFor(async () => (await auditRecords(g)).find(pred), 5_000, what);
  } catch (e) {
    const recent = (await auditRecords(g))
      .slice(0, 6)
      .map(
        (r) =>
          `${r.kind} ${r.ip} ${r.reason} ${r.institutionId ?? '-'} ${r.status ?? ''} ${r.detail ?? ''}`,
      );
    throw new Error(`${(e as Error).message}; newest records:\n  ${recent.join('\n  ')}`);
  }
}
