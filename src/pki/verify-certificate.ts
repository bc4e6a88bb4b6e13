/**
 * Certificate path validation for one TLS purpose: RFC 5280 §6, exact rather
 * than permissive, with pyca/cryptography's validator as the strictness model.
 *
 * - Path building tries every candidate issuer (name chaining and, when both
 *   are present, AKI/SKI agreement), backtracking when a path fails, so
 *   cross-signs, bundles out of order and loops are handled; the work is
 *   bounded ({@link MAX_PATH_WORK}) and each certificate (and each
 *   subject + key pair) appears once per path.
 * - Each path is checked as §6.1 describes: signatures (§6.1.3(a)(1)),
 *   validity at the given time, to the second (§6.1.3(a)(2)), basicConstraints
 *   and pathLenConstraint (§6.1.4(k)–(m)), keyUsage (§6.1.4(n)), name
 *   constraints (§6.1.3(b)–(c), §6.1.4(g)), unknown critical extensions
 *   (§6.1.4(o)), and the profile rules of ./verify/structure.ts.
 * - Optionally: revocation by the given CRLs (§6.3), the reference identity
 *   (RFC 9525), and a maximum number of intermediates.
 *
 * Not evaluated: certificate policies (§6.1.3(d)–(f), §6.1.4(a)–(j)); a
 * warning says so when a certificate carries them. OCSP is not consulted.
 */
import type * as x509 from '@peculiar/x509';
import { EKU_OIDS } from './profile.js';
import { ekuOid } from './eku-oid.js';
import { checkPublicKey, verifySignature, type AcceptedKey } from './verify/algorithms.js';
import { CRL_REASONS, parseCrlDer, type ParsedCrl } from './verify/crl-check.js';
import { nameText } from './verify/distinguished-name.js';
import { EXT, type KeyUsageBit } from './verify/extensions.js';
import { matchesReferenceName, parseReferenceName } from './verify/host-name.js';
import { crlScopeMismatch } from './verify/distribution-points.js';
import { checkNameConstraints, constrainedNames } from './verify/name-constraints.js';
import {
  parseCertificateDer,
  serialHex,
  type ParsedCertificate,
} from './verify/parse-certificate.js';
import { VERIFY_REASONS, VERIFY_REASON_TEXT, type VerifyReason } from './verify/reasons.js';
import { checkStructure, type CertificateRole } from './verify/structure.js';
import { MtlsError, errorMessage } from '../errors/mtls-error.js';

export { VERIFY_REASONS, VERIFY_REASON_TEXT, type VerifyReason };

/** What the certificate will be used for; `any` skips the keyUsage/EKU purpose checks on the leaf. */
export type VerifyPurpose = 'client' | 'server' | 'any';

/** Codes of non-fatal findings. */
export type VerifyWarningCode =
  'eku_absent' | 'not_checked' | 'partial_chain' | 'no_crl' | 'undecodable';

/** One certificate of the path, as reported. */
export interface VerifiedCertificate {
  /** 0 for the end-entity certificate, increasing towards the trust anchor. */
  depth: number;
  /** Display form (`C=BR, O=Acme, CN=x`). */
  subject: string;
  issuer: string;
  /** Upper-case hex. */
  serialNumber: string;
  fingerprintSha256: string;
  notBefore: string;
  notAfter: string;
  /** True when it came from the trusted set (`--ca-file` in the CLI). */
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
  /** The end-entity certificate to check (parsed, or DER). */
  certificate: x509.X509Certificate | Uint8Array;
  /** Trusted certificates (`--ca-file` in the CLI): the trust anchors, and any intermediates the caller trusts. */
  chain: (x509.X509Certificate | Uint8Array)[];
  /** Untrusted intermediates (`--untrusted`), used only to build the path. Default none. */
  untrusted?: (x509.X509Certificate | Uint8Array)[];
  purpose: VerifyPurpose;
  /** The time to check validity at; compared to the second (RFC 5280 times have no fractions). Default now. */
  at?: Date;
  /** Accept a path that ends at a trusted certificate that is not self-signed (`-partial_chain`). Default false. */
  partialChain?: boolean;
  /** Accept anyExtendedKeyUsage in place of the purpose's EKU (RFC 5280 §4.2.1.12 lets applications refuse it). Default false. */
  acceptAnyExtendedKeyUsage?: boolean;
  /** DER CRLs (`--crl`). A certificate whose issuer has a CRL here is checked against it. Default none. */
  crls?: Uint8Array[];
  /** Reference identity (`--name`): a DNS name, IP address or email address the leaf's SAN must match (RFC 9525). */
  name?: string;
  /** The largest number of intermediate CA certificates, self-issued ones not counted. Default {@link DEFAULT_MAX_DEPTH}. */
  maxDepth?: number;
}

