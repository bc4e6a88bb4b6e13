/**
 * A typed client for the admin API: the same {@link RegistryAdmin} operations
 * as a local registry, over HTTP(S), authenticated by a bearer token or an
 * admin client certificate.
 */
import { Agent, request, type Dispatcher } from 'undici';
import { z } from 'zod';
import { ERROR_CODES, MtlsError, type ErrorCode } from '../../errors/index.js';
import { readFileChecked } from '../../io/index.js';
import { isPem } from '../../pki/pem.js';
import { assertNoPrivateKey } from '../onboarding.js';
import type { AuditPruneResult } from '../audit-retention.js';
import type { CrlRefreshResult } from '../crl-distribution.js';
import type {
  AddIpOptions,
  AuditQuery,
  AuditRecord,
  CaChainRecord,
  CrlRecord,
  CrlSourceRecord,
  Institution,
  InstitutionStatus,
  InstitutionTrust,
  IpRecord,
  PinnedRule,
  RequestRateInput,
} from '../registry/types.js';
import type {
  AddCaChainResult,
  InstitutionSummary,
  PutCrlsResult,
  RegistryAdmin,
} from './operations.js';
import {
  ADMIN_ROUTES as R,
  routePath,
  type AdminRoute,
  type RouteRequest,
  type RouteResult,
} from './routes.js';

/** Options for {@link createAdminClient}. */
export interface AdminClientOptions {
  /** Base URL of the admin API, e.g. `http://127.0.0.1:8444`. */
  url: string;
  /** File whose first line is the bearer token. */
  tokenFile?: string;
  /** Admin client certificate (PEM file). */
  certFile?: string;
  /** Its private key (PEM file). */
  keyFile?: string;
  /** Passphrase of an encrypted `keyFile`. */
  keyPassphrase?: string;
  /** CA file to verify an HTTPS admin server (default: the system roots). */
  caFile?: string;
  /** Per-request timeout in ms (default 30,000). */
  timeoutMs?: number;
}

/** The error answer of the admin API. */
const errorBody = z.object({
  error: z
    .object({
      code: z.string().optional(),
      message: z.string().optional(),
      hint: z.string().optional(),
      details: z.record(z.string(), z.unknown()).optional(),
    })
    .optional(),
});
/** A listing answer. */
const itemsBody = z.object({ items: z.array(z.unknown()) });
/** An upload as {@link AdminClient} prepares it. */
const uploadBody = z.object({
  type: z.string(),
  data: z.union([z.string(), z.instanceof(Buffer)]),
});

/** What undici's errors carry (a code, or one on their cause). */
const networkErrorShape = z.object({
  code: z.string().optional(),
  message: z.string().optional(),
  cause: z.object({ code: z.string().optional(), message: z.string().optional() }).optional(),
});

const isErrorCode = (code: string): code is ErrorCode => code in ERROR_CODES;

/** The admin API over HTTP(S). Create with {@link createAdminClient}. */
export class AdminClient implements RegistryAdmin {
  /** The admin API base URL. */
  readonly url: string;
  private readonly token: string | undefined;
  private readonly dispatcher: Agent;
  private readonly timeoutMs: number;

  constructor(url: string, init: { token?: string; dispatcher: Agent; timeoutMs: number }) {
    this.url = url.replace(/\/+$/, '');
    this.token = init.token;
    this.dispatcher = init.dispatcher;
    this.timeoutMs = init.timeoutMs;
  }

