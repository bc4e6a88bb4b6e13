/**
 * Distinguished names as the validator needs them: decoded attribute by
 * attribute, compared per RFC 5280 §7.1 (the LDAP StringPrep rules of RFC 4518,
 * reduced to what matters for ASCII and UTF-8 names: case folding and
 * insignificant space), and tested for the subtree relation name constraints
 * use (§4.2.1.10).
 */
import type { DerElement } from '../der.js';
import { bad, children, oid, present, T } from './der-fields.js';
import { escapeDnValue } from '../names.js';

/** One attribute of a relative distinguished name. */
export interface NameAttribute {
  oid: string;
  /** The ASN.1 string tag. */
  tag: number;
  /** The decoded text (for string types), or hex of the raw value. */
  text: string;
}

/** A decoded Name. */
export interface DecodedName {
  /** RDNs in order, most significant first, each a set of attributes. */
  rdns: NameAttribute[][];
  /** The DER encoding. */
  raw: Buffer;
  /** Canonical form for comparisons (§7.1). */
  key: string;
}

const STRING_TAGS = new Set([0x0c, 0x13, 0x14, 0x16, 0x1a, 0x1c, 0x1e]);
/** emailAddress (PKCS #9): an IA5String; used for the email name constraints of §4.2.1.10. */
export const EMAIL_ADDRESS_OID = '1.2.840.113549.1.9.1';
/** commonName (X.520). */
export const COMMON_NAME_OID = '2.5.4.3';

function decodeText(el: DerElement, what: string): string {
  switch (el.tag) {
    case 0x0c: {
      const s = el.content.toString('utf8');
      if (Buffer.from(s, 'utf8').compare(el.content) !== 0)
        bad(what, 'UTF8String is not valid UTF-8');
      return s;
    }
    case 0x1e:
      if (el.content.length % 2) bad(what, 'BMPString has an odd length');
      return Buffer.from(el.content).swap16().toString('utf16le');
    case 0x1c: {
      if (el.content.length % 4) bad(what, 'UniversalString length is not a multiple of 4');
      let s = '';
      for (let i = 0; i < el.content.length; i += 4)
        s += String.fromCodePoint(el.content.readUInt32BE(i));
      return s;
    }
    default:
      return el.content.toString('latin1');
  }
}

/** RFC 4518 §2.6 insignificant space handling and §2.4 case folding, reduced. */
function prepare(text: string): string {
  return text.normalize('NFKC').trim().replace(/\s+/g, ' ').toLowerCase();
}

/**
 * Decodes a Name (RFC 5280 §4.1.2.4). An RDN must hold at least one
 * attribute (X.501); attribute values may be any type, compared as bytes
 * unless they are strings.
 * @throws DerFieldError when malformed
 */
export function decodeName(el: DerElement | undefined, what: string): DecodedName {
  const rdns: NameAttribute[][] = [];
  for (const rdnEl of children(el, T.sequence, what)) {
    const attrs = children(rdnEl, T.set, `${what} RDN`);
    if (attrs.length === 0) bad(what, 'an RDN holds no attribute');
    rdns.push(
      attrs.map((a) => {
        const [type, value, extra] = children(a, T.sequence, `${what} attribute`);
        if (!value || extra) bad(what, 'an attribute is not (type, value)');
        const t = oid(type, `${what} attribute type`);
        const text = STRING_TAGS.has(value.tag)
          ? decodeText(value, `${what} ${t}`)
          : value.raw.toString('hex');
        return { oid: t, tag: value.tag, text };
      }),
    );
  }
  return { rdns, raw: present(el, what).raw, key: rdnKey(rdns) };
}

/** True when the name has no RDN (an empty subject, RFC 5280 §4.1.2.6). */
export function isEmptyName(n: DecodedName): boolean {
  return n.rdns.length === 0;
}

/** True when `name` lies within the subtree rooted at `base` (its leading RDNs equal base's, §4.2.1.10). */
export function nameWithinSubtree(name: DecodedName, base: DecodedName): boolean {
  if (base.rdns.length > name.rdns.length) return false;
  return rdnKey(name.rdns.slice(0, base.rdns.length)) === base.key;
}

/** Canonical form of RDNs: attributes of each RDN sorted (a SET), strings prepared. */
function rdnKey(rdns: NameAttribute[][]): string {
  return JSON.stringify(
    rdns.map((rdn) =>
      rdn.map((a) => `${a.oid}=${STRING_TAGS.has(a.tag) ? prepare(a.text) : `#${a.text}`}`).sort(),
    ),
  );
}

/** The values of one attribute type, in order. */
export function attributeValues(n: DecodedName, attributeOid: string): string[] {
  return n.rdns
    .flat()
    .filter((a) => a.oid === attributeOid)
    .map((a) => a.text);
}

/** The most RDNs {@link nameText} prints in full. */
const MAX_SHOWN_RDNS = 16;

/**
 * The display form every command uses (`C=BR, O=Acme, CN=x`: RFC 4514
 * attribute strings in certificate order), with OIDs for unnamed types.
 */
export function nameText(n: DecodedName): string {
  const short: Record<string, string> = {
    '2.5.4.3': 'CN',
    '2.5.4.6': 'C',
    '2.5.4.7': 'L',
    '2.5.4.8': 'ST',
    '2.5.4.10': 'O',
    '2.5.4.11': 'OU',
    [EMAIL_ADDRESS_OID]: 'emailAddress',
  };
  if (n.rdns.length === 0) return '(empty)';
  // A name of thousands of RDNs (the shape of name-constraint DoS inputs) would bury the
  // reason under pages of text: show the head and count the rest.
  const shown = n.rdns.length > MAX_SHOWN_RDNS ? n.rdns.slice(0, MAX_SHOWN_RDNS - 1) : n.rdns;
  const text = shown
    .map((rdn) => rdn.map((a) => `${short[a.oid] ?? a.oid}=${escapeDnValue(a.text)}`).join('+'))
    .join(', ');
  return shown.length < n.rdns.length
    ? `${text}, … (${n.rdns.length - shown.length} more RDNs)`
    : text;
}