/** Fields both outcomes share. */
interface VerifyResultBase {
  purpose: VerifyPurpose;
  /** The time validity was checked at (ISO-8601). */
  at: string;
  /** The path that was built, leaf first (as far as it got). */
  chain: VerifiedCertificate[];
  /** The same as `chain` (kept for existing callers). */
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

/** Default `maxDepth`: intermediates allowed (pyca/cryptography's default). */
export const DEFAULT_MAX_DEPTH = 8;
/** Path-building work budget: candidate issuer checks over the whole search. */
export const MAX_PATH_WORK = 2000;

interface Node {
  cert: ParsedCertificate;
  trusted: boolean;
  /** The accepted public key, or why it is not. */
  key: { ok: true; key: AcceptedKey } | { ok: false; reason: VerifyReason; detail: string };
}

/** A path and its failures (none when valid). */
interface BuildOutcome {
  path: Node[];
  failures: VerifyFailure[];
}

type Walk = (path: Node[], intermediates: number) => BuildOutcome | undefined;

/** Node `i` of a path or candidate list the caller knows to be that long; a miss is a bug. */
function nodeAt(nodes: readonly Node[], i: number): Node {
  const n = nodes[i];
  if (!n)
    throw new MtlsError('MTLS_INTERNAL', `position ${i} is outside a path of ${nodes.length}`);
  return n;
}

/** The top of a path (its last node); paths start with the leaf and only grow. */
const topOf = (path: readonly Node[]): Node => nodeAt(path, path.length - 1);

class Verifier {
  private readonly sigMemo = new Map<string, ReturnType<typeof verifySignature>>();
  private work = 0;
  private best: BuildOutcome | undefined;
  readonly warnings: VerifyWarning[] = [];

  constructor(
    private readonly options: VerifyCertificateOptions,
    private readonly at: Date,
    private readonly pool: Node[],
    private readonly crls: ParsedCrl[],
  ) {}

  signedBy(child: Node, issuer: Node): ReturnType<typeof verifySignature> {
    const k = `${child.cert.fingerprint}>${issuer.cert.fingerprint}`;
    let v = this.sigMemo.get(k);
    if (!v) {
      v = issuer.key.ok
        ? verifySignature(
            child.cert.tbs,
            child.cert.signature,
            child.cert.signatureAlgorithm,
            issuer.key.key,
          )
        : {
            ok: false,
            reason: 'signature_invalid',
            detail: `the issuer's key is not usable (${issuer.key.detail})`,
          };
      this.sigMemo.set(k, v);
    }
    return v;
  }

  selfSigned(n: Node): boolean {
    if (n.cert.subject.key !== n.cert.issuer.key || !this.mayHaveIssued(n, n)) return false;
    const s = this.signedBy(n, n);
    // A trust anchor is its name and key (§6.1.1(d)); its self-signature is never relied on,
    // so an old root self-signed with SHA-1 still anchors paths.
    return s.ok || (n.trusted && s.reason === 'weak_algorithm');
  }

  /** Name chaining, and AKI keyIdentifier against SKI when both are present (§4.2.1.1). */
  mayHaveIssued(issuer: Node, child: Node): boolean {
    if (issuer.cert.subject.key !== child.cert.issuer.key) return false;
    const aki = child.cert.ext.authorityKeyIdentifier?.keyIdentifier;
    const ski = issuer.cert.ext.subjectKeyIdentifier;
    return !(aki && ski && !aki.equals(ski));
  }

