/**
 * Per-connection state: the policy decision taken after the handshake, and
 * its re-evaluation while the connection is kept alive, when the registry
 * changes or when time alone changes the answer.
 *
 * A decision is taken against one trust snapshot (its generation). When the
 * snapshot in service moves on, the next request on the connection (and every
 * request pipelined behind it) waits for one shared re-evaluation against the
 * new snapshot, so nothing is forwarded on a decision taken against an older
 * registry. A rejection is final; a registry too stale to trust refuses the
 * connection (fail closed).
 *
 * Time matters too: a CRL passing its nextUpdate (under `crl.stale`) or a
 * certificate passing its notAfter changes the decision with the registry
 * untouched. Each decision records the first such instant ahead of it
 * ({@link decisionExpiry}); the next request after it re-evaluates, exactly as
 * after a registry change. One comparison per request, no timer per connection.
 */
import tls from 'node:tls';
import { toMtlsError } from '../errors/index.js';
import { makeAuditRecord } from './audit.js';
import type { CertInfo } from './peer-cert.js';
import { evaluateConnection, type PolicyDecision, type PolicyOptions } from './policy.js';
import type { AuditRecord } from './registry/types.js';
import type { TrustCache, TrustLookup, TrustSnapshot } from './trust-cache.js';

/** What {@link ConnectionTracker} needs from the trust cache. */
export type ConnectionTrust = Pick<
  TrustCache,
  'lookup' | 'relookup' | 'snapshot' | 'stale' | 'certInfo'
>;

/** The state of one accepted TLS connection. */
export interface ConnectionState {
  /** The client address (after the PROXY protocol, when a trusted proxy sent one). */
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
  /**
   * Epoch ms after which time alone may change {@link decision} (see
   * {@link decisionExpiry}); Infinity when nothing ahead can.
   */
  recheckAt: number;
  tlsVersion: string | null;
  cipher: string | null;
  leafDer: Buffer | null;
  presentedDer: Buffer[];
}

/** What the handshake produced, read off the TLS socket. */
export interface HandshakeEvidence {
  ip: string;
  leafDer: Buffer | null;
  presentedDer: Buffer[];
  authorized: boolean;
  authorizationError: string | null;
  tlsVersion: string | null;
  cipher: string | null;
}

/**
 * The client certificate and the other certificates it sent, as DER. Read
 * through `getPeerX509Certificate()`, whose `issuerCertificate` links walk the
 * chain the client sent without `getPeerCertificate(true)`'s JS object per
 * certificate (subject, issuer, extensions and fingerprints decoded only to
 * be thrown away: about 6% of a new connection's CPU).
 */
export function peerCertificates(socket: tls.TLSSocket): {
  leafDer: Buffer | null;
  presentedDer: Buffer[];
} {
  const peer = socket.getPeerX509Certificate();
  if (!peer) return { leafDer: null, presentedDer: [] };
  const presentedDer: Buffer[] = [];
  let cur = peer.issuerCertificate;
  // A client that sends its certificate alone (the common case) costs no digest here.
  if (!cur) return { leafDer: peer.raw, presentedDer };
  const seen = new Set<string>([peer.fingerprint256]);
  for (let i = 0; cur && !seen.has(cur.fingerprint256) && i < 10; i++) {
    seen.add(cur.fingerprint256);
    presentedDer.push(cur.raw);
    cur = cur.issuerCertificate;
  }
  return { leafDer: peer.raw, presentedDer };
}

/** Widens a value Node's types declare as always set when at runtime it may not be. */
const maybeUnset = <T>(value: T): T | null | undefined => value;

/** Reads {@link HandshakeEvidence} off a socket whose handshake just completed. */
export function handshakeEvidence(socket: tls.TLSSocket, ip: string): HandshakeEvidence {
  const { leafDer, presentedDer } = peerCertificates(socket);
  // Both are typed as always set, but node:tls leaves authorizationError
  // unset on an authorized socket and getCipher() answers null once the handle
  // is gone: widened here so the checks stay.
  const authorizationError = maybeUnset(socket.authorizationError);
  const cipher = maybeUnset(socket.getCipher());
  return {
    ip,
    leafDer,
    presentedDer,
    authorized: socket.authorized,
    authorizationError: authorizationError ? String(authorizationError) : null,
    tlsVersion: socket.getProtocol(),
    cipher: cipher?.name ?? null,
  };
}

