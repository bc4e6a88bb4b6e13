/**
 * The gateway: TCP listener → per-IP TLS server → post-handshake policy →
 * HTTP → upstream, with the audit trail, health endpoints and graceful drain.
 *
 * The pieces:
 * - {@link MtlsListener} accepts TCP and picks the TLS server by source IP.
 * - {@link TrustCache} keeps the registry snapshot and one `tls.Server` per
 *   set of institutions; each never listens itself.
 * - {@link evaluateConnection} decides after the handshake.
 * - One `http.Server` (never listening either) parses requests on accepted
 *   TLS sockets; {@link UpstreamProxy} forwards them.
 *
 * TLS settings (RFC 9325 §3.1, §4.2; issue 4 §1): TLS 1.2 only (min = max),
 * ECDHE with AEAD ciphers only, no renegotiation (RFC 5746 attacks; OpenSSL
 * SSL_OP_NO_RENEGOTIATION), no session tickets (SSL_OP_NO_TICKET; node:tls has
 * no internal session-ID cache), so every connection runs a full handshake and
 * a full chain verification against the registry as it is now.
 *
 * What the client is told (the operator always gets the full reason and
 * detail in the audit record):
 * - unregistered or only-suspended source IP, or a registry that has been
 *   unreadable for longer than the maximum staleness (fail closed): the TCP
 *   connection is reset before any TLS byte (no handshake, no certificate shown);
 * - TLS version or handshake failure: OpenSSL's TLS alert (protocol_version…);
 * - handshake timeout: a bare close;
 * - handshake completed but the policy refused the certificate: HTTP 403 with
 *   `{"error":"<reason code>"}` and `Connection: close`, nothing else;
 * - a registry change on a kept-alive connection: the next request (and every
 *   request pipelined behind it) waits for the connection to be re-evaluated
 *   against the new snapshot, then is forwarded or refused with 403;
 * - upstream failure: 502/504 with `{"error":"upstream_error"}`.
 */
import http from 'node:http';
import tls from 'node:tls';
import { constants } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { pino, type Logger } from 'pino';
import { MtlsError, toMtlsError } from '../errors/index.js';
import { TLS12_AEAD_CIPHERS } from '../tls/versions.js';
import { AuditSink, makeAuditRecord } from './audit.js';
import type { GatewayConfig } from './config.js';
import { startAdminServer, type RunningAdmin } from './admin/server.js';
import { startOpsServer, type HealthState, type OpsServer } from './health.js';
import { buildUpstreamHeaders, type ClientIdentity } from './identity-headers.js';
import { normalizeIp } from './ip-match.js';
import { MtlsListener } from './listener.js';
import { GatewayMetrics } from './metrics.js';
import { evaluateConnection, type PolicyDecision } from './policy.js';
import { sendReason, UpstreamProxy } from './proxy.js';
import { openRegistry } from './registry/index.js';
import type { AuditReason, AuditRecord, Registry } from './registry/types.js';
import { loadServerCredential, type ServerCredential } from './server-credential.js';
import { TrustCache, type TrustLookup, type TrustSnapshot } from './trust-cache.js';

/** Time a rejected-but-handshaken client gets to send its request and read the 403. */
const REJECTED_GRACE_MS = 5_000;

