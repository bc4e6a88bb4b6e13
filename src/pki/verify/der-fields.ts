/**
 * Strict readers for the DER fields the validator depends on (X.690 §8,
 * §10, §11). Each returns a value or throws {@link DerFieldError}; the
 * certificate and CRL parsers turn that into a `malformed_*` result, so a
 * hostile encoding is a rejection, never a crash.
 */
import { decodeOid, readDer, readDerChildren, type DerElement } from '../der.js';
import { at } from '../bytes.js';
import { errorMessage } from '../../errors/mtls-error.js';

/** A DER field that does not follow X.690 DER or the RFC 5280 ASN.1. */
export class DerFieldError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DerFieldError';
  }
}

/** Throws a {@link DerFieldError}. */
export function bad(what: string, why: string): never {
  throw new DerFieldError(`${what}: ${why}`);
}

/** Universal and context tags used by the validator. */
export const T = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
} as const;

/** Reads exactly one element filling `buf`. */
export function one(buf: Buffer, what: string): DerElement {
  let el;
  try {
    el = readDer(buf, 0, what);
  } catch (e) {
    bad(what, errorMessage(e));
  }
  if (el.next !== buf.length) bad(what, `${buf.length - el.next} bytes of trailing data`);
  return { tag: el.tag, content: el.content, raw: el.raw };
}

/** The children of a constructed element of the given tag. */
export function children(el: DerElement | undefined, tag: number, what: string): DerElement[] {
  if (!el) bad(what, 'missing');
  if (el.tag !== tag)
    bad(what, `expected tag 0x${tag.toString(16)}, found 0x${el.tag.toString(16)}`);
  try {
    return readDerChildren(el.content, what);
  } catch (e) {
    return bad(what, errorMessage(e));
  }
}

/** An OBJECT IDENTIFIER in dotted form. */
export function oid(el: DerElement | undefined, what: string): string {
  if (!el || el.tag !== T.oid || el.content.length === 0)
    bad(what, 'expected an OBJECT IDENTIFIER');
  if ((at(el.content, el.content.length - 1) & 0x80) !== 0)
    bad(what, 'truncated OBJECT IDENTIFIER');
  return decodeOid(el.content);
}

/** An element a parser already required (its children were read); narrows away `undefined`. */
export function present(el: DerElement | undefined, what: string): DerElement {
  return el ?? bad(what, 'missing');
}

/** A DER BOOLEAN: 0x00 or 0xFF only (X.690 §11.1). */
export function boolean(el: DerElement | undefined, what: string): boolean {
  if (!el || el.tag !== T.boolean || el.content.length !== 1) bad(what, 'expected a BOOLEAN');
  const v = el.content[0];
  if (v !== 0x00 && v !== 0xff) bad(what, 'BOOLEAN is not DER (must be 0x00 or 0xFF)');
  return v === 0xff;
}

/** INTEGER content bytes, checked for the minimal encoding X.690 §8.3.2 requires. */
export function integerBytes(
  el: DerElement | undefined,
  what: string,
  tag: number = T.integer,
): Buffer {
  if (!el || el.tag !== tag || el.content.length === 0) bad(what, 'expected an INTEGER');
  const c = el.content;
  if (
    c.length > 1 &&
    ((c[0] === 0x00 && (at(c, 1) & 0x80) === 0) || (c[0] === 0xff && (at(c, 1) & 0x80) !== 0))
  ) {
    bad(what, 'INTEGER is not minimally encoded');
  }
  return c;
}

/** A small non-negative INTEGER. */
export function smallUnsigned(el: DerElement | undefined, what: string): number {
  const c = integerBytes(el, what);
  if ((at(c, 0) & 0x80) !== 0) bad(what, 'negative INTEGER');
  if (c.length > 6) bad(what, 'INTEGER too large');
  let v = 0;
  for (const b of c) v = v * 256 + b;
  return v;
}

