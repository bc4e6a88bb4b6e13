import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  PROXY_V1_MAX_BYTES,
  PROXY_V2_MAX_BYTES,
  PROXY_V2_SIGNATURE,
  buildProxyHeader,
  crc32c,
  parseProxyHeader,
  type ProxyParseResult,
} from '../../src/gateway/proxy-protocol.js';

/** The first bytes of a TLS 1.2 ClientHello record, as they follow the header on the wire. */
const CLIENT_HELLO = Buffer.from('16030100c8010000c40303', 'hex');

function ok(r: ProxyParseResult): Extract<ProxyParseResult, { kind: 'ok' }> {
  assert.equal(r.kind, 'ok', JSON.stringify(r));
  return r;
}
function invalid(r: ProxyParseResult, reason: string): string {
  assert.equal(r.kind, 'invalid', JSON.stringify(r));
  assert.equal(r.reason, reason, r.detail);
  return r.detail;
}
const v1 = (s: string): Buffer => Buffer.from(s, 'latin1');

/** Feeds `bytes` split at `at` the way the listener does: accumulate, parse after each chunk. */
function feedSplit(bytes: Buffer, at: number): ProxyParseResult {
  const first = parseProxyHeader(bytes.subarray(0, at));
  if (at < bytes.length) {
    assert.equal(first.kind, 'need-more', `split at ${at}: ${JSON.stringify(first)}`);
    return parseProxyHeader(bytes);
  }
  return first;
}

describe('PROXY protocol v1', () => {
  it('parses TCP4 and TCP6 lines and returns the ClientHello behind them', () => {
    const r = ok(
      parseProxyHeader(
        Buffer.concat([v1('PROXY TCP4 127.0.0.5 127.0.0.1 51000 8443\r\n'), CLIENT_HELLO]),
      ),
    );
    assert.deepEqual(r.header.source, { address: '127.0.0.5', port: 51000 });
    assert.deepEqual(r.header.destination, { address: '127.0.0.1', port: 8443 });
    assert.equal(r.header.length, 43);
    assert.deepEqual(r.rest, CLIENT_HELLO);
    const r6 = ok(parseProxyHeader(v1('PROXY TCP6 2001:DB8:0:0::1 ::1 65535 0\r\n')));
    assert.deepEqual(r6.header.source, { address: '2001:db8::1', port: 65535 });
    assert.equal(r6.header.family, 'ipv6');
    assert.equal(r6.rest.length, 0);
  });

  it('UNKNOWN means "use the real peer": no source, the rest of the line ignored', () => {
    for (const line of [
      'PROXY UNKNOWN\r\n',
      'PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n',
    ]) {
      const r = ok(parseProxyHeader(v1(line)));
      assert.equal(r.header.source, null);
      assert.equal(r.header.family, 'unspec');
    }
  });

  it('accepts the 107-byte worst case and refuses 108 bytes without CRLF', () => {
    const worst =
      'PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n';
    assert.equal(worst.length, PROXY_V1_MAX_BYTES);
    ok(parseProxyHeader(v1(worst)));
    invalid(parseProxyHeader(v1(`PROXY UNKNOWN ${'a'.repeat(120)}`)), 'oversized');
    invalid(parseProxyHeader(v1(`PROXY UNKNOWN ${'a'.repeat(92)}0\r\n`)), 'oversized');
  });

  it('refuses bad addresses, ports, families and separators', () => {
    const bad = [
      'PROXY TCP4 127.0.0.256 127.0.0.1 1 2\r\n',
      'PROXY TCP4 127.0.0.01 127.0.0.1 1 2\r\n',
      'PROXY TCP4 ::1 127.0.0.1 1 2\r\n',
      'PROXY TCP6 127.0.0.1 ::1 1 2\r\n',
      'PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n',
      'PROXY TCP4 127.0.0.1 127.0.0.1 65536 2\r\n',
      'PROXY TCP4 127.0.0.1 127.0.0.1 01 2\r\n',
      'PROXY TCP4 127.0.0.1 127.0.0.1 -1 2\r\n',
      'PROXY TCP4 127.0.0.1 127.0.0.1 1\r\n',
      'PROXY TCP4 127.0.0.1 127.0.0.1 1 2 3\r\n',
      'PROXY TCP4  127.0.0.1 127.0.0.1 1 2\r\n',
      'PROXY UDP4 127.0.0.1 127.0.0.1 1 2\r\n',
      'PROXYTCP4 127.0.0.1 127.0.0.1 1 2\r\n',
      'PROXY TCP4 127.0.0.1 127.0.0.1 1 2\n',
      'PROXY TCP4 127.0.0.1 127.0.0.1 1 2\rX',
      'PROXY TCP4 127.0.0.1\x00 127.0.0.1 1 2\r\n',
    ];
    for (const line of bad) invalid(parseProxyHeader(v1(line)), 'malformed');
  });

  it('bare LF is refused at once, before any CRLF arrives', () => {
    invalid(parseProxyHeader(v1('PROXY TCP4 1.2.3.4\n')), 'malformed');
  });
});

