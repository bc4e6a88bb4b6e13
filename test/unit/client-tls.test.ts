/**
 * Unit tests of the client's TLS plumbing: record and handshake parsing,
 * alert names, version pinning, --resolve and target parsing, CA-name
 * matching, outcome classification and snippet generation.
 */
import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { inspect } from 'node:util';
import { loadClientCredentials } from '../../src/tls/credentials.js';
import {
  HandshakeReader,
  TlsRecordReader,
  alertName,
  buildClientHello,
  decodeAlert,
  parseCertificateRequest,
  parseServerHello,
} from '../../src/tls/tls-record.js';
import { TLS12_AEAD_CIPHERS, clientCipherString, tlsVersionRange } from '../../src/tls/versions.js';
import { HandshakeObserver } from '../../src/tls/handshake-tap.js';
import { parseResolveEntry } from '../../src/client/dispatcher.js';
import { parseProbeTarget } from '../../src/client/probe.js';
import { alertFromErrorCode, classifyOutcome, classifyVerdict } from '../../src/client/classify.js';
import {
  checkClientCertificate,
  decodeCaNames,
  matchIssuer,
  summarizeCertificate,
} from '../../src/client/certificates.js';
import { hintFor } from '../../src/client/hints.js';
import { emptyTranscript } from '../../src/tls/handshake-tap.js';
import { createClientTlsContext } from '../../src/tls/client-context.js';
import { systemRootCertificates } from '../../src/tls/trust.js';
import type { ConnectionTrace } from '../../src/client/connection.js';
import { generateSnippet, SNIPPET_LANGUAGES } from '../../src/client/snippets/index.js';
import { isMtlsError } from '../../src/errors/index.js';
import { makeCa, makeLeaf, tempDir } from '../helpers/pki.js';
import { run } from '../helpers/cli.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toX509Name } from '../../src/pki/x509-name.js';
import { parseSubject } from '../../src/pki/names.js';
import { at } from '../helpers/assert.js';

const u16 = (n: number): Buffer => Buffer.from([n >> 8, n & 0xff]);

function record(type: number, fragment: Buffer): Buffer {
  return Buffer.concat([Buffer.from([type, 3, 3]), u16(fragment.length), fragment]);
}

function handshake(type: number, body: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from([type, body.length >> 16, (body.length >> 8) & 0xff, body.length & 0xff]),
    body,
  ]);
}

/** The extension types of a ClientHello body, and its supported_versions list. */
function helloExtensions(body: Buffer): { types: number[]; versions: number[] } {
  let p = 2 + 32;
  p += 1 + (body[p] as number);
  p += 2 + body.readUInt16BE(p);
  p += 1 + (body[p] as number);
  const end = p + 2 + body.readUInt16BE(p);
  p += 2;
  const types: number[] = [];
  let versions: number[] = [];
  while (p < end) {
    const type = body.readUInt16BE(p);
    const len = body.readUInt16BE(p + 2);
    types.push(type);
    if (type === 43)
      versions = Array.from({ length: (body[p + 4] as number) / 2 }, (_, i) =>
        body.readUInt16BE(p + 5 + 2 * i),
      );
    p += 4 + len;
  }
  return { types, versions };
}

test('a ClientHello offers exactly the one version asked for', () => {
  for (const [version, legacy] of [
    ['TLSv1', 0x0301],
    ['TLSv1.1', 0x0302],
    ['TLSv1.2', 0x0303],
    ['TLSv1.3', 0x0303],
  ] as const) {
    const rec = buildClientHello({ version, servername: 'api.example.com' });
    const r = at(new TlsRecordReader().push(rec), 0, 'one TLS record');
    assert.equal(r.type, 22);
    const msg = at(new HandshakeReader().push(r.fragment), 0, 'one handshake message');
    assert.equal(msg.type, 1);
    assert.equal(msg.body.readUInt16BE(0), legacy, `${version} client_version`);
    assert.ok(msg.body.includes(Buffer.from('api.example.com')), 'SNI present');
    const { types, versions } = helloExtensions(msg.body);
    // supported_versions only for TLS 1.3, with 0x0304 alone, plus a key share (RFC 8446 §4.2.1, §4.2.8).
    assert.deepEqual(
      versions,
      version === 'TLSv1.3' ? [0x0304] : [],
      `${version} supported_versions`,
    );
    assert.equal(types.includes(51), version === 'TLSv1.3');
    // signature_algorithms from TLS 1.2 on (RFC 5246 §7.4.1.4.1).
    assert.equal(
      types.includes(13),
      version === 'TLSv1.2' || version === 'TLSv1.3',
      `${version} signature_algorithms`,
    );
    assert.ok(types.includes(10) && types.includes(11), 'supported_groups and ec_point_formats');
  }
  const ipHello = buildClientHello({ version: 'TLSv1.2', servername: '127.0.0.1' });
  assert.ok(!ipHello.includes(Buffer.from('127.0.0.1')), 'no SNI for an IP address (RFC 6066 §3)');
});

