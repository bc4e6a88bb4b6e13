/**
 * The post-handshake decision: may this certificate, from this source IP,
 * talk to the upstream, and on behalf of which institution?
 *
 * OpenSSL has already verified the chain against the CAs of the institutions
 * registered for the source IP (`authorized` / `authorizationError`). On top
 * of that the gateway:
 * 1. attributes the certificate to exactly one institution by building the
 *    path from the leaf to a CA certificate that institution registered
 *    (issuer name, key identifiers, signature checked at every step, and
 *    every issuer a CA: basicConstraints CA:TRUE, §4.2.1.9, and keyCertSign
 *    when it has keyUsage, §4.2.1.3), so two institutions behind one NAT
 *    address can never pass as each other;
 * 2. refuses a CA certificate used as a client certificate (`ca_certificate`,
 *    RFC 5280 §4.2.1.9) and keys under the minimum size (`weak_key`, NIST
 *    SP 800-57 Part 1 §5.6.1) on the leaf and on every intermediate the
 *    client sent (registered CAs were checked at onboarding);
 * 3. requires the clientAuth extended key usage (RFC 5280 §4.2.1.12); a
 *    certificate without the extension, which RFC 5280 reads as "any purpose",
 *    is refused, and so is anyExtendedKeyUsage alone;
 * 4. checks every certificate on the path against the institution's CRLs
 *    (RFC 5280 §6.3), using only CRLs whose signature verifies with the
 *    issuing CA's key. Node's `crl` option is deliberately not used: it makes
 *    OpenSSL demand a CRL for every CA on the path of every institution that
 *    shares the TLS server, so one institution's CRL would break the others.
 *    A CRL past its nextUpdate still revokes
 *    what it lists; beyond that, the certificates it covers follow
 *    `crlStale` (refused with `crl_expired`, or accepted with that reason on
 *    the decision as an alarm). When a
 *    registered CRL cannot be read at all, revocation status is unknown and
 *    the institution's certificates are refused (`revoked`, with a detail
 *    saying the CRL is unreadable; fail closed);
 * 5. applies the institution's pinned rules, if it has any.
 */
import { PerObjectMemo } from './memo.js';
import { assertKeyStrength } from '../pki/keys.js';
import { EKU_OIDS } from '../pki/profile.js';
import { subjectValues, isIssuedBy, normalizeFingerprint, type CertInfo } from './peer-cert.js';
import type { AuditReason } from './registry/types.js';
import { crlSignedBy, type InstitutionContext } from './trust-cache.js';
import { errorMessage } from '../errors/mtls-error.js';

// EKU_OIDS is typed as a string record, but clientAuth is one of its fixed entries.
const CLIENT_AUTH = EKU_OIDS.clientAuth as string;
const MAX_PATH = 8;

/** Policy settings. */
export interface PolicyOptions {
  /** Smallest RSA key (default 2048). */
  minRsaBits?: number;
  /** Smallest EC field size (default 256). */
  minEcBits?: number;
  /**
   * A certificate whose issuer's CRL is past its nextUpdate: refused with
   * `crl_expired` (`fail_closed`, the default), or accepted with reason
   * `crl_expired` on the decision (`fail_open_with_alarm`).
   */
  crlStale?: 'fail_closed' | 'fail_open_with_alarm';
}

/** What the handshake produced, plus the institutions registered for the source IP. */
export interface ConnectionEvidence {
  /** The client certificate (DER), or null when the client sent none. */
  leafDer: Buffer | null;
  /** Other certificates the client sent (DER, any order). */
  presentedDer: Buffer[];
  /** OpenSSL's verdict against the trusted CAs. */
  authorized: boolean;
  /** OpenSSL's reason when not authorized (e.g. `CERT_HAS_EXPIRED`). */
  authorizationError: string | null;
  /** Active institutions registered for the source IP. */
  active: readonly InstitutionContext[];
  /** Suspended institutions registered for the source IP. */
  suspended: readonly InstitutionContext[];
  /** Evaluation time (default now). */
  now?: Date;
}

