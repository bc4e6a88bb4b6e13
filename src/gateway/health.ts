/**
 * Health endpoints and the operations listener.
 *
 * `/healthz` (liveness) answers 200 while the process serves HTTP at all.
 * `/readyz` (readiness) answers 200 only when the mTLS listener is bound, a
 * trust snapshot is loaded and not too stale (the registry has been readable
 * within the maximum staleness), audit records have not been failing to reach
 * the registry for longer than `audit.maxFailureSeconds` (an audit trail that
 * only the log holds must not look healthy), and the gateway is not draining;
 * otherwise 503, with the reasons in the JSON body. `/metrics` is the Prometheus text format.
 *
 * They are served on a separate plain-HTTP listener (`ops.listen`, loopback
 * by default), never on the mTLS port: a load balancer or kubelet probing
 * the mTLS port would need a client certificate, and the mTLS port must stay
 * closed to unregistered addresses. The admin API may mount
 * {@link handleHealthRequest} as well.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { isLoopbackHost } from './ip-match.js';
import type { GatewayMetrics } from './metrics.js';
import { errorMessage } from '../errors/mtls-error.js';
import { boundAddress } from './bound-address.js';

/** What readiness is decided from. */
export interface HealthState {
  listening: boolean;
  draining: boolean;
  trustLoaded: boolean;
  /** The registry has been unreadable for longer than the maximum staleness: the gateway refuses connections (fail closed). */
  trustStale: boolean;
  registryVersion: number | null;
  /** Last registry reload error (a short failure does not make the gateway unready: the last good snapshot keeps serving until it is too stale). */
  registryError: string | null;
  /** When the trust snapshot in service was built (ISO): the last registry change applied. */
  registryAppliedAt: string | null;
  /** Server certificate expiry (ISO). */
  serverCertNotAfter: string | null;
  /** Seconds since audit writes to the registry started failing; null while they succeed. */
  auditFailingSeconds: number | null;
  /** The last audit write error while they fail. */
  auditError: string | null;
  /** `audit.maxFailureSeconds`: how long audit writes may fail before the gateway is not ready. */
  auditMaxFailureSeconds: number;
}

/**
 * Writes an ops response: JSON (`body` serialised) by default, or `body` as
 * text with the given content type. Never cached.
 */
