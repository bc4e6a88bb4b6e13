/**
 * Prometheus metrics for the gateway (prom-client), on a registry of its own
 * so that two gateways in one process never share counters.
 */
import {
  Counter,
  Gauge,
  Histogram,
  Registry as PromRegistry,
  collectDefaultMetrics,
} from 'prom-client';
import { withTimeout } from './with-timeout.js';
import type { AuditRecord } from './registry/types.js';
import type { TrustSnapshot } from './trust-cache.js';

/**
 * Counters of the process that downloads CRLs (the single gateway process, or
 * the primary with workers): registered only there, so that aggregating the
 * workers' metrics never meets the same name twice.
 */
export class CrlFetchMetrics {
  /** CRL downloads by institution and result: `stored` (a new CRL), `unchanged` (byte-identical), `failed` (refused or not downloaded). */
  readonly fetches: Counter<'institution' | 'result'>;

  constructor(registers: PromRegistry[]) {
    this.fetches = new Counter({
      name: 'mtls_gateway_crl_fetches_total',
      help: 'CRL downloads from registered distribution points, by institution and result (stored, unchanged, failed)',
      labelNames: ['institution', 'result'],
      registers,
    });
  }
}

/**
 * How the last reload of the gateway's own credentials went, registered once
 * per instance by the process that reads the credential files (the single
 * process, or the primary with workers), after the model of Prometheus's own
 * `prometheus_config_last_reload_successful`. A refused reload keeps the
 * previous credential in service, so nothing else shows it; but the files on
 * disk are then ones a restart would refuse, which is what an alert must
 * catch before the next restart does.
 */
export class CredentialReloadMetrics {
  /** 1 while the files last read were loadable (at start, or the last reload), else 0. */
  readonly lastReloadSuccessful: Gauge;
  /** Reloads by outcome (`ok`, `failed`). */
  readonly reloads: Counter<'outcome'>;

  constructor(registers: PromRegistry[]) {
    this.lastReloadSuccessful = new Gauge({
      name: 'mtls_gateway_credential_last_reload_successful',
      help: "1 when the gateway's credential files were loadable at start or at the last reload (SIGHUP), 0 when the last reload refused them and the previous credential stays in service",
      registers,
    });
    this.lastReloadSuccessful.set(1);
    this.reloads = new Counter({
      name: 'mtls_gateway_credential_reloads_total',
      help: "Reloads of the gateway's credential files (SIGHUP), by outcome (ok, failed)",
      labelNames: ['outcome'],
      registers,
    });
    for (const outcome of ['ok', 'failed']) this.reloads.inc({ outcome }, 0);
  }

  /** Records one reload's outcome. */
  record(ok: boolean): void {
    this.lastReloadSuccessful.set(ok ? 1 : 0);
    this.reloads.inc({ outcome: ok ? 'ok' : 'failed' });
  }
}

/** How long a scrape waits for the registry's answer about the audit trail. */
const AUDIT_OLDEST_TIMEOUT_MS = 2_000;

/**
 * The audit trail in the registry, as the process that prunes it (the single
 * gateway process, or the primary with workers) sees it: registered only
 * there, like {@link CrlFetchMetrics}. An SRE alerts on the oldest record
 * falling behind the retention (retention not keeping up, so the table and
 * the disk grow) and on the last successful retention pass growing old.
 */
export class AuditTrailMetrics {
  /** Age of the oldest record in the registry, read at every scrape. */
  readonly oldestAge: Gauge;
  /** `audit.retentionDays`, in seconds (Prometheus's base unit), so that an alert compares the oldest record's age with it; only with a retention configured. */
  readonly retention: Gauge | null;
  /** Records deleted by `audit.retentionDays`; only with a retention configured. */
  readonly retentionDeleted: Counter | null;
  /** When the last retention pass finished without an error; only with a retention configured. */
  readonly retentionLastSuccess: Gauge | null;

  /**
   * @param registers - the prom-client registries to register with
   * @param oldest - reads the oldest record's time (ISO) from the registry; null when there is none
   * @param retentionDays - `audit.retentionDays`; null (no retention) leaves the retention metrics out
   * @param now - the clock, in ms since the epoch
   */
  constructor(
    registers: PromRegistry[],
    oldest: () => Promise<string | null>,
    retentionDays: number | null,
    now: () => number = Date.now,
  ) {
    // An age rather than a timestamp, as for the CRLs: a gauge without labels
    // is never absent in prom-client, and an empty audit table reads 0, which
    // no "older than the retention" alert mistakes for an ancient record.
    this.oldestAge = new Gauge({
      name: 'mtls_gateway_audit_oldest_record_age_seconds',
      help: 'Age of the oldest audit record in the registry (0 when it holds none; NaN when the registry did not answer)',
      registers,
      // A registry that cannot answer (or not in time) reads NaN rather than
      // failing the scrape: /readyz reports the registry itself.
      collect: async () => {
        const time = await withTimeout(oldest(), AUDIT_OLDEST_TIMEOUT_MS).catch(() => undefined);
        this.oldestAge.set(
          time === undefined ? NaN : time === null ? 0 : (now() - Date.parse(time)) / 1000,
        );
      },
    });
    const retention = retentionDays !== null;
    this.retention = retention
      ? new Gauge({
          name: 'mtls_gateway_audit_retention_seconds',
          help: 'audit.retentionDays in seconds: registry audit records older than this are deleted',
          registers,
        })
      : null;
    this.retention?.set((retentionDays ?? 0) * 86_400);
    this.retentionDeleted = retention
      ? new Counter({
          name: 'mtls_gateway_audit_retention_deleted_total',
          help: 'Audit records deleted from the registry by audit.retentionDays',
          registers,
        })
      : null;
    this.retentionLastSuccess = retention
      ? new Gauge({
          name: 'mtls_gateway_audit_retention_last_success_timestamp_seconds',
          help: 'When the last audit retention pass finished without an error (0 until one has; the first runs at start)',
          registers,
        })
      : null;
  }

