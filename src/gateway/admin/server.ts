/**
 * The admin API: REST JSON over the registry on its own listener, loopback by
 * default, never open. Every `/v1` request must present either an admin
 * client certificate (mTLS against the admin CA file) or the bearer token
 * read from a file; starting with neither is a configuration error.
 * `/healthz` and `/readyz` answer without authentication (they reveal only
 * up/ready), so orchestrator probes work.
 *
 * Routes (JSON; errors are `{"error": {code, message, hint}}` with the code's
 * HTTP status):
 * - `GET|POST /v1/institutions`, `GET|PATCH|DELETE /v1/institutions/:id` (PATCH `{status}`)
 * - `GET|POST /v1/institutions/:id/cas` (POST: PEM/DER body or `{pem}`), `DELETE …/cas/:chainId`
 * - `GET|POST /v1/institutions/:id/ips` (`{cidr}`), `DELETE …/ips/:cidr` or `…/ips?cidr=`
 * - `GET|PUT /v1/institutions/:id/crls` (PUT: PEM/DER body or `{pem}`), `DELETE …/crls/:crlId`
 * - `GET|POST /v1/institutions/:id/crl-urls` (`{url, intervalSeconds}`), `DELETE …/crl-urls?url=`,
 *   `POST …/crl-urls/refresh` (`{url}` optional: download now), `GET /v1/crl-urls`
 * - `GET|POST /v1/institutions/:id/rules` (`{kind, value}`), `DELETE …/rules/:ruleId`
 * - `GET /v1/cas`, `/v1/ips`, `/v1/crls`, `/v1/rules` (all institutions)
 * - `GET /v1/audit?since=1h&institution=X&outcome=rejected&reason=R&limit=N`
 */
import { isLoopbackHost } from '../ip-match.js';
import { createHash, timingSafeEqual, X509Certificate as NodeX509 } from 'node:crypto';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { ERROR_CODES, MtlsError, toMtlsError, type ErrorCode } from '../../errors/index.js';
import { readFileChecked } from '../../io/index.js';
import { EKU_OIDS } from '../../pki/profile.js';
import { parseCidr } from '../registry/cidr.js';
import type { AuditQuery, InstitutionStatus, PinnedRule, Registry } from '../registry/types.js';
import { createLocalAdmin, type LocalAdminOptions, type RegistryAdmin } from './operations.js';
import { parseSince } from './since.js';
import { createConsole, type ConsoleApp, type ConsoleOptions } from '../console/handler.js';

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

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly error: MtlsError,
  ) {
    super(error.message);
  }
}

const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/**
 * Starts the admin API.
 * @throws MTLS_CONFIG_INVALID when no authentication is configured, a client
 * CA is given without a server certificate, a non-loopback address has no
 * TLS, a file is unreadable or the token too short, or the address is taken
 */
export async function startAdminServer(options: AdminServerOptions): Promise<RunningAdmin> {
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
      throw new MtlsError('MTLS_CONFIG_INVALID', `${key}: ${err.message}`, {
        subject: key,
        cause: e,
        hint: `Fix the path given for ${key}.`,
      });
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
  if (useTls) {
    const cert = await readConfigFile(options.certFile as string, 'admin.certFile');
    const key = await readConfigFile(options.keyFile as string, 'admin.keyFile');
    try {
      server = createHttpsServer(
        {
          cert,
          key,
          ...(options.keyPassphrase !== undefined ? { passphrase: options.keyPassphrase } : {}),
          minVersion: 'TLSv1.2',
          // The handshake must also admit token callers without a certificate; every
          // request then goes through authenticate(), which accepts a certificate
          // only when socket.authorized is true (and it carries clientAuth, no CA:TRUE).
          ...(clientCa ? { ca: clientCa, requestCert: true, rejectUnauthorized: false } : {}),
        },
        handler,
      );
    } catch (e) {
      throw new MtlsError(
        'MTLS_CONFIG_INVALID',
        `admin certFile/keyFile cannot be used: ${(e as Error).message}`,
        {
          subject: 'admin.certFile',
          cause: e,
          hint: 'Check that the key belongs to the certificate and the passphrase is right.',
        },
      );
    }
  } else {
    server = createHttpServer(handler);
  }
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException): void => {
      reject(
        new MtlsError(
          'MTLS_CONFIG_INVALID',
          `the admin API cannot listen on ${host}:${port}: ${e.code ?? e.message}`,
          {
            subject: 'admin.port',
            cause: e,
            hint:
              e.code === 'EADDRINUSE'
                ? 'Another process uses that port; choose another admin port.'
                : 'Check the admin host and port.',
          },
        ),
      );
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
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
  /** Web console hook. */
  console: ConsoleApp;
}