/** Options for {@link startGateway}. */
export interface StartGatewayOptions {
  config: GatewayConfig;
  /** A registry to use instead of opening `config.registry`; the gateway does not close it. */
  registry?: Registry;
  /** Logger for audit lines and operations (default: pino JSON to stdout at `config.logLevel`). */
  logger?: Logger;
  /** Environment for passphrases (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/** Result of {@link RunningGateway.reloadCredential}. */
export type ReloadCredentialResult =
  | { ok: true; subject: string; notAfter: string; fingerprint: string }
  | { ok: false; error: MtlsError };

/** A started gateway. */
export interface RunningGateway {
  /** The mTLS listener's address. */
  address(): AddressInfo;
  /** The operations listener's address, or null when it is off. */
  opsAddress(): AddressInfo | null;
  /** The admin API's base URL, or null when it is off (no admin authentication configured). */
  adminUrl(): string | null;
  /** The registry in use. */
  readonly registry: Registry;
  /** The prom-client metrics. */
  readonly metrics: GatewayMetrics;
  /** The trust snapshot in service. */
  snapshot(): TrustSnapshot;
  /** Rebuilds the trust snapshot now (changes are also picked up on their own within `registryPollMs`). */
  reloadTrust(): Promise<TrustSnapshot>;
  /**
   * Loads the server credential again from the configured files. On failure
   * the current credential stays in service and the error is logged and returned.
   */
  reloadCredential(): Promise<ReloadCredentialResult>;
  /** Writes queued audit records to the registry. */
  flushAudit(): Promise<void>;
  /**
   * Graceful drain: stop accepting, let requests in flight finish (up to
   * `drainTimeoutMs`, default from the config), close idle keep-alive
   * connections, then close everything. Idempotent.
   */
  close(options?: { drainTimeoutMs?: number }): Promise<void>;
}

interface ConnState {
  ip: string;
  /** The decision in force, taken against snapshot {@link generation}. */
  decision: PolicyDecision;
  generation: number;
  /**
   * A re-evaluation under way. Every request on the connection (pipelined
   * ones included) waits for it, so none is forwarded on a decision taken
   * against an older snapshot.
   */
  pending: Promise<PolicyDecision> | null;
  tlsVersion: string | null;
  cipher: string | null;
  leafDer: Buffer | null;
  presentedDer: Buffer[];
}

function peerCertificates(socket: tls.TLSSocket): { leafDer: Buffer | null; presentedDer: Buffer[] } {
  const peer = socket.getPeerCertificate(true);
  if (!peer || !peer.raw || peer.raw.length === 0) return { leafDer: null, presentedDer: [] };
  const presentedDer: Buffer[] = [];
  const seen = new Set<tls.PeerCertificate>([peer]);
  let cur = (peer as tls.DetailedPeerCertificate).issuerCertificate as tls.DetailedPeerCertificate | undefined;
  for (let i = 0; cur && !seen.has(cur) && i < 10; i++) {
    seen.add(cur);
    if (cur.raw) presentedDer.push(cur.raw);
    cur = cur.issuerCertificate;
  }
  return { leafDer: peer.raw, presentedDer };
}

/**
 * Maps a failed handshake (node:tls `tlsClientError`) to a reason code and an
 * operator detail.
 */
export function classifyTlsClientError(err: Error & { code?: string }): { reason: AuditReason; detail: string } {
  const code = err.code ?? '';
  const message = (err.message ?? '').replace(/^[0-9A-F]+:error:/, '').slice(0, 300);
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return { reason: 'handshake_timeout', detail: 'the client did not complete the TLS handshake in time' };
  if (
    code === 'ERR_SSL_UNSUPPORTED_PROTOCOL' ||
    code === 'ERR_SSL_VERSION_TOO_LOW' ||
    code === 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION' ||
    code === 'ERR_SSL_UNKNOWN_PROTOCOL' ||
    /protocol version|unsupported protocol/i.test(message)
  ) {
    return { reason: 'tls_version', detail: `the client does not offer TLS 1.2 (${code || message})` };
  }
  if (code === 'ERR_SSL_NO_SHARED_CIPHER') return { reason: 'bad_request', detail: 'no shared cipher: the client offers no ECDHE+AEAD suite for TLS 1.2' };
  if (code === 'ERR_SSL_HTTP_REQUEST') return { reason: 'bad_request', detail: 'the client spoke plain HTTP to the TLS port' };
  if (code === 'ECONNRESET' || code === 'EPIPE') return { reason: 'bad_request', detail: 'the client closed the connection during the handshake' };
  return { reason: 'bad_request', detail: `handshake failed: ${code ? `${code}: ` : ''}${message}` };
}

/**
 * Starts the gateway: loads the server credential, opens the registry, loads
 * trust, binds the mTLS listener and the operations listener.
 * @throws MTLS_CONFIG_INVALID (bad config, corrupt or missing registry), credential
 *   errors from {@link loadServerCredential}, MTLS_NETWORK when a port cannot be bound
 */
export async function startGateway(options: StartGatewayOptions): Promise<RunningGateway> {
  const cfg = options.config;
  const env = options.env ?? process.env;
  const logger =
    options.logger ??
    pino({ level: cfg.logLevel, base: { service: 'mtls-gateway' }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: 1, sync: true }));