/** BIT STRING: the bytes and the count of unused trailing bits. */
export function bitString(
  el: DerElement | undefined,
  what: string,
): { bytes: Buffer; unused: number } {
  if (!el || el.tag !== T.bitString || el.content.length === 0) bad(what, 'expected a BIT STRING');
  const unused = at(el.content, 0);
  if (unused > 7 || (unused > 0 && el.content.length === 1)) bad(what, 'bad unused-bits count');
  const bytes = el.content.subarray(1);
  if (unused > 0 && (at(bytes, bytes.length - 1) & ((1 << unused) - 1)) !== 0)
    bad(what, 'unused bits are not zero (X.690 §11.2.1)');
  return { bytes, unused };
}

/** The set bit positions of a named-bit BIT STRING (bit 0 is the most significant bit of the first byte). */
export function namedBits(el: DerElement | undefined, what: string): number[] {
  const { bytes, unused } = bitString(el, what);
  const out: number[] = [];
  const total = bytes.length * 8 - unused;
  for (let i = 0; i < total; i++) if ((at(bytes, i >> 3) & (0x80 >> (i & 7))) !== 0) out.push(i);
  return out;
}

/** The UTCTime (YYMMDDHHMMSSZ) and GeneralizedTime (YYYYMMDDHHMMSSZ) forms RFC 5280 §4.1.2.5.1–2 allow: seconds, `Z`, no fractions. */
const UTC_RE = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/;
const GEN_RE = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/;

/**
 * A certificate or CRL time (RFC 5280 §4.1.2.5, §5.1.2.4): UTCTime for years
 * 1950–2049 (YY ≥ 50 is 19YY), GeneralizedTime otherwise, always in UTC with
 * seconds and without fractional seconds. Anything else is malformed.
 */
export function time(el: DerElement | undefined, what: string): Date {
  if (!el || (el.tag !== T.utcTime && el.tag !== T.generalizedTime))
    bad(what, 'expected UTCTime or GeneralizedTime');
  const s = el.content.toString('latin1');
  const utc = el.tag === T.utcTime;
  const m = (utc ? UTC_RE : GEN_RE).exec(s);
  if (!m)
    bad(
      what,
      `time "${s}" is not ${utc ? 'YYMMDDHHMMSSZ' : 'YYYYMMDDHHMMSSZ'} (RFC 5280 §4.1.2.5)`,
    );
  let year = Number(m[1]);
  if (utc) year += year >= 50 ? 1900 : 2000;
  else if (year >= 1950 && year <= 2049)
    bad(what, `GeneralizedTime "${s}" is used for a year UTCTime must encode (RFC 5280 §4.1.2.5)`);
  const [mo, d, h, mi, se] = [m[2], m[3], m[4], m[5], m[6]].map(Number);
  // The regex has exactly six groups, so all five are present.
  if (
    mo === undefined ||
    d === undefined ||
    h === undefined ||
    mi === undefined ||
    se === undefined
  )
    return bad(what, `time "${s}" is not a valid date`);
  const ms = Date.UTC(year, mo - 1, d, h, mi, se);
  const back = new Date(ms);
  if (
    back.getUTCFullYear() !== year ||
    back.getUTCMonth() !== mo - 1 ||
    back.getUTCDate() !== d ||
    h > 23 ||
    mi > 59 ||
    se > 59
  ) {
    bad(what, `time "${s}" is not a valid date`);
  }
  return back;
}

/** An AlgorithmIdentifier: the OID, the raw parameters (if any) and the whole encoding. */
export interface AlgorithmIdentifier {
  oid: string;
  params?: DerElement;
  raw: Buffer;
}

/** Reads an AlgorithmIdentifier (RFC 5280 §4.1.1.2). */
export function algorithm(el: DerElement | undefined, what: string): AlgorithmIdentifier {
  if (!el) return bad(what, 'missing');
  const [o, params, extra] = children(el, T.sequence, what);
  if (extra) bad(what, 'too many fields');
  return {
    oid: oid(o, `${what} algorithm`),
    ...(params ? { params } : {}),
    raw: el.raw,
  };
}
