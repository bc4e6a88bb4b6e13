/**
 * Per-certificate rules of the RFC 5280 profile (§4.1, §4.2) that depend on
 * the certificate's role in the path: the end entity, an intermediate CA, or
 * the trust anchor. Stricter than §6 alone, as pyca/cryptography's validator
 * is: a certificate that breaks a "MUST" of the profile is refused.
 */
import type { VerifyReason } from './reasons.js';
import { at } from '../bytes.js';
import { isEmptyName } from './distinguished-name.js';
import { EXT } from './extensions.js';
import type { ParsedCertificate } from './parse-certificate.js';

/** Where a certificate sits in the path. */
export type CertificateRole = 'leaf' | 'ca' | 'anchor';

/** One rule broken. */
export interface StructureProblem {
  reason: VerifyReason;
  detail: string;
}

/** Critical extensions the validator recognises (RFC 5280 §4.2: anything else critical is refused). */
const RECOGNISED_CRITICAL = new Set<string>([
  EXT.basicConstraints,
  EXT.keyUsage,
  EXT.extendedKeyUsage,
  EXT.subjectAltName,
  EXT.nameConstraints,
  EXT.certificatePolicies,
  EXT.policyMappings,
  EXT.policyConstraints,
  EXT.inhibitAnyPolicy,
  EXT.crlDistributionPoints,
  EXT.nsCertType,
  EXT.ocspNoCheck,
  EXT.ipAddrBlocks,
  EXT.autonomousSysIds,
]);

/** Extensions RFC 5280 requires non-critical (§4.2.1.1, §4.2.1.2, §4.2.2.1) or critical (§4.2.1.11, §4.2.1.14). */
const MUST_BE_NON_CRITICAL: Readonly<Record<string, string>> = {
  [EXT.authorityKeyIdentifier]: 'authorityKeyIdentifier (RFC 5280 §4.2.1.1)',
  [EXT.subjectKeyIdentifier]: 'subjectKeyIdentifier (RFC 5280 §4.2.1.2)',
  [EXT.authorityInfoAccess]: 'authorityInfoAccess (RFC 5280 §4.2.2.1)',
};
const MUST_BE_CRITICAL: Readonly<Record<string, string>> = {
  [EXT.policyConstraints]: 'policyConstraints (RFC 5280 §4.2.1.11)',
  [EXT.inhibitAnyPolicy]: 'inhibitAnyPolicy (RFC 5280 §4.2.1.14)',
};

/**
 * Checks one certificate against the profile rules for its role.
 * @param selfSigned - the certificate verifies with its own key (a root)
 */