  /** Depth-first search over candidate issuers; returns the first valid path, or the most informative failure. */
  build(leaf: Node): BuildOutcome {
    const consider = (path: Node[], failures: VerifyFailure[]): void =>
      this.consider(path, failures);
    const walk: Walk = (path, intermediates) => {
      const top = topOf(path);
      const topSelfSigned = this.selfSigned(top);
      if (top.trusted && topSelfSigned) {
        const failures = this.validate(path);
        if (failures.length === 0) return { path, failures };
        consider(path, failures);
        return undefined;
      }
      if (top.trusted && this.options.partialChain) {
        // A full path to a root is preferred; ending at this trusted certificate is the fallback.
        const upwards = topSelfSigned ? undefined : this.extend(path, intermediates, walk);
        if (upwards) return upwards;
        const failures = this.validate(path);
        if (failures.length === 0) {
          this.warnings.push({
            code: 'partial_chain',
            message:
              'the path ends at a trusted certificate that is not self-signed (partial chain accepted)',
            certificate: ref(top, path.length - 1),
          });
          return { path, failures };
        }
        consider(path, failures);
        return undefined;
      }
      if (topSelfSigned) {
        consider(path, [
          this.failure(
            'untrusted_root',
            path,
            path.length - 1,
            `the path ends at the self-signed "${nameText(top.cert.subject)}", which is not among the trusted certificates`,
          ),
        ]);
        return undefined;
      }
      return this.extend(path, intermediates, walk);
    };
    const found = walk([leaf], 0);
    if (found) return found;
    // Every branch of walk that returns nothing has called consider() first.
    if (!this.best) throw new MtlsError('MTLS_INTERNAL', 'path building ended without an outcome');
    return this.best;
  }

  /** Tries each candidate issuer of the path's top certificate, verified ones first. */
  extend(path: Node[], intermediates: number, walk: Walk): BuildOutcome | undefined {
    const top = topOf(path);
    const maxDepth = this.options.maxDepth ?? DEFAULT_MAX_DEPTH;
    const used = new Set(
      path.flatMap((n) => [
        n.cert.fingerprint,
        `${n.cert.subject.key}|${n.cert.spki.toString('hex')}`,
      ]),
    );
    // A CA (subject and key) appears once per path, which breaks cross-sign loops; a trusted anchor may repeat one that was cross-signed.
    const named = this.pool.filter(
      (c) =>
        !used.has(c.cert.fingerprint) &&
        (c.trusted || !used.has(`${c.cert.subject.key}|${c.cert.spki.toString('hex')}`)) &&
        this.mayHaveIssued(c, top),
    );
    if (named.length === 0) {
      this.consider(path, [
        this.failure(
          'issuer_not_found',
          path,
          path.length - 1,
          `no trusted or untrusted certificate given issued "${nameText(top.cert.subject)}" (its issuer is "${nameText(top.cert.issuer)}")`,
        ),
      ]);
      return undefined;
    }
    const verified = named.filter((c) => {
      this.work++;
      return this.signedBy(top, c).ok;
    });
    if (verified.length === 0) {
      const c = nodeAt(named, 0);
      // An issuer whose key is refused (weak, unsupported) is the failure, not the signature on its child.
      if (!c.key.ok) {
        this.consider(
          [...path, c],
          [
            this.failure(
              c.key.reason,
              [...path, c],
              path.length,
              `"${nameText(c.cert.subject)}": ${c.key.detail}`,
            ),
          ],
        );
        return undefined;
      }
      const s = this.signedBy(top, c);
      // Not verified means the memoised check failed; the guard only narrows the type.
      if (s.ok) return undefined;
      this.consider(
        [...path, c],
        [
          this.failure(
            s.reason,
            [...path, c],
            path.length - 1,
            `the signature on "${nameText(top.cert.subject)}" does not verify with the key of "${nameText(c.cert.subject)}": ${s.detail}`,
          ),
        ],
      );
      return undefined;
    }
    verified.sort(
      (a, b) =>
        Number(b.trusted) - Number(a.trusted) ||
        Number(this.timeValid(b)) - Number(this.timeValid(a)),
    );
    for (const c of verified) {
      if (this.work > MAX_PATH_WORK) {
        this.consider(path, [
          this.failure(
            'work_limit_exceeded',
            path,
            path.length - 1,
            `path building stopped after ${MAX_PATH_WORK} candidate checks`,
          ),
        ]);
        return undefined;
      }
      // A self-issued CA does not count towards the depth (§6.1.4(l) counts the same way).
      const isIntermediate = path.length >= 1 && !(c.trusted && this.selfSigned(c));
      const next =
        intermediates + (isIntermediate && c.cert.subject.key !== c.cert.issuer.key ? 1 : 0);
      if (isIntermediate && next > maxDepth) {
        this.consider(
          [...path, c],
          [
            this.failure(
              'path_too_long',
              [...path, c],
              path.length,
              `more than ${maxDepth} intermediate certificate(s) above "${nameText(nodeAt(path, 0).cert.subject)}" (--max-depth)`,
            ),
          ],
        );
        continue;
      }
      const r = walk([...path, c], next);
      if (r) return r;
    }
    return undefined;
  }