  let credential: ServerCredential = await loadServerCredential(cfg.tls, env);
  const ownRegistry = !options.registry;
  let registry: Registry;
  if (options.registry) {
    registry = options.registry;
  } else {
    if (!cfg.registry) throw new MtlsError('MTLS_CONFIG_INVALID', 'key `registry` is missing: the gateway needs a registry location', { subject: 'registry' });
    registry = await openRegistry(cfg.registry, {
      sqlite: { pollIntervalMs: cfg.registryPollMs, onError: (e) => logger.error({ err: { code: e.code, message: e.message } }, 'registry poll failed') },
    });
  }
  await registry.init();

  const metrics = new GatewayMetrics();
  const audit = new AuditSink({
    registry,
    logger,
    flushIntervalMs: cfg.audit.flushIntervalMs,
    maxQueue: cfg.audit.maxQueue,
    onRecord: (r) => metrics.observe(r),
  });
  const proxy = new UpstreamProxy({
    upstream: cfg.upstream,
    maxBodyBytes: cfg.limits.maxBodyBytes,
    connections: cfg.upstreamPool.connections,
    connectTimeoutMs: cfg.upstreamPool.connectTimeoutMs,
    responseTimeoutMs: cfg.upstreamPool.responseTimeoutMs,
    bodyTimeoutMs: cfg.upstreamPool.bodyTimeoutMs,
    keepAliveTimeoutMs: cfg.upstreamPool.keepAliveTimeoutMs,
  });
  const durable = cfg.audit.durability === 'durable';
  const policyOptions = { minRsaBits: cfg.policy.minRsaBits, minEcBits: cfg.policy.minEcBits };
  const states = new WeakMap<tls.TLSSocket, ConnState>();
  const activeResponses = new Set<http.ServerResponse>();
  let draining = false;
  let inFlight = 0;
  let drainWaiter: (() => void) | null = null;

  const httpServer = http.createServer(
    {
      maxHeaderSize: cfg.limits.maxHeaderBytes,
      requestTimeout: cfg.limits.requestTimeoutMs,
      headersTimeout: Math.min(cfg.limits.requestTimeoutMs, 30_000),
      keepAliveTimeout: cfg.limits.keepAliveTimeoutMs,
      connectionsCheckingInterval: 1_000,
    },
    (req, res) => void onRequest(req, res),
  );
  // This server never listens (sockets arrive via emit('connection')), so its
  // request/headers timeouts and idle-connection tracking, which node:http
  // starts on 'listening', are started here explicitly.
  httpServer.emit('listening');

  const trust: TrustCache = new TrustCache({
    registry,
    pollMs: cfg.registryPollMs,
    serverFactory: (caPems, key) => createTenantServer(caPems, key),
    onReload: (snap, prev) => {
      metrics.registryVersion.set(snap.registryVersion);
      let active = 0;
      for (const i of snap.institutions.values()) if (i.status === 'active') active++;
      metrics.institutions.set({ status: 'active' }, active);
      metrics.institutions.set({ status: 'suspended' }, snap.institutions.size - active);
      const old = new Set(prev?.warnings ?? []);
      for (const w of snap.warnings) if (!old.has(w)) logger.warn({ registryVersion: snap.registryVersion }, w);
      if (prev) logger.info({ registryVersion: snap.registryVersion, generation: snap.generation, institutions: snap.institutions.size }, 'registry change applied');
    },
    onError: (e) => logger.error({ err: { code: e.code, message: e.message } }, 'registry reload failed; the previous trust snapshot stays in service until it is too stale'),
    onStale: (stale, detail) => (stale ? logger.error({ registryStale: true }, detail) : logger.warn({ registryStale: false }, detail)),
  });
  // Set once the listener exists; the TLS servers only see connections after that.
  let listenerRef: MtlsListener | null = null;
  const acceptLookup = (socket: tls.TLSSocket): TrustLookup | undefined => listenerRef?.acceptLookup(socket.remoteAddress, socket.remotePort);

