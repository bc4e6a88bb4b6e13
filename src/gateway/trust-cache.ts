/**
 * The registry as the connection path sees it: an immutable snapshot (IP
 * index, parsed CA certificates, parsed CRLs, pinned rules per institution)
 * and a cache of per-institution `tls.Server`s built from it.
 *
 * The snapshot follows the registry's change feed (`Registry.onChange`: local
 * writes at once, other processes' within the registry's poll period or
 * through LISTEN/NOTIFY). A change names the institution it touched, and only
 * that institution is reloaded and rebuilt; parsed chains and CRLs are kept
 * across snapshots by record id and PEM hash, so a rebuild parses and
 * verifies only what changed (a 500-entry CRL costs tens of milliseconds of
 * ASN.1 on the event loop). Connections already accepted keep the server
 * they started on; new connections use the new snapshot.
 *
 * Fail closed: when the registry cannot be read (a failed reload, a failed
 * change feed, or a heartbeat it does not answer in time, see
 * registry-heartbeat.ts) for longer than the maximum staleness (10 × the
 * poll period, at least 5 s), the snapshot is no longer trusted: lookups
 * answer `unavailable`, so new connections are refused before the handshake
 * and `/readyz` answers 503, until a reload succeeds.
 */
import { createHash } from 'node:crypto';
import type { Server as TlsServer } from 'node:tls';
import * as x509 from '@peculiar/x509';
import { MtlsError, toMtlsError } from '../errors/index.js';
import { parseCrls } from '../pki/crl.js';
import { derBlocksOf, encodePem } from '../pki/pem.js';
import { BoundedMemo } from './memo.js';
import { startRegistryHeartbeat } from './registry-heartbeat.js';
import { IpMatcher, parseCidr, parseIp, type ParsedCidr } from './ip-match.js';
import { CertInfoCache, isIssuedBy, normalizeSerial, type CertInfo } from './peer-cert.js';
import type {
  CaChainRecord,
  CrlRecord,
  InstitutionStatus,
  RequestRate,
  InstitutionTrust,
  PinnedRule,
  Registry,
  RegistryChange,
} from './registry/types.js';

/** How often an outage that goes on is reported again through `onError`. */
const FAILURE_REMINDER_MS = 60_000;
/** Distinct failures remembered per outage for {@link FAILURE_REMINDER_MS} (a bound, never expected to be reached). */
const MAX_REPORTED_FAILURES = 32;
/** One CRL of an institution, parsed. */
export interface CrlInfo {
  id: number;
  /** DER of the CRL issuer Name. */
  issuerNameDer: Buffer;
  issuer: string;
  thisUpdate: Date;
  nextUpdate: Date | null;
  /** Revoked serials, normalised (upper-case hex, no leading zeros). */
  revoked: ReadonlySet<string>;
  /** The parsed CRL (signature checks). */
  crl: x509.X509Crl;
  /** Signature check results by issuer fingerprint (filled lazily). */
  verifiedBy: Map<string, Promise<boolean>>;
}

/** One institution as the connection path needs it. */
export interface InstitutionContext {
  id: string;
  name: string;
  status: InstitutionStatus;
  /** Its own request rate, or null for the gateway's `limits`. */
  requestRate: RequestRate | null;
  /** Every certificate of every registered chain. */
  anchors: CertInfo[];
  /** Fingerprints of {@link anchors}. */
  anchorFingerprints: ReadonlySet<string>;
  /** One PEM per anchor (the `ca` option, and the CertificateRequest's CA list). */
  caPems: string[];
  /** Hash over the anchors, for server reuse. */
  caHash: string;
  crls: CrlInfo[];
  rules: PinnedRule[];
  /** Canonical CIDRs registered for it. */
  cidrs: string[];
  /** The same blocks, parsed (the IP index is rebuilt from them). */
  blocks: ParsedCidr[];
  /**
   * Set when a registered CRL of this institution cannot be read and no
   * earlier reading of the same record is at hand: its revocation status is
   * unknown, so every certificate of the institution is refused (fail closed,
   * RFC 5280 §6.3.3: status undetermined is not "not revoked").
   */
  crlFailure: string | null;
  /** Problems found while building it (stale or unverifiable CRLs, unreadable entries). */
  warnings: string[];
}

