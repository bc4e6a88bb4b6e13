/**
 * A typed client for the admin API: the same {@link RegistryAdmin} operations
 * as a local registry, over HTTP(S), authenticated by a bearer token or an
 * admin client certificate.
 */
import { Agent, request, type Dispatcher } from 'undici';
import { ERROR_CODES, MtlsError, type ErrorCode } from '../../errors/index.js';
import { readFileChecked } from '../../io/index.js';
import { isPem } from '../../pki/pem.js';
import { assertNoPrivateKey } from '../onboarding.js';
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
} from '../registry/types.js';
import type {
  AddCaChainResult,
  InstitutionSummary,
  PutCrlsResult,
  RegistryAdmin,
} from './operations.js';

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

interface ErrorBody {
  error?: { code?: string; message?: string; hint?: string; details?: Record<string, unknown> };
}

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

  private async call<T>(
    method: Dispatcher.HttpMethod,
    path: string,
    body?: { type: string; data: string | Buffer },
  ): Promise<T> {
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
    if (res.statusCode === 204) return undefined as T;
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
      const err = (parsed as ErrorBody | undefined)?.error;
      const code = (
        err?.code && err.code in ERROR_CODES ? err.code : 'MTLS_HTTP_STATUS'
      ) as ErrorCode;
      throw new MtlsError(code, err?.message ?? `the admin API answered ${res.statusCode}`, {
        ...(err?.hint ? { hint: err.hint } : {}),
        ...(err?.details ? { details: err.details } : {}),
        subject: `${method} ${path}`,
      });
    }
    return parsed as T;
  }

  private json(data: unknown): { type: string; data: string } {
    return { type: 'application/json', data: JSON.stringify(data) };
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

  private static seg(v: string | number): string {
    return encodeURIComponent(String(v));
  }

  private inst(id: string): string {
    return `/v1/institutions/${AdminClient.seg(id)}`;
  }

  /** GET /v1/institutions */
  async listInstitutions(): Promise<InstitutionSummary[]> {
    return (await this.call<{ items: InstitutionSummary[] }>('GET', '/v1/institutions')).items;
  }
  /** POST /v1/institutions */
  createInstitution(input: { id: string; name: string }): Promise<Institution> {
    return this.call('POST', '/v1/institutions', this.json(input));
  }
  /** GET /v1/institutions/:id */
  getInstitution(id: string): Promise<InstitutionTrust> {
    return this.call('GET', this.inst(id));
  }
  /** PATCH /v1/institutions/:id */
  setInstitutionStatus(id: string, status: InstitutionStatus): Promise<Institution> {
    return this.call('PATCH', this.inst(id), this.json({ status }));
  }
  /** DELETE /v1/institutions/:id */
  async deleteInstitution(id: string): Promise<void> {
    await this.call('DELETE', this.inst(id));
  }
  /** POST /v1/institutions/:id/cas (PEM or DER body) */
  async addCaChain(
    institutionId: string,
    data: string | Uint8Array,
    source = 'chain',
  ): Promise<AddCaChainResult> {
    return this.call(
      'POST',
      `${this.inst(institutionId)}/cas?source=${AdminClient.seg(source)}`,
      this.upload(data, source, 'CA chain'),
    );
  }
  /** GET /v1/institutions/:id/cas, or /v1/cas */
  async listCaChains(institutionId?: string): Promise<CaChainRecord[]> {
    return (
      await this.call<{ items: CaChainRecord[] }>(
        'GET',
        institutionId === undefined ? '/v1/cas' : `${this.inst(institutionId)}/cas`,
      )
    ).items;
  }
  /** DELETE /v1/institutions/:id/cas/:chainId */
  async removeCaChain(institutionId: string, chainId: number): Promise<void> {
    await this.call('DELETE', `${this.inst(institutionId)}/cas/${AdminClient.seg(chainId)}`);
  }
  /** POST /v1/institutions/:id/ips */
  addIp(institutionId: string, cidr: string, options: AddIpOptions = {}): Promise<IpRecord> {
    return this.call(
      'POST',
      `${this.inst(institutionId)}/ips`,
      this.json({ cidr, ...(options.allowWideRange ? { allowWideRange: true } : {}) }),
    );
  }
  /** DELETE /v1/institutions/:id/ips?cidr=… */
  async removeIp(institutionId: string, cidr: string): Promise<void> {
    await this.call('DELETE', `${this.inst(institutionId)}/ips?cidr=${AdminClient.seg(cidr)}`);
  }
  /** GET /v1/institutions/:id/ips, or /v1/ips */
  async listIps(institutionId?: string): Promise<IpRecord[]> {
    return (
      await this.call<{ items: IpRecord[] }>(
        'GET',
        institutionId === undefined ? '/v1/ips' : `${this.inst(institutionId)}/ips`,
      )
    ).items;
  }
  /** PUT /v1/institutions/:id/crls (PEM or DER body) */
  async putCrls(
    institutionId: string,
    data: string | Uint8Array,
    source = 'CRL',
  ): Promise<PutCrlsResult> {
    return this.call(
      'PUT',
      `${this.inst(institutionId)}/crls?source=${AdminClient.seg(source)}`,
      this.upload(data, source, 'CRL'),
    );
  }
  /** GET /v1/institutions/:id/crls, or /v1/crls */
  async listCrls(institutionId?: string): Promise<CrlRecord[]> {
    return (
      await this.call<{ items: CrlRecord[] }>(
        'GET',
        institutionId === undefined ? '/v1/crls' : `${this.inst(institutionId)}/crls`,
      )
    ).items;
  }
  /** DELETE /v1/institutions/:id/crls/:crlId */
  async removeCrl(institutionId: string, crlId: number): Promise<void> {
    await this.call('DELETE', `${this.inst(institutionId)}/crls/${AdminClient.seg(crlId)}`);
  }
  /** POST /v1/institutions/:id/crl-urls */
  addCrlSource(
    institutionId: string,
    url: string,
    intervalSeconds?: number,
  ): Promise<CrlSourceRecord> {
    return this.call(
      'POST',
      `${this.inst(institutionId)}/crl-urls`,
      this.json({ url, ...(intervalSeconds === undefined ? {} : { intervalSeconds }) }),
    );
  }
  /** GET /v1/institutions/:id/crl-urls, or /v1/crl-urls */
  async listCrlSources(institutionId?: string): Promise<CrlSourceRecord[]> {
    return (
      await this.call<{ items: CrlSourceRecord[] }>(
        'GET',
        institutionId === undefined ? '/v1/crl-urls' : `${this.inst(institutionId)}/crl-urls`,
      )
    ).items;
  }
  /** DELETE /v1/institutions/:id/crl-urls?url=… */
  async removeCrlSource(institutionId: string, url: string): Promise<void> {
    await this.call('DELETE', `${this.inst(institutionId)}/crl-urls?url=${AdminClient.seg(url)}`);
  }
  /** POST /v1/institutions/:id/crl-urls/refresh (the gateway downloads now) */
  async refreshCrlSources(institutionId: string, url?: string): Promise<CrlRefreshResult[]> {
    return (
      await this.call<{ items: CrlRefreshResult[] }>(
        'POST',
        `${this.inst(institutionId)}/crl-urls/refresh`,
        this.json(url === undefined ? {} : { url }),
      )
    ).items;
  }
  /** POST /v1/institutions/:id/rules */
  addRule(
    institutionId: string,
    rule: { kind: PinnedRule['kind']; value: string },
  ): Promise<PinnedRule> {
    return this.call('POST', `${this.inst(institutionId)}/rules`, this.json(rule));
  }
  /** GET /v1/institutions/:id/rules, or /v1/rules */
  async listRules(institutionId?: string): Promise<PinnedRule[]> {
    return (
      await this.call<{ items: PinnedRule[] }>(
        'GET',
        institutionId === undefined ? '/v1/rules' : `${this.inst(institutionId)}/rules`,
      )
    ).items;
  }
  /** DELETE /v1/institutions/:id/rules/:ruleId */
  async removeRule(institutionId: string, ruleId: number): Promise<void> {
    await this.call('DELETE', `${this.inst(institutionId)}/rules/${AdminClient.seg(ruleId)}`);
  }
  /**
   * GET /v1/audit. `since` may be a duration (`1h`), evaluated on the server's
   * clock, or an ISO time.
   */
  async queryAudit(query: AuditQuery): Promise<AuditRecord[]> {
    const p = new URLSearchParams();
    if (query.since !== undefined) p.set('since', query.since);
    if (query.institutionId !== undefined) p.set('institution', query.institutionId);
    if (query.outcome !== undefined) p.set('outcome', query.outcome);
    if (query.reason !== undefined) p.set('reason', query.reason);
    if (query.limit !== undefined) p.set('limit', String(query.limit));
    const qs = p.toString();
    return (await this.call<{ items: AuditRecord[] }>('GET', `/v1/audit${qs ? `?${qs}` : ''}`))
      .items;
  }
  /** Closes the connection pool. */
  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}

function networkError(e: unknown, url: string): MtlsError {
  const err = e as { code?: string; message?: string; cause?: { code?: string; message?: string } };
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
