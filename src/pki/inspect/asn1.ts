/**
 * Small DER readers for inspection (X.690 §8): strings, times, integers and
 * named bit lists, on top of the TLV reader in `../der.ts`.
 */
import { MtlsError } from '../../errors/index.js';
import { decodeOid, readDer, readDerChildren, type DerElement } from '../der.js';
import { at } from '../bytes.js';

/** Universal tags used here (X.680 §8.4). */
export const TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  utf8String: 0x0c,
  printableString: 0x13,
  t61String: 0x14,
  ia5String: 0x16,
  utcTime: 0x17,
  generalizedTime: 0x18,
  visibleString: 0x1a,
  universalString: 0x1c,
  bmpString: 0x1e,
  sequence: 0x30,
  set: 0x31,
} as const;

/** Throws MTLS_DER_INVALID naming what was being read. */
export function invalid(what: string, why: string): never {
  throw new MtlsError('MTLS_DER_INVALID', `${what} is not valid DER: ${why}`, {
    subject: what,
    hint: `The file is corrupt or truncated at the ${what}; get a fresh copy from its source (or re-export it) and try again.`,
  });
}

/** Reads exactly one TLV spanning the whole buffer. */
export function readWhole(buf: Buffer, what: string): DerElement {
  const el = readDer(buf, 0, what);
  if (el.next !== buf.length) invalid(what, `${buf.length - el.next} bytes of trailing data`);
  return { tag: el.tag, content: el.content, raw: el.raw };
}

/** The children of a constructed element, after checking its tag. */
export function childrenOf(el: DerElement | undefined, tag: number, what: string): DerElement[] {
  if (!el) invalid(what, 'element missing');
  if (el.tag !== tag)
    invalid(what, `expected tag 0x${tag.toString(16)}, found 0x${el.tag.toString(16)}`);
  return readDerChildren(el.content, what);
}

/** Decodes an OBJECT IDENTIFIER element. */
export function oidOf(el: DerElement | undefined, what: string): string {
  if (!el || el.tag !== TAG.oid || el.content.length === 0)
    invalid(what, 'expected an OBJECT IDENTIFIER');
  return decodeOid(el.content);
}

/** Lower-case hex of bytes. */
export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** `aa:bb:cc` (or upper-case `AA:BB:CC`) from hex. */
export function colonHex(hexText: string, upper = false): string {
  const pairs = hexText.match(/../g) ?? [];
  const s = pairs.join(':');
  return upper ? s.toUpperCase() : s.toLowerCase();
}

/** An INTEGER's magnitude as upper-case hex without leading zero bytes (`00` for zero). */
export function integerHex(content: Buffer): string {
  let i = 0;
  while (i < content.length - 1 && content[i] === 0) i++;
  const h = content.subarray(i).toString('hex').toUpperCase();
  return h === '' ? '00' : h;
}

/** True when a DER INTEGER's content is negative (two's complement sign bit). */
export function integerIsNegative(content: Buffer): boolean {
  return ((content[0] ?? 0) & 0x80) !== 0; // empty content: not negative
}

/** A non-negative INTEGER as a bigint. */
export function integerValue(el: DerElement | undefined, what: string): bigint {
  if (!el || el.tag !== TAG.integer || el.content.length === 0)
    invalid(what, 'expected an INTEGER');
  if (integerIsNegative(el.content)) invalid(what, 'negative INTEGER');
  let v = 0n;
  for (const b of el.content) v = (v << 8n) | BigInt(b);
  return v;
}

/** A small non-negative INTEGER as a number. */
export function smallInteger(el: DerElement | undefined, what: string): number {
  const v = integerValue(el, what);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) invalid(what, 'INTEGER too large');
  return Number(v);
}

/** Decodes the character string types X.509 uses to text. */
export function decodeString(el: DerElement, what: string): string {
  switch (el.tag) {
    case TAG.utf8String:
      return el.content.toString('utf8');
    case TAG.printableString:
    case TAG.ia5String:
    case TAG.visibleString:
      return el.content.toString('latin1');
    case TAG.t61String:
      return el.content.toString('latin1');
    case TAG.bmpString:
      return Buffer.from(el.content).swap16().toString('utf16le');
    case TAG.universalString: {
      let s = '';
      for (let i = 0; i + 3 < el.content.length; i += 4)
        s += String.fromCodePoint(el.content.readUInt32BE(i));
      return s;
    }
    default:
      return invalid(what, `tag 0x${el.tag.toString(16)} is not a character string`);
  }
}

/** Decodes UTCTime (RFC 5280 §4.1.2.5.1: YY ≥ 50 is 19YY) or GeneralizedTime (§4.1.2.5.2). */
export function decodeTime(el: DerElement | undefined, what: string): Date {
  if (!el || (el.tag !== TAG.utcTime && el.tag !== TAG.generalizedTime))
    invalid(what, 'expected UTCTime or GeneralizedTime');
  const s = el.content.toString('latin1');
  const m =
    el.tag === TAG.utcTime
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?(Z|[+-]\d{4})$/.exec(s)
      : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?(?:\.(\d+))?(Z|[+-]\d{4})?$/.exec(s);
  if (!m) invalid(what, `bad time "${s}"`);
  let year = Number(m[1]);
  if (el.tag === TAG.utcTime) year += year >= 50 ? 1900 : 2000;
  const frac = el.tag === TAG.generalizedTime && m[7] ? Number(`0.${m[7]}`) * 1000 : 0;
  const zone = (el.tag === TAG.utcTime ? m[7] : m[8]) ?? 'Z';
  let ms =
    Date.UTC(
      year,
      Number(m[2]) - 1,
      Number(m[3]),
      Number(m[4]),
      Number(m[5]),
      Number(m[6] ?? '0'),
    ) + Math.round(frac);
  if (zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    ms -= sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3, 5))) * 60_000;
  }
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) invalid(what, `bad time "${s}"`);
  return d;
}

/** The bit positions set in a BIT STRING (bit 0 = most significant bit of the first octet). */
export function bitStringBits(el: DerElement | undefined, what: string): number[] {
  if (!el || el.tag !== TAG.bitString || el.content.length === 0)
    invalid(what, 'expected a BIT STRING');
  const unused = at(el.content, 0);
  if (unused > 7) invalid(what, 'more than 7 unused bits');
  const bytes = el.content.subarray(1);
  const total = bytes.length * 8 - unused;
  const out: number[] = [];
  for (let i = 0; i < total; i++) if ((at(bytes, i >> 3) & (0x80 >> (i & 7))) !== 0) out.push(i);
  return out;
}

/** The bytes of a BIT STRING (without the unused-bits octet). */
export function bitStringBytes(el: DerElement | undefined, what: string): Buffer {
  if (!el || el.tag !== TAG.bitString || el.content.length === 0)
    invalid(what, 'expected a BIT STRING');
  return el.content.subarray(1);
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Formats a date as OpenSSL's ASN1_TIME_print does: `Nov 28 10:12:07 2026 GMT` (day space-padded). */
export function formatOpenSslDate(date: Date): string {
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return `${MONTHS[date.getUTCMonth()]} ${String(date.getUTCDate()).padStart(2, ' ')} ${p2(date.getUTCHours())}:${p2(date.getUTCMinutes())}:${p2(
    date.getUTCSeconds(),
  )} ${date.getUTCFullYear()} GMT`;
}

/** An ISO-8601 date without milliseconds when they are zero (`2026-11-28T10:12:07Z`). */
export function isoDate(date: Date): string {
  return date.toISOString().replace('.000Z', 'Z');
}
