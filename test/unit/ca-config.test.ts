import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMtlsError, type MtlsError } from '../../src/errors/index.js';
import { loadCaConfig, type LoadCaConfigOptions } from '../../src/ca/ca-config.js';
import { CRL_EXTENSIONS_PROFILE, renderOpenSslCnf } from '../../src/ca/render-cnf.js';
import { parseSubject } from '../../src/pki/names.js';
import { BUILTIN_PROFILES } from '../../src/pki/profile.js';

/** A hand-written openssl.cnf as the reference integration guide gives it, verbatim (trailing spaces included). */
const GUIDE_CNF = [
  '[ ca ]  ',
  'default_ca = CA_default',
  '',
  '[ CA_default ]  ',
  'dir = ~/myCA  ',
  'certs = $dir/certs  ',
  'crl_dir = $dir/crl  ',
  'new_certs_dir = $dir/newcerts  ',
  'database = $dir/index.txt  ',
  'serial = $dir/serial  ',
  'RANDFILE = $dir/private/.rand  ',
  'private_key = $dir/private/ca.key.pem  ',
  'certificate = $dir/certs/ca.cert.pem  ',
  'crlnumber = $dir/crlnumber  ',
  'crl = $dir/crl.pem  ',
  'crl_extensions = crl_ext  ',
  'default_crl_days = 30  ',
  'default_md = sha256  ',
  'name_opt = ca_default  ',
  'cert_opt = ca_default  ',
  'default_days = 375  ',
  'preserve = no  ',
  'policy = policy_strict',
  '',
  '[ policy_strict ]  ',
  'countryName = match  ',
  'stateOrProvinceName = match  ',
  'organizationName = match  ',
  'organizationalUnitName = optional  ',
  'commonName = supplied  ',
  'emailAddress = optional',
  '',
  '[ req ]  ',
  'default_bits = 2048  ',
  'distinguished_name = req_distinguished_name  ',
  'string_mask = utf8only',
  '',
  '[ req_distinguished_name ]  ',
  'countryName = Country Name (2 letter code)  ',
  'stateOrProvinceName = State or Province Name  ',
  'localityName = Locality Name  ',
  '0.organizationName = Organization Name  ',
  'commonName = Common Name  ',
  'emailAddress = Email Address',
  '',
  '[ v3_ca ]  ',
  'subjectKeyIdentifier = hash  ',
  'authorityKeyIdentifier = keyid:always,issuer  ',
  'basicConstraints = critical, CA:true  ',
  'keyUsage = critical, digitalSignature, cRLSign, keyCertSign',
  '',
  '[ v3_req ]  ',
  'keyUsage = nonRepudiation, digitalSignature, keyEncipherment',
  '',
  '[ usr_cert ]  ',
  'basicConstraints = CA:FALSE  ',
  'nsCertType = client, email  ',
  'nsComment = "OpenSSL Generated Client Certificate"  ',
  'subjectKeyIdentifier = hash  ',
  'authorityKeyIdentifier = keyid,issuer  ',
  'keyUsage = critical, nonRepudiation, digitalSignature, keyEncipherment  ',
  'extendedKeyUsage = clientAuth, emailProtection',
  '',
].join('\n');

const CA_SUBJECT = '/C=BR/ST=SP/O=Acme/CN=Acme Root CA';

function tmp(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'mtls-cacfg-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs openssl; returns stdout, or throws an Error carrying stderr. */
function openssl(args: string[], cwd?: string): string {
  try {
    return execFileSync('openssl', args, {
      encoding: 'utf8',
      stdio: 'pipe',
      ...(cwd ? { cwd } : {}),
    });
  } catch (e) {
    throw new Error(
      `openssl ${args.join(' ')} failed: ${String((e as { stderr?: string }).stderr ?? e)}`,
    );
  }
}

/** A hand-made CA directory (plus crlnumber, which hand-made ones often lack). */
function guideLayout(dir: string, attr?: string): void {
  for (const d of ['certs', 'crl', 'newcerts', 'private'])
    mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, 'index.txt'), '');
  if (attr !== undefined) writeFileSync(join(dir, 'index.txt.attr'), attr);
  writeFileSync(join(dir, 'serial'), '1000\n');
  writeFileSync(join(dir, 'crlnumber'), '1000\n');
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

