/**
 * The admin API: REST JSON over the registry on its own listener, loopback by
 * default, never open. Every `/v1` request must present either an admin
 * client certificate (mTLS against the admin CA file) or the bearer token
 * read from a file; starting with neither is a configuration error.
 * `/healthz` and `/readyz` answer without authentication (they reveal only
 * up/ready), so orchestrator probes work.
 *
 * The routes, their schemas and the operations they call are declared once
 * in `routes.ts` (the client builds its requests from the same table); errors
 * are `{"error": {code, message, hint}}` with the code's HTTP status.
 */
import { isLoopbackHost, normalizeIp } from '../ip-match.js';
import { listenFailure } from '../listen-failure.js';
import { createHash, timingSafeEqual, X509Certificate as NodeX509 } from 'node:crypto';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createSecureContext, TLSSocket, type PeerCertificate } from 'node:tls';
import { ERROR_CODES, MtlsError, toMtlsError } from '../../errors/index.js';
import { readFileChecked } from '../../io/index.js';
import type { Registry } from '../registry/types.js';
import { dispatch, fail, HttpError, readBody } from './dispatch.js';
import { createLocalAdmin, type LocalAdminOptions, type RegistryAdmin } from './operations.js';
import { createConsole, type ConsoleApp, type ConsoleOptions } from '../console/handler.js';
import { AuthThrottle, type AuthThrottleOptions } from './auth-throttle.js';

/** Default admin listener port. */
export const DEFAULT_ADMIN_PORT = 8444;
/** Default request body limit (1 MiB). */
export const DEFAULT_ADMIN_BODY_LIMIT = 1024 * 1024;

/** One served admin request, for the operator's log. */
export interface AdminRequestLog {
  time: string;
  method: string;
  path: string;
  status: number;
  /** `token`, `cert:SUBJECT`, or null when unauthenticated. */
  actor: string | null;
  /** The caller's address: who tried, when a sign-in fails. */
  ip: string;
  durationMs: number;
  /** Error code when the request failed. */
  error?: string;
}

/** Options for {@link startAdminServer}. */
export interface AdminServerOptions {
  /** The registry the API manages (not closed by the server). */
  registry: Registry;
  /** Listen address (default 127.0.0.1). */
  host?: string;
  /** Listen port (default 8444; 0 picks a free port). */
  port?: number;
  /** File whose first line is the bearer token (at least 16 characters). */
  tokenFile?: string;
  /** PEM CA file that admin client certificates must chain to (requires TLS). */
  clientCaFile?: string;
  /** Server certificate (PEM) for HTTPS; required with `clientCaFile` and on non-loopback addresses. */
  certFile?: string;
  /** Server private key (PEM) for HTTPS. */
  keyFile?: string;
  /** Passphrase of an encrypted `keyFile`. */
  keyPassphrase?: string;
  /** Request body limit in bytes (default 1 MiB). */
  bodyLimit?: number;
  /** Extra readiness check for /readyz (default: the registry answers). */
  ready?: () => Promise<{ ok: boolean; detail?: string }>;
  /** Called after every request (no secrets are in the entry). */
  onRequest?: (entry: AdminRequestLog) => void;
  /** Log, metrics and limits for CRL downloads asked for through the API. */
  crlDownload?: LocalAdminOptions['crlDownload'];
  /** Web console hook: what the console at /console/ shows beyond the registry. */
  console?: ConsoleOptions;
  /** Limits on failed sign-ins per client address (bearer token, console sign-in). */
  authThrottle?: AuthThrottleOptions;
}

/** A running admin API. */
export interface RunningAdmin {
  /** Base URL, e.g. `https://127.0.0.1:8444`. */
  url: string;
  host: string;
  port: number;
  /** True when served over HTTPS. */
  tls: boolean;
  server: Server;
  /** Stops accepting, lets requests in flight finish (up to 5 s), then closes. */
  close(): Promise<void>;
}

/** The clientAuth extended key usage (RFC 5280 §4.2.1.12, id-kp 2). */
const CLIENT_AUTH_EKU = '1.3.6.1.5.5.7.3.2';

