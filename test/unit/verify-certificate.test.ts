/**
 * verifyCertificate, cross-checked case by case against
 * `openssl verify -CAfile … -untrusted … -purpose sslclient|sslserver`.
 */
import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as x509 from '@peculiar/x509';
import { parseCertificate } from '../../src/pki/certificate.js';
import type { ExtensionProfile } from '../../src/pki/profile.js';
import {
  VERIFY_REASONS,
  verifyCertificate,
  type VerifyPurpose,
  type VerifyReason,
  type VerifyResult,
} from '../../src/pki/verify-certificate.js';
import { makeCa, makeLeaf, tempDir, type TestCa, type TestLeaf } from '../helpers/pki.js';

const DAY = 86_400_000;

interface Case {
  cert: string;
  ca: string[];
  untrusted?: string[];
  purpose: VerifyPurpose;
  at?: Date;
  partialChain?: boolean;
}

/** What `openssl verify` decides for the same inputs. */
function opensslAccepts(dir: string, c: Case): { ok: boolean; output: string } {
  const caFile = join(dir, `ca-${Math.random().toString(36).slice(2)}.pem`);
  writeFileSync(caFile, c.ca.map((f) => readFileSync(f, 'utf8')).join(''));
  const args = [
    'verify',
    '-CAfile',
    caFile,
    '-purpose',
    c.purpose === 'client' ? 'sslclient' : 'sslserver',
  ];
  if (c.untrusted?.length) {
    const u = join(dir, `untrusted-${Math.random().toString(36).slice(2)}.pem`);
    writeFileSync(u, c.untrusted.map((f) => readFileSync(f, 'utf8')).join(''));
    args.push('-untrusted', u);
  }
  if (c.at) args.push('-attime', String(Math.floor(c.at.getTime() / 1000)));
  if (c.partialChain) args.push('-partial_chain');
  args.push(c.cert);
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  return { ok: r.status === 0, output: r.stdout + r.stderr };
}

function certsOf(files: string[]): x509.X509Certificate[] {
  return files.map((f) => parseCertificate(readFileSync(f)));
}

function ours(c: Case, extra: { acceptAnyExtendedKeyUsage?: boolean } = {}): VerifyResult {
  return verifyCertificate({
    certificate: parseCertificate(readFileSync(c.cert)),
    chain: certsOf(c.ca),
    untrusted: certsOf(c.untrusted ?? []),
    purpose: c.purpose,
    ...(c.at ? { at: c.at } : {}),
    ...(c.partialChain ? { partialChain: true } : {}),
    ...extra,
  });
}

/** Runs both and asserts they agree; returns ours. */
function agree(dir: string, c: Case, expectOk: boolean): VerifyResult {
  const r = ours(c);
  const o = opensslAccepts(dir, c);
  assert.equal(o.ok, expectOk, `openssl verify: ${o.output}`);
  assert.equal(
    r.ok,
    expectOk,
    `verifyCertificate: ${JSON.stringify(r.ok ? r : r.failures, null, 1)}`,
  );
  return r;
}

function assertFails(
  r: VerifyResult,
  reason: VerifyReason,
  depth: number,
): asserts r is Extract<VerifyResult, { ok: false }> {
  assert.equal(r.ok, false);
  assert.ok(VERIFY_REASONS.includes(r.reason));
  assert.equal(r.reason, reason, `first failure: ${r.detail}`);
  assert.equal(r.certificate.depth, depth);
  assert.ok(r.detail.length > 10);
}

/** A leaf used as if it were a CA (to sign with a non-CA key). */
function asCa(leaf: TestLeaf, subject: string): TestCa {
  return {
    subject,
    privateKey: leaf.privateKey,
    certificate: leaf.certificate,
    certPem: leaf.certPem,
    keyPem: leaf.keyPem,
    certPath: leaf.certPath,
    keyPath: leaf.keyPath,
  };
}

const caProfile = (name: string, extra: Partial<ExtensionProfile> = {}): ExtensionProfile => ({
  name,
  basicConstraints: { critical: true, value: { ca: true } },
  keyUsage: { critical: true, value: ['digitalSignature', 'keyCertSign', 'cRLSign'] },
  subjectKeyIdentifier: 'hash',
  authorityKeyIdentifier: { keyid: 'always' },
  ...extra,
});