  /** Keeps the most informative failure: the path that got furthest, then the first found. */
  consider(path: Node[], failures: VerifyFailure[]): void {
    const best = this.best;
    if (
      !best ||
      path.length > best.path.length ||
      (best.failures[0]?.reason === 'issuer_not_found' &&
        failures[0]?.reason !== 'issuer_not_found')
    )
      this.best = { path, failures };
  }

  timeValid(n: Node): boolean {
    const t = Math.floor(this.at.getTime() / 1000) * 1000;
    return n.cert.notBefore.getTime() <= t && t <= n.cert.notAfter.getTime();
  }

  failure(reason: VerifyReason, path: Node[], i: number, detail: string): VerifyFailure {
    return { reason, detail, certificate: ref(nodeAt(path, i), i) };
  }

  /** Checks a complete path (leaf first, anchor last); returns its failures. */
  validate(path: Node[]): VerifyFailure[] {
    const failures: VerifyFailure[] = [];
    const last = path.length - 1;
    const purpose = this.options.purpose;
    const t = Math.floor(this.at.getTime() / 1000) * 1000;
    let nonSelfIssuedBelow = 0;
    path.forEach((n, i) => {
      const c = n.cert;
      const name = `"${nameText(c.subject)}"`;
      const fail = (reason: VerifyReason, detail: string): void => {
        failures.push(this.failure(reason, path, i, `${name}: ${detail}`));
      };
      const role: CertificateRole = i === 0 ? 'leaf' : i === last ? 'anchor' : 'ca';
      // The root rules for the authority key identifier apply to a self-issued anchor even when its AKI breaks the self-signature match.
      const selfSigned = i === last && (this.selfSigned(n) || c.subject.key === c.issuer.key);
      for (const p of checkStructure(c, role, selfSigned)) fail(p.reason, p.detail);
      if (!n.key.ok) fail(n.key.reason, n.key.detail);
      if (t < c.notBefore.getTime())
        fail(
          'not_yet_valid',
          `not valid before ${c.notBefore.toISOString()} (checked at ${this.at.toISOString()})`,
        );
      if (t > c.notAfter.getTime())
        fail(
          'expired',
          `expired at ${c.notAfter.toISOString()} (checked at ${this.at.toISOString()})`,
        );
      if (i < last) {
        const s = this.signedBy(n, nodeAt(path, i + 1));
        if (!s.ok) fail(s.reason, s.detail);
      }
      if (i > 0) {
        const bc = c.ext.basicConstraints;
        if (bc?.ca && bc.pathLen !== undefined && nonSelfIssuedBelow > bc.pathLen) {
          fail(
            'path_length_exceeded',
            `allows ${bc.pathLen} intermediate CA certificate(s) below it (pathlen:${bc.pathLen}); the path has ${nonSelfIssuedBelow}`,
          );
        }
        // The leaf does not count (§6.1.4(l) applies to intermediates).
        if (c.subject.key !== c.issuer.key) nonSelfIssuedBelow++;
        if (
          purpose !== 'any' &&
          c.ext.extendedKeyUsage &&
          !this.ekuAllows(c.ext.extendedKeyUsage)
        ) {
          fail(
            'eku_missing',
            `the CA restricts its extendedKeyUsage to ${c.ext.extendedKeyUsage.join(', ')}, without ${ekuName(purpose)}`,
          );
        }
        const nc = c.ext.nameConstraints;
        if (nc) {
          for (let j = i - 1; j >= 0; j--) {
            const sub = nodeAt(path, j).cert;
            // §6.1.3(b): self-issued intermediates are not subject to the constraints.
            if (j > 0 && sub.subject.key === sub.issuer.key) continue;
            const r = checkNameConstraints(
              constrainedNames(sub.subject, sub.ext.subjectAltName),
              nc,
            );
            if (!r.ok) {
              failures.push(
                this.failure(
                  r.workLimit ? 'work_limit_exceeded' : 'name_constraints_violated',
                  path,
                  j,
                  `"${nameText(sub.subject)}": ${r.detail} (name constraints of ${name})`,
                ),
              );
              break;
            }
          }
        }
      }
      if (i === 0) this.checkLeaf(n, fail);
      if (i < last) this.checkRevocation(path, i, fail);
      for (const e of c.extensions) {
        if (
          e.oid === EXT.certificatePolicies ||
          e.oid === EXT.policyMappings ||
          e.oid === EXT.policyConstraints ||
          e.oid === EXT.inhibitAnyPolicy
        ) {
          this.warnings.push({
            code: 'not_checked',
            message: `${name} has certificate policy extensions; they were not evaluated`,
            certificate: ref(n, i),
          });
        }
      }
    });
    return failures;
  }

