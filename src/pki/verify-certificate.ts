/**
 * Certificate path building and validation for one TLS purpose: a subset of
 * RFC 5280 §6, exact within what it checks, and made to agree with
 * `openssl verify -purpose sslclient|sslserver` on the accept/reject decision.
 *
 * Checked, for every certificate of the path:
 * - the signature, with the issuer's public key (RFC 5280 §6.1.3(a)(1));
 *   a trust anchor's own self-signature is not checked (§6.1.1(d));
 * - the validity period at the given time (§6.1.3(a)(2)), the trust anchor
 *   included, as OpenSSL does;
 * - issuer/subject name chaining (§6.1.3(a)(4)) and, when both are present,
 *   authorityKeyIdentifier against the issuer's subjectKeyIdentifier (§4.2.1.1);
 * - on issuers: basicConstraints cA TRUE (§6.1.4(k)), pathLenConstraint
 *   (§6.1.4(l)(m)), keyUsage keyCertSign when keyUsage is present (§6.1.4(n)),
 *   and, as OpenSSL does, an extendedKeyUsage that allows the purpose when
 *   the issuer carries one;
 * - unrecognised critical extensions are rejected (§4.2);
 * - on the end-entity certificate: not a CA, keyUsage for the purpose
 *   (client: digitalSignature, to sign CertificateVerify, RFC 5246 §7.4.8;
 *   server: digitalSignature or keyEncipherment, RFC 5246 §7.4.2), EKU for the
 *   purpose (§4.2.1.12; absent EKU means any purpose and is reported as a
 *   warning), and nsCertType when present (as OpenSSL does);
 * - the path ends at a self-signed certificate given as trusted.
 *
 * NOT checked: name constraints (§6.1.4(g)), certificate policies and policy
 * mappings (§6.1.3(d)–(f), §6.1.4(a)–(b)), revocation (CRL/OCSP, §6.3), and
 * the trust anchor's own self-signature. Where a certificate carries name
 * constraints or policy extensions, a warning says they were not evaluated.
 *
 * Deliberate differences from OpenSSL's default purpose checks: a CA
 * certificate as the end entity is refused (`leaf_is_ca`), a client
 * certificate whose keyUsage has only keyAgreement is refused, and
 * anyExtendedKeyUsage alone is refused unless `acceptAnyExtendedKeyUsage`
 * (OpenSSL 3.0 refuses it too).
 */
import type * as x509 from '@peculiar/x509';
import { certificatePublicKey, toNodeCertificate } from './certificate.js';
import { describeCertificate, type CertificateDescription } from './inspect/describe.js';
import type { ExtensionDescription } from './inspect/extensions.js';
import { EKU_OIDS } from './profile.js';

/** What the certificate will be used for. */
export type VerifyPurpose = 'client' | 'server';

/** Every reason a verification can fail (a closed set). */
export const VERIFY_REASONS = [
  'issuer_not_found',
  'untrusted_root',
  'signature_invalid',
  'expired',
  'not_yet_valid',
  'not_a_ca',
  'path_length_exceeded',
  'key_usage_missing',
  'eku_missing',
  'ns_cert_type_missing',
  'leaf_is_ca',
  'unhandled_critical_extension',
  'malformed_certificate',
  'path_too_long',
] as const;

/** Why a verification failed. */
export type VerifyReason = (typeof VERIFY_REASONS)[number];

/** Codes of non-fatal findings. */
export type VerifyWarningCode = 'eku_absent' | 'not_checked' | 'partial_chain';

/** One certificate of the path, as reported. */
export interface VerifiedCertificate {
  /** 0 for the end-entity certificate, increasing towards the trust anchor. */
  depth: number;
  /** OpenSSL text form (`C = BR, O = Acme, CN = x`). */
  subject: string;
  issuer: string;
  /** Upper-case hex. */
  serialNumber: string;
  fingerprintSha256: string;
  notBefore: string;
  notAfter: string;
  /** True when it came from the trusted set (`--ca`). */
  trusted: boolean;
}

/** One failed check. */
export interface VerifyFailure {
  reason: VerifyReason;
  /** What exactly failed, in words. */
  detail: string;
  certificate: VerifiedCertificate;
}

/** One non-fatal finding. */
export interface VerifyWarning {
  code: VerifyWarningCode;
  message: string;
  certificate: VerifiedCertificate;
}