/** An immutable view of the registry. */
export interface TrustSnapshot {
  /** Increments with every rebuild. */
  generation: number;
  /** Registry version it was built from. */
  registryVersion: number;
  institutions: ReadonlyMap<string, InstitutionContext>;
  /** How many of {@link institutions} are active. */
  activeCount: number;
  /**
   * The institutions rebuilt (or deleted) since the snapshot this one was
   * derived from; null when every institution was built afresh.
   */
  changed: ReadonlySet<string> | null;
  /** Source IP → institution ids. */
  matcher: IpMatcher<string>;
  builtAt: Date;
  /** Problems found while building (stale or unverifiable CRLs, unreadable entries), by institution id (computed on first read). */
  readonly warnings: string[];
}

/** A cached per-institution (or per institution set) TLS server. */
export interface TenantServer {
  /** Sorted institution ids joined by commas. */
  key: string;
  server: TlsServer;
}

/** Result of {@link TrustCache.lookup}. */
export type TrustLookup =
  | { kind: 'unregistered'; ip: string; snapshot: TrustSnapshot }
  | { kind: 'suspended'; ip: string; suspended: InstitutionContext[]; snapshot: TrustSnapshot }
  | { kind: 'unavailable'; ip: string; detail: string; snapshot: TrustSnapshot }
  | {
      kind: 'tenant';
      ip: string;
      tenant: TenantServer;
      active: InstitutionContext[];
      suspended: InstitutionContext[];
      snapshot: TrustSnapshot;
    };

/** Builds a TLS server that trusts exactly `caPems` (the gateway supplies it). */
export type TenantServerFactory = (caPems: string[], key: string) => TlsServer;

/** Options for {@link TrustCache}. */
export interface TrustCacheOptions {
  registry: Registry;
  serverFactory: TenantServerFactory;
  /**
   * The registry's poll period (default 250 ms): failed reloads are retried
   * at this pace, and it sets the default maximum staleness.
   */
  pollMs?: number;
  /** How long the registry may stay unreadable before lookups fail closed (default max(5 000, 10 × pollMs) ms). */
  maxStaleMs?: number;
  /** Time between two heartbeat questions (registry-heartbeat.ts; default 1 000 ms). */
  heartbeatMs?: number;
  /** Time a heartbeat answer may take before the registry counts as failing (default min(2 000, maxStaleMs / 2) ms). */
  heartbeatTimeoutMs?: number;
  /** Called after every successful rebuild. */
  onReload?: (snapshot: TrustSnapshot, previous: TrustSnapshot | null) => void;
  /**
   * Called when a rebuild or the change feed fails (the previous snapshot stays
   * in service until it is too stale): once when an outage starts, again when
   * the failure changes, and each minute while it lasts.
   */
  onError?: (error: MtlsError) => void;
  /** Called when the snapshot becomes too stale to serve (true) and when a reload brings it back (false). */
  onStale?: (stale: boolean, detail: string) => void;
  /** Called when the heartbeat finds a change the change feed did not announce (a full reload follows). */
  onUnannounced?: (detail: string) => void;
  /** Shared certificate parse cache. */
  certCache?: CertInfoCache;
  /** Parsed chains and CRLs kept across snapshots (default: a new one). */
  parseCache?: TrustParseCache;
}

/** What one registry record parsed into, with the hash of the PEM it came from. */
interface Parsed<T> {
  pemHash: string;
  value: T;
}

/** The parsed records of one institution. */
interface InstitutionParts {
  chains: Map<number, Parsed<CertInfo[]>>;
  crls: Map<number, Parsed<CrlInfo[]>>;
}

/**
 * Parsed CA chains and CRLs kept across snapshots, keyed by institution,
 * registry record id and the SHA-256 of the stored PEM: a record whose PEM
 * did not change is never parsed (or its CRL signature verified) again. It
 * also keeps the last good parse of a record whose new PEM is unreadable.
 */
export class TrustParseCache {
  /** Parse counters (tests and diagnostics): chains and CRL records parsed so far. */
  readonly stats = { chainParses: 0, crlParses: 0 };
  private readonly byInstitution = new Map<string, InstitutionParts>();

  /** The parts of one institution as last built (empty maps for a new one). */
  partsOf(institutionId: string): InstitutionParts {
    return this.byInstitution.get(institutionId) ?? { chains: new Map(), crls: new Map() };
  }

  /** Keeps exactly `parts` for the institution (records no longer registered are dropped). */
  keep(institutionId: string, parts: InstitutionParts): void {
    this.byInstitution.set(institutionId, parts);
  }

