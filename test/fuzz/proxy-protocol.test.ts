/**
 * Fuzzes the PROXY protocol parser the mTLS listener runs on a balancer's
 * first bytes: mutants of real v1 and v2 headers (with TLVs, a CRC32C, LOCAL,
 * IPv6) followed by a ClientHello's first bytes, fed whole and in two pieces.
 * Properties: the parser never throws (its refusals are typed results), an
 * accepted header never claims more bytes than it was given, and headers
 * built from random addresses parse back to the same addresses.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  buildProxyHeader,
  parseProxyHeader,
  type ProxyParseResult,
} from '../../src/gateway/proxy-protocol.js';
import { normalizeIp } from '../../src/gateway/ip-match.js';
import { LONG_RUN, fuzz, selected } from './harness.js';

const HELLO = Buffer.from('16030100c8010000c40303', 'hex');
const KINDS = new Set(['ok', 'need-more', 'invalid']);
const REASONS = new Set(['no-signature', 'malformed', 'oversized']);

function checkResult(input: Buffer, r: ProxyParseResult): void {
  assert.ok(KINDS.has(r.kind), `unknown result kind ${r.kind}`);
  if (r.kind === 'invalid')
    assert.ok(
      REASONS.has(r.reason) && r.detail.length > 0,
      `bad invalid result ${JSON.stringify(r)}`,
    );
  if (r.kind === 'ok') {
    assert.ok(
      r.header.length > 0 && r.header.length <= input.length,
      'header length within the input',
    );
    assert.equal(r.rest.length, input.length - r.header.length);
  }
}

describe('fuzz: PROXY protocol', () => {
  it('proxy-protocol', { skip: !selected('proxy-protocol') }, async () => {
    const seeds = [
      Buffer.concat([
        buildProxyHeader({
          version: 1,
          source: { address: '127.0.0.5', port: 51000 },
          destination: { address: '127.0.0.1', port: 8443 },
        }),
        HELLO,
      ]),
      Buffer.concat([
        buildProxyHeader({
          version: 1,
          source: { address: '2001:db8::5', port: 1 },
          destination: { address: '::1', port: 65535 },
        }),
        HELLO,
      ]),
      Buffer.from('PROXY UNKNOWN\r\n'),
      Buffer.concat([
        buildProxyHeader({
          version: 2,
          source: { address: '127.0.0.5', port: 40000 },
          destination: { address: '127.0.0.1', port: 8443 },
          tlvs: [
            { type: 1, value: Buffer.from('h2') },
            { type: 5, value: Buffer.alloc(16, 7) },
          ],
          crc32c: true,
        }),
        HELLO,
      ]),
      Buffer.concat([
        buildProxyHeader({
          version: 2,
          source: { address: '2001:db8::5', port: 1 },
          destination: { address: '::ffff:127.0.0.1', port: 2 },
          tlvs: [{ type: 0x20, value: Buffer.from([1, 0, 0, 0, 0, 0x21, 0, 3, 0x54, 0x4c, 0x53]) }],
        }),
        HELLO,
      ]),
      buildProxyHeader({ version: 2 }),
    ];
    await fuzz({
      name: 'proxy-protocol',
      seeds,
      runs: 3000,
      parse: (input) => {
        const whole = parseProxyHeader(input);
        checkResult(input, whole);
        // Incremental: a prefix either needs more or reaches the same verdict early.
        const cut = input.length >> 1;
        const part = parseProxyHeader(input.subarray(0, cut));
        checkResult(input.subarray(0, cut), part);
        if (part.kind === 'invalid')
          assert.equal(whole.kind, 'invalid', 'a prefix refused means the whole is refused');
        return whole;
      },
    });
  });

  it(
    'proxy-protocol round trip: random addresses and ports survive build and parse',
    { skip: !selected('proxy-protocol') },
    () => {
      const v4 = fc
        .tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255))
        .map((b) => b.join('.'));
      const v6 = fc
        .array(fc.nat(0xffff), { minLength: 8, maxLength: 8 })
        .map((g) => g.map((x) => x.toString(16)).join(':'));
      const port = fc.nat(65535);
      fc.assert(
        fc.property(
          fc.constantFrom(1 as const, 2 as const),
          fc.oneof(fc.tuple(v4, v4), fc.tuple(v6, v6)),
          port,
          port,
          fc.boolean(),
          (version, [src, dst], sp, dp, crc) => {
            const h = buildProxyHeader({
              version,
              source: { address: src, port: sp },
              destination: { address: dst, port: dp },
              crc32c: version === 2 && crc,
            });
            const r = parseProxyHeader(Buffer.concat([h, HELLO]));
            assert.equal(r.kind, 'ok', JSON.stringify(r));
            assert.equal(normalizeIp(r.header.source?.address ?? ''), normalizeIp(src));
            assert.equal(normalizeIp(r.header.destination?.address ?? ''), normalizeIp(dst));
            assert.equal(r.header.source?.port, sp);
            assert.equal(r.header.destination?.port, dp);
            assert.deepEqual(r.rest, HELLO);
          },
        ),
        { seed: 0x13f022, numRuns: LONG_RUN ? 20_000 : 1_000 },
      );
    },
  );
});