  /** Records one successful retention pass that deleted `deleted` records, finished at `atMs`. */
  retentionPass(deleted: number, atMs: number): void {
    this.retentionDeleted?.inc(deleted);
    this.retentionLastSuccess?.set(atMs / 1000);
  }
}

/** The gateway's metrics. */
export class GatewayMetrics {
  /** The prom-client registry holding every metric below. */
  readonly registry = new PromRegistry();
  /** Connection attempts by outcome and reason. */
  readonly connections: Counter<'outcome' | 'reason'>;
  /** Requests by outcome, reason and status class. */
  readonly requests: Counter<'outcome' | 'reason' | 'status'>;
  /** Request duration in seconds (accepted connections only). */
  readonly requestDuration: Histogram<'reason'>;
  /** Open connections on the mTLS listener. */
  readonly openConnections: Gauge;
  /** Requests being proxied right now. */
  readonly inFlight: Gauge;
  /** Registry version of the trust snapshot in service. */
  readonly registryVersion: Gauge;
  /** Institutions in the snapshot, by status. */
  readonly institutions: Gauge<'status'>;

  /** Age of each institution's oldest CRL in service (now minus thisUpdate), in seconds. */
  readonly crlAge: Gauge<'institution'>;
  /** Seconds until the earliest nextUpdate among an institution's CRLs (negative once past). */
  readonly crlNextUpdate: Gauge<'institution'>;
  /** Seconds until each of the gateway's own certificates expires. */
  readonly certificateExpiry: Gauge<'certificate'>;
  private snapshotOf: (() => TrustSnapshot | null) | undefined;
  private certificatesOf: (() => readonly TrackedCertificate[]) | undefined;
  /**
   * Counts taken on the connection and request paths, handed to prom-client
   * when it collects (a scrape, or the workers' aggregation): a prom-client
   * `inc` or `set` validates and hashes its labels on every call, which a new
   * connection per request paid three to five times. A map lookup and an
   * addition here; the exposed values are the same at every scrape.
   */
  private readonly tallies = new Map<string, Tally>();
  private open = 0;
  private forwarding = 0;

