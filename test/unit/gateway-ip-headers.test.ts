/**
 * Source-IP matching (IPv4, IPv6, IPv4-mapped IPv6) and the identity headers
 * sent upstream (stripping, RFC 9440 byte sequences, escaping).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { IpMatcher, normalizeIp, parseCidr } from '../../src/gateway/ip-match.js';
import {
  buildUpstreamHeaders,
  headerSafe,
  isIdentityHeader,
  toByteSequence,
  type ClientIdentity,
} from '../../src/gateway/identity-headers.js';

describe('ip matching', () => {
  test('IPv4, IPv6 and IPv4-mapped addresses match the right blocks', () => {
    const m = new IpMatcher<string>();
    m.add('203.0.113.7', 'host4');
    m.add('198.51.100.0/24', 'net4');
    m.add('2001:db8::/48', 'net6');
    m.add('2001:db8:0:1::5', 'host6');
    m.add('::ffff:192.0.2.0/120', 'mapped');
    assert.deepEqual(m.match('203.0.113.7'), ['host4']);
    assert.deepEqual(
      m.match('::ffff:203.0.113.7'),
      ['host4'],
      'a dual-stack socket reports IPv4 peers as mapped',
    );
    assert.deepEqual(m.match('198.51.100.255'), ['net4']);
    assert.deepEqual(m.match('198.51.101.1'), []);
    assert.deepEqual(m.match('2001:db8:0:1::5').sort(), ['host6', 'net6']);
    assert.deepEqual(m.match('2001:0db8:0000:ffff::1'), ['net6']);
    assert.deepEqual(m.match('2001:db9::1'), []);
    assert.deepEqual(m.match('192.0.2.44'), ['mapped'], 'a mapped block is an IPv4 block');
    assert.deepEqual(m.match('fe80::1%eth0'), []);
    assert.deepEqual(m.match('not an ip'), []);
    assert.equal(m.size, 5);
  });

  test('nested blocks of many prefix lengths: every containing block matches, most specific first', () => {
    const m = new IpMatcher<string>();
    for (let p = 8; p <= 32; p++) {
      const n =
        (((10 << 24) | (1 << 16) | (2 << 8) | 3) >>> 0) &
        (p === 32 ? 0xffffffff : ~(0xffffffff >>> p));
      m.add(`${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}/${p}`, `p${p}`);
    }
    m.add('2001:db8::/32', 'v6');
    const hits = m.match('10.1.2.3');
    assert.equal(hits[0], 'p32');
    assert.deepEqual([...hits].sort(), Array.from({ length: 25 }, (_, i) => `p${i + 8}`).sort());
    assert.deepEqual(
      m.match('10.1.2.2'),
      Array.from({ length: 24 }, (_, i) => `p${31 - i}`),
      'all but the /32, longest prefix first',
    );
    assert.deepEqual(m.match('10.200.0.1'), ['p8']);
    assert.deepEqual(m.match('2001:db8::1'), ['v6']);
    assert.equal(m.size, 26);
  });

  test('derive: the copy takes removals and additions, the original (still in use) keeps its blocks', () => {
    const base = new IpMatcher<string>();
    base.add('192.0.2.1', 'a');
    base.add('192.0.2.1', 'b');
    base.add('192.0.2.2', 'c');
    base.add('198.51.100.0/24', 'net');
    const next = base.derive();
    next.remove(parseCidr('192.0.2.1'), 'a');
    next.remove(parseCidr('198.51.100.0/24'), 'net');
    next.remove(parseCidr('203.0.113.9'), 'absent');
    next.add('192.0.2.3', 'd');
    next.add('192.0.2.2', 'c2');
    assert.deepEqual(next.match('192.0.2.1'), ['b']);
    assert.deepEqual(next.match('192.0.2.2'), ['c', 'c2']);
    assert.deepEqual(next.match('192.0.2.3'), ['d']);
    assert.deepEqual(next.match('198.51.100.7'), [], 'the /24 level emptied and went away');
    assert.equal(next.size, 4);
    assert.deepEqual(base.match('192.0.2.1'), ['a', 'b']);
    assert.deepEqual(base.match('192.0.2.2'), ['c']);
    assert.deepEqual(base.match('192.0.2.3'), []);
    assert.deepEqual(base.match('198.51.100.7'), ['net']);
    assert.equal(base.size, 4);
    // Writing to the original after deriving does not reach the copy either.
    base.add('192.0.2.3', 'late');
    assert.deepEqual(next.match('192.0.2.3'), ['d']);
    const third = next.derive();
    third.remove(parseCidr('192.0.2.3'), 'd');
    assert.deepEqual(next.match('192.0.2.3'), ['d']);
    assert.deepEqual(third.match('192.0.2.3'), []);
  });

  test('normalisation and refusals', () => {
    assert.equal(normalizeIp('::ffff:127.0.0.1'), '127.0.0.1');
    assert.equal(normalizeIp('2001:DB8:0:0:0:0:0:1'), '2001:db8::1');
    assert.equal(parseCidr('2001:db8::/32').text, '2001:db8::/32');
    assert.throws(() => parseCidr('10.0.0.1/8'), /host bits/);
    assert.throws(() => parseCidr('10.0.0.0/33'), /prefix length/);
  });
});

describe('identity headers', () => {
  const identity: ClientIdentity = {
    institutionId: 'acme',
    subject: 'CN=Zoë,O=Acme',
    issuer: 'CN=Acme Root',
    serial: '0A1B',
    fingerprintSha256: 'ab'.repeat(32),
    certDer: Buffer.from([1, 2, 3]),
    chainDer: [Buffer.from([4]), Buffer.from([5, 6])],
  };

  test('every spoofable header is removed and the gateway sets its own', () => {
    const raw = [
      'Host',
      'api',
      'Authorization',
      'Basic abc',
      'X-Mtls-Institution',
      'evil',
      'x-client-cert-subject',
      'CN=x',
      'Client-Cert',
      ':AA==:',
      'CLIENT-CERT-CHAIN',
      ':AA==:',
      'X-Forwarded-Client-Cert',
      'Hash=1',
      'X-Forwarded-For',
      '1.2.3.4',
      'Connection',
      'keep-alive, X-Hop',
      'X-Hop',
      '1',
      'Keep-Alive',
      'timeout=5',
      'Transfer-Encoding',
      'chunked',
      'X-Other',
      'kept',
      'X-Custom-Subject',
      'spoof',
      'x-request-id',
      'chosen-by-the-client',
    ];
    const out = buildUpstreamHeaders({
      rawHeaders: raw,
      identity,
      clientIp: '203.0.113.7',
      requestId: '3f2b8c1e-5a7d-4e2f-9b1c-0d4e6f8a2b3c',
      names: {
        institution: 'X-Mtls-Institution',
        subject: 'X-Custom-Subject',
        issuer: 'X-Mtls-Issuer',
        serial: 'X-Mtls-Serial',
        fingerprint: 'X-Mtls-Fingerprint-Sha256',
        clientCert: 'Client-Cert',
        clientCertChain: 'Client-Cert-Chain',
        requestId: 'X-Request-Id',
      },
    });
    const pairs: Array<[string, string]> = [];
    for (let i = 0; i < out.length; i += 2) pairs.push([out[i] as string, out[i + 1] as string]);
    const get = (n: string) =>
      pairs.filter(([k]) => k.toLowerCase() === n.toLowerCase()).map(([, v]) => v);
    assert.deepEqual(get('authorization'), ['Basic abc']);
    assert.deepEqual(get('host'), ['api']);
    assert.deepEqual(get('x-other'), ['kept']);
    assert.deepEqual(get('x-mtls-institution'), ['acme']);
    assert.deepEqual(
      get('x-custom-subject'),
      ['CN=Zo\\C3\\AB,O=Acme'],
      'a configured header name is stripped and set; non-ASCII is escaped',
    );
    assert.deepEqual(get('x-client-cert-subject'), []);
    assert.deepEqual(get('client-cert'), [':AQID:']);
    assert.deepEqual(get('client-cert-chain'), [':BA==:, :BQY=:']);
    assert.deepEqual(get('x-forwarded-client-cert'), []);
    assert.deepEqual(get('x-forwarded-for'), ['203.0.113.7']);
    assert.deepEqual(
      get('x-request-id'),
      ['3f2b8c1e-5a7d-4e2f-9b1c-0d4e6f8a2b3c'],
      "the client's request id is replaced by the gateway's",
    );
    for (const hop of ['connection', 'x-hop', 'keep-alive', 'transfer-encoding'])
      assert.deepEqual(get(hop), [], hop);
  });

  test('underscore spellings of identity headers (HTTP_X_MTLS_* to CGI/WSGI/PHP/Rack) are dropped', () => {
    const raw = [
      'X_Mtls_Institution',
      'evil',
      'X-Mtls_Subject',
      'CN=evil',
      'x_client_cert',
      'x',
      'Client_Cert',
      ':AA==:',
      'My_Header',
      'v',
      'X-Ok',
      'kept',
    ];
    const out = buildUpstreamHeaders({
      rawHeaders: raw,
      identity,
      clientIp: '203.0.113.7',
      requestId: '3f2b8c1e-5a7d-4e2f-9b1c-0d4e6f8a2b3c',
    });
    const names = out.filter((_, i) => i % 2 === 0);
    assert.deepEqual(
      names.filter((n) => n.includes('_')),
      [],
      `names with "_" reached the upstream: ${names.join(', ')}`,
    );
    assert.ok(names.includes('X-Ok'));
    assert.equal(out[out.indexOf('X-Mtls-Institution') + 1], 'acme');
    assert.equal(out.includes('evil'), false);
  });

  test('helpers', () => {
    assert.equal(toByteSequence(Buffer.from('hello')), ':aGVsbG8=:');
    assert.equal(headerSafe('a\r\nb'), 'a\\0D\\0Ab');
    assert.equal(isIdentityHeader('X-MTLS-anything'), true);
    assert.equal(isIdentityHeader('X-Request-Id'), true, 'the gateway sets the request id itself');
    assert.equal(isIdentityHeader('X-Correlation-Id'), false);
  });
});