  /** Sends one request of a route from the route table and returns the operation's result. */
  private async send<R extends AdminRoute>(
    route: R,
    input: RouteRequest<R>,
  ): Promise<RouteResult<R>> {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(input.query ?? {}))
      if (typeof v === 'string') query.set(k, v);
    const qs = query.toString();
    const path = `${routePath(route, input.params)}${qs ? `?${qs}` : ''}`;
    const body =
      route.body === 'none' || input.body === undefined
        ? undefined
        : route.body === 'upload'
          ? uploadBody.parse(input.body)
          : { type: 'application/json', data: JSON.stringify(input.body) };
    const parsed = await this.call(route.method, path, body);
    const result =
      route.status === 204 ? undefined : route.items ? itemsBody.parse(parsed).items : parsed;
    // The mtlskit admin API's answer to this route is its operation's result (void for 204).
    return result as RouteResult<R>;
  }

  private async call(
    method: Dispatcher.HttpMethod,
    path: string,
    body?: { type: string; data: string | Buffer },
  ): Promise<unknown> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body) headers['content-type'] = body.type;
    let res: Dispatcher.ResponseData;
    try {
      res = await request(`${this.url}${path}`, {
        method,
        headers,
        ...(body ? { body: body.data } : {}),
        dispatcher: this.dispatcher,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
    } catch (e) {
      throw networkError(e, this.url);
    }
    const text = await res.body.text();
    if (res.statusCode === 204) return undefined;
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      throw new MtlsError(
        'MTLS_HTTP_STATUS',
        `the admin API at ${this.url} answered ${res.statusCode} with a body that is not JSON`,
        {
          hint: 'Check that --admin points at the mtlskit admin API, not at the gateway or another service.',
        },
      );
    }
    if (res.statusCode >= 400) {
      const err = errorBody.safeParse(parsed).data?.error;
      const code = err?.code !== undefined && isErrorCode(err.code) ? err.code : 'MTLS_HTTP_STATUS';
      throw new MtlsError(code, err?.message ?? `the admin API answered ${res.statusCode}`, {
        ...(err?.hint ? { hint: err.hint } : {}),
        ...(err?.details ? { details: err.details } : {}),
        subject: `${method} ${path}`,
      });
    }
    return parsed;
  }

  private upload(
    data: string | Uint8Array,
    source: string,
    what: 'CA chain' | 'CRL',
  ): { type: string; data: string | Buffer } {
    // Refuse a private key here, before it leaves this machine.
    assertNoPrivateKey(data, source, what);
    if (typeof data === 'string' || isPem(data))
      return {
        type: 'application/x-pem-file',
        data: typeof data === 'string' ? data : Buffer.from(data).toString('utf8'),
      };
    return {
      type: what === 'CRL' ? 'application/pkix-crl' : 'application/pkix-cert',
      data: Buffer.from(data),
    };
  }

  /** GET /v1/institutions */
  listInstitutions(): Promise<InstitutionSummary[]> {
    return this.send(R.listInstitutions, { params: {} });
  }
  /** POST /v1/institutions */
  createInstitution(input: { id: string; name: string }): Promise<Institution> {
    return this.send(R.createInstitution, { params: {}, body: input });
  }
  /** GET /v1/institutions/:id */
  getInstitution(id: string): Promise<InstitutionTrust> {
    return this.send(R.getInstitution, { params: { id } });
  }
  /** PATCH /v1/institutions/:id */
  setInstitutionStatus(id: string, status: InstitutionStatus): Promise<Institution> {
    return this.send(R.setInstitutionStatus, { params: { id }, body: { status } });
  }
  /** PUT /v1/institutions/:id/request-rate, or DELETE it when `rate` is null */
  setInstitutionRequestRate(id: string, rate: RequestRateInput | null): Promise<Institution> {
    return rate === null
      ? this.send(R.clearInstitutionRequestRate, { params: { id } })
      : this.send(R.setInstitutionRequestRate, { params: { id }, body: rate });
  }
  /** DELETE /v1/institutions/:id */
  deleteInstitution(id: string): Promise<void> {
    return this.send(R.deleteInstitution, { params: { id } });
  }
  /** POST /v1/institutions/:id/cas (PEM or DER body); a private key is refused before it is sent. */
  async addCaChain(
    id: string,
    data: string | Uint8Array,
    source = 'chain',
  ): Promise<AddCaChainResult> {
    const body = this.upload(data, source, 'CA chain');
    return await this.send(R.addCaChain, { params: { id }, query: { source }, body });
  }
  /** GET /v1/institutions/:id/cas, or /v1/cas */
  listCaChains(id?: string): Promise<CaChainRecord[]> {
    return id === undefined
      ? this.send(R.listAllCaChains, { params: {} })
      : this.send(R.listCaChains, { params: { id } });
  }
  /** DELETE /v1/institutions/:id/cas/:chainId */
  removeCaChain(id: string, chainId: number): Promise<void> {
    return this.send(R.removeCaChain, { params: { id, chainId: String(chainId) } });
  }
  /** POST /v1/institutions/:id/ips */
  addIp(id: string, cidr: string, options: AddIpOptions = {}): Promise<IpRecord> {
    const body = { cidr, ...(options.allowWideRange ? { allowWideRange: true } : {}) };
    return this.send(R.addIp, { params: { id }, body });
  }
  /** DELETE /v1/institutions/:id/ips?cidr=… */
  removeIp(id: string, cidr: string): Promise<void> {
    return this.send(R.removeIp, { params: { id }, query: { cidr } });
  }
  /** GET /v1/institutions/:id/ips, or /v1/ips */
  listIps(id?: string): Promise<IpRecord[]> {
    return id === undefined
      ? this.send(R.listAllIps, { params: {} })
      : this.send(R.listIps, { params: { id } });
  }
  /** PUT /v1/institutions/:id/crls (PEM or DER body) */
  async putCrls(id: string, data: string | Uint8Array, source = 'CRL'): Promise<PutCrlsResult> {
    const body = this.upload(data, source, 'CRL');
    return await this.send(R.putCrls, { params: { id }, query: { source }, body });
  }
  /** GET /v1/institutions/:id/crls, or /v1/crls */
  listCrls(id?: string): Promise<CrlRecord[]> {
    return id === undefined
      ? this.send(R.listAllCrls, { params: {} })
      : this.send(R.listCrls, { params: { id } });
  }
  /** DELETE /v1/institutions/:id/crls/:crlId */
  removeCrl(id: string, crlId: number): Promise<void> {
    return this.send(R.removeCrl, { params: { id, crlId: String(crlId) } });
  }
  /** POST /v1/institutions/:id/crl-urls */
  addCrlSource(id: string, url: string, intervalSeconds?: number): Promise<CrlSourceRecord> {
    const body = { url, ...(intervalSeconds === undefined ? {} : { intervalSeconds }) };
    return this.send(R.addCrlSource, { params: { id }, body });
  }
  /** GET /v1/institutions/:id/crl-urls, or /v1/crl-urls */
  listCrlSources(id?: string): Promise<CrlSourceRecord[]> {
    return id === undefined
      ? this.send(R.listAllCrlSources, { params: {} })
      : this.send(R.listCrlSources, { params: { id } });
  }
  /** DELETE /v1/institutions/:id/crl-urls?url=… */
  removeCrlSource(id: string, url: string): Promise<void> {
    return this.send(R.removeCrlSource, { params: { id }, query: { url } });
  }
  /** POST /v1/institutions/:id/crl-urls/refresh (the gateway downloads now) */
  refreshCrlSources(id: string, url?: string): Promise<CrlRefreshResult[]> {
    return this.send(R.refreshCrlSources, {
      params: { id },
      body: url === undefined ? {} : { url },
    });
  }
  /** POST /v1/institutions/:id/rules */
  addRule(id: string, rule: { kind: PinnedRule['kind']; value: string }): Promise<PinnedRule> {
    return this.send(R.addRule, { params: { id }, body: rule });
  }
  /** GET /v1/institutions/:id/rules, or /v1/rules */
  listRules(id?: string): Promise<PinnedRule[]> {
    return id === undefined
      ? this.send(R.listAllRules, { params: {} })
      : this.send(R.listRules, { params: { id } });
  }
  /** DELETE /v1/institutions/:id/rules/:ruleId */
  removeRule(id: string, ruleId: number): Promise<void> {
    return this.send(R.removeRule, { params: { id, ruleId: String(ruleId) } });
  }
  /**
   * GET /v1/audit. `since` may be a duration (`1h`), evaluated on the server's
   * clock, or an ISO time.
   */
  queryAudit(q: AuditQuery): Promise<AuditRecord[]> {
    const query = {
      since: q.since,
      institution: q.institutionId,
      outcome: q.outcome,
      reason: q.reason,
      requestId: q.requestId,
      limit: q.limit === undefined ? undefined : String(q.limit),
    };
    return this.send(R.queryAudit, { params: {}, query });
  }
  pruneAudit(before: string): Promise<AuditPruneResult> {
    return this.send(R.pruneAudit, { params: {}, query: { before } });
  }
  /** Closes the connection pool. */
  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}

