import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMtlsError, type MtlsError } from '../../src/errors/index.js';
import { parseOpenSslConfig } from '../../src/ca/openssl-cnf.js';
import { looksLikeExtensionSection, parseExtensionSection } from '../../src/ca/x509v3-config.js';
import {
  CRL_EXTENSIONS_PROFILE,
  encodeCnfValue,
  renderExtensionSection,
} from '../../src/ca/render-cnf.js';
import { BUILTIN_PROFILES, type ExtensionProfile } from '../../src/pki/profile.js';

const FILE = '/ca/openssl.cnf';
const ext = (text: string, section = 'x'): ExtensionProfile =>
  parseExtensionSection(parseOpenSslConfig(text, { path: FILE, env: {} }), section);

function fails(text: string, code: MtlsError['code'], ...parts: string[]): MtlsError {
  let err: unknown;
  try {
    ext(text);
  } catch (e) {
    err = e;
  }
  assert.ok(isMtlsError(err, code), `expected ${code}, got ${String(err)}`);
  for (const p of parts)
    assert.ok(err.message.includes(p), `message "${err.message}" should include "${p}"`);
  return err;
}

test("the guide's usr_cert, v3_ca and v3_req", () => {
  const text = [
    '[ v3_ca ]  ',
    'subjectKeyIdentifier = hash  ',
    'authorityKeyIdentifier = keyid:always,issuer  ',
    'basicConstraints = critical, CA:true  ',
    'keyUsage = critical, digitalSignature, cRLSign, keyCertSign',
    '[ v3_req ]  ',
    'keyUsage = nonRepudiation, digitalSignature, keyEncipherment',
    '[ usr_cert ]  ',
    'basicConstraints = CA:FALSE  ',
    'nsCertType = client, email  ',
    'nsComment = "OpenSSL Generated Client Certificate"  ',
    'subjectKeyIdentifier = hash  ',
    'authorityKeyIdentifier = keyid,issuer  ',
    'keyUsage = critical, nonRepudiation, digitalSignature, keyEncipherment  ',
    'extendedKeyUsage = clientAuth, emailProtection',
  ].join('\n');
  const cfg = parseOpenSslConfig(text, { path: FILE, env: {} });
  for (const name of ['v3_ca', 'v3_req', 'usr_cert']) {
    assert.deepEqual(parseExtensionSection(cfg, name), BUILTIN_PROFILES[name]);
  }
});

test('basicConstraints: critical, CA:TRUE/FALSE spellings, pathlen', () => {
  assert.deepEqual(ext('[x]\nbasicConstraints = critical,CA:TRUE, pathlen:0').basicConstraints, {
    critical: true,
    value: { ca: true, pathLen: 0 },
  });
  assert.deepEqual(ext('[x]\nbasicConstraints = CA:yes').basicConstraints, {
    critical: false,
    value: { ca: true },
  });
  assert.deepEqual(ext('[x]\nbasicConstraints = CA:n').basicConstraints, {
    critical: false,
    value: { ca: false },
  });
  fails(
    '[x]\nbasicConstraints = critical , CA:true',
    'MTLS_CONFIG_INVALID',
    `${FILE}:2`,
    'critical',
  );
  fails(
    '[x]\nbasicConstraints = CA:maybe',
    'MTLS_CONFIG_INVALID',
    `${FILE}:2`,
    'CA takes TRUE or FALSE',
  );
  fails(
    '[x]\nbasicConstraints = ca:true',
    'MTLS_CONFIG_INVALID',
    `${FILE}:2`,
    'unknown basicConstraints option "ca"',
  );
  fails('[x]\nbasicConstraints = CA:TRUE, pathlen:-1', 'MTLS_CONFIG_INVALID', 'pathlen');
  fails('[x]\nbasicConstraints = pathlen:1', 'MTLS_CONFIG_INVALID', 'RFC 5280 §4.2.1.9');
});

test('keyUsage: short and long names; unknown names name file:line', () => {
  assert.deepEqual(
    ext('[x]\nkeyUsage = Digital Signature, CRL Sign, keyCertSign, keyCertSign').keyUsage,
    {
      critical: false,
      value: ['digitalSignature', 'cRLSign', 'keyCertSign'],
    },
  );
  const e = fails(
    '[x]\n\nkeyUsage = digitalsignature',
    'MTLS_CONFIG_INVALID',
    `${FILE}:3`,
    '[x] keyUsage',
    'digitalsignature',
  );
  assert.match(e.hint, /digitalSignature/);
  fails('[x]\nkeyUsage = critical,', 'MTLS_CONFIG_INVALID', `${FILE}:2`);
  fails('[x]\nkeyUsage = digitalSignature,,cRLSign', 'MTLS_CONFIG_INVALID', 'invalid empty name');
});