/**
 * The refusal a lookup implies on its own (registry unavailable, address no
 * longer registered, its institutions suspended), or null when the
 * certificate must be evaluated. `when` ends the operator detail
 * ("during the handshake", …).
 */
export function refusalForLookup(lookup: TrustLookup, when: string): PolicyDecision | null {
  const none = { outcome: 'rejected' as const, leaf: null, chain: [] };
  if (lookup.kind === 'unavailable')
    return { ...none, reason: 'registry_unavailable', detail: lookup.detail, institutionId: null };
  if (lookup.kind === 'unregistered')
    return {
      ...none,
      reason: 'ip_not_registered',
      detail: `the source IP was removed from the registry ${when}`,
      institutionId: null,
    };
  if (lookup.kind === 'suspended') {
    return {
      ...none,
      reason: 'institution_suspended',
      detail: `institution(s) ${lookup.suspended.map((i) => i.id).join(', ')} suspended ${when}`,
      institutionId: lookup.suspended.length === 1 ? (lookup.suspended[0]?.id ?? null) : null,
    };
  }
  return null;
}

/**
 * The last instant (epoch ms) at which an accepted decision still holds with
 * the registry unchanged: the earliest notAfter of the client certificate and
 * of the path above it, and the earliest nextUpdate among the institution's
 * CRLs, that is not behind `now` yet. The policy treats a time equal to these
 * bounds as still current (`nextUpdate < now` is stale), so the decision is
 * due for re-evaluation once the clock is strictly past the returned value.
 * Infinity for a rejection (final) or when nothing ahead can change it. Over-
 * approximating is safe: a re-evaluation that finds nothing new returns the
 * same decision.
 */
export function decisionExpiry(
  decision: PolicyDecision,
  snapshot: TrustSnapshot,
  now: number,
): number {
  if (decision.outcome !== 'accepted') return Infinity;
  let at = Infinity;
  const consider = (t: number): void => {
    if (t >= now && t < at) at = t;
  };
  if (decision.leaf) consider(decision.leaf.notAfter.getTime());
  for (const c of decision.chain) consider(c.notAfter.getTime());
  const inst =
    decision.institutionId === null ? undefined : snapshot.institutions.get(decision.institutionId);
  for (const crl of inst?.crls ?? []) if (crl.nextUpdate) consider(crl.nextUpdate.getTime());
  return at;
}

/** The `connection` audit record of an admitted (accepted or refused) connection. */
export function connectionAuditRecord(state: ConnectionState): AuditRecord {
  return makeAuditRecord({
    kind: 'connection',
    ip: state.ip,
    reason: state.decision.reason,
    outcome: state.decision.outcome,
    institutionId: state.decision.institutionId,
    cert: state.decision.leaf,
    tlsVersion: state.tlsVersion,
    cipher: state.cipher,
    detail: state.decision.detail,
  });
}

/** Options for {@link ConnectionTracker}. */
export interface ConnectionTrackerOptions {
  trust: ConnectionTrust;
  policy: PolicyOptions;
  /** The clock, in epoch ms (default `Date.now`; tests move it). */
  now?: () => number;
}

/** Decides connections after the handshake and keeps each decision current. */
export class ConnectionTracker {
  private readonly states = new WeakMap<object, ConnectionState>();
  private readonly now: () => number;

  constructor(private readonly options: ConnectionTrackerOptions) {
    this.now = options.now ?? ((): number => Date.now());
  }

  /**
   * Decides a connection whose handshake just completed, against the lookup
   * made on accept when it still holds (or a fresh one).
   */
  async admit(evidence: HandshakeEvidence, acceptLookup?: TrustLookup): Promise<ConnectionState> {
    const trust = this.options.trust;
    const now = this.now();
    const lookup = trust.relookup(evidence.ip, acceptLookup);
    const decision =
      refusalForLookup(lookup, 'during the handshake') ??
      (await evaluateConnection(
        {
          leafDer: evidence.leafDer,
          presentedDer: evidence.presentedDer,
          authorized: evidence.authorized,
          authorizationError: evidence.authorizationError,
          active: lookup.kind === 'tenant' ? lookup.active : [],
          suspended: lookup.kind === 'tenant' ? lookup.suspended : [],
          now: new Date(now),
        },
        this.options.policy,
        (der) => trust.certInfo(der),
      ));
    if (!decision.leaf && evidence.leafDer) {
      try {
        decision.leaf = trust.certInfo(evidence.leafDer);
      } catch {
        decision.leaf = null;
      }
    }
    return {
      ip: evidence.ip,
      decision,
      generation: lookup.snapshot.generation,
      pending: null,
      recheckAt: decisionExpiry(decision, lookup.snapshot, now),
      tlsVersion: evidence.tlsVersion,
      cipher: evidence.cipher,
      leafDer: evidence.leafDer,
      presentedDer: evidence.presentedDer,
    };
  }

