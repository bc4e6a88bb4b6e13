/**
 * Revocation by CRL (RFC 5280 §6.3, §5): a CRL counts for a certificate when
 * its issuer name equals the certificate's issuer and it verifies with the
 * issuing CA's key. Such a CRL must be well formed (§5.1), carry a
 * non-critical cRLNumber (§5.2.3), have no unknown critical extension
 * (§5.2), be current (thisUpdate ≤ time ≤ nextUpdate), and its signer's
 * keyUsage, when present, must include cRLSign (§6.3.3(f)). Its
 * issuingDistributionPoint, when present, limits which certificates it covers
 * (./distribution-points.ts). Indirect and delta CRLs are not supported: an
 * indirect issuingDistributionPoint, or a critical deltaCRLIndicator (unknown),
 * makes the CRL unusable.
 */
import type { DerElement } from '../der.js';
import { at } from '../bytes.js';
import {
  algorithm,
  bad,
  bitString,
  boolean,
  children,
  integerBytes,
  oid,
  one,
  present,
  smallUnsigned,
  T,
  time,
  type AlgorithmIdentifier,
} from './der-fields.js';
import { decodeName, type DecodedName } from './distinguished-name.js';
import {
  decodeIssuingDistributionPoint,
  type IssuingDistributionPoint,
} from './distribution-points.js';

/** A parsed CRL. */
export interface ParsedCrl {
  tbs: Buffer;
  signatureAlgorithm: AlgorithmIdentifier;
  signature: Buffer;
  issuer: DecodedName;
  thisUpdate: Date;
  nextUpdate?: Date;
  /** Revoked serials (upper-case hex without leading zeros) to their reason code (RFC 5280 §5.3.1), if any. */
  revoked: Map<string, number | undefined>;
  /** Problems that make the CRL unusable (missing cRLNumber, unknown critical extensions). */
  problems: string[];
  /** Its scope, when it has an issuingDistributionPoint (RFC 5280 §5.2.5). */
  issuingDistributionPoint?: IssuingDistributionPoint;
}

const CRL_NUMBER = '2.5.29.20';
const AKI = '2.5.29.35';
const REASON_CODE = '2.5.29.21';
const INVALIDITY_DATE = '2.5.29.24';
const ISSUING_DISTRIBUTION_POINT = '2.5.29.28';

/** Names of the reason codes (RFC 5280 §5.3.1). */
export const CRL_REASONS = [
  'unspecified',
  'keyCompromise',
  'cACompromise',
  'affiliationChanged',
  'superseded',
  'cessationOfOperation',
  'certificateHold',
  '(unused)',
  'removeFromCRL',
  'privilegeWithdrawn',
  'aACompromise',
];

function hexSerial(c: Buffer): string {
  let i = 0;
  while (i < c.length - 1 && c[i] === 0) i++;
  return c.subarray(i).toString('hex').toUpperCase();
}

function extensions(
  el: DerElement | undefined,
  what: string,
  problems: string[],
  known: Set<string>,
): Map<string, { critical: boolean; value: Buffer }> {
  const out = new Map<string, { critical: boolean; value: Buffer }>();
  for (const e of children(el, T.sequence, what)) {
    const f = children(e, T.sequence, what);
    const id = oid(f[0], `${what} id`);
    const critical = f.length === 3 ? boolean(f[1], `${what} critical`) : false;
    const v = f[f.length - 1];
    if (!v || v.tag !== T.octetString) bad(what, 'extension value is not an OCTET STRING');
    if (out.has(id)) bad(what, `extension ${id} appears twice`);
    out.set(id, { critical, value: v.content });
    if (critical && !known.has(id))
      problems.push(`it has the unknown critical extension ${id} (RFC 5280 §5.2)`);
  }
  return out;
}

/**
 * Parses a DER CRL (RFC 5280 §5.1).
 * @throws DerFieldError when malformed
 */