test('extendedKeyUsage: short names, long names, dotted OIDs, oid_section names', () => {
  const p = ext(
    [
      'oid_section = my_oids',
      '[ my_oids ]',
      'myPurpose = 1.3.6.1.4.1.99999.1',
      '[x]',
      'extendedKeyUsage = critical, TLS Web Client Authentication, 1.3.6.1.5.5.7.3.1, 1.2.3.4, msSmartcardLogin, myPurpose, emailProtection',
    ].join('\n'),
  );
  assert.deepEqual(p.extendedKeyUsage, {
    critical: true,
    value: [
      'clientAuth',
      'serverAuth',
      '1.2.3.4',
      '1.3.6.1.4.1.311.20.2.2',
      '1.3.6.1.4.1.99999.1',
      'emailProtection',
    ],
  });
  fails('[x]\nextendedKeyUsage = clientauth', 'MTLS_CONFIG_INVALID', `${FILE}:2`, 'clientauth');
});

test('subjectKeyIdentifier and authorityKeyIdentifier', () => {
  assert.equal(ext('[x]\nsubjectKeyIdentifier = none').subjectKeyIdentifier, 'none');
  assert.deepEqual(
    ext('[x]\nauthorityKeyIdentifier = keyid:always, issuer:always').authorityKeyIdentifier,
    { keyid: 'always', issuer: 'always' },
  );
  assert.deepEqual(ext('[x]\nauthorityKeyIdentifier = issuer').authorityKeyIdentifier, {
    issuer: 'ifAvailable',
  });
  assert.equal('authorityKeyIdentifier' in ext('[x]\nauthorityKeyIdentifier = none'), false);
  fails('[x]\nsubjectKeyIdentifier = critical,hash', 'MTLS_CONFIG_INVALID', 'RFC 5280 §4.2.1.2');
  fails('[x]\nsubjectKeyIdentifier = 0A:0B', 'MTLS_CONFIG_UNSUPPORTED', `${FILE}:2`);
  fails(
    '[x]\nauthorityKeyIdentifier = keyid:sometimes',
    'MTLS_CONFIG_INVALID',
    `${FILE}:2`,
    ':always',
  );
  fails('[x]\nauthorityKeyIdentifier = critical,keyid', 'MTLS_CONFIG_INVALID', 'RFC 5280 §4.2.1.1');
});

test('subjectAltName: inline names, @section with DNS.1/IP.1/email.1 = copy, dirName', () => {
  const p = ext(
    [
      '[x]',
      'subjectAltName = DNS : a.example , IP:10.0.0.1, IP:::1, email:a@b.example, URI:http://u.example/, RID:1.2.3.4, dirName:dn, email:copy',
      'issuerAltName = @ian',
      '[dn]',
      'C = BR',
      '0.OU = One',
      '1.OU = Two',
      'CN = x/y',
      '[ian]',
      'DNS.1 = ca.example',
      'URI.2 = http://ca.example/a,b',
    ].join('\n'),
  );
  assert.deepEqual(p.subjectAltName, {
    critical: false,
    value: [
      { type: 'dns', value: 'a.example' },
      { type: 'ip', value: '10.0.0.1' },
      { type: 'ip', value: '::1' },
      { type: 'email', value: 'a@b.example' },
      { type: 'uri', value: 'http://u.example/' },
      { type: 'rid', value: '1.2.3.4' },
      { type: 'dirName', value: '/C=BR/OU=One/OU=Two/CN=x\\/y' },
      { type: 'emailCopy' },
    ],
  });
  assert.deepEqual(p.issuerAltName, {
    critical: false,
    value: [
      { type: 'dns', value: 'ca.example' },
      { type: 'uri', value: 'http://ca.example/a,b' },
    ],
  });
  const sect = ext(
    '[x]\nsubjectAltName = critical,@alt\n[alt]\nDNS.1 = a\nDNS.2 = b\nIP.1 = 192.0.2.1\nemail.1 = copy',
  );
  assert.deepEqual(sect.subjectAltName, {
    critical: true,
    value: [
      { type: 'dns', value: 'a' },
      { type: 'dns', value: 'b' },
      { type: 'ip', value: '192.0.2.1' },
      { type: 'emailCopy' },
    ],
  });
});