const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** What the admin API's listener settings come to, checked, with their files read. */
export interface AdminSettings {
  host: string;
  port: number;
  bodyLimit: number;
  /** SHA-256 of the bearer token, when a token file is set. */
  tokenHash: Buffer | undefined;
  /** The admin clients' CA, when set (HTTPS then). */
  clientCa: Buffer | undefined;
  /** The HTTPS server credential, or null for plain HTTP (loopback only). */
  tls: { cert: Buffer; key: Buffer } | null;
}

/**
 * Checks the admin API's settings and reads their files, as a start would,
 * without listening: what {@link startAdminServer} does first, and what
 * `mtls gateway start --check` runs so that it fails where the start would.
 * @throws MTLS_CONFIG_INVALID when no authentication is configured, a client
 * CA is given without a server certificate, a non-loopback address has no
 * TLS, a file is unreadable, the token too short, or OpenSSL refuses the
 * certificate and key
 */
export async function loadAdminSettings(
  options: Omit<AdminServerOptions, 'registry'>,
): Promise<AdminSettings> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? DEFAULT_ADMIN_PORT;
  const bodyLimit = options.bodyLimit ?? DEFAULT_ADMIN_BODY_LIMIT;
  if (!options.tokenFile && !options.clientCaFile) {
    throw new MtlsError(
      'MTLS_CONFIG_INVALID',
      'the admin API has no authentication configured, and it is never started open',
      {
        subject: 'admin',
        hint: 'Set admin.tokenFile (a file holding a random token, e.g. `openssl rand -hex 32 > admin.token`) and/or admin.clientCaFile with admin.certFile and admin.keyFile.',
      },
    );
  }
  const useTls = Boolean(options.certFile || options.keyFile);
  if (useTls && !(options.certFile && options.keyFile)) {
    throw new MtlsError('MTLS_CONFIG_INVALID', 'admin HTTPS needs both certFile and keyFile', {
      subject: options.certFile ? 'admin.keyFile' : 'admin.certFile',
    });
  }
  if (options.clientCaFile && !useTls) {
    throw new MtlsError(
      'MTLS_CONFIG_INVALID',
      'admin.clientCaFile requires HTTPS, but admin.certFile and admin.keyFile are not set',
      {
        subject: 'admin.clientCaFile',
        hint: 'Give the admin listener a server certificate and key, or use admin.tokenFile alone on loopback.',
      },
    );
  }
  if (!useTls && !isLoopbackHost(host)) {
    throw new MtlsError(
      'MTLS_CONFIG_INVALID',
      `the admin API would listen on ${host} over plain HTTP; the bearer token would cross the network in clear`,
      {
        subject: 'admin.host',
        hint: 'Keep the admin API on 127.0.0.1, or give it admin.certFile and admin.keyFile for HTTPS.',
      },
    );
  }
  if (!Number.isInteger(bodyLimit) || bodyLimit < 1024) {
    throw new MtlsError(
      'MTLS_CONFIG_INVALID',
      `admin bodyLimit ${bodyLimit} must be an integer of at least 1024 bytes`,
      { subject: 'admin.bodyLimit' },
    );
  }
  const readConfigFile = async (path: string, key: string): Promise<Buffer> => {
    try {
      return await readFileChecked(path, key);
    } catch (e) {
      const err = toMtlsError(e);
      // The reader's message names the key already (it was given it as the file's description).
      throw new MtlsError(
        'MTLS_CONFIG_INVALID',
        err.message.includes(key) ? err.message : `${key}: ${err.message}`,
        {
          subject: key,
          cause: e,
          hint: `Fix the path given for ${key}.`,
        },
      );
    }
  };
  let tokenHash: Buffer | undefined;
  if (options.tokenFile) {
    const token =
      (await readConfigFile(options.tokenFile, 'admin.tokenFile'))
        .toString('utf8')
        .split(/\r?\n/)[0]
        ?.trim() ?? '';
    if (token.length < 16) {
      throw new MtlsError(
        'MTLS_CONFIG_INVALID',
        `admin.tokenFile ${options.tokenFile} holds a token shorter than 16 characters`,
        {
          subject: 'admin.tokenFile',
          hint: 'Write a long random token: openssl rand -hex 32 > admin.token',
        },
      );
    }
    tokenHash = sha256(token);
  }
  const clientCa = options.clientCaFile
    ? await readConfigFile(options.clientCaFile, 'admin.clientCaFile')
    : undefined;
  let tls: AdminSettings['tls'] = null;
  if (options.certFile && options.keyFile) {
    const cert = await readConfigFile(options.certFile, 'admin.certFile');
    const key = await readConfigFile(options.keyFile, 'admin.keyFile');
    try {
      createSecureContext({
        cert,
        key,
        ...(options.keyPassphrase !== undefined ? { passphrase: options.keyPassphrase } : {}),
        ...(clientCa ? { ca: clientCa } : {}),
      });
    } catch (e) {
      throw new MtlsError(
        'MTLS_CONFIG_INVALID',
        `admin certFile/keyFile cannot be used: ${e instanceof Error ? e.message : String(e)}`,
        {
          subject: 'admin.certFile',
          cause: e,
          hint: 'Check that the key belongs to the certificate and the passphrase is right.',
        },
      );
    }
    tls = { cert, key };
  }
  return { host, port, bodyLimit, tokenHash, clientCa, tls };
}