  /** Binds a state to its socket (see {@link stateOf}). */
  attach(socket: object, state: ConnectionState): void {
    this.states.set(socket, state);
  }

  /** The state of an admitted socket, or undefined. */
  stateOf(socket: object): ConnectionState | undefined {
    return this.states.get(socket);
  }

  /**
   * The connection's decision as of the snapshot in service now: re-evaluated
   * once per registry change, and once the clock passes the decision's
   * {@link ConnectionState.recheckAt} (a rejection is final). Concurrent
   * callers share one evaluation, and the generation is recorded only after it
   * finished; a reload that lands while a caller waits is evaluated too.
   */
  async decisionNow(state: ConnectionState): Promise<PolicyDecision> {
    let decision = await this.current(state);
    while (decision.outcome === 'accepted' && this.due(state)) decision = await this.current(state);
    return decision;
  }

  /** True when the state's decision predates the snapshot in service or the clock. */
  private due(state: ConnectionState): boolean {
    return (
      state.generation !== this.options.trust.snapshot.generation || this.now() > state.recheckAt
    );
  }

  private async current(state: ConnectionState): Promise<PolicyDecision> {
    const trust = this.options.trust;
    for (;;) {
      if (state.pending) {
        await state.pending;
        continue;
      }
      const generation = trust.snapshot.generation;
      if (state.decision.outcome !== 'accepted' || !this.due(state) || trust.stale) {
        if (state.decision.outcome === 'accepted' && trust.stale) {
          state.decision = {
            ...state.decision,
            outcome: 'rejected',
            reason: 'registry_unavailable',
            detail: 'the registry is too stale to trust; refusing (fail closed)',
          };
        }
        return state.decision;
      }
      const now = this.now();
      state.pending = this.reevaluate(state, now).then(
        (decision) => {
          state.decision = decision;
          state.generation = generation;
          state.recheckAt = decisionExpiry(decision, trust.snapshot, now);
          return decision;
        },
        (e: unknown) => {
          // Fail closed: an evaluation that throws refuses the connection.
          const err = toMtlsError(e);
          state.decision = {
            ...state.decision,
            outcome: 'rejected',
            reason: 'bad_request',
            detail: `re-evaluation failed: ${err.message}`,
          };
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

  /** Re-evaluates an accepted connection against the snapshot in service and the clock at `now`. */
  private async reevaluate(state: ConnectionState, now: number): Promise<PolicyDecision> {
    const trust = this.options.trust;
    const lookup = trust.lookup(state.ip);
    if (lookup.kind === 'unavailable')
      return {
        ...state.decision,
        outcome: 'rejected',
        reason: 'registry_unavailable',
        detail: lookup.detail,
      };
    if (lookup.kind === 'unregistered')
      return {
        ...state.decision,
        outcome: 'rejected',
        reason: 'ip_not_registered',
        detail: 'the source IP was removed from the registry',
      };
    if (
      lookup.kind === 'suspended' &&
      lookup.suspended.some((i) => i.id === state.decision.institutionId)
    ) {
      return {
        ...state.decision,
        outcome: 'rejected',
        reason: 'institution_suspended',
        detail: `institution ${state.decision.institutionId} was suspended`,
      };
    }
    const next = await evaluateConnection(
      {
        leafDer: state.leafDer,
        presentedDer: state.presentedDer,
        authorized: true,
        authorizationError: null,
        active: lookup.kind === 'tenant' ? lookup.active : [],
        suspended: lookup.suspended,
        now: new Date(now),
      },
      this.options.policy,
      (der: Buffer): CertInfo => trust.certInfo(der),
    );
    if (next.outcome === 'accepted' && next.institutionId !== state.decision.institutionId) {
      return {
        ...next,
        outcome: 'rejected',
        reason: 'unknown_ca',
        detail: `the certificate now maps to ${next.institutionId}, not ${state.decision.institutionId}`,
      };
    }
    return next;
  }
}