  /** @param defaults - also collect process metrics (default true) */
  constructor(defaults = true) {
    const registers = [this.registry];
    this.connections = new Counter({
      name: 'mtls_gateway_connections_total',
      help: 'mTLS connection attempts by outcome and reason code',
      labelNames: ['outcome', 'reason'],
      registers,
      collect: () => {
        this.flushTallies();
      },
    });
    this.requests = new Counter({
      name: 'mtls_gateway_requests_total',
      help: 'HTTP requests by outcome, reason code and status class',
      labelNames: ['outcome', 'reason', 'status'],
      registers,
      collect: () => {
        this.flushTallies();
      },
    });
    this.requestDuration = new Histogram({
      name: 'mtls_gateway_request_duration_seconds',
      help: 'Time from request start to the end of the response',
      labelNames: ['reason'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.openConnections = new Gauge({
      name: 'mtls_gateway_open_connections',
      help: 'Open TCP connections on the mTLS listener',
      registers,
      collect: () => {
        this.openConnections.set(this.open);
      },
    });
    this.inFlight = new Gauge({
      name: 'mtls_gateway_requests_in_flight',
      help: 'Requests being proxied',
      registers,
      collect: () => {
        this.inFlight.set(this.forwarding);
      },
    });
    // Across workers (prom-client AggregatorRegistry) counters and the other
    // gauges add up; the snapshot gauges do not: the oldest version still in
    // service is the one that matters, and every worker holds the same
    // institutions.
    this.registryVersion = new Gauge({
      name: 'mtls_gateway_registry_version',
      help: 'Registry version of the trust snapshot in service (the oldest across workers)',
      registers,
      aggregator: 'min',
    });
    this.institutions = new Gauge({
      name: 'mtls_gateway_institutions',
      help: 'Institutions in the trust snapshot',
      labelNames: ['status'],
      registers,
      aggregator: 'max',
    });
    // Across workers the oldest CRL and the nearest nextUpdate in any worker
    // are what an alarm must see.
    this.crlAge = new Gauge({
      name: 'mtls_gateway_crl_age_seconds',
      help: "Age of the institution's oldest CRL in service (now - thisUpdate)",
      labelNames: ['institution'],
      registers,
      aggregator: 'max',
      collect: () => {
        this.collectCrls();
      },
    });
    this.crlNextUpdate = new Gauge({
      name: 'mtls_gateway_crl_next_update_seconds',
      help: "Seconds until the earliest nextUpdate of the institution's CRLs in service (negative once past: the CRL is stale)",
      labelNames: ['institution'],
      registers,
      aggregator: 'min',
    });
    // The certificate that expires first, in any worker (after a partial
    // reload the old one is still served somewhere), is what an alert needs.
    this.certificateExpiry = new Gauge({
      name: 'mtls_gateway_certificate_expiry_seconds',
      help: "Seconds until the gateway's own certificate expires (negative once past): server, and upstream_client when upstreamTls presents one",
      labelNames: ['certificate'],
      registers,
      aggregator: 'min',
      collect: () => {
        this.collectCertificates();
      },
    });
    if (defaults) {
      collectDefaultMetrics({ register: this.registry, prefix: 'mtls_gateway_' });
      // prom-client names three gauges `*_total`, which Prometheus reserves
      // for counters (`promtool check metrics` refuses them, and a rate() on
      // them is meaningless); the same counts by type remain, under
      // `nodejs_active_handles`, `_requests` and `_resources`.
      for (const kind of ['handles', 'requests', 'resources'])
        this.registry.removeSingleMetric(`mtls_gateway_nodejs_active_${kind}_total`);
    }
  }

  /** Reads the certificate expiry gauge from the credentials in service at every scrape. */
  trackCertificates(certificates: () => readonly TrackedCertificate[]): void {
    this.certificatesOf = certificates;
  }

  private collectCertificates(): void {
    this.certificateExpiry.reset();
    const now = Date.now();
    for (const c of this.certificatesOf?.() ?? [])
      this.certificateExpiry.set(
        { certificate: c.certificate },
        (c.notAfter.getTime() - now) / 1000,
      );
  }

  /** Reads the CRL gauges from the snapshot in service at every scrape. */
  trackCrls(snapshot: () => TrustSnapshot | null): void {
    this.snapshotOf = snapshot;
  }

  private collectCrls(): void {
    const snap = this.snapshotOf?.();
    this.crlAge.reset();
    this.crlNextUpdate.reset();
    if (!snap) return;
    const now = Date.now();
    for (const inst of snap.institutions.values()) {
      if (inst.crls.length === 0) continue;
      let oldest = Infinity;
      let next = Infinity;
      for (const c of inst.crls) {
        oldest = Math.min(oldest, c.thisUpdate.getTime());
        if (c.nextUpdate) next = Math.min(next, c.nextUpdate.getTime());
      }
      // Millisecond precision: a CRL that has just passed its nextUpdate reads negative, never 0.
      this.crlAge.set({ institution: inst.id }, (now - oldest) / 1000);
      if (next !== Infinity) this.crlNextUpdate.set({ institution: inst.id }, (next - now) / 1000);
    }
  }

  /** Sets the number of open connections on the mTLS listener. */
  setOpenConnections(n: number): void {
    this.open = n;
  }

  /** Counts a forward starting (+1) or ending (-1). */
  forwardDelta(delta: 1 | -1): void {
    this.forwarding += delta;
  }

  /** Counts one audit record. */
  observe(r: AuditRecord): void {
    if (r.kind === 'connection') {
      this.tally(this.connections, `c\n${r.outcome}\n${r.reason}`, () => ({
        outcome: r.outcome,
        reason: r.reason,
      }));
      return;
    }
    const status = r.status ? `${Math.floor(r.status / 100)}xx` : 'none';
    this.tally(this.requests, `r\n${r.outcome}\n${r.reason}\n${status}`, () => ({
      outcome: r.outcome,
      reason: r.reason,
      status,
    }));
    if (typeof r.durationMs === 'number')
      this.requestDuration.observe({ reason: r.reason }, r.durationMs / 1000);
  }

  private tally(counter: Counter, key: string, labels: () => Tally['labels']): void {
    const t = this.tallies.get(key);
    if (t) t.n++;
    else this.tallies.set(key, { counter, labels: labels(), n: 1 });
  }

  /** Hands the tallied counts to their counters. */
  private flushTallies(): void {
    for (const t of this.tallies.values()) {
      if (t.n === 0) continue;
      t.counter.inc(t.labels, t.n);
      t.n = 0;
    }
  }
}

/** One of the gateway's own certificates, for {@link GatewayMetrics.trackCertificates}. */
export interface TrackedCertificate {
  certificate: 'server' | 'upstream_client';
  notAfter: Date;
}

/** Counts of one label set not yet handed to its counter. */
interface Tally {
  counter: Counter;
  labels: Record<string, string>;
  n: number;
}