const fail = (status: number, code: ErrorCode, message: string, hint?: string): HttpError =>
  new HttpError(status, new MtlsError(code, message, hint ? { hint } : {}));

/** Who is calling: a valid admin client certificate, or the bearer token. */
function authenticate(
  req: IncomingMessage,
  ctx: Omit<HandlerContext, 'console'>,
  // Web console hook: the console's sign-in passes the token it was given.
  header = req.headers.authorization,
): string {
  if (ctx.certAuth) {
    const sock = req.socket as TLSSocket;
    const raw = sock.getPeerCertificate?.(false);
    if (sock.authorized && raw && raw.raw) {
      const cert = new NodeX509(raw.raw);
      // RFC 5280 §4.2.1.12: a certificate without the clientAuth EKU (or a CA
      // certificate) is not an admin client credential, whatever OpenSSL allows.
      if (!cert.ca && (cert.keyUsage ?? []).includes(EKU_OIDS.clientAuth as string))
        return `cert:${cert.subject.replace(/\n/g, ',')}`;
    }
  }
  // RFC 6750 §2.1: Authorization: Bearer <token>.
  if (ctx.tokenHash && typeof header === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    // Compare digests so the comparison is constant-time whatever the length.
    if (m && timingSafeEqual(sha256(m[1] as string), ctx.tokenHash)) return 'token';
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

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limit)
    throw fail(
      413,
      'MTLS_BAD_ARGUMENT',
      `the request body (${declared} bytes) exceeds the admin API limit of ${limit} bytes`,
    );
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit)
      throw fail(
        413,
        'MTLS_BAD_ARGUMENT',
        `the request body exceeds the admin API limit of ${limit} bytes`,
      );
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