function makeCsr(cnf: string, dir: string, name: string, subject: string): string {
  const csr = join(dir, `${name}.csr.pem`);
  openssl([
    'req',
    '-config',
    cnf,
    '-new',
    ...EC,
    '-keyout',
    join(dir, `${name}.key.pem`),
    '-sha256',
    '-subj',
    subject,
    '-out',
    csr,
  ]);
  return csr;
}

async function rejects(
  p: Promise<unknown>,
  code: MtlsError['code'],
  ...parts: string[]
): Promise<MtlsError> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  assert.ok(isMtlsError(err, code), `expected ${code}, got ${String(err)}`);
  for (const s of parts)
    assert.ok(err.message.includes(s), `message "${err.message}" should include "${s}"`);
  return err;
}

test("oracle: a CA built with the guide's own commands signs with openssl ca, and we read its file the same way", async (t) => {
  const root = tmp(t);
  const caDir = join(root, 'myCA');
  guideLayout(caDir);
  const cnf = join(caDir, 'openssl.cnf');
  writeFileSync(cnf, GUIDE_CNF.replace('dir = ~/myCA  ', `dir = ${caDir}  `));
  // The root key and certificate (P-256 instead of RSA-4096 to keep the test fast), then a client CSR.
  openssl([
    'req',
    '-config',
    cnf,
    ...EC,
    '-keyout',
    join(caDir, 'private', 'ca.key.pem'),
    '-new',
    '-x509',
    '-days',
    '7300',
    '-sha256',
    '-extensions',
    'v3_ca',
    '-subj',
    CA_SUBJECT,
    '-out',
    join(caDir, 'certs', 'ca.cert.pem'),
  ]);
  const csr = makeCsr(cnf, caDir, 'client', '/C=BR/ST=SP/O=Acme/CN=client1');
  const certPath = join(caDir, 'certs', 'client.cert.pem');
  openssl([
    'ca',
    '-config',
    cnf,
    '-extensions',
    'usr_cert',
    '-days',
    '375',
    '-notext',
    '-md',
    'sha256',
    '-batch',
    '-in',
    csr,
    '-out',
    certPath,
  ]);

  const cfg = await loadCaConfig(caDir);
  assert.equal(cfg.dir, caDir);
  assert.equal(cfg.caSection, 'CA_default');
  assert.equal(cfg.certificate, join(caDir, 'certs', 'ca.cert.pem'));
  assert.equal(cfg.privateKey, join(caDir, 'private', 'ca.key.pem'));
  assert.equal(cfg.database, join(caDir, 'index.txt'));
  assert.equal(cfg.serialFile, join(caDir, 'serial'));
  assert.equal(cfg.crlNumberFile, join(caDir, 'crlnumber'));
  assert.equal(cfg.crlFile, join(caDir, 'crl.pem'));
  assert.equal(cfg.newCertsDir, join(caDir, 'newcerts'));
  assert.equal(cfg.defaultDays, 375);
  assert.equal(cfg.defaultCrlDays, 30);
  assert.equal(cfg.defaultMd, 'sha256');
  assert.equal(cfg.copyExtensions, 'none');
  assert.equal(cfg.preserve, false);
  assert.equal(cfg.emailInDn, true);
  // openssl ca wrote index.txt.attr (unique_subject = yes, its default) when it signed.
  assert.equal(cfg.uniqueSubject, true);
  assert.equal(cfg.uniqueSubjectSource, 'index.txt.attr');
  assert.equal(cfg.policy, 'policy_strict');
  assert.deepEqual(cfg.policyFields, {
    countryName: 'match',
    stateOrProvinceName: 'match',
    organizationName: 'match',
    organizationalUnitName: 'optional',
    commonName: 'supplied',
    emailAddress: 'optional',
  });
  assert.deepEqual(
    cfg.policyRules.map((r) => r.line),
    [26, 27, 28, 29, 30, 31],
  );
  assert.deepEqual(Object.keys(cfg.profiles), ['v3_ca', 'v3_req', 'usr_cert']);
  assert.deepEqual(cfg.profiles.usr_cert, BUILTIN_PROFILES.usr_cert);
  assert.deepEqual(cfg.profiles.v3_ca, BUILTIN_PROFILES.v3_ca);
  assert.deepEqual(
    cfg.ignored.map((i) => i.key),
    ['RANDFILE', 'name_opt', 'cert_opt'],
  );
  assert.deepEqual(
    cfg.reqFields.map((f) => [f.field, f.prompt]),
    [
      ['countryName', 'Country Name (2 letter code)'],
      ['stateOrProvinceName', 'State or Province Name'],
      ['localityName', 'Locality Name'],
      ['organizationName', 'Organization Name'],
      ['commonName', 'Common Name'],
      ['emailAddress', 'Email Address'],
    ],
  );
  // The guide names crl_ext but never defines it: openssl ca -gencrl fails, and we say so.
  assert.equal(cfg.crlExtensions, undefined);
  assert.ok(cfg.warnings.some((w) => w.startsWith(`${cnf}:16:`) && w.includes('crl_ext')));
  assert.throws(
    () => openssl(['ca', '-config', cnf, '-gencrl', '-out', join(caDir, 'crl.pem')]),
    /crl_ext/,
  );

  // What openssl put in the certificate is what our usr_cert profile says.
  const ext = openssl([
    'x509',
    '-in',
    certPath,
    '-noout',
    '-ext',
    'basicConstraints,keyUsage,extendedKeyUsage,nsCertType,nsComment',
  ]);
  assert.match(ext, /X509v3 Basic Constraints: \n\s+CA:FALSE/);
  assert.match(
    ext,
    /X509v3 Key Usage: critical\n\s+Digital Signature, Non Repudiation, Key Encipherment/,
  );
  assert.match(
    ext,
    /X509v3 Extended Key Usage: \n\s+TLS Web Client Authentication, E-mail Protection/,
  );
  assert.match(ext, /Netscape Cert Type: \n\s+SSL Client, S\/MIME/);
  assert.match(ext, /Netscape Comment: \n\s+OpenSSL Generated Client Certificate/);

  // policy_strict as we read it (O = match) is what openssl enforces.
  const other = makeCsr(cnf, caDir, 'other', '/C=BR/ST=SP/O=Other/CN=client2');
  assert.throws(
    () =>
      openssl([
        'ca',
        '-config',
        cnf,
        '-batch',
        '-extensions',
        'usr_cert',
        '-in',
        other,
        '-out',
        join(root, 'other.pem'),
      ]),
    /organizationName field (is different|needed to be the same)/,
  );
});

