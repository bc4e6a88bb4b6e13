/**
 * The gateway on every core: a supervising primary process and N gateway
 * workers (node:cluster), each a whole {@link startGateway} of its own.
 *
 * Design decisions:
 *
 * - **Connections: one shared listening socket, accepted by the workers
 *   (`cluster.SCHED_NONE`), not cluster round-robin.** With round-robin the
 *   primary accepts every TCP connection and passes its descriptor to a worker
 *   over the IPC pipe (a `sendmsg` with SCM_RIGHTS and a JSON message per
 *   connection, plus the worker's reply). In the new-connection-per-request
 *   mode that is work per request in one single-threaded process, which on a
 *   2-core machine competes with the workers for a core and caps throughput.
 *   With a shared socket the kernel hands each connection to whichever worker
 *   is waiting in accept; the primary never touches connections, only the
 *   socket (it binds it once and lends it to every worker). The known
 *   drawback, uneven spread when workers are idle, fades under load: a worker
 *   busy with TLS handshakes is not waiting in accept, so the idle ones take
 *   the next connections. (Node 20 has no SO_REUSEPORT option for per-worker
 *   sockets.)
 * - **Audit: each worker writes its own records to the registry.** Each
 *   record is produced in exactly one worker and queued there once; a batch is
 *   written in one transaction, and a failed write (SQLITE_BUSY after the short
 *   audit busy timeout) puts the whole batch back for the next flush, so a
 *   record lands exactly once. SQLite in WAL mode admits one writer at a time,
 *   but a worker holds the write lock only for a batch insert every flush
 *   interval (250 ms), so collisions are rare and cost a few milliseconds.
 *   Shipping records to the primary instead would add a serialisation and an
 *   IPC message per record on the hot path, and would make one process (the
 *   primary, competing for the same cores) the bottleneck and the single point
 *   where all workers' unwritten records die. PostgreSQL takes concurrent
 *   writers as they are.
 * - **Trust: each worker keeps its own snapshot** and learns of registry
 *   changes on its own (SQLite poll or PostgreSQL LISTEN), so a change reaches
 *   every worker within the same bound as a single process, with no relay.
 * - **The operations listener and the admin API run in the primary only.**
 *   `/metrics` there aggregates every worker's metrics (prom-client
 *   `AggregatorRegistry.aggregate`: counters add up, see metrics.ts for the
 *   gauges); `/readyz` is ready only when every configured worker is running
 *   and ready, because a connection may land on any of them and one stale or
 *   missing worker means some connections fail; `/healthz` is live while at
 *   least one worker runs. The admin API binds once, writes through the
 *   primary's own registry handle, and the workers pick its changes up like
 *   any other process's.
 * - **CRL downloads: the primary, and only it.** One process per instance
 *   downloads the registered CRL URLs, so N workers never fetch the same CRL
 *   N times nor race to store it. The primary rather than worker 1: it lives
 *   as long as the instance (a crashed worker restarts, which would restart
 *   every schedule at once), it already hosts the admin API whose "refresh
 *   now" then runs in-process, and it keeps downloads from arbitrary URLs off
 *   the processes serving connections. A stored CRL is a registry write, so
 *   the workers pick it up from the change feed like any other change; a
 *   byte-identical download stores nothing and wakes no one. The download
 *   counters live in the primary's own metrics, merged into `/metrics`.
 * - **Request rate limits: the primary holds the buckets.** A per-worker
 *   bucket would let an institution whose connections land on N workers
 *   make N times the configured rate. Workers lease tokens in small batches
 *   (rate-limit.ts), so the IPC round trip is paid once per batch, not per
 *   request.
 * - **Per-address connection limits: the primary holds the slots.** With a
 *   count per worker an address could hold N times
 *   `limits.maxConnectionsPerIp`. A worker asks for a slot on each
 *   connection from a registered address and gives it back when the
 *   connection closes (connection-slots.ts): one IPC round trip per
 *   connection, and only when the limit is set, against a handshake that
 *   costs far more. The slots are kept per worker, so a worker that dies
 *   frees its own at once.
 * - **Signals.** SIGTERM (or {@link RunningGatewayWorkers.close}) drains every
 *   worker at once (each stops accepting, lets requests in flight finish up to
 *   `drainTimeoutMs`) and resolves when all have exited. SIGHUP reloads every
 *   worker's server credential and reports each outcome. A worker that dies
 *   on its own is logged and restarted (see restart-policy.ts for the backoff
 *   and when the supervisor gives up).
 */