test('records and handshake messages are reassembled across chunk and record boundaries', () => {
  const cr = Buffer.concat([
    Buffer.from([2, 1, 64]), // rsa_sign, ecdsa_sign
    u16(4),
    u16(0x0403),
    u16(0x0804),
    u16(0),
  ]);
  const msgs = Buffer.concat([handshake(13, cr), handshake(14, Buffer.alloc(0))]);
  const stream = Buffer.concat([record(22, msgs.subarray(0, 5)), record(22, msgs.subarray(5))]);
  const reader = new TlsRecordReader();
  const hs = new HandshakeReader();
  const out = [];
  for (let i = 0; i < stream.length; i += 3)
    for (const r of reader.push(stream.subarray(i, i + 3))) out.push(...hs.push(r.fragment));
  assert.deepEqual(
    out.map((m) => m.type),
    [13, 14],
  );
  const parsed = parseCertificateRequest(at(out, 0).body, 0x0303);
  assert.deepEqual(parsed.certificateTypes, ['rsa_sign', 'ecdsa_sign']);
  assert.deepEqual(parsed.signatureAlgorithms, ['ecdsa_secp256r1_sha256', 'rsa_pss_rsae_sha256']);
  assert.deepEqual(parsed.certificateAuthorities, []);
});

test('a CertificateRequest carries DER names that decode to the configured DNs', () => {
  const names = ['/C=BR/ST=SP/O=Acme Bank/CN=Acme Root CA', '/C=BR/O=Other/CN=Other CA'].map((s) =>
    Buffer.from(toX509Name(parseSubject(s)).toArrayBuffer()),
  );
  const list = Buffer.concat(names.map((n) => Buffer.concat([u16(n.length), n])));
  const body = Buffer.concat([Buffer.from([1, 64]), u16(2), u16(0x0403), u16(list.length), list]);
  const parsed = parseCertificateRequest(body, 0x0303);
  assert.deepEqual(decodeCaNames(parsed.certificateAuthorities), [
    'C=BR, ST=SP, O=Acme Bank, CN=Acme Root CA',
    'C=BR, O=Other, CN=Other CA',
  ]);
  assert.throws(
    () => parseCertificateRequest(body.subarray(0, body.length - 3), 0x0303),
    (e) => isMtlsError(e, 'MTLS_TLS_HANDSHAKE'),
  );
});

test('ServerHello: the version comes from supported_versions, HelloRetryRequest is recognised', () => {
  const hrr = Buffer.from(
    'cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c',
    'hex',
  );
  const body = Buffer.concat([
    u16(0x0303),
    hrr,
    Buffer.from([0]),
    u16(0x1302),
    Buffer.from([0]),
    u16(6),
    u16(43),
    u16(2),
    u16(0x0304),
  ]);
  const sh = parseServerHello(body);
  assert.equal(sh.versionName, 'TLSv1.3');
  assert.equal(sh.cipherName, 'TLS_AES_256_GCM_SHA384');
  assert.equal(sh.helloRetryRequest, true);
});

test('alerts decode to their RFC names, from the wire and from OpenSSL error codes', () => {
  assert.deepEqual(decodeAlert(Buffer.from([2, 48])), {
    level: 'fatal',
    code: 48,
    name: 'unknown_ca',
  });
  assert.equal(alertName(45), 'certificate_expired');
  assert.equal(alertName(116), 'certificate_required');
  assert.equal(alertName(200), 'alert_200');
  assert.equal(
    decodeAlert(Buffer.from([2, 48, 0])),
    undefined,
    'an encrypted alert is not decoded',
  );
  assert.equal(alertFromErrorCode('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA')?.name, 'unknown_ca');
  assert.equal(alertFromErrorCode('ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED')?.code, 45);
  assert.equal(
    alertFromErrorCode('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED')?.name,
    'certificate_required',
  );
  assert.equal(alertFromErrorCode('ECONNRESET'), undefined);
});