  /** Drops every institution not in `ids`. */
  retainOnly(ids: ReadonlySet<string>): void {
    for (const id of this.byInstitution.keys()) if (!ids.has(id)) this.byInstitution.delete(id);
  }

  /** Drops one institution. */
  forget(institutionId: string): void {
    this.byInstitution.delete(institutionId);
  }
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** Parses one stored chain into certificates (through the shared certificate cache). */
function parseChain(
  chain: CaChainRecord,
  institutionId: string,
  certCache: CertInfoCache,
): CertInfo[] {
  return derBlocksOf(
    chain.pem,
    ['CERTIFICATE', 'TRUSTED CERTIFICATE'],
    `CA chain ${chain.id} of ${institutionId}`,
  ).map((der) => certCache.get(der));
}

/** Parses one stored CRL record (it may hold several CRLs). */
function parseCrlRecord(rec: CrlRecord, institutionId: string): CrlInfo[] {
  return parseCrls(rec.pem, `CRL ${rec.id} of ${institutionId}`).map((crl) => ({
    id: rec.id,
    issuerNameDer: Buffer.from(crl.issuerName.toArrayBuffer()),
    issuer: crl.issuer,
    thisUpdate: crl.thisUpdate,
    nextUpdate: crl.nextUpdate ?? null,
    revoked: new Set(crl.entries.map((e) => normalizeSerial(e.serialNumber))),
    crl,
    verifiedBy: new Map(),
  }));
}

/**
 * Builds one institution's context, reusing the parses in `cache` for every
 * record whose PEM is unchanged. Unreadable chains are skipped with a warning
 * (fewer anchors can only refuse more); an unreadable CRL falls back to the
 * last good parse of the same record, or else fails the institution closed.
 */
async function buildInstitution(
  t: InstitutionTrust,
  certCache: CertInfoCache,
  cache: TrustParseCache,
  now: Date,
): Promise<InstitutionContext> {
  const id = t.institution.id;
  const old = cache.partsOf(id);
  const parts: InstitutionParts = { chains: new Map(), crls: new Map() };
  const warnings: string[] = [];
  const anchors: CertInfo[] = [];
  const seen = new Set<string>();
  for (const chain of t.chains) {
    const pemHash = sha256(chain.pem);
    let entry = old.chains.get(chain.id);
    if (!entry || entry.pemHash !== pemHash) {
      cache.stats.chainParses++;
      try {
        entry = { pemHash, value: parseChain(chain, id, certCache) };
      } catch (e) {
        warnings.push(
          `institution ${id}: CA chain ${chain.id} is unreadable and is ignored (${toMtlsError(e).message})`,
        );
        continue;
      }
    }
    parts.chains.set(chain.id, entry);
    for (const info of entry.value) {
      if (seen.has(info.fingerprint)) continue;
      seen.add(info.fingerprint);
      anchors.push(info);
    }
  }
  const crls: CrlInfo[] = [];
  let crlFailure: string | null = null;
  for (const rec of t.crls) {
    const pemHash = sha256(rec.pem);
    let entry = old.crls.get(rec.id);
    if (!entry || entry.pemHash !== pemHash) {
      cache.stats.crlParses++;
      try {
        entry = { pemHash, value: parseCrlRecord(rec, id) };
      } catch (e) {
        const why = toMtlsError(e).message;
        if (entry) {
          warnings.push(
            `institution ${id}: CRL ${rec.id} as stored now is unreadable (${why}); its last good version (thisUpdate ${entry.value[0]?.thisUpdate.toISOString() ?? '-'}) stays in force`,
          );
        } else {
          crlFailure = `CRL ${rec.id} of ${id} is unreadable (${why}), so revocation cannot be checked; the institution's connections are refused until a readable CRL is uploaded`;
          warnings.push(`institution ${id}: ${crlFailure}`);
          continue;
        }
      }
    }
    parts.crls.set(rec.id, entry);
    for (const info of entry.value) {
      const issuers = anchors.filter((a) => a.subjectNameDer.equals(info.issuerNameDer));
      let verified = false;
      for (const a of issuers) if (await crlSignedBy(info, a)) verified = true;
      if (issuers.length > 0 && !verified) {
        warnings.push(
          `institution ${id}: CRL ${rec.id} (issuer ${info.issuer}) is not signed by the registered CA of that name; it is ignored for that CA`,
        );
      }
      if (info.nextUpdate && info.nextUpdate < now) {
        warnings.push(
          `institution ${id}: CRL ${rec.id} (issuer ${info.issuer}) is past its nextUpdate ${info.nextUpdate.toISOString()}; its revocations still apply, upload a fresh CRL`,
        );
      }
      crls.push(info);
    }
  }
  cache.keep(id, parts);
  const cidrs: string[] = [];
  const blocks: ParsedCidr[] = [];
  for (const ip of t.ips) {
    try {
      const c = parseCidr(ip.cidr);
      blocks.push(c);
      cidrs.push(c.text);
    } catch (e) {
      warnings.push(
        `institution ${id}: IP entry "${ip.cidr}" is unreadable and is ignored (${toMtlsError(e).message})`,
      );
    }
  }
  const caHash = createHash('sha256')
    .update(
      anchors
        .map((a) => a.fingerprint)
        .sort()
        .join(','),
    )
    .digest('hex');
  return {
    id,
    name: t.institution.name,
    status: t.institution.status,
    requestRate: t.institution.requestRate,
    anchors,
    anchorFingerprints: new Set(anchors.map((a) => a.fingerprint)),
    caPems: anchors.map((a) => encodePem('CERTIFICATE', a.der)),
    caHash,
    crls,
    rules: [...t.rules],
    cidrs,
    blocks,
    crlFailure,
    warnings,
  };
}

/**
 * Assembles a snapshot from institution contexts and the IP index built from
 * their parsed blocks.
 */
function assemble(
  institutions: ReadonlyMap<string, InstitutionContext>,
  matcher: IpMatcher<string>,
  activeCount: number,
  changed: ReadonlySet<string> | null,
  registryVersion: number,
  generation: number,
  now: Date,
): TrustSnapshot {
  let warnings: string[] | undefined;
  return {
    generation,
    registryVersion,
    institutions,
    activeCount,
    changed,
    matcher,
    builtAt: now,
    // Only diagnostics read it, so a change of one institution does not pay
    // for gathering every institution's warnings.
    get warnings() {
      warnings ??= [...institutions.keys()]
        .sort()
        .flatMap((id) => institutions.get(id)?.warnings ?? []);
      return warnings;
    },
  };
}

/**
 * Builds the snapshot from the registry's trust data (every institution).
 * Unreadable chains are skipped with a warning (onboarding validates them
 * first; the gateway must still start and serve everyone else); an unreadable
 * CRL fails its institution closed unless an earlier parse of it is in `parseCache`.
 * @param parseCache - parses kept from earlier snapshots (default: none)
 */
export async function buildSnapshot(
  trust: InstitutionTrust[],
  registryVersion: number,
  generation: number,
  certCache = new CertInfoCache(),
  now = new Date(),
  parseCache = new TrustParseCache(),
): Promise<TrustSnapshot> {
  const institutions = new Map<string, InstitutionContext>();
  for (const t of trust)
    institutions.set(t.institution.id, await buildInstitution(t, certCache, parseCache, now));
  parseCache.retainOnly(new Set(institutions.keys()));
  const matcher = new IpMatcher<string>();
  let active = 0;
  for (const [id, inst] of institutions) {
    for (const b of inst.blocks) matcher.add(b, id);
    if (inst.status === 'active') active++;
  }
  return assemble(institutions, matcher, active, null, registryVersion, generation, now);
}

/**
 * Builds the next snapshot from `previous` by rebuilding only the named
 * institutions from `trust` (their current registry data; an id absent from
 * it was deleted). Every other institution is carried over as is, and the IP
 * index is derived from the previous one by taking out and putting back the
 * named institutions' blocks, so the work follows the change, not the
 * registry's size.
 */
export async function updateSnapshot(
  previous: TrustSnapshot,
  changedIds: ReadonlySet<string>,
  trust: InstitutionTrust[],
  registryVersion: number,
  generation: number,
  certCache = new CertInfoCache(),
  now = new Date(),
  parseCache = new TrustParseCache(),
): Promise<TrustSnapshot> {
  const institutions = new Map(previous.institutions);
  const matcher = previous.matcher.derive();
  let active = previous.activeCount;
  for (const id of changedIds) {
    const old = institutions.get(id);
    if (!old) continue;
    for (const b of old.blocks) matcher.remove(b, id);
    if (old.status === 'active') active--;
    institutions.delete(id);
  }
  for (const t of trust) {
    const id = t.institution.id;
    if (!changedIds.has(id)) continue;
    const inst = await buildInstitution(t, certCache, parseCache, now);
    // The same institution twice in `trust`: the later reading wins, as in buildSnapshot.
    const twice = institutions.get(id);
    if (twice) {
      for (const b of twice.blocks) matcher.remove(b, id);
      if (twice.status === 'active') active--;
    }
    institutions.set(id, inst);
    for (const b of inst.blocks) matcher.add(b, id);
    if (inst.status === 'active') active++;
  }
  for (const id of changedIds) if (!institutions.has(id)) parseCache.forget(id);
  return assemble(
    institutions,
    matcher,
    active,
    new Set(changedIds),
    registryVersion,
    generation,
    now,
  );
}

/**
 * The warnings of `snapshot` that `previous` did not have (all of them
 * without a previous snapshot). After an incremental update only the changed
 * institutions can have new ones, so only theirs are compared.
 */
export function newWarnings(snapshot: TrustSnapshot, previous: TrustSnapshot | null): string[] {
  if (!previous || snapshot.changed === null) {
    const old = new Set(previous?.warnings ?? []);
    return snapshot.warnings.filter((w) => !old.has(w));
  }
  const out: string[] = [];
  for (const id of [...snapshot.changed].sort()) {
    const old = new Set(previous.institutions.get(id)?.warnings ?? []);
    for (const w of snapshot.institutions.get(id)?.warnings ?? []) if (!old.has(w)) out.push(w);
  }
  return out;
}

/**
 * Checks (and caches) whether `crl` is signed by `issuer`.
 */
export function crlSignedBy(crl: CrlInfo, issuer: CertInfo): Promise<boolean> {
  let p = crl.verifiedBy.get(issuer.fingerprint);
  if (!p) {
    if (!crl.issuerNameDer.equals(issuer.subjectNameDer)) p = Promise.resolve(false);
    else
      p = crl.crl
        .verify({
          publicKey: new x509.PublicKey(issuer.publicKey.export({ format: 'der', type: 'spki' })),
        })
        .catch(() => false);
    crl.verifiedBy.set(issuer.fingerprint, p);
  }
  return p;
}

/** True when `cert` was issued by one of `anchors` (name and signature). */
export function issuedByAny(cert: CertInfo, anchors: readonly CertInfo[]): CertInfo | undefined {
  return anchors.find((a) => isIssuedBy(cert, a));
}

/**
 * The live registry view: the current snapshot, reloads on change, and the
 * per-institution TLS servers.
 */
export class TrustCache {
  private current: TrustSnapshot | null = null;
  private readonly servers = new Map<string, { caHash: string; tenant: TenantServer }>();
  /** Institution id → keys of the cached servers it is part of. */
  private readonly serverKeysOf = new Map<string, Set<string>>();
  private readonly certCache: CertInfoCache;
  private readonly parseCache: TrustParseCache;
  private readonly pollMs: number;
  private readonly maxStaleMs: number;
  private unsubscribe: (() => void) | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private staleTimer: NodeJS.Timeout | undefined;
  private reloading: Promise<void> | null = null;
  /** Reload everything on the next pass. */
  private pendingAll = false;
  /** Institutions to reload on the next pass. */
  private readonly pendingIds = new Set<string>();
  private closed = false;
  private lastError: MtlsError | null = null;
  /** Time of the first failure not yet followed by a successful reload. */
  private failingSince: number | null = null;
  private staleReported = false;
  /** The failures passed to `onError` in this outage, and when each was last. */
  private readonly reported = new Map<string, number>();
  private stopHeartbeat: (() => void) | undefined;
  /** A registry version the heartbeat found ahead of the snapshot with no reload under way. */
  private unannounced: number | null = null;
  /**
   * Lookups by source address against {@link memoOf}: an address's answer
   * depends only on the snapshot and the cached servers, and a busy client
   * reconnects from the same address, so the parse, the prefix walk and the
   * server key are computed once per snapshot, not once per connection.
   * Emptied when the snapshot or a cached server changes, and when full.
   */
  private readonly memo = new BoundedMemo<TrustLookup>(4096);
  private memoOf: TrustSnapshot | null = null;

