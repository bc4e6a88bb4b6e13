/**
 * Looks up the OID of a well-known extended key usage. {@link EKU_OIDS} is
 * typed as a string record so that user-given names can be looked up in it;
 * the names used by the code itself are always present.
 */
import { MtlsError } from '../errors/index.js';
import { EKU_OIDS } from './profile.js';

/** An EKU name the code itself refers to. */
export type WellKnownEku = 'serverAuth' | 'clientAuth' | 'anyExtendedKeyUsage';

/**
 * The dotted OID of `name`.
 * @throws MTLS_INTERNAL if EKU_OIDS lost the entry (a bug)
 */
export function ekuOid(name: WellKnownEku): string {
  const oid = EKU_OIDS[name];
  if (oid === undefined) throw new MtlsError('MTLS_INTERNAL', `EKU_OIDS has no entry ${name}`);
  return oid;
}