test('subjectAltName errors point at the exact line, even inside an @section', () => {
  fails(
    '[x]\nsubjectAltName = @alt\n[alt]\nDNS.1 = a\nIP.1 = 1.2.3',
    'MTLS_CONFIG_INVALID',
    `${FILE}:5`,
    '1.2.3',
    'bad ip address',
  );
  fails('[x]\nsubjectAltName = @missing', 'MTLS_CONFIG_INVALID', `${FILE}:2`, '[missing]');
  fails(
    '[x]\nsubjectAltName = otherName:1.2.3.4;UTF8:foo',
    'MTLS_CONFIG_UNSUPPORTED',
    `${FILE}:2`,
    'otherName',
  );
  fails('[x]\nsubjectAltName = email:move', 'MTLS_CONFIG_UNSUPPORTED', `${FILE}:2`, 'email:move');
  fails('[x]\nissuerAltName = issuer:copy', 'MTLS_CONFIG_UNSUPPORTED', `${FILE}:2`, 'issuer:copy');
  fails('[x]\nsubjectAltName = DNS', 'MTLS_CONFIG_INVALID', 'missing value');
  fails('[x]\nsubjectAltName = FQDN:a', 'MTLS_CONFIG_INVALID', 'not a GeneralName type');
  fails(
    '[x]\nsubjectAltName = dirName:dn\n[dn]\n+CN = a',
    'MTLS_CONFIG_UNSUPPORTED',
    `${FILE}:4`,
    'multi-valued',
  );
});

test('nsCertType and nsComment', () => {
  const p = ext(
    '[x]\nnsCertType = SSL Client, S/MIME, objsign\nnsComment = "Hello, #1 \\"quoted\\""',
  );
  assert.deepEqual(p.nsCertType, ['client', 'email', 'objsign']);
  assert.equal(p.nsComment, 'Hello, #1 "quoted"');
  fails('[x]\nnsCertType = browser', 'MTLS_CONFIG_INVALID', `${FILE}:2`, 'browser');
});

test('crlDistributionPoints: URI list, @section of URI.N, a bare section with fullname', () => {
  assert.deepEqual(
    ext('[x]\ncrlDistributionPoints = URI:http://a.example/1.crl, URI:http://b.example/2.crl')
      .crlDistributionPoints,
    [
      { type: 'uri', value: 'http://a.example/1.crl' },
      { type: 'uri', value: 'http://b.example/2.crl' },
    ],
  );
  assert.deepEqual(
    ext('[x]\ncrlDistributionPoints = @dp\n[dp]\nURI.0 = http://a.example/1.crl')
      .crlDistributionPoints,
    [{ type: 'uri', value: 'http://a.example/1.crl' }],
  );
  assert.deepEqual(
    ext(
      '[x]\ncrlDistributionPoints = dp1, URI:http://b.example/2.crl\n[dp1]\nfullname = URI:http://a.example/1.crl',
    ).crlDistributionPoints,
    [
      { type: 'uri', value: 'http://a.example/1.crl' },
      { type: 'uri', value: 'http://b.example/2.crl' },
    ],
  );
  fails(
    '[x]\ncrlDistributionPoints = dp1\n[dp1]\nfullname = URI:http://a/1.crl, URI:http://b/2.crl',
    'MTLS_CONFIG_UNSUPPORTED',
    `${FILE}:2`,
    '2 full names',
  );
  fails(
    '[x]\ncrlDistributionPoints = dp1\n[dp1]\nfullname = URI:http://a/1.crl\nreasons = keyCompromise',
    'MTLS_CONFIG_UNSUPPORTED',
    `${FILE}:5`,
    'reasons',
  );
  fails(
    '[x]\ncrlDistributionPoints = @dp\n[dp]\nfullname = URI:http://a/1.crl',
    'MTLS_CONFIG_INVALID',
    `${FILE}:4`,
    'without "@"',
  );
  fails(
    '[x]\ncrlDistributionPoints = DNS:crl.example',
    'MTLS_CONFIG_UNSUPPORTED',
    `${FILE}:2`,
    'URI',
  );
});

