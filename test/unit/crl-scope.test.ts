/**
 * CRL scope decoding (RFC 5280 §4.2.1.13, §5.2.5) and the in-scope decision
 * (§6.3.3(b)), on hand-written DER: the forms OpenSSL writes, and every
 * malformed form refused with the field named.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { tlv } from '../../src/pki/der.js';
import {
  crlScopeMismatch,
  decodeCrlDistributionPoints,
  decodeIssuingDistributionPoint,
} from '../../src/pki/verify/distribution-points.js';

const seq = (parts: Buffer[]): Buffer => tlv(0x30, Buffer.concat(parts));
const uri = (u: string): Buffer => tlv(0x86, Buffer.from(u, 'latin1'));
/** distributionPoint [0] { fullName [0] GeneralNames } */
const fullName = (...names: Buffer[]): Buffer => tlv(0xa0, tlv(0xa0, Buffer.concat(names)));
const TRUE = (tag: number): Buffer => tlv(tag, Buffer.from([0xff]));
const idp = (...fields: Buffer[]): Buffer => seq(fields);
const crldp = (...points: Buffer[][]): Buffer => seq(points.map((p) => seq(p)));

const A = 'http://pki.example/a.crl';
const B = 'http://pki.example/b.crl';

describe('CRL scope', () => {
  it('decodes the forms OpenSSL writes and decides scope as RFC 5280 §6.3.3(b) says', () => {
    const dps = decodeCrlDistributionPoints(crldp([fullName(uri(A))]));
    const leaf = { isCa: false, distributionPoints: dps };
    const ca = { isCa: true, distributionPoints: dps };
    assert.equal(crlScopeMismatch(undefined, leaf), undefined, 'no IDP: a full CRL');
    const users = decodeIssuingDistributionPoint(idp(fullName(uri(A)), TRUE(0x81)));
    assert.equal(users.onlyContainsUserCerts, true);
    assert.equal(crlScopeMismatch(users, leaf), undefined);
    assert.match(crlScopeMismatch(users, ca) ?? '', /end-entity certificates only/);
    const cas = decodeIssuingDistributionPoint(idp(TRUE(0x82)));
    assert.equal(crlScopeMismatch(cas, ca), undefined);
    assert.match(crlScopeMismatch(cas, leaf) ?? '', /CA certificates only/);
    const attrs = decodeIssuingDistributionPoint(idp(TRUE(0x85)));
    assert.match(crlScopeMismatch(attrs, leaf) ?? '', /attribute certificates only/);
    // A named partition covers only certificates that name it; one without CRLDP is not covered.
    const other = decodeIssuingDistributionPoint(idp(fullName(uri(B))));
    assert.match(crlScopeMismatch(other, leaf) ?? '', /not among the certificate's/);
    assert.match(crlScopeMismatch(other, { isCa: false }) ?? '', /not among the certificate's/);
    const either = decodeIssuingDistributionPoint(idp(fullName(uri(B), uri(A))));
    assert.equal(crlScopeMismatch(either, leaf), undefined, 'any shared name is enough');
    const reasons = decodeIssuingDistributionPoint(idp(tlv(0x83, Buffer.from([0x06, 0x40]))));
    assert.equal(reasons.onlySomeReasons, true);
    assert.equal(decodeIssuingDistributionPoint(idp(TRUE(0x84))).indirectCRL, true);
    // A CRLDP with only cRLIssuer (an indirect CRL) names no distribution point.
    const indirect = decodeCrlDistributionPoints(crldp([tlv(0xa2, tlv(0xa4, seq([])))]));
    assert.deepEqual(indirect, [{ hasCrlIssuer: true }]);
  });

  it('refuses malformed issuingDistributionPoint and cRLDistributionPoints, naming the field', () => {
    for (const [what, der, message] of [
      [
        'FALSE encoded',
        idp(tlv(0x81, Buffer.from([0x00]))),
        /onlyContainsUserCerts FALSE is encoded/,
      ],
      ['two only-flags', idp(TRUE(0x81), TRUE(0x82)), /more than one of onlyContainsUserCerts/],
      ['out of order', idp(TRUE(0x82), TRUE(0x81)), /out of order or repeated/],
      ['unknown field', idp(TRUE(0x86)), /unexpected field tag 0x86/],
      ['empty fullName', idp(tlv(0xa0, tlv(0xa0, Buffer.alloc(0)))), /fullName is empty/],
      [
        'bad DistributionPointName',
        idp(tlv(0xa0, tlv(0xa2, Buffer.alloc(0)))),
        /unexpected DistributionPointName tag/,
      ],
      ['non-DER BOOLEAN', idp(tlv(0x81, Buffer.from([0x01]))), /BOOLEAN is not DER/],
    ] as const) {
      assert.throws(
        () => decodeIssuingDistributionPoint(der),
        (e: unknown) =>
          e instanceof Error &&
          /^issuingDistributionPoint/.test(e.message) &&
          message.test(e.message),
        what,
      );
    }
    for (const [what, der, message] of [
      ['empty', seq([]), /empty \(SIZE/],
      ['empty point', crldp([]), /neither distributionPoint nor cRLIssuer/],
      ['bad URI', crldp([fullName(tlv(0x86, Buffer.from([0xc3, 0xa9])))]), /non-ASCII/],
      [
        'trailing data',
        Buffer.concat([crldp([fullName(uri(A))]), Buffer.from([0])]),
        /trailing data/,
      ],
    ] as const) {
      assert.throws(
        () => decodeCrlDistributionPoints(der),
        (e: unknown) =>
          e instanceof Error && /^cRLDistributionPoints/.test(e.message) && message.test(e.message),
        what,
      );
    }
  });
});