import cluster, { type Worker } from 'node:cluster';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino, type Logger } from 'pino';
import { AggregatorRegistry, Counter, Gauge, Registry as PromRegistry } from 'prom-client';
import { MtlsError, toMtlsError } from '../../errors/index.js';
import type { ErrorCode } from '../../errors/codes.js';
import { ERROR_CODES } from '../../errors/codes.js';
import { adminConfigured, startConfiguredAdmin } from '../admin/from-config.js';
import type { RunningAdmin } from '../admin/server.js';
import type { GatewayConfig } from '../config.js';
import { listenFailure } from '../listen-failure.js';
import { auditTrailChores } from '../audit-retention.js';
import { InstitutionRateLimit } from '../rate-limit.js';
import { CrlDistribution } from '../crl-distribution.js';
import {
  combineHealth,
  listenOps,
  readinessProblems,
  sendOpsResponse,
  warnIfOpsExposed,
  type OpsServer,
} from '../health.js';
import { CredentialReloadMetrics, CrlFetchMetrics } from '../metrics.js';
import {
  credentialsToWire,
  loadGatewayCredentials,
  logCredentialWarnings,
  type GatewayCredentials,
} from '../credentials.js';
import { openRegistry } from '../registry/index.js';
import type { Registry } from '../registry/types.js';
import { RetiredCounters, type MetricsJson } from './retired-counters.js';
import { InstanceConnectionSlots } from '../connection-slots.js';
import { secretFileModeWarnings } from '../secret-files.js';
import {
  isWorkerMessage,
  toWireError,
  type PrimaryMessage,
  type WireError,
  type WireReloadResult,
  type WorkerMessage,
  type WorkerStatusMessage,
} from './messages.js';
import { decideRestart, silentDeathHint, type RestartPolicyOptions } from './restart-policy.js';

/** How long the primary waits for a worker's answer to a status request (`/readyz`, `/metrics`). */
const STATUS_TIMEOUT_MS = 1_000;
/** How long the primary waits for a worker's credential reload. */
const RELOAD_TIMEOUT_MS = 10_000;
/**
 * How often the primary takes every worker's counters between scrapes. A
 * worker that dies takes with it what it counted since its last report
 * (retired-counters.ts); taking one every second bounds that loss to about a
 * second of its traffic, whatever the scrape interval. A report costs the
 * worker one serialisation of its metrics registry.
 */
const COUNTER_REPORT_MS = 1_000;

/** Time a draining worker gets beyond `drainTimeoutMs` (closing the registry, flushing the audit) before it is killed. */
const DRAIN_GRACE_MS = 10_000;

/** Options for {@link startGatewayWorkers}. */
export interface StartGatewayWorkersOptions {
  /** The configuration; `workers` says how many processes serve. */
  config: GatewayConfig;
  /** The primary's logger (default: pino JSON to stdout at `config.logLevel`, with `pid` and `role: primary`). */
  logger?: Logger;
  /** Restart backoff tuning (default: `DEFAULT_RESTART_POLICY` of restart-policy.ts). */
  restart?: RestartPolicyOptions;
}

/** One worker slot as seen by the primary. */
export interface WorkerInfo {
  /** Slot number, 1…N; a restarted worker keeps its slot. */
  slot: number;
  /** The process serving the slot now, or null while it is being restarted. */
  pid: number | null;
  /** True once the slot's gateway is serving. */
  ready: boolean;
}

/** One worker's answer to {@link RunningGatewayWorkers.reloadCredential}. */
export interface WorkerReloadResult {
  slot: number;
  pid: number | null;
  /** The reload outcome; an error with code MTLS_TIMEOUT when the worker did not answer. */
  result: WireReloadResult;
}