describe('verifyCertificate agrees with openssl verify', () => {
  let dir: string;
  let cleanup: () => void;
  let root: TestCa;
  let inter: TestCa;
  before(async () => {
    ({ dir, cleanup } = tempDir());
    root = await makeCa(dir, { name: 'Verify Root' });
    inter = await makeCa(dir, { name: 'Verify Inter', issuer: root });
  });
  after(() => cleanup());

  it('a good client leaf issued by the root', async () => {
    const leaf = await makeLeaf(dir, root, { cn: 'good' });
    const r = agree(dir, { cert: leaf.certPath, ca: [root.certPath], purpose: 'client' }, true);
    assert.ok(r.ok);
    assert.deepEqual(
      r.path.map((p) => [p.depth, p.subject, p.trusted]),
      [
        [0, 'C=BR, ST=SP, O=Test, CN=good', false],
        [1, 'C=BR, ST=SP, O=Verify Root, CN=Verify Root', true],
      ],
    );
    assert.deepEqual(r.warnings, []);
  });

  it('a leaf under an intermediate: given as --untrusted, or trusted in the --ca bundle', async () => {
    const leaf = await makeLeaf(dir, inter, { cn: 'chained' });
    const r1 = agree(
      dir,
      { cert: leaf.certPath, ca: [root.certPath], untrusted: [inter.certPath], purpose: 'client' },
      true,
    );
    assert.equal(r1.path.length, 3);
    const r2 = agree(
      dir,
      { cert: leaf.certPath, ca: [root.certPath, inter.certPath], purpose: 'client' },
      true,
    );
    assert.equal(r2.path.length, 3);
    // Without the intermediate there is no path.
    const r3 = agree(dir, { cert: leaf.certPath, ca: [root.certPath], purpose: 'client' }, false);
    assertFails(r3, 'issuer_not_found', 0);
  });

  it('an expired leaf, and one not yet valid', async () => {
    const now = Date.now();
    const expired = await makeLeaf(dir, root, {
      cn: 'expired',
      notBefore: new Date(now - 60 * DAY),
      notAfter: new Date(now - 30 * DAY),
    });
    assertFails(
      agree(dir, { cert: expired.certPath, ca: [root.certPath], purpose: 'client' }, false),
      'expired',
      0,
    );
    const future = await makeLeaf(dir, root, {
      cn: 'future',
      notBefore: new Date(now + 10 * DAY),
      notAfter: new Date(now + 40 * DAY),
    });
    assertFails(
      agree(dir, { cert: future.certPath, ca: [root.certPath], purpose: 'client' }, false),
      'not_yet_valid',
      0,
    );
    // ... and valid when checked at a time inside its period (openssl -attime).
    agree(
      dir,
      {
        cert: future.certPath,
        ca: [root.certPath],
        purpose: 'client',
        at: new Date(now + 20 * DAY),
      },
      true,
    );
  });

  it('a good leaf checked at a time after it expires', async () => {
    const leaf = await makeLeaf(dir, root, { cn: 'later', days: 30 });
    const r = agree(
      dir,
      {
        cert: leaf.certPath,
        ca: [root.certPath],
        purpose: 'client',
        at: new Date(Date.now() + 40 * DAY),
      },
      false,
    );
    assertFails(r, 'expired', 0);
  });

  it('an expired intermediate', async () => {
    const now = Date.now();
    const old = await makeCa(dir, {
      name: 'Expired Inter',
      issuer: root,
      notBefore: new Date(now - 400 * DAY),
      notAfter: new Date(now - DAY),
    });
    const leaf = await makeLeaf(dir, old, { cn: 'under-expired' });
    const r = agree(
      dir,
      { cert: leaf.certPath, ca: [root.certPath], untrusted: [old.certPath], purpose: 'client' },
      false,
    );
    assertFails(r, 'expired', 1);
  });

  it('the wrong CA: another name, and the same name with another key', async () => {
    const leaf = await makeLeaf(dir, root, { cn: 'wrong-ca' });
    const other = await makeCa(dir, { name: 'Other Root' });
    assertFails(
      agree(dir, { cert: leaf.certPath, ca: [other.certPath], purpose: 'client' }, false),
      'issuer_not_found',
      0,
    );
    const impostorDir = tempDir();
    try {
      const impostor = await makeCa(impostorDir.dir, { name: 'Verify Root' });
      assert.equal(impostor.certificate.subject, root.certificate.subject);
      assertFails(
        agree(dir, { cert: leaf.certPath, ca: [impostor.certPath], purpose: 'client' }, false),
        'issuer_not_found',
        0,
      );
    } finally {
      impostorDir.cleanup();
    }
  });

  it('a leaf signed by a non-CA certificate', async () => {
    const notCa = await makeLeaf(dir, root, { cn: 'not-a-ca' });
    const leaf = await makeLeaf(dir, asCa(notCa, '/C=BR/ST=SP/O=Test/CN=not-a-ca'), {
      cn: 'signed-by-leaf',
    });
    const r = agree(
      dir,
      { cert: leaf.certPath, ca: [root.certPath], untrusted: [notCa.certPath], purpose: 'client' },
      false,
    );
    assertFails(r, 'not_a_ca', 1);
    assert.ok(
      r.failures.some((f) => f.reason === 'key_usage_missing' && f.certificate.depth === 1),
      'keyCertSign is missing too',
    );
  });

  it('a server certificate used as a client certificate (and accepted as a server certificate)', async () => {
    const server = await makeLeaf(dir, root, {
      cn: 'localhost',
      profile: 'server_cert',
      file: 'server',
    });
    const r = agree(dir, { cert: server.certPath, ca: [root.certPath], purpose: 'client' }, false);
    assertFails(r, 'eku_missing', 0);
    assert.match(r.detail, /serverAuth, without clientAuth/);
    agree(dir, { cert: server.certPath, ca: [root.certPath], purpose: 'server' }, true);
    // and the reverse: a client certificate is no server certificate.
    const client = await makeLeaf(dir, root, { cn: 'client-not-server' });
    assertFails(
      agree(dir, { cert: client.certPath, ca: [root.certPath], purpose: 'server' }, false),
      'eku_missing',
      0,
    );
  });

  it('a leaf without EKU passes for both purposes, with a warning', async () => {
    const leaf = await makeLeaf(dir, root, {
      cn: 'no-eku',
      profile: {
        name: 'no_eku',
        subjectKeyIdentifier: 'hash',
        authorityKeyIdentifier: { keyid: 'always' },
        basicConstraints: { critical: true, value: { ca: false } },
        keyUsage: { critical: true, value: ['digitalSignature', 'keyEncipherment'] },
      },
    });
    for (const purpose of ['client', 'server'] as const) {
      const r = agree(dir, { cert: leaf.certPath, ca: [root.certPath], purpose }, true);
      assert.deepEqual(
        r.warnings.map((w) => [w.code, w.certificate.depth]),
        [['eku_absent', 0]],
      );
    }
  });

  it('pathLenConstraint exceeded', async () => {
    // root -> interA (pathlen:0) -> interB -> leaf: interA allows no CA below it.
    const interA = await makeCa(dir, { name: 'Pathlen A', issuer: root });
    const interB = await makeCa(dir, { name: 'Pathlen B', issuer: interA });
    const leaf = await makeLeaf(dir, interB, { cn: 'too-deep' });
    const r = agree(
      dir,
      {
        cert: leaf.certPath,
        ca: [root.certPath],
        untrusted: [interA.certPath, interB.certPath],
        purpose: 'client',
      },
      false,
    );
    assertFails(r, 'path_length_exceeded', 2);
  });

  it('a tampered signature', async () => {
    const leaf = await makeLeaf(dir, root, { cn: 'tampered' });
    const der = Buffer.from(leaf.certificate.rawData);
    der[der.length - 3] = (der[der.length - 3] as number) ^ 0x01;
    const file = join(dir, 'tampered.der');
    writeFileSync(file, der);
    const pem = join(dir, 'tampered.pem');
    spawnSync('openssl', ['x509', '-inform', 'DER', '-in', file, '-out', pem]);
    assertFails(
      agree(dir, { cert: pem, ca: [root.certPath], purpose: 'client' }, false),
      'signature_invalid',
      0,
    );
  });

  it('a path that ends at an untrusted root, and at a trusted intermediate (partial chain)', async () => {
    const leaf = await makeLeaf(dir, inter, { cn: 'partial' });
    const other = await makeCa(dir, { name: 'Unrelated Root' });
    // The root is known, but only as untrusted.
    const r1 = agree(
      dir,
      {
        cert: leaf.certPath,
        ca: [other.certPath],
        untrusted: [inter.certPath, root.certPath],
        purpose: 'client',
      },
      false,
    );
    assertFails(r1, 'untrusted_root', 2);
    // Only the intermediate is trusted: refused by default, accepted as a partial chain.
    assertFails(
      agree(dir, { cert: leaf.certPath, ca: [inter.certPath], purpose: 'client' }, false),
      'issuer_not_found',
      1,
    );
    const r2 = agree(
      dir,
      { cert: leaf.certPath, ca: [inter.certPath], purpose: 'client', partialChain: true },
      true,
    );
    assert.ok(r2.warnings.some((w) => w.code === 'partial_chain'));
    // With the root trusted as well, the full path wins over the partial one.
    const r3 = agree(
      dir,
      {
        cert: leaf.certPath,
        ca: [inter.certPath, root.certPath],
        purpose: 'client',
        partialChain: true,
      },
      true,
    );
    assert.equal(r3.path.length, 3);
    assert.ok(!r3.warnings.some((w) => w.code === 'partial_chain'));
    // A self-signed leaf nobody trusts.
    assertFails(
      agree(dir, { cert: other.certPath, ca: [root.certPath], purpose: 'client' }, false),
      'untrusted_root',
      0,
    );
  });

  it('a leaf whose keyUsage lacks digitalSignature', async () => {
    const leaf = await makeLeaf(dir, root, {
      cn: 'ku-enc-only',
      profile: {
        name: 'enc_only',
        subjectKeyIdentifier: 'hash',
        authorityKeyIdentifier: { keyid: 'always' },
        basicConstraints: { critical: true, value: { ca: false } },
        keyUsage: { critical: true, value: ['keyEncipherment'] },
        extendedKeyUsage: { critical: false, value: ['clientAuth'] },
      },
    });
    assertFails(
      agree(dir, { cert: leaf.certPath, ca: [root.certPath], purpose: 'client' }, false),
      'key_usage_missing',
      0,
    );
  });

  it('an intermediate whose EKU does not allow the purpose', async () => {
    const restrictedLeafAsCa = await makeLeaf(dir, root, {
      cn: 'Server-only CA',
      profile: caProfile('server_only_ca', {
        extendedKeyUsage: { critical: false, value: ['serverAuth'] },
      }),
      file: 'server-only-ca',
    });
    const leaf = await makeLeaf(
      dir,
      asCa(restrictedLeafAsCa, '/C=BR/ST=SP/O=Test/CN=Server-only CA'),
      { cn: 'under-server-only' },
    );
    const r = agree(
      dir,
      {
        cert: leaf.certPath,
        ca: [root.certPath],
        untrusted: [restrictedLeafAsCa.certPath],
        purpose: 'client',
      },
      false,
    );
    assertFails(r, 'eku_missing', 1);
  });

  it('anyExtendedKeyUsage alone is refused, as OpenSSL 3 does, unless accepted explicitly', async () => {
    const leaf = await makeLeaf(dir, root, {
      cn: 'any-eku',
      profile: {
        name: 'any_eku',
        subjectKeyIdentifier: 'hash',
        authorityKeyIdentifier: { keyid: 'always' },
        basicConstraints: { critical: true, value: { ca: false } },
        keyUsage: { critical: true, value: ['digitalSignature'] },
        extendedKeyUsage: { critical: false, value: ['anyExtendedKeyUsage'] },
      },
    });
    const c: Case = { cert: leaf.certPath, ca: [root.certPath], purpose: 'client' };
    assertFails(agree(dir, c, false), 'eku_missing', 0);
    assert.equal(ours(c, { acceptAnyExtendedKeyUsage: true }).ok, true);
  });

  it('Netscape Cert Type without the purpose', async () => {
    const leaf = await makeLeaf(dir, root, {
      cn: 'ns-server',
      profile: {
        name: 'ns_server',
        subjectKeyIdentifier: 'hash',
        authorityKeyIdentifier: { keyid: 'always' },
        basicConstraints: { critical: false, value: { ca: false } },
        keyUsage: { critical: true, value: ['digitalSignature'] },
        extendedKeyUsage: { critical: false, value: ['clientAuth', 'serverAuth'] },
        nsCertType: ['server'],
      },
    });
    assertFails(
      agree(dir, { cert: leaf.certPath, ca: [root.certPath], purpose: 'client' }, false),
      'ns_cert_type_missing',
      0,
    );
    agree(dir, { cert: leaf.certPath, ca: [root.certPath], purpose: 'server' }, true);
  });

  it('an unknown critical extension', () => {
    const key = join(dir, 'crit.key');
    const csr = join(dir, 'crit.csr');
    const cert = join(dir, 'crit.pem');
    const ext = join(dir, 'crit.cnf');
    writeFileSync(
      ext,
      '[e]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\nauthorityKeyIdentifier=keyid\n1.2.3.4.5=critical,ASN1:NULL\n',
    );
    const run = (args: string[]): void => {
      const r = spawnSync('openssl', args, { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    };
    run([
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
      '/CN=crit',
      '-out',
      csr,
    ]);
    run([
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      root.certPath,
      '-CAkey',
      root.keyPath,
      '-set_serial',
      '777',
      '-days',
      '5',
      '-extfile',
      ext,
      '-extensions',
      'e',
      '-out',
      cert,
    ]);
    assertFails(
      agree(dir, { cert, ca: [root.certPath], purpose: 'client' }, false),
      'unhandled_critical_extension',
      0,
    );
    // A critical extension OpenSSL does recognise (CRL distribution points) is no reason to refuse.
    const ext2 = join(dir, 'crit2.cnf');
    const cert2 = join(dir, 'crit2.pem');
    writeFileSync(
      ext2,
      '[e]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\nauthorityKeyIdentifier=keyid\ncrlDistributionPoints=critical,URI:http://crl.example/ca.crl\n',
    );
    run([
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      root.certPath,
      '-CAkey',
      root.keyPath,
      '-set_serial',
      '778',
      '-days',
      '5',
      '-extfile',
      ext2,
      '-extensions',
      'e',
      '-out',
      cert2,
    ]);
    agree(dir, { cert: cert2, ca: [root.certPath], purpose: 'client' }, true);
  });
});

describe('verifyCertificate: where it deliberately differs from OpenSSL', () => {
  let dir: string;
  let cleanup: () => void;
  let root: TestCa;
  before(async () => {
    ({ dir, cleanup } = tempDir());
    root = await makeCa(dir, { name: 'Policy Root' });
  });
  after(() => cleanup());

  it('refuses a CA certificate as the client certificate, which OpenSSL accepts', async () => {
    const inter = await makeCa(dir, { name: 'Policy Inter', issuer: root });
    const c: Case = { cert: inter.certPath, ca: [root.certPath], purpose: 'client' };
    assert.equal(
      opensslAccepts(dir, c).ok,
      true,
      'OpenSSL accepts a CA certificate as a client certificate',
    );
    assertFails(ours(c), 'leaf_is_ca', 0);
  });

  it('refuses a client certificate whose keyUsage has only keyAgreement, which OpenSSL accepts', async () => {
    const leaf = await makeLeaf(dir, root, {
      cn: 'ka-only',
      profile: {
        name: 'ka_only',
        subjectKeyIdentifier: 'hash',
        authorityKeyIdentifier: { keyid: 'always' },
        basicConstraints: { critical: true, value: { ca: false } },
        keyUsage: { critical: true, value: ['keyAgreement'] },
        extendedKeyUsage: { critical: false, value: ['clientAuth'] },
      },
    });
    const c: Case = { cert: leaf.certPath, ca: [root.certPath], purpose: 'client' };
    assert.equal(opensslAccepts(dir, c).ok, true);
    assertFails(ours(c), 'key_usage_missing', 0);
  });

  it('reports every failure on the path, the first one as the reason', async () => {
    const now = Date.now();
    const server = await makeLeaf(dir, root, {
      cn: 'many',
      profile: 'server_cert',
      notBefore: new Date(now - 60 * DAY),
      notAfter: new Date(now - 30 * DAY),
    });
    const r = ours({ cert: server.certPath, ca: [root.certPath], purpose: 'client' });
    assert.equal(r.ok, false);
    assert.deepEqual(
      r.failures.map((f) => f.reason),
      ['expired', 'eku_missing'],
    );
    assert.equal(r.reason, 'expired');
  });
});