/** Inputs for {@link verifyCertificate}. */
export interface VerifyCertificateOptions {
  /** The end-entity certificate to check. */
  certificate: x509.X509Certificate;
  /** Trusted certificates (`--ca`): the trust anchors, and any intermediates the caller trusts. */
  chain: x509.X509Certificate[];
  /** Untrusted intermediates (`--untrusted`), used only to build the path. Default none. */
  untrusted?: x509.X509Certificate[];
  purpose: VerifyPurpose;
  /** The time to check validity at. Default now. */
  at?: Date;
  /**
   * Accept a path that ends at a trusted certificate that is not self-signed
   * (OpenSSL's `-partial_chain`). Default false: the path must reach a
   * self-signed trusted root, as OpenSSL and Node's TLS require by default.
   */
  partialChain?: boolean;
  /**
   * Accept anyExtendedKeyUsage in place of the purpose's EKU. RFC 5280
   * §4.2.1.12 lets applications refuse it; OpenSSL 3.0 does. Default false.
   */
  acceptAnyExtendedKeyUsage?: boolean;
}

/** Fields both outcomes share. */
interface VerifyResultBase {
  purpose: VerifyPurpose;
  /** The time validity was checked at (ISO-8601). */
  at: string;
  /** The path that was built, leaf first (as far as it got). */
  path: VerifiedCertificate[];
  warnings: VerifyWarning[];
}

/** The outcome of {@link verifyCertificate}. */
export type VerifyResult =
  | (VerifyResultBase & { ok: true })
  | (VerifyResultBase & {
      ok: false;
      /** The first failure's reason. */
      reason: VerifyReason;
      detail: string;
      /** The certificate that failed first. */
      certificate: VerifiedCertificate;
      /** Every failed check on the chosen path, the first one first. */
      failures: VerifyFailure[];
    });

/** Critical extensions OpenSSL 3.0 recognises (X509_supported_extension); others are refused (RFC 5280 §4.2). */
const SUPPORTED_CRITICAL = new Set([
  '2.16.840.1.113730.1.1', // nsCertType
  '2.5.29.15', // keyUsage
  '2.5.29.17', // subjectAltName
  '2.5.29.19', // basicConstraints
  '2.5.29.32', // certificatePolicies
  '2.5.29.37', // extendedKeyUsage
  '2.5.29.36', // policyConstraints
  '2.5.29.30', // nameConstraints
  '2.5.29.33', // policyMappings
  '2.5.29.54', // inhibitAnyPolicy
  '2.5.29.31', // cRLDistributionPoints
  '1.3.6.1.5.5.7.48.1.5', // id-pkix-ocsp-nocheck
  '1.3.6.1.5.5.7.1.7', // RFC 3779 IP address blocks
  '1.3.6.1.5.5.7.1.8', // RFC 3779 AS identifiers
]);

/** Extensions this validator recognises but does not evaluate. */
const NOT_EVALUATED: Readonly<Record<string, string>> = {
  '2.5.29.30': 'name constraints',
  '2.5.29.32': 'certificate policies',
  '2.5.29.33': 'policy mappings',
  '2.5.29.36': 'policy constraints',
  '2.5.29.54': 'inhibitAnyPolicy',
  '1.3.6.1.5.5.7.1.7': 'RFC 3779 IP address blocks',
  '1.3.6.1.5.5.7.1.8': 'RFC 3779 AS identifiers',
};

/** Extensions whose value the checks depend on; a malformed one fails the certificate. */
const MUST_DECODE = new Set(['2.5.29.19', '2.5.29.15', '2.5.29.37', '2.16.840.1.113730.1.1', '2.5.29.14', '2.5.29.35']);

const MAX_DEPTH = 16;
const MAX_PATHS = 64;

interface Node {
  cert: x509.X509Certificate;
  desc: CertificateDescription;
  trusted: boolean;
  /** Canonical subject / issuer keys for name chaining. */
  subjectKey: string;
  issuerKey: string;
}

type Termination = 'anchored' | 'partial' | 'untrusted_root' | 'issuer_not_found' | 'path_too_long';

interface Candidate {
  nodes: Node[];
  end: Termination;
}

/** RFC 5280 §7.1 name comparison, simplified: case-insensitive, whitespace collapsed. */
function nameKey(dn: CertificateDescription['subject']['dn']): string {
  return JSON.stringify(dn.map((a) => [a.type, a.value.trim().replace(/\s+/g, ' ').toLowerCase()]));
}

function ext<K extends ExtensionDescription['kind']>(d: CertificateDescription, kind: K): Extract<ExtensionDescription, { kind: K }> | undefined {
  return d.extensions.find((e) => e.kind === kind) as Extract<ExtensionDescription, { kind: K }> | undefined;
}

function skiOf(d: CertificateDescription): string | undefined {
  return ext(d, 'subjectKeyIdentifier')?.keyIdentifier;
}

