/**
 * The web console, mounted by the admin API at `/console/`: the page and its
 * assets, sign-in (the admin bearer token, or the admin client certificate on
 * TLS) exchanged for a session cookie, and the console-only JSON the `/v1`
 * API has no route for (per-institution activity, audit filtering by address
 * and time with paging, CSV, the overview, a dry-run of the onboarding
 * checks). Everything else the page does goes through `/v1`, authenticated
 * by {@link ConsoleApp.sessionActor}.
 *
 * Routes (all JSON except the page, its assets and the CSV):
 * - `GET /console/`, `GET /console/assets/{app.js,app.css}`
 * - `POST /console/api/login` `{token}`; `GET /console/api/session` (also signs in with a client certificate);
 *   `POST /console/api/logout`
 * - `GET /console/api/reasons`, `/overview`, `/institutions`, `/institution?id=`, `/audit`, `/audit.csv`
 * - `POST /console/api/validate-chain?institution=ID&name=FILE` (PEM/DER body): checks only, stores nothing
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { MtlsError, toMtlsError } from '../../errors/index.js';
import { AUDIT_REASON_TEXTS } from '../audit-reasons.js';
import type { HealthState } from '../health.js';
import { validateCaChain, type ChainCertificateInfo } from '../onboarding.js';
import type {
  AuditOutcome,
  AuditQuery,
  AuditReason,
  StoredAuditReason,
  AuditRecord,
  Registry,
} from '../registry/types.js';
import { AUDIT_REASONS } from '../registry/types.js';
import { defaultAssetsDir, loadConsoleAssets, type ConsoleAsset } from './assets.js';
import {
  createSessionStore,
  CSRF_HEADER,
  DEFAULT_SESSION_TTL_SECONDS,
  sameSecret,
  type ConsoleSession,
} from './session.js';

/** What the gateway tells the console beyond the registry (all optional). */
export interface ConsoleOptions {
  /** The gateway's health (server certificate expiry, registry state) for the overview. */
  health?: () => HealthState | null | Promise<HealthState | null>;
  /** Session lifetime in seconds (default 8 hours). */
  sessionTtlSeconds?: number;
  /** Where the built assets are (default: the package's `dist/gateway/console/assets`). */
  assetsDir?: string;
}

/** What the admin server lends the console. */
export interface ConsoleDeps {
  registry: Registry;
  /** The admin listener runs HTTPS (the cookie is then Secure). */
  tls: boolean;
  /**
   * The admin API's own authentication: with `bearer`, checks that token;
   * without, the request's admin client certificate. Returns the actor,
   * throws when refused.
   */
  authenticate: (req: IncomingMessage, bearer?: string) => string;
  /** Reads a request body within the admin API's limit (throws when over). */
  readBody: (req: IncomingMessage) => Promise<Buffer>;
  /** The admin API's readiness (registry answers, gateway ready). */
  readiness: () => Promise<{ ok: boolean; version?: number; detail?: string }>;
}

/** The console as the admin server mounts it. */
export interface ConsoleApp {
  /** True for paths the console serves (`/console` and below). */
  owns(path: string): boolean;
  /** Serves one console request; returns the HTTP status sent. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<number>;
  /**
   * The actor for a `/v1` request sent by the console page: a live session
   * cookie and its CSRF token in the header, from the console's own origin.
   * Undefined otherwise (the admin API then applies its usual rules).
   */
  sessionActor(req: IncomingMessage): string | undefined;
}

class ConsoleHttpError extends Error {
  constructor(
    readonly status: number,
    readonly error: MtlsError,
  ) {
    super(error.message);
  }
}

const refuse = (status: number, message: string, hint?: string): ConsoleHttpError =>
  new ConsoleHttpError(
    status,
    new MtlsError(
      status === 401 || status === 403 ? 'MTLS_UNAUTHORIZED' : 'MTLS_BAD_ARGUMENT',
      message,
      hint === undefined ? {} : { hint },
    ),
  );