test('non-TLS bytes are reported, not thrown, by the observer', () => {
  const o = new HandshakeObserver();
  o.received(Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'));
  assert.match(o.transcript.malformed ?? '', /did not answer with TLS.*HTTP\/1\.1 400/);
});

test('loaded credentials never show their key in JSON or console output', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const ca = await makeCa(dir);
    const leaf = await makeLeaf(dir, ca, { cn: 'quiet' });
    const creds = await loadClientCredentials({ certPath: leaf.certPath, keyPath: leaf.keyPath });
    assert.match(creds.keyPem, /BEGIN PRIVATE KEY/);
    assert.doesNotMatch(JSON.stringify(creds), /PRIVATE KEY/);
    assert.doesNotMatch(inspect(creds, { depth: 5 }), /PRIVATE KEY|privateKey/);
    const other = await makeLeaf(dir, ca, { cn: 'other' });
    await assert.rejects(
      loadClientCredentials({ certPath: leaf.certPath, keyPath: other.keyPath }),
      (e) => isMtlsError(e, 'MTLS_KEY_MISMATCH'),
    );
    await assert.rejects(loadClientCredentials({ certPath: leaf.certPath }), (e) =>
      isMtlsError(e, 'MTLS_USAGE'),
    );
    await assert.rejects(loadClientCredentials({ pfxPath: leaf.certPath }), (e) =>
      isMtlsError(e, 'MTLS_PASSPHRASE_REQUIRED'),
    );
  } finally {
    cleanup();
  }
});