function signedBy(child: Node, issuer: Node, memo: Map<string, boolean>): boolean {
  const key = `${child.desc.fingerprints.sha256}>${issuer.desc.fingerprints.sha256}`;
  let v = memo.get(key);
  if (v === undefined) {
    try {
      v = toNodeCertificate(child.cert).verify(certificatePublicKey(issuer.cert));
    } catch {
      v = false;
    }
    memo.set(key, v);
  }
  return v;
}

/** Could `issuer` have issued `child`: names chain, and AKI/SKI agree when both are present (RFC 5280 §4.2.1.1). */
function mayHaveIssued(issuer: Node, child: Node): boolean {
  if (issuer.subjectKey !== child.issuerKey) return false;
  const aki = ext(child.desc, 'authorityKeyIdentifier');
  const ski = skiOf(issuer.desc);
  if (aki?.keyIdentifier && ski && aki.keyIdentifier !== ski) return false;
  if (aki?.authorityCertSerialNumber && aki.authorityCertSerialNumber.replace(/^0+/, '') !== issuer.desc.serialNumber.replace(/^0+/, '')) return false;
  return true;
}

function isSelfSigned(n: Node, memo: Map<string, boolean>): boolean {
  return n.subjectKey === n.issuerKey && mayHaveIssued(n, n) && signedBy(n, n, memo);
}

/**
 * True when a certificate is self-signed (a root, RFC 5280 §3.2): its issuer
 * name equals its subject (compared as this module compares names), its
 * authorityKeyIdentifier, when present, matches its own subjectKeyIdentifier,
 * and its signature verifies with its own public key. A certificate that
 * cannot be decoded counts as not self-signed.
 */
export function isSelfSignedCertificate(cert: x509.X509Certificate): boolean {
  try {
    const desc = describeCertificate(cert);
    return isSelfSigned({ cert, desc, trusted: false, subjectKey: nameKey(desc.subject.dn), issuerKey: nameKey(desc.issuer.dn) }, new Map());
  } catch {
    return false;
  }
}

function timeValid(n: Node, at: Date): boolean {
  return new Date(n.desc.notBefore) <= at && at <= new Date(n.desc.notAfter);
}

function ref(n: Node, depth: number): VerifiedCertificate {
  return {
    depth,
    subject: n.desc.subject.text,
    issuer: n.desc.issuer.text,
    serialNumber: n.desc.serialNumber,
    fingerprintSha256: n.desc.fingerprints.sha256,
    notBefore: n.desc.notBefore,
    notAfter: n.desc.notAfter,
    trusted: n.trusted,
  };
}

function purposeEku(purpose: VerifyPurpose): string {
  return purpose === 'client' ? (EKU_OIDS.clientAuth as string) : (EKU_OIDS.serverAuth as string);
}

function ekuAllows(d: CertificateDescription, purpose: VerifyPurpose, acceptAny: boolean): { present: boolean; ok: boolean; list: string } {
  const eku = ext(d, 'extendedKeyUsage');
  if (!eku) return { present: false, ok: true, list: '' };
  const oids = eku.purposes.map((p) => p.oid);
  const ok = oids.includes(purposeEku(purpose)) || (acceptAny && oids.includes(EKU_OIDS.anyExtendedKeyUsage as string));
  return { present: true, ok, list: eku.purposes.map((p) => p.name ?? p.oid).join(', ') };
}

/** Builds every candidate path (bounded), most promising first. */
function buildPaths(leaf: Node, pool: Node[], at: Date, partialChain: boolean, memo: Map<string, boolean>): Candidate[] {
  const out: Candidate[] = [];
  const walk = (path: Node[]): void => {
    if (out.length >= MAX_PATHS) return;
    const top = path[path.length - 1] as Node;
    if (path.length > MAX_DEPTH) {
      out.push({ nodes: path, end: 'path_too_long' });
      return;
    }
    const selfSigned = isSelfSigned(top, memo);
    if (selfSigned) {
      out.push({ nodes: path, end: top.trusted ? 'anchored' : 'untrusted_root' });
      return;
    }
    const used = new Set(path.map((n) => n.desc.fingerprints.sha256));
    const issuers = pool
      .filter((c) => !used.has(c.desc.fingerprints.sha256) && mayHaveIssued(c, top))
      .map((c) => ({ c, score: (c.trusted ? 4 : 0) + (signedBy(top, c, memo) ? 2 : 0) + (timeValid(c, at) ? 1 : 0) }))
      .sort((a, b) => b.score - a.score)
      .map((x) => x.c);
    if (issuers.length === 0) {
      out.push({ nodes: path, end: top.trusted && partialChain ? 'partial' : 'issuer_not_found' });
      return;
    }
    for (const c of issuers) walk([...path, c]);
    // A full path to a root is preferred; the partial one is the fallback.
    if (top.trusted && partialChain) out.push({ nodes: path, end: 'partial' });
  };
  walk([leaf]);
  return out;
}