describe('PROXY protocol v2', () => {
  it('parses IPv4 and IPv6 PROXY headers with TLVs and the ClientHello behind them', () => {
    const h4 = buildProxyHeader({
      version: 2,
      source: { address: '127.0.0.5', port: 40000 },
      destination: { address: '127.0.0.1', port: 8443 },
      tlvs: [
        { type: 0x01, value: Buffer.from('h2') },
        { type: 0xea, value: Buffer.from('vpce-0123') },
      ],
    });
    const r = ok(parseProxyHeader(Buffer.concat([h4, CLIENT_HELLO])));
    assert.deepEqual(r.header.source, { address: '127.0.0.5', port: 40000 });
    assert.deepEqual(r.header.tlvTypes, [0x01, 0xea]);
    assert.deepEqual(r.rest, CLIENT_HELLO);
    const h6 = buildProxyHeader({
      version: 2,
      source: { address: '2001:db8::5', port: 1 },
      destination: { address: '::ffff:127.0.0.1', port: 2 },
    });
    const r6 = ok(parseProxyHeader(h6));
    assert.deepEqual(r6.header.source, { address: '2001:db8::5', port: 1 });
    assert.equal(r6.header.destination?.address, '::ffff:7f00:1');
  });

  it('LOCAL (health check) carries no client, even with an address block present', () => {
    const local = buildProxyHeader({ version: 2 });
    assert.equal(ok(parseProxyHeader(local)).header.command, 'local');
    const withAddresses = buildProxyHeader({
      version: 2,
      source: { address: '10.0.0.1', port: 1 },
      destination: { address: '10.0.0.2', port: 2 },
    });
    withAddresses[12] = 0x20;
    const r = ok(parseProxyHeader(withAddresses));
    assert.equal(r.header.command, 'local');
    assert.equal(r.header.source, null);
    assert.equal(r.header.length, withAddresses.length);
  });

  it('UNSPEC, AF_UNIX and datagram relays fall back to the real peer', () => {
    for (const fam of [0x00, 0x31, 0x12, 0x22]) {
      const len = fam === 0x31 ? 216 : fam === 0x22 ? 36 : fam === 0x12 ? 12 : 0;
      const h = Buffer.concat([
        PROXY_V2_SIGNATURE,
        Buffer.from([0x21, fam, len >> 8, len & 0xff]),
        Buffer.alloc(len),
      ]);
      const r = ok(parseProxyHeader(h));
      assert.equal(r.header.source, null, `fam 0x${fam.toString(16)}`);
    }
  });

  it('verifies a CRC32C TLV and refuses a wrong one', () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283); // RFC 3720 B.4 check value
    const h = buildProxyHeader({
      version: 2,
      source: { address: '127.0.0.5', port: 1 },
      destination: { address: '127.0.0.1', port: 2 },
      crc32c: true,
    });
    assert.deepEqual(ok(parseProxyHeader(h)).header.tlvTypes, [0x03]);
    h[20] = (h[20] as number) ^ 1;
    assert.match(invalid(parseProxyHeader(h), 'malformed'), /CRC32C/);
  });

  it('refuses bad version, command, family, short address blocks and overrunning TLVs', () => {
    const good = buildProxyHeader({
      version: 2,
      source: { address: '127.0.0.5', port: 1 },
      destination: { address: '127.0.0.1', port: 2 },
      tlvs: [{ type: 5, value: Buffer.from('id') }],
    });
    const edit = (at: number, v: number): Buffer => {
      const b = Buffer.from(good);
      b[at] = v;
      return b;
    };
    invalid(parseProxyHeader(edit(12, 0x11)), 'malformed'); // version 1 in binary
    invalid(parseProxyHeader(edit(12, 0x22)), 'malformed'); // command 2
    invalid(parseProxyHeader(edit(13, 0x41)), 'malformed'); // family 4
    invalid(parseProxyHeader(edit(13, 0x13)), 'malformed'); // transport 3
    invalid(parseProxyHeader(edit(15, 8)), 'malformed'); // 8 bytes, IPv4 needs 12
    const overrun = Buffer.from(good);
    overrun.writeUInt16BE(200, 29); // TLV claims 200 bytes
    invalid(parseProxyHeader(overrun), 'malformed');
    const truncatedTlv = Buffer.concat([good.subarray(0, 16), Buffer.alloc(0)]);
    truncatedTlv.writeUInt16BE(14, 14);
    invalid(parseProxyHeader(Buffer.concat([truncatedTlv, Buffer.alloc(14)])), 'malformed');
  });

  it('refuses an oversized header from its 16 fixed bytes, without waiting for the rest', () => {
    const fixed = Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([0x21, 0x11, 0xff, 0xff])]);
    invalid(parseProxyHeader(fixed), 'oversized');
    const atCap = Buffer.concat([
      PROXY_V2_SIGNATURE,
      Buffer.from([0x21, 0x11, (PROXY_V2_MAX_BYTES - 16) >> 8, (PROXY_V2_MAX_BYTES - 16) & 0xff]),
    ]);
    assert.equal(parseProxyHeader(atCap).kind, 'need-more');
  });
});

