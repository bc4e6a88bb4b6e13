/**
 * The institution registry behind one interface, implemented once over a SQL
 * driver: SQLite is the embedded default, PostgreSQL serves several gateway
 * instances.
 */
import type { MtlsError } from '../../errors/index.js';

/** Institution status. */
export type InstitutionStatus = 'active' | 'suspended';

/**
 * A request rate: a token bucket of `burst` tokens refilled at
 * `requestsPerSecond` (the model of nginx's `limit_req` and Envoy's local
 * rate limit).
 */
export interface RequestRate {
  /** Sustained requests per second, more than 0 and at most 1,000,000 (0.5 is one every 2 s). */
  requestsPerSecond: number;
  /** Requests an idle client may send at once, a whole number from 1 to 1,000,000. */
  burst: number;
}

/** A request rate as given: the burst defaults to the rate, rounded up (at least 1). */
export interface RequestRateInput {
  requestsPerSecond: number;
  burst?: number | undefined;
}

/** A registered institution. */
export interface Institution {
  /** Stable id (slug), e.g. `acme-bank`. */
  id: string;
  /** Display name. */
  name: string;
  status: InstitutionStatus;
  /**
   * Its own request rate, which replaces the gateway's
   * `limits.institutionRequestsPerSecond`/`institutionRequestBurst` for it
   * (a contract with a higher or lower quota); null: the gateway's limits.
   */
  requestRate: RequestRate | null;
  createdAt: string;
  updatedAt: string;
}

/** One CA chain an institution sent (two may be active at once, for rotation). */
export interface CaChainRecord {
  id: number;
  institutionId: string;
  /** The chain as PEM, certificates only (root last or any order). */
  pem: string;
  /** SHA-256 fingerprint (hex, lower-case, no colons) of each certificate, leaf-most first. */
  fingerprints: string[];
  /** Subject of the top-most CA (for listings). */
  subject: string;
  /** Earliest notAfter in the chain (ISO). */
  notAfter: string;
  createdAt: string;
}

/** A static IP or CIDR registered for an institution. */
export interface IpRecord {
  id: number;
  institutionId: string;
  /** Normalised CIDR, e.g. `203.0.113.7/32` or `2001:db8::/48`. */
  cidr: string;
  createdAt: string;
}

/** Options of {@link Registry.addIp}. */
export interface AddIpOptions {
  /**
   * Accept an IPv4 block shorter than /16 or an IPv6 block shorter than /48
   * (default false): trust is chosen by source address, so a wide block lets
   * a whole network present the institution's certificates.
   */
  allowWideRange?: boolean;
}

/** A CRL an institution publishes. */
export interface CrlRecord {
  id: number;
  institutionId: string;
  /** PEM with label `X509 CRL`. */
  pem: string;
  issuer: string;
  /**
   * SHA-256 (lower-case hex) of the CA certificate whose key signed the CRL:
   * the CRL's identity, since two CAs of one institution may share a name
   * (rotation). Null for a CRL stored before schema version 2.
   */
  issuerFingerprint: string | null;
  thisUpdate: string;
  nextUpdate: string | null;
  createdAt: string;
}

/** Input of {@link Registry.putCrl} (validated by onboarding first). */
export interface PutCrlInput {
  /** PEM with label `X509 CRL`. */
  pem: string;
  /** RFC 4514 issuer name. */
  issuer: string;
  /** SHA-256 of the signing CA certificate; the institution's CRL with the same one is replaced. */
  issuerFingerprint: string;
  thisUpdate: string;
  nextUpdate: string | null;
  /**
   * Id of a CRL stored before schema version 2 (no fingerprint) that the same
   * CA signed; it is deleted in the same transaction.
   */
  replaces?: number | null;
}

/** Bounds of a CRL distribution point's download interval, in seconds. */
export const CRL_SOURCE_INTERVAL = {
  /** Shortest: one download a minute per source is plenty for a document with a validity of days. */
  min: 60,
  /** Longest: a week, the usual upper bound of a CRL's validity (RFC 5280 §5.1.2.5 nextUpdate). */
  max: 7 * 24 * 3600,
  /** Default: hourly. */
  default: 3600,
} as const;

/** A CRL distribution point the gateway downloads the institution's CRL from. */
export interface CrlSourceRecord {
  id: number;
  institutionId: string;
  /** `http://` or `https://` URL. */
  url: string;
  /** Seconds between downloads. */
  intervalSeconds: number;
  createdAt: string;
  /** When the last download was attempted (ISO), or null before the first. */
  lastFetchAt: string | null;
  /** Outcome of the last download. */
  lastStatus: 'ok' | 'failed' | null;
  /** `CODE: message` of the last failed download (cleared by a good one). */
  lastError: string | null;
  /** When a download last passed every check (ISO). */
  lastGoodAt: string | null;
  /** SHA-256 (hex) of the body of the last good download, as served. */
  lastGoodSha256: string | null;
  /** thisUpdate of the last good CRL (its age is now minus this). */
  lastGoodThisUpdate: string | null;
  /** nextUpdate of the last good CRL. */
  lastGoodNextUpdate: string | null;
}