  constructor(private readonly options: TrustCacheOptions) {
    this.certCache = options.certCache ?? new CertInfoCache();
    this.parseCache = options.parseCache ?? new TrustParseCache();
    this.pollMs = options.pollMs ?? 250;
    this.maxStaleMs = options.maxStaleMs ?? Math.max(5_000, 10 * this.pollMs);
  }

  /**
   * Loads the first snapshot, then follows the registry's change feed.
   * @throws whatever the registry throws on its first load (a corrupt file is reported at start)
   */
  async start(): Promise<TrustSnapshot> {
    await this.reloadNow();
    if (this.lastError) throw this.lastError;
    this.unsubscribe = this.options.registry.onChange(
      (change: RegistryChange) => this.requestReload(change.institutionId),
      (error: MtlsError) => this.fail(error),
    );
    this.stopHeartbeat = startRegistryHeartbeat({
      version: () => this.options.registry.version(),
      intervalMs: this.options.heartbeatMs ?? 1_000,
      timeoutMs: this.options.heartbeatTimeoutMs ?? Math.min(2_000, this.maxStaleMs / 2),
      onAnswer: (version) => this.heard(version),
      onFailure: (error, since) => this.fail(error, since),
    });
    return this.snapshot;
  }

  /** The snapshot in service (it may be stale: see {@link stale}). */
  get snapshot(): TrustSnapshot {
    if (!this.current) throw new MtlsError('MTLS_INTERNAL', 'the trust cache has not been started');
    return this.current;
  }