/**
 * Starts the admin API.
 * @throws the errors of {@link loadAdminSettings}, and MTLS_NETWORK when the
 * address cannot be bound (see listen-failure.ts)
 */
export async function startAdminServer(options: AdminServerOptions): Promise<RunningAdmin> {
  const { host, port, bodyLimit, tokenHash, clientCa, tls } = await loadAdminSettings(options);
  const useTls = tls !== null;
  const admin = createLocalAdmin(
    options.registry,
    options.crlDownload ? { crlDownload: options.crlDownload } : {},
  );
  const ctx: Omit<HandlerContext, 'console'> = {
    admin,
    registry: options.registry,
    tokenHash,
    certAuth: Boolean(clientCa),
    bodyLimit,
    ready: options.ready,
    onRequest: options.onRequest,
    throttle: new AuthThrottle(options.authThrottle),
  };
  // Web console hook: the console borrows this server's authentication, body limit and readiness.
  const consoleApp = await createConsole(
    {
      registry: options.registry,
      tls: useTls,
      authenticate: (req, bearer) => authenticate(req, ctx, bearer),
      readBody: (req) => readBody(req, bodyLimit),
      readiness: () => readiness(ctx),
    },
    options.console,
  );
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    void handle(req, res, { ...ctx, console: consoleApp });
  };
  let server: Server;
  if (tls) {
    server = createHttpsServer(
      {
        cert: tls.cert,
        key: tls.key,
        ...(options.keyPassphrase !== undefined ? { passphrase: options.keyPassphrase } : {}),
        minVersion: 'TLSv1.2',
        // The handshake must also admit token callers without a certificate; every
        // request then goes through authenticate(), which accepts a certificate
        // only when socket.authorized is true (and it carries clientAuth, no CA:TRUE).
        ...(clientCa ? { ca: clientCa, requestCert: true, rejectUnauthorized: false } : {}),
      },
      handler,
    );
  } else {
    server = createHttpServer(handler);
  }
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException): void => {
      reject(listenFailure(e, 'admin.listen', { host, port }));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const addr = server.address();
  if (addr === null || typeof addr === 'string')
    throw new MtlsError('MTLS_INTERNAL', 'the admin listener has no TCP address after listen()');
  const urlHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `${useTls ? 'https' : 'http'}://${urlHost}:${addr.port}`,
    host: addr.address,
    port: addr.port,
    tls: useTls,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.closeAllConnections(), 5000);
        timer.unref();
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}

