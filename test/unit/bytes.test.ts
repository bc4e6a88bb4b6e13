/**
 * Checked element reads: an out-of-range read is an error with a catalogue
 * code, never a silent `undefined` turned into NaN or 0 by arithmetic.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { errorMessage } from '../../src/errors/mtls-error.js';
import { isMtlsError } from '../../src/errors/index.js';
import { at, byteAt } from '../../src/pki/bytes.js';
import { decodeOid, derOid, readDer } from '../../src/pki/der.js';

describe('checked byte reads', () => {
  it('at() returns the element, and refuses an index outside the array as MTLS_INTERNAL', () => {
    assert.equal(at(Uint16Array.of(7, 0xbeef), 1), 0xbeef);
    for (const i of [-1, 2, 1.5])
      assert.throws(
        () => at(Uint8Array.of(1, 2), i),
        (e) => isMtlsError(e, 'MTLS_INTERNAL') && e.message.includes(`index ${i}`),
      );
  });

  it('byteAt() refuses a read past the end as MTLS_DER_INVALID naming the structure', () => {
    assert.equal(byteAt(Buffer.from([0x30, 0x00]), 1, 'x'), 0);
    assert.throws(
      () => byteAt(Buffer.from([0x30]), 1, 'the tbsCertificate'),
      (e) =>
        isMtlsError(e, 'MTLS_DER_INVALID') &&
        e.message ===
          'the tbsCertificate is not valid DER: truncated (it has 1 bytes, byte 2 was needed)',
    );
  });

  it('readDer: a long-form length cut short is MTLS_DER_INVALID, not a NaN length', () => {
    assert.throws(
      () => readDer(Buffer.from([0x30, 0x82, 0x01]), 0, 'the CRL'),
      (e) => isMtlsError(e, 'MTLS_DER_INVALID') && e.message.startsWith('the CRL is not valid DER'),
    );
  });

  it('decodeOid: empty content is MTLS_DER_INVALID; derOid and decodeOid round-trip', () => {
    assert.throws(
      () => decodeOid(Buffer.alloc(0)),
      (e) => isMtlsError(e, 'MTLS_DER_INVALID'),
    );
    for (const oid of ['2.5.29.15', '1.2.840.113549.1.12.1.6', '2.999.1', '1.3.6.1.4.1.311.2.1.21'])
      assert.equal(decodeOid(readDer(derOid(oid)).content), oid);
  });

  it('errorMessage: the message of an Error, anything else as text', () => {
    assert.equal(errorMessage(new TypeError('bad')), 'bad');
    assert.equal(errorMessage('plain'), 'plain');
    assert.equal(errorMessage(42), '42');
  });
});
