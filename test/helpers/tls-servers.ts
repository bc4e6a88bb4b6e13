/**
 * Local servers for the client tests, each on 127.0.0.1 and a free port:
 * a Node HTTPS server (mTLS or not, version-pinned), a TCP server that closes
 * on connect, and `openssl s_server` as an independent oracle.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer as createHttpsServer, type ServerOptions } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';

/** A running test server. */
export interface TestServer {
  port: number;
  /** `https://localhost:PORT` */
  url: string;
  close: () => Promise<void>;
  /** Client subjects the server saw, one per request (mTLS servers only). */
  seen: string[];
  /** Events from the TLS layer: `tlsClientError` codes and authorization errors. */
  events: string[];
}

/** Options for {@link startNodeServer}. */
/** What the echo server of {@link startNodeServer} answers. */
export interface EchoBody {
  ok: true;
  method: string;
  path: string;
  body: string;
  contentType: string | null;
  client: string | null;
}

/** Parses an echo server answer. */
export function parseEcho(text: string): EchoBody {
  return JSON.parse(text) as EchoBody;
}

export interface NodeServerOptions {
  certPem: string;
  keyPem: string;
  /** CAs trusted for client certificates (also the CA names in the CertificateRequest). */
  ca?: string[];
  /** Ask for a client certificate (default true). */
  requestCert?: boolean;
  /** Default TLSv1.2 for both. */
  minVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  maxVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  /** OpenSSL cipher string; TLS 1.0/1.1 need `DEFAULT@SECLEVEL=0` on OpenSSL 3. */
  ciphers?: string;
  /** Accept the handshake and the request, then never answer (a slow API behind the TLS endpoint). */
  hang?: boolean;
}

/**
 * A Node HTTPS server with requestCert and rejectUnauthorized: like the
 * gateway's tenant servers, it drops a client whose certificate fails
 * verification after the handshake, without an alert. It answers every
 * request with JSON `{ ok, method, path, body, contentType, client }`, with
 * status 200, or NNN for a path `/status/NNN` (or never, with `hang`).
 */
export async function startNodeServer(options: NodeServerOptions): Promise<TestServer> {
  const seen: string[] = [];
  const events: string[] = [];
  const requestCert = options.requestCert ?? true;
  const tlsOptions: ServerOptions = {
    cert: options.certPem,
    key: options.keyPem,
    requestCert,
    rejectUnauthorized: requestCert,
    minVersion: options.minVersion ?? 'TLSv1.2',
    maxVersion: options.maxVersion ?? 'TLSv1.2',
    ...(options.ca ? { ca: options.ca } : {}),
    ...(options.ciphers ? { ciphers: options.ciphers } : {}),
  };
  const server = createHttpsServer(tlsOptions, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (options.hang) return;
      if (!(req.socket instanceof TLSSocket)) throw new Error('an https request without TLS');
      const peer = req.socket.getPeerCertificate();
      // An empty object when the client sent no certificate.
      const cn = Object.keys(peer).length > 0 ? peer.subject.CN : undefined;
      const client = typeof cn === 'string' ? cn : null;
      if (client) seen.push(client);
      const status = /^\/status\/(\d{3})/.exec(req.url ?? '');
      res.statusCode = status ? Number(status[1]) : 200;
      res.setHeader('content-type', 'application/json');
      res.setHeader('x-test', 'yes');
      res.end(
        JSON.stringify({
          ok: true,
          method: req.method,
          path: req.url,
          body: Buffer.concat(chunks).toString('utf8'),
          contentType: req.headers['content-type'] ?? null,
          client,
        }),
      );
    });
  });
  server.on('tlsClientError', (e: NodeJS.ErrnoException) =>
    events.push(`tlsClientError:${e.code ?? e.message}`),
  );
  server.on('secureConnection', (s: TLSSocket) => {
    if (!s.authorized && requestCert) events.push(`unauthorized:${String(s.authorizationError)}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `https://localhost:${port}`,
    seen,
    events,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A TCP server that accepts and immediately closes every connection (like a gateway for an unregistered IP). */
export async function startClosingServer(): Promise<TestServer> {
  const sockets = new Set<Socket>();
  const server = createNetServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `https://localhost:${port}`,
    seen: [],
    events: [],
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** Options for {@link startOpensslServer}. */
export interface OpensslServerOptions {
  certPath: string;
  keyPath: string;
  /** -CAfile: trusted client CAs and the CertificateRequest's CA names. */
  caFile: string;
  /** Extra arguments (default `-tls1_2`). */
  versionArgs?: string[];
  /** -Verify depth (default 1). */
  verifyDepth?: number;
}

/**
 * `openssl s_server -Verify 1 -verify_return_error -tls1_2 -CAfile … -www`:
 * requires a client certificate, sends an alert on a failed verification
 * (unknown_ca, certificate_expired, unsupported_certificate, …) and answers
 * `GET /` with a 200 status page. Resolves once it printed ACCEPT.
 */
export async function startOpensslServer(
  options: OpensslServerOptions,
): Promise<TestServer & { child: ChildProcess }> {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const child = spawn(
      'openssl',
      [
        's_server',
        '-accept',
        `127.0.0.1:${port}`,
        '-cert',
        options.certPath,
        '-key',
        options.keyPath,
        '-CAfile',
        options.caFile,
        '-Verify',
        String(options.verifyDepth ?? 1),
        '-verify_return_error',
        ...(options.versionArgs ?? ['-tls1_2']),
        '-www',
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    const output: string[] = [];
    const ready = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 10_000);
      const onData = (d: Buffer): void => {
        output.push(d.toString());
        if (output.join('').includes('ACCEPT')) {
          clearTimeout(timer);
          resolve(true);
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', (d: Buffer) => output.push(d.toString()));
      child.once('exit', () => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    if (ready) {
      return {
        port,
        url: `https://localhost:${port}`,
        seen: [],
        events: output,
        child,
        close: () =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null) {
              resolve();
              return;
            }
            child.once('exit', () => resolve());
            child.kill();
          }),
      };
    }
    child.kill();
    if (attempt >= 2) throw new Error(`openssl s_server did not start: ${output.join('')}`);
  }
}

/**
 * A TCP server that answers any ClientHello with the given TLS records
 * (hand-made bytes), to show how the client reads unusual answers.
 */
export async function startScriptedServer(answer: Buffer): Promise<TestServer> {
  const sockets = new Set<Socket>();
  const server = createNetServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.once('data', () => s.write(answer));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `https://localhost:${port}`,
    seen: [],
    events: [],
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
