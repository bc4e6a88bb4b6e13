/**
 * GeneralName (RFC 5280 §4.2.1.6) decoding with the syntax checks path
 * validation needs: dNSName in "preferred name syntax" (RFC 1034 §3.5, as
 * amended by RFC 1123 §2.1), iPAddress of 4 or 16 octets (8 or 32 with a mask
 * in name constraints), rfc822Name as an RFC 5321 §4.1.2 Mailbox (or a host
 * or domain in name constraints), and directoryName as a Name.
 */
import type { DerElement } from '../der.js';
import { formatIpBytes } from '../ip-text.js';
import { bad, children, oid, T } from './der-fields.js';
import { decodeName, type DecodedName } from './distinguished-name.js';

/** A decoded GeneralName. */
export type GeneralName =
  | { type: 'dns'; value: string }
  | { type: 'email'; value: string }
  | { type: 'uri'; value: string }
  | { type: 'ip'; bytes: Buffer }
  | { type: 'ipRange'; address: Buffer; mask: Buffer }
  | { type: 'dirName'; name: DecodedName }
  | { type: 'otherName'; oid: string }
  | { type: 'rid' | 'x400Address' | 'ediPartyName' };

/** Where a GeneralName appears; name constraints change the meaning of some forms. */
export type GeneralNameContext = 'name' | 'constraint';

function ia5(el: DerElement, what: string): string {
  for (const b of el.content) if (b > 0x7f) bad(what, 'IA5String holds a non-ASCII byte');
  return el.content.toString('latin1');
}

const LABEL_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

/**
 * True for a DNS name in preferred name syntax: labels of letters, digits and
 * hyphens, not starting or ending with a hyphen, 1–63 octets, 253 in all.
 * With `wildcard`, the left-most label may be exactly `*` (RFC 9525 §6.3).
 */
export function isValidDnsName(name: string, wildcard = false): boolean {
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.split('.');
  return labels.every(
    (l, i) => LABEL_RE.test(l) || (wildcard && i === 0 && l === '*' && labels.length > 1),
  );
}

/** The atext characters of RFC 5322 §3.2.3, which a Dot-string local part may hold. */
const ATEXT_RE = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+$/;

/** True for an RFC 5321 §4.1.2 Mailbox: Dot-string or Quoted-string local part, `@`, a domain. */
export function isValidMailbox(value: string): boolean {
  const at = value.lastIndexOf('@');
  if (at <= 0) return false;
  const local = value.slice(0, at);
  const domain = value.slice(at + 1);
  if (!isValidDnsName(domain)) return false;
  if (local.startsWith('"')) return /^"([\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*"$/.test(local);
  return local.split('.').every((atom) => ATEXT_RE.test(atom));
}

/**
 * Decodes one GeneralName, checking its syntax for `context`.
 * @throws DerFieldError when malformed (RFC 5280 §4.2.1.6 "MUST" rules)
 */