/** Same-origin check for a browser request: Origin (when sent) must be this server. */
function sameOrigin(req: IncomingMessage, tls: boolean): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') return false;
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  const host = req.headers.host;
  return host !== undefined && origin === `${tls ? 'https' : 'http'}://${host}`;
}

const PAGE_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  // Only our own script and style; no inline code, no framing, no other origin.
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
};

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): number {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...PAGE_HEADERS,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
  return status;
}

const errorBody = (err: MtlsError): { error: Record<string, unknown> } => ({
  error: {
    code: err.code,
    message: err.message,
    hint: err.hint,
    ...(err.details ? { details: err.details } : {}),
  },
});

/** The status of an error thrown by a dependency (the admin server's HttpError carries one). */
function statusOf(e: unknown, err: MtlsError): number {
  if (e instanceof ConsoleHttpError) return e.status;
  if (e instanceof Error && 'status' in e && typeof e.status === 'number') return e.status;
  if (err.code === 'MTLS_PEM_INVALID' || err.code === 'MTLS_DER_INVALID') return 422;
  return err.httpStatus;
}

/** Headers a dependency's error is answered with (the admin server's HttpError: Retry-After on a 429). */
function headersOf(e: unknown): Record<string, string> {
  if (!(e instanceof Error) || !('headers' in e) || typeof e.headers !== 'object' || !e.headers)
    return {};
  return Object.fromEntries(
    Object.entries(e.headers).filter((kv): kv is [string, string] => typeof kv[1] === 'string'),
  );
}

function errorOf(e: unknown): MtlsError {
  if (e instanceof ConsoleHttpError) return e.error;
  if (e instanceof Error && 'error' in e && e.error instanceof MtlsError) return e.error;
  return toMtlsError(e);
}

const isReason = (v: string): v is AuditReason =>
  // Widening the closed tuple to string[] only to ask includes(); the guard narrows back.
  (AUDIT_REASONS as readonly string[]).includes(v);

/** Reads the audit filter of a console request (institution, ip, requestId, outcome, reason, from, to). */
function auditFilter(p: URLSearchParams): AuditQuery {
  const q: AuditQuery = {};
  const get = (k: string): string | undefined => {
    const v = p.get(k)?.trim();
    return v === undefined || v === '' ? undefined : v;
  };
  const inst = get('institution');
  if (inst !== undefined) q.institutionId = inst;
  const ip = get('ip');
  if (ip !== undefined) q.ip = ip;
  const requestId = get('requestId');
  if (requestId !== undefined) q.requestId = requestId;
  const outcome = get('outcome');
  if (outcome !== undefined) {
    if (outcome !== 'accepted' && outcome !== 'rejected')
      throw refuse(400, `outcome "${outcome}" is not accepted or rejected`);
    q.outcome = outcome;
  }
  const reason = get('reason');
  if (reason !== undefined) {
    if (!isReason(reason)) throw refuse(400, `"${reason}" is not an audit reason code`);
    q.reason = reason;
  }
  const from = get('from');
  if (from !== undefined) q.since = from;
  const to = get('to');
  if (to !== undefined) q.until = to;
  const afterId = get('afterId');
  if (afterId !== undefined) q.afterId = intParam(afterId, 'afterId');
  return q;
}

function intParam(v: string, what: string): number {
  if (!/^\d{1,9}$/.test(v)) throw refuse(400, `${what} "${v}" is not a number`);
  return Number(v);
}

const CSV_COLUMNS = [
  'id',
  'time',
  'kind',
  'ip',
  'institutionId',
  'outcome',
  'reason',
  'subject',
  'issuer',
  'serial',
  'fingerprintSha256',
  'tlsVersion',
  'cipher',
  'method',
  'path',
  'status',
  'durationMs',
  'requestId',
  'detail',
] as const satisfies readonly (keyof AuditRecord)[];

/**
 * One CSV field (RFC 4180 §2): quoted when needed; a leading = + - @ is
 * prefixed with ' so a spreadsheet never runs a subject or path as a formula.
 */
