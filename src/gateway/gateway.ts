/**
 * The gateway: TCP listener → per-IP TLS server → post-handshake policy →
 * HTTP → upstream, with the audit trail, health endpoints and graceful drain.
 * This module only wires the parts and runs the drain and close:
 * - {@link MtlsListener} (listener.ts) accepts TCP and picks the TLS server by
 *   source IP;
 * - {@link TrustCache} (trust-cache.ts) keeps the registry snapshot and one
 *   tenant TLS server per set of institutions, built by
 *   {@link createTenantServer} (tenant-server.ts), which audits failed handshakes;
 * - {@link ConnectionTracker} (connection-state.ts) decides each connection
 *   after the handshake (policy.ts `evaluateConnection`) and keeps the decision
 *   current across registry changes;
 * - {@link RequestHandler} (request-handler.ts) parses requests, checks the
 *   decision and forwards through {@link UpstreamProxy}.
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
import type tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import { MtlsError, toMtlsError } from '../errors/index.js';
import { AuditSink, makeAuditRecord } from './audit.js';
import type { GatewayConfig } from './config.js';
import { adminConfigured, startConfiguredAdmin } from './admin/from-config.js';
import type { RunningAdmin } from './admin/server.js';
import { ConnectionTracker, connectionAuditRecord, handshakeEvidence } from './connection-state.js';
import type { ConnectionSlots } from './connection-slots.js';
import { auditTrailChores } from './audit-retention.js';
import { CrlDistribution } from './crl-distribution.js';
import {
  readinessProblems,
  startOpsServer,
  warnIfOpsExposed,
  type HealthState,
  type OpsServer,
} from './health.js';
import { listenFailure } from './listen-failure.js';
import { LineBufferDestination } from './log-destination.js';
import { MtlsListener } from './listener.js';
import { withTimeout } from './with-timeout.js';
import { CredentialReloadMetrics, CrlFetchMetrics, GatewayMetrics } from './metrics.js';
import { UpstreamProxy } from './proxy.js';
import { newerSchemaWarning, openRegistry } from './registry/index.js';
import { InstitutionRateLimit, rateLimitOf, type RateLimiter } from './rate-limit.js';
import type { AuditRecord, Registry } from './registry/types.js';
import { RequestHandler } from './request-handler.js';
import type { ServerCredential } from './server-credential.js';
import { secretFileModeWarnings } from './secret-files.js';
import {
  loadGatewayCredentials,
  logCredentialWarnings,
  type GatewayCredentials,
} from './credentials.js';
import { createTenantServer, type ClientOfSocket } from './tenant-server.js';
import { newWarnings, TrustCache, type TrustSnapshot } from './trust-cache.js';

export { classifyTlsClientError } from './tenant-server.js';

/** Time a rejected-but-handshaken client gets to send its request and read the 403. */
const REJECTED_GRACE_MS = 5_000;

/**
 * Time the requests cut at the end of a drain get to end (their connections
 * are destroyed and the upstream pool too, so this is a turn or two).
 */
const CUT_SETTLE_MS = 1_000;
/**
 * Time the last audit write, and then the registry's close, each get at stop
 * (a healthy registry takes milliseconds; PostgreSQL gives up on a query
 * after 30 s, longer than a supervisor waits).
 */
const REGISTRY_CLOSE_MS = 5_000;