  /** The last reload or change-feed error, or null after a successful reload. */
  get error(): MtlsError | null {
    return this.lastError;
  }

  /** True when the registry has been unreadable for longer than the maximum staleness: lookups fail closed. */
  get stale(): boolean {
    return this.failingSince !== null && Date.now() - this.failingSince > this.maxStaleMs;
  }

  /** Stops following the registry. */
  stop(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.staleTimer) clearTimeout(this.staleTimer);
    this.unsubscribe?.();
    this.stopHeartbeat?.();
  }

  /** Drops every cached TLS server (after a server credential reload). */
  invalidateServers(): void {
    this.servers.clear();
    this.serverKeysOf.clear();
    this.memo.clear();
  }

  /**
   * Asks for a rebuild of one institution (or of everything for null);
   * coalesces with one already running.
   */
  requestReload(institutionId: string | null = null): void {
    if (this.closed) return;
    if (institutionId === null) this.pendingAll = true;
    else this.pendingIds.add(institutionId);
    if (!this.reloading) void this.runReloads();
  }

  /** Rebuilds everything now and resolves when the snapshot in service reflects the registry as read. */
  async reloadNow(): Promise<void> {
    this.pendingAll = true;
    // A pass already running may have taken its work before this call; wait
    // for it, then make sure a pass with the full reload has run.
    while (this.reloading) await this.reloading;
    // A no-op when the pass waited for already did the full reload.
    await this.runReloads();
  }