  function createTenantServer(caPems: string[], key: string): tls.Server {
    const server = tls.createServer({
      key: credential.keyPem,
      cert: credential.certPem,
      // Always an array: an absent `ca` would make node:tls trust its bundled public roots.
      ca: caPems,
      requestCert: true,
      // DESIGN "core idea": OpenSSL still verifies the chain; we read its verdict
      // (socket.authorized / authorizationError) in the secureConnection handler
      // and evaluateConnection (policy.ts) refuses anything not authorized, so the
      // operator gets the reason in the audit instead of a silent drop.
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      maxVersion: 'TLSv1.2',
      ciphers: TLS12_AEAD_CIPHERS,
      honorCipherOrder: true,
      secureOptions: constants.SSL_OP_NO_RENEGOTIATION | constants.SSL_OP_NO_TICKET,
      handshakeTimeout: cfg.tls.handshakeTimeoutMs,
    });
    server.on('secureConnection', (socket: tls.TLSSocket) => {
      onSecureConnection(socket).catch((e: unknown) => {
        const err = toMtlsError(e);
        logger.error({ err: { code: err.code, message: err.message }, tenant: key }, 'post-handshake evaluation failed; connection closed');
        socket.destroy();
      });
    });
    server.on('tlsClientError', (err: Error & { code?: string }, socket: tls.TLSSocket) => {
      const ip = normalizeIp(socket.remoteAddress ?? '') || 'unknown';
      // node:tls leaves the socket open after a handshake timeout; close it.
      socket.destroy();
      const { reason, detail } = classifyTlsClientError(err);
      const lookup = acceptLookup(socket) ?? trust.lookup(ip);
      const candidates = lookup.kind === 'tenant' ? lookup.active : [];
      audit.record(
        makeAuditRecord({
          kind: 'connection',
          ip,
          reason,
          institutionId: candidates.length === 1 ? (candidates[0]?.id ?? null) : null,
          detail,
        }),
      );
    });
    return server;
  }

  async function onSecureConnection(socket: tls.TLSSocket): Promise<void> {
    const ip = normalizeIp(socket.remoteAddress ?? '');
    const { leafDer, presentedDer } = peerCertificates(socket);
    const tlsVersion = socket.getProtocol() ?? null;
    const cipher = socket.getCipher()?.name ?? null;
    const lookup = trust.relookup(ip, acceptLookup(socket));
    let decision: PolicyDecision;
    if (lookup.kind === 'unavailable') {
      decision = { outcome: 'rejected', reason: 'registry_unavailable', detail: lookup.detail, institutionId: null, leaf: null, chain: [] };
    } else if (lookup.kind === 'unregistered') {
      decision = { outcome: 'rejected', reason: 'ip_not_registered', detail: 'the source IP was removed from the registry during the handshake', institutionId: null, leaf: null, chain: [] };
    } else if (lookup.kind === 'suspended') {
      decision = {
        outcome: 'rejected',
        reason: 'institution_suspended',
        detail: `institution(s) ${lookup.suspended.map((i) => i.id).join(', ')} suspended during the handshake`,
        institutionId: lookup.suspended.length === 1 ? (lookup.suspended[0]?.id ?? null) : null,
        leaf: null,
        chain: [],
      };
    } else {
      decision = await evaluateConnection(
        {
          leafDer,
          presentedDer,
          authorized: socket.authorized,
          authorizationError: socket.authorizationError ? String(socket.authorizationError) : null,
          active: lookup.active,
          suspended: lookup.suspended,
        },
        policyOptions,
        (der) => trust.certInfo(der),
      );
    }
    if (!decision.leaf && leafDer) {
      try {
        decision.leaf = trust.certInfo(leafDer);
      } catch {
        decision.leaf = null;
      }
    }
    audit.record(
      makeAuditRecord({
        kind: 'connection',
        ip,
        reason: decision.reason,
        outcome: decision.outcome,
        institutionId: decision.institutionId,
        cert: decision.leaf,
        tlsVersion,
        cipher,
        detail: decision.detail,
      }),
    );
    if (socket.destroyed) return;
    states.set(socket, { ip, decision, generation: lookup.snapshot.generation, pending: null, tlsVersion, cipher, leafDer, presentedDer });
    if (decision.outcome === 'rejected') {
      const timer = setTimeout(() => socket.destroy(), REJECTED_GRACE_MS);
      timer.unref();
      socket.once('close', () => clearTimeout(timer));
    }
    httpServer.emit('connection', socket);
  }

