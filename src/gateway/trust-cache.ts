/**
 * The registry as the connection path sees it: an immutable snapshot (IP
 * index, parsed CA certificates, parsed CRLs, pinned rules per institution)
 * and a cache of per-institution `tls.Server`s built from it.
 *
 * The snapshot is rebuilt whenever the registry changes (its `onChange`
 * events, plus version polling as a safety net, so a change made by another
 * process applies within one poll period). Connections already accepted keep
 * the server they started on; new connections use the new snapshot.
 */
import { createHash } from 'node:crypto';
import type { Server as TlsServer } from 'node:tls';
import * as x509 from '@peculiar/x509';
import { MtlsError, toMtlsError } from '../errors/index.js';
import { parseCertificates } from '../pki/certificate.js';
import { parseCrls } from '../pki/crl.js';
import { encodePem } from '../pki/pem.js';
import { IpMatcher, parseCidr, parseIp } from './ip-match.js';
import { CertInfoCache, isIssuedBy, normalizeSerial, type CertInfo } from './peer-cert.js';
import type { InstitutionStatus, InstitutionTrust, PinnedRule, Registry } from './registry/types.js';

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
}

/** An immutable view of the registry. */
export interface TrustSnapshot {
  /** Increments with every rebuild. */
  generation: number;
  /** Registry version it was built from. */
  registryVersion: number;
  institutions: ReadonlyMap<string, InstitutionContext>;
  /** Source IP → institution ids. */
  matcher: IpMatcher<string>;
  builtAt: Date;
  /** Problems found while building (stale or unverifiable CRLs, unreadable entries). */
  warnings: string[];
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
  | { kind: 'tenant'; ip: string; tenant: TenantServer; active: InstitutionContext[]; suspended: InstitutionContext[]; snapshot: TrustSnapshot };

/** Builds a TLS server that trusts exactly `caPems` (the gateway supplies it). */
export type TenantServerFactory = (caPems: string[], key: string) => TlsServer;

/** Options for {@link TrustCache}. */
export interface TrustCacheOptions {
  registry: Registry;
  serverFactory: TenantServerFactory;
  /** Version polling period (default 250 ms). */
  pollMs?: number;
  /** Called after every successful rebuild. */
  onReload?: (snapshot: TrustSnapshot, previous: TrustSnapshot | null) => void;
  /** Called when a rebuild fails (the previous snapshot stays in service). */
  onError?: (error: MtlsError) => void;
  /** Shared certificate parse cache. */
  certCache?: CertInfoCache;
}

/**
 * Builds the snapshot from the registry's trust data.
 * Unreadable chains or CRLs are skipped with a warning (onboarding validates
 * them first; the gateway must still start and serve everyone else).
 */
export async function buildSnapshot(trust: InstitutionTrust[], registryVersion: number, generation: number, certCache = new CertInfoCache(), now = new Date()): Promise<TrustSnapshot> {
  const institutions = new Map<string, InstitutionContext>();
  const matcher = new IpMatcher<string>();
  const warnings: string[] = [];
  for (const t of trust) {
    const id = t.institution.id;
    const anchors: CertInfo[] = [];
    const seen = new Set<string>();
    for (const chain of t.chains) {
      let certs: x509.X509Certificate[];
      try {
        certs = parseCertificates(chain.pem, `CA chain ${chain.id} of ${id}`);
      } catch (e) {
        warnings.push(`institution ${id}: CA chain ${chain.id} is unreadable and is ignored (${toMtlsError(e).message})`);
        continue;
      }
      for (const c of certs) {
        const info = certCache.get(Buffer.from(c.rawData));
        if (seen.has(info.fingerprint)) continue;
        seen.add(info.fingerprint);
        anchors.push(info);
      }
    }
    const crls: CrlInfo[] = [];
    for (const rec of t.crls) {
      let parsed: x509.X509Crl[];
      try {
        parsed = parseCrls(rec.pem, `CRL ${rec.id} of ${id}`);
      } catch (e) {
        warnings.push(`institution ${id}: CRL ${rec.id} is unreadable and is ignored (${toMtlsError(e).message})`);
        continue;
      }
      for (const crl of parsed) {
        const info: CrlInfo = {
          id: rec.id,
          issuerNameDer: Buffer.from(crl.issuerName.toArrayBuffer()),
          issuer: crl.issuer,
          thisUpdate: crl.thisUpdate,
          nextUpdate: crl.nextUpdate ?? null,
          revoked: new Set(crl.entries.map((e) => normalizeSerial(e.serialNumber))),
          crl,
          verifiedBy: new Map(),
        };
        const issuers = anchors.filter((a) => a.subjectNameDer.equals(info.issuerNameDer));
        let verified = false;
        for (const a of issuers) {
          const p = crlSignedBy(info, a);
          if (await p) verified = true;
        }
        if (issuers.length > 0 && !verified) {
          warnings.push(`institution ${id}: CRL ${rec.id} (issuer ${info.issuer}) is not signed by the registered CA of that name; it is ignored for that CA`);
        }
        if (info.nextUpdate && info.nextUpdate < now) {
          warnings.push(`institution ${id}: CRL ${rec.id} (issuer ${info.issuer}) is past its nextUpdate ${info.nextUpdate.toISOString()}; its revocations still apply, upload a fresh CRL`);
        }
        crls.push(info);
      }
    }
    const cidrs: string[] = [];
    for (const ip of t.ips) {
      try {
        const c = parseCidr(ip.cidr);
        matcher.add(c, id);
        cidrs.push(c.text);
      } catch (e) {
        warnings.push(`institution ${id}: IP entry "${ip.cidr}" is unreadable and is ignored (${toMtlsError(e).message})`);
      }
    }
    const caHash = createHash('sha256')
      .update(anchors.map((a) => a.fingerprint).sort().join(','))
      .digest('hex');
    institutions.set(id, {
      id,
      name: t.institution.name,
      status: t.institution.status,
      anchors,
      anchorFingerprints: new Set(anchors.map((a) => a.fingerprint)),
      caPems: anchors.map((a) => encodePem('CERTIFICATE', a.der)),
      caHash,
      crls,
      rules: [...t.rules],
      cidrs,
    });
  }
  return { generation, registryVersion, institutions, matcher, builtAt: now, warnings };
}

/**
 * Checks (and caches) whether `crl` is signed by `issuer`.
 */
export function crlSignedBy(crl: CrlInfo, issuer: CertInfo): Promise<boolean> {
  let p = crl.verifiedBy.get(issuer.fingerprint);
  if (!p) {
    if (!crl.issuerNameDer.equals(issuer.subjectNameDer)) p = Promise.resolve(false);
    else p = crl.crl.verify({ publicKey: new x509.PublicKey(issuer.publicKey.export({ format: 'der', type: 'spki' })) }).catch(() => false);
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
  private readonly certCache: CertInfoCache;
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private reloading: Promise<void> | null = null;
  private again = false;
  private closed = false;
  private lastError: MtlsError | null = null;

  constructor(private readonly options: TrustCacheOptions) {
    this.certCache = options.certCache ?? new CertInfoCache();
  }

  /**
   * Loads the first snapshot, then follows changes.
   * @throws whatever the registry throws on its first load (a corrupt file is reported at start)
   */
  async start(): Promise<TrustSnapshot> {
    await this.reloadNow();
    if (this.lastError) throw this.lastError;
    this.unsubscribe = this.options.registry.onChange(() => this.requestReload());
    this.timer = setInterval(() => void this.poll(), this.options.pollMs ?? 250);
    this.timer.unref();
    return this.snapshot;
  }

  /** The snapshot in service. */
  get snapshot(): TrustSnapshot {
    if (!this.current) throw new MtlsError('MTLS_INTERNAL', 'the trust cache has not been started');
    return this.current;
  }

  /** The last reload error, or null after a successful reload. */
  get error(): MtlsError | null {
    return this.lastError;
  }

  /** Stops following the registry. */
  stop(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.unsubscribe?.();
  }

  /** Drops every cached TLS server (after a server credential reload). */
  invalidateServers(): void {
    this.servers.clear();
  }

  /** Asks for a rebuild; coalesces with one already running. */
  requestReload(): void {
    if (this.closed) return;
    if (this.reloading) {
      this.again = true;
      return;
    }
    void this.reloadNow();
  }

  /** Rebuilds now and resolves when the snapshot in service reflects the registry as read. */
  reloadNow(): Promise<void> {
    if (this.reloading) {
      this.again = true;
      return this.reloading;
    }
    this.reloading = (async () => {
      do {
        this.again = false;
        try {
          const version = await this.options.registry.version();
          const trust = await this.options.registry.loadTrust();
          const previous = this.current;
          const next = await buildSnapshot(trust, version, (previous?.generation ?? 0) + 1, this.certCache);
          this.current = next;
          this.lastError = null;
          this.pruneServers(next);
          this.options.onReload?.(next, previous);
        } catch (e) {
          this.lastError = toMtlsError(e, 'MTLS_INTERNAL', 'registry reload failed');
          this.options.onError?.(this.lastError);
        }
      } while (this.again && !this.closed);
    })().finally(() => {
      this.reloading = null;
    });
    return this.reloading;
  }

  private async poll(): Promise<void> {
    if (this.closed || this.reloading) return;
    try {
      const v = await this.options.registry.version();
      if (!this.current || v !== this.current.registryVersion || this.lastError) this.requestReload();
    } catch (e) {
      this.lastError = toMtlsError(e, 'MTLS_INTERNAL', 'registry version poll failed');
      this.options.onError?.(this.lastError);
    }
  }

  private pruneServers(snapshot: TrustSnapshot): void {
    for (const [key, entry] of this.servers) {
      const hash = this.hashFor(key.split(','), snapshot);
      if (hash === null || hash !== entry.caHash) this.servers.delete(key);
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
   * server trusting exactly the active ones' CAs.
   */
  lookup(remoteAddress: string): TrustLookup {
    const snapshot = this.snapshot;
    let ipText = remoteAddress;
    let ids: string[] = [];
    try {
      const ip = parseIp(remoteAddress);
      ipText = ip.text;
      ids = snapshot.matcher.match(ip);
    } catch {
      ids = [];
    }
    if (ids.length === 0) return { kind: 'unregistered', ip: ipText, snapshot };
    const all = ids.map((id) => snapshot.institutions.get(id)).filter((i): i is InstitutionContext => i !== undefined);
    const active = all.filter((i) => i.status === 'active').sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
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
          seen.add(a.fingerprint);
          caPems.push(inst.caPems[i] as string);
        });
      }
      entry = { caHash, tenant: { key, server: this.options.serverFactory(caPems, key) } };
      this.servers.set(key, entry);
    }
    return { kind: 'tenant', ip: ipText, tenant: entry.tenant, active, suspended, snapshot };
  }

  /** Parses certificates through the shared cache. */
  certInfo(der: Buffer): CertInfo {
    return this.certCache.get(der);
  }
}
