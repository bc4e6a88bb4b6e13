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
    if (defaults) collectDefaultMetrics({ register: this.registry, prefix: 'mtls_gateway_' });
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