test('the verbatim guide file: ~ is expanded with a warning naming file:line; OpenSSL itself does not expand it', async (t) => {
  const root = tmp(t);
  const home = join(root, 'home');
  const caDir = join(home, 'myCA');
  guideLayout(caDir);
  const cnf = join(caDir, 'openssl.cnf');
  writeFileSync(cnf, GUIDE_CNF);
  const cfg = await loadCaConfig(caDir, { homeDir: home });
  assert.equal(cfg.dir, caDir);
  assert.equal(cfg.privateKey, join(caDir, 'private', 'ca.key.pem'));
  assert.equal(cfg.certs, join(caDir, 'certs'));
  const w = cfg.warnings.find((x) => x.includes('"~" expanded'));
  assert.ok(w, cfg.warnings.join('\n'));
  assert.ok(w.includes(`dir (${cnf}:5)`), w);
  assert.ok(w.includes(`private_key (${cnf}:12)`), w);
  assert.ok(w.includes('OpenSSL itself does not expand'), w);
  assert.ok(w.includes('absolute paths'), w);
  assert.ok(!cfg.warnings.some((x) => x.includes('is not the CA directory')));

  // The pitfall is real: openssl ca looks for a literal "~" path.
  const csr = join(root, 'x.csr');
  openssl(['req', '-new', ...EC, '-keyout', join(root, 'x.key'), '-subj', '/CN=x', '-out', csr]);
  assert.throws(
    () => openssl(['ca', '-config', cnf, '-batch', '-in', csr, '-out', join(root, 'x.pem')], root),
    /~\/myCA\/private\/ca\.key\.pem/,
  );
});