test('TLS 1.2 is pinned by default; --tls 1.3 and auto widen it; other values are refused', () => {
  assert.deepEqual(tlsVersionRange(), { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' });
  assert.deepEqual(tlsVersionRange('1.3'), { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' });
  assert.deepEqual(tlsVersionRange('auto'), { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3' });
  assert.throws(
    () => tlsVersionRange('1.1'),
    (e) => isMtlsError(e, 'MTLS_BAD_ARGUMENT'),
  );
  assert.ok(
    !clientCipherString(tlsVersionRange('1.2')).includes('TLS_AES'),
    'no TLS 1.3 suites when pinned to 1.2',
  );
  assert.ok(
    clientCipherString(tlsVersionRange('auto')).startsWith('TLS_AES_128_GCM_SHA256'),
    'TLS 1.3 suites kept for auto',
  );
  for (const suite of TLS12_AEAD_CIPHERS.split(':'))
    assert.match(suite, /^ECDHE-(ECDSA|RSA)-(AES\d+-GCM-SHA\d+|CHACHA20-POLY1305)$/);
});

test('--resolve and probe targets are parsed like curl', () => {
  assert.deepEqual(parseResolveEntry('API.example.com:443:203.0.113.7'), {
    host: 'api.example.com',
    port: 443,
    address: '203.0.113.7',
  });
  assert.deepEqual(parseResolveEntry('[::1]:8443:[::1]'), {
    host: '::1',
    port: 8443,
    address: '::1',
  });
  assert.throws(
    () => parseResolveEntry('api.example.com:443:not-an-ip'),
    (e) => isMtlsError(e, 'MTLS_BAD_ARGUMENT'),
  );
  assert.deepEqual(parseProbeTarget('api.example.com'), {
    host: 'api.example.com',
    port: 443,
    path: '/',
  });
  assert.deepEqual(parseProbeTarget('[2001:db8::1]:8443'), {
    host: '2001:db8::1',
    port: 8443,
    path: '/',
  });
  assert.deepEqual(parseProbeTarget('https://api.example.com:9443/v1/ping?x=1'), {
    host: 'api.example.com',
    port: 9443,
    path: '/v1/ping?x=1',
  });
  assert.throws(
    () => parseProbeTarget('api.example.com:99999'),
    (e) => isMtlsError(e, 'MTLS_BAD_ARGUMENT'),
  );
});

test('our certificate: expiry, EKU and the issuer against the CA list, with the mismatch named', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const ca = await makeCa(dir, { name: 'Acme Root' });
    const expired = await makeLeaf(dir, ca, {
      cn: 'old',
      notBefore: new Date(Date.now() - 10 * 86400e3),
      notAfter: new Date(Date.now() - 86400e3),
    });
    const serverOnly = await makeLeaf(dir, ca, { cn: 'srv', profile: 'server_cert' });
    const noEku = await makeLeaf(dir, ca, {
      cn: 'noeku',
      profile: { name: 'plain', basicConstraints: { critical: true, value: { ca: false } } },
    });
    const codes = (l: { certPem: string }): string[] =>
      checkClientCertificate(summarizeCertificate(new X509Certificate(l.certPem))).map(
        (p) => p.code,
      );
    assert.deepEqual(codes(expired), ['expired']);
    assert.deepEqual(codes(serverOnly), ['eku_lacks_client_auth']);
    assert.deepEqual(codes(noEku), ['eku_absent']);
    const leaf = new X509Certificate(expired.certPem);
    const near = Buffer.from(
      toX509Name(parseSubject('/C=BR/ST=SP/O=Acme Bank/CN=Acme Root')).toArrayBuffer(),
    );
    const exact = Buffer.from(
      toX509Name(parseSubject('/C=BR/ST=SP/O=acme  root/CN=ACME ROOT')).toArrayBuffer(),
    );
    const miss = matchIssuer(leaf, [], [near]);
    assert.equal(miss.listed, false);
    assert.deepEqual(miss.closest?.differences, [
      { type: 'O', ours: 'Acme Root', theirs: 'Acme Bank' },
    ]);
    assert.equal(
      matchIssuer(leaf, [], [near, exact]).listed,
      true,
      'case and inner spaces do not matter',
    );
    assert.equal(matchIssuer(leaf, [], []).anyCa, true);
  } finally {
    cleanup();
  }
});

function trace(partial: Partial<ConnectionTrace>): ConnectionTrace {
  return {
    host: 'h',
    port: 1,
    address: '127.0.0.1',
    servername: 'h',
    tcpConnected: true,
    secureConnected: false,
    transcript: emptyTranscript(),
    protocol: undefined,
    cipher: undefined,
    peerCertificates: undefined,
    errors: [],
    peerClosed: true,
    ...partial,
  };
}

test('outcomes: closed before the handshake, closed after it, refused, alert', () => {
  assert.equal(
    classifyOutcome({ trace: trace({}), error: new Error('x') }).kind,
    'closed-before-handshake',
  );
  assert.equal(
    classifyOutcome({
      trace: trace({
        tcpConnected: false,
        errors: [{ code: 'ECONNREFUSED', message: 'refused', phase: 'connect' }],
      }),
    }).kind,
    'connection-refused',
  );
  const t = emptyTranscript();
  t.bytesReceived = 900;
  t.serverHello = {
    version: 0x0303,
    versionName: 'TLSv1.2',
    cipherSuite: 0xc02b,
    cipherName: 'x',
    helloRetryRequest: false,
    extensions: [],
  };
  t.serverHelloDone = true;
  const after = classifyOutcome({
    trace: trace({
      transcript: t,
      errors: [{ code: 'ECONNRESET', message: 'reset', phase: 'handshake' }],
    }),
  });
  assert.equal(after.kind, 'closed-after-handshake');
  const withAlert = {
    ...t,
    alertsReceived: [{ level: 'fatal' as const, code: 48, name: 'unknown_ca' }],
  };
  assert.equal(
    classifyOutcome({ trace: trace({ transcript: withAlert }) }).alert?.name,
    'unknown_ca',
  );
  // A bare drop is explained by what we know about our certificate.
  const v = classifyVerdict(after, {
    hadCredentials: true,
    clientProblems: [
      { code: 'expired', message: 'our certificate expired on 2020-01-01', fatal: true },
    ],
  });
  assert.deepEqual(v, {
    verdict: 'client-cert-expired',
    cause: 'our certificate expired on 2020-01-01',
  });
  assert.equal(
    classifyVerdict(after, { hadCredentials: false, certificateRequested: true }).verdict,
    'client-cert-missing',
  );
  assert.equal(
    classifyVerdict(
      { kind: 'http-status', status: 200, detail: '' },
      { hadCredentials: true, certificateRequested: false },
    ).verdict,
    'no-client-cert-requested',
  );
  assert.match(hintFor('closed-before-handshake'), /IP/);
  // A gateway's rate limit is not an authorization problem: the hint says to slow down.
  assert.match(hintFor('http-error', { status: 429 }), /HTTP 429.*slow down.*Retry-After/);
  assert.match(hintFor('http-error', { status: 403 }), /refused the request/);
});

test('snippets: TLS 1.2 pinned on every platform, passwords only from the environment', () => {
  const secretLooking = 'hunter2-secret';
  for (const lang of SNIPPET_LANGUAGES) {
    const s = generateSnippet({
      lang,
      url: 'https://api.example.com/v1/ping',
      pfxPath: 'client.pfx',
      caPath: 'ca.pem',
      passwordEnv: 'MY_PFX_PW',
      headers: [['X-Req', "it's"]],
      body: '{"a":1}',
    });
    assert.ok(!s.code.includes(secretLooking));
    const pin: Record<string, RegExp> = {
      curl: /--tlsv1\.2[\s\\]+--tls-max 1\.2/,
      node: /minVersion: 'TLSv1\.2',\s+maxVersion: 'TLSv1\.2'/,
      python:
        /minimum_version = ssl\.TLSVersion\.TLSv1_2\ncontext\.maximum_version = ssl\.TLSVersion\.TLSv1_2/,
      java: /SSLContext\.getInstance\("TLSv1\.2"\)[\s\S]*setProtocols\(new String\[\] \{"TLSv1\.2"\}\)/,
      go: /MinVersion:\s+tls\.VersionTLS12,\s+MaxVersion:\s+tls\.VersionTLS12/,
      csharp: /SslProtocols = SslProtocols\.Tls12/,
      postman: /select TLS v1, TLS v1\.1 and TLS v1\.3/,
    };
    assert.match(s.code, pin[lang] as RegExp, `${lang} pins TLS 1.2`);
    if (['curl', 'node', 'java', 'csharp'].includes(lang))
      assert.ok(s.code.includes('MY_PFX_PW'), `${lang} reads the password from the env`);
  }
  const pyPfx = generateSnippet({
    lang: 'python',
    url: 'https://x.example',
    pfxPath: 'c.pfx',
  }).code;
  // The OpenSSL route writes the leaf, then its CA certificates, and reads the .pfx password from the same env as the script.
  assert.match(
    pyPfx,
    /openssl pkcs12 -in c\.pfx -passin env:MTLS_PFX_PASSWORD -clcerts -nokeys -out c\.cert\.pem\n +openssl pkcs12 -in c\.pfx -passin env:MTLS_PFX_PASSWORD -cacerts -nokeys >> c\.cert\.pem/,
  );
  assert.throws(
    () => generateSnippet({ lang: 'node', url: 'http://x.example' }),
    (e) => isMtlsError(e, 'MTLS_BAD_ARGUMENT'),
  );
  assert.throws(
    () =>
      generateSnippet({ lang: 'node', url: 'https://x.example', headers: [['Bad Header', 'x']] }),
    (e) => isMtlsError(e, 'MTLS_BAD_ARGUMENT'),
  );
  assert.throws(
    () => generateSnippet({ lang: 'node', url: 'https://x.example', certPath: 'c.pem' }),
    // A flag given without its partner is a usage error, as in request and probe.
    (e) => isMtlsError(e, 'MTLS_USAGE'),
  );
});

test('snippets for runtimes without .pfx support point to mtls pfx unpack with the right names', () => {
  const py = generateSnippet({
    lang: 'python',
    url: 'https://x.example',
    pfxPath: 'certs/c.pfx',
  }).code;
  assert.match(py, /mtls pfx unpack certs\/c\.pfx --out-dir certs --name c\n/);
  assert.match(py, /certs\/c\.cert\.pem/);
  const go = generateSnippet({ lang: 'go', url: 'https://x.example', pfxPath: 'c.pfx' }).code;
  assert.match(go, /mtls pfx unpack c\.pfx --out-dir \. --name c --no-key-passphrase/);
});

test('a slow server is a timeout, not a closed connection; only the peer closing is "closed"; warning alerts are no cause', () => {
  const t = emptyTranscript();
  t.bytesReceived = 900;
  t.serverHello = {
    version: 0x0303,
    versionName: 'TLSv1.2',
    cipherSuite: 0xc02b,
    cipherName: 'x',
    helloRetryRequest: false,
    extensions: [],
  };
  t.serverHelloDone = true;
  // The handshake completed, the server kept the connection open, undici gave up waiting for headers.
  const slow = classifyOutcome({
    trace: trace({
      transcript: t,
      secureConnected: true,
      peerClosed: false,
      errors: [
        {
          code: 'UND_ERR_HEADERS_TIMEOUT',
          message: 'Headers Timeout Error',
          phase: 'after-handshake',
        },
      ],
    }),
    error: Object.assign(new Error('Headers Timeout Error'), { code: 'UND_ERR_HEADERS_TIMEOUT' }),
  });
  assert.equal(slow.kind, 'timeout');
  assert.equal(slow.errorCode, 'UND_ERR_HEADERS_TIMEOUT');
  assert.match(slow.detail, /handshake completed.*no HTTP answer in time/);
  assert.equal(classifyVerdict(slow, { hadCredentials: true }).verdict, 'timeout');
  assert.match(
    hintFor('timeout', { handshakeCompleted: true }),
    /did not answer in time: retry with a longer --timeout/,
  );
  const body = classifyOutcome({
    trace: trace({ transcript: t, secureConnected: true, peerClosed: false }),
    error: Object.assign(new Error('Body Timeout Error'), { code: 'UND_ERR_BODY_TIMEOUT' }),
  });
  assert.equal(body.kind, 'timeout');
  // The same connection broken on our side without a timeout: not "the server closed".
  assert.equal(
    classifyOutcome({
      trace: trace({ transcript: t, secureConnected: true, peerClosed: false }),
      error: new Error('aborted'),
    }).kind,
    'network-error',
  );
  assert.equal(
    classifyOutcome({
      trace: trace({ transcript: t, secureConnected: true, peerClosed: true }),
      error: new Error('other side closed'),
    }).kind,
    'closed-after-handshake',
  );
  // A warning-level unrecognized_name (RFC 6066 §3) is not why a connection ended.
  const warned = {
    ...t,
    alertsReceived: [{ level: 'warning' as const, code: 112, name: 'unrecognized_name' }],
  };
  assert.equal(
    classifyOutcome({ trace: trace({ transcript: warned }) }).kind,
    'closed-after-handshake',
  );
});

test('SSL_CERT_FILE, when set, is the whole trust store (as in curl)', () => {
  const { dir, cleanup } = tempDir();
  const saved = process.env.SSL_CERT_FILE;
  try {
    const bundle = join(dir, 'one-ca.pem');
    writeFileSync(bundle, `# a comment line\n${generateSelfSigned(dir)}`);
    process.env.SSL_CERT_FILE = bundle;
    const roots = systemRootCertificates();
    assert.equal(
      roots.length,
      1,
      'only the certificate of SSL_CERT_FILE, not the roots compiled into Node',
    );
    assert.match(roots[0] as string, /^-----BEGIN CERTIFICATE-----\n/);
    process.env.SSL_CERT_FILE = join(dir, 'missing.pem');
    assert.throws(
      () => systemRootCertificates(),
      (e) =>
        isMtlsError(e, 'MTLS_CONFIG_INVALID') &&
        /SSL_CERT_FILE=.*missing\.pem: the file cannot be read \(ENOENT\)/.test(e.message),
    );
    delete process.env.SSL_CERT_FILE;
    assert.ok(
      systemRootCertificates().length > 100,
      "without it: the system bundle and Node's roots",
    );
  } finally {
    if (saved === undefined) delete process.env.SSL_CERT_FILE;
    else process.env.SSL_CERT_FILE = saved;
    cleanup();
  }
});

/** A self-signed RSA-512 certificate made by openssl; its key is next to it. */
function generateSelfSigned(dir: string): string {
  const r = run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:512',
    '-nodes',
    '-keyout',
    join(dir, 'weak.key.pem'),
    '-out',
    join(dir, 'weak.cert.pem'),
    '-subj',
    '/CN=weak',
    '-days',
    '2',
  ]);
  assert.equal(r.code, 0, r.stderr);
  return run('openssl', ['x509', '-in', join(dir, 'weak.cert.pem')]).stdout;
}

test('client material: a .pfx without key or certificate, a key OpenSSL refuses, intermediates sent without the root', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const root = await makeCa(dir, { name: 'Root' });
    const inter = await makeCa(dir, { name: 'Issuing', issuer: root });
    const leaf = await makeLeaf(dir, inter, { cn: 'chained' });
    const pfx = (name: string, args: string[]): string => {
      const path = join(dir, name);
      const r = run('openssl', ['pkcs12', '-export', ...args, '-out', path, '-passout', 'pass:pw']);
      assert.equal(r.code, 0, r.stderr);
      return path;
    };
    await assert.rejects(
      loadClientCredentials({
        pfxPath: pfx('key-only.pfx', ['-nocerts', '-inkey', leaf.keyPath]),
        password: 'pw',
      }),
      (e) =>
        isMtlsError(e, 'MTLS_BAD_ARGUMENT') &&
        e.exitCode === 2 &&
        /key-only\.pfx holds no certificate: a client \.pfx needs the private key and its certificate$/.test(
          e.message,
        ),
    );
    await assert.rejects(
      loadClientCredentials({
        pfxPath: pfx('cert-only.pfx', ['-nokeys', '-in', leaf.certPath]),
        password: 'pw',
      }),
      (e) =>
        isMtlsError(e, 'MTLS_BAD_ARGUMENT') &&
        /cert-only\.pfx holds no private key:/.test(e.message),
    );
    writeFileSync(join(dir, 'chain.pem'), inter.certPem + root.certPem);
    const full = await loadClientCredentials({
      pfxPath: pfx('full.pfx', [
        '-inkey',
        leaf.keyPath,
        '-in',
        leaf.certPath,
        '-certfile',
        join(dir, 'chain.pem'),
      ]),
      password: 'pw',
    });
    assert.equal(full.chain.length, 2);
    assert.equal(
      full.certPem.match(/BEGIN CERTIFICATE/g)?.length,
      2,
      'the leaf and the intermediate are sent, the self-signed root is not',
    );
    // OpenSSL's security level refuses RSA-512: a local key problem (exit 4) naming the files, not a handshake failure (exit 6).
    generateSelfSigned(dir);
    const weak = await loadClientCredentials({
      certPath: join(dir, 'weak.cert.pem'),
      keyPath: join(dir, 'weak.key.pem'),
    });
    assert.throws(
      () => createClientTlsContext({ credentials: weak, ca: [root.certPem] }),
      (e) =>
        isMtlsError(e, 'MTLS_KEY_TOO_WEAK') &&
        e.exitCode === 4 &&
        /OpenSSL refused the client certificate .*weak\.cert\.pem with the key .*weak\.key\.pem: .*ee key too small/.test(
          e.message,
        ),
    );
    assert.ok(createClientTlsContext({ credentials: full, ca: [root.certPem] }).secureContext);
  } finally {
    cleanup();
  }
});

