/**
 * Classifies how an mTLS exchange ended (the probe's last step) and turns it,
 * together with what the client knows about its own certificate, into one
 * verdict from a closed set.
 */
import type { ErrorCode } from '../errors/index.js';
import { alertCode, alertName, type TlsAlert } from '../tls/tls-record.js';
import type { TlsVersionName, TlsVersionRange } from '../tls/versions.js';
import { isCertificateVerifyCode } from '../tls/verify-codes.js';
import {
  describeDifferences,
  type ClientCertificateProblem,
  type IssuerMatch,
} from './certificates.js';
import type { ConnectionTrace } from './connection.js';
import { recognizeCertificateRefusal, type CertificateRefusal } from './http-refusal.js';

/** How an exchange ended. */
export type OutcomeKind =
  /** An HTTP response came back. */
  | 'http-status'
  /** The server sent a TLS alert (decoded). */
  | 'tls-alert'
  /** TCP was accepted, then closed before any ServerHello: typical of an unregistered source IP. */
  | 'closed-before-handshake'
  /** Our side of the handshake was done, then the server closed without an alert (Node servers drop rejected clients so). */
  | 'closed-after-handshake'
  /** We refused the server's certificate. */
  | 'server-certificate-rejected'
  /** Our own TLS stack stopped the handshake (for example the server chose a version we do not allow). */
  | 'local-tls-error'
  | 'connection-refused'
  | 'dns-failure'
  | 'timeout'
  /** The peer does not speak TLS. */
  | 'not-tls'
  | 'network-error';

/** How an exchange ended, with what was observed. */
export interface Outcome {
  kind: OutcomeKind;
  /** For `tls-alert`: the server's alert. For `local-tls-error`: the alert we sent, if any. */
  alert?: TlsAlert;
  /** For `http-status`. */
  status?: number;
  /** The error code behind it (`ECONNRESET`, `ERR_SSL_…`, `UNABLE_TO_VERIFY_LEAF_SIGNATURE`, …). */
  errorCode?: string;
  /** What was observed, in one line. */
  detail: string;
  /** For `http-status`: the answer is a front end refusing our certificate. */
  refusal?: CertificateRefusal;
}

/** Every verdict (a closed set). */
export const VERDICTS = [
  'ok',
  'no-client-cert-requested',
  'http-error',
  'unreachable',
  'timeout',
  'closed-before-handshake',
  'not-tls',
  'tls-version-mismatch',
  'handshake-failure',
  'client-cert-missing',
  'client-cert-untrusted',
  'client-cert-expired',
  'client-cert-not-yet-valid',
  'client-cert-wrong-purpose',
  'client-cert-revoked',
  'client-cert-rejected',
  'server-untrusted',
  'server-name-mismatch',
] as const;

/** A verdict. */
export type Verdict = (typeof VERDICTS)[number];

/**
 * The error code a failed `mtls request` reports for each verdict (all exit 6, network/TLS).
 * `ok` and `no-client-cert-requested` never become errors; they map to MTLS_INTERNAL
 * only so that the table is total.
 */
export const VERDICT_ERROR_CODES: Readonly<Record<Verdict, ErrorCode>> = {
  ok: 'MTLS_INTERNAL',
  'no-client-cert-requested': 'MTLS_INTERNAL',
  'http-error': 'MTLS_HTTP_STATUS',
  unreachable: 'MTLS_NETWORK',
  timeout: 'MTLS_TIMEOUT',
  'closed-before-handshake': 'MTLS_NETWORK',
  'not-tls': 'MTLS_TLS_HANDSHAKE',
  'tls-version-mismatch': 'MTLS_TLS_VERSION',
  'handshake-failure': 'MTLS_TLS_HANDSHAKE',
  'client-cert-missing': 'MTLS_TLS_CLIENT_REJECTED',
  'client-cert-untrusted': 'MTLS_TLS_CLIENT_REJECTED',
  'client-cert-expired': 'MTLS_TLS_CLIENT_REJECTED',
  'client-cert-not-yet-valid': 'MTLS_TLS_CLIENT_REJECTED',
  'client-cert-wrong-purpose': 'MTLS_TLS_CLIENT_REJECTED',
  'client-cert-revoked': 'MTLS_TLS_CLIENT_REJECTED',
  'client-cert-rejected': 'MTLS_TLS_CLIENT_REJECTED',
  'server-untrusted': 'MTLS_TLS_SERVER_UNTRUSTED',
  'server-name-mismatch': 'MTLS_TLS_SERVER_UNTRUSTED',
};