export function decodeGeneralName(
  el: DerElement,
  what: string,
  context: GeneralNameContext,
): GeneralName {
  switch (el.tag) {
    case 0xa0: {
      const [typeId, value, extra] = children(
        { ...el, tag: T.sequence },
        T.sequence,
        `${what} otherName`,
      );
      if (!value || value.tag !== 0xa0 || extra) bad(what, 'otherName is not (type-id, [0] value)');
      return { type: 'otherName', oid: oid(typeId, `${what} otherName type-id`) };
    }
    case 0x81: {
      const v = ia5(el, what);
      if (context === 'name' && !isValidMailbox(v))
        bad(what, `rfc822Name "${v}" is not a mailbox (RFC 5280 §4.2.1.6)`);
      if (context === 'constraint' && !isValidEmailConstraint(v))
        bad(
          what,
          `rfc822Name constraint "${v}" is neither a mailbox, a host nor a domain (RFC 5280 §4.2.1.10)`,
        );
      return { type: 'email', value: v };
    }
    case 0x82: {
      const v = ia5(el, what);
      // Name constraints take a host or domain, the empty string meaning "every name" (§4.2.1.10).
      const ok = context === 'constraint' ? v === '' || isValidDnsName(v) : isValidDnsName(v, true);
      if (!ok) bad(what, `dNSName "${v}" is not in preferred name syntax (RFC 5280 §4.2.1.6)`);
      return { type: 'dns', value: v };
    }
    case 0xa3:
      return { type: 'x400Address' };
    case 0xa4: {
      const [name, extra] = children(
        { ...el, tag: T.sequence },
        T.sequence,
        `${what} directoryName`,
      );
      if (extra) bad(what, 'directoryName holds more than one Name');
      return { type: 'dirName', name: decodeName(name, `${what} directoryName`) };
    }
    case 0xa5:
      return { type: 'ediPartyName' };
    case 0x86: {
      const v = ia5(el, what);
      if (context === 'name' && !/^[A-Za-z][A-Za-z0-9+.-]*:/.test(v))
        bad(what, `URI "${v}" has no scheme (RFC 3986 §3)`);
      return { type: 'uri', value: v };
    }
    case 0x87: {
      const b = el.content;
      if (context === 'name') {
        if (b.length !== 4 && b.length !== 16)
          bad(what, `iPAddress of ${b.length} octets (4 or 16 expected, RFC 5280 §4.2.1.6)`);
        return { type: 'ip', bytes: b };
      }
      if (b.length !== 8 && b.length !== 32)
        bad(
          what,
          `iPAddress constraint of ${b.length} octets (8 or 32 expected, RFC 5280 §4.2.1.10)`,
        );
      const address = b.subarray(0, b.length / 2);
      const mask = b.subarray(b.length / 2);
      if (!isContiguousMask(mask))
        bad(what, 'iPAddress constraint mask is not a contiguous prefix');
      return { type: 'ipRange', address, mask };
    }
    case 0x88:
      oid({ tag: T.oid, content: el.content, raw: el.raw }, `${what} registeredID`);
      return { type: 'rid' };
    default:
      return bad(what, `unknown GeneralName tag 0x${el.tag.toString(16)}`);
  }
}

function isValidEmailConstraint(v: string): boolean {
  if (v.includes('@')) return isValidMailbox(v);
  return isValidDnsName(v.startsWith('.') ? v.slice(1) : v);
}

function isContiguousMask(mask: Buffer): boolean {
  let zero = false;
  for (const byte of mask) {
    for (let i = 7; i >= 0; i--) {
      const bit = (byte >> i) & 1;
      if (bit && zero) return false;
      if (!bit) zero = true;
    }
  }
  return true;
}

/**
 * Decodes a GeneralNames SEQUENCE (at least one name, §4.2.1.6).
 * @throws DerFieldError when malformed
 */
export function decodeGeneralNames(
  el: DerElement | undefined,
  what: string,
  context: GeneralNameContext = 'name',
): GeneralName[] {
  const items = children(el, T.sequence, what);
  if (items.length === 0) bad(what, 'GeneralNames is empty (SIZE (1..MAX))');
  return items.map((g) => decodeGeneralName(g, what, context));
}

/** A short text form for messages. */
export function generalNameText(n: GeneralName): string {
  switch (n.type) {
    case 'dns':
      return `DNS:${n.value}`;
    case 'email':
      return `email:${n.value}`;
    case 'uri':
      return `URI:${n.value}`;
    case 'ip':
      return `IP:${formatIpBytes(n.bytes)}`;
    case 'ipRange':
      return `IP:${formatIpBytes(n.address)}/${prefixLength(n.mask)}`;
    case 'dirName':
      return 'DirName';
    case 'otherName':
      return `otherName:${n.oid}`;
    default:
      return n.type;
  }
}

/** The prefix length of a contiguous mask. */
export function prefixLength(mask: Buffer): number {
  let n = 0;
  for (const b of mask) for (let i = 7; i >= 0; i--) n += (b >> i) & 1;
  return n;
}