interface HandlerContext {
  admin: RegistryAdmin;
  registry: Registry;
  tokenHash: Buffer | undefined;
  certAuth: boolean;
  bodyLimit: number;
  ready: AdminServerOptions['ready'];
  onRequest: AdminServerOptions['onRequest'];
  /** Failed sign-ins per client address. */
  throttle: AuthThrottle;
  /** Web console hook. */
  console: ConsoleApp;
}

/**
 * Who is calling: a valid admin client certificate, or the bearer token. A
 * certificate cannot be guessed, so it is accepted whatever the address's
 * record; a token is checked only while the address has not failed too
 * often (see auth-throttle.ts), and each refusal counts.
 */
function authenticate(
  req: IncomingMessage,
  ctx: Omit<HandlerContext, 'console'>,
  // Web console hook: the console's sign-in passes the token it was given.
  header = req.headers.authorization,
): string {
  const byCert = certificateActor(req, ctx);
  if (byCert) return byCert;
  const address = req.socket.remoteAddress ?? 'unknown';
  const now = Date.now();
  const wait = ctx.throttle.retryAfterSeconds(address, now);
  if (wait > 0)
    throw new HttpError(
      429,
      new MtlsError(
        'MTLS_RATE_LIMITED',
        `too many failed sign-ins from ${address}; this address is refused for ${wait} s more`,
        { subject: address },
      ),
      { 'retry-after': String(wait) },
    );
  try {
    const actor = tokenActor(header, ctx);
    ctx.throttle.succeeded(address);
    return actor;
  } catch (e) {
    ctx.throttle.failed(address, now);
    throw e;
  }
}

/** The actor named by a valid admin client certificate, or undefined. */
function certificateActor(
  req: IncomingMessage,
  ctx: Pick<HandlerContext, 'certAuth'>,
): string | undefined {
  const sock = req.socket;
  if (!ctx.certAuth || !(sock instanceof TLSSocket) || !sock.authorized) return undefined;
  // Node returns {} (no `raw`) when the peer sent no certificate, whatever its typings say.
  const peer: Partial<PeerCertificate> = sock.getPeerCertificate(false);
  const cert = peer.raw ? new NodeX509(peer.raw) : undefined;
  // Likewise `keyUsage` (the EKU OIDs) is undefined without the extension.
  const ekus: string[] | undefined = cert?.keyUsage;
  // RFC 5280 §4.2.1.12: a certificate without the clientAuth EKU (or a CA
  // certificate) is not an admin client credential, whatever OpenSSL allows.
  if (cert && !cert.ca && ekus?.includes(CLIENT_AUTH_EKU))
    return `cert:${cert.subject.replace(/\n/g, ',')}`;
  return undefined;
}

/** The bearer token's actor, or a 401 naming what is missing or wrong. */
function tokenActor(
  header: string | undefined,
  ctx: Pick<HandlerContext, 'tokenHash' | 'certAuth'>,
): string {
  // RFC 6750 §2.1: Authorization: Bearer <token>.
  if (ctx.tokenHash && typeof header === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    // Compare digests so the comparison is constant-time whatever the length.
    if (m?.[1] !== undefined && timingSafeEqual(sha256(m[1]), ctx.tokenHash)) return 'token';
    throw fail(
      401,
      'MTLS_UNAUTHORIZED',
      'the bearer token is not valid for this admin API',
      'Check the token file given with --admin-token-file.',
    );
  }
  throw fail(
    401,
    'MTLS_UNAUTHORIZED',
    ctx.certAuth
      ? 'no valid admin client certificate or bearer token was presented'
      : 'no bearer token was presented',
    ctx.certAuth
      ? 'Present an admin client certificate (clientAuth EKU, issued by the admin CA) or Authorization: Bearer TOKEN.'
      : 'Send Authorization: Bearer TOKEN (the CLI: --admin-token-file FILE).',
  );
}