/** Options for {@link startGateway}. */
export interface StartGatewayOptions {
  config: GatewayConfig;
  /** A registry to use instead of opening `config.registry`; the gateway does not close it. */
  registry?: Registry;
  /** Logger for audit lines and operations (default: pino JSON to stdout at `config.logLevel`). */
  logger?: Logger;
  /** Environment for passphrases (default process.env). */
  env?: NodeJS.ProcessEnv;
  /**
   * Download the registered CRL URLs on their schedule (default true). A
   * gateway worker passes false: its primary downloads for the instance.
   */
  crlFetch?: boolean;
  /**
   * Delete audit records past `audit.retentionDays`, and export the metrics
   * about the registry's audit trail (default true). A gateway worker passes
   * false: its primary does both for the instance.
   */
  auditRetention?: boolean;
  /**
   * The request rate limiter when `limits.institutionRequestsPerSecond` is
   * set (default: buckets in this process). A gateway worker passes one that
   * leases from its primary, so the limit holds for the instance.
   */
  rateLimit?: RateLimiter;
  /**
   * Where `limits.maxConnectionsPerIp` is counted (default: in this process).
   * A gateway worker passes slots its primary holds, so the limit holds for
   * the instance (connection-slots.ts).
   */
  connectionSlots?: ConnectionSlots;
  /**
   * The credentials to serve with, already loaded: a gateway worker gets its
   * primary's (credentials.ts), and then never reads the credential files
   * itself. Default: loaded from the configured files, at start and by
   * {@link RunningGateway.reloadCredential}, with
   * `mtls_gateway_credential_last_reload_successful` telling how the last
   * reload went.
   */
  credentials?: GatewayCredentials;
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
  /** What `/readyz` decides from, now (a supervising process asks each worker for it). */
  health(): HealthState;
  /** Rebuilds the trust snapshot now (changes are also picked up on their own within `registryPollMs`). */
  reloadTrust(): Promise<TrustSnapshot>;
  /**
   * Puts `next` in service, or without it loads the credentials again from
   * the configured files. On failure the current ones stay in service and
   * the error is logged and returned.
   */
  reloadCredential(next?: GatewayCredentials): Promise<ReloadCredentialResult>;
  /** Writes queued audit records to the registry. */
  flushAudit(): Promise<void>;
  /**
   * The drain is coming (`drainDelayMs`): answers ask kept-alive clients to
   * reconnect (`Connection: close`) and idle kept-alive connections are
   * closed, while new connections are still accepted.
   */
  announceDrain(): void;
  /**
   * Graceful drain: stop accepting, let requests in flight finish (up to
   * `drainTimeoutMs`, default from the config), close idle keep-alive
   * connections, then close everything; after `drainDelayMs` (default from
   * the config) of not being ready while still accepting. Idempotent.
   */
  close(options?: { drainTimeoutMs?: number; drainDelayMs?: number }): Promise<void>;
}

/**
 * Starts the gateway: loads the server credential, opens the registry, loads
 * trust, binds the mTLS listener and the operations listener.
 * @throws MTLS_CONFIG_INVALID (bad config, corrupt or missing registry), credential
 *   errors from {@link loadGatewayCredentials}, MTLS_NETWORK when a port cannot be bound
 */