export function checkStructure(
  c: ParsedCertificate,
  role: CertificateRole,
  selfSigned: boolean,
): StructureProblem[] {
  const out: StructureProblem[] = [];
  const add = (reason: VerifyReason, detail: string): void => {
    out.push({ reason, detail });
  };
  const ext = c.ext;
  // §4.1.2.2: serial numbers are positive, at most 20 octets. Trust anchors are exempt: they are
  // trusted as given (§6.1.1(d)), and long-lived roots predate the rule (one has serial 0).
  const serialTooLong = c.serial.length > 21 || (c.serial.length === 21 && c.serial[0] !== 0);
  if (role === 'anchor') {
    // Exempt, see above.
  } else if ((at(c.serial, 0) & 0x80) !== 0)
    add('malformed_certificate', 'the serial number is negative (RFC 5280 §4.1.2.2)');
  else if (c.serial.every((b) => b === 0))
    add('malformed_certificate', 'the serial number is zero (RFC 5280 §4.1.2.2)');
  else if (serialTooLong)
    add('malformed_certificate', 'the serial number is longer than 20 octets (RFC 5280 §4.1.2.2)');
  // §4.1.2.4: the issuer field MUST contain a non-empty name.
  if (isEmptyName(c.issuer))
    add('malformed_certificate', 'the issuer name is empty (RFC 5280 §4.1.2.4)');
  if (c.version !== 3) {
    if (role === 'leaf')
      add(
        'malformed_certificate',
        `it is a v${c.version} certificate; path validation here requires v3`,
      );
    else
      add(
        'not_a_ca',
        `it is a v${c.version} certificate acting as a CA; only v3 certificates carry basicConstraints (RFC 5280 §6.1.4(k))`,
      );
  }
  for (const e of c.extensions) {
    if (e.critical && !RECOGNISED_CRITICAL.has(e.oid) && !MUST_BE_NON_CRITICAL[e.oid])
      add(
        'unhandled_critical_extension',
        `it has the critical extension ${e.oid}, which is not recognised (RFC 5280 §4.2)`,
      );
    const nc = MUST_BE_NON_CRITICAL[e.oid];
    if (nc && e.critical)
      add('invalid_extension', `${nc} is marked critical; it MUST be non-critical`);
    const mc = MUST_BE_CRITICAL[e.oid];
    if (mc && !e.critical)
      add('invalid_extension', `${mc} is not marked critical; it MUST be critical`);
  }
  const bc = ext.basicConstraints;
  const ku = ext.keyUsage;
  // §4.2.1.3: keyCertSign asserted requires cA asserted.
  if (ku?.has('keyCertSign') && !bc?.ca)
    add(
      'invalid_extension',
      'keyUsage has keyCertSign but basicConstraints does not assert cA (RFC 5280 §4.2.1.3)',
    );
  // §4.2.1.9: pathLenConstraint only with cA.
  if (bc && !bc.ca && bc.pathLen !== undefined)
    add(
      'invalid_extension',
      'basicConstraints has a pathLenConstraint without cA (RFC 5280 §4.2.1.9)',
    );
  // §4.2.1.6: an empty subject requires a critical subjectAltName; a non-empty one a non-critical SAN.
  const sanExt = c.extensions.find((e) => e.oid === EXT.subjectAltName);
  if (isEmptyName(c.subject)) {
    if (role !== 'leaf')
      add('malformed_certificate', 'a CA certificate has an empty subject (RFC 5280 §4.1.2.6)');
    else if (!sanExt)
      add(
        'invalid_extension',
        'the subject is empty and there is no subjectAltName (RFC 5280 §4.2.1.6)',
      );
    else if (!sanExt.critical)
      add(
        'invalid_extension',
        'the subject is empty and subjectAltName is not critical (RFC 5280 §4.2.1.6)',
      );
  } else if (sanExt?.critical)
    add(
      'invalid_extension',
      'subjectAltName is critical although the subject is not empty (RFC 5280 §4.2.1.6: SHOULD NOT)',
    );
  // §4.2.1.1: keyIdentifier in every certificate except a self-signed one.
  const aki = ext.authorityKeyIdentifier;
  // A trust anchor is trusted as given (§6.1.1(d)), so it may be a cross-certificate without one.
  if (!selfSigned && role !== 'anchor' && !aki?.keyIdentifier)
    add(
      'invalid_extension',
      'authorityKeyIdentifier with a keyIdentifier is missing (RFC 5280 §4.2.1.1)',
    );
  if (selfSigned && aki) {
    if (!aki.keyIdentifier)
      add(
        'invalid_extension',
        'the self-signed certificate has an authorityKeyIdentifier without keyIdentifier',
      );
    else if (ext.subjectKeyIdentifier && !aki.keyIdentifier.equals(ext.subjectKeyIdentifier))
      add(
        'invalid_extension',
        "the self-signed certificate's authorityKeyIdentifier differs from its subjectKeyIdentifier",
      );
    if (aki.hasIssuer || aki.hasSerial)
      add(
        'invalid_extension',
        "the self-signed certificate's authorityKeyIdentifier names an issuer and serial, which only a cross-certificate needs",
      );
  }
  if (role === 'leaf') {
    // §4.2.1.10: name constraints MUST only be used in a CA certificate.
    if (ext.nameConstraints)
      add(
        'invalid_extension',
        'an end-entity certificate has nameConstraints (RFC 5280 §4.2.1.10)',
      );
    return out;
  }
  if (!bc)
    add('not_a_ca', 'it issued a certificate but has no basicConstraints (RFC 5280 §6.1.4(k))');
  else if (!bc.ca)
    add(
      'not_a_ca',
      'it issued a certificate but has basicConstraints CA:FALSE (RFC 5280 §6.1.4(k))',
    );
  else if (!c.extensions.find((e) => e.oid === EXT.basicConstraints)?.critical)
    add(
      'invalid_extension',
      "the CA certificate's basicConstraints is not critical (RFC 5280 §4.2.1.9)",
    );
  // §4.2.1.2: subjectKeyIdentifier MUST appear in all CA certificates.
  if (!ext.subjectKeyIdentifier)
    add('invalid_extension', 'the CA certificate has no subjectKeyIdentifier (RFC 5280 §4.2.1.2)');
  // §4.2.1.3: conforming CAs MUST include keyUsage in certificates whose keys verify certificate
  // signatures (OpenSSL's -x509_strict and pyca/cryptography refuse a CA without it). A trust
  // anchor is trusted as given (§6.1.1(d)), so only an intermediate is held to this.
  if (!ku && role === 'ca')
    add(
      'key_usage_missing',
      'it issued a certificate but has no keyUsage extension; a CA certificate MUST have one with keyCertSign (RFC 5280 §4.2.1.3)',
    );
  // §6.1.4(n): keyCertSign when keyUsage is present.
  if (ku && !ku.has('keyCertSign'))
    add(
      'key_usage_missing',
      `it issued a certificate but its keyUsage (${[...ku].join(', ')}) lacks keyCertSign (RFC 5280 §6.1.4(n))`,
    );
  return out;
}