test('oracle: the rendered openssl.cnf is accepted by openssl ca as it stands (sign, profiles, revoke, gencrl)', async (t) => {
  const root = tmp(t);
  // Spaces, "$" and "#" in the path must survive OpenSSL's reader.
  const caDir = join(root, 'my CA $x #1');
  guideLayout(caDir, 'unique_subject = no\n');
  const cnf = join(caDir, 'openssl.cnf');
  writeFileSync(cnf, renderOpenSslCnf({ dir: caDir, caSubject: parseSubject(CA_SUBJECT) }));
  // [req] x509_extensions = v3_ca makes the root without -extensions.
  openssl([
    'req',
    '-config',
    cnf,
    '-x509',
    ...EC,
    '-keyout',
    join(caDir, 'private', 'ca.key.pem'),
    '-days',
    '7300',
    '-subj',
    CA_SUBJECT,
    '-out',
    join(caDir, 'certs', 'ca.cert.pem'),
  ]);
  assert.match(
    openssl([
      'x509',
      '-in',
      join(caDir, 'certs', 'ca.cert.pem'),
      '-noout',
      '-ext',
      'basicConstraints',
    ]),
    /critical\n\s+CA:TRUE/,
  );

  const csr = makeCsr(cnf, root, 'leaf', '/C=BR/ST=SP/O=Acme/CN=client1');
  const leaf1 = join(root, 'leaf1.pem');
  // No -extensions, -days, -md or -policy: everything comes from the file.
  openssl(['ca', '-config', cnf, '-batch', '-in', csr, '-out', leaf1]);
  const text1 = openssl(['x509', '-in', leaf1, '-noout', '-text']);
  assert.match(text1, /OpenSSL Generated Client Certificate/);
  const notBefore = new Date(
    openssl(['x509', '-in', leaf1, '-noout', '-startdate']).split('=')[1] as string,
  );
  const notAfter = new Date(
    openssl(['x509', '-in', leaf1, '-noout', '-enddate']).split('=')[1] as string,
  );
  assert.equal(Math.round((notAfter.getTime() - notBefore.getTime()) / 86_400_000), 375);
  assert.match(text1, /Signature Algorithm: ecdsa-with-SHA256/);

  // Same subject again (unique_subject = no), through client_cert and server_cert.
  const leaf2 = join(root, 'leaf2.pem');
  openssl([
    'ca',
    '-config',
    cnf,
    '-batch',
    '-extensions',
    'client_cert',
    '-in',
    csr,
    '-out',
    leaf2,
  ]);
  assert.match(
    openssl(['x509', '-in', leaf2, '-noout', '-ext', 'extendedKeyUsage,basicConstraints']),
    /critical\n\s+CA:FALSE[\s\S]*TLS Web Client Authentication/,
  );
  const leaf3 = join(root, 'leaf3.pem');
  openssl([
    'ca',
    '-config',
    cnf,
    '-batch',
    '-extensions',
    'server_cert',
    '-in',
    csr,
    '-out',
    leaf3,
  ]);
  assert.match(
    openssl(['x509', '-in', leaf3, '-noout', '-ext', 'extendedKeyUsage']),
    /TLS Web Server Authentication/,
  );

  openssl(['ca', '-config', cnf, '-revoke', leaf1]);
  const crl = join(root, 'crl.pem');
  openssl(['ca', '-config', cnf, '-gencrl', '-out', crl]);
  const crlText = openssl(['crl', '-in', crl, '-noout', '-text']);
  assert.match(crlText, /X509v3 CRL Number/);
  assert.match(crlText, /X509v3 Authority Key Identifier/);
  assert.match(crlText, /Revoked Certificates:/);

  // policy_strict as written: openssl refuses a different O.
  const other = makeCsr(cnf, root, 'other', '/C=BR/ST=SP/O=Other/CN=x');
  assert.throws(
    () => openssl(['ca', '-config', cnf, '-batch', '-in', other, '-out', join(root, 'o.pem')]),
    /organizationName field (is different|needed to be the same)/,
  );

  // And we read back exactly what we wrote, without a single warning.
  const cfg = await loadCaConfig(caDir);
  assert.deepEqual(cfg.warnings, []);
  assert.equal(cfg.dir, caDir);
  assert.equal(cfg.privateKey, join(caDir, 'private', 'ca.key.pem'));
  assert.equal(cfg.crlFile, join(caDir, 'crl', 'ca.crl.pem'));
  assert.deepEqual(cfg.profiles, { ...BUILTIN_PROFILES, crl_ext: CRL_EXTENSIONS_PROFILE });
  assert.equal(cfg.x509Extensions, 'usr_cert');
  assert.equal(cfg.crlExtensions, 'crl_ext');
  assert.equal(cfg.copyExtensions, 'none');
  assert.equal(cfg.uniqueSubject, false);
  assert.equal(cfg.uniqueSubjectSource, 'index.txt.attr');
  assert.equal(cfg.policy, 'policy_strict');
  assert.deepEqual(cfg.req, {
    prompt: true,
    defaultBits: 2048,
    defaultMd: 'sha256',
    stringMask: 'utf8only',
    x509Extensions: 'v3_ca',
    distinguishedName: 'req_distinguished_name',
  });
  const country = cfg.reqFields.find((f) => f.field === 'countryName');
  assert.deepEqual([country?.default, country?.min, country?.max], ['BR', 2, 2]);
  assert.equal(cfg.reqFields.find((f) => f.field === 'organizationName')?.default, 'Acme');
  assert.equal(cfg.reqFields.find((f) => f.field === 'commonName')?.default, undefined);
});