test('authorityInfoAccess: OCSP;URI and caIssuers;URI, inline and @section', () => {
  const want = [
    { method: 'OCSP', location: { type: 'uri', value: 'http://ocsp.example/' } },
    { method: 'caIssuers', location: { type: 'uri', value: 'http://ca.example/ca.cer' } },
  ];
  assert.deepEqual(
    ext(
      '[x]\nauthorityInfoAccess = OCSP;URI:http://ocsp.example/, caIssuers;URI:http://ca.example/ca.cer',
    ).authorityInfoAccess,
    want,
  );
  assert.deepEqual(
    ext(
      '[x]\nauthorityInfoAccess = @aia\n[aia]\nOCSP;URI.0 = http://ocsp.example/\ncaIssuers;URI.1 = http://ca.example/ca.cer',
    ).authorityInfoAccess,
    want,
  );
  fails(
    '[x]\nauthorityInfoAccess = URI:http://ocsp.example/',
    'MTLS_CONFIG_INVALID',
    `${FILE}:2`,
    'access method',
  );
  fails(
    '[x]\nauthorityInfoAccess = 1.3.6.1.5.5.7.48.5;URI:http://x/',
    'MTLS_CONFIG_UNSUPPORTED',
    `${FILE}:2`,
  );
  fails(
    '[x]\nauthorityInfoAccess = critical,OCSP;URI:http://x/',
    'MTLS_CONFIG_INVALID',
    'RFC 5280 §4.2.2.1',
  );
});

test('certificatePolicies: OIDs and anyPolicy; qualifiers are unsupported', () => {
  assert.deepEqual(ext('[x]\ncertificatePolicies = 1.2.3.4, anyPolicy').certificatePolicies, {
    critical: false,
    value: ['1.2.3.4', '2.5.29.32.0'],
  });
  fails(
    '[x]\ncertificatePolicies = 1.2.3.4, @polsect\n[polsect]\npolicyIdentifier = 1.3.5.8',
    'MTLS_CONFIG_UNSUPPORTED',
    `${FILE}:2`,
    'qualifiers',
  );
  fails('[x]\ncertificatePolicies = bogus', 'MTLS_CONFIG_INVALID', `${FILE}:2`, 'bogus');
});

test('any other directive is MTLS_CONFIG_UNSUPPORTED naming file, line and directive', () => {
  const e = fails(
    '[ x ]\nbasicConstraints = CA:FALSE\nfooBar = 1',
    'MTLS_CONFIG_UNSUPPORTED',
    `${FILE}:3`,
    'fooBar',
    'unknown extension name',
  );
  assert.equal(e.subject, `${FILE}:3`);
  assert.ok(e.message.includes('[x] fooBar'));
  fails(
    '[x]\nnameConstraints = permitted;DNS:example.com',
    'MTLS_CONFIG_UNSUPPORTED',
    `${FILE}:2`,
    'nameConstraints',
  );
  fails('[x]\n1.2.3.4 = DER:01:02', 'MTLS_CONFIG_UNSUPPORTED', `${FILE}:2`, 'raw extension');
  fails('[x]\nkeyUsage = ASN1:NULL', 'MTLS_CONFIG_UNSUPPORTED', `${FILE}:2`);
  assert.throws(
    () => ext('[y]\nkeyUsage = digitalSignature'),
    (err: unknown) => isMtlsError(err, 'MTLS_PROFILE_UNKNOWN') && err.message.includes('[x]'),
  );
});

test('looksLikeExtensionSection tells extension sections from the rest', () => {
  const cfg = parseOpenSslConfig(
    '[a]\nkeyUsage = digitalSignature\n[alt]\nDNS.1 = x\n[policy]\ncountryName = match\n[raw]\n1.2.3 = DER:05:00',
    { path: FILE, env: {} },
  );
  assert.deepEqual(
    cfg.sections.filter(looksLikeExtensionSection).map((s) => s.name),
    ['a', 'raw'],
  );
});

test('round trip: parseExtensionSection(renderExtensionSection(p)) deep-equals p for every builtin profile', () => {
  for (const p of [...Object.values(BUILTIN_PROFILES), CRL_EXTENSIONS_PROFILE]) {
    const text = renderExtensionSection(p);
    assert.deepEqual(ext(text, p.name), p, text);
  }
});