/** Input of {@link Registry.addCrlSource}. */
export interface AddCrlSourceInput {
  url: string;
  /** Seconds between downloads (default {@link CRL_SOURCE_INTERVAL}.default). */
  intervalSeconds?: number;
}

/** Outcome of one download, recorded by {@link Registry.recordCrlFetch}. */
export type CrlFetchRecord =
  | { ok: true; at: string; sha256: string; thisUpdate: string; nextUpdate: string | null }
  | { ok: false; at: string; error: string };

/** A pinned rule: the certificate must match one of an institution's rules, if it has any. */
export type PinnedRule =
  | { id: number; institutionId: string; kind: 'subject_cn'; value: string }
  | { id: number; institutionId: string; kind: 'subject_o'; value: string }
  | { id: number; institutionId: string; kind: 'fingerprint_sha256'; value: string };

/** Everything about one institution the connection path needs. */
export interface InstitutionTrust {
  institution: Institution;
  chains: CaChainRecord[];
  ips: IpRecord[];
  crls: CrlRecord[];
  rules: PinnedRule[];
}

/** Outcome class of an audit record. */
export type AuditOutcome = 'accepted' | 'rejected';

/** Reason codes of the audit trail (a closed set). */
export const AUDIT_REASONS = [
  'ok',
  'ip_not_registered',
  'institution_suspended',
  'tls_version',
  'no_client_cert',
  'unknown_ca',
  'expired',
  'not_yet_valid',
  'revoked',
  'eku_missing',
  'pinned_rule_mismatch',
  'handshake_timeout',
  'bad_request',
  'upstream_error',
  /**
   * The certificate chains to the institution's CA but fails the gateway's own
   * certificate policy in a way no more specific code names: an unparseable
   * certificate, a weak signature digest or a bad signature as OpenSSL reports
   * it (TLS alert analogue: bad_certificate, RFC 5246 §7.2.2).
   */
  'bad_certificate',
  /**
   * A CA certificate (basicConstraints CA:TRUE, RFC 5280 §4.2.1.9) presented
   * as the client certificate: an institution must issue a leaf for the call,
   * never use its CA.
   */
  'ca_certificate',
  /**
   * A key under the gateway's minimum size (`policy.minRsaBits`,
   * `policy.minEcBits`; NIST SP 800-57 Part 1 §5.6.1) on the client
   * certificate or an intermediate the client sent.
   */
  'weak_key',
  /**
   * The registry could not be read for longer than the gateway's maximum
   * staleness, so it no longer knows whom to trust: connections are refused
   * before the handshake (fail closed) until a reload succeeds.
   */
  'registry_unavailable',
  /**
   * PROXY protocol: a header from a peer outside `trustedProxies`, or (with
   * `proxyProtocol: required`) any connection from such a peer. Closed before
   * the handshake; the record carries the real TCP peer.
   */
  'proxy_untrusted',
  /** PROXY protocol required, and a trusted balancer's connection did not start with a header. */
  'proxy_header_missing',
  /** A trusted balancer's PROXY header was malformed, oversized, or not complete in time. */
  'proxy_header_invalid',
  /**
   * The CRL covering the certificate's issuer is past its nextUpdate (RFC
   * 5280 §5.1.2.5) and no fresh one has reached the gateway, so revocation
   * status is undetermined (§6.3.3). Under `crl.stale: fail_closed` the
   * connection is refused with it; under `fail_open_with_alarm` it is
   * accepted and this reason marks the accepted record.
   */
  'crl_expired',
  /**
   * The client address already had `limits.maxConnectionsPerIp` connections
   * open on this gateway process: closed before the handshake, so that one
   * institution's connection leak or retry storm cannot take every
   * connection slot (`limits.maxConnections`) from the others.
   */
  'connection_limit',
  /**
   * The institution sent requests faster than
   * `limits.institutionRequestsPerSecond` allows (after its burst): answered
   * 429 with Retry-After, not forwarded.
   */
  'rate_limited',
  /**
   * A request still in flight when the graceful drain's `drainTimeoutMs` ran
   * out at shutdown: the gateway closed its connection (the client got no
   * answer, or the rest of one) and aborted the upstream request. The
   * gateway's own doing: neither the upstream failing (`upstream_error`) nor
   * the client going away.
   */
  'drain_timeout',
] as const;
/** One reason code. */
export type AuditReason = (typeof AUDIT_REASONS)[number];
/**
 * A reason code as stored: one of {@link AUDIT_REASONS}, or one a newer
 * mtlskit wrote into a registry this build shares during a rolling upgrade.
 * Writing accepts only the former; reading keeps the latter as it is, so one
 * record this build has no words for does not fail a whole audit query.
 */