/** The decision. */
export interface PolicyDecision {
  outcome: 'accepted' | 'rejected';
  reason: AuditReason;
  /** Operator-only explanation; never sent to the client. */
  detail: string | null;
  /** The institution the certificate belongs to (or the only candidate for the IP, on a rejection). */
  institutionId: string | null;
  /** The parsed client certificate, when one was sent and readable. */
  leaf: CertInfo | null;
  /** The validated path above the leaf, issuer first (for Client-Cert-Chain). */
  chain: CertInfo[];
}

/**
 * Maps OpenSSL's verification error (as node:tls reports it in
 * `authorizationError`) to a reason code.
 */
export function mapAuthorizationError(code: string | null | undefined): AuditReason {
  switch (code) {
    case 'CERT_HAS_EXPIRED':
    case 'CRL_HAS_EXPIRED':
      return 'expired';
    case 'CERT_NOT_YET_VALID':
    case 'CRL_NOT_YET_VALID':
      return 'not_yet_valid';
    case 'CERT_REVOKED':
      return 'revoked';
    case 'INVALID_PURPOSE':
      return 'eku_missing';
    case 'EE_KEY_TOO_SMALL':
    case 'CA_KEY_TOO_SMALL':
      return 'weak_key';
    case 'CA_MD_TOO_WEAK':
    case 'CERT_SIGNATURE_FAILURE':
    case 'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY':
      return 'bad_certificate';
    default:
      return 'unknown_ca';
  }
}

/**
 * Builds the path from `leaf` up to a certificate `inst` registered, using the
 * institution's certificates first and the client's own intermediates only
 * below the first registered one. Above it the path continues through the
 * institution's certificates (for revocation checks of registered
 * intermediates).
 * @returns the path above the leaf (issuer first), or null when it never reaches the institution
 */
export function buildInstitutionPath(
  leaf: CertInfo,
  presented: readonly CertInfo[],
  inst: InstitutionContext,
): CertInfo[] | null {
  const path: CertInfo[] = [];
  let cur = leaf;
  let anchored = false;
  const used = new Set<string>([leaf.fingerprint]);
  for (let depth = 0; depth < MAX_PATH; depth++) {
    if (cur !== leaf && inst.anchorFingerprints.has(cur.fingerprint)) anchored = true;
    if (cur.selfIssued && isIssuedBy(cur, cur)) break;
    // Only a CA may issue (RFC 5280 §6.1.4 (k)); keyCertSign is part of isIssuedBy.
    const issuer =
      inst.anchors.find((a) => !used.has(a.fingerprint) && a.isCa && isIssuedBy(cur, a)) ??
      (anchored
        ? undefined
        : presented.find((p) => !used.has(p.fingerprint) && p.isCa && isIssuedBy(cur, p)));
    if (!issuer) break;
    used.add(issuer.fingerprint);
    path.push(issuer);
    cur = issuer;
  }
  if (!anchored && inst.anchorFingerprints.has(cur.fingerprint) && cur !== leaf) anchored = true;
  return anchored ? path : null;
}

function reject(
  reason: AuditReason,
  detail: string,
  institutionId: string | null,
  leaf: CertInfo | null,
  chain: CertInfo[] = [],
): PolicyDecision {
  return { outcome: 'rejected', reason, detail, institutionId, leaf, chain };
}

function describe(c: CertInfo): string {
  return `"${c.subject}" (serial ${c.serial})`;
}

/**
 * Key-strength verdicts by certificate, then by role and policy: a
 * certificate's key never changes, and a client that connects per request
 * presents the same certificate every time.
 */
const keyVerdicts = new PerObjectMemo<CertInfo, string | null>();

/**
 * Why a certificate's key is too weak for the policy (the message of
 * `assertKeyStrength`), or null when it is strong enough; remembered per
 * certificate, role and policy.
 */
function keyWeakness(
  cert: CertInfo,
  isLeaf: boolean,
  policy: { minRsaBits?: number; minEcBits?: number },
): string | null {
  const key = `${isLeaf ? 'leaf' : 'sent'}|${policy.minRsaBits ?? ''}|${policy.minEcBits ?? ''}`;
  return keyVerdicts.get(cert, key, () => {
    try {
      assertKeyStrength(
        cert.publicKey,
        `${isLeaf ? 'client certificate' : 'intermediate CA certificate the client sent'} ${describe(cert)}`,
        policy,
      );
      return null;
    } catch (e) {
      return errorMessage(e);
    }
  });
}