export async function startGateway(options: StartGatewayOptions): Promise<RunningGateway> {
  const cfg = options.config;
  const env = options.env ?? process.env;
  let ownLog: LineBufferDestination | null = null;
  let logger: Logger;
  if (options.logger) logger = options.logger;
  else {
    ownLog = new LineBufferDestination(1);
    logger = pino(
      {
        level: cfg.logLevel,
        base: { service: 'mtls-gateway' },
        timestamp: pino.stdTimeFunctions.isoTime,
      },
      ownLog,
    );
  }

  const loaded = options.credentials ?? (await loadGatewayCredentials(cfg, env));
  let credential: ServerCredential = loaded.server;
  const upstreamTls = loaded.upstreamTls;
  /** The upstream client credential in service (replaced on reload). */
  let upstreamClient = upstreamTls?.client ?? null;
  // A worker's primary has logged them already.
  if (!options.credentials) {
    logCredentialWarnings(logger, loaded);
    for (const w of await secretFileModeWarnings(cfg)) logger.warn({ fileModeWarning: true }, w);
  }
  const ownRegistry = !options.registry;
  let registry: Registry;
  if (options.registry) {
    registry = options.registry;
  } else {
    if (!cfg.registry)
      throw new MtlsError(
        'MTLS_CONFIG_INVALID',
        'key `registry` is missing: the gateway needs a registry location',
        { subject: 'registry' },
      );
    registry = await openRegistry(cfg.registry, {
      sqlite: {
        create: false,
        pollIntervalMs: cfg.registryPollMs,
        onError: (e) =>
          logger.error({ err: { code: e.code, message: e.message } }, 'registry poll failed'),
      },
    });
  }
  await registry.init();
  const schemaWarning = newerSchemaWarning(registry.schemaVersion());
  if (schemaWarning) logger.warn({ registrySchema: registry.schemaVersion() }, schemaWarning);

  const metrics = new GatewayMetrics();
  // Exported by the process that reads the credential files: this one, or a
  // worker's primary.
  const reloadMetrics = options.credentials
    ? null
    : new CredentialReloadMetrics([metrics.registry]);
  // A worker leases from its primary's buckets (rate-limit.ts); a single
  // process holds its own. Kept even with no rate configured: an
  // institution's own rate may be set in the registry at any time.
  const defaultRate = rateLimitOf(cfg.limits);
  const rateLimiter: RateLimiter = options.rateLimit ?? new InstitutionRateLimit();
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
    tls: upstreamTls,
  });
  const trust: TrustCache = new TrustCache({
    registry,
    pollMs: cfg.registryPollMs,
    serverFactory: (caPems, key) =>
      createTenantServer({
        key,
        caPems,
        credential,
        handshakeTimeoutMs: cfg.tls.handshakeTimeoutMs,
        onSecureConnection: (socket) => onSecureConnection(socket),
        clientOf,
        audit: (r) => audit.record(r),
        logger,
      }),
    onReload: (snap, prev) => {
      metrics.registryVersion.set(snap.registryVersion);
      metrics.institutions.set({ status: 'active' }, snap.activeCount);
      metrics.institutions.set({ status: 'suspended' }, snap.institutions.size - snap.activeCount);
      for (const w of newWarnings(snap, prev))
        logger.warn({ registryVersion: snap.registryVersion }, w);
      if (prev)
        logger.info(
          {
            registryVersion: snap.registryVersion,
            generation: snap.generation,
            institutions: snap.institutions.size,
          },
          'registry change applied',
        );
    },
    onError: (e) =>
      logger.error(
        { err: { code: e.code, message: e.message } },
        'registry reload failed; the previous trust snapshot stays in service until it is too stale',
      ),
    onUnannounced: (detail) => logger.warn({ event: 'registry_change_unannounced' }, detail),
    onStale: (stale, detail) =>
      stale
        ? logger.error({ registryStale: true }, detail)
        : logger.warn({ registryStale: false }, detail),
  });
  metrics.trackCertificates(() => [
    { certificate: 'server', notAfter: credential.notAfter },
    ...(upstreamClient
      ? [{ certificate: 'upstream_client' as const, notAfter: upstreamClient.notAfter }]
      : []),
  ]);
  metrics.trackCrls(() => {
    try {
      return trust.snapshot;
    } catch {
      return null;
    }
  });
  const connections = new ConnectionTracker({
    trust,
    policy: {
      minRsaBits: cfg.policy.minRsaBits,
      minEcBits: cfg.policy.minEcBits,
      crlStale: cfg.crl.stale,
    },
  });
  const crlFetch = options.crlFetch ?? true;
  const crlDownload = crlFetch
    ? {
        log: logger,
        metrics: new CrlFetchMetrics([metrics.registry]),
        fetch: { maxBytes: cfg.crl.maxBytes, timeoutMs: cfg.crl.fetchTimeoutMs },
      }
    : undefined;
  const crlDistribution = crlDownload ? new CrlDistribution({ registry, ...crlDownload }) : null;
  // The instance-wide audit chores (retention, and the metrics about the
  // audit trail) belong to one process: this one, unless it is a worker.
  const retention =
    (options.auditRetention ?? true)
      ? auditTrailChores({
          registry,
          retentionDays: cfg.audit.retentionDays,
          logger,
          registers: [metrics.registry],
        })
      : null;
  /** Last warning per institution about a stale CRL accepted under fail_open_with_alarm. */
  const staleWarned = new Map<string, number>();
  const requests = new RequestHandler({
    limits: cfg.limits,
    identityHeaders: cfg.identityHeaders,
    stateOf: (socket) => connections.stateOf(socket),
    decide: (state) => connections.decisionNow(state),
    forward: (req, res, headers, forwardOptions) =>
      proxy.forward(req, res, headers, forwardOptions),
    audit: (r) => audit.record(r),
    ...(cfg.audit.durability === 'durable' ? { commit: (r: AuditRecord) => audit.commit(r) } : {}),
    logger,
    onForward: (delta) => metrics.forwardDelta(delta),
    rateLimit: {
      limiter: rateLimiter,
      rateOf: (id) => {
        const own = trust.snapshot.institutions.get(id)?.requestRate ?? null;
        if (own) return { rate: own, own: true };
        return defaultRate && { rate: defaultRate, own: false };
      },
    },
  });
  let draining = false;

  // Set once the listener exists; the TLS servers only see connections after that.
  let listenerRef: MtlsListener | null = null;
  // The listener is the one place that knows a socket's client address (after
  // the PROXY protocol); a socket it did not hand over is nobody (fail closed).
  function clientOf(socket: tls.TLSSocket): ClientOfSocket {
    return listenerRef?.clientOf(socket) ?? { ip: 'unknown', lookup: undefined };
  }

  async function onSecureConnection(socket: tls.TLSSocket): Promise<void> {
    const client = clientOf(socket);
    const state = await connections.admit(handshakeEvidence(socket, client.ip), client.lookup);
    audit.record(connectionAuditRecord(state));
    if (state.decision.outcome === 'accepted' && state.decision.reason === 'crl_expired') {
      // The alarm of crl.stale: fail_open_with_alarm; once a minute per
      // institution (every connection has its audit record and metric).
      const inst = state.decision.institutionId ?? '-';
      if (Date.now() - (staleWarned.get(inst) ?? 0) > 60_000) {
        staleWarned.set(inst, Date.now());
        logger.warn(
          { event: 'crl_expired_accepted', institution: inst, detail: state.decision.detail },
          'connection accepted although the CRL is past its nextUpdate (crl.stale: fail_open_with_alarm)',
        );
      }
    }
    if (socket.destroyed) return;
    connections.attach(socket, state);
    if (state.decision.outcome === 'rejected') {
      const timer = setTimeout(() => socket.destroy(), REJECTED_GRACE_MS);
      timer.unref();
      socket.once('close', () => clearTimeout(timer));
    }
    requests.accept(socket);
  }

  try {
    await trust.start();
    await crlDistribution?.start();
    retention?.start();
  } catch (e) {
    trust.stop();
    await crlDistribution?.stop().catch(() => undefined);
    await retention?.stop();
    await audit.close().catch(() => undefined);
    await proxy.destroy().catch(() => undefined);
    requests.closeAll();
    if (ownRegistry) await registry.close().catch(() => undefined);
    throw e;
  }

  const listener = new MtlsListener({
    host: cfg.listen.host,
    port: cfg.listen.port,
    maxConnections: cfg.limits.maxConnections,
    maxConnectionsPerIp: cfg.limits.maxConnectionsPerIp,
    ...(options.connectionSlots ? { connectionSlots: options.connectionSlots } : {}),
    onLimited: (ip, lookup, limit) =>
      audit.record(
        makeAuditRecord({
          kind: 'connection',
          ip,
          reason: 'connection_limit',
          institutionId: lookup.active.length === 1 ? (lookup.active[0]?.id ?? null) : null,
          detail: `${limit} connection(s) from this address are already open (limits.maxConnectionsPerIp); closed before the handshake`,
        }),
      ),
    trust,
    onRefused: (ip, lookup) => {
      if (lookup.kind === 'unavailable') {
        audit.record(
          makeAuditRecord({
            kind: 'connection',
            ip,
            reason: 'registry_unavailable',
            detail: `${lookup.detail}; closed before the handshake`,
          }),
        );
      } else if (lookup.kind === 'unregistered') {
        audit.record(
          makeAuditRecord({
            kind: 'connection',
            ip,
            reason: 'ip_not_registered',
            detail: 'no institution is registered for this source IP; closed before the handshake',
          }),
        );
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
    proxyProtocol: {
      mode: cfg.proxyProtocol,
      trustedProxies: cfg.trustedProxies,
      headerTimeoutMs: cfg.proxyHeaderTimeoutMs,
    },
    onProxyRefused: (peer, reason, detail) =>
      audit.record(makeAuditRecord({ kind: 'connection', ip: peer, reason, detail })),
    onCountChange: (n) => metrics.setOpenConnections(n),
    onError: (e, ip) =>
      logger.error({ err: { message: e.message }, ip }, 'trust lookup failed; connection closed'),
  });
  listenerRef = listener;

  let ops: OpsServer | null = null;
  let admin: RunningAdmin | null = null;
  const healthState = (): HealthState => {
    const auditFailure = audit.failure();
    return {
      listening: listener.listening,
      draining,
      trustLoaded: true,
      trustStale: trust.stale,
      registryVersion: trust.snapshot.registryVersion,
      registryError: trust.error?.message ?? null,
      registryAppliedAt: trust.snapshot.builtAt.toISOString(),
      serverCertNotAfter: credential.notAfter.toISOString(),
      auditFailingSeconds: auditFailure
        ? Math.floor((Date.now() - auditFailure.sinceMs) / 1000)
        : null,
      auditError: auditFailure?.error ?? null,
      auditMaxFailureSeconds: cfg.audit.maxFailureSeconds,
    };
  };
  const cleanupAfterFailedStart = async (): Promise<void> => {
    trust.stop();
    await crlDistribution?.stop().catch(() => undefined);
    await retention?.stop();
    listener.stopAccepting();
    await ops?.close().catch(() => undefined);
    await admin?.close().catch(() => undefined);
    await audit.close().catch(() => undefined);
    await proxy.destroy().catch(() => undefined);
    requests.closeAll();
    if (ownRegistry) await registry.close().catch(() => undefined);
  };
  try {
    await listener.start().catch((e: unknown) => {
      throw listenFailure(e, 'listen', cfg.listen);
    });
    const opsListen = cfg.ops.listen;
    if (opsListen) {
      ops = await startOpsServer(opsListen.host, opsListen.port, healthState, metrics).catch(
        (e: unknown) => {
          throw listenFailure(e, 'ops.listen', opsListen);
        },
      );
      warnIfOpsExposed(opsListen.host, logger);
    }
    if (adminConfigured(cfg.admin)) {
      admin = await startConfiguredAdmin({
        admin: cfg.admin,
        registry,
        logger,
        health: healthState,
        ...(crlDownload ? { crlDownload } : {}),
        // Unauthenticated: the problems without their error text.
        ready: () => {
          const problems = readinessProblems(healthState()).map((p) => p.split(':')[0]);
          return Promise.resolve(
            problems.length === 0 ? { ok: true } : { ok: false, detail: problems.join('; ') },
          );
        },
      });
    }
  } catch (e) {
    await cleanupAfterFailedStart();
    throw e;
  }
  const addr = listener.address();
  logger.info(
    {
      listen: `${addr.address}:${addr.port}`,
      ops: ops ? `${ops.address().address}:${ops.address().port}` : null,
      admin: admin?.url ?? null,
      upstream: cfg.upstream,
      ...(upstreamClient
        ? {
            upstreamClientCertificate: {
              subject: upstreamClient.subject,
              notAfter: upstreamClient.notAfter.toISOString(),
            },
          }
        : {}),
      registryVersion: trust.snapshot.registryVersion,
      institutions: trust.snapshot.institutions.size,
      serverCertificate: {
        subject: credential.subject,
        notAfter: credential.notAfter.toISOString(),
      },
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
    health: healthState,
    reloadTrust: async () => {
      await trust.reloadNow();
      if (trust.error) throw trust.error;
      return trust.snapshot;
    },
    reloadCredential: async (given) => {
      try {
        // Both load before either is swapped: a failure keeps both in service.
        const loadedNow = given ?? (await loadGatewayCredentials(cfg, env));
        reloadMetrics?.record(true);
        const next = loadedNow.server;
        // The upstream's TLS settings in service change only where they were
        // configured at start (the proxy was built with or without them).
        const nextUpstreamTls = upstreamTls ? loadedNow.upstreamTls : null;
        credential = next;
        trust.invalidateServers();
        if (!given) logCredentialWarnings(logger, loadedNow);
        if (nextUpstreamTls) {
          proxy.setTls(nextUpstreamTls);
          upstreamClient = nextUpstreamTls.client;
          const c = upstreamClient;
          logger.info(
            c ? { upstreamClient: { subject: c.subject, notAfter: c.notAfter.toISOString() } } : {},
            'upstream TLS settings reloaded',
          );
        }
        logger.info(
          {
            subject: next.subject,
            notAfter: next.notAfter.toISOString(),
            fingerprint: next.fingerprint,
          },
          'server credential reloaded',
        );
        return {
          ok: true,
          subject: next.subject,
          notAfter: next.notAfter.toISOString(),
          fingerprint: next.fingerprint,
        };
      } catch (e) {
        const error = toMtlsError(e);
        reloadMetrics?.record(false);
        logger.error(
          { err: { code: error.code, message: error.message } },
          'server credential reload failed; the previous credential stays in service',
        );
        return { ok: false, error };
      }
    },
    flushAudit: () => audit.flush(),
    announceDrain: () => requests.startDrain(),
    close: (opts = {}) => {
      if (closing) return closing;
      closing = (async () => {
        draining = true;
        const delay = opts.drainDelayMs ?? cfg.drainDelayMs;
        if (delay > 0) {
          // /readyz says 503 from now; connections are still accepted until
          // the balancer's health checks have seen it.
          gateway.announceDrain();
          logger.info(
            { drainDelayMs: delay },
            'not ready; accepting connections for drainDelayMs while the balancer takes this instance out',
          );
          await new Promise((r) => setTimeout(r, delay));
        }
        const timeout = opts.drainTimeoutMs ?? cfg.drainTimeoutMs;
        logger.info(
          {
            inFlight: requests.inFlight,
            openConnections: listener.openConnections,
            drainTimeoutMs: timeout,
          },
          'draining',
        );
        listener.stopAccepting();
        requests.startDrain();
        if (!(await requests.waitIdle(timeout)))
          logger.warn(
            { inFlight: requests.inFlight },
            'drain timeout: cutting requests still in flight',
          );
        requests.closeAll(timeout);
        listener.destroyAll();
        trust.stop();
        await crlDistribution?.stop();
        await retention?.stop();
        await ops?.close();
        await admin?.close();
        await proxy.destroy();
        // The requests just cut end as their connections close; their audit
        // records (drain_timeout) are written before the audit trail closes.
        await requests.waitIdle(CUT_SETTLE_MS);
        // A registry that hangs (see registry-heartbeat.ts) must not hold the
        // stop for ever: the last audit batch and the close get a bound each.
        // Records that could not be stored are in the log lines already.
        await withTimeout(audit.close(), REGISTRY_CLOSE_MS, 'the last audit write').catch(
          (e: unknown) =>
            logger.error(
              { err: { code: toMtlsError(e).code, message: toMtlsError(e).message } },
              'audit records not stored in the registry at stop; they are in the log lines',
            ),
        );
        if (ownRegistry)
          await withTimeout(registry.close(), REGISTRY_CLOSE_MS, 'closing the registry').catch(
            (e: unknown) =>
              logger.error(
                { err: { code: toMtlsError(e).code, message: toMtlsError(e).message } },
                'the registry did not close in time; stopping without it',
              ),
          );
        logger.info('gateway stopped');
        ownLog?.end();
      })();
      return closing;
    },
  };
  return gateway;
}