function networkError(e: unknown, url: string): MtlsError {
  const err =
    networkErrorShape.safeParse(e).data ?? ({} satisfies z.infer<typeof networkErrorShape>);
  const code = err.code ?? err.cause?.code ?? '';
  const msg = err.cause?.message ?? err.message ?? String(e);
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS_CERT_ALTNAME/.test(code)) {
    return new MtlsError(
      'MTLS_TLS_SERVER_UNTRUSTED',
      `the admin API certificate at ${url} is not trusted (${code})`,
      {
        cause: e,
        hint: "Give the admin server's CA with --admin-ca FILE, and use the host name in its certificate.",
      },
    );
  }
  if (/TIMEOUT/i.test(code))
    return new MtlsError('MTLS_TIMEOUT', `the admin API at ${url} did not answer in time`, {
      cause: e,
    });
  if (/SSL|TLS|alert/i.test(`${code} ${msg}`)) {
    return new MtlsError('MTLS_TLS_HANDSHAKE', `TLS with the admin API at ${url} failed: ${msg}`, {
      cause: e,
      hint: 'Check --admin-cert/--admin-key (an admin client certificate) and --admin-ca.',
    });
  }
  return new MtlsError('MTLS_NETWORK', `cannot reach the admin API at ${url}: ${code || msg}`, {
    cause: e,
    hint: 'Check --admin URL and that the gateway admin listener is running.',
  });
}

