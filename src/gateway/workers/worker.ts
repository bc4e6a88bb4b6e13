/**
 * One gateway worker: a cluster worker process that runs {@link startGateway}
 * with the configuration its primary sends, and answers the primary's
 * requests for health, metrics, credential reloads and drain.
 *
 * Each worker is a whole gateway with its own registry handle: it loads the
 * trust snapshot, learns of registry changes on its own (the SQLite poll or
 * PostgreSQL LISTEN, as a single process does, so a change reaches every
 * worker within the same second) and writes its own audit records (see
 * primary.ts for why). It never binds the operations listener or the admin
 * API; the primary does.
 */
import { LineBufferDestination } from '../log-destination.js';
import cluster from 'node:cluster';
import { pino, type Logger } from 'pino';
import { MtlsError, toMtlsError } from '../../errors/index.js';
import { startGateway, type RunningGateway } from '../gateway.js';
import { credentialsFromWire } from '../credentials.js';
import { LeasedConnectionSlots } from '../connection-slots.js';
import { LeasedRateLimit, type RateGrant } from '../rate-limit.js';
import type { RequestRate } from '../registry/types.js';
import {
  isPrimaryMessage,
  type PrimaryMessage,
  toWireError,
  type WorkerMessage,
} from './messages.js';
import { PrimaryQuestions } from './ask-primary.js';

/** How long a worker waits for its primary's answer to a rate lease or a connection slot. */
const PRIMARY_ANSWER_TIMEOUT_MS = 1_000;
/** How long the worker does without its primary's counts after a question went unanswered. */
const PRIMARY_BYPASS_MS = 5_000;

/** Options for {@link runGatewayWorker}. */
export interface RunGatewayWorkerOptions {
  /** Environment for passphrases (default process.env, inherited from the primary). */
  env?: NodeJS.ProcessEnv;
}

/**
 * Runs this process as a gateway worker until it is told to drain (by the
 * primary, SIGTERM or SIGINT) or the primary goes away; then exits 0 (1 when
 * the drain failed). SIGHUP sent to the worker itself reloads its credential,
 * as in a single process.
 * @throws MTLS_INTERNAL when the process is not a cluster worker
 */
export function runGatewayWorker(options: RunGatewayWorkerOptions = {}): void {
  if (!cluster.isWorker || typeof process.send !== 'function') {
    throw new MtlsError(
      'MTLS_INTERNAL',
      'runGatewayWorker runs only in a cluster worker forked by startGatewayWorkers',
    );
  }
  const env = options.env ?? process.env;
  const send = (m: WorkerMessage): void => {
    if (process.connected) process.send?.(m);
  };
  let gateway: RunningGateway | null = null;
  let logger: Logger | null = null;
  let stopping = false;
  // Read through a function where `stop` may have run during an await.
  const isStopping = (): boolean => stopping;

  const stop = (why: string): void => {
    if (stopping) return;
    stopping = true;
    if (!gateway) process.exit(0);
    logger?.info({ why }, 'worker stopping');
    gateway.close().then(
      () => process.exit(0),
      (e: unknown) => {
        const err = toMtlsError(e);
        logger?.error({ err: { code: err.code, message: err.message } }, 'drain failed');
        process.exit(1);
      },
    );
  };

  // The instance's shared counts live in the primary: request rate tokens
  // (rate-limit.ts) and connection slots (connection-slots.ts).
  const primary = new PrimaryQuestions({
    send,
    timeoutMs: PRIMARY_ANSWER_TIMEOUT_MS,
    bypassMs: PRIMARY_BYPASS_MS,
    logger: () => logger,
  });
  const lease = async (
    institution: string,
    want: number,
    rate: RequestRate,
  ): Promise<RateGrant> => {
    const g = await primary.ask((id) => ({ mtls: 'rate-lease', id, institution, want, rate }));
    // No answer: the request goes on rather than wait. The rate limit
    // protects the upstream from overload; it is not a trust decision.
    return g?.mtls === 'rate-lease' ? g : { granted: want, retryAfterSeconds: 0, retryAfterMs: 0 };
  };
  const connectionSlots = new LeasedConnectionSlots({
    ask: async (ip, limit, onLateGrant) => {
      const g = await primary.ask(
        (id) => ({ mtls: 'conn-slot', id, ip, limit }),
        (late) => {
          if (late.mtls === 'conn-slot' && late.granted) onLateGrant();
        },
      );
      return g?.mtls === 'conn-slot' ? g.granted : null;
    },
    release: (ip) => send({ mtls: 'conn-slot-release', ip }),
  });

  const onMessage = async (m: PrimaryMessage): Promise<void> => {
    if (m.mtls === 'rate-lease' || m.mtls === 'conn-slot') {
      primary.answer(m);
      return;
    }
    if (m.mtls === 'start') {
      if (gateway || stopping) return;
      logger = pino(
        {
          level: m.config.logLevel,
          base: { service: 'mtls-gateway', pid: process.pid, worker: m.slot },
          timestamp: pino.stdTimeFunctions.isoTime,
        },
        new LineBufferDestination(1),
      );
      try {
        // The primary downloads the CRLs for the whole instance (see primary.ts)
        // and holds the request rate buckets.
        gateway = await startGateway({
          config: m.config,
          logger,
          env,
          crlFetch: false,
          auditRetention: false,
          rateLimit: new LeasedRateLimit({ lease, workers: m.workers }),
          connectionSlots,
          credentials: credentialsFromWire(m.credentials),
        });
      } catch (e) {
        send({ mtls: 'start-failed', error: toWireError(e) });
        // Let the message leave before the channel closes with the process.
        setImmediate(() => process.exit(toMtlsError(e).exitCode));
        return;
      }
      if (isStopping()) {
        stopping = false;
        stop('asked to stop while starting');
        return;
      }
      send({ mtls: 'ready', address: gateway.address() });
      return;
    }
    if (m.mtls === 'drain') {
      stop('drain requested by the primary');
      return;
    }
    if (!gateway) return;
    if (m.mtls === 'drain-notice') {
      gateway.announceDrain();
      return;
    }
    if (m.mtls === 'status') {
      send({
        mtls: 'status',
        id: m.id,
        health: gateway.health(),
        metrics: m.metrics ? await gateway.metrics.registry.getMetricsAsJSON() : null,
      });
      return;
    }
    const result = await gateway.reloadCredential(credentialsFromWire(m.credentials));
    send({
      mtls: 'reload-credential',
      id: m.id,
      result: result.ok ? result : { ok: false, error: toWireError(result.error) },
    });
  };

  process.on('message', (m: unknown) => {
    if (isPrimaryMessage(m)) void onMessage(m);
  });
  // IPC messages that arrive before a listener exists are lost: say when it is there.
  send({ mtls: 'hello' });
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // The primary reads the credential files and hands every worker the same
  // result (credentials.ts); a worker reading them on its own would serve
  // something else than its siblings. A SIGHUP sent to the whole process
  // group reaches the primary too.
  process.on('SIGHUP', () => undefined);
  // A primary that dies takes its workers along: node:cluster exits a worker
  // whose IPC channel closes unexpectedly, so none serves on unsupervised.
}