/** How the supervisor ended. */
export type WorkersExit = { ok: true } | { ok: false; error: MtlsError };

/** A running primary with its workers. */
export interface RunningGatewayWorkers {
  /** The mTLS listener's address (shared by every worker). */
  address(): AddressInfo;
  /** The operations listener's address, or null when it is off. */
  opsAddress(): AddressInfo | null;
  /** The admin API's base URL, or null when it is off. */
  adminUrl(): string | null;
  /** Every worker slot now. */
  workers(): WorkerInfo[];
  /** Reloads the server credential in every running worker; each keeps its current one on failure. */
  reloadCredential(): Promise<WorkerReloadResult[]>;
  /** Drains every worker, then closes the primary's listeners. Idempotent. */
  close(): Promise<void>;
  /**
   * Settles when the supervisor has stopped: after {@link close}, or on its
   * own when a worker slot is in a crash loop (then `ok: false` with the last
   * error the worker reported, or MTLS_INTERNAL).
   */
  readonly done: Promise<WorkersExit>;
}

interface Slot {
  slot: number;
  worker: Worker | null;
  startedAt: number;
  ready: boolean;
  quickFailures: number;
  restartTimer: NodeJS.Timeout | null;
  /** The last start failure a worker in this slot reported. */
  lastError: WireError | null;
  /** The metrics its worker last reported (to a scrape or the periodic report), retired with it when it dies. */
  lastMetrics: MetricsJson | null;
}

/** The worker entry point next to this module (`.ts` under tsx, `.js` when built). */
function workerEntry(): string {
  const here = fileURLToPath(import.meta.url);
  return fileURLToPath(new URL(`./worker-main${extname(here)}`, import.meta.url));
}

/** True for a code of the catalogue (own keys only: `'toString' in ERROR_CODES` is true too). */
const isErrorCode = (code: string): code is ErrorCode => Object.hasOwn(ERROR_CODES, code);

/** An error reported by a worker, as an MtlsError again. */
function fromWireError(e: WireError, prefix = ''): MtlsError {
  const code: ErrorCode = isErrorCode(e.code) ? e.code : 'MTLS_INTERNAL';
  return new MtlsError(code, `${prefix}${e.message}`, {
    ...(e.hint ? { hint: e.hint } : {}),
    ...(e.subject ? { subject: e.subject } : {}),
  });
}

/**
 * Starts the primary: binds the operations listener and the admin API (when
 * configured), forks `config.workers` gateway workers sharing the mTLS
 * listening socket, and resolves once every worker serves. One per process
 * (node:cluster is process-wide).
 * @throws MTLS_CONFIG_INVALID (bad or missing registry), MTLS_NETWORK (a port
 *   cannot be bound), or the first error a worker hit while starting (its
 *   credential, its listener); every worker started so far is stopped first
 */
