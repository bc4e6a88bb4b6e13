/**
 * The CA's DN policy (ca(1) "POLICY FORMAT"): `match`, `supplied`, `optional`.
 * Unlike OpenSSL we compare VALUES, not ASN.1 string types (openssl#16772),
 * so a PrintableString "Acme" in the CSR matches a UTF8String "Acme" in the CA.
 */
import { MtlsError } from '../errors/index.js';
import { dnValues, findAttributeType, type DistinguishedName } from '../pki/names.js';

/** One policy rule. */
export type PolicyRule = 'match' | 'supplied' | 'optional';

/** A policy: field (long or short name) → rule, in file order. */
export type DnPolicy = ReadonlyArray<{ field: string; rule: PolicyRule }>;

/** Options for {@link applyPolicy}. */
export interface ApplyPolicyOptions {
  policy: DnPolicy;
  /** The CA certificate's subject (for `match`). */
  caSubject: DistinguishedName;
  /** The CSR's subject. */
  requested: DistinguishedName;
  /** Keep the CSR's field order instead of the policy's (`preserve = yes`). */
  preserve?: boolean;
  /** Keep emailAddress in the DN (`email_in_dn`, default true). */
  emailInDn?: boolean;
  /** Policy name, for messages. */
  policyName?: string;
}

/** Result of {@link applyPolicy}. */
export interface ApplyPolicyResult {
  subject: DistinguishedName;
  /** Fields of the CSR that the policy does not name, dropped as OpenSSL does. */
  dropped: DistinguishedName;
}

/**
 * Applies the policy to a requested subject.
 * @throws MTLS_POLICY_FIELD_MISMATCH naming the field, the CSR's value and the CA's value
 * @throws MTLS_POLICY_FIELD_MISSING naming the field
 */
export function applyPolicy(options: ApplyPolicyOptions): ApplyPolicyResult {
  const { policy, caSubject, requested } = options;
  const name = options.policyName ?? 'policy';
  const kept: DistinguishedName = [];
  const named = new Set<string>();
  for (const { field, rule } of policy) {
    const t = findAttributeType(field);
    if (!t)
      throw new MtlsError('MTLS_CONFIG_INVALID', `${name}: unknown field "${field}"`, {
        subject: field,
      });
    named.add(t.short);
    const values = dnValues(requested, t.short);
    if (rule === 'match') {
      const caValues = dnValues(caSubject, t.short);
      if (caValues.length === 0) {
        // OpenSSL's `ca` stops here too: "the 'policy' is misconfigured".
        throw new MtlsError(
          'MTLS_CONFIG_INVALID',
          `${name} says ${t.long} = match, but the CA certificate has no ${t.long}: nothing can match it, so this CA can issue nothing under ${name}`,
          {
            subject: t.long,
            hint: `Set ${t.long} = optional (or supplied) in [ ${name} ] of the CA's openssl.cnf, or use a CA whose subject has ${t.short}=….`,
          },
        );
      }
      if (values.length === 0) {
        throw new MtlsError(
          'MTLS_POLICY_FIELD_MISSING',
          `${t.long} is missing from the CSR; ${name} requires it to match the CA's "${caValues.join(', ')}"`,
          {
            subject: t.long,
            details: { field: t.long, csr: null, ca: caValues.join(', ') },
            hint: `Add ${t.short}=${caValues[0] ?? '…'} to the CSR subject.`,
          },
        );
      }
      for (const v of values) {
        const same = caValues.find((cv) => normalise(cv) === normalise(v));
        if (same !== undefined) {
          // OpenSSL puts the CA's own entry in the certificate for a `match` field.
          if (!options.preserve) kept.push({ type: t.short, value: same });
          continue;
        }
        throw new MtlsError(
          'MTLS_POLICY_FIELD_MISMATCH',
          `${t.long} does not match the CA: the CSR has "${v}", the CA has "${caValues.join(', ') || '(none)'}" (${name}: ${t.long} = match)`,
          {
            subject: t.long,
            details: { field: t.long, csr: v, ca: caValues.join(', ') },
            hint: `Create the CSR with ${t.short}=${caValues[0] ?? '…'}, or relax ${name} in openssl.cnf.`,
          },
        );
      }
    } else if (rule === 'supplied' && values.filter((v) => v !== '').length === 0) {
      throw new MtlsError(
        'MTLS_POLICY_FIELD_MISSING',
        `${t.long} must be supplied in the CSR (${name}: ${t.long} = supplied)`,
        {
          subject: t.long,
          details: { field: t.long, csr: null },
        },
      );
    }
    if (!options.preserve && rule !== 'match')
      for (const v of values) kept.push({ type: t.short, value: v });
  }
  let subject = options.preserve ? requested.filter((a) => named.has(a.type)) : kept;
  const dropped = requested.filter((a) => !named.has(a.type));
  if (options.emailInDn === false) subject = subject.filter((a) => a.type !== 'emailAddress');
  return { subject, dropped };
}

/** Values compare after Unicode NFC normalisation and trimming; case matters, as in OpenSSL. */
function normalise(v: string): string {
  return v.normalize('NFC').trim();
}