test('oracle: the rendered file also serves an Ed25519 CA (default_md is ignored for Ed25519)', (t) => {
  const caDir = tmp(t);
  guideLayout(caDir, 'unique_subject = no\n');
  const cnf = join(caDir, 'openssl.cnf');
  writeFileSync(cnf, renderOpenSslCnf({ dir: caDir, caSubject: parseSubject(CA_SUBJECT) }));
  openssl([
    'req',
    '-config',
    cnf,
    '-x509',
    '-newkey',
    'ed25519',
    '-nodes',
    '-keyout',
    join(caDir, 'private', 'ca.key.pem'),
    '-days',
    '30',
    '-subj',
    CA_SUBJECT,
    '-out',
    join(caDir, 'certs', 'ca.cert.pem'),
  ]);
  const csr = makeCsr(cnf, caDir, 'leaf', '/C=BR/ST=SP/O=Acme/CN=leaf');
  openssl([
    'ca',
    '-config',
    cnf,
    '-batch',
    '-extensions',
    'client_cert',
    '-in',
    csr,
    '-out',
    join(caDir, 'leaf.pem'),
  ]);
  assert.match(
    openssl(['x509', '-in', join(caDir, 'leaf.pem'), '-noout', '-text']),
    /Signature Algorithm: ED25519/,
  );
});

test('renderOpenSslCnf refuses a relative dir and an unknown default profile', () => {
  assert.throws(
    () => renderOpenSslCnf({ dir: 'myCA' }),
    (e: unknown) => isMtlsError(e, 'MTLS_BAD_ARGUMENT') && e.message.includes('absolute'),
  );
  assert.throws(
    () => renderOpenSslCnf({ dir: '/ca', defaultProfile: 'nope' }),
    (e: unknown) => isMtlsError(e, 'MTLS_BAD_ARGUMENT'),
  );
});

/** A small valid CA config; `ca` lines go into [CA_default], `extra` after it. */
function minimal(ca: string[] = [], extra: string[] = []): string {
  return [
    '[ ca ]',
    'default_ca = CA_default',
    '[ CA_default ]',
    'dir = .',
    'new_certs_dir = $dir/newcerts',
    'database = $dir/index.txt',
    'serial = $dir/serial',
    'private_key = $dir/private/ca.key.pem',
    'certificate = $dir/certs/ca.cert.pem',
    'default_days = 100',
    'default_crl_days = 7',
    'default_md = sha256',
    'policy = p',
    ...ca,
    '[ p ]',
    'CN = supplied',
    ...extra,
    '',
  ].join('\n');
}

async function load(
  t: { after: (fn: () => void) => void },
  text: string,
  options: LoadCaConfigOptions = {},
  attr?: string,
): ReturnType<typeof loadCaConfig> {
  const dir = tmp(t);
  writeFileSync(join(dir, 'openssl.cnf'), text);
  if (attr !== undefined) writeFileSync(join(dir, 'index.txt.attr'), attr);
  return loadCaConfig(dir, options);
}

async function loadFails(
  t: { after: (fn: () => void) => void },
  text: string,
  code: MtlsError['code'],
  ...parts: string[]
): Promise<MtlsError> {
  const dir = tmp(t);
  writeFileSync(join(dir, 'openssl.cnf'), text);
  return rejects(
    loadCaConfig(dir),
    code,
    ...parts.map((p) => p.replace('FILE', join(dir, 'openssl.cnf'))),
  );
}

test('a minimal config: relative dir resolved against the CA directory, with a warning', async (t) => {
  const cfg = await load(t, minimal());
  assert.equal(cfg.dir, cfg.caDir);
  assert.equal(cfg.database, join(cfg.caDir, 'index.txt'));
  assert.deepEqual(cfg.policyFields, { commonName: 'supplied' });
  assert.equal(cfg.defaultDays, 100);
  assert.equal(cfg.defaultCrlDays, 7);
  assert.equal(cfg.crlNumberFile, undefined);
  assert.deepEqual(cfg.profiles, {});
  assert.ok(
    cfg.warnings.some((w) => w.includes('relative paths') && w.includes('working directory')),
  );
});