describe('PROXY protocol framing', () => {
  it('a header split at every byte offset parses the same (v1 and v2, with the ClientHello behind)', () => {
    const headers = [
      v1('PROXY TCP4 127.0.0.5 127.0.0.1 51000 8443\r\n'),
      v1('PROXY TCP6 2001:db8::5 ::1 1 2\r\n'),
      buildProxyHeader({
        version: 2,
        source: { address: '127.0.0.5', port: 40000 },
        destination: { address: '127.0.0.1', port: 8443 },
        crc32c: true,
      }),
      buildProxyHeader({
        version: 2,
        source: { address: '2001:db8::5', port: 1 },
        destination: { address: '::1', port: 2 },
        tlvs: [{ type: 4, value: Buffer.alloc(10) }],
      }),
      buildProxyHeader({ version: 2 }),
    ];
    for (const h of headers) {
      const whole = Buffer.concat([h, CLIENT_HELLO]);
      const expected = ok(parseProxyHeader(whole));
      for (let at = 0; at < h.length; at++) {
        const r = ok(feedSplit(whole.subarray(0, h.length), at));
        assert.deepEqual(r.header, expected.header, `split at ${at}`);
      }
      assert.deepEqual(ok(parseProxyHeader(whole)).rest, CLIENT_HELLO);
    }
  });

  it('no signature: a TLS ClientHello, HTTP, or a near-miss is told apart at the first differing byte', () => {
    invalid(parseProxyHeader(CLIENT_HELLO), 'no-signature');
    invalid(parseProxyHeader(v1('GET / HTTP/1.1\r\n')), 'no-signature');
    invalid(parseProxyHeader(v1('PROXZ')), 'no-signature');
    invalid(parseProxyHeader(Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x01])), 'no-signature');
    assert.equal(parseProxyHeader(Buffer.alloc(0)).kind, 'need-more');
    assert.equal(parseProxyHeader(v1('PRO')).kind, 'need-more');
    assert.equal(parseProxyHeader(PROXY_V2_SIGNATURE.subarray(0, 7)).kind, 'need-more');
  });

  it('garbage never throws', () => {
    for (let i = 0; i < 2000; i++) {
      const len = (i * 7919) % 300;
      const b = Buffer.alloc(len);
      for (let j = 0; j < len; j++) b[j] = (i * 31 + j * 17) & 0xff;
      if (i % 3 === 0) PROXY_V2_SIGNATURE.copy(b, 0, 0, Math.min(12, len));
      if (i % 3 === 1) b.write('PROXY ', 0, 'latin1');
      const r = parseProxyHeader(b);
      assert.ok(['ok', 'need-more', 'invalid'].includes(r.kind));
    }
  });
});