/**
 * Reads the alert out of an OpenSSL error code as Node reports it:
 * `ERR_SSL_TLSV1_ALERT_UNKNOWN_CA` → unknown_ca (48). TLS 1.3 alerts arrive
 * encrypted, so this is the only way to see them.
 */
export function alertFromErrorCode(code: string | undefined): TlsAlert | undefined {
  if (!code) return undefined;
  const m = /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13)_(?:ALERT_)?([A-Z_]+)$/.exec(code);
  if (!m) return undefined;
  const name = (m[1] ?? '').toLowerCase();
  const c = alertCode(name);
  return c === undefined ? undefined : { level: 'fatal', code: c, name: alertName(c) };
}

/** Every `code` on an error and its causes, outermost first. */
function errorCodesOf(e: unknown): string[] {
  const out: string[] = [];
  let cur: unknown = e;
  for (let i = 0; i < 4 && typeof cur === 'object' && cur !== null; i++) {
    const code = 'code' in cur ? cur.code : undefined;
    if (typeof code === 'string') out.push(code);
    cur = 'cause' in cur ? cur.cause : undefined;
  }
  return out;
}

/**
 * Codes that mean we gave up waiting, not that the peer did anything: our
 * handshake timer, node:net's, and undici's header, body and connect timeouts.
 */