/**
 * Decides a connection. Pure apart from CRL signature checks (cached).
 * @param certInfo - parses DER (use the trust cache's shared parser)
 */
export async function evaluateConnection(
  evidence: ConnectionEvidence,
  options: PolicyOptions,
  certInfo: (der: Buffer) => CertInfo,
): Promise<PolicyDecision> {
  const now = evidence.now ?? new Date();
  const candidates = [...evidence.active, ...evidence.suspended];
  const soleCandidate = candidates.length === 1 ? (candidates[0]?.id ?? null) : null;
  if (!evidence.leafDer || evidence.leafDer.length === 0) {
    return reject(
      'no_client_cert',
      'the client sent no certificate (empty Certificate message, RFC 5246 §7.4.6)',
      soleCandidate,
      null,
    );
  }
  let leaf: CertInfo;
  const presented: CertInfo[] = [];
  try {
    leaf = certInfo(evidence.leafDer);
  } catch (e) {
    return reject(
      'bad_certificate',
      `the client certificate cannot be parsed: ${errorMessage(e)}`,
      soleCandidate,
      null,
    );
  }
  for (const der of evidence.presentedDer) {
    try {
      const info = certInfo(der);
      if (info.fingerprint !== leaf.fingerprint) presented.push(info);
    } catch {
      // A certificate the client sent but we cannot parse cannot be on a path we build.
    }
  }

  const matches: Array<{ inst: InstitutionContext; path: CertInfo[] }> = [];
  for (const inst of evidence.active) {
    const path = buildInstitutionPath(leaf, presented, inst);
    if (path) matches.push({ inst, path });
  }
  const [match] = matches;
  if (!match) {
    // An institution's own registered CA certificate, presented as the
    // client certificate: no path leads from an anchor to itself, but the
    // fault to report is the misuse, with the institution it belongs to.
    const owner = leaf.isCa
      ? evidence.active.find((i) => i.anchorFingerprints.has(leaf.fingerprint))
      : undefined;
    if (owner) {
      return reject(
        'ca_certificate',
        `the client certificate ${describe(leaf)} is the CA certificate institution ${owner.id} registered (basicConstraints CA:TRUE); issue a client certificate from it instead`,
        owner.id,
        leaf,
      );
    }
    for (const inst of evidence.suspended) {
      if (buildInstitutionPath(leaf, presented, inst)) {
        return reject(
          'institution_suspended',
          `the certificate ${describe(leaf)} belongs to suspended institution ${inst.id}`,
          inst.id,
          leaf,
        );
      }
    }
    const ids = evidence.active.map((i) => i.id).join(', ') || '(none)';
    const openssl = evidence.authorizationError ? `OpenSSL: ${evidence.authorizationError}; ` : '';
    return reject(
      'unknown_ca',
      `${openssl}the certificate ${describe(leaf)} issued by "${leaf.issuer}" does not chain to a CA registered for ${ids}`,
      soleCandidate,
      leaf,
    );
  }
  if (matches.length > 1) {
    return reject(
      'unknown_ca',
      `the certificate ${describe(leaf)} chains to CAs of several institutions sharing this IP (${matches.map((m) => m.inst.id).join(', ')}); refusing to guess`,
      null,
      leaf,
    );
  }
  const { inst, path } = match;
  for (const c of [leaf, ...path]) {
    if (c.notAfter < now)
      return reject(
        'expired',
        `${c === leaf ? 'the client certificate' : 'CA certificate'} ${describe(c)} expired at ${c.notAfter.toISOString()}`,
        inst.id,
        leaf,
        path,
      );
    if (c.notBefore > now) {
      return reject(
        'not_yet_valid',
        `${c === leaf ? 'the client certificate' : 'CA certificate'} ${describe(c)} is valid only from ${c.notBefore.toISOString()}`,
        inst.id,
        leaf,
        path,
      );
    }
  }
  if (!evidence.authorized) {
    const reason = mapAuthorizationError(evidence.authorizationError);
    return reject(
      reason,
      `OpenSSL refused the chain of ${describe(leaf)}: ${evidence.authorizationError ?? 'no reason given'}`,
      inst.id,
      leaf,
      path,
    );
  }
  if (leaf.isCa) {
    return reject(
      'ca_certificate',
      `the client certificate ${describe(leaf)} is a CA certificate (basicConstraints CA:TRUE); issue a client certificate instead`,
      inst.id,
      leaf,
      path,
    );
  }
  const keyPolicy = {
    ...(options.minRsaBits !== undefined ? { minRsaBits: options.minRsaBits } : {}),
    ...(options.minEcBits !== undefined ? { minEcBits: options.minEcBits } : {}),
  };
  for (const c of [leaf, ...path]) {
    if (c !== leaf && inst.anchorFingerprints.has(c.fingerprint)) continue;
    const weak = keyWeakness(c, c === leaf, keyPolicy);
    if (weak !== null) return reject('weak_key', weak, inst.id, leaf, path);
  }
  if (!leaf.ekus || !leaf.ekus.includes(CLIENT_AUTH)) {
    const has = leaf.ekus
      ? `extendedKeyUsage is ${leaf.ekus.join(', ') || 'empty'}`
      : 'there is no extendedKeyUsage extension';
    return reject(
      'eku_missing',
      `the client certificate ${describe(leaf)} lacks the clientAuth EKU (${CLIENT_AUTH}); ${has}`,
      inst.id,
      leaf,
      path,
    );
  }
  if (inst.crlFailure)
    return reject(
      'revoked',
      `revocation status of ${describe(leaf)} is unknown: ${inst.crlFailure}`,
      inst.id,
      leaf,
      path,
    );
  const full = [leaf, ...path];
  let staleCrl: string | null = null;
  for (const [i, cert] of full.entries()) {
    const issuer = full[i + 1];
    if (!issuer) break;
    let fresh = false;
    let stale: string | null = null;
    for (const crl of inst.crls) {
      if (!crl.issuerNameDer.equals(cert.issuerNameDer)) continue;
      if (!(await crlSignedBy(crl, issuer))) continue;
      if (crl.revoked.has(cert.serial)) {
        return reject(
          'revoked',
          `${cert === leaf ? 'the client certificate' : 'CA certificate'} ${describe(cert)} is revoked by CRL ${crl.id} of ${inst.id} (issuer ${crl.issuer})`,
          inst.id,
          leaf,
          path,
        );
      }
      if (crl.nextUpdate && crl.nextUpdate < now)
        stale ??= `CRL ${crl.id} of ${inst.id} (issuer ${crl.issuer}) is past its nextUpdate ${crl.nextUpdate.toISOString()}`;
      else fresh = true;
    }
    // Undetermined only when no current CRL covers this issuer (RFC 5280 §6.3.3).
    if (!fresh && stale && !staleCrl) staleCrl = stale;
  }
  if (staleCrl && options.crlStale !== 'fail_open_with_alarm') {
    return reject(
      'crl_expired',
      `revocation status of ${describe(leaf)} is undetermined: ${staleCrl} (crl.stale: fail_closed)`,
      inst.id,
      leaf,
      path,
    );
  }
  if (inst.rules.length > 0) {
    const cns = subjectValues(leaf, 'CN');
    const os = subjectValues(leaf, 'O');
    const ok = inst.rules.some((r) =>
      r.kind === 'subject_cn'
        ? cns.includes(r.value)
        : r.kind === 'subject_o'
          ? os.includes(r.value)
          : normalizeFingerprint(r.value) === leaf.fingerprint,
    );
    if (!ok) {
      return reject(
        'pinned_rule_mismatch',
        `the client certificate ${describe(leaf)} matches none of the ${inst.rules.length} pinned rule(s) of ${inst.id}`,
        inst.id,
        leaf,
        path,
      );
    }
  }
  if (staleCrl) {
    return {
      outcome: 'accepted',
      reason: 'crl_expired',
      detail: `accepted under crl.stale: fail_open_with_alarm; ${staleCrl}`,
      institutionId: inst.id,
      leaf,
      chain: path,
    };
  }
  return {
    outcome: 'accepted',
    reason: 'ok',
    detail: null,
    institutionId: inst.id,
    leaf,
    chain: path,
  };
}