  private runReloads(): Promise<void> {
    if (this.reloading) return this.reloading;
    this.reloading = (async () => {
      // One registry poll reports every write it found, one change each, in
      // one go: let them all join this pass instead of the first one alone.
      await Promise.resolve();
      while (!this.closed && (this.pendingAll || this.pendingIds.size > 0 || !this.current)) {
        const all = this.pendingAll || !this.current;
        const ids = new Set(this.pendingIds);
        this.pendingAll = false;
        this.pendingIds.clear();
        try {
          const version = await this.options.registry.version();
          const previous = this.current;
          const generation = (previous?.generation ?? 0) + 1;
          let next: TrustSnapshot;
          if (all || !previous) {
            next = await buildSnapshot(
              await this.options.registry.loadTrust(),
              version,
              generation,
              this.certCache,
              new Date(),
              this.parseCache,
            );
          } else {
            const trust: InstitutionTrust[] = [];
            for (const id of ids) trust.push(...(await this.options.registry.loadTrust(id)));
            next = await updateSnapshot(
              previous,
              ids,
              trust,
              version,
              generation,
              this.certCache,
              new Date(),
              this.parseCache,
            );
          }
          this.current = next;
          this.recovered();
          this.pruneServers(next);
          this.options.onReload?.(next, previous);
        } catch (e) {
          // Retry everything this pass meant to do, after one poll period.
          if (all) this.pendingAll = true;
          for (const id of ids) this.pendingIds.add(id);
          this.fail(toMtlsError(e, 'MTLS_INTERNAL', 'registry reload failed'));
          if (!this.current) break;
          this.scheduleRetry();
          break;
        }
      }
    })().finally(() => {
      this.reloading = null;
      // A change reported after the loop last looked, but before this ran,
      // found a pass still "running" and only queued itself: run it now
      // (after a failure the retry timer does that instead).
      if (!this.closed && this.lastError === null && (this.pendingAll || this.pendingIds.size > 0))
        void this.runReloads();
    });
    return this.reloading;
  }