  ekuAllows(ekus: string[]): boolean {
    const wanted = ekuOid(this.options.purpose === 'client' ? 'clientAuth' : 'serverAuth');
    return (
      ekus.includes(wanted) ||
      (this.options.acceptAnyExtendedKeyUsage === true &&
        ekus.includes(ekuOid('anyExtendedKeyUsage')))
    );
  }

  checkLeaf(n: Node, fail: (reason: VerifyReason, detail: string) => void): void {
    const c = n.cert;
    const purpose = this.options.purpose;
    if (c.ext.basicConstraints?.ca)
      fail(
        'leaf_is_ca',
        `a CA certificate (basicConstraints CA:TRUE) cannot be the end-entity certificate`,
      );
    if (this.options.name !== undefined) {
      const ref = parseReferenceName(this.options.name);
      if (!matchesReferenceName(c.ext.subjectAltName, ref)) {
        const sans = (c.ext.subjectAltName ?? []).length;
        fail(
          'name_mismatch',
          sans
            ? `no subjectAltName matches ${ref.kind.toUpperCase()} "${ref.value}" (RFC 9525; the CN is not consulted)`
            : `it has no subjectAltName to match ${ref.kind.toUpperCase()} "${ref.value}" against (RFC 9525 §6)`,
        );
      }
    }
    if (purpose === 'any') return;
    const ku = c.ext.keyUsage;
    // client: digitalSignature signs CertificateVerify (RFC 5246 §7.4.8); server: signature or RSA key transport (§7.4.2).
    const needed: KeyUsageBit[] =
      purpose === 'client' ? ['digitalSignature'] : ['digitalSignature', 'keyEncipherment'];
    if (ku && !needed.some((u) => ku.has(u)))
      fail(
        'key_usage_missing',
        `keyUsage ${[...ku].join(', ')} lacks ${needed.join(' or ')} needed for TLS ${purpose} authentication`,
      );
    const eku = c.ext.extendedKeyUsage;
    if (!eku) {
      this.warnings.push({
        code: 'eku_absent',
        message: `"${nameText(c.subject)}" has no extendedKeyUsage, which means any purpose (RFC 5280 §4.2.1.12); policies that require ${ekuName(purpose)} will refuse it`,
        certificate: ref(n, 0),
      });
    } else if (!this.ekuAllows(eku))
      fail(
        'eku_missing',
        `extendedKeyUsage ${eku.map(ekuLabel).join(', ')}, without ${ekuName(purpose)}`,
      );
    const ns = c.ext.nsCertType;
    if (ns && !ns.has(purpose))
      fail('ns_cert_type_missing', `Netscape Cert Type ${[...ns].join(', ')}, without ${purpose}`);
  }