export function sendOpsResponse(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  type = 'application/json',
): void {
  const text = type === 'application/json' ? `${JSON.stringify(body)}\n` : String(body);
  res.writeHead(status, {
    'content-type': type,
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** Why a gateway is not ready (empty when it is). */
export function readinessProblems(s: HealthState): string[] {
  const problems: string[] = [];
  if (!s.listening) problems.push('listener not bound');
  if (!s.trustLoaded) problems.push('registry not loaded');
  if (s.trustStale)
    problems.push(`registry unreadable for too long: ${s.registryError ?? 'unknown error'}`);
  if (s.auditFailingSeconds !== null && s.auditFailingSeconds >= s.auditMaxFailureSeconds) {
    problems.push(
      `audit records have not reached the registry for ${s.auditFailingSeconds} s: ${s.auditError ?? 'unknown error'}`,
    );
  }
  if (s.draining) problems.push('draining');
  return problems;
}

/** The smaller of two optional values (null when both are); ISO 8601 UTC strings order as the times they name. */
function least<T extends number | string>(a: T | null, b: T | null): T | null {
  if (a === null) return b;
  if (b === null) return a;
  return b < a ? b : a;
}

/**
 * One instance's health from its worker processes' states, each figure as
 * the worst worker has it, because a connection may land on any of them:
 * listening and loaded only when every worker is, stale or draining when any
 * is, the oldest registry version served and the oldest snapshot, the
 * earliest server certificate expiry (after a partial reload the old
 * certificate is still served somewhere), and the longest audit outage with
 * its error.
 * @returns null when no worker answered
 */
export function combineHealth(states: readonly HealthState[]): HealthState | null {
  const [first, ...rest] = states;
  if (!first) return null;
  let out: HealthState = { ...first };
  for (const s of rest) {
    const auditWorse = (s.auditFailingSeconds ?? -1) > (out.auditFailingSeconds ?? -1);
    out = {
      listening: out.listening && s.listening,
      draining: out.draining || s.draining,
      trustLoaded: out.trustLoaded && s.trustLoaded,
      trustStale: out.trustStale || s.trustStale,
      registryVersion: least(out.registryVersion, s.registryVersion),
      registryError: out.registryError ?? s.registryError,
      registryAppliedAt: least(out.registryAppliedAt, s.registryAppliedAt),
      serverCertNotAfter: least(out.serverCertNotAfter, s.serverCertNotAfter),
      auditFailingSeconds: auditWorse ? s.auditFailingSeconds : out.auditFailingSeconds,
      auditError: auditWorse ? s.auditError : out.auditError,
      auditMaxFailureSeconds: out.auditMaxFailureSeconds,
    };
  }
  return out;
}

/**
 * Answers `/healthz`, `/readyz` and (with metrics) `/metrics`.
 * @returns false when the path is none of them (the caller answers 404)
 */
export function handleHealthRequest(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  state: () => HealthState,
  metrics?: GatewayMetrics,
): boolean {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    if (path === '/healthz' || path === '/readyz' || path === '/metrics') {
      sendOpsResponse(res, 405, { error: 'method_not_allowed' });
      return true;
    }
    return false;
  }
  if (path === '/healthz') {
    sendOpsResponse(res, 200, { status: 'ok' });
    return true;
  }
  if (path === '/readyz') {
    const s = state();
    const problems = readinessProblems(s);
    sendOpsResponse(res, problems.length === 0 ? 200 : 503, {
      status: problems.length === 0 ? 'ready' : 'not_ready',
      problems,
      ...s,
    });
    return true;
  }
  if (path === '/metrics' && metrics) {
    metrics.registry.metrics().then(
      (text) => sendOpsResponse(res, 200, text, metrics.registry.contentType),
      (e: unknown) =>
        sendOpsResponse(res, 500, { error: 'metrics_failed', message: errorMessage(e) }),
    );
    return true;
  }
  return false;
}

/**
 * Logs a warning when the operations listener is bound beyond loopback: it
 * has no authentication, and `/metrics` and `/readyz` tell anyone who can
 * reach it the registry version, error texts and traffic by reason code.
 * @returns true when it warned
 */
export function warnIfOpsExposed(host: string, logger: Pick<Logger, 'warn'>): boolean {
  const warning = opsExposureWarning(host);
  if (warning) logger.warn({ opsListen: host }, warning);
  return warning !== null;
}

/** The text of {@link warnIfOpsExposed}'s warning, or null on loopback (`--check` prints it). */
export function opsExposureWarning(host: string): string | null {
  if (isLoopbackHost(host)) return null;
  return `the operations listener (/healthz, /readyz, /metrics) is bound to ${host}, beyond loopback, without authentication: firewall it or bind it to 127.0.0.1`;
}

/** A started operations listener. */
export interface OpsServer {
  server: http.Server;
  address(): AddressInfo;
  close(): Promise<void>;
}

/**
 * Starts the plain-HTTP operations listener.
 * @throws the listen error (EADDRINUSE, EACCES) as a Node error
 */
export function startOpsServer(
  host: string,
  port: number,
  state: () => HealthState,
  metrics?: GatewayMetrics,
): Promise<OpsServer> {
  return listenOps(host, port, (req, res) => handleHealthRequest(req, res, state, metrics));
}

/**
 * Starts a plain-HTTP operations listener around a handler that answers the
 * paths it knows (returning true) and leaves the rest to a JSON 404.
 * @throws the listen error (EADDRINUSE, EACCES) as a Node error
 */
export async function listenOps(
  host: string,
  port: number,
  handle: (req: http.IncomingMessage, res: http.ServerResponse) => boolean,
): Promise<OpsServer> {
  const server = http.createServer((req, res) => {
    if (!handle(req, res)) sendOpsResponse(res, 404, { error: 'not_found' });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    server,
    address: () => boundAddress(server, 'the ops server'),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