export type StoredAuditReason = AuditReason | (string & Record<never, never>);

/** One audit record: a connection attempt or a request. */
export interface AuditRecord {
  id?: number;
  /** ISO time. */
  time: string;
  /** `connection` for the TLS stage, `request` for an HTTP request. */
  kind: 'connection' | 'request';
  ip: string;
  institutionId: string | null;
  subject: string | null;
  issuer: string | null;
  serial: string | null;
  fingerprintSha256: string | null;
  tlsVersion: string | null;
  cipher: string | null;
  outcome: AuditOutcome;
  /** Checked against {@link AUDIT_REASONS} when written; see {@link StoredAuditReason} for reading. */
  reason: StoredAuditReason;
  /** Operator-only detail (OpenSSL's reason, upstream error); never sent to the client. */
  detail: string | null;
  method?: string | null;
  path?: string | null;
  status?: number | null;
  durationMs?: number | null;
  /**
   * The request's id (a UUID the gateway makes for each request): sent
   * upstream and to the client in the request-id header, so a call one side
   * quotes can be found here. Null for connection records.
   */
  requestId?: string | null;
}

/** Filter for {@link Registry.queryAudit}. */
export interface AuditQuery {
  /** ISO lower bound on time. */
  since?: string;
  /** ISO upper bound on time (exclusive). */
  until?: string;
  institutionId?: string;
  /** The client address exactly as recorded. */
  ip?: string;
  outcome?: AuditOutcome;
  reason?: AuditReason;
  /** The request with this id (see {@link AuditRecord.requestId}). */
  requestId?: string;
  /** Only records with a larger id (the ones appended since that record). */
  afterId?: number;
  limit?: number;
  /** Skip this many matching records first (paging). */
  offset?: number;
}

/** One row of {@link Registry.auditPerMinute}: how many records of one kind in one minute. */
export interface AuditMinuteCount {
  /** The minute, `YYYY-MM-DDTHH:MM` (UTC). */
  minute: string;
  outcome: AuditOutcome;
  reason: StoredAuditReason;
  count: number;
}

/** One row of {@link Registry.auditLastCalls}: an institution's newest record of one outcome. */
export interface AuditLastCall {
  institutionId: string;
  outcome: AuditOutcome;
  /** ISO time of the newest such record. */
  time: string;
}

/** One registered CA certificate found by its public key. */
export interface CaKeyHit {
  institutionId: string;
  chainId: number;
  /** 0-based position of the certificate in its chain. */
  position: number;
  spkiSha256: string;
}

/** Result of {@link Registry.findCaKeys}. */
export interface CaKeyLookup {
  hits: CaKeyHit[];
  /** Chains with a certificate whose key could not be indexed. */
  unindexed: CaChainRecord[];
}

/** A registry change notification (used to rebuild cached TLS contexts). */
export interface RegistryChange {
  institutionId: string | null;
  /** Monotonic version of the registry after the change. */
  version: number;
}

/**
 * The registry. All methods are async so the PostgreSQL implementation fits.
 * Write methods validate their input and throw MtlsError (MTLS_NOT_FOUND,
 * MTLS_CONFLICT, MTLS_ONBOARD_REJECTED, …).
 */
/** A registry store's schema version against the one this build writes. */
export interface RegistrySchema {
  /** The store's schema version. */
  version: number;
  /** The schema version this build writes. */
  build: number;
  /**
   * The oldest schema whose builds may use the store, as its newest version
   * declares; a store newer than the build is open only when this is at most
   * {@link build}.
   */
  compatibleFrom: number;
}

export interface Registry {
  /** Opens/migrates the store. */
  init(): Promise<void>;
  close(): Promise<void>;
  /** The store's schema against this build's, once opened (null before). */
  schemaVersion(): RegistrySchema | null;

  createInstitution(input: { id: string; name: string }): Promise<Institution>;
  getInstitution(id: string): Promise<Institution | null>;
  listInstitutions(): Promise<Institution[]>;
  setInstitutionStatus(id: string, status: InstitutionStatus): Promise<Institution>;
  /**
   * Sets the institution's own request rate, or with null returns it to the
   * gateway's `limits`. A registry change: every gateway process applies it.
   * @throws MTLS_BAD_ARGUMENT (naming the field), MTLS_NOT_FOUND
   */
  setInstitutionRequestRate(id: string, rate: RequestRateInput | null): Promise<Institution>;
  deleteInstitution(id: string): Promise<void>;