/**
 * Builds an admin API client, reading the token, client certificate and CA
 * files. The token never appears in messages.
 * @throws MTLS_USAGE for a malformed URL or a key without certificate
 * @throws MTLS_FILE_NOT_FOUND / MTLS_FILE_READ for unreadable files
 * @throws MTLS_PASSPHRASE_REQUIRED for an empty token file
 */
export async function createAdminClient(options: AdminClientOptions): Promise<AdminClient> {
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new MtlsError('MTLS_USAGE', `--admin "${options.url}" is not a URL`, {
      subject: '--admin',
      hint: 'Write it as http://127.0.0.1:8444 or https://admin.example:8444.',
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new MtlsError(
      'MTLS_USAGE',
      `--admin "${options.url}" must be an http:// or https:// URL`,
      { subject: '--admin' },
    );
  }
  if (Boolean(options.certFile) !== Boolean(options.keyFile)) {
    throw new MtlsError(
      'MTLS_USAGE',
      'an admin client certificate needs both --admin-cert and --admin-key',
      { subject: options.certFile ? '--admin-key' : '--admin-cert' },
    );
  }
  if ((options.certFile || options.caFile) && url.protocol !== 'https:') {
    throw new MtlsError(
      'MTLS_USAGE',
      `--admin-cert/--admin-ca need an https:// admin URL, got ${url.protocol}`,
      { subject: '--admin' },
    );
  }
  let token: string | undefined;
  if (options.tokenFile) {
    token = (await readFileChecked(options.tokenFile, 'admin token file'))
      .toString('utf8')
      .split(/\r?\n/)[0]
      ?.trim();
    if (!token)
      throw new MtlsError(
        'MTLS_PASSPHRASE_REQUIRED',
        `admin token file ${options.tokenFile} is empty`,
        { subject: options.tokenFile },
      );
  }
  const connect: Record<string, unknown> = {};
  if (options.caFile) connect.ca = await readFileChecked(options.caFile, 'admin CA file');
  if (options.certFile && options.keyFile) {
    connect.cert = await readFileChecked(options.certFile, 'admin client certificate');
    connect.key = await readFileChecked(options.keyFile, 'admin client key');
    if (options.keyPassphrase !== undefined) connect.passphrase = options.keyPassphrase;
  }
  const dispatcher = new Agent({ connect, keepAliveTimeout: 4_000 });
  return new AdminClient(url.toString(), {
    ...(token !== undefined ? { token } : {}),
    dispatcher,
    timeoutMs: options.timeoutMs ?? 30_000,
  });
}
