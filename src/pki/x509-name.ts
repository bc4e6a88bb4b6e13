/**
 * Bridges {@link DistinguishedName} and @peculiar/x509's Name, choosing ASN.1
 * string types as OpenSSL does with `string_mask = utf8only`: countryName is
 * PrintableString (X.520 fixes it), emailAddress and DC are IA5String (PKCS#9,
 * RFC 4519), everything else UTF8String (RFC 5280 §4.1.2.6).
 */
import { Name } from '@peculiar/x509';
import { findAttributeType, type DistinguishedName } from './names.js';

const PRINTABLE = new Set(['2.5.4.6', '2.5.4.5']);
const IA5 = new Set(['1.2.840.113549.1.9.1', '0.9.2342.19200300.100.1.25']);

/** Builds a Name (one attribute per RDN, in the given order). */
export function toX509Name(dn: DistinguishedName): Name {
  const json = dn.map((a) => {
    const oid = findAttributeType(a.type)?.oid ?? a.type;
    const value = PRINTABLE.has(oid) ? { printableString: a.value } : IA5.has(oid) ? { ia5String: a.value } : { utf8String: a.value };
    return { [oid]: [value] };
  });
  return new Name(json as unknown as ConstructorParameters<typeof Name>[0]);
}

/** Reads a Name (or its DER) into a DN with short attribute names. */
export function fromX509Name(name: Name | ArrayBuffer | Uint8Array): DistinguishedName {
  const n = name instanceof Name ? name : new Name(name instanceof Uint8Array ? name : new Uint8Array(name));
  const out: DistinguishedName = [];
  for (const rdn of n.toJSON()) {
    for (const [type, values] of Object.entries(rdn)) {
      const short = findAttributeType(type)?.short ?? type;
      for (const v of values) out.push({ type: short, value: v });
    }
  }
  return out;
}
