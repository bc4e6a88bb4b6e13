/**
 * CRL scope (RFC 5280 §5.2.5, §6.3.3(b)): the certificate's
 * cRLDistributionPoints (§4.2.1.13) and the CRL's issuingDistributionPoint,
 * decoded as far as deciding whether a CRL covers a certificate needs.
 * Names are compared as their DER encodings, as OpenSSL does.
 */
import type { DerElement } from '../der.js';
import { bad, boolean, children, namedBits, one, T } from './der-fields.js';
import { decodeGeneralName } from './general-names.js';

/** One DistributionPoint of a certificate. */
export interface DistributionPoint {
  /** DER of each name of its distributionPoint (the GeneralNames of fullName, or the nameRelativeToCRLIssuer). */
  names?: Buffer[];
  /** True when the point names a cRLIssuer (an indirect CRL). */
  hasCrlIssuer: boolean;
}

/** A CRL's issuingDistributionPoint (RFC 5280 §5.2.5). */
export interface IssuingDistributionPoint {
  /** DER of each name of its distributionPoint, when present. */
  names?: Buffer[];
  onlyContainsUserCerts: boolean;
  onlyContainsCACerts: boolean;
  /** True when onlySomeReasons is present: the CRL does not cover every reason. */
  onlySomeReasons: boolean;
  indirectCRL: boolean;
  onlyContainsAttributeCerts: boolean;
}

/** DistributionPointName ::= CHOICE { fullName [0] GeneralNames, nameRelativeToCRLIssuer [1] RDN }. */
function distributionPointName(outer: DerElement, what: string): Buffer[] {
  const [choice, extra] = children({ ...outer, tag: T.sequence }, T.sequence, what);
  if (!choice || extra) bad(what, 'expected exactly one DistributionPointName');
  if (choice.tag === 0xa0) {
    const names = children({ ...choice, tag: T.sequence }, T.sequence, `${what} fullName`);
    if (names.length === 0) bad(what, 'fullName is empty (SIZE (1..MAX))');
    for (const n of names) decodeGeneralName(n, `${what} fullName`, 'name');
    return names.map((n) => n.raw);
  }
  if (choice.tag === 0xa1) return [choice.raw];
  return bad(what, `unexpected DistributionPointName tag 0x${choice.tag.toString(16)}`);
}

/**
 * Decodes cRLDistributionPoints (RFC 5280 §4.2.1.13).
 * @throws DerFieldError when malformed
 */
export function decodeCrlDistributionPoints(value: Buffer): DistributionPoint[] {
  const what = 'cRLDistributionPoints';
  const points = children(one(value, what), T.sequence, what);
  if (points.length === 0) bad(what, 'empty (SIZE (1..MAX))');
  return points.map((p) => {
    let names: Buffer[] | undefined;
    let hasCrlIssuer = false;
    let last = -1;
    for (const f of children(p, T.sequence, `${what} DistributionPoint`)) {
      const n = f.tag & 0x1f;
      if (n <= last) bad(what, 'fields out of order or repeated');
      last = n;
      if (f.tag === 0xa0) names = distributionPointName(f, `${what} distributionPoint`);
      else if (f.tag === 0x81) namedBits({ ...f, tag: T.bitString }, `${what} reasons`);
      else if (f.tag === 0xa2) {
        children({ ...f, tag: T.sequence }, T.sequence, `${what} cRLIssuer`).forEach((g) =>
          decodeGeneralName(g, `${what} cRLIssuer`, 'name'),
        );
        hasCrlIssuer = true;
      } else bad(what, `unexpected field tag 0x${f.tag.toString(16)}`);
    }
    // §4.2.1.13: "either distributionPoint or cRLIssuer MUST be present".
    if (!names && !hasCrlIssuer)
      bad(what, 'a DistributionPoint has neither distributionPoint nor cRLIssuer');
    return { ...(names ? { names } : {}), hasCrlIssuer };
  });
}

/**
 * Decodes issuingDistributionPoint (RFC 5280 §5.2.5).
 * @throws DerFieldError when malformed
 */
export function decodeIssuingDistributionPoint(value: Buffer): IssuingDistributionPoint {
  const what = 'issuingDistributionPoint';
  const out: IssuingDistributionPoint = {
    onlyContainsUserCerts: false,
    onlyContainsCACerts: false,
    onlySomeReasons: false,
    indirectCRL: false,
    onlyContainsAttributeCerts: false,
  };
  const flag = (f: DerElement, name: string): true => {
    // DER omits a BOOLEAN equal to its DEFAULT FALSE (X.690 §11.5).
    if (!boolean({ ...f, tag: T.boolean }, `${what} ${name}`))
      bad(what, `${name} FALSE is encoded, DER omits the DEFAULT`);
    return true;
  };
  let last = -1;
  for (const f of children(one(value, what), T.sequence, what)) {
    const n = f.tag & 0x1f;
    if (n <= last) bad(what, 'fields out of order or repeated');
    last = n;
    if (f.tag === 0xa0) out.names = distributionPointName(f, `${what} distributionPoint`);
    else if (f.tag === 0x81) out.onlyContainsUserCerts = flag(f, 'onlyContainsUserCerts');
    else if (f.tag === 0x82) out.onlyContainsCACerts = flag(f, 'onlyContainsCACerts');
    else if (f.tag === 0x83) {
      namedBits({ ...f, tag: T.bitString }, `${what} onlySomeReasons`);
      out.onlySomeReasons = true;
    } else if (f.tag === 0x84) out.indirectCRL = flag(f, 'indirectCRL');
    else if (f.tag === 0x85) out.onlyContainsAttributeCerts = flag(f, 'onlyContainsAttributeCerts');
    else bad(what, `unexpected field tag 0x${f.tag.toString(16)}`);
  }
  // §5.2.5: at most one of the three "only contains" flags may be TRUE.
  if (
    [out.onlyContainsUserCerts, out.onlyContainsCACerts, out.onlyContainsAttributeCerts].filter(
      Boolean,
    ).length > 1
  )
    bad(
      what,
      'more than one of onlyContainsUserCerts, onlyContainsCACerts, onlyContainsAttributeCerts',
    );
  return out;
}

/**
 * Whether a CRL with this issuingDistributionPoint covers a certificate
 * (RFC 5280 §6.3.3(b)): the "only contains" flags must admit it, and a named
 * distribution point must share a name with one of the certificate's. A CRL
 * without issuingDistributionPoint covers every certificate of its issuer.
 * @returns why it does not cover it, or undefined when it does
 */
export function crlScopeMismatch(
  idp: IssuingDistributionPoint | undefined,
  cert: { isCa: boolean; distributionPoints?: DistributionPoint[] },
): string | undefined {
  if (!idp) return undefined;
  if (idp.onlyContainsAttributeCerts) return 'it lists attribute certificates only';
  if (idp.onlyContainsUserCerts && cert.isCa)
    return 'it lists end-entity certificates only (onlyContainsUserCerts) and this is a CA';
  if (idp.onlyContainsCACerts && !cert.isCa)
    return 'it lists CA certificates only (onlyContainsCACerts) and this is an end entity';
  const idpNames = idp.names;
  if (!idpNames) return undefined;
  const match = (cert.distributionPoints ?? []).some((dp) =>
    dp.names?.some((a) => idpNames.some((b) => a.equals(b))),
  );
  return match
    ? undefined
    : "its issuingDistributionPoint names a distribution point that is not among the certificate's cRLDistributionPoints";
}
