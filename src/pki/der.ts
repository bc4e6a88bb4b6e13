/**
 * A minimal DER encoder/decoder for the few structures mtlskit builds by hand
 * (PBES2 parameters, encrypted PKCS#8, PKCS#12 bags). X.690 §8 and §10.
 */
import { MtlsError } from '../errors/index.js';
import { at, byteAt } from './bytes.js';

/** Encodes a DER length (X.690 §8.1.3, definite form). */
function encodeLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** Encodes one TLV with the given tag byte. */
export function tlv(tag: number, content: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([tag]), encodeLength(content.length), content]);
}

/** SEQUENCE of already-encoded elements. */
export const derSequence = (...items: Uint8Array[]): Buffer => tlv(0x30, Buffer.concat(items));
/** SET of already-encoded elements (sorted per X.690 §11.6 for DER). */
export const derSet = (...items: Uint8Array[]): Buffer =>
  tlv(
    0x31,
    Buffer.concat([...items].map((i) => Buffer.from(i)).sort((a, b) => Buffer.compare(a, b))),
  );
/** OCTET STRING. */
export const derOctetString = (b: Uint8Array): Buffer => tlv(0x04, b);
/** NULL. */
export const derNull = (): Buffer => Buffer.from([0x05, 0x00]);
/** [n] EXPLICIT constructed context tag. */
export const derExplicit = (n: number, inner: Uint8Array): Buffer => tlv(0xa0 | n, inner);
/** BMPString (UTF-16BE), used by PKCS#12 friendlyName. */
export const derBmpString = (s: string): Buffer => tlv(0x1e, Buffer.from(s, 'utf16le').swap16());

/** INTEGER from a non-negative number or big-endian magnitude. */
export function derInteger(v: number | bigint | Uint8Array): Buffer {
  let bytes: Buffer;
  if (typeof v === 'number' || typeof v === 'bigint') {
    let n = BigInt(v);
    if (n < 0n) throw new RangeError('derInteger: negative values are not supported');
    const out: number[] = [];
    do {
      out.unshift(Number(n & 0xffn));
      n >>= 8n;
    } while (n > 0n);
    bytes = Buffer.from(out);
  } else {
    bytes = Buffer.from(v);
    let i = 0;
    while (i < bytes.length - 1 && bytes[i] === 0 && (at(bytes, i + 1) & 0x80) === 0) i++;
    bytes = bytes.subarray(i);
    if (bytes.length === 0) throw new RangeError('derInteger: empty magnitude');
  }
  if ((at(bytes, 0) & 0x80) !== 0) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return tlv(0x02, bytes);
}

/** OBJECT IDENTIFIER from dotted form. */
export function derOid(oid: string): Buffer {
  const [first, second, ...rest] = oid.split('.').map((p) => BigInt(p));
  if (first === undefined || second === undefined) throw new RangeError(`derOid: bad OID ${oid}`);
  const out: number[] = [];
  // The first two arcs share one subidentifier (X.690 §8.19.4), base-128 like the rest: 2.999 is 1079.
  for (const p of [first * 40n + second, ...rest]) {
    // Base-128 digits, most significant first; every digit but the last has bit 8 set.
    const chunk: number[] = [];
    let v = p;
    do {
      chunk.unshift(Number(v & 0x7fn) | (chunk.length > 0 ? 0x80 : 0));
      v >>= 7n;
    } while (v > 0n);
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

/** One parsed TLV element. */
export interface DerElement {
  tag: number;
  /** Content bytes (without tag and length). */
  content: Buffer;
  /** The whole encoding, tag through content. */
  raw: Buffer;
}

/**
 * Reads one TLV at `offset`.
 * @throws MTLS_DER_INVALID on truncation or an unsupported length form
 */
export function readDer(buf: Buffer, offset = 0, what = 'DER data'): DerElement & { next: number } {
  const fail = (why: string): never => {
    throw new MtlsError('MTLS_DER_INVALID', `${what} is not valid DER: ${why}`);
  };
  if (offset + 2 > buf.length) fail('truncated tag/length');
  const tag = byteAt(buf, offset, what);
  let len = byteAt(buf, offset + 1, what);
  let p = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) fail('indefinite or oversized length');
    if (p + n > buf.length) fail('truncated length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + byteAt(buf, p + i, what);
    p += n;
  }
  if (p + len > buf.length) fail(`truncated: element needs ${len} bytes, ${buf.length - p} remain`);
  return {
    tag,
    content: buf.subarray(p, p + len),
    raw: buf.subarray(offset, p + len),
    next: p + len,
  };
}

/** Reads all TLV children of a constructed element's content. */
export function readDerChildren(content: Buffer, what = 'DER data'): DerElement[] {
  const out: DerElement[] = [];
  let p = 0;
  while (p < content.length) {
    const e = readDer(content, p, what);
    out.push({ tag: e.tag, content: e.content, raw: e.raw });
    p = e.next;
  }
  return out;
}

/** Decodes an OBJECT IDENTIFIER's content bytes to dotted form. */
export function decodeOid(content: Buffer): string {
  const subs: bigint[] = [];
  let v = 0n;
  for (const b of content) {
    v = (v << 7n) | BigInt(b & 0x7f);
    if ((b & 0x80) === 0) {
      subs.push(v);
      v = 0n;
    }
  }
  const [head, ...tail] = subs;
  if (head === undefined)
    throw new MtlsError('MTLS_DER_INVALID', 'an OBJECT IDENTIFIER is not valid DER: it is empty');
  // X.690 §8.19.4: the first subidentifier is 40 × arc1 + arc2, with arc1 at most 2.
  const arc0 = head < 80n ? head / 40n : 2n;
  return [arc0, head - arc0 * 40n, ...tail].join('.');
}

/** Decodes an INTEGER's content bytes as an unsigned bigint. */
export function decodeUnsigned(content: Buffer): bigint {
  let v = 0n;
  for (const b of content) v = (v << 8n) | BigInt(b);
  return v;
}

/** IA5String. */
export const derIa5String = (s: string): Buffer => tlv(0x16, Buffer.from(s, 'ascii'));

/**
 * BIT STRING with the given bit positions set (bit 0 = most significant bit
 * of the first byte), trailing zero bits trimmed as DER requires for named
 * bit lists (X.690 §11.2.2).
 */
export function derBitString(bits: readonly number[]): Buffer {
  if (bits.length === 0) return tlv(0x03, Buffer.from([0]));
  const max = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(max / 8) + 1);
  for (const b of bits) bytes[b >> 3] = at(bytes, b >> 3) | (0x80 >> (b & 7));
  const unused = 7 - (max & 7);
  return tlv(0x03, Buffer.concat([Buffer.from([unused]), bytes]));
}