function csvField(v: unknown): string {
  if (v === null || v === undefined) return '';
  let s = typeof v === 'string' ? v : JSON.stringify(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Audit records as CSV, header line first. */
export function auditCsv(records: readonly AuditRecord[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of records) lines.push(CSV_COLUMNS.map((c) => csvField(r[c])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

/** Per-minute accepted and rejected counts for the last `minutes` minutes, oldest first. */
async function activity(
  registry: Registry,
  minutes: number,
  now: number,
): Promise<{
  perMinute: { minute: string; accepted: number; rejected: number }[];
  topReasons: { reason: StoredAuditReason; count: number }[];
}> {
  const start = Math.floor(now / 60_000) * 60_000 - (minutes - 1) * 60_000;
  const buckets = new Map<string, { minute: string; accepted: number; rejected: number }>();
  for (let i = 0; i < minutes; i++) {
    const minute = new Date(start + i * 60_000).toISOString().slice(0, 16);
    buckets.set(minute, { minute, accepted: 0, rejected: 0 });
  }
  const reasons = new Map<StoredAuditReason, number>();
  for (const row of await registry.auditPerMinute(new Date(start).toISOString())) {
    const b = buckets.get(row.minute);
    if (b) b[row.outcome] += row.count;
    if (row.outcome === 'rejected')
      reasons.set(row.reason, (reasons.get(row.reason) ?? 0) + row.count);
  }
  return {
    perMinute: [...buckets.values()],
    topReasons: [...reasons]
      .map(([reason, count]) => ({ reason, count }))
      .sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason))
      .slice(0, 5),
  };
}

/** A file name fit to appear in messages: printable, short. */
const sourceName = (name: string | null): string =>
  name === null || name.trim() === '' ? 'upload' : name.replace(/[^\w.\- ]/g, '_').slice(0, 100);

/**
 * Creates the console. Unbuilt assets do not stop the admin API: the console
 * pages then answer 503 with the build hint.
 */
export async function createConsole(
  deps: ConsoleDeps,
  options: ConsoleOptions = {},
): Promise<ConsoleApp> {
  let assets: Map<string, ConsoleAsset> | MtlsError;
  try {
    assets = await loadConsoleAssets(options.assetsDir ?? defaultAssetsDir());
  } catch (e) {
    assets = toMtlsError(e);
  }
  const sessions = createSessionStore(
    deps.tls,
    options.sessionTtlSeconds ?? DEFAULT_SESSION_TTL_SECONDS,
  );
  const { registry } = deps;

  /** The session of a console API call: cookie, CSRF header, same origin. */
  const requireSession = (req: IncomingMessage): ConsoleSession => {
    const s = sessions.fromRequest(req);
    if (!s)
      throw refuse(
        401,
        'not signed in to the console (no session, or it expired)',
        'Sign in again.',
      );
    const csrf = req.headers[CSRF_HEADER];
    if (
      !sameOrigin(req, deps.tls) ||
      !sameSecret(typeof csrf === 'string' ? csrf : undefined, s.csrf)
    )
      throw refuse(
        403,
        'the request did not come from the console page (missing or wrong CSRF token, or another origin)',
        'Use the console page itself; reload it if the session was renewed.',
      );
    return s;
  };

  const sessionBody = (s: ConsoleSession): Record<string, unknown> => ({
    actor: s.actor,
    csrf: s.csrf,
    expiresAt: new Date(s.expiresAt).toISOString(),
    reasons: AUDIT_REASON_TEXTS,
  });

  const api = async (
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    name: string,
  ): Promise<number> => {
    const method = req.method ?? 'GET';
    if (name === 'login' && method === 'POST') {
      if (!sameOrigin(req, deps.tls)) throw refuse(403, 'sign-in from another origin is refused');
      const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
      if (type !== 'application/json')
        throw refuse(415, 'sign in with a JSON body {"token": "..."}');
      let token: unknown;
      try {
        const parsed: unknown = JSON.parse((await deps.readBody(req)).toString('utf8'));
        token =
          typeof parsed === 'object' && parsed !== null && 'token' in parsed
            ? parsed.token
            : undefined;
      } catch {
        throw refuse(400, 'the sign-in body is not JSON');
      }
      if (typeof token !== 'string' || token.trim() === '' || /\s/.test(token.trim()))
        throw refuse(400, 'give the admin token', 'Paste the first line of the admin token file.');
      // The admin API's own check; its refusal (401) reaches the page as is.
      const actor = deps.authenticate(req, `Bearer ${token.trim()}`);
      const s = sessions.create(actor);
      return sendJson(res, 200, sessionBody(s), { 'set-cookie': sessions.cookie(s) });
    }
    if (name === 'session' && method === 'GET') {
      const existing = sessions.fromRequest(req);
      if (existing) return sendJson(res, 200, sessionBody(existing));
      if (!sameOrigin(req, deps.tls))
        throw refuse(403, 'the console session is not served to another origin');
      let actor: string;
      try {
        // Only a client certificate can sign in here: the page sends no token.
        actor = deps.authenticate(req);
      } catch {
        throw refuse(401, 'not signed in', 'Sign in with the admin token.');
      }
      const s = sessions.create(actor);
      return sendJson(res, 200, sessionBody(s), { 'set-cookie': sessions.cookie(s) });
    }
    const session = requireSession(req);
    if (name === 'logout' && method === 'POST') {
      sessions.remove(session.id);
      return sendJson(res, 200, { ok: true }, { 'set-cookie': sessions.clearCookie() });
    }
    if (name === 'validate-chain' && method === 'POST') {
      const body = await deps.readBody(req);
      if (body.length === 0) throw refuse(400, 'the upload is empty');
      const institutionId = url.searchParams.get('institution');
      const trust = institutionId
        ? (await registry.loadTrust()).find((t) => t.institution.id === institutionId)
        : undefined;
      if (institutionId && !trust)
        throw new MtlsError('MTLS_NOT_FOUND', `institution "${institutionId}" is not registered`);
      try {
        const v = validateCaChain(body, {
          source: sourceName(url.searchParams.get('name')),
          knownIssuers: trust ? trust.chains.map((c) => c.pem) : [],
        });
        return sendJson(res, 200, {
          ok: true,
          certificates: v.certificates,
          fingerprints: v.fingerprints,
          warnings: v.warnings,
        });
      } catch (e) {
        // A refusal is the answer to this question, not a failed request.
        return sendJson(res, 200, { ok: false, ...errorBody(toMtlsError(e)) });
      }
    }
    if (method !== 'GET') throw refuse(405, `${method} is not allowed on /console/api/${name}`);
    if (name === 'reasons') return sendJson(res, 200, { reasons: AUDIT_REASON_TEXTS });
    if (name === 'overview') {
      const now = Date.now();
      const [act, ready, health] = await Promise.all([
        activity(registry, 60, now),
        deps.readiness(),
        options.health?.(),
      ]);
      return sendJson(res, 200, {
        now: new Date(now).toISOString(),
        ...act,
        ready,
        serverCertNotAfter: health?.serverCertNotAfter ?? null,
        registryVersion: health?.registryVersion ?? ready.version ?? null,
        registryError: health?.registryError ?? null,
        registryAppliedAt: health?.registryAppliedAt ?? null,
        trustStale: health?.trustStale ?? null,
        auditFailingSeconds: health?.auditFailingSeconds ?? null,
      });
    }
    if (name === 'institutions') {
      const [trust, last] = await Promise.all([registry.loadTrust(), registry.auditLastCalls()]);
      const lastOf = (id: string, outcome: AuditOutcome): string | null =>
        last.find((l) => l.institutionId === id && l.outcome === outcome)?.time ?? null;
      return sendJson(res, 200, {
        items: trust.map((t) => ({
          ...t.institution,
          chains: t.chains.length,
          ips: t.ips.length,
          crls: t.crls.length,
          rules: t.rules.length,
          // The oldest CRL's thisUpdate: the age that matters is the stalest one.
          crlThisUpdate: t.crls.map((c) => c.thisUpdate).sort()[0] ?? null,
          lastAccepted: lastOf(t.institution.id, 'accepted'),
          lastRejected: lastOf(t.institution.id, 'rejected'),
        })),
      });
    }
    if (name === 'institution') {
      const id = url.searchParams.get('id') ?? '';
      const trust = (await registry.loadTrust()).find((t) => t.institution.id === id);
      if (!trust)
        throw new ConsoleHttpError(
          404,
          new MtlsError('MTLS_NOT_FOUND', `institution "${id}" is not registered`),
        );
      const pems = trust.chains.map((c) => c.pem);
      const [audit, crlSources] = await Promise.all([
        registry.queryAudit({ institutionId: id, limit: 20 }),
        registry.listCrlSources(id),
      ]);
      return sendJson(res, 200, {
        ...trust,
        chains: trust.chains.map((c) => {
          let certificates: ChainCertificateInfo[] | null = null;
          try {
            // The onboarding checks' own description (key, dates); a chain that
            // has expired since fails them and is listed without it.
            certificates = validateCaChain(c.pem, { knownIssuers: pems }).certificates;
          } catch {
            certificates = null;
          }
          return { ...c, certificates };
        }),
        crlSources,
        audit,
      });
    }
    if (name === 'audit') {
      const q = auditFilter(url.searchParams);
      const pageSize = Math.min(
        200,
        intParam(url.searchParams.get('pageSize') ?? '50', 'pageSize') || 50,
      );
      const page = Math.max(1, intParam(url.searchParams.get('page') ?? '1', 'page'));
      const rows = await registry.queryAudit({
        ...q,
        limit: pageSize + 1,
        offset: (page - 1) * pageSize,
      });
      return sendJson(res, 200, {
        items: rows.slice(0, pageSize),
        page,
        pageSize,
        hasMore: rows.length > pageSize,
      });
    }
    if (name === 'audit.csv') {
      const rows = await registry.queryAudit({ ...auditFilter(url.searchParams), limit: 10_000 });
      const text = auditCsv(rows);
      res.writeHead(200, {
        ...PAGE_HEADERS,
        'content-type': 'text/csv; charset=utf-8',
        'content-disposition': 'attachment; filename="audit.csv"',
        'content-length': Buffer.byteLength(text),
      });
      res.end(text);
      return 200;
    }
    throw new ConsoleHttpError(
      404,
      new MtlsError('MTLS_NOT_FOUND', `no console resource /console/api/${name}`),
    );
  };

  return {
    owns: (path) => path === '/console' || path.startsWith('/console/'),
    async handle(req, res, url) {
      const path = url.pathname;
      const method = req.method ?? 'GET';
      try {
        if (path === '/console') {
          res.writeHead(308, { location: '/console/', 'cache-control': 'no-store' });
          res.end();
          return 308;
        }
        if (path.startsWith('/console/api/')) {
          return await api(req, res, url, path.slice('/console/api/'.length));
        }
        const file =
          path === '/console/' ? 'index.html' : /^\/console\/assets\/([\w.-]+)$/.exec(path)?.[1];
        if (assets instanceof MtlsError) throw new ConsoleHttpError(503, assets);
        const asset = file === undefined ? undefined : assets.get(file);
        if (!asset)
          throw new ConsoleHttpError(
            404,
            new MtlsError('MTLS_NOT_FOUND', `no console page at ${path}`),
          );
        if (method !== 'GET' && method !== 'HEAD')
          throw refuse(405, `${method} is not allowed on ${path}`);
        res.writeHead(200, {
          ...PAGE_HEADERS,
          'content-type': asset.type,
          'content-length': asset.body.length,
        });
        res.end(method === 'HEAD' ? undefined : asset.body);
        return 200;
      } catch (e) {
        const err = errorOf(e);
        const status = statusOf(e, err);
        if (res.headersSent) {
          res.destroy();
          return status;
        }
        return sendJson(res, status, errorBody(err), headersOf(e));
      }
    },
    sessionActor(req) {
      const s = sessions.fromRequest(req);
      if (!s) return undefined;
      const csrf = req.headers[CSRF_HEADER];
      if (
        !sameOrigin(req, deps.tls) ||
        !sameSecret(typeof csrf === 'string' ? csrf : undefined, s.csrf)
      )
        return undefined;
      return `console:${s.actor}`;
    },
  };
}
