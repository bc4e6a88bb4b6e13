/**
 * describeCertificate / describeCsr / describeCrl and inspectPki, checked
 * fact by fact against the system `openssl x509|req|crl -text` for the same
 * files (OpenSSL 3.0 as the oracle).
 */
import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildCrl } from '../../src/pki/crl.js';
import { readDer } from '../../src/pki/der.js';
import { parseCertificate, parseCertificates } from '../../src/pki/certificate.js';
import { createCsr, parseCsr } from '../../src/pki/csr.js';
import { parseCrls } from '../../src/pki/crl.js';
import { generateKeyPair } from '../../src/pki/keys.js';
import { parseSubject } from '../../src/pki/names.js';
import { isMtlsError } from '../../src/errors/index.js';
import {
  describeCertificate,
  describeCrl,
  describeCsr,
  detectDerKind,
  inspectPki,
  renderCertificateText,
  renderCrlText,
  renderCsrText,
  renderExtensionValue,
  renderInspectionText,
  type CertificateDescription,
  type ExtensionDescription,
} from '../../src/pki/inspect/index.js';
import { makeCa, makeLeaf, tempDir, type TestCa } from '../helpers/pki.js';
import { defined } from '../helpers/assert.js';

function openssl(args: string[], input?: string): string {
  const r = spawnSync('openssl', args, {
    encoding: 'utf8',
    ...(input !== undefined ? { input } : {}),
  });
  assert.equal(r.status, 0, `openssl ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

/** The hex of a colon-dumped block of lines starting after `label`, until a line that is not hex. */
function hexAfter(lines: string[], label: RegExp): string {
  const i = lines.findIndex((l) => label.test(l));
  assert.ok(i >= 0, `openssl output has no ${label}`);
  let out = '';
  const isHex = (l: string): boolean => /^([0-9a-f]{2}:)*[0-9a-f]{2}:?$/.test(l.trim());
  // RSA-PSS parameters are listed between "Signature Value:" and the hex.
  const from = lines.findIndex((l, j) => j > i && isHex(l));
  for (const l of lines.slice(from)) {
    if (!isHex(l)) break;
    out += l.trim().replace(/:/g, '');
  }
  return out;
}

function field(lines: string[], label: string): string {
  const l = lines.find((x) => x.trimStart().startsWith(`${label}:`));
  assert.ok(l !== undefined, `openssl output has no "${label}:"`);
  return l
    .trimStart()
    .slice(label.length + 1)
    .trim();
}

interface OsslExtension {
  critical: boolean;
  lines: string[];
}

/** Extensions listed after `heading`, as { display name → critical, value lines } (relative indentation kept). */
function opensslExtensions(
  lines: string[],
  heading: RegExp,
  indent: number,
): Map<string, OsslExtension> {
  const start = lines.findIndex((l) => heading.test(l));
  const map = new Map<string, OsslExtension>();
  if (start < 0) return map;
  let current: OsslExtension | undefined;
  for (const raw of lines.slice(start + 1)) {
    const l = raw.replace(/\s+$/, '');
    if (l === '') continue;
    const lead = l.length - l.trimStart().length;
    if (lead < indent) break;
    if (lead === indent) {
      const m = /^(.*?):( critical)?$/.exec(l.trim());
      assert.ok(m, `unexpected extension header "${l}"`);
      current = { critical: m[2] !== undefined, lines: [] };
      map.set(m[1] as string, current);
    } else {
      assert.ok(current, `value line before any header: "${l}"`);
      // OpenSSL 3.0 omits the line break after a distribution point's full name list.
      const glued = /^(.*\S) {4,}(CRL Issuer:)$/.exec(l.slice(indent + 4));
      if (glued) current.lines.push(glued[1] as string, glued[2] as string);
      else current.lines.push(l.slice(indent + 4));
    }
  }
  return map;
}

/** Compares our decoded extensions with OpenSSL's listing, one by one. */
function assertExtensionsMatch(
  ours: ExtensionDescription[],
  theirs: Map<string, OsslExtension>,
): void {
  assert.deepEqual(
    ours.map((e) => e.name),
    [...theirs.keys()],
    'the same extensions, in the same order',
  );
  for (const e of ours) {
    const t = theirs.get(e.name) as OsslExtension;
    assert.equal(e.critical, t.critical, `${e.name}: critical flag`);
    if (e.kind === 'unknown') continue; // OpenSSL dumps unknown values as raw characters; we give hex (checked separately).
    assert.deepEqual(renderExtensionValue(e), t.lines, `${e.name}: value`);
  }
}

/** Every fact `openssl x509 -text` prints, compared with describeCertificate. */
function assertCertificateMatchesOpenssl(file: string, d: CertificateDescription): void {
  const lines = openssl(['x509', '-in', file, '-noout', '-text']).split('\n');
  assert.equal(Number(/Version: (\d+)/.exec(lines.join('\n'))?.[1]), d.version, 'version');
  const serialLine = lines.find((l) => l.includes('Serial Number:')) as string;
  const inline = /Serial Number: (\d+) \(0x[0-9a-f]+\)/.exec(serialLine);
  const serial = inline
    ? BigInt(inline[1] as string)
    : BigInt(`0x${hexAfter(lines, /Serial Number:/)}`);
  assert.equal(BigInt(`0x${d.serialNumber}`), serial, 'serial');
  assert.equal(
    field(lines, 'Signature Algorithm'),
    d.signatureAlgorithm.name,
    'signature algorithm',
  );
  assert.equal(field(lines, 'Issuer'), d.issuer.text, 'issuer');
  assert.equal(field(lines, 'Subject'), d.subject.text, 'subject');
  assert.equal(
    new Date(field(lines, 'Not Before')).toISOString(),
    new Date(d.notBefore).toISOString(),
    'notBefore',
  );
  assert.equal(
    new Date(field(lines, 'Not After ')).toISOString(),
    new Date(d.notAfter).toISOString(),
    'notAfter',
  );
  assert.equal(field(lines, 'Public Key Algorithm'), d.publicKey.algorithm, 'public key algorithm');
  const bits = /Public-Key: \((\d+) bit\)/.exec(lines.join('\n'));
  if (bits) assert.equal(Number(bits[1]), d.publicKey.bits, 'key bits');
  if (d.publicKey.rsa) {
    assert.equal(hexAfter(lines, /Modulus:/), d.publicKey.rsa.modulus, 'modulus');
    assert.equal(
      /Exponent: (\d+)/.exec(lines.join('\n'))?.[1],
      d.publicKey.rsa.exponent,
      'exponent',
    );
  } else if (d.publicKey.ec) {
    assert.equal(hexAfter(lines, /^\s+pub:$/), d.publicKey.ec.publicPoint, 'EC point');
    assert.equal(field(lines, 'ASN1 OID'), d.publicKey.ec.curve, 'curve');
    assert.equal(field(lines, 'NIST CURVE'), d.publicKey.ec.nistCurve, 'NIST curve');
  } else {
    assert.equal(hexAfter(lines, /^\s+pub:$/), d.publicKey.publicKey, 'public key');
  }
  assertExtensionsMatch(d.extensions, opensslExtensions(lines, /^\s+X509v3 extensions:$/, 12));
  assert.equal(hexAfter(lines, /^\s+Signature Value:\s*$/), d.signature.value, 'signature value');
  const fp256 = openssl(['x509', '-in', file, '-noout', '-fingerprint', '-sha256'])
    .trim()
    .split('=')[1];
  const fp1 = openssl(['x509', '-in', file, '-noout', '-fingerprint', '-sha1'])
    .trim()
    .split('=')[1];
  assert.equal(d.fingerprints.sha256, fp256, 'SHA-256 fingerprint');
  assert.equal(d.fingerprints.sha1, fp1, 'SHA-1 fingerprint');
}

function jsonRoundTrip(v: unknown): void {
  assert.deepEqual(JSON.parse(JSON.stringify(v)), v, 'the description survives JSON unchanged');
}

describe('describeCertificate against openssl x509 -text', () => {
  let dir: string;
  let cleanup: () => void;
  let root: TestCa;
  let inter: TestCa;
  before(async () => {
    ({ dir, cleanup } = tempDir());
    root = await makeCa(dir, { name: 'Inspect Root', keyType: 'rsa2048' });
    inter = await makeCa(dir, { name: 'Inspect Inter', issuer: root });
  });
  after(() => cleanup());

  it('a self-signed RSA root: version, serial, names, validity, modulus, CA extensions, signature, fingerprints', () => {
    const d = describeCertificate(root.certificate);
    assertCertificateMatchesOpenssl(root.certPath, d);
    assert.equal(d.isCa, true);
    assert.equal(d.selfIssued, true);
    assert.deepEqual(
      d.extensions.find((e) => e.kind === 'basicConstraints'),
      {
        oid: '2.5.29.19',
        name: 'X509v3 Basic Constraints',
        critical: true,
        kind: 'basicConstraints',
        ca: true,
      },
    );
    jsonRoundTrip(d);
  });

  it('an EC intermediate with pathlen:0', () => {
    const d = describeCertificate(inter.certificate);
    assertCertificateMatchesOpenssl(inter.certPath, d);
    const bc = d.extensions.find((e) => e.kind === 'basicConstraints');
    assert.ok(bc?.kind === 'basicConstraints' && bc.pathLenConstraint === 0);
    assert.equal(d.publicKey.ec?.nistCurve, 'P-256');
  });

  it("the guide's usr_cert leaf: Netscape Cert Type, Netscape Comment, EKU long names", async () => {
    const leaf = await makeLeaf(dir, root, { cn: 'usr-cert', profile: 'usr_cert' });
    const d = describeCertificate(leaf.certificate);
    assertCertificateMatchesOpenssl(leaf.certPath, d);
    const ns = d.extensions.find((e) => e.kind === 'nsCertType');
    assert.ok(ns?.kind === 'nsCertType');
    assert.deepEqual(ns.types, ['client', 'email']);
    const eku = d.extensions.find((e) => e.kind === 'extendedKeyUsage');
    assert.ok(eku?.kind === 'extendedKeyUsage');
    assert.deepEqual(
      eku.purposes.map((p) => [p.name, p.text]),
      [
        ['clientAuth', 'TLS Web Client Authentication'],
        ['emailProtection', 'E-mail Protection'],
      ],
    );
  });

  it('an Ed25519 leaf with every GeneralName type, IAN, CRL DP, policies and AKI with issuer + serial', async () => {
    const leaf = await makeLeaf(dir, inter, {
      cn: 'rich',
      keyType: 'ed25519',
      profile: {
        name: 'rich',
        basicConstraints: { critical: true, value: { ca: false } },
        keyUsage: { critical: true, value: ['digitalSignature'] },
        extendedKeyUsage: {
          critical: false,
          value: ['clientAuth', 'serverAuth', 'codeSigning', '1.2.3.4'],
        },
        subjectKeyIdentifier: 'hash',
        authorityKeyIdentifier: { keyid: 'always', issuer: 'always' },
        subjectAltName: {
          critical: false,
          value: [
            { type: 'dns', value: 'a.example' },
            { type: 'ip', value: '10.0.0.1' },
            { type: 'ip', value: '2001:db8::1' },
            { type: 'email', value: 'a@example.com' },
            { type: 'uri', value: 'https://example.com/x' },
            { type: 'dirName', value: '/C=BR/O=X/CN=dn' },
            { type: 'rid', value: '1.2.3.4' },
          ],
        },
        issuerAltName: { critical: false, value: [{ type: 'email', value: 'ca@example.com' }] },
        crlDistributionPoints: [{ type: 'uri', value: 'http://crl.example/ca.crl' }],
        certificatePolicies: { critical: false, value: ['2.5.29.32.0', '1.3.6.1.4.1.99.1'] },
      },
    });
    const d = describeCertificate(leaf.certificate);
    assertCertificateMatchesOpenssl(leaf.certPath, d);
    assert.equal(d.publicKey.algorithm, 'ED25519');
    const san = d.extensions.find((e) => e.kind === 'subjectAltName');
    assert.ok(san?.kind === 'subjectAltName');
    assert.deepEqual(
      san.names.map((n) => [n.type, n.value]),
      [
        ['dns', 'a.example'],
        ['ip', '10.0.0.1'],
        ['ip', '2001:db8::1'],
        ['email', 'a@example.com'],
        ['uri', 'https://example.com/x'],
        ['dirName', '/C=BR/O=X/CN=dn'],
        ['rid', '1.2.3.4'],
      ],
    );
    const aki = d.extensions.find((e) => e.kind === 'authorityKeyIdentifier');
    assert.ok(aki?.kind === 'authorityKeyIdentifier');
    assert.equal(
      aki.authorityCertSerialNumber,
      describeCertificate(inter.certificate).serialNumber,
    );
    jsonRoundTrip(d);
  });

  it('a P-384 leaf', async () => {
    const leaf = await makeLeaf(dir, inter, { cn: 'p384', keyType: 'ec-p384' });
    const d = describeCertificate(leaf.certificate);
    assertCertificateMatchesOpenssl(leaf.certPath, d);
    assert.equal(d.publicKey.ec?.curve, 'secp384r1');
  });

  it('an OpenSSL-made certificate: name constraints, policy qualifiers, AIA, two CRL DPs, otherName, TLS feature, unknown critical extension', () => {
    const ext = join(dir, 'ossl.cnf');
    writeFileSync(
      ext,
      `[e]
basicConstraints=critical,CA:TRUE,pathlen:2
keyUsage=critical,keyCertSign,cRLSign
nameConstraints=critical,permitted;DNS:example.com,permitted;IP:10.0.0.0/255.0.0.0,excluded;email:bad.example,permitted;IP:2001:db8::/ffff:ffff::
policyConstraints=requireExplicitPolicy:1,inhibitPolicyMapping:2
inhibitAnyPolicy=3
certificatePolicies=1.2.3.4,@pol
authorityInfoAccess=OCSP;URI:http://ocsp.example,caIssuers;URI:http://ca.example/ca.crt
crlDistributionPoints=URI:http://crl.example/a.crl,URI:http://crl2.example/b.crl
subjectAltName=otherName:1.3.6.1.4.1.311.20.2.3;UTF8:user@corp,otherName:1.2.3.4;UTF8:x
1.2.3.4.5=critical,ASN1:UTF8String:hello
tlsfeature=status_request
noCheck=ignored
subjectKeyIdentifier=hash
[pol]
policyIdentifier=1.3.6.1.4.1.99.2
CPS.1=http://cps.example/
userNotice.1=@notice
[notice]
explicitText="Explicit"
organization="Org"
noticeNumbers=1,2
`,
    );
    const key = join(dir, 'ossl.key.pem');
    const csr = join(dir, 'ossl.csr');
    const cert = join(dir, 'ossl.cert.pem');
    openssl([
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      key,
      '-subj',
      '/C=BR/O=A, B/CN=ossl',
      '-out',
      csr,
    ]);
    openssl([
      'x509',
      '-req',
      '-in',
      csr,
      '-signkey',
      key,
      '-days',
      '3',
      '-extfile',
      ext,
      '-extensions',
      'e',
      '-out',
      cert,
    ]);
    const d = describeCertificate(parseCertificate(readFileSync(cert)));
    assertCertificateMatchesOpenssl(cert, d);
    const unknown = d.extensions.find((e) => e.oid === '1.2.3.4.5');
    assert.deepEqual(unknown, {
      oid: '1.2.3.4.5',
      name: '1.2.3.4.5',
      critical: true,
      kind: 'unknown',
      hex: '0c0568656c6c6f',
    });
    const nc = d.extensions.find((e) => e.kind === 'nameConstraints');
    assert.ok(nc?.kind === 'nameConstraints');
    assert.deepEqual(
      nc.permitted.map((n) => n.value),
      ['example.com', '10.0.0.0/8', '2001:db8::/32'],
    );
    const aia = d.extensions.find((e) => e.kind === 'authorityInfoAccess');
    assert.ok(aia?.kind === 'authorityInfoAccess');
    assert.deepEqual(
      aia.accessDescriptions.map((a) => [a.method, a.location.value]),
      [
        ['OCSP', 'http://ocsp.example'],
        ['caIssuers', 'http://ca.example/ca.crt'],
      ],
    );
    assert.equal(d.subject.text, 'C = BR, O = "A, B", CN = ossl');
    jsonRoundTrip(d);
  });

  it('distribution points with a CRL issuer, a relative name and reasons; freshest CRL; SIA; directory names in constraints and AIA', () => {
    const ext = join(dir, 'dp.cnf');
    writeFileSync(
      ext,
      `[e]
basicConstraints=critical,CA:TRUE
nameConstraints=critical,permitted;dirName:iss,excluded;URI:.bad.example
authorityInfoAccess=caIssuers;dirName:iss
crlDistributionPoints=dp1,dp2
freshestCRL=URI:http://fresh.example/d.crl
subjectInfoAccess=caRepository;URI:http://repo.example/
[dp1]
fullname=URI:http://a.example/b.crl
CRLissuer=dirName:iss
[dp2]
relativename=rel
[rel]
CN=part
[iss]
C=BR
CN=Issuer
[reasons]
crlDistributionPoints=dp3
[dp3]
fullname=URI:http://a.example/r.crl
reasons=keyCompromise,CACompromise
`,
    );
    const key = join(dir, 'dp.key.pem');
    const csr = join(dir, 'dp.csr');
    const cert = join(dir, 'dp.cert.pem');
    openssl([
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      key,
      '-subj',
      '/CN=dp',
      '-out',
      csr,
    ]);
    openssl([
      'x509',
      '-req',
      '-in',
      csr,
      '-signkey',
      key,
      '-days',
      '3',
      '-extfile',
      ext,
      '-extensions',
      'e',
      '-out',
      cert,
    ]);
    const d = describeCertificate(parseCertificate(readFileSync(cert)));
    assertCertificateMatchesOpenssl(cert, d);
    const dp = d.extensions.find((e) => e.kind === 'crlDistributionPoints');
    assert.ok(dp?.kind === 'crlDistributionPoints');
    assert.deepEqual(
      dp.points[0]?.crlIssuer?.map((n) => n.dn),
      [
        [
          { type: 'C', value: 'BR' },
          { type: 'CN', value: 'Issuer' },
        ],
      ],
    );
    assert.equal(dp.points[1]?.relativeName, 'CN = part');

    // OpenSSL 3.0 prints distribution point reasons without a line break, so compare those as facts.
    const withReasons = join(dir, 'reasons.cert.pem');
    openssl([
      'x509',
      '-req',
      '-in',
      csr,
      '-signkey',
      key,
      '-days',
      '3',
      '-extfile',
      ext,
      '-extensions',
      'reasons',
      '-out',
      withReasons,
    ]);
    const r = describeCertificate(parseCertificate(readFileSync(withReasons)));
    const rdp = r.extensions.find((e) => e.kind === 'crlDistributionPoints');
    assert.ok(rdp?.kind === 'crlDistributionPoints');
    assert.deepEqual(rdp.points[0]?.reasons, ['Key Compromise', 'CA Compromise']);
    assert.match(
      openssl(['x509', '-in', withReasons, '-noout', '-text']),
      /Reasons:\s+Key Compromise, CA Compromise/,
    );
  });

  it('a v1 certificate with a small serial, and an RSA-PSS certificate', () => {
    const key = join(dir, 'v1.key.pem');
    const csr = join(dir, 'v1.csr');
    const v1 = join(dir, 'v1.pem');
    openssl([
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      key,
      '-subj',
      '/CN=v1',
      '-out',
      csr,
    ]);
    openssl([
      'x509',
      '-req',
      '-in',
      csr,
      '-signkey',
      key,
      '-days',
      '2',
      '-set_serial',
      '4096',
      '-out',
      v1,
    ]);
    const d1 = describeCertificate(parseCertificate(readFileSync(v1)));
    assertCertificateMatchesOpenssl(v1, d1);
    assert.equal(d1.version, 1);
    assert.equal(d1.serialNumber, '1000');
    assert.match(renderCertificateText(d1), /^ {8}Serial Number: 4096 \(0x1000\)$/m);

    const pssKey = join(dir, 'pss.key.pem');
    const pss = join(dir, 'pss.pem');
    openssl([
      'genpkey',
      '-algorithm',
      'rsa-pss',
      '-pkeyopt',
      'rsa_keygen_bits:2048',
      '-out',
      pssKey,
    ]);
    openssl([
      'req',
      '-x509',
      '-new',
      '-key',
      pssKey,
      '-subj',
      '/CN=pss',
      '-days',
      '2',
      '-out',
      pss,
      '-sigopt',
      'rsa_padding_mode:pss',
    ]);
    const d2 = describeCertificate(parseCertificate(readFileSync(pss)));
    assert.equal(d2.signatureAlgorithm.name, 'rsassaPss');
    const text = openssl(['x509', '-in', pss, '-noout', '-text']);
    assert.equal(/Hash Algorithm: (\S+)/.exec(text)?.[1], d2.signatureAlgorithm.pss?.hash);
    assert.equal(
      Number(/Salt Length: (0x[0-9A-F]+)/.exec(text)?.[1]),
      d2.signatureAlgorithm.pss?.saltLength,
    );
    assertCertificateMatchesOpenssl(pss, d2);
  });
});

describe('describeCsr against openssl req -text', () => {
  let dir: string;
  let cleanup: () => void;
  before(() => ({ dir, cleanup } = tempDir()));
  after(() => cleanup());

  it('subject, public key, requested extensions, and a verifying self-signature', async () => {
    const keys = await generateKeyPair('ec-p256');
    const csr = await createCsr({
      subject: parseSubject('/C=BR/ST=SP/O=Acme/CN=client.example'),
      privateKey: keys.privateKey,
      subjectAltNames: [
        { type: 'dns', value: 'client.example' },
        { type: 'ip', value: '192.0.2.7' },
      ],
    });
    const file = join(dir, 'req.csr');
    writeFileSync(file, csr.pem);
    const d = await describeCsr(parseCsr(csr.pem));
    const lines = openssl(['req', '-in', file, '-noout', '-text']).split('\n');
    assert.equal(field(lines, 'Subject'), d.subject.text);
    assert.equal(field(lines, 'Public Key Algorithm'), d.publicKey.algorithm);
    assert.equal(hexAfter(lines, /^\s+pub:$/), d.publicKey.ec?.publicPoint);
    assert.equal(hexAfter(lines, /^\s+Signature Value:\s*$/), d.signature.value);
    assertExtensionsMatch(
      d.requestedExtensions,
      opensslExtensions(lines, /^\s+Requested Extensions:$/, 16),
    );
    assert.equal(d.signatureValid, true);
    const verify = spawnSync('openssl', ['req', '-in', file, '-noout', '-verify'], {
      encoding: 'utf8',
    });
    assert.equal(verify.status, 0);
    assert.match(
      verify.stdout + verify.stderr,
      /self-signature verify OK/,
      'openssl agrees the signature verifies',
    );
    assert.match(renderCsrText(d), /^Self-signature: OK$/m);
    jsonRoundTrip(d);
  });

  it('hides a challengePassword and reports a broken signature', async () => {
    const cnf = join(dir, 'req.cnf');
    writeFileSync(
      cnf,
      '[req]\ndistinguished_name=dn\nattributes=attrs\nprompt=no\n[dn]\nCN=with-attrs\n[attrs]\nchallengePassword=s3cret-challenge\nunstructuredName=Unit One\n',
    );
    const file = join(dir, 'attrs.csr');
    openssl([
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      join(dir, 'attrs.key'),
      '-config',
      cnf,
      '-out',
      file,
    ]);
    const d = await describeCsr(parseCsr(readFileSync(file)));
    assert.deepEqual(d.attributes.map((a) => [a.name, a.values]).sort(), [
      ['challengePassword', ['(hidden)']],
      ['unstructuredName', ['Unit One']],
    ]);
    assert.doesNotMatch(JSON.stringify(d) + renderCsrText(d), /s3cret-challenge/);

    // Flip one bit of the signature: the request must no longer verify.
    const der = Buffer.from(parseCsr(readFileSync(file)).der);
    der[der.length - 5] = (der[der.length - 5] as number) ^ 0x01;
    const broken = await describeCsr(parseCsr(der));
    assert.equal(broken.signatureValid, false);
    const bad = join(dir, 'broken.der');
    writeFileSync(bad, der);
    const r = spawnSync('openssl', ['req', '-in', bad, '-inform', 'DER', '-noout', '-verify'], {
      encoding: 'utf8',
    });
    // OpenSSL 3.0 exits 0 here but says so on stderr.
    assert.match(
      r.stdout + r.stderr,
      /self-signature verify failure/,
      'openssl also refuses the broken signature',
    );
  });
});

describe('describeCrl against openssl crl -text', () => {
  let dir: string;
  let cleanup: () => void;
  before(() => ({ dir, cleanup } = tempDir()));
  after(() => cleanup());

  it('issuer, this/next update, crlNumber, AKI and every revoked serial with date and reason', async () => {
    const ca = await makeCa(dir, { name: 'CRL CA' });
    const { pem } = await buildCrl({
      signer: { privateKey: ca.privateKey, certificate: ca.certificate },
      crlNumber: 4660n,
      entries: [
        {
          serial: '0BECB3B4563A5D7B6BE2C6AC29605405',
          revokedAt: new Date('2026-01-05T01:02:03Z'),
          reasonCode: 1,
        },
        { serial: '1000', revokedAt: new Date('2026-01-06T01:02:03Z') },
        { serial: '00FF', revokedAt: new Date('2026-01-07T01:02:03Z'), reasonCode: 6 },
      ],
    });
    const file = join(dir, 'ca.crl.pem');
    writeFileSync(file, pem);
    const [crl] = parseCrls(pem);
    const d = describeCrl(crl as NonNullable<typeof crl>);
    const text = openssl(['crl', '-in', file, '-noout', '-text']);
    const lines = text.split('\n');
    assert.equal(field(lines, 'Issuer'), d.issuer.text);
    assert.equal(
      new Date(field(lines, 'Last Update')).toISOString(),
      new Date(d.thisUpdate).toISOString(),
    );
    assert.equal(
      new Date(field(lines, 'Next Update')).toISOString(),
      new Date(d.nextUpdate as string).toISOString(),
    );
    assert.equal(d.crlNumber, '4660');
    const exts = opensslExtensions(lines, /^\s+CRL extensions:$/, 12);
    assertExtensionsMatch(d.extensions, exts);
    assert.equal(
      exts.get('X509v3 Authority Key Identifier')?.lines[0]?.replace(/:/g, '').toLowerCase(),
      d.authorityKeyIdentifier,
    );
    // Revoked entries: serial, date, reason, in order.
    const theirs = [
      ...text.matchAll(
        /Serial Number: ([0-9A-F]+)\n\s+Revocation Date: (.+)\n(?:\s+CRL entry extensions:\n\s+X509v3 CRL Reason Code: *\n\s+(.+)\n)?/g,
      ),
    ].map((m) => [m[1], new Date(m[2] as string).toISOString(), m[3]?.trim() ?? null]);
    const display: Record<string, string> = {
      keyCompromise: 'Key Compromise',
      certificateHold: 'Certificate Hold',
    };
    assert.deepEqual(
      d.revoked.map((r) => [
        r.serialNumber,
        new Date(r.revocationDate).toISOString(),
        r.reason ? display[r.reason] : null,
      ]),
      theirs,
    );
    assert.deepEqual(
      d.revoked.map((r) => r.reason ?? null),
      ['keyCompromise', null, 'certificateHold'],
    );
    assert.equal(
      renderCrlText(d)
        .split('\n')
        .filter((l) => /Serial Number/.test(l)).length,
      3,
    );
    jsonRoundTrip(d);
  });
});

describe('inspectPki: detection and bad input', () => {
  let dir: string;
  let cleanup: () => void;
  let root: TestCa;
  let inter: TestCa;
  before(async () => {
    ({ dir, cleanup } = tempDir());
    root = await makeCa(dir, { name: 'Detect Root' });
    inter = await makeCa(dir, { name: 'Detect Inter', issuer: root });
  });
  after(() => cleanup());

  it('shows every certificate of a PEM bundle and skips (never shows) a private key', async () => {
    const leaf = await makeLeaf(dir, inter, { cn: 'bundle-leaf' });
    const data = Buffer.from(leaf.certPem + inter.certPem + leaf.keyPem);
    const r = await inspectPki({ data, source: 'bundle.pem' });
    assert.equal(r.format, 'pem');
    assert.deepEqual(
      r.objects.map((o) => (o.type === 'certificate' ? o.subject.text : o.type)),
      [
        'C = BR, ST = SP, O = Test, CN = bundle-leaf',
        'C = BR, ST = SP, O = Detect Inter, CN = Detect Inter',
      ],
    );
    assert.deepEqual(r.skipped, [{ label: 'PRIVATE KEY', reason: 'private keys are never shown' }]);
    const keyBody = leaf.keyPem.split('\n')[1] as string;
    assert.ok(
      !JSON.stringify(r).includes(keyBody) && !renderInspectionText(r).includes(keyBody),
      'no key material in the output',
    );
    assert.match(renderInspectionText(r), /# 1\/2: certificate/);
  });

  it('recognises DER certificates, CSRs and CRLs by structure', async () => {
    const certDer = Buffer.from(root.certificate.rawData);
    assert.equal(detectDerKind(certDer), 'certificate');
    const keys = await generateKeyPair('ec-p256');
    const csr = await createCsr({
      subject: parseSubject('/CN=der-csr'),
      privateKey: keys.privateKey,
    });
    assert.equal(detectDerKind(csr.der), 'csr');
    const crl = await buildCrl({
      signer: { privateKey: root.privateKey, certificate: root.certificate },
      crlNumber: 1n,
      entries: [],
    });
    assert.equal(detectDerKind(crl.der), 'crl');
    // A v1 certificate (no [0] version) is still a certificate.
    const key = join(dir, 'v1.key');
    const req = join(dir, 'v1.csr');
    const v1 = join(dir, 'v1.der');
    openssl([
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      key,
      '-subj',
      '/CN=v1',
      '-out',
      req,
    ]);
    openssl([
      'x509',
      '-req',
      '-in',
      req,
      '-signkey',
      key,
      '-days',
      '1',
      '-outform',
      'DER',
      '-out',
      v1,
    ]);
    assert.equal(detectDerKind(readFileSync(v1)), 'certificate');

    const r1 = await inspectPki({ data: certDer, source: 'root.der' });
    assert.equal(r1.format, 'der');
    assert.equal(r1.objects[0]?.type, 'certificate');
    const r2 = await inspectPki({ data: csr.der, source: 'req.der' });
    assert.equal(r2.objects[0]?.type, 'csr');
    const r3 = await inspectPki({ data: crl.der, source: 'crl.der' });
    assert.equal(r3.objects[0]?.type, 'crl');
  });

  it('reads the certificates of an OpenSSL .pfx with its password, never the key', async () => {
    const leaf = await makeLeaf(dir, inter, { cn: 'pfx-leaf' });
    const pfx = join(dir, 'client.pfx');
    const pw = join(dir, 'pw.txt');
    writeFileSync(pw, 'pfx-pass\n');
    writeFileSync(join(dir, 'chain.pem'), inter.certPem + root.certPem);
    openssl([
      'pkcs12',
      '-export',
      '-inkey',
      leaf.keyPath,
      '-in',
      leaf.certPath,
      '-certfile',
      join(dir, 'chain.pem'),
      '-name',
      'pfx-leaf',
      '-passout',
      `file:${pw}`,
      '-out',
      pfx,
    ]);
    const data = readFileSync(pfx);
    assert.equal(detectDerKind(data), 'pkcs12');
    let asked = 0;
    const r = await inspectPki({
      data,
      source: 'client.pfx',
      password: () => {
        asked++;
        return Promise.resolve('pfx-pass');
      },
    });
    assert.equal(asked, 1);
    assert.equal(r.format, 'pkcs12');
    assert.deepEqual(
      r.objects.map((o) => (o.type === 'certificate' ? o.subject.text : '')),
      [
        'C = BR, ST = SP, O = Test, CN = pfx-leaf',
        'C = BR, ST = SP, O = Detect Inter, CN = Detect Inter',
        'C = BR, ST = SP, O = Detect Root, CN = Detect Root',
      ],
    );
    const p12 = defined(r.pkcs12, 'the PKCS#12 description');
    assert.equal(p12.friendlyName, 'pfx-leaf');
    assert.equal(p12.privateKey?.text, 'EC P-256');
    const text = renderInspectionText(r);
    assert.match(text, /Private key: EC P-256 \(matches the certificate; not shown\)/);
    const scalar = Buffer.from(
      leaf.privateKey.export({ format: 'jwk' }).d as string,
      'base64url',
    ).toString('hex');
    const json = JSON.stringify(r).toLowerCase();
    assert.ok(
      !json.includes(scalar) && !text.toLowerCase().replace(/:/g, '').includes(scalar),
      'no key material in the description',
    );

    // The BER form Java and Windows write (indefinite outer length) is recognised too.
    const outer = readDer(data, 0);
    const ber = Buffer.concat([Buffer.from([0x30, 0x80]), outer.content, Buffer.from([0, 0])]);
    assert.equal(detectDerKind(ber), 'pkcs12');
    assert.equal(
      (await inspectPki({ data: ber, source: 'ber.bin', password: 'pfx-pass' })).objects.length,
      3,
    );
    // Recognised by structure, whatever the name; a certificate misnamed .p12 is still a certificate.
    assert.equal(
      (await inspectPki({ data, source: 'client.bin', password: 'pfx-pass' })).format,
      'pkcs12',
    );
    assert.equal(
      (await inspectPki({ data: Buffer.from(root.certificate.rawData), source: 'misnamed.p12' }))
        .objects[0]?.type,
      'certificate',
    );

    await assert.rejects(inspectPki({ data, source: 'client.pfx', password: 'wrong' }), (e) =>
      isMtlsError(e, 'MTLS_BAD_PASSPHRASE'),
    );
    await assert.rejects(inspectPki({ data, source: 'client.pfx' }), (e) =>
      isMtlsError(e, 'MTLS_PASSPHRASE_REQUIRED'),
    );
    // A password is never asked for files that are not PKCS#12.
    await inspectPki({
      data: Buffer.from(root.certPem),
      source: 'root.pem',
      password: () => Promise.reject(new Error('must not be asked')),
    });
  });

  it('refuses garbage PEM, corrupt base64, truncated DER, empty files and unknown structures with clear codes', async () => {
    const cases: Array<[string, Buffer, string]> = [
      [
        'garbage PEM',
        Buffer.from('-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n'),
        'MTLS_PEM_INVALID',
      ],
      [
        'valid base64, not DER',
        Buffer.from('-----BEGIN CERTIFICATE-----\nSGVsbG8gd29ybGQh\n-----END CERTIFICATE-----\n'),
        'MTLS_DER_INVALID',
      ],
      ['text without PEM', Buffer.from('hello, I am not a certificate\n'), 'MTLS_PEM_INVALID'],
      ['empty', Buffer.alloc(0), 'MTLS_PEM_INVALID'],
      ['truncated DER', Buffer.from(root.certificate.rawData).subarray(0, 200), 'MTLS_DER_INVALID'],
      ['binary garbage', Buffer.from([0x04, 0x03, 0xff, 0xfe, 0x00, 0x81]), 'MTLS_DER_INVALID'],
      [
        'a SEQUENCE of nothing known',
        Buffer.from([0x30, 0x03, 0x02, 0x01, 0x05]),
        'MTLS_DER_INVALID',
      ],
      [
        'a PEM with only a key',
        Buffer.from((await makeLeaf(dir, root, { cn: 'only-key' })).keyPem),
        'MTLS_PEM_INVALID',
      ],
    ];
    for (const [name, data, code] of cases) {
      await assert.rejects(
        inspectPki({ data, source: name }),
        (e) => isMtlsError(e, code as never) && (e as Error).message.includes(name),
        name,
      );
    }
  });

  it('describes every certificate of a bundle identically through parseCertificates', async () => {
    const certs = parseCertificates(root.certPem + inter.certPem);
    const r = await inspectPki({ data: Buffer.from(root.certPem + inter.certPem) });
    assert.deepEqual(r.objects, certs.map(describeCertificate));
  });
});