test('snippets: characters outside the BMP compile in Go and Python; Go loads the key file its instructions write', () => {
  const go = generateSnippet({
    lang: 'go',
    url: 'https://x.example',
    headers: [['X-Mood', 'ok \u{1F600}']],
    body: 'caf\u00e9 \u{1F600}',
  }).code;
  assert.match(go, /request\.Header\.Add\("X-Mood", "ok \\U0001F600"\)/);
  assert.match(go, /strings\.NewReader\("caf\\u00e9 \\U0001F600"\)/);
  assert.doesNotMatch(go, /\\ud83d/i, 'no surrogate escapes: Go refuses them');
  assert.match(
    generateSnippet({ lang: 'java', url: 'https://x.example', body: '\u{1F600}' }).code,
    /ofString\("\\ud83d\\ude00"\)/,
    'Java keeps UTF-16 pairs',
  );
  const enc = generateSnippet({
    lang: 'go',
    url: 'https://x.example',
    certPath: 'certs/client.cert.pem',
    keyPath: 'certs/client.key.pem',
    keyEncrypted: true,
  }).code;
  const made = /openssl pkey -in certs\/client\.key\.pem -out (\S+)\)/.exec(enc)?.[1];
  assert.equal(made, 'certs/client.key.plain.pem');
  assert.match(
    enc,
    /tls\.LoadX509KeyPair\("certs\/client\.cert\.pem", "certs\/client\.key\.plain\.pem"\)/,
  );
  assert.match(
    generateSnippet({ lang: 'curl', url: 'https://x.example' }).code,
    /--fail-with-body, which needs curl 7\.76 or later/,
  );
  assert.match(
    generateSnippet({ lang: 'csharp', url: 'https://x.example', pfxPath: 'c.pfx' }).code,
    /SslStreamCertificateContext\.Create\(clientCertificate, intermediates\)/,
  );
});