const contentType = (req: IncomingMessage): string =>
  (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();

async function readJson(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const body = await readBody(req, limit);
  if (contentType(req) !== 'application/json')
    throw fail(
      415,
      'MTLS_BAD_ARGUMENT',
      `expected Content-Type application/json, got "${req.headers['content-type'] ?? ''}"`,
    );
  try {
    const v: unknown = JSON.parse(body.toString('utf8'));
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw fail(
      400,
      'MTLS_BAD_ARGUMENT',
      `the request body is not a JSON object (${(e as Error).message})`,
    );
  }
}

const UPLOAD_TYPES = new Set([
  'application/x-pem-file',
  'application/pkix-cert',
  'application/pkix-crl',
  'application/octet-stream',
  'text/plain',
]);

/** A CA or CRL upload: raw PEM/DER, or JSON {"pem": "..."}. */
async function readUpload(req: IncomingMessage, limit: number): Promise<string | Buffer> {
  const type = contentType(req);
  if (type === 'application/json') {
    const body = await readJson(req, limit);
    if (typeof body.pem !== 'string')
      throw fail(400, 'MTLS_BAD_ARGUMENT', 'the JSON body needs a "pem" string');
    return body.pem;
  }
  if (!UPLOAD_TYPES.has(type)) {
    throw fail(
      415,
      'MTLS_BAD_ARGUMENT',
      `unsupported Content-Type "${type}"`,
      `Send ${[...UPLOAD_TYPES].join(', ')} or application/json {"pem": …}.`,
    );
  }
  const body = await readBody(req, limit);
  if (body.length === 0) throw fail(400, 'MTLS_BAD_ARGUMENT', 'the upload is empty');
  return body;
}

const str = (v: unknown, field: string): string => {
  if (typeof v !== 'string') throw fail(400, 'MTLS_BAD_ARGUMENT', `"${field}" must be a string`);
  return v;
};

const intParam = (v: string, what: string): number => {
  if (!/^\d{1,15}$/.test(v)) throw fail(400, 'MTLS_BAD_ARGUMENT', `${what} "${v}" is not a number`);
  return Number(v);
};

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

type Route = {
  method: string;
  re: RegExp;
  run: (
    m: (string | undefined)[],
    req: IncomingMessage,
    url: URL,
    ctx: HandlerContext,
  ) => Promise<{ status: number; body?: unknown; headers?: Record<string, string> }>;
};

const ID = '([^/]+)';
const ROUTES: Route[] = [
  {
    method: 'GET',
    re: /^\/v1\/institutions$/,
    run: async (_m, _r, _u, c) => ({
      status: 200,
      body: { items: await c.admin.listInstitutions() },
    }),
  },
  {
    method: 'POST',
    re: /^\/v1\/institutions$/,
    run: async (_m, req, _u, c) => {
      const body = await readJson(req, c.bodyLimit);
      const inst = await c.admin.createInstitution({
        id: str(body.id, 'id'),
        name: str(body.name ?? body.id, 'name'),
      });
      return {
        status: 201,
        body: inst,
        headers: { location: `/v1/institutions/${encodeURIComponent(inst.id)}` },
      };
    },
  },
  {
    method: 'GET',
    re: new RegExp(`^/v1/institutions/${ID}$`),
    run: async (m, _r, _u, c) => ({
      status: 200,
      body: await c.admin.getInstitution(m[0] as string),
    }),
  },
  {
    method: 'PATCH',
    re: new RegExp(`^/v1/institutions/${ID}$`),
    run: async (m, req, _u, c) => {
      const body = await readJson(req, c.bodyLimit);
      const extra = Object.keys(body).filter((k) => k !== 'status');
      if (extra.length)
        throw fail(
          400,
          'MTLS_BAD_ARGUMENT',
          `cannot change ${extra.join(', ')}; only "status" (active|suspended) can be changed`,
        );
      return {
        status: 200,
        body: await c.admin.setInstitutionStatus(
          m[0] as string,
          str(body.status, 'status') as InstitutionStatus,
        ),
      };
    },
  },
  {
    method: 'DELETE',
    re: new RegExp(`^/v1/institutions/${ID}$`),
    run: async (m, _r, _u, c) => {
      await c.admin.deleteInstitution(m[0] as string);
      return { status: 204 };
    },
  },
  {
    method: 'GET',
    re: new RegExp(`^/v1/institutions/${ID}/cas$`),
    run: async (m, _r, _u, c) => ({
      status: 200,
      body: { items: await c.admin.listCaChains(m[0]) },
    }),
  },
  {
    method: 'POST',
    re: new RegExp(`^/v1/institutions/${ID}/cas$`),
    run: async (m, req, u, c) => {
      const data = await readUpload(req, c.bodyLimit);
      return {
        status: 201,
        body: await c.admin.addCaChain(
          m[0] as string,
          data,
          u.searchParams.get('source') ?? 'upload',
        ),
      };
    },
  },
  {
    method: 'DELETE',
    re: new RegExp(`^/v1/institutions/${ID}/cas/${ID}$`),
    run: async (m, _r, _u, c) => {
      await c.admin.removeCaChain(m[0] as string, intParam(m[1] as string, 'chain id'));
      return { status: 204 };
    },
  },
  {
    method: 'GET',
    re: new RegExp(`^/v1/institutions/${ID}/ips$`),
    run: async (m, _r, _u, c) => ({ status: 200, body: { items: await c.admin.listIps(m[0]) } }),
  },
  {
    method: 'POST',
    re: new RegExp(`^/v1/institutions/${ID}/ips$`),
    run: async (m, req, _u, c) => {
      const body = await readJson(req, c.bodyLimit);
      return {
        status: 201,
        body: await c.admin.addIp(m[0] as string, str(body.cidr ?? body.ip, 'cidr'), {
          allowWideRange: body.allowWideRange === true,
        }),
      };
    },
  },
  {
    method: 'DELETE',
    re: new RegExp(`^/v1/institutions/${ID}/ips(?:/${ID})?$`),
    run: async (m, _r, u, c) => {
      const cidr = m[1] ?? u.searchParams.get('cidr');
      if (!cidr)
        throw fail(
          400,
          'MTLS_BAD_ARGUMENT',
          'give the IP/CIDR to remove: DELETE /v1/institutions/ID/ips?cidr=203.0.113.7',
        );
      parseCidr(cidr);
      await c.admin.removeIp(m[0] as string, cidr);
      return { status: 204 };
    },
  },
  {
    method: 'GET',
    re: new RegExp(`^/v1/institutions/${ID}/crls$`),
    run: async (m, _r, _u, c) => ({ status: 200, body: { items: await c.admin.listCrls(m[0]) } }),
  },
  {
    method: 'PUT',
    re: new RegExp(`^/v1/institutions/${ID}/crls$`),
    run: async (m, req, u, c) => {
      const data = await readUpload(req, c.bodyLimit);
      return {
        status: 200,
        body: await c.admin.putCrls(m[0] as string, data, u.searchParams.get('source') ?? 'upload'),
      };
    },
  },
  {
    method: 'DELETE',
    re: new RegExp(`^/v1/institutions/${ID}/crls/${ID}$`),
    run: async (m, _r, _u, c) => {
      await c.admin.removeCrl(m[0] as string, intParam(m[1] as string, 'CRL id'));
      return { status: 204 };
    },
  },
  {
    method: 'GET',
    re: new RegExp(`^/v1/institutions/${ID}/crl-urls$`),
    run: async (m, _r, _u, c) => ({
      status: 200,
      body: { items: await c.admin.listCrlSources(m[0]) },
    }),
  },
  {
    method: 'POST',
    re: new RegExp(`^/v1/institutions/${ID}/crl-urls$`),
    run: async (m, req, _u, c) => {
      const body = await readJson(req, c.bodyLimit);
      const every = body.intervalSeconds;
      if (every !== undefined && typeof every !== 'number')
        throw fail(400, 'MTLS_BAD_ARGUMENT', '"intervalSeconds" must be a number of seconds');
      return {
        status: 201,
        body: await c.admin.addCrlSource(m[0] as string, str(body.url, 'url'), every),
      };
    },
  },
  {
    method: 'DELETE',
    re: new RegExp(`^/v1/institutions/${ID}/crl-urls$`),
    run: async (m, _r, u, c) => {
      const url = u.searchParams.get('url');
      if (!url)
        throw fail(
          400,
          'MTLS_BAD_ARGUMENT',
          'give the CRL URL to remove: DELETE /v1/institutions/ID/crl-urls?url=http://…',
        );
      await c.admin.removeCrlSource(m[0] as string, url);
      return { status: 204 };
    },
  },
  {
    method: 'POST',
    re: new RegExp(`^/v1/institutions/${ID}/crl-urls/refresh$`),
    run: async (m, req, _u, c) => {
      const body = await readJson(req, c.bodyLimit);
      return {
        status: 200,
        body: {
          items: await c.admin.refreshCrlSources(
            m[0] as string,
            body.url === undefined ? undefined : str(body.url, 'url'),
          ),
        },
      };
    },
  },
  {
    method: 'GET',
    re: /^\/v1\/crl-urls$/,
    run: async (_m, _r, _u, c) => ({
      status: 200,
      body: { items: await c.admin.listCrlSources() },
    }),
  },
  {
    method: 'GET',
    re: new RegExp(`^/v1/institutions/${ID}/rules$`),
    run: async (m, _r, _u, c) => ({ status: 200, body: { items: await c.admin.listRules(m[0]) } }),
  },
  {
    method: 'POST',
    re: new RegExp(`^/v1/institutions/${ID}/rules$`),
    run: async (m, req, _u, c) => {
      const body = await readJson(req, c.bodyLimit);
      return {
        status: 201,
        body: await c.admin.addRule(m[0] as string, {
          kind: str(body.kind, 'kind') as PinnedRule['kind'],
          value: str(body.value, 'value'),
        }),
      };
    },
  },
  {
    method: 'DELETE',
    re: new RegExp(`^/v1/institutions/${ID}/rules/${ID}$`),
    run: async (m, _r, _u, c) => {
      await c.admin.removeRule(m[0] as string, intParam(m[1] as string, 'rule id'));
      return { status: 204 };
    },
  },
  {
    method: 'GET',
    re: /^\/v1\/cas$/,
    run: async (_m, _r, _u, c) => ({ status: 200, body: { items: await c.admin.listCaChains() } }),
  },
  {
    method: 'GET',
    re: /^\/v1\/ips$/,
    run: async (_m, _r, _u, c) => ({ status: 200, body: { items: await c.admin.listIps() } }),
  },
  {
    method: 'GET',
    re: /^\/v1\/crls$/,
    run: async (_m, _r, _u, c) => ({ status: 200, body: { items: await c.admin.listCrls() } }),
  },
  {
    method: 'GET',
    re: /^\/v1\/rules$/,
    run: async (_m, _r, _u, c) => ({ status: 200, body: { items: await c.admin.listRules() } }),
  },
  {
    method: 'GET',
    re: /^\/v1\/audit$/,
    run: async (_m, _r, u, c) => {
      const p = u.searchParams;
      const q: AuditQuery = {};
      const since = p.get('since');
      if (since) q.since = parseSince(since);
      const inst = p.get('institution');
      if (inst) q.institutionId = inst;
      const outcome = p.get('outcome');
      if (outcome) q.outcome = outcome as AuditQuery['outcome'];
      const reason = p.get('reason');
      if (reason) q.reason = reason as AuditQuery['reason'];
      const limit = p.get('limit');
      if (limit) q.limit = intParam(limit, 'limit');
      return { status: 200, body: { items: await c.admin.queryAudit(q) } };
    },
  },
];

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
    let allowed: string[] = [];
    for (const route of ROUTES) {
      const m = route.re.exec(path);
      if (!m) continue;
      if (route.method !== method) {
        allowed.push(route.method);
        continue;
      }
      let params: (string | undefined)[];
      try {
        params = m.slice(1).map((s) => (s === undefined ? undefined : decodeURIComponent(s)));
      } catch {
        throw fail(400, 'MTLS_BAD_ARGUMENT', `the path ${path} is not valid percent-encoding`);
      }
      const r = await route.run(params, req, url, ctx);
      status = r.status;
      send(res, r.status, r.body, r.headers);
      return;
    }
    allowed = [...new Set(allowed)];
    if (allowed.length)
      throw new HttpError(
        405,
        new MtlsError('MTLS_USAGE', `${method} is not allowed on ${path}`, {
          hint: `Use ${allowed.join(', ')}.`,
        }),
      );
    throw fail(
      404,
      'MTLS_NOT_FOUND',
      `no admin API resource at ${path}`,
      'See the admin API routes under /v1 (institutions, cas, ips, crls, rules, audit).',
    );
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