  /** Adds an already validated chain (validation lives in onboarding). */
  addCaChain(
    institutionId: string,
    chain: { pem: string; fingerprints: string[]; subject: string; notAfter: string },
  ): Promise<CaChainRecord>;
  removeCaChain(institutionId: string, chainId: number): Promise<void>;
  /** Every fingerprint registered to any institution (duplicate detection). */
  findChainByFingerprint(fingerprint: string): Promise<CaChainRecord | null>;
  /**
   * The registered CA certificates whose public key is one of `spkiSha256s`
   * (see `spkiSha256` in src/pki/spki-hash.ts), and the chains whose keys are
   * not indexed (their PEM does not parse), which the caller must check
   * itself. Chains stored before the index existed are indexed first.
   */
  findCaKeys(spkiSha256s: string[]): Promise<CaKeyLookup>;

  /** Registers an IP or CIDR; blocks wider than /16 (IPv4) or /48 (IPv6) need `options.allowWideRange`. */
  addIp(institutionId: string, cidr: string, options?: AddIpOptions): Promise<IpRecord>;
  removeIp(institutionId: string, cidr: string): Promise<void>;

  /** Stores a CRL, replacing the institution's CRL signed by the same CA certificate. */
  putCrl(institutionId: string, crl: PutCrlInput): Promise<CrlRecord>;
  removeCrl(institutionId: string, crlId: number): Promise<void>;

  /**
   * Registers a CRL distribution point for an institution (a registry change:
   * every gateway process hears of it).
   * @throws MTLS_BAD_ARGUMENT (not http(s), interval out of bounds), MTLS_NOT_FOUND, MTLS_CONFLICT
   */
  addCrlSource(institutionId: string, input: AddCrlSourceInput): Promise<CrlSourceRecord>;
  /** Removes one distribution point by URL. @throws MTLS_NOT_FOUND */
  removeCrlSource(institutionId: string, url: string): Promise<void>;
  /** Distribution points of one institution, or of all (by institution, then id). */
  listCrlSources(institutionId?: string): Promise<CrlSourceRecord[]>;
  /**
   * Records the outcome of a download. Bookkeeping, not a registry change:
   * the version does not move. A source removed meanwhile is ignored.
   */
  recordCrlFetch(sourceId: number, outcome: CrlFetchRecord): Promise<void>;

  addPinnedRule(
    institutionId: string,
    rule: { kind: PinnedRule['kind']; value: string },
  ): Promise<PinnedRule>;
  removePinnedRule(institutionId: string, ruleId: number): Promise<void>;

  /**
   * Everything the connection path needs, for every institution, or only for
   * `institutionId` (an empty list when it does not exist).
   */
  loadTrust(institutionId?: string): Promise<InstitutionTrust[]>;
  /** Registry version; bumps on every change. */
  version(): Promise<number>;
  /**
   * Subscribes to changes (polling or LISTEN/NOTIFY); returns an unsubscribe
   * function. `onError` hears when the change feed itself fails (a poll that
   * cannot read the store, a dropped LISTEN connection): changes may be missed
   * until it recovers, and on recovery the listener gets a change with
   * `institutionId` null (reload everything).
   */
  onChange(
    listener: (change: RegistryChange) => void,
    onError?: (error: MtlsError) => void,
  ): () => void;

  appendAudit(records: AuditRecord[]): Promise<void>;
  /**
   * Deletes up to `limit` audit records older than `before` (ISO), oldest
   * first, in one transaction; returns how many went. Callers loop while it
   * returns `limit`, so no single transaction holds the store for long.
   * @throws MTLS_BAD_ARGUMENT for a bad time or limit
   */
  pruneAudit(before: string, limit: number): Promise<number>;
  /**
   * The time (ISO) of the oldest audit record in the store, or null when it
   * holds none: read through the time index, so it costs the same on an
   * audit table of any size.
   */
  auditOldest(): Promise<string | null>;
  queryAudit(query: AuditQuery): Promise<AuditRecord[]>;
  /**
   * Connection records (not request records) since `since` (ISO) counted per minute, outcome and reason,
   * oldest minute first. @throws MTLS_BAD_ARGUMENT for a bad time
   */
  auditPerMinute(since: string): Promise<AuditMinuteCount[]>;
  /** Each institution's newest accepted and newest rejected record time. */
  auditLastCalls(): Promise<AuditLastCall[]>;
}
