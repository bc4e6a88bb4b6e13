/**
 * The closed set of reasons a verification fails, each with the one-line
 * explanation `mtls cert verify --help` and the README print.
 */

/** Every reason, with what it means. */
export const VERIFY_REASON_TEXT = {
  issuer_not_found: 'no certificate in --ca-file or --untrusted issued a certificate of the path',
  untrusted_root: 'the path ends at a self-signed certificate that is not in --ca-file',
  signature_invalid: "a signature does not verify with its issuer's key",
  expired: 'a certificate is past its notAfter at the checked time',
  not_yet_valid: 'a certificate is before its notBefore at the checked time',
  not_a_ca:
    'an issuer lacks basicConstraints CA:TRUE, or is a v1 certificate that is not a trust anchor',
  path_length_exceeded: 'more CA certificates below an issuer than its pathLenConstraint allows',
  path_too_long: 'no trust anchor within --max-depth intermediates',
  key_usage_missing:
    'keyUsage lacks the bit the role needs (keyCertSign, cRLSign, digitalSignature)',
  eku_missing: 'extendedKeyUsage does not allow the purpose',
  ns_cert_type_missing: 'Netscape Cert Type does not allow the purpose',
  leaf_is_ca: 'the end-entity certificate is a CA certificate',
  unhandled_critical_extension:
    'a certificate or CRL has a critical extension the validator does not know',
  malformed_certificate:
    'a certificate is not valid DER or breaks an RFC 5280 encoding rule (duplicate extensions, times, serial, name syntax)',
  invalid_extension:
    'an extension breaks an RFC 5280 rule (criticality, presence, key identifiers)',
  weak_key: 'a public key is too weak (RSA < 2048 bits, DSA, a curve other than P-256/384/521)',
  weak_algorithm: 'a signature uses SHA-1 or MD5',
  unsupported_algorithm:
    'a key or signature algorithm is not supported (e.g. explicit EC parameters)',
  name_constraints_violated:
    "a name in the path is outside an issuer's permitted subtrees or inside its excluded ones",
  name_mismatch: 'the certificate does not match --name (RFC 9525)',
  revoked: 'a CRL from the issuer lists the certificate',
  crl_invalid:
    'a CRL given with --crl is malformed, badly signed, not yet valid, indirect (not supported), or its issuer may not sign CRLs',
  crl_expired: 'a CRL needed for the path is past its nextUpdate',
  work_limit_exceeded: 'path building gave up after its work budget (pathological input)',
} as const;

/** Why a verification failed. */
export type VerifyReason = keyof typeof VERIFY_REASON_TEXT;

/** Every reason, in a stable order (a closed set). */
export const VERIFY_REASONS: VerifyReason[] = Object.keys(VERIFY_REASON_TEXT).filter(
  (k): k is VerifyReason => Object.hasOwn(VERIFY_REASON_TEXT, k),
);
