/**
 * Checked element reads. With `noUncheckedIndexedAccess` an index read is
 * `number | undefined`, and arithmetic on `undefined` silently gives NaN or 0;
 * these helpers turn an out-of-range read into an error instead.
 */
import { MtlsError } from '../errors/index.js';

/**
 * Element `i` of an array whose size the code itself fixed (a key schedule, an
 * S-box, a buffer it allocated). A read outside it is a bug in mtlskit.
 * @throws MTLS_INTERNAL when `i` is outside the array
 */
export function at(a: ArrayLike<number>, i: number): number {
  const v = a[i];
  if (v === undefined)
    throw new MtlsError('MTLS_INTERNAL', `index ${i} is outside an array of ${a.length}`);
  return v;
}

/**
 * Byte `i` of input being decoded. A read past its end means the input is
 * truncated, which is the input's fault, not the decoder's.
 * @param what - the structure being read, for the message
 * @throws MTLS_DER_INVALID when `i` is past the end
 */
export function byteAt(buf: Uint8Array, i: number, what: string): number {
  const v = buf[i];
  if (v === undefined)
    throw new MtlsError(
      'MTLS_DER_INVALID',
      `${what} is not valid DER: truncated (it has ${buf.length} bytes, byte ${i + 1} was needed)`,
    );
  return v;
}
