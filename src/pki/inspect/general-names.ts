/**
 * GeneralName (RFC 5280 §4.2.1.6) decoding for display: subjectAltName,
 * issuerAltName, authorityKeyIdentifier, CRL distribution points, AIA and
 * name constraints all carry them.
 */
import { readDerChildren, type DerElement } from '../der.js';
import { formatSlash, type DistinguishedName } from '../names.js';
import { fromX509Name } from '../x509-name.js';
import { TAG, decodeString, hex, invalid, oidOf } from './asn1.js';
import { formatIpBytes } from '../ip-text.js';

/** The GeneralName choices (RFC 5280 §4.2.1.6). */
export type GeneralNameType =
  'otherName' | 'email' | 'dns' | 'x400Address' | 'dirName' | 'ediPartyName' | 'uri' | 'ip' | 'rid';

/** One decoded GeneralName. */
export interface GeneralNameDescription {
  type: GeneralNameType;
  /**
   * The value: the name for dns/email/uri; the address for ip (IPv6 compressed
   * per RFC 5952; `address/prefix` in name constraints); the slash-form DN for
   * dirName; the OID for rid; the text value for otherName (hex of the DER
   * value when it is not a string); hex for x400Address and ediPartyName.
   */
  value: string;
  /** The type-id, for otherName (`1.3.6.1.4.1.311.20.2.3` is a Microsoft UPN). */
  oid?: string;
  /** The DN, for dirName. */
  dn?: DistinguishedName;
  /** As OpenSSL prints it: `DNS:a.example`, `IP Address:10.0.0.1`, `DirName:/C=BR/CN=x`. */
  text: string;
}

const UPN_OID = '1.3.6.1.4.1.311.20.2.3';

function ipv6OpenSsl(bytes: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16).toUpperCase());
  return groups.join(':');
}

function prefixLength(mask: Buffer): number | undefined {
  let n = 0;
  let seenZero = false;
  for (const b of mask) {
    for (let i = 7; i >= 0; i--) {
      if ((b >> i) & 1) {
        if (seenZero) return undefined;
        n++;
      } else seenZero = true;
    }
  }
  return n;
}

function describeIp(bytes: Buffer, inNameConstraints: boolean): { value: string; text: string } {
  if (!inNameConstraints) {
    if (bytes.length === 4)
      return { value: formatIpBytes(bytes), text: `IP Address:${formatIpBytes(bytes)}` };
    if (bytes.length === 16)
      return { value: formatIpBytes(bytes), text: `IP Address:${ipv6OpenSsl(bytes)}` };
    return { value: hex(bytes), text: 'IP Address:<invalid>' };
  }
  // Name constraints carry address + mask (RFC 5280 §4.2.1.10).
  if (bytes.length === 8 || bytes.length === 32) {
    const half = bytes.length / 2;
    const addr = bytes.subarray(0, half);
    const mask = bytes.subarray(half);
    const v4 = half === 4;
    const prefix = prefixLength(mask);
    const value = `${formatIpBytes(addr)}/${prefix ?? formatIpBytes(mask)}`;
    const text = `IP:${v4 ? formatIpBytes(addr) : ipv6OpenSsl(addr)}/${v4 ? formatIpBytes(mask) : ipv6OpenSsl(mask)}`;
    return { value, text };
  }
  return { value: hex(bytes), text: 'IP:<invalid>' };
}

/**
 * Decodes one GeneralName element.
 * @param inNameConstraints - iPAddress holds address and mask (RFC 5280 §4.2.1.10)
 * @throws MTLS_DER_INVALID on malformed input
 */
export function decodeGeneralName(
  el: DerElement,
  what: string,
  inNameConstraints = false,
): GeneralNameDescription {
  const ia5 = (): string => el.content.toString('latin1');
  switch (el.tag) {
    case 0xa0: {
      // otherName ::= SEQUENCE { type-id OID, value [0] EXPLICIT ANY }
      const [typeId, value] = readDerChildren(el.content, what);
      const oid = oidOf(typeId, `${what} otherName`);
      const inner = value ? readDerChildren(value.content, what)[0] : undefined;
      let text: string | undefined;
      if (inner) {
        try {
          text = decodeString(inner, what);
        } catch {
          text = undefined;
        }
      }
      if (text === undefined)
        return {
          type: 'otherName',
          oid,
          value: inner ? hex(inner.raw) : '',
          text: 'othername:<unsupported>',
        };
      return {
        type: 'otherName',
        oid,
        value: text,
        text: `othername: ${oid === UPN_OID ? 'UPN' : oid}::${text}`,
      };
    }
    case 0x81:
      return { type: 'email', value: ia5(), text: `email:${ia5()}` };
    case 0x82:
      return { type: 'dns', value: ia5(), text: `DNS:${ia5()}` };
    case 0xa3:
      return { type: 'x400Address', value: hex(el.content), text: 'X400Name:<unsupported>' };
    case 0xa4: {
      const [nameEl] = readDerChildren(el.content, what);
      if (!nameEl || nameEl.tag !== TAG.sequence) invalid(what, 'directoryName holds no Name');
      const dn = fromX509Name(nameEl.raw);
      const slash = formatSlash(dn);
      return { type: 'dirName', value: slash, dn, text: `DirName:${slash}` };
    }
    case 0xa5:
      return { type: 'ediPartyName', value: hex(el.content), text: 'EdiPartyName:<unsupported>' };
    case 0x86:
      return { type: 'uri', value: ia5(), text: `URI:${ia5()}` };
    case 0x87: {
      const ip = describeIp(el.content, inNameConstraints);
      return { type: 'ip', ...ip };
    }
    case 0x88: {
      const oid = oidOf({ tag: TAG.oid, content: el.content, raw: el.raw }, what);
      return { type: 'rid', value: oid, text: `Registered ID:${oid}` };
    }
    default:
      return invalid(what, `unknown GeneralName tag 0x${el.tag.toString(16)}`);
  }
}

/** Decodes the content of a GeneralNames SEQUENCE (or an implicitly tagged one). */
export function decodeGeneralNames(
  content: Buffer,
  what: string,
  inNameConstraints = false,
): GeneralNameDescription[] {
  return readDerChildren(content, what).map((el) => decodeGeneralName(el, what, inNameConstraints));
}