const KITCHEN_SINK: ExtensionProfile = {
  name: 'sink',
  basicConstraints: { critical: true, value: { ca: false } },
  keyUsage: { critical: true, value: ['digitalSignature', 'keyAgreement'] },
  extendedKeyUsage: { critical: false, value: ['clientAuth', '1.3.6.1.4.1.311.20.2.2'] },
  subjectKeyIdentifier: 'hash',
  authorityKeyIdentifier: { keyid: 'always', issuer: 'always' },
  subjectAltName: {
    critical: false,
    value: [
      { type: 'dns', value: 'svc.example' },
      { type: 'ip', value: '2001:db8::1' },
      { type: 'uri', value: 'https://x.example/a,b?q=$HOME#frag' },
      { type: 'dirName', value: '/C=BR/O=Acme # Co/CN=dir name' },
      { type: 'emailCopy' },
    ],
  },
  issuerAltName: { critical: false, value: [{ type: 'email', value: 'ca@x.example' }] },
  nsComment: 'Quote " and backslash \\ and #',
  crlDistributionPoints: [{ type: 'uri', value: 'http://crl.example/ca.crl' }],
  authorityInfoAccess: [
    { method: 'OCSP', location: { type: 'uri', value: 'http://ocsp.example/' } },
    { method: 'caIssuers', location: { type: 'uri', value: 'http://ca.example/ca.cer' } },
  ],
  certificatePolicies: { critical: false, value: ['1.3.6.1.4.1.99999.1.1', '2.5.29.32.0'] },
};

test('round trip of a profile using every syntax, including @sections for values with commas', () => {
  const text = renderExtensionSection(KITCHEN_SINK);
  assert.match(text, /subjectAltName = @sink_alt_names/);
  assert.match(text, /\[ sink_dirname \]/);
  assert.deepEqual(ext(text, 'sink'), KITCHEN_SINK);
});

test('encodeCnfValue survives the reader for awkward values', () => {
  for (const v of [' lead', 'trail  ', 'a#b$c"d\'e\\f', 'multi\nline\ttab', '', '  ']) {
    const cfg = parseOpenSslConfig(`k = ${encodeCnfValue(v)}`, { path: FILE, env: {} });
    assert.equal(cfg.get('default', 'k')?.value, v);
  }
});

test('oracle: openssl accepts the rendered sections and builds the extensions they describe', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mtls-x509v3-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const key = join(dir, 'k.pem');
  const ca = join(dir, 'ca.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-subj',
      '/CN=ca/emailAddress=ca@x.example',
      '-keyout',
      key,
      '-out',
      ca,
      '-days',
      '2',
    ],
    { stdio: 'pipe' },
  );
  const extFile = join(dir, 'ext.cnf');
  writeFileSync(
    extFile,
    [
      renderExtensionSection(KITCHEN_SINK),
      renderExtensionSection(BUILTIN_PROFILES.usr_cert as ExtensionProfile),
    ].join('\n'),
  );
  const show = (section: string): string => {
    const out = join(dir, `${section}.pem`);
    execFileSync(
      'openssl',
      [
        'x509',
        '-in',
        ca,
        '-CA',
        ca,
        '-CAkey',
        key,
        '-extfile',
        extFile,
        '-extensions',
        section,
        '-days',
        '1',
        '-out',
        out,
      ],
      { stdio: 'pipe' },
    );
    return execFileSync('openssl', ['x509', '-in', out, '-noout', '-text'], { encoding: 'utf8' });
  };
  const sink = show('sink');
  assert.match(sink, /X509v3 Basic Constraints: critical\s+CA:FALSE/);
  assert.match(sink, /X509v3 Key Usage: critical\s+Digital Signature, Key Agreement/);
  assert.match(sink, /TLS Web Client Authentication, Microsoft Smartcard Login/);
  assert.match(
    sink,
    /DNS:svc\.example, IP Address:2001:DB8:0:0:0:0:0:1, URI:https:\/\/x\.example\/a,b\?q=\$HOME#frag, DirName:\/C=BR\/O=Acme # Co\/CN=dir name, email:ca@x\.example/,
  );
  assert.match(sink, /Netscape Comment:\s+Quote " and backslash \\ and #/);
  assert.match(sink, /Full Name:\s+URI:http:\/\/crl\.example\/ca\.crl/);
  assert.match(sink, /OCSP - URI:http:\/\/ocsp\.example\//);
  assert.match(sink, /CA Issuers - URI:http:\/\/ca\.example\/ca\.cer/);
  assert.match(sink, /Policy: 1\.3\.6\.1\.4\.1\.99999\.1\.1\s+Policy: X509v3 Any Policy/);
  const usr = show('usr_cert');
  assert.match(usr, /Netscape Cert Type:\s+SSL Client, S\/MIME/);
  assert.match(usr, /Netscape Comment:\s+OpenSSL Generated Client Certificate/);
  assert.match(
    usr,
    /X509v3 Extended Key Usage:\s+TLS Web Client Authentication, E-mail Protection/,
  );
});