export async function startGatewayWorkers(
  options: StartGatewayWorkersOptions,
): Promise<RunningGatewayWorkers> {
  const cfg = options.config;
  if (!cluster.isPrimary)
    throw new MtlsError(
      'MTLS_INTERNAL',
      'startGatewayWorkers was called inside a cluster worker; a worker cannot supervise workers',
    );
  if (!cfg.registry)
    throw new MtlsError(
      'MTLS_CONFIG_INVALID',
      'key `registry` is missing: the gateway needs a registry location',
      { subject: 'registry' },
    );
  const logger =
    options.logger ??
    pino(
      {
        level: cfg.logLevel,
        base: { service: 'mtls-gateway', pid: process.pid, role: 'primary' },
        timestamp: pino.stdTimeFunctions.isoTime,
      },
      pino.destination({ dest: 1, sync: true }),
    );

  // The credentials are read here, once for the instance: every worker,
  // including one restarted later, serves the same ones (credentials.ts).
  let credentials = await loadGatewayCredentials(cfg);
  logCredentialWarnings(logger, credentials);
  for (const w of await secretFileModeWarnings(cfg)) logger.warn({ fileModeWarning: true }, w);

  // Opened here first, before any worker, so that the schema is migrated once
  // rather than by N workers racing, and so that a missing or corrupt file
  // fails the start with its own error. Never created here: a gateway pointed
  // at a mistyped path would otherwise serve an empty registry and refuse
  // every institution without saying why. Kept for the admin API
  // and the CRL downloads.
  const registry: Registry = await openRegistry(cfg.registry, {
    sqlite: {
      create: false,
      pollIntervalMs: cfg.registryPollMs,
      onError: (e) =>
        logger.error({ err: { code: e.code, message: e.message } }, 'registry poll failed'),
    },
  });
  const adminOn = adminConfigured(cfg.admin);

  const slots: Slot[] = Array.from({ length: cfg.workers }, (_, i) => ({
    slot: i + 1,
    worker: null,
    startedAt: 0,
    ready: false,
    quickFailures: 0,
    restartTimer: null,
    lastError: null,
    lastMetrics: null,
  }));
  let stopping = false;
  let started = false;
  // An object: the first worker's address is set from a message handler, which
  // flow analysis does not see.
  const listen: { address: AddressInfo | null } = { address: null };
  let nextId = 1;
  const pending = new Map<
    number,
    { worker: Worker; resolve: (m: WorkerMessage | null) => void; timer: NodeJS.Timeout }
  >();
  const exitWaiters = new Set<() => void>();
  let settleDone: (exit: WorkersExit) => void = () => undefined;
  const done = new Promise<WorkersExit>((resolve) => {
    settleDone = resolve;
  });
  let startWaiter: { resolve: () => void; reject: (e: MtlsError) => void } | null = null;

  const primaryMetrics = new PromRegistry();
  const restarts = new Counter({
    name: 'mtls_gateway_worker_restarts_total',
    help: 'Gateway workers restarted after dying on their own',
    registers: [primaryMetrics],
  });
  new Gauge({
    name: 'mtls_gateway_workers',
    help: 'Gateway worker processes, configured and serving',
    labelNames: ['state'],
    registers: [primaryMetrics],
    collect() {
      this.set({ state: 'configured' }, slots.length);
      this.set({ state: 'serving' }, slots.filter((s) => s.ready).length);
    },
  });

  const reloadMetrics = new CredentialReloadMetrics([primaryMetrics]);
  const retired = new RetiredCounters();

  const crlDownload = {
    log: logger,
    metrics: new CrlFetchMetrics([primaryMetrics]),
    fetch: { maxBytes: cfg.crl.maxBytes, timeoutMs: cfg.crl.fetchTimeoutMs },
  };
  const crlDistribution = new CrlDistribution({ registry, ...crlDownload });
  // The workers start with auditRetention off: the primary prunes for the instance.
  const retention = auditTrailChores({
    registry,
    retentionDays: cfg.audit.retentionDays,
    logger,
    registers: [primaryMetrics],
  });

  const rateBuckets = new InstitutionRateLimit();
  const connectionSlots = new InstanceConnectionSlots();

  const workerConfig: GatewayConfig = {
    ...cfg,
    workers: 1,
    // The primary waits drainDelayMs before it tells the workers to drain.
    drainDelayMs: 0,
    ops: { listen: null },
    admin: { ...cfg.admin, tokenFile: null, clientCaFile: null },
  };

  function send(worker: Worker, m: PrimaryMessage): boolean {
    if (!worker.isConnected()) return false;
    // A worker killed a moment ago can still look connected, and the write
    // then fails with EPIPE. Without a callback Node emits that as an 'error'
    // on the Worker, which nothing listens to, so a /readyz at the wrong
    // moment stopped the primary. The worker's exit (onExit) answers what
    // was asked of it.
    worker.send(m, () => undefined);
    return true;
  }

  /** Sends a request and waits for the answer with the same id (null on timeout or a gone worker). */
  function ask(
    worker: Worker,
    make: (id: number) => PrimaryMessage,
    timeoutMs: number,
  ): Promise<WorkerMessage | null> {
    const id = nextId++;
    return new Promise((resolve) => {
      if (!send(worker, make(id))) {
        resolve(null);
        return;
      }
      const timer = setTimeout(() => {
        pending.delete(id);
        resolve(null);
      }, timeoutMs);
      pending.set(id, { worker, resolve, timer });
    });
  }

  function fork(s: Slot): void {
    s.ready = false;
    s.startedAt = Date.now();
    s.worker = cluster.fork();
  }

  function slotOf(worker: Worker): Slot | undefined {
    return slots.find((s) => s.worker === worker);
  }

  function onMessage(worker: Worker, m: unknown): void {
    if (!isWorkerMessage(m)) return;
    const s = slotOf(worker);
    if (!s) return;
    if (m.mtls === 'hello') {
      send(worker, {
        mtls: 'start',
        config: workerConfig,
        credentials: credentialsToWire(credentials),
        slot: s.slot,
        workers: slots.length,
      });
      return;
    }
    if (m.mtls === 'ready') {
      s.ready = true;
      s.lastError = null;
      listen.address ??= m.address;
      if (started)
        logger.info(
          { worker: s.slot, workerPid: worker.process.pid },
          'worker restarted and serving',
        );
      if (startWaiter && slots.every((x) => x.ready)) startWaiter.resolve();
      return;
    }
    if (m.mtls === 'rate-lease') {
      // The instance's request rate buckets live here; workers lease tokens.
      const g = rateBuckets.takeUpTo(m.institution, m.want, m.rate);
      send(worker, { mtls: 'rate-lease', id: m.id, ...g });
      return;
    }
    if (m.mtls === 'conn-slot') {
      const granted = connectionSlots.acquire(worker.id, m.ip, m.limit);
      send(worker, { mtls: 'conn-slot', id: m.id, granted });
      return;
    }
    if (m.mtls === 'conn-slot-release') {
      connectionSlots.release(worker.id, m.ip);
      return;
    }
    if (m.mtls === 'start-failed') {
      s.lastError = m.error;
      if (started)
        logger.error(
          { worker: s.slot, workerPid: worker.process.pid, err: m.error },
          'worker failed to start',
        );
      else startWaiter?.reject(fromWireError(m.error));
      return;
    }
    const waiter = pending.get(m.id);
    if (waiter) {
      pending.delete(m.id);
      clearTimeout(waiter.timer);
      waiter.resolve(m);
    }
  }

  function onExit(worker: Worker, code: number | null, signal: string | null): void {
    const s = slotOf(worker);
    if (!s) return;
    s.worker = null;
    s.ready = false;
    if (s.lastMetrics) retired.retire(s.lastMetrics);
    s.lastMetrics = null;
    // Its connections died with it.
    connectionSlots.releaseAll(worker.id);
    // A dead worker answers nothing: its questions get "no answer" now, not
    // after their timeout, so /readyz says at once that it is gone.
    for (const [id, p] of pending)
      if (p.worker === worker) {
        pending.delete(id);
        clearTimeout(p.timer);
        p.resolve(null);
      }
    for (const w of exitWaiters) w();
    if (stopping) return;
    if (!started) {
      startWaiter?.reject(
        s.lastError
          ? fromWireError(s.lastError)
          : new MtlsError(
              'MTLS_INTERNAL',
              `gateway worker ${s.slot} exited while starting (${signal ? `signal ${signal}` : `exit code ${code}`})`,
            ),
      );
      return;
    }
    const uptimeMs = Date.now() - s.startedAt;
    const decision = decideRestart(s.quickFailures, uptimeMs, options.restart);
    s.quickFailures = decision.quickFailures;
    const fields = { worker: s.slot, workerPid: worker.process.pid, code, signal, uptimeMs };
    if (decision.action === 'give-up') {
      const why = `gateway worker ${s.slot} died ${decision.quickFailures} times in a row soon after starting`;
      const error = s.lastError
        ? fromWireError(s.lastError, `${why}; last error: `)
        : new MtlsError(
            'MTLS_INTERNAL',
            `${why} (last: ${signal ? `signal ${signal}` : `exit code ${code}`})`,
            { hint: silentDeathHint(signal, code) },
          );
      logger.fatal(
        { ...fields, err: { code: error.code, message: error.message } },
        'worker crash loop: giving up and stopping the gateway',
      );
      void shutdown({ ok: false, error });
      return;
    }
    logger.error(
      { ...fields, restartInMs: decision.delayMs },
      'worker exited unexpectedly; restarting it',
    );
    restarts.inc();
    s.restartTimer = setTimeout(() => {
      s.restartTimer = null;
      if (!stopping) fork(s);
    }, decision.delayMs);
  }

  /** Every slot's status answer (null for a slot without a worker or without an answer in time). */
  async function statuses(
    metrics: boolean,
  ): Promise<Array<{ slot: Slot; pid: number | null; status: WorkerStatusMessage | null }>> {
    return Promise.all(
      slots.map(async (s) => {
        const worker = s.worker;
        if (!worker || !s.ready) return { slot: s, pid: worker?.process.pid ?? null, status: null };
        const m = await ask(worker, (id) => ({ mtls: 'status', id, metrics }), STATUS_TIMEOUT_MS);
        return {
          slot: s,
          pid: worker.process.pid ?? null,
          status: m?.mtls === 'status' ? m : null,
        };
      }),
    );
  }

  /** Readiness over every slot: ready only when every configured worker runs and reports ready. */
  async function readiness(): Promise<{
    ready: boolean;
    problems: string[];
    workers: Array<Record<string, unknown>>;
  }> {
    const all = await statuses(false);
    const problems: string[] = stopping ? ['draining'] : [];
    for (const { slot, pid, status } of all) {
      const name = `worker ${slot.slot}${pid ? ` (pid ${pid})` : ''}`;
      if (!slot.ready)
        problems.push(`${name}: not running (${stopping ? 'drained' : 'being restarted'})`);
      else if (!status) problems.push(`${name}: no answer within ${STATUS_TIMEOUT_MS} ms`);
      else for (const p of readinessProblems(status.health)) problems.push(`${name}: ${p}`);
    }
    return {
      ready: problems.length === 0,
      problems,
      workers: all.map(({ slot, pid, status }) => ({
        worker: slot.slot,
        pid,
        ready: status !== null && readinessProblems(status.health).length === 0,
        ...(status?.health ?? {}),
      })),
    };
  }

  async function answerReady(res: http.ServerResponse): Promise<void> {
    const r = await readiness();
    sendOpsResponse(res, r.ready ? 200 : 503, {
      status: r.ready ? 'ready' : 'not_ready',
      problems: r.problems,
      workers: r.workers,
    });
  }

  /** Every running worker's metrics now, each kept as its slot's last report. */
  async function workerMetrics(): Promise<MetricsJson[]> {
    const all = await statuses(true);
    // Kept only while the worker that answered still holds the slot: an
    // answer that arrives after it died was not its last word, and must not
    // be retired again with its successor.
    for (const { slot, pid, status } of all)
      if (status?.metrics && slot.worker && slot.worker.process.pid === pid)
        slot.lastMetrics = status.metrics;
    return all.flatMap(({ status }) => (status?.metrics ? [status.metrics] : []));
  }

  async function answerMetrics(res: http.ServerResponse): Promise<void> {
    const perWorker = await workerMetrics();
    const merged = PromRegistry.merge([
      AggregatorRegistry.aggregate([...perWorker, await retired.snapshot()]),
      primaryMetrics,
    ]);
    sendOpsResponse(res, 200, await merged.metrics(), merged.contentType);
  }

  function handleOps(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/healthz' && path !== '/readyz' && path !== '/metrics') return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendOpsResponse(res, 405, { error: 'method_not_allowed' });
      return true;
    }
    if (path === '/healthz') {
      const alive = slots.filter((s) => s.worker !== null).length;
      sendOpsResponse(res, alive > 0 ? 200 : 503, {
        status: alive > 0 ? 'ok' : 'no_workers',
        workers: alive,
        configured: slots.length,
      });
      return true;
    }
    const answer = path === '/readyz' ? answerReady(res) : answerMetrics(res);
    answer.catch((e: unknown) =>
      sendOpsResponse(res, 500, { error: 'ops_failed', message: toMtlsError(e).message }),
    );
    return true;
  }

  /** Waits until every slot has no process, or the time is up. */
  function allExited(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (slots.every((s) => s.worker === null)) {
          exitWaiters.delete(check);
          clearTimeout(timer);
          resolve(true);
        }
      };
      const timer = setTimeout(() => {
        exitWaiters.delete(check);
        resolve(false);
      }, timeoutMs);
      exitWaiters.add(check);
      check();
    });
  }

  let ops: OpsServer | null = null;
  let admin: RunningAdmin | null = null;
  let shuttingDown: Promise<void> | null = null;
  /** The periodic counter reports (see {@link COUNTER_REPORT_MS}), once the workers serve. */
  let counterReports: NodeJS.Timeout | null = null;

  /** Drains every worker, then closes the primary's listeners and settles {@link done}. */
  function shutdown(exit: WorkersExit, delayMs = 0): Promise<void> {
    if (shuttingDown) return shuttingDown;
    stopping = true;
    shuttingDown = (async () => {
      if (delayMs > 0) {
        // /readyz says "draining" from now; the workers accept on until the
        // balancer's health checks have seen it.
        for (const s of slots) if (s.worker) send(s.worker, { mtls: 'drain-notice' });
        logger.info(
          { drainDelayMs: delayMs },
          'not ready; every worker accepts connections for drainDelayMs while the balancer takes this instance out',
        );
        await new Promise((r) => setTimeout(r, delayMs));
      }
      for (const s of slots) {
        if (s.restartTimer) clearTimeout(s.restartTimer);
        s.restartTimer = null;
        if (s.worker && !send(s.worker, { mtls: 'drain' })) s.worker.process.kill('SIGTERM');
      }
      logger.info(
        { workers: slots.filter((s) => s.worker).length, drainTimeoutMs: cfg.drainTimeoutMs },
        'draining every worker',
      );
      let result = exit;
      if (!(await allExited(cfg.drainTimeoutMs + DRAIN_GRACE_MS))) {
        const stuck = slots.filter((s) => s.worker);
        for (const s of stuck) s.worker?.process.kill('SIGKILL');
        const error = new MtlsError(
          'MTLS_TIMEOUT',
          `gateway worker(s) ${stuck.map((s) => s.slot).join(', ')} did not finish draining within ${cfg.drainTimeoutMs + DRAIN_GRACE_MS} ms and were killed`,
        );
        logger.error({ err: { code: error.code, message: error.message } }, 'drain incomplete');
        if (result.ok) result = { ok: false, error };
        await allExited(5_000);
      }
      for (const { resolve, timer } of pending.values()) {
        clearTimeout(timer);
        resolve(null);
      }
      pending.clear();
      if (counterReports) clearInterval(counterReports);
      cluster.off('message', onMessage);
      cluster.off('exit', onExit);
      await ops?.close();
      await admin?.close();
      await crlDistribution.stop();
      await retention?.stop();
      await registry.close();
      logger.info('every worker stopped');
      settleDone(result);
    })();
    return shuttingDown;
  }

  // The admin API's /readyz answers without authentication: it gets the
  // verdict and a count, not the per-worker problems (paths, pids) /readyz on
  // the ops listener shows.
  const allReady = async (): Promise<{ ok: boolean; detail?: string }> => {
    const r = await readiness();
    if (r.ready) return { ok: true };
    if (stopping) return { ok: false, detail: 'draining' };
    return {
      ok: false,
      detail: `${r.workers.filter((w) => !w.ready).length} of ${slots.length} worker(s) not ready`,
    };
  };

  try {
    const opsListen = cfg.ops.listen;
    if (opsListen) {
      ops = await listenOps(opsListen.host, opsListen.port, handleOps).catch((e: unknown) => {
        throw listenFailure(e, 'ops.listen', opsListen);
      });
      warnIfOpsExposed(opsListen.host, logger);
    }
    if (adminOn)
      admin = await startConfiguredAdmin({
        admin: cfg.admin,
        registry,
        logger,
        ready: allReady,
        crlDownload,
        health: async () =>
          combineHealth(
            (await statuses(false)).flatMap((s) => (s.status ? [s.status.health] : [])),
          ),
      });
  } catch (e) {
    await ops?.close().catch(() => undefined);
    await registry.close().catch(() => undefined);
    throw e;
  }

  // Must be set before the first fork: node:cluster freezes it then.
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  cluster.setupPrimary({ exec: workerEntry(), args: [], silent: false });
  cluster.on('message', onMessage);
  cluster.on('exit', onExit);
  try {
    await new Promise<void>((resolve, reject) => {
      startWaiter = { resolve, reject };
      for (const s of slots) fork(s);
    });
  } catch (e) {
    await shutdown({ ok: false, error: toMtlsError(e) });
    throw e;
  } finally {
    startWaiter = null;
  }
  started = true;
  let reporting = false;
  counterReports = setInterval(() => {
    if (reporting) return;
    reporting = true;
    void workerMetrics().finally(() => (reporting = false));
  }, COUNTER_REPORT_MS);
  counterReports.unref();
  // After the workers serve: a CRL stored now reaches them through the change feed.
  await crlDistribution.start();
  retention?.start();
  const address = listen.address;
  if (!address)
    throw new MtlsError('MTLS_INTERNAL', 'every worker is ready but none reported its address');
  logger.info(
    {
      workers: slots.length,
      workerPids: slots.map((s) => s.worker?.process.pid ?? null),
      listen: `${address.address}:${address.port}`,
      ops: ops ? `${ops.address().address}:${ops.address().port}` : null,
      admin: admin?.url ?? null,
    },
    'gateway workers started',
  );

  return {
    address: () => address,
    opsAddress: () => ops?.address() ?? null,
    adminUrl: () => admin?.url ?? null,
    workers: () =>
      slots.map((s) => ({ slot: s.slot, pid: s.worker?.process.pid ?? null, ready: s.ready })),
    reloadCredential: async () => {
      let next: GatewayCredentials;
      try {
        next = await loadGatewayCredentials(cfg);
      } catch (e) {
        // Nothing was handed to any worker: all of them, and any restarted
        // later, keep serving the credentials in service.
        const error = toMtlsError(e);
        reloadMetrics.record(false);
        logger.error(
          { err: { code: error.code, message: error.message } },
          'server credential reload failed; every worker keeps the credential in service',
        );
        const wire = toWireError(error);
        return slots.map((s) => ({
          slot: s.slot,
          pid: s.worker?.process.pid ?? null,
          result: { ok: false, error: wire },
        }));
      }
      reloadMetrics.record(true);
      credentials = next;
      logCredentialWarnings(logger, next);
      const wireCredentials = credentialsToWire(next);
      const results = await Promise.all(
        slots.map(async (s): Promise<WorkerReloadResult> => {
          const worker = s.worker;
          const pid = worker?.process.pid ?? null;
          const m =
            worker && s.ready
              ? await ask(
                  worker,
                  (id) => ({ mtls: 'reload-credential', id, credentials: wireCredentials }),
                  RELOAD_TIMEOUT_MS,
                )
              : null;
          if (m?.mtls === 'reload-credential') return { slot: s.slot, pid, result: m.result };
          return {
            slot: s.slot,
            pid,
            result: {
              ok: false,
              error: {
                code: 'MTLS_TIMEOUT',
                message: `worker ${s.slot} is not serving or did not answer within ${RELOAD_TIMEOUT_MS} ms`,
              },
            },
          };
        }),
      );
      const failed = results.filter((r) => !r.result.ok);
      if (failed.length === 0)
        logger.info({ workers: results.length }, 'server credential reloaded in every worker');
      else {
        logger.error(
          {
            failed: failed.map((r) => ({
              worker: r.slot,
              pid: r.pid,
              err: r.result.ok ? null : r.result.error,
            })),
            workers: results.length,
          },
          `server credential reload failed in ${failed.length} of ${results.length} worker(s); those keep their previous credential`,
        );
      }
      return results;
    },
    close: () => shutdown({ ok: true }, cfg.drainDelayMs),
    done,
  };
}