  checkRevocation(
    path: Node[],
    i: number,
    fail: (reason: VerifyReason, detail: string) => void,
  ): void {
    if (this.crls.length === 0) return;
    const c = nodeAt(path, i).cert;
    const issuer = nodeAt(path, i + 1);
    const mine = this.crls.filter((crl) => crl.issuer.key === c.issuer.key);
    const t = Math.floor(this.at.getTime() / 1000) * 1000;
    let covered = false;
    const scopedAway: string[] = [];
    for (const crl of mine) {
      const s = issuer.key.ok
        ? verifySignature(crl.tbs, crl.signature, crl.signatureAlgorithm, issuer.key.key)
        : { ok: false as const, detail: 'the issuer key is unusable' };
      if (!s.ok) {
        fail(
          'crl_invalid',
          `the CRL issued by "${nameText(crl.issuer)}" does not verify with the issuer's key (${s.detail})`,
        );
        continue;
      }
      // §6.3.3(b): a CRL scoped by issuingDistributionPoint to other certificates is no evidence.
      const outOfScope = crlScopeMismatch(crl.issuingDistributionPoint, {
        isCa: c.ext.basicConstraints?.ca === true,
        ...(c.ext.crlDistributionPoints ? { distributionPoints: c.ext.crlDistributionPoints } : {}),
      });
      if (outOfScope) {
        scopedAway.push(outOfScope);
        continue;
      }
      // onlySomeReasons: a listed serial is revoked, an unlisted one is not shown good (§6.3.3(k)).
      if (crl.issuingDistributionPoint?.onlySomeReasons)
        scopedAway.push('a CRL covers only some revocation reasons (onlySomeReasons)');
      else covered = true;
      if (crl.problems.length)
        fail(
          'crl_invalid',
          `the CRL of "${nameText(crl.issuer)}" is unusable: ${crl.problems.join('; ')}`,
        );
      const ku = issuer.cert.ext.keyUsage;
      // §6.3.3(f): when the CRL issuer has keyUsage, cRLSign must be set.
      if (ku && !ku.has('cRLSign'))
        fail(
          'crl_invalid',
          `the CRL issuer "${nameText(issuer.cert.subject)}" has keyUsage without cRLSign (RFC 5280 §6.3.3(f))`,
        );
      if (crl.thisUpdate.getTime() > t)
        fail(
          'crl_invalid',
          `the CRL of "${nameText(crl.issuer)}" is not valid before ${crl.thisUpdate.toISOString()}`,
        );
      if (crl.nextUpdate && crl.nextUpdate.getTime() < t)
        fail(
          'crl_expired',
          `the CRL of "${nameText(crl.issuer)}" was due to be replaced at ${crl.nextUpdate.toISOString()}`,
        );
      const serial = serialHex(c);
      if (crl.revoked.has(serial)) {
        const code = crl.revoked.get(serial);
        fail(
          'revoked',
          `serial ${serial} is revoked by the CRL of "${nameText(crl.issuer)}"${code !== undefined ? ` (reason: ${CRL_REASONS[code]})` : ''}`,
        );
      }
    }
    if (!covered)
      this.warnings.push({
        code: 'no_crl',
        message: `no CRL given for the issuer of "${nameText(c.subject)}" covers it${scopedAway.length ? ` (${[...new Set(scopedAway)].join('; ')})` : ''}; its revocation status was not checked`,
        certificate: ref(nodeAt(path, i), i),
      });
  }
}

function ekuName(purpose: VerifyPurpose): string {
  return purpose === 'client' ? 'clientAuth' : 'serverAuth';
}

function ekuLabel(oid: string): string {
  const e = Object.entries(EKU_OIDS).find(([, v]) => v === oid);
  return e ? e[0] : oid;
}

function ref(n: Node, depth: number): VerifiedCertificate {
  const c = n.cert;
  return {
    depth,
    subject: nameText(c.subject),
    issuer: nameText(c.issuer),
    serialNumber: serialHex(c),
    fingerprintSha256: (c.fingerprint.toUpperCase().match(/../g) ?? []).join(':'),
    notBefore: c.notBefore.toISOString(),
    notAfter: c.notAfter.toISOString(),
    trusted: n.trusted,
  };
}

function derOf(c: x509.X509Certificate | Uint8Array): Uint8Array {
  return c instanceof Uint8Array ? c : new Uint8Array(c.rawData);
}

function toNode(
  der: Uint8Array,
  trusted: boolean,
): Node | { malformed: string; fingerprint: string } {
  const p = parseCertificateDer(der);
  if (!p.ok) return { malformed: p.detail, fingerprint: p.fingerprint };
  const k = checkPublicKey(p.cert.spki, p.cert.spkiAlgorithm);
  return {
    cert: p.cert,
    trusted,
    key: k.ok ? k : { ok: false, reason: k.reason, detail: k.detail },
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

/**
 * Builds a path from the certificate to a trusted root and validates it
 * (RFC 5280 §6) for a TLS purpose. Never throws for a verification failure:
 * the result says `ok: false` with a `reason` from {@link VERIFY_REASONS}; a
 * certificate or CRL that cannot be decoded is such a failure too
 * (`malformed_certificate`, `crl_invalid`).
 */
export function verifyCertificate(options: VerifyCertificateOptions): VerifyResult {
  const at = options.at ?? new Date();
  const base = { purpose: options.purpose, at: at.toISOString() };
  const leafNode = toNode(derOf(options.certificate), false);
  const unknownCert = (fingerprint: string): VerifiedCertificate => ({
    depth: 0,
    subject: '(undecodable)',
    issuer: '(undecodable)',
    serialNumber: '',
    fingerprintSha256: fingerprint,
    notBefore: '',
    notAfter: '',
    trusted: false,
  });
  const reject = (
    reason: VerifyReason,
    detail: string,
    certificate: VerifiedCertificate,
    chain: VerifiedCertificate[],
  ): VerifyResult => ({
    ...base,
    ok: false,
    reason,
    detail,
    certificate,
    failures: [{ reason, detail, certificate }],
    chain,
    path: chain,
    warnings: [],
  });
  if ('malformed' in leafNode)
    return reject(
      'malformed_certificate',
      `the certificate cannot be decoded: ${leafNode.malformed}`,
      unknownCert(leafNode.fingerprint),
      [],
    );
  const crls: ParsedCrl[] = [];
  for (const [i, der] of (options.crls ?? []).entries()) {
    try {
      crls.push(parseCrlDer(Buffer.from(der)));
    } catch (e) {
      return reject(
        'crl_invalid',
        `CRL #${i + 1} cannot be decoded: ${errorMessage(e)}`,
        ref(leafNode, 0),
        [ref(leafNode, 0)],
      );
    }
  }
  const pool: Node[] = [];
  const undecodable: VerifyWarning[] = [];
  const seen = new Set<string>([leafNode.cert.fingerprint]);
  for (const [list, trusted] of [
    [options.chain, true],
    [options.untrusted ?? [], false],
  ] as const) {
    for (const [i, c] of list.entries()) {
      const n = toNode(derOf(c), trusted);
      // An undecodable extra certificate cannot be an issuer: it is left out of path
      // building, and said so, since the path may then end early for want of it.
      if ('malformed' in n) {
        undecodable.push({
          code: 'undecodable',
          message: `${trusted ? 'trusted' : 'untrusted'} certificate #${i + 1} cannot be decoded and was left out of path building: ${n.malformed}`,
          certificate: unknownCert(n.fingerprint),
        });
        continue;
      }
      if (seen.has(n.cert.fingerprint)) continue;
      seen.add(n.cert.fingerprint);
      pool.push(n);
    }
  }
  const leafTrusted = options.chain
    .map(derOf)
    .some((d) => Buffer.from(d).equals(leafNode.cert.der));
  const leaf: Node = { ...leafNode, trusted: leafTrusted };
  const v = new Verifier(options, at, pool, crls);
  const { path, failures } = v.build(leaf);
  const chain = path.map(ref);
  const warnings = dedupe([...undecodable, ...v.warnings]);
  const [first] = failures;
  if (!first) return { ...base, ok: true, chain, path: chain, warnings };
  return {
    ...base,
    ok: false,
    reason: first.reason,
    detail: first.detail,
    certificate: first.certificate,
    failures,
    chain,
    path: chain,
    warnings,
  };
}

/**
 * True when a certificate is self-signed (a root, RFC 5280 §3.2): its issuer
 * equals its subject, its AKI (if any) matches its SKI, and its signature
 * verifies with its own key. An undecodable certificate is not self-signed.
 */
export function isSelfSignedCertificate(cert: x509.X509Certificate | Uint8Array): boolean {
  const n = toNode(derOf(cert), false);
  if ('malformed' in n) return false;
  return new Verifier(
    { certificate: cert, chain: [], purpose: 'any' },
    new Date(),
    [],
    [],
  ).selfSigned(n);
}
