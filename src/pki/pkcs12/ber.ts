/**
 * BER to DER normalisation for reading PKCS#12 files.
 *
 * RFC 7292 §4 lets a PFX be BER-encoded, and files written by Java, Windows and
 * NSS use indefinite lengths (X.690 §8.1.3.6) and constructed OCTET STRINGs
 * (X.690 §8.7.3). {@link berToDer} rewrites one level of structure into DER so
 * that the DER reader in `../der.ts` can walk it. The content of a primitive
 * OCTET STRING is left untouched: the PKCS#12 MAC is computed over those exact
 * octets (RFC 7292 §4), and nested structures inside them are normalised when
 * they are opened.
 */
import { MtlsError } from '../../errors/index.js';
import { readDer, tlv } from '../der.js';
import { byteAt } from '../bytes.js';

/** Deepest nesting accepted; real PKCS#12 files stay below 15. */
const MAX_DEPTH = 64;

const TAG_OCTET_STRING = 0x04;
const TAG_OCTET_STRING_CONSTRUCTED = 0x24;

function fail(what: string, why: string): never {
  throw new MtlsError('MTLS_DER_INVALID', `${what} is not valid BER/DER: ${why}`, {
    subject: what,
    hint: `The outer ASN.1 structure of ${what} is broken (${why}): the file is truncated or damaged; copy or export the .pfx again from its source.`,
  });
}

/** Re-encodes one element of `buf` starting at `offset`, never reading past `end`. */
function normalise(
  buf: Buffer,
  offset: number,
  end: number,
  depth: number,
  what: string,
): { der: Buffer; next: number } {
  if (depth > MAX_DEPTH) fail(what, `nesting deeper than ${MAX_DEPTH} levels`);
  if (offset + 2 > end) fail(what, 'truncated tag/length');
  const tag = byteAt(buf, offset, what);
  if ((tag & 0x1f) === 0x1f) fail(what, 'high-number tags do not occur in PKCS#12');
  const constructed = (tag & 0x20) !== 0;
  const lenByte = byteAt(buf, offset + 1, what);
  let p = offset + 2;

  if (lenByte === 0x80) {
    // Indefinite length (X.690 §8.1.3.6): children up to the end-of-contents octets.
    if (!constructed) fail(what, 'indefinite length on a primitive element');
    const children: Buffer[] = [];
    for (;;) {
      if (p + 2 > end) fail(what, 'truncated: end-of-contents octets are missing');
      if (buf[p] === 0 && buf[p + 1] === 0)
        return { der: assemble(tag, children, what), next: p + 2 };
      const child = normalise(buf, p, end, depth + 1, what);
      children.push(child.der);
      p = child.next;
    }
  }

  let len = lenByte;
  if (lenByte & 0x80) {
    const n = lenByte & 0x7f;
    if (n > 4) fail(what, 'length field longer than 4 bytes');
    if (p + n > end) fail(what, 'truncated length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + byteAt(buf, p + i, what);
    p += n;
  }
  if (p + len > end) fail(what, `truncated: element needs ${len} bytes, ${end - p} remain`);
  const stop = p + len;
  if (!constructed) return { der: tlv(tag, buf.subarray(p, stop)), next: stop };
  const children: Buffer[] = [];
  while (p < stop) {
    const child = normalise(buf, p, stop, depth + 1, what);
    children.push(child.der);
    p = child.next;
  }
  return { der: assemble(tag, children, what), next: stop };
}

/** Builds the DER of a constructed element from its already-normalised children. */
function assemble(tag: number, children: Buffer[], what: string): Buffer {
  if (tag !== TAG_OCTET_STRING_CONSTRUCTED) return tlv(tag, Buffer.concat(children));
  // A constructed OCTET STRING is the concatenation of its segments (X.690 §8.7.3.2).
  const segments = children.map((c) => {
    const e = readDer(c, 0, what);
    if (e.tag !== TAG_OCTET_STRING)
      fail(what, 'a constructed OCTET STRING holds a segment that is not an OCTET STRING');
    return e.content;
  });
  return tlv(TAG_OCTET_STRING, Buffer.concat(segments));
}

/**
 * Rewrites a BER element as DER: definite lengths in their shortest form and
 * constructed OCTET STRINGs joined into primitive ones. DER input comes back
 * byte-for-byte identical. The input must be exactly one element.
 * @param what - what the bytes are, for error messages
 * @throws MTLS_DER_INVALID on truncation, trailing bytes or a malformed encoding
 */
export function berToDer(buf: Buffer, what = 'PKCS#12 data'): Buffer {
  if (buf.length === 0) fail(what, 'no data');
  const { der, next } = normalise(buf, 0, buf.length, 0, what);
  if (next !== buf.length)
    fail(what, `${buf.length - next} unexpected bytes after the end of the structure`);
  return der;
}