function checkPath(p: Candidate, options: Required<Pick<VerifyCertificateOptions, 'purpose' | 'acceptAnyExtendedKeyUsage'>> & { at: Date }, memo: Map<string, boolean>): {
  failures: VerifyFailure[];
  warnings: VerifyWarning[];
} {
  const { purpose, at, acceptAnyExtendedKeyUsage: acceptAny } = options;
  const failures: VerifyFailure[] = [];
  const warnings: VerifyWarning[] = [];
  const nodes = p.nodes;
  const last = nodes.length - 1;
  const top = nodes[last] as Node;
  const fail = (reason: VerifyReason, i: number, detail: string): void => {
    failures.push({ reason, detail, certificate: ref(nodes[i] as Node, i) });
  };
  if (p.end === 'issuer_not_found') {
    fail('issuer_not_found', last, `no certificate in --ca or --untrusted issued "${top.desc.subject.text}" (its issuer is "${top.desc.issuer.text}")`);
  } else if (p.end === 'untrusted_root') {
    fail('untrusted_root', last, `the path ends at the self-signed "${top.desc.subject.text}", which is not among the trusted (--ca) certificates`);
  } else if (p.end === 'path_too_long') {
    fail('path_too_long', last, `no trust anchor was reached within ${MAX_DEPTH} certificates above "${(nodes[0] as Node).desc.subject.text}"`);
  } else if (p.end === 'partial') {
    warnings.push({ code: 'partial_chain', message: 'the path ends at a trusted certificate that is not self-signed (partial chain accepted)', certificate: ref(top, last) });
  }
  const anchored = p.end === 'anchored' || p.end === 'partial';
  // Non-self-issued intermediates seen so far, counted from the leaf upwards (RFC 5280 §6.1.4(l)).
  let intermediatesBelow = 0;
  nodes.forEach((n, i) => {
    const d = n.desc;
    const name = `"${d.subject.text}"`;
    for (const e of d.extensions) {
      if (e.kind === 'unknown' && e.error && MUST_DECODE.has(e.oid)) fail('malformed_certificate', i, `${name}: ${e.name} cannot be decoded (${e.error})`);
      if (e.critical && !SUPPORTED_CRITICAL.has(e.oid)) fail('unhandled_critical_extension', i, `${name} has the critical extension ${e.name}, which is not recognised (RFC 5280 §4.2)`);
      const skipped = NOT_EVALUATED[e.oid];
      if (skipped) warnings.push({ code: 'not_checked', message: `${name} has ${skipped}; they were not evaluated`, certificate: ref(n, i) });
    }
    if (at < new Date(d.notBefore)) fail('not_yet_valid', i, `${name} is not valid before ${d.notBefore} (checked at ${at.toISOString()})`);
    if (at > new Date(d.notAfter)) fail('expired', i, `${name} expired at ${d.notAfter} (checked at ${at.toISOString()})`);
    if (i < last && !signedBy(n, nodes[i + 1] as Node, memo)) {
      fail('signature_invalid', i, `the signature on ${name} does not verify with the public key of "${(nodes[i + 1] as Node).desc.subject.text}"`);
    }
    const bc = ext(d, 'basicConstraints');
    const ku = ext(d, 'keyUsage');
    const eku = ekuAllows(d, purpose, acceptAny);
    if (i === 0) {
      if (bc?.ca) {
        fail('leaf_is_ca', 0, `${name} is a CA certificate (basicConstraints CA:TRUE) and cannot be used as a ${purpose} certificate`);
      }
      const needed = purpose === 'client' ? ['digitalSignature'] : ['digitalSignature', 'keyEncipherment'];
      if (ku && !needed.some((u) => (ku.usages as string[]).includes(u))) {
        fail('key_usage_missing', 0, `${name} has keyUsage ${ku.usages.join(', ') || '(empty)'}, without ${needed.join(' or ')} needed for TLS ${purpose} authentication`);
      }
      if (!eku.present) {
        warnings.push({ code: 'eku_absent', message: `${name} has no extendedKeyUsage, which means any purpose (RFC 5280 §4.2.1.12); policies that require ${purpose === 'client' ? 'clientAuth' : 'serverAuth'} will refuse it`, certificate: ref(n, 0) });
      } else if (!eku.ok) {
        fail('eku_missing', 0, `${name} has extendedKeyUsage ${eku.list}, without ${purpose === 'client' ? 'clientAuth' : 'serverAuth'}`);
      }
      const ns = ext(d, 'nsCertType');
      const nsWanted = purpose === 'client' ? 'client' : 'server';
      if (ns && !(ns.types as string[]).includes(nsWanted)) {
        fail('ns_cert_type_missing', 0, `${name} has Netscape Cert Type ${ns.types.join(', ')}, without ${nsWanted}`);
      }
      return;
    }
    const isAnchor = i === last && anchored && n.trusted;
    if (!bc?.ca && !(isAnchor && d.version === 1)) {
      fail('not_a_ca', i, bc ? `${name} issued a certificate but has basicConstraints CA:FALSE` : `${name} issued a certificate but has no basicConstraints CA:TRUE (RFC 5280 §6.1.4(k))`);
    }
    if (ku && !ku.usages.includes('keyCertSign')) {
      fail('key_usage_missing', i, `${name} issued a certificate but its keyUsage (${ku.usages.join(', ') || 'empty'}) lacks keyCertSign (RFC 5280 §6.1.4(n))`);
    }
    if (bc?.ca && bc.pathLenConstraint !== undefined && intermediatesBelow > bc.pathLenConstraint) {
      fail('path_length_exceeded', i, `${name} allows ${bc.pathLenConstraint} intermediate CA certificate(s) below it (pathlen:${bc.pathLenConstraint}), the path has ${intermediatesBelow}`);
    }
    if (eku.present && !eku.ok) {
      fail('eku_missing', i, `the CA ${name} restricts its extendedKeyUsage to ${eku.list}, without ${purpose === 'client' ? 'clientAuth' : 'serverAuth'}`);
    }
    if (!d.selfIssued) intermediatesBelow++;
  });
  return { failures, warnings };
}