  /**
   * Records a failure: the snapshot is unconfirmed from `since` (now, or
   * when an unanswered heartbeat was asked), and a reload is retried.
   */
  private fail(error: MtlsError, since = Date.now()): void {
    this.lastError = error;
    // Retries run every poll period, and one outage fails in several ways at
    // once (the reload, the change feed, the heartbeat), each reported on
    // every retry: that would bury the log. Report each distinct failure
    // once in the outage, and again each minute while it lasts.
    const now = Date.now();
    const last = this.reported.get(error.message);
    if (last === undefined || now - last >= FAILURE_REMINDER_MS) {
      if (this.reported.size >= MAX_REPORTED_FAILURES) this.reported.clear();
      this.reported.set(error.message, now);
      this.options.onError?.(error);
    }
    if (this.closed || !this.current) return;
    if (this.failingSince === null) {
      this.failingSince = since;
      if (this.staleTimer) clearTimeout(this.staleTimer);
      this.staleTimer = setTimeout(
        () => this.checkStale(),
        Math.max(0, since + this.maxStaleMs + 1 - now),
      );
      this.staleTimer.unref();
    }
    this.pendingAll = true;
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.closed || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.closed && !this.reloading) void this.runReloads();
      else if (!this.closed) this.scheduleRetry();
    }, this.pollMs);
    this.retryTimer.unref();
  }

  /**
   * The heartbeat's answer: after a failure, the registry is back and a
   * reload confirms it; otherwise a version still ahead of the snapshot a
   * heartbeat after it was first seen, with no reload under way, is a change
   * the feed did not announce.
   */
  private heard(version: number): void {
    if (this.closed || !this.current) return;
    if (this.failingSince !== null) {
      this.requestReload(null);
      return;
    }
    const behind =
      version !== this.current.registryVersion &&
      !this.reloading &&
      !this.pendingAll &&
      this.pendingIds.size === 0;
    if (!behind) {
      this.unannounced = null;
      return;
    }
    if (this.unannounced !== version) {
      this.unannounced = version;
      return;
    }
    this.unannounced = null;
    this.options.onUnannounced?.(
      `registry version ${version} was not announced by the change feed (the snapshot in service has ${this.current.registryVersion}); reloading everything`,
    );
    this.requestReload(null);
  }

  private recovered(): void {
    this.lastError = null;
    this.reported.clear();
    this.failingSince = null;
    if (this.staleTimer) clearTimeout(this.staleTimer);
    this.staleTimer = undefined;
    if (this.staleReported) {
      this.staleReported = false;
      this.options.onStale?.(false, 'the registry is readable again; connections are accepted');
    }
  }

  /** Reports the move to the stale state once. */
  private checkStale(): boolean {
    const stale = this.stale;
    if (stale && !this.staleReported) {
      this.staleReported = true;
      this.options.onStale?.(true, this.staleDetail());
    }
    return stale;
  }

  private staleDetail(): string {
    const since =
      this.failingSince === null ? '' : ` since ${new Date(this.failingSince).toISOString()}`;
    return `the registry has been unreadable${since} (${this.lastError?.message ?? 'unknown error'}), longer than the ${this.maxStaleMs} ms the gateway may serve an unconfirmed trust snapshot; refusing connections (fail closed)`;
  }

  /**
   * Drops the cached servers whose institutions changed (their CAs or their
   * existence); after an incremental update only the servers of the changed
   * institutions are looked at. A server that survives is still checked
   * against the current CA hash at lookup.
   */
  private pruneServers(snapshot: TrustSnapshot): void {
    const keys =
      snapshot.changed === null
        ? [...this.servers.keys()]
        : [...snapshot.changed].flatMap((id) => [...(this.serverKeysOf.get(id) ?? [])]);
    for (const key of keys) {
      const entry = this.servers.get(key);
      if (!entry) continue;
      const hash = this.hashFor(key.split(','), snapshot);
      if (hash === null || hash !== entry.caHash) this.dropServer(key);
    }
  }

  private dropServer(key: string): void {
    this.servers.delete(key);
    this.memo.clear();
    for (const id of key.split(',')) {
      const keys = this.serverKeysOf.get(id);
      keys?.delete(key);
      if (keys?.size === 0) this.serverKeysOf.delete(id);
    }
  }

  private hashFor(ids: string[], snapshot: TrustSnapshot): string | null {
    const parts: string[] = [];
    for (const id of ids) {
      const inst = snapshot.institutions.get(id);
      if (!inst) return null;
      parts.push(inst.caHash);
    }
    return parts.join(',');
  }

  /**
   * Finds the institutions registered for a source address and the TLS
   * server trusting exactly the active ones' CAs. Answers `unavailable` while
   * the snapshot is too stale to trust.
   */
  lookup(remoteAddress: string): TrustLookup {
    const snapshot = this.snapshot;
    if (this.memoOf !== snapshot) {
      this.memo.clear();
      this.memoOf = snapshot;
    }
    const hit = this.memo.get(remoteAddress);
    // Staleness is a matter of the clock, never memoised.
    if (hit && (this.failingSince === null || !this.checkStale())) return hit;
    const found = this.findLookup(remoteAddress, snapshot);
    if (found.kind !== 'unavailable') this.memo.set(remoteAddress, found);
    return found;
  }

  /** {@link lookup} without the memo. */
  private findLookup(remoteAddress: string, snapshot: TrustSnapshot): TrustLookup {
    let ipText = remoteAddress;
    let ids: string[] = [];
    try {
      const ip = parseIp(remoteAddress);
      ipText = ip.text;
      ids = snapshot.matcher.match(ip);
    } catch {
      ids = [];
    }
    if (this.failingSince !== null && this.checkStale())
      return { kind: 'unavailable', ip: ipText, detail: this.staleDetail(), snapshot };
    if (ids.length === 0) return { kind: 'unregistered', ip: ipText, snapshot };
    // Sorted by id: the index lists an address's institutions in the order
    // they were added, which differs between a full build and updates.
    const all = ids
      .map((id) => snapshot.institutions.get(id))
      .filter((i): i is InstitutionContext => i !== undefined)
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const active = all.filter((i) => i.status === 'active');
    const suspended = all.filter((i) => i.status !== 'active');
    if (active.length === 0) return { kind: 'suspended', ip: ipText, suspended, snapshot };
    const key = active.map((i) => i.id).join(',');
    const caHash = active.map((i) => i.caHash).join(',');
    let entry = this.servers.get(key);
    if (!entry || entry.caHash !== caHash) {
      const caPems: string[] = [];
      const seen = new Set<string>();
      for (const inst of active) {
        inst.anchors.forEach((a, i) => {
          if (seen.has(a.fingerprint)) return;
          const pem = inst.caPems[i];
          if (pem === undefined)
            throw new MtlsError('MTLS_INTERNAL', `institution ${inst.id}: anchor ${i} has no PEM`);
          seen.add(a.fingerprint);
          caPems.push(pem);
        });
      }
      entry = { caHash, tenant: { key, server: this.options.serverFactory(caPems, key) } };
      this.servers.set(key, entry);
      for (const inst of active) {
        let keys = this.serverKeysOf.get(inst.id);
        if (!keys) this.serverKeysOf.set(inst.id, (keys = new Set()));
        keys.add(key);
      }
    }
    return { kind: 'tenant', ip: ipText, tenant: entry.tenant, active, suspended, snapshot };
  }

  /**
   * The lookup made when the connection was accepted, if it still holds (same
   * snapshot, not stale); otherwise a fresh one. Saves a second lookup per
   * connection while still seeing a registry change made during the handshake.
   */
  relookup(remoteAddress: string, earlier: TrustLookup | undefined): TrustLookup {
    if (
      earlier &&
      this.current &&
      earlier.snapshot.generation === this.current.generation &&
      (this.failingSince === null || !this.checkStale())
    )
      return earlier;
    return this.lookup(remoteAddress);
  }

  /** Parses certificates through the shared cache. */
  certInfo(der: Buffer): CertInfo {
    return this.certCache.get(der);
  }
}