  /** Re-evaluates an accepted connection against the snapshot in service now. */
  async function reevaluate(state: ConnState): Promise<PolicyDecision> {
    const lookup = trust.lookup(state.ip);
    if (lookup.kind === 'unavailable') return { ...state.decision, outcome: 'rejected', reason: 'registry_unavailable', detail: lookup.detail };
    if (lookup.kind === 'unregistered') return { ...state.decision, outcome: 'rejected', reason: 'ip_not_registered', detail: 'the source IP was removed from the registry' };
    if (lookup.kind === 'suspended' && lookup.suspended.some((i) => i.id === state.decision.institutionId)) {
      return { ...state.decision, outcome: 'rejected', reason: 'institution_suspended', detail: `institution ${state.decision.institutionId} was suspended` };
    }
    const next = await evaluateConnection(
      {
        leafDer: state.leafDer,
        presentedDer: state.presentedDer,
        authorized: true,
        authorizationError: null,
        active: lookup.kind === 'tenant' ? lookup.active : [],
        suspended: lookup.suspended,
      },
      policyOptions,
      (der) => trust.certInfo(der),
    );
    if (next.outcome === 'accepted' && next.institutionId !== state.decision.institutionId) {
      return { ...next, outcome: 'rejected', reason: 'unknown_ca', detail: `the certificate now maps to ${next.institutionId}, not ${state.decision.institutionId}` };
    }
    return next;
  }

  /**
   * The connection's decision as of the snapshot in service: re-evaluated
   * once per registry change (a rejection is final). Concurrent callers share
   * one evaluation, and the generation is recorded only after it finished.
   */
  async function currentDecision(state: ConnState): Promise<PolicyDecision> {
    for (;;) {
      if (state.pending) {
        await state.pending;
        continue;
      }
      const generation = trust.snapshot.generation;
      if (state.decision.outcome !== 'accepted' || state.generation === generation || trust.stale) {
        if (state.decision.outcome === 'accepted' && trust.stale) {
          state.decision = { ...state.decision, outcome: 'rejected', reason: 'registry_unavailable', detail: 'the registry is too stale to trust; refusing (fail closed)' };
        }
        return state.decision;
      }
      state.pending = reevaluate(state).then(
        (decision) => {
          state.decision = decision;
          state.generation = generation;
          return decision;
        },
        (e: unknown) => {
          // Fail closed: an evaluation that throws refuses the connection.
          const err = toMtlsError(e);
          state.decision = { ...state.decision, outcome: 'rejected', reason: 'bad_request', detail: `re-evaluation failed: ${err.message}` };
          state.generation = generation;
          return state.decision;
        },
      );
      try {
        await state.pending;
      } finally {
        state.pending = null;
      }
    }
  }

  function identityOf(decision: PolicyDecision): ClientIdentity {
    const leaf = decision.leaf;
    if (!leaf || !decision.institutionId) throw new MtlsError('MTLS_INTERNAL', 'an accepted connection has no certificate or institution');
    return {
      institutionId: decision.institutionId,
      subject: leaf.subject,
      issuer: leaf.issuer,
      serial: leaf.serial,
      fingerprintSha256: leaf.fingerprint,
      certDer: leaf.der,
      chainDer: decision.chain.map((c) => c.der),
    };
  }