export function parseCrlDer(der: Buffer): ParsedCrl {
  const [tbsEl, algEl, sigEl, extra] = children(one(der, 'CRL'), T.sequence, 'CRL');
  if (extra) bad('CRL', 'more than three fields');
  const tbs = children(tbsEl, T.sequence, 'tbsCertList');
  let i = 0;
  if (tbs[0]?.tag === T.integer) {
    if (smallUnsigned(tbs[0], 'CRL version') !== 1)
      bad('CRL version', 'only v2 is allowed when present');
    i++;
  }
  const inner = algorithm(tbs[i++], 'tbsCertList signature');
  const issuer = decodeName(tbs[i++], 'CRL issuer');
  const thisUpdate = time(tbs[i++], 'thisUpdate');
  let nextUpdate: Date | undefined;
  if (tbs[i] && (tbs[i]?.tag === T.utcTime || tbs[i]?.tag === T.generalizedTime))
    nextUpdate = time(tbs[i++], 'nextUpdate');
  const problems: string[] = [];
  const revoked = new Map<string, number | undefined>();
  if (tbs[i]?.tag === T.sequence) {
    for (const entry of children(tbs[i++], T.sequence, 'revokedCertificates')) {
      const [serialEl, dateEl, extsEl] = children(entry, T.sequence, 'revoked entry');
      const serial = hexSerial(integerBytes(serialEl, 'revoked serial'));
      time(dateEl, 'revocationDate');
      let reason: number | undefined;
      if (extsEl) {
        const exts = extensions(
          extsEl,
          'CRL entry extensions',
          problems,
          new Set([REASON_CODE, INVALIDITY_DATE]),
        );
        const r = exts.get(REASON_CODE);
        if (r) {
          const el = one(r.value, 'reasonCode');
          if (el.tag !== 0x0a || el.content.length !== 1)
            bad('reasonCode', 'expected an ENUMERATED');
          reason = at(el.content, 0);
          // §5.3.1: value 7 is unused, and removeFromCRL belongs in delta CRLs only.
          if (reason === 7 || reason > 10) bad('reasonCode', `unknown reason code ${reason}`);
        }
      }
      revoked.set(serial, reason);
    }
  }
  let crlNumber = false;
  let issuingDistributionPoint: IssuingDistributionPoint | undefined;
  const crlExtensions = tbs[i];
  if (crlExtensions?.tag === 0xa0) {
    const [seq] = children({ ...crlExtensions, tag: T.sequence }, T.sequence, 'crlExtensions');
    const exts = extensions(
      seq,
      'crlExtensions',
      problems,
      new Set([CRL_NUMBER, AKI, ISSUING_DISTRIBUTION_POINT]),
    );
    const idpExt = exts.get(ISSUING_DISTRIBUTION_POINT);
    if (idpExt) {
      issuingDistributionPoint = decodeIssuingDistributionPoint(idpExt.value);
      // An indirect CRL names certificates of other issuers through certificateIssuer
      // entries (§5.3.3), which this validator does not read.
      if (issuingDistributionPoint.indirectCRL)
        problems.push(
          'it is an indirect CRL (issuingDistributionPoint indirectCRL), which is not supported',
        );
    }
    const n = exts.get(CRL_NUMBER);
    if (n) {
      integerBytes(one(n.value, 'cRLNumber'), 'cRLNumber');
      crlNumber = true;
      if (n.critical)
        problems.push(
          'its cRLNumber extension is critical; RFC 5280 §5.2.3 requires it non-critical',
        );
    }
    i++;
  }
  if (tbs[i]) bad('tbsCertList', 'unexpected trailing field');
  // §5.2.3: "conforming CRL issuers MUST include this extension in all CRLs".
  if (!crlNumber) problems.push('it has no cRLNumber extension (RFC 5280 §5.2.3)');
  const signatureAlgorithm = algorithm(algEl, 'CRL signatureAlgorithm');
  if (!signatureAlgorithm.raw.equals(inner.raw))
    bad('CRL signatureAlgorithm', 'differs from the one inside tbsCertList (RFC 5280 §5.1.1.2)');
  const sig = bitString(sigEl, 'CRL signatureValue');
  return {
    tbs: present(tbsEl, 'tbsCertList').raw,
    signatureAlgorithm,
    signature: sig.bytes,
    issuer,
    thisUpdate,
    ...(nextUpdate ? { nextUpdate } : {}),
    revoked,
    problems,
    ...(issuingDistributionPoint ? { issuingDistributionPoint } : {}),
  };
}