test('a missing CA directory, openssl.cnf, default_ca or CA section is reported with the fix', async (t) => {
  const root = tmp(t);
  await rejects(loadCaConfig(join(root, 'nope')), 'MTLS_CA_NOT_FOUND', join(root, 'nope'));
  const e = await rejects(loadCaConfig(root), 'MTLS_CA_NOT_FOUND', 'openssl.cnf');
  // The library's hint names no CLI command or flag; the CLI adds those (src/cli/hints.ts).
  assert.match(
    e.hint,
    /DIR\/openssl.cnf; name the file explicitly if it lives elsewhere, or create the CA first\./,
  );
  assert.doesNotMatch(e.hint, /--|mtls /);
  const noDefault = await loadFails(
    t,
    '[ CA_default ]\ndir = .\n',
    'MTLS_CONFIG_INVALID',
    'FILE',
    'default_ca',
  );
  assert.match(noDefault.hint, /default_ca = CA_default/);
  await loadFails(t, '[ ca ]\ndefault_ca = Mine\n', 'MTLS_CONFIG_INVALID', 'FILE:2', '[ Mine ]');
  await loadFails(
    t,
    minimal().replace('policy = p\n', ''),
    'MTLS_CONFIG_INVALID',
    'FILE',
    'no policy',
  );
  await loadFails(
    t,
    minimal().replace('private_key = $dir/private/ca.key.pem\n', ''),
    'MTLS_CONFIG_INVALID',
    'private_key',
  );
  await loadFails(
    t,
    minimal(['policy = nothere']),
    'MTLS_CONFIG_INVALID',
    'FILE:14',
    '[ nothere ]',
  );
});

test('bad values and unsupported CA settings name file:line', async (t) => {
  await loadFails(
    t,
    minimal().replace('CN = supplied', 'CN = required'),
    'MTLS_CONFIG_INVALID',
    'FILE:15',
    'match, supplied or optional',
  );
  await loadFails(
    t,
    minimal().replace('CN = supplied', 'notAField = match'),
    'MTLS_CONFIG_INVALID',
    'FILE:15',
    'notAField',
  );
  await loadFails(
    t,
    minimal(['default_startdate = 250101000000Z']),
    'MTLS_CONFIG_UNSUPPORTED',
    'FILE:14',
    'default_startdate',
  );
  await loadFails(
    t,
    minimal(['default_enddate = 300101000000Z']),
    'MTLS_CONFIG_UNSUPPORTED',
    'FILE:14',
    'default_enddate',
  );
  await loadFails(
    t,
    minimal(['msie_hack = yes']),
    'MTLS_CONFIG_UNSUPPORTED',
    'FILE:14',
    'msie_hack',
  );
  await loadFails(
    t,
    minimal(['default_md = sha1']),
    'MTLS_CONFIG_INVALID',
    'FILE:14',
    'sha1',
    'RFC 6194',
  );
  await loadFails(
    t,
    minimal(['default_md = whirlpool']),
    'MTLS_CONFIG_UNSUPPORTED',
    'FILE:14',
    'whirlpool',
  );
  await loadFails(
    t,
    minimal(['default_days = soon']),
    'MTLS_CONFIG_INVALID',
    'FILE:14',
    'whole number',
  );
  await loadFails(
    t,
    minimal(['copy_extensions = some']),
    'MTLS_CONFIG_INVALID',
    'FILE:14',
    'copyall',
  );
  await loadFails(
    t,
    minimal(['preserve = perhaps']),
    'MTLS_CONFIG_INVALID',
    'FILE:14',
    'yes or no',
  );
  await loadFails(
    t,
    minimal(['x509_extensions = gone']),
    'MTLS_CONFIG_INVALID',
    'FILE:14',
    '[ gone ]',
  );
});

