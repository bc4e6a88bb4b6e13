/**
 * The floors for `npm run bench:gateway -- --floor` (and `--layers`): Node
 * servers with the gateway's TLS settings (TLS 1.2 only, the same ciphers,
 * client certificate required and verified by OpenSSL, no tickets) that do
 * less than the gateway, one layer at a time:
 *
 * - `tls`: a bare node:tls server answering every request head with a fixed
 *   response, without HTTP parsing, policy, audit or upstream. What it costs
 *   per connection is what Node and OpenSSL cost.
 * - `http`: node:http on those TLS sockets (handed over with
 *   `emit('connection')`, as the gateway does), answering a fixed response.
 * - `http-undici`: node:http forwarding every request to the bench upstream
 *   through an undici pool (hop-by-hop headers dropped), the gateway's two
 *   HTTP layers without its policy, identity headers, audit or metrics.
 *
 * The gateway's CPU beyond the last layer is its own. Run as its own process:
 * argv is `layer certFile keyFile caFile [upstreamPort]`; sends its port to
 * the parent over IPC.
 */
import { constants } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { Pool, type Dispatcher } from 'undici';
import { TLS12_AEAD_CIPHERS } from '../src/tls/versions.js';

/** The server layers this file can run. */
export type FloorLayer = 'tls' | 'http' | 'http-undici';

const [layer, certFile, keyFile, caFile, upstreamPort] = process.argv.slice(2) as [
  FloorLayer,
  string,
  string,
  string,
  string | undefined,
];
const body = Buffer.from('{"ok":true,"service":"bench-upstream"}\n');
const response = Buffer.concat([
  Buffer.from(
    `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
  ),
  body,
]);

/** Answers request heads with the fixed response, without an HTTP parser (the bench sends no bodies). */
function answerRaw(socket: tls.TLSSocket): void {
  let seen = '';
  socket.on('data', (d: Buffer) => {
    seen += d.toString('latin1');
    let end: number;
    while ((end = seen.indexOf('\r\n\r\n')) >= 0) {
      const head = seen.slice(0, end);
      seen = seen.slice(end + 4);
      if (/\r\nconnection:\s*close/i.test(head)) socket.end(response);
      else socket.write(response);
    }
  });
  socket.on('error', () => socket.destroy());
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding']);

/** Forwards one request through the pool and streams the answer back. */
function forward(pool: Pool, req: http.IncomingMessage, res: http.ServerResponse): void {
  const headers: string[] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    if (!HOP_BY_HOP.has(name.toLowerCase())) headers.push(name, raw[i + 1] as string);
  }
  // onRequestStart marks the handler as undici's controller-style one, as in src/gateway/proxy.ts.
  const handler: Dispatcher.DispatchHandler = {
    onRequestStart: () => undefined,
    onResponseStart: (_c, status, upstreamHeaders) => {
      const out: Record<string, string | string[]> = {};
      for (const k in upstreamHeaders) {
        const v = upstreamHeaders[k];
        if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
      }
      res.writeHead(status, out);
    },
    onResponseData: (_c, chunk) => {
      res.write(chunk);
    },
    onResponseEnd: () => {
      res.end();
    },
    onResponseError: () => {
      res.destroy();
    },
  };
  pool.dispatch({ path: req.url ?? '/', method: req.method ?? 'GET', headers }, handler);
}

function httpLayer(): http.Server {
  const pool =
    layer === 'http-undici'
      ? new Pool(`http://127.0.0.1:${upstreamPort}`, { connections: 64 })
      : null;
  const server = http.createServer((req, res) => {
    if (pool) {
      forward(pool, req, res);
      return;
    }
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
  // Never listens (sockets arrive with emit('connection')), as in the gateway.
  server.emit('listening');
  return server;
}

const httpServer = layer === 'tls' ? null : httpLayer();
const server = tls.createServer(
  {
    cert: readFileSync(certFile),
    key: readFileSync(keyFile),
    ca: [readFileSync(caFile, 'utf8')],
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.2',
    ciphers: TLS12_AEAD_CIPHERS,
    honorCipherOrder: true,
    secureOptions: constants.SSL_OP_NO_RENEGOTIATION | constants.SSL_OP_NO_TICKET,
  },
  (socket) => {
    if (httpServer) httpServer.emit('connection', socket);
    else answerRaw(socket);
  },
);
server.listen(0, '127.0.0.1', () =>
  process.send?.({ port: (server.address() as AddressInfo).port }),
);
process.on('disconnect', () => process.exit(0));