  function requestPath(req: http.IncomingMessage): string | null {
    const url = req.url ?? null;
    if (url === null) return null;
    const q = url.indexOf('?');
    return (q >= 0 ? url.slice(0, q) : url).slice(0, 2048);
  }

  /** The audit record of one request-stage event on an established connection. */
  function requestRecord(
    state: ConnState,
    reason: AuditReason,
    detail: string | null,
    extra: { method?: string | null; path?: string | null; status?: number | null; durationMs?: number | null } = {},
  ): AuditRecord {
    return makeAuditRecord({
      kind: 'request',
      ip: state.ip,
      reason,
      institutionId: state.decision.institutionId,
      cert: state.decision.leaf,
      tlsVersion: state.tlsVersion,
      cipher: state.cipher,
      detail,
      ...extra,
    });
  }

  /** Audits one request-stage event on an established connection. */
  function auditRequest(state: ConnState, reason: AuditReason, detail: string | null, extra: Parameters<typeof requestRecord>[3] = {}): void {
    audit.record(requestRecord(state, reason, detail, extra));
  }

  async function onRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = performance.now();
    const socket = req.socket as tls.TLSSocket;
    const state = states.get(socket);
    if (!state) {
      sendReason(res, 403, 'bad_request', true);
      return;
    }
    const record = (reason: AuditReason, status: number, detail: string | null): AuditRecord =>
      requestRecord(state, reason, detail, { method: req.method ?? null, path: requestPath(req), status, durationMs: Math.round(performance.now() - started) });
    const recordRequest = (reason: AuditReason, status: number, detail: string | null): void => audit.record(record(reason, status, detail));
    // audit.durability durable: the record is committed before the answer leaves.
    const commitRequest = (r: { reason: AuditReason; status: number; detail: string | null }): Promise<void> => audit.commit(record(r.reason, r.status, r.detail));
    inFlight++;
    activeResponses.add(res);
    try {
      if (draining) res.shouldKeepAlive = false;
      // Loop until the decision was taken against the snapshot in service
      // right now: a reload may land while this request waited for it.
      let decision = await currentDecision(state);
      while (decision.outcome === 'accepted' && state.generation !== trust.snapshot.generation) decision = await currentDecision(state);
      if (decision.outcome !== 'accepted') {
        // A refusal goes out even if the commit fails (the record stays queued).
        if (durable) await commitRequest({ reason: decision.reason, status: 403, detail: decision.detail }).catch(() => undefined);
        sendReason(res, 403, decision.reason, true);
        if (!durable) recordRequest(decision.reason, 403, decision.detail);
        return;
      }
      const headers = buildUpstreamHeaders({ rawHeaders: req.rawHeaders, identity: identityOf(decision), names: cfg.identityHeaders, clientIp: state.ip });
      metrics.inFlight.inc();
      try {
        const result = await proxy.forward(req, res, headers, durable ? { release: commitRequest } : {});
        if (!result.released) recordRequest(result.reason, result.status, result.detail);
      } finally {
        metrics.inFlight.dec();
      }
    } catch (e) {
      const err = toMtlsError(e);
      logger.error({ err: { code: err.code, message: err.message } }, 'request handling failed');
      sendReason(res, 502, 'upstream_error', true);
      recordRequest('upstream_error', 502, `gateway error: ${err.message}`);
    } finally {
      activeResponses.delete(res);
      inFlight--;
      if (inFlight === 0 && drainWaiter) drainWaiter();
    }
  }

  httpServer.on('clientError', (err: Error & { code?: string }, socket) => {
    const tlsSocket = socket as tls.TLSSocket;
    const state = states.get(tlsSocket);
    const code = err.code ?? '';
    if (code === 'ECONNRESET' || !socket.writable) {
      // Nothing can be sent back, but the operator still learns that a request
      // (or a connection) ended abnormally and why.
      socket.destroy();
      if (state) {
        auditRequest(
          state,
          'bad_request',
          `${code || 'socket not writable'}: the client ${code === 'ECONNRESET' ? 'reset the connection' : 'closed its side'} before a complete request could be answered (${err.message})`.slice(0, 300),
        );
      }
      return;
    }
    const status = code === 'HPE_HEADER_OVERFLOW' ? 431 : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const text = status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request';
    const body = '{"error":"bad_request"}\n';
    socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    if (state) auditRequest(state, 'bad_request', `${code || 'parse error'}: ${err.message}`.slice(0, 300), { status });
  });
  const refuseUpgrade = (req: http.IncomingMessage, socket: import('node:stream').Duplex): void => {
    const state = states.get(socket as tls.TLSSocket);
    const body = '{"error":"bad_request"}\n';
    socket.end(`HTTP/1.1 501 Not Implemented\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    if (state) {
      auditRequest(state, 'bad_request', `${req.method} with ${req.headers.upgrade ? `Upgrade: ${req.headers.upgrade}` : 'CONNECT'} is not proxied`, {
        method: req.method ?? null,
        path: requestPath(req),
        status: 501,
      });
    }
  };
  httpServer.on('upgrade', refuseUpgrade);
  httpServer.on('connect', refuseUpgrade);

  try {
    await trust.start();
  } catch (e) {
    await audit.close().catch(() => undefined);
    await proxy.destroy().catch(() => undefined);
    httpServer.close(() => undefined);
    if (ownRegistry) await registry.close().catch(() => undefined);
    throw e;
  }

  const listener = new MtlsListener({
    host: cfg.listen.host,
    port: cfg.listen.port,
    maxConnections: cfg.limits.maxConnections,
    trust,
    onRefused: (ip, lookup) => {
      if (lookup.kind === 'unavailable') {
        audit.record(makeAuditRecord({ kind: 'connection', ip, reason: 'registry_unavailable', detail: `${lookup.detail}; closed before the handshake` }));
      } else if (lookup.kind === 'unregistered') {
        audit.record(makeAuditRecord({ kind: 'connection', ip, reason: 'ip_not_registered', detail: 'no institution is registered for this source IP; closed before the handshake' }));
      } else {
        audit.record(
          makeAuditRecord({
            kind: 'connection',
            ip,
            reason: 'institution_suspended',
            institutionId: lookup.suspended.length === 1 ? (lookup.suspended[0]?.id ?? null) : null,
            detail: `institution(s) ${lookup.suspended.map((i) => i.id).join(', ')} registered for this IP are suspended; closed before the handshake`,
          }),
        );
      }
    },
    onCountChange: (n) => metrics.openConnections.set(n),
    onError: (e, ip) => logger.error({ err: { message: e.message }, ip }, 'trust lookup failed; connection closed'),
  });
  listenerRef = listener;

  let ops: OpsServer | null = null;
  let admin: RunningAdmin | null = null;
  const healthState = (): HealthState => ({
    listening: listener.listening,
    draining,
    trustLoaded: true,
    trustStale: trust.stale,
    registryVersion: trust.snapshot.registryVersion,
    registryError: trust.error?.message ?? null,
    serverCertNotAfter: credential.notAfter.toISOString(),
  });
  const cleanupAfterFailedStart = async (): Promise<void> => {
    trust.stop();
    listener.stopAccepting();
    await ops?.close().catch(() => undefined);
    await admin?.close().catch(() => undefined);
    await audit.close().catch(() => undefined);
    await proxy.destroy().catch(() => undefined);
    httpServer.close(() => undefined);
    if (ownRegistry) await registry.close().catch(() => undefined);
  };
  try {
    await listener.start();
    if (cfg.ops.listen) ops = await startOpsServer(cfg.ops.listen.host, cfg.ops.listen.port, healthState, metrics);
    if (cfg.admin.tokenFile || cfg.admin.clientCaFile) {
      admin = await startAdminServer({
        registry,
        host: cfg.admin.listen.host,
        port: cfg.admin.listen.port,
        ...(cfg.admin.tokenFile ? { tokenFile: cfg.admin.tokenFile } : {}),
        ...(cfg.admin.clientCaFile ? { clientCaFile: cfg.admin.clientCaFile } : {}),
        ...(cfg.admin.certFile ? { certFile: cfg.admin.certFile } : {}),
        ...(cfg.admin.keyFile ? { keyFile: cfg.admin.keyFile } : {}),
        ready: async () =>
          listener.listening && !draining && !trust.stale
            ? { ok: true }
            : { ok: false, detail: draining ? 'draining' : trust.stale ? 'registry unreadable for too long (fail closed)' : 'listener not bound' },
        onRequest: (entry) => logger.info({ admin: entry }, `admin ${entry.method} ${entry.path} ${entry.status}`),
      });
    }
  } catch (e) {
    await cleanupAfterFailedStart();
    if (e instanceof MtlsError) throw e;
    const err = e as NodeJS.ErrnoException;
    throw new MtlsError('MTLS_NETWORK', `cannot listen: ${err.code ?? err.message}${err.code === 'EADDRINUSE' ? ' (the port is taken)' : ''}`, {
      subject: 'listen',
      cause: e,
      hint: 'Choose another port with --listen (or ops.listen), or stop the process holding it.',
    });
  }
  const addr = listener.address();
  logger.info(
    {
      listen: `${addr.address}:${addr.port}`,
      ops: ops ? `${ops.address().address}:${ops.address().port}` : null,
      admin: admin?.url ?? null,
      upstream: cfg.upstream,
      registryVersion: trust.snapshot.registryVersion,
      institutions: trust.snapshot.institutions.size,
      serverCertificate: { subject: credential.subject, notAfter: credential.notAfter.toISOString() },
    },
    'gateway started',
  );

  let closing: Promise<void> | null = null;
  const gateway: RunningGateway = {
    address: () => listener.address(),
    opsAddress: () => ops?.address() ?? null,
    adminUrl: () => admin?.url ?? null,
    registry,
    metrics,
    snapshot: () => trust.snapshot,
    reloadTrust: async () => {
      await trust.reloadNow();
      if (trust.error) throw trust.error;
      return trust.snapshot;
    },
    reloadCredential: async () => {
      try {
        const next = await loadServerCredential(cfg.tls, env);
        credential = next;
        trust.invalidateServers();
        logger.info({ subject: next.subject, notAfter: next.notAfter.toISOString(), fingerprint: next.fingerprint }, 'server credential reloaded');
        return { ok: true, subject: next.subject, notAfter: next.notAfter.toISOString(), fingerprint: next.fingerprint };
      } catch (e) {
        const error = toMtlsError(e);
        logger.error({ err: { code: error.code, message: error.message } }, 'server credential reload failed; the previous credential stays in service');
        return { ok: false, error };
      }
    },
    flushAudit: () => audit.flush(),
    close: (opts = {}) => {
      if (closing) return closing;
      closing = (async () => {
        draining = true;
        const timeout = opts.drainTimeoutMs ?? cfg.drainTimeoutMs;
        logger.info({ inFlight, openConnections: listener.openConnections, drainTimeoutMs: timeout }, 'draining');
        listener.stopAccepting();
        for (const res of activeResponses) if (!res.headersSent) res.shouldKeepAlive = false;
        httpServer.closeIdleConnections();
        const idleSweep = setInterval(() => httpServer.closeIdleConnections(), 100);
        if (inFlight > 0) {
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, timeout);
            drainWaiter = () => {
              clearTimeout(t);
              resolve();
            };
          });
        }
        clearInterval(idleSweep);
        if (inFlight > 0) logger.warn({ inFlight }, 'drain timeout: cutting requests still in flight');
        httpServer.closeAllConnections();
        listener.destroyAll();
        httpServer.close(() => undefined);
        trust.stop();
        await ops?.close();
        await admin?.close();
        await proxy.destroy();
        await audit.close();
        if (ownRegistry) await registry.close();
        logger.info('gateway stopped');
      })();
      return closing;
    },
  };
  return gateway;
}