function send(
  res: ServerResponse,
  status: number,
  body?: unknown,
  headers: Record<string, string> = {},
): void {
  if (body === undefined) {
    res.writeHead(status, { 'cache-control': 'no-store', ...headers });
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(text);
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: HandlerContext,
): Promise<void> {
  const started = process.hrtime.bigint();
  const method = req.method ?? 'GET';
  let path = '/';
  let actor: string | null = null;
  let status = 500;
  let errorCode: string | undefined;
  try {
    const url = new URL(req.url ?? '/', 'http://admin.invalid');
    path = url.pathname;
    if (path === '/healthz' && (method === 'GET' || method === 'HEAD')) {
      status = 200;
      send(res, status, { status: 'ok' });
      return;
    }
    if (path === '/readyz' && (method === 'GET' || method === 'HEAD')) {
      const r = await readiness(ctx);
      status = r.ok ? 200 : 503;
      send(
        res,
        status,
        r.ok
          ? { status: 'ready', registryVersion: r.version }
          : { status: 'not_ready', detail: r.detail },
      );
      return;
    }
    // Web console hook: /console/ is served by the console module (its own sign-in and CSRF).
    if (ctx.console.owns(path)) {
      status = await ctx.console.handle(req, res, url);
      return;
    }
    // Web console hook: the console page's own /v1 calls carry its session
    // cookie and CSRF token; any other browser request is refused below.
    const consoleActor = ctx.console.sessionActor(req);
    // A browser page must never drive the admin API (CSRF with an admin
    // client certificate installed in the browser): browsers send Origin /
    // Sec-Fetch-Site on such requests; the CLI and scripts do not.
    if (
      consoleActor === undefined &&
      (req.headers.origin !== undefined ||
        (req.headers['sec-fetch-site'] !== undefined && req.headers['sec-fetch-site'] !== 'none'))
    ) {
      throw fail(
        403,
        'MTLS_UNAUTHORIZED',
        'the admin API does not serve browser requests (an Origin header was sent)',
        'Call it from the CLI or a script.',
      );
    }
    actor = consoleActor ?? authenticate(req, ctx);
    const r = await dispatch(req, url, ctx.admin, ctx.bodyLimit);
    status = r.status;
    send(res, r.status, r.body, r.headers);
  } catch (e) {
    const httpErr = e instanceof HttpError ? e : undefined;
    const err = httpErr?.error ?? toMtlsError(e);
    status = httpErr?.status ?? statusOf(err);
    errorCode = err.code;
    if (!res.headersSent) {
      send(
        res,
        status,
        {
          error: {
            code: err.code,
            message: err.message,
            hint: err.hint,
            ...(err.details ? { details: err.details } : {}),
          },
        },
        {
          ...httpErr?.headers,
          ...(status === 401 ? { 'www-authenticate': 'Bearer realm="mtls-admin"' } : {}),
          ...(status === 413 ? { connection: 'close' } : {}),
        },
      );
    }
  } finally {
    ctx.onRequest?.({
      time: new Date().toISOString(),
      method,
      path,
      status,
      actor,
      ip: normalizeIp(req.socket.remoteAddress ?? '') || 'unknown',
      durationMs: Number(process.hrtime.bigint() - started) / 1e6,
      ...(errorCode ? { error: errorCode } : {}),
    });
  }
}

/**
 * The HTTP status of an error from a route. A request never makes the admin
 * API read a file, so the catalogue's file-I/O codes for unreadable PEM/DER
 * can only be about the uploaded body: the client's fault, 422, not a 500.
 */
function statusOf(err: MtlsError): number {
  if (err.code === 'MTLS_PEM_INVALID' || err.code === 'MTLS_DER_INVALID') return 422;
  return err.code in ERROR_CODES ? err.httpStatus : 500;
}

async function readiness(
  ctx: Pick<HandlerContext, 'registry' | 'ready'>,
): Promise<{ ok: boolean; version?: number; detail?: string }> {
  try {
    const version = await ctx.registry.version();
    if (ctx.ready) {
      const r = await ctx.ready();
      if (!r.ok) return { ok: false, detail: r.detail ?? 'not ready' };
    }
    return { ok: true, version };
  } catch (e) {
    return { ok: false, detail: toMtlsError(e).message };
  }
}
