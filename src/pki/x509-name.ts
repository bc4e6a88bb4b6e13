/**
 * Bridges {@link DistinguishedName} and @peculiar/x509's Name, choosing ASN.1
 * string types as OpenSSL does with `string_mask = utf8only`: countryName is
 * PrintableString (X.520 fixes it), emailAddress and DC are IA5String (PKCS#9,
 * RFC 4519), everything else UTF8String (RFC 5280 §4.1.2.6).
 */
import { AsnConvert } from '@peculiar/asn1-schema';
import { Name as AsnName } from '@peculiar/asn1-x509';
import { Name } from '@peculiar/x509';
import { MtlsError } from '../errors/index.js';
import { assertSubjectBounds, findAttributeType, type DistinguishedName } from './names.js';

const PRINTABLE = new Set(['2.5.4.6', '2.5.4.5']);
const IA5 = new Set(['1.2.840.113549.1.9.1', '0.9.2342.19200300.100.1.25']);

const PRINTABLE_RE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;
// IA5String (X.680 §41: the 128 ASCII characters).
const IA5_RE = /^\p{ASCII}*$/u;

/**
 * Builds a Name (one attribute per RDN, in the given order).
 * @throws MTLS_BAD_SUBJECT when a value does not fit its attribute's string
 *   type (PrintableString for C and serialNumber, IA5String for emailAddress
 *   and DC), which strict parsers such as Go's and `openssl req` reject, or
 *   exceeds its RFC 5280 upper bound ({@link assertSubjectBounds})
 */
export function toX509Name(dn: DistinguishedName): Name {
  assertSubjectBounds(dn);
  const json = dn.map((a) => {
    const oid = findAttributeType(a.type)?.oid ?? a.type;
    if (PRINTABLE.has(oid) && !PRINTABLE_RE.test(a.value)) {
      throw new MtlsError(
        'MTLS_BAD_SUBJECT',
        `${a.type} "${a.value}" has characters a PrintableString cannot hold (letters, digits, space and '()+,-./:=? only)`,
        { subject: a.type },
      );
    }
    if (IA5.has(oid) && !IA5_RE.test(a.value)) {
      throw new MtlsError('MTLS_BAD_SUBJECT', `${a.type} "${a.value}" must be ASCII (IA5String)`, {
        subject: a.type,
      });
    }
    const value = PRINTABLE.has(oid)
      ? { printableString: a.value }
      : IA5.has(oid)
        ? { ia5String: a.value }
        : { utf8String: a.value };
    return { [oid]: [value] };
  });
  return new Name(json);
}

/**
 * Reads a Name (or its DER) into a DN. Attribute types are resolved by OID
 * against mtlskit's table (OpenSSL's short names: GN, title, …); unknown
 * types stay as dotted OIDs.
 */
export function fromX509Name(name: Name | ArrayBuffer | Uint8Array): DistinguishedName {
  const der = name instanceof Name ? name.toArrayBuffer() : name;
  const rdns = AsnConvert.parse(der, AsnName);
  const out: DistinguishedName = [];
  for (const rdn of rdns) {
    for (const atv of rdn)
      out.push({
        type: findAttributeType(atv.type)?.short ?? atv.type,
        value: atv.value.toString(),
      });
  }
  return out;
}