const TIMEOUT_CODES = new Set([
  'ETIMEDOUT',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** What {@link classifyOutcome} looks at. */
export interface ClassifyInput {
  /** The connection's trace; undefined when no connection was attempted. */
  trace: ConnectionTrace | undefined;
  /** The HTTP status, when a response came. */
  status?: number;
  /** The response body, when a response came (read for certificate refusals). */
  body?: Uint8Array | string;
  /** The error that ended the exchange, when no response came. */
  error?: unknown;
}

/** Classifies how an exchange ended from its trace and final error. */
export function classifyOutcome(input: ClassifyInput): Outcome {
  const { trace } = input;
  if (input.status !== undefined) {
    const refusal = recognizeCertificateRefusal(input.status, input.body);
    return refusal
      ? {
          kind: 'http-status',
          status: input.status,
          refusal,
          detail: `the handshake completed, then ${refusal.server} answered ${refusal.said}`,
        }
      : { kind: 'http-status', status: input.status, detail: `HTTP ${input.status}` };
  }
  const thrown = errorCodesOf(input.error);
  // undici destroys the socket with its own error after a failure; the TLS layer's error says more.
  const firstError = trace?.errors.find((e) => !e.code?.startsWith('UND_ERR')) ?? trace?.errors[0];
  const code =
    firstError?.code ??
    thrown.find((c) => !c.startsWith('UND_ERR') && !c.startsWith('MTLS_')) ??
    thrown.find((c) => c.startsWith('UND_ERR'));
  const message =
    firstError?.message ??
    (input.error instanceof Error ? input.error.message : String(input.error));
  const withCode = (o: Outcome): Outcome => (code ? { ...o, errorCode: code } : o);
  const timedOut = [...(trace?.errors ?? []).map((e) => e.code), ...thrown].find(
    (c): c is string => c !== undefined && TIMEOUT_CODES.has(c),
  );
  if (!trace || !trace.tcpConnected) {
    if (code === 'ECONNREFUSED')
      return withCode({
        kind: 'connection-refused',
        detail: 'the connection was refused: nothing listens on that port',
      });
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
      return withCode({ kind: 'dns-failure', detail: `the host name does not resolve (${code})` });
    if (timedOut)
      return {
        kind: 'timeout',
        errorCode: timedOut,
        detail: 'the TCP connection was not accepted in time',
      };
    return withCode({ kind: 'network-error', detail: message });
  }
  const t = trace.transcript;
  if (
    t.malformed ||
    code === 'ERR_SSL_WRONG_VERSION_NUMBER' ||
    code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG'
  ) {
    return withCode({
      kind: 'not-tls',
      detail: t.malformed ?? 'the server answered with something that is not TLS',
    });
  }
  // Only a fatal alert ends a handshake (RFC 5246 §7.2); a warning such as unrecognized_name does not.
  const received = t.alertsReceived.find((a) => a.level === 'fatal') ?? alertFromErrorCode(code);
  if (received)
    return withCode({
      kind: 'tls-alert',
      alert: received,
      detail: `the server sent the TLS alert ${received.name} (${received.code})`,
    });
  if (isCertificateVerifyCode(code)) {
    return withCode({
      kind: 'server-certificate-rejected',
      detail: `we refused the server's certificate: ${message}`,
    });
  }
  const sent = t.alertsSent.find((a) => a.level === 'fatal');
  if (sent || (code && code.startsWith('ERR_SSL_') && !/DISCONNECT|SHUTDOWN/.test(code))) {
    return withCode({
      kind: 'local-tls-error',
      ...(sent ? { alert: sent } : {}),
      detail: sent
        ? `our TLS stack stopped the handshake with the alert ${sent.name}: ${message}`
        : message,
    });
  }
  // We gave up waiting: the server is slow or silent, whatever stage it reached. Checked before
  // the closed-* outcomes, because giving up closes the connection from our side.
  if (timedOut) {
    const detail = trace.secureConnected
      ? 'the mTLS handshake completed and the server kept the connection open, but sent no HTTP answer in time'
      : t.bytesReceived === 0
        ? 'the server accepted TCP but never answered the ClientHello'
        : 'the server stopped answering mid-handshake';
    return { kind: 'timeout', errorCode: timedOut, detail };
  }
  if (!trace.peerClosed) {
    return withCode({
      kind: 'network-error',
      detail: `the connection broke ${trace.secureConnected ? 'after' : 'during'} the handshake without the server closing it: ${message}`,
    });
  }
  if (t.bytesReceived === 0 || !t.serverHello) {
    return withCode({
      kind: 'closed-before-handshake',
      detail:
        t.bytesReceived === 0
          ? 'the server closed the connection before any TLS handshake'
          : 'the server closed the connection before its ServerHello',
    });
  }
  if (trace.secureConnected || t.serverHelloDone) {
    return withCode({
      kind: 'closed-after-handshake',
      detail: trace.secureConnected
        ? 'the handshake completed, then the server closed the connection without an alert and without an HTTP answer'
        : 'we sent our certificate and finished our side of the handshake, then the server closed the connection without an alert',
    });
  }
  return withCode({
    kind: 'network-error',
    detail: `the connection broke during the handshake: ${message}`,
  });
}

/** What the client knows besides the outcome. */
export interface DiagnoseContext {
  /** A client certificate was configured. */
  hadCredentials: boolean;
  /** Problems with our certificate ({@link checkClientCertificate}). */
  clientProblems?: ClientCertificateProblem[];
  /** Our issuer against the server's acceptable CA names, when they were seen. */
  issuerMatch?: IssuerMatch;
  /** Whether the server asked for a client certificate: null when unknown (TLS 1.3). */
  certificateRequested?: boolean | null;
  /** The versions we offered. */
  offered?: TlsVersionRange;
  /** Which versions the server accepts, when probed. */
  serverVersions?: Partial<Record<TlsVersionName, boolean>>;
}

/** An outcome turned into a verdict. */
export interface Classification {
  verdict: Verdict;
  /** The likely cause, in one sentence, naming what the client could tell (dates, names). */
  cause: string;
}

const CERT_ALERTS = new Set([
  'bad_certificate',
  'certificate_unknown',
  'access_denied',
  'decrypt_error',
  'handshake_failure',
]);

/** Narrows a generic client-certificate rejection by what we know about our certificate. */
function refine(ctx: DiagnoseContext, fallback: Classification): Classification {
  const problems = ctx.clientProblems ?? [];
  const find = (c: ClientCertificateProblem['code']): ClientCertificateProblem | undefined =>
    problems.find((p) => p.code === c);
  const expired = find('expired');
  if (expired) return { verdict: 'client-cert-expired', cause: expired.message };
  const early = find('not_yet_valid');
  if (early) return { verdict: 'client-cert-not-yet-valid', cause: early.message };
  const eku = find('eku_lacks_client_auth');
  if (eku) return { verdict: 'client-cert-wrong-purpose', cause: eku.message };
  if (ctx.issuerMatch && !ctx.issuerMatch.listed)
    return { verdict: 'client-cert-untrusted', cause: issuerCause(ctx.issuerMatch) };
  const ca = find('is_ca');
  if (ca) return { verdict: 'client-cert-wrong-purpose', cause: ca.message };
  return fallback;
}

function issuerCause(m: IssuerMatch): string {
  const ours = m.ourCaNames[0] ?? 'an unknown CA';
  if (!m.closest)
    return `our certificate is issued by ${ours}, which is not among the CA names the server accepts`;
  const diff = m.closest.differences;
  return `our certificate is issued by ${ours}, which is not among the CA names the server accepts; the closest is ${m.closest.name}${diff.length > 0 && diff.length <= 3 ? ` (${describeDifferences(diff)})` : ''}`;
}

/**
 * Turns an outcome into a verdict and a cause, using what the client knows
 * about its certificate to name the likely cause of a bare rejection.
 */
export function classifyVerdict(outcome: Outcome, ctx: DiagnoseContext): Classification {
  const missing: Classification = {
    verdict: 'client-cert-missing',
    cause: 'the server requires a client certificate and we sent none',
  };
  const rejected: Classification = {
    verdict: 'client-cert-rejected',
    cause: 'the server refused our client certificate without naming a reason',
  };
  switch (outcome.kind) {
    case 'http-status': {
      const status = outcome.status ?? 0;
      if (outcome.refusal) return refusalVerdict(outcome.refusal, outcome.detail, ctx);
      if (status >= 400)
        return {
          verdict: 'http-error',
          cause: `the TLS handshake succeeded and the server answered HTTP ${status}`,
        };
      if (ctx.certificateRequested === false) {
        return {
          verdict: 'no-client-cert-requested',
          cause: `the server answered HTTP ${status} without asking for a client certificate: this endpoint does not use mTLS`,
        };
      }
      return {
        verdict: 'ok',
        cause: `the mTLS handshake succeeded and the server answered HTTP ${status}`,
      };
    }
    case 'connection-refused':
    case 'dns-failure':
    case 'network-error':
      return { verdict: 'unreachable', cause: outcome.detail };
    case 'timeout':
      return { verdict: 'timeout', cause: outcome.detail };
    case 'not-tls':
      return { verdict: 'not-tls', cause: outcome.detail };
    case 'closed-before-handshake':
      return {
        verdict: 'closed-before-handshake',
        cause: `${outcome.detail}; a provider does this when the source IP is not registered`,
      };
    case 'server-certificate-rejected': {
      const code = outcome.errorCode ?? '';
      if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'HOSTNAME_MISMATCH')
        return { verdict: 'server-name-mismatch', cause: outcome.detail };
      return { verdict: 'server-untrusted', cause: outcome.detail };
    }
    case 'local-tls-error': {
      const code = outcome.errorCode ?? '';
      if (
        outcome.alert?.name === 'protocol_version' ||
        /UNSUPPORTED_PROTOCOL|NO_PROTOCOLS_AVAILABLE|VERSION_TOO_LOW|VERSION_TOO_HIGH/.test(code)
      ) {
        return { verdict: 'tls-version-mismatch', cause: versionCause(ctx, outcome.detail) };
      }
      return { verdict: 'handshake-failure', cause: outcome.detail };
    }
    case 'tls-alert': {
      const name = outcome.alert?.name ?? '';
      if (name === 'protocol_version' || name === 'inappropriate_fallback')
        return { verdict: 'tls-version-mismatch', cause: versionCause(ctx, outcome.detail) };
      if (name === 'certificate_required') return missing;
      if (name === 'unknown_ca') {
        return {
          verdict: 'client-cert-untrusted',
          cause:
            ctx.issuerMatch && !ctx.issuerMatch.listed
              ? issuerCause(ctx.issuerMatch)
              : 'the server does not trust the CA that issued our certificate (unknown_ca)',
        };
      }
      if (name === 'certificate_expired') {
        const p = ctx.clientProblems?.find((x) => x.code === 'expired');
        return {
          verdict: 'client-cert-expired',
          cause: p?.message ?? 'the server says our certificate (or a CA above it) has expired',
        };
      }
      if (name === 'certificate_revoked')
        return {
          verdict: 'client-cert-revoked',
          cause: 'the server says our certificate is revoked',
        };
      if (name === 'unsupported_certificate') {
        const p = ctx.clientProblems?.find(
          (x) => x.code === 'eku_lacks_client_auth' || x.code === 'is_ca',
        );
        return {
          verdict: 'client-cert-wrong-purpose',
          cause:
            p?.message ??
            'the server says our certificate is not usable for client authentication (unsupported_certificate)',
        };
      }
      if (CERT_ALERTS.has(name)) {
        if (
          name === 'handshake_failure' &&
          ctx.offered &&
          ctx.serverVersions &&
          ctx.serverVersions[ctx.offered.maxVersion] === false &&
          ctx.serverVersions[ctx.offered.minVersion] === false
        ) {
          return { verdict: 'tls-version-mismatch', cause: versionCause(ctx, outcome.detail) };
        }
        if (!ctx.hadCredentials && ctx.certificateRequested !== false) return missing;
        return refine(
          ctx,
          name === 'handshake_failure'
            ? {
                verdict: 'handshake-failure',
                cause: `the server ended the handshake with handshake_failure (no shared cipher suite or signature algorithm, or it refused our certificate)`,
              }
            : { ...rejected, cause: `the server refused our client certificate (${name})` },
        );
      }
      return { verdict: 'handshake-failure', cause: outcome.detail };
    }
    case 'closed-after-handshake':
      if (!ctx.hadCredentials && ctx.certificateRequested !== false)
        return {
          ...missing,
          cause: `${outcome.detail}; the server asked for a client certificate and we sent none`,
        };
      return refine(ctx, {
        ...rejected,
        cause: `${outcome.detail}: the server refused our client certificate without an alert (Node-based servers drop a rejected client this way)`,
      });
  }
}

/**
 * A refusal that came over HTTP: the server names less than a TLS alert does,
 * so what the client found about its own certificate decides the verdict
 * where the server's words leave it open.
 */
function refusalVerdict(
  refusal: CertificateRefusal,
  detail: string,
  ctx: DiagnoseContext,
): Classification {
  if (refusal.kind === 'no-certificate') {
    if (!ctx.hadCredentials)
      return {
        verdict: 'client-cert-missing',
        cause: `${detail}: the server requires a client certificate and we sent none`,
      };
    return refine(ctx, {
      verdict: 'client-cert-missing',
      cause: `${detail}: the server saw no client certificate although one was configured`,
    });
  }
  const problem = (code: ClientCertificateProblem['code']): string | undefined =>
    ctx.clientProblems?.find((p) => p.code === code)?.message;
  switch (refusal.reason) {
    case 'expired':
      return {
        verdict: 'client-cert-expired',
        cause: `${detail}: ${problem('expired') ?? 'our certificate or a CA above it has expired'}`,
      };
    case 'not-yet-valid':
      return {
        verdict: 'client-cert-not-yet-valid',
        cause: `${detail}: ${problem('not_yet_valid') ?? 'our certificate is not valid yet'}`,
      };
    case 'revoked':
      return { verdict: 'client-cert-revoked', cause: `${detail}: our certificate is revoked` };
    case 'wrong-purpose':
      return {
        verdict: 'client-cert-wrong-purpose',
        cause: `${detail}: ${problem('eku_lacks_client_auth') ?? problem('is_ca') ?? 'our certificate is not usable for client authentication'}`,
      };
    case 'untrusted':
      return {
        verdict: 'client-cert-untrusted',
        cause:
          ctx.issuerMatch && !ctx.issuerMatch.listed
            ? `${detail}: ${issuerCause(ctx.issuerMatch)}`
            : `${detail}: the server does not trust the CA that issued our certificate`,
      };
    default: {
      const refined = refine(ctx, {
        verdict: 'client-cert-rejected',
        cause: `${detail}: the server refused our client certificate`,
      });
      return refined.verdict === 'client-cert-rejected'
        ? refined
        : { ...refined, cause: `${detail}: ${refined.cause}` };
    }
  }
}

function versionCause(ctx: DiagnoseContext, detail: string): string {
  const accepted = ctx.serverVersions
    ? Object.entries(ctx.serverVersions)
        .filter(([, ok]) => ok)
        .map(([v]) => v)
    : [];
  const offered = ctx.offered
    ? ctx.offered.minVersion === ctx.offered.maxVersion
      ? ctx.offered.minVersion
      : `${ctx.offered.minVersion}–${ctx.offered.maxVersion}`
    : 'our versions';
  if (accepted.length > 0)
    return `we offered ${offered}; the server accepts only ${accepted.join(', ')}`;
  return `${detail}: the server does not accept ${offered}`;
}