test('accepted-but-ignored keys, variables, warnings and defaults', async (t) => {
  const cfg = await load(
    t,
    minimal([
      'rand_serial = yes',
      'msie_hack = no',
      'string_mask = default',
      'default_day = 30',
      'copy_extensions = copyall',
      'email_in_dn = no',
      'preserve = yes',
    ]).replace(/default_days = 100\ndefault_crl_days = 7\ndefault_md = sha256\n/, ''),
  );
  assert.deepEqual(
    cfg.ignored.map((i) => i.key),
    ['rand_serial', 'msie_hack', 'string_mask'],
  );
  assert.ok(cfg.ignored.every((i) => i.reason.length > 10));
  const has = (s: string): boolean => cfg.warnings.some((w) => w.includes(s));
  assert.ok(has('string_mask = default'));
  assert.ok(has('default_day is not a setting openssl ca reads'));
  assert.ok(has('copyall'));
  assert.ok(has('no default_days; mtlskit uses 375'));
  assert.ok(has('default_crl_days or default_crl_hours; mtlskit uses 30'));
  assert.ok(has('no default_md; mtlskit uses sha256'));
  assert.equal(cfg.defaultDays, 375);
  assert.equal(cfg.defaultCrlDays, 30);
  assert.equal(cfg.defaultMd, 'sha256');
  assert.equal(cfg.copyExtensions, 'copyall');
  assert.equal(cfg.emailInDn, false);
  assert.equal(cfg.preserve, true);
});

test('keys fall back to the default section, as openssl ca looks them up', async (t) => {
  const cfg = await load(t, `default_days = 42\n${minimal().replace('default_days = 100\n', '')}`);
  assert.equal(cfg.defaultDays, 42);
});

test('unique_subject: index.txt.attr wins over openssl.cnf, which wins over the default', async (t) => {
  const a = await load(t, minimal(['unique_subject = no']), {}, 'unique_subject = yes\n');
  assert.equal(a.uniqueSubject, true);
  assert.equal(a.uniqueSubjectSource, 'index.txt.attr');
  const b = await load(t, minimal(['unique_subject = no']));
  assert.equal(b.uniqueSubject, false);
  assert.equal(b.uniqueSubjectSource, 'openssl.cnf');
});

test('profiles: an unsupported directive fails by default, naming file:line; skip leaves the profile out', async (t) => {
  const text = minimal(
    [],
    [
      '[ proxy_cert_ext ]',
      'basicConstraints = CA:FALSE',
      'proxyCertInfo = critical,language:id-ppl-anyLanguage',
      '[ client_cert ]',
      'extendedKeyUsage = clientAuth',
    ],
  );
  const e = await loadFails(t, text, 'MTLS_CONFIG_UNSUPPORTED', 'FILE:18', 'proxyCertInfo');
  assert.match(e.hint, /delete that section/);
  const cfg = await load(t, text, { badProfiles: 'skip' });
  assert.deepEqual(Object.keys(cfg.profiles), ['client_cert']);
  assert.deepEqual(
    cfg.skippedProfiles.map((s) => s.name),
    ['proxy_cert_ext'],
  );
  assert.ok(
    cfg.warnings.some((w) => w.includes('profile [proxy_cert_ext] left out') && w.includes(':18:')),
  );
  // A section the CA signs with by default cannot be skipped.
  const dir = tmp(t);
  writeFileSync(
    join(dir, 'openssl.cnf'),
    minimal(['x509_extensions = proxy_cert_ext'], ['[ proxy_cert_ext ]', 'proxyCertInfo = x']),
  );
  await rejects(
    loadCaConfig(dir, { badProfiles: 'skip' }),
    'MTLS_CONFIG_UNSUPPORTED',
    'proxyCertInfo',
  );
});

test('[req] with prompt = no gives fixed values; passwords in the file are flagged, never echoed', async (t) => {
  const cfg = await load(
    t,
    minimal(
      [],
      [
        '[ req ]',
        'prompt = no',
        'distinguished_name = dn',
        'output_password = hunter2-secret',
        '[ dn ]',
        'C = BR',
        '1.OU = Ops',
        '+CN = x',
        'bogusField = 1',
      ],
    ),
  );
  assert.deepEqual(
    cfg.reqFields.map((f) => [f.field, f.value, f.multiValued ?? false]),
    [
      ['countryName', 'BR', false],
      ['organizationalUnitName', 'Ops', false],
      ['commonName', 'x', true],
    ],
  );
  assert.ok(cfg.warnings.some((w) => w.includes('output_password')));
  assert.ok(cfg.warnings.some((w) => w.includes('bogusField')));
  assert.ok(!cfg.warnings.some((w) => w.includes('hunter2-secret')));
});
