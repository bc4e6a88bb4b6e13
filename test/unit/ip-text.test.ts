/**
 * IP text on ipaddr.js is exactly as strict as node:net's inet_pton-based
 * `isIP` (the oracle), apart from zone ids, which are refused on purpose;
 * formatting follows RFC 5952 and round-trips.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import fc from 'fast-check';
import { formatIpBytes, parseIpBytes } from '../../src/pki/ip-text.js';
import { defined } from '../helpers/assert.js';

const family = (text: string): number => {
  const b = parseIpBytes(text);
  return b ? (b.length === 4 ? 4 : 6) : 0;
};

describe('IP text', () => {
  test('agrees with node:net isIP on hand-picked edge cases', () => {
    const cases = [
      '1.2.3.4',
      '01.2.3.4',
      '1.2.3',
      '0x7f.0.0.1',
      '256.1.1.1',
      '1.2.3.4.5',
      ' 1.2.3.4',
      '1.2.3.4 ',
      '::',
      '::1',
      '1::',
      '::ffff:1.2.3.4',
      '::ffff:01.2.3.4',
      '1:2:3:4:5:6:7:8',
      '1:2:3:4:5:6:7:8:9',
      '1::2::3',
      '1:2:3:4:5:6:1.2.3.4',
      '1:2:3:4:5:6:7:1.2.3.4',
      '12345::',
      'g::',
      '::1.2.3.4',
      '1.2.3.04',
      '0.0.0.0',
      '255.255.255.255',
      '1:2:3:4:5:6:7::',
      '::2:3:4:5:6:7:8',
      ':1::',
      '1:::2',
      '[::1]',
      '1.2.3.4/24',
      '',
      ':',
      ':::',
      '00000::1',
      '0000::1',
    ];
    for (const c of cases) assert.equal(family(c), isIP(c), JSON.stringify(c));
  });

  test('zone ids are refused', () => {
    assert.equal(parseIpBytes('fe80::1%eth0'), null);
    assert.equal(
      isIP('fe80::1%eth0'),
      6,
      'node accepts it; a certificate or registry entry cannot carry one',
    );
  });

  test('agrees with node:net isIP on random address-like text', () => {
    const text = fc
      .array(fc.constantFrom('0', '1', '9', 'a', 'f', 'g', ':', '.', '00', 'ffff', '255', '256'), {
        maxLength: 16,
      })
      .map((parts) => parts.join(''));
    fc.assert(
      fc.property(text, (t) => family(t) === isIP(t)),
      { numRuns: 20_000, seed: 5952 },
    );
  });

  test('formats RFC 5952 text that parses back to the same bytes', () => {
    assert.equal(
      formatIpBytes(
        defined(
          parseIpBytes('2001:0db8:0000:0000:0001:0000:0000:0001'),
          "parseIpBytes('2001:0db8:0000:0000:0001:0000:000...",
        ),
      ),
      '2001:db8::1:0:0:1',
      'the first longest zero run is compressed (RFC 5952 §4.2.3)',
    );
    assert.equal(
      formatIpBytes(
        defined(parseIpBytes('2001:db8:0:1:1:1:1:1'), "parseIpBytes('2001:db8:0:1:1:1:1:1')"),
      ),
      '2001:db8:0:1:1:1:1:1',
      'a single zero group is not compressed (§4.2.2)',
    );
    // The gateway shows IPv4-mapped peers as the dotted quad itself (ip-match.ts), so the hex form here is never what a user reads for them.
    assert.equal(
      formatIpBytes(defined(parseIpBytes('::ffff:192.0.2.1'), "parseIpBytes('::ffff:192.0.2.1')")),
      '::ffff:c000:201',
    );
    const bytes = fc.oneof(
      fc.uint8Array({ minLength: 4, maxLength: 4 }),
      fc
        .array(fc.constantFrom(0, 0, 1, 0xffff), { minLength: 8, maxLength: 8 })
        .map((g) => Uint8Array.from(g.flatMap((x) => [x >> 8, x & 0xff]))),
    );
    fc.assert(
      fc.property(bytes, (b) =>
        defined(
          parseIpBytes(formatIpBytes(Buffer.from(b))),
          'parseIpBytes(formatIpBytes(Buffer.from(b)))',
        ).equals(Buffer.from(b)),
      ),
      { numRuns: 5_000, seed: 5952 },
    );
  });
});