/**
 * Builds a path from the certificate to a trusted root and validates it for
 * a TLS purpose. Never throws for a verification failure: the result says
 * `ok: false` with a `reason` from {@link VERIFY_REASONS}.
 * @throws MTLS_DER_INVALID when a certificate cannot be decoded at all
 */
export function verifyCertificate(options: VerifyCertificateOptions): VerifyResult {
  const at = options.at ?? new Date();
  const memo = new Map<string, boolean>();
  const toNode = (cert: x509.X509Certificate, trusted: boolean): Node => {
    const desc = describeCertificate(cert);
    return { cert, desc, trusted, subjectKey: nameKey(desc.subject.dn), issuerKey: nameKey(desc.issuer.dn) };
  };
  const pool: Node[] = [];
  const seen = new Set<string>();
  for (const [list, trusted] of [
    [options.chain, true],
    [options.untrusted ?? [], false],
  ] as const) {
    for (const c of list) {
      const n = toNode(c, trusted);
      if (seen.has(n.desc.fingerprints.sha256)) continue;
      seen.add(n.desc.fingerprints.sha256);
      pool.push(n);
    }
  }
  const leafDesc = describeCertificate(options.certificate);
  const leaf = pool.find((n) => n.desc.fingerprints.sha256 === leafDesc.fingerprints.sha256) ?? toNode(options.certificate, false);
  const candidates = buildPaths(leaf, pool.filter((n) => n !== leaf), at, options.partialChain ?? false, memo);
  const checkOptions = { purpose: options.purpose, at, acceptAnyExtendedKeyUsage: options.acceptAnyExtendedKeyUsage ?? false };
  let best: { c: Candidate; failures: VerifyFailure[]; warnings: VerifyWarning[] } | undefined;
  for (const c of candidates) {
    const r = checkPath(c, checkOptions, memo);
    if (r.failures.length === 0) {
      return { ok: true, purpose: options.purpose, at: at.toISOString(), path: c.nodes.map(ref), warnings: dedupe(r.warnings) };
    }
    if (!best) best = { c, ...r };
  }
  const chosen = best as { c: Candidate; failures: VerifyFailure[]; warnings: VerifyWarning[] };
  const first = chosen.failures[0] as VerifyFailure;
  return {
    ok: false,
    purpose: options.purpose,
    at: at.toISOString(),
    reason: first.reason,
    detail: first.detail,
    certificate: first.certificate,
    failures: chosen.failures,
    path: chosen.c.nodes.map(ref),
    warnings: dedupe(chosen.warnings),
  };
}

function dedupe(ws: VerifyWarning[]): VerifyWarning[] {
  const seen = new Set<string>();
  return ws.filter((w) => {
    const k = `${w.code}|${w.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
