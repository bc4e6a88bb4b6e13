/**
 * `mtls cert show` and `mtls cert verify` through the built CLI: output,
 * `--json`, exit codes and error codes.
 */
import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildCrl } from '../../src/pki/crl.js';
import { createCsr } from '../../src/pki/csr.js';
import { generateKeyPair } from '../../src/pki/keys.js';
import { parseSubject } from '../../src/pki/names.js';
import {
  makeCa,
  makeLeaf,
  makeServerLeaf,
  tempDir,
  type TestCa,
  type TestLeaf,
} from '../helpers/pki.js';
import { at } from '../helpers/assert.js';

const CLI = resolve('dist/bin/mtls.js');

function mtls(
  args: string[],
  env: Record<string, string> = {},
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', MTLS_PFX_PASSWORD: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('mtls cert show', () => {
  let dir: string;
  let cleanup: () => void;
  let root: TestCa;
  let inter: TestCa;
  let leaf: TestLeaf;
  before(async () => {
    ({ dir, cleanup } = tempDir());
    root = await makeCa(dir, { name: 'CLI Root' });
    inter = await makeCa(dir, { name: 'CLI Inter', issuer: root });
    leaf = await makeLeaf(dir, inter, { cn: 'cli-client' });
  });
  after(() => cleanup());

  it('prints a certificate as openssl x509 -text does, with fingerprints', () => {
    const r = mtls(['cert', 'show', leaf.certPath]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^Certificate:\n {4}Data:\n {8}Version: 3 \(0x2\)$/m);
    assert.match(r.stdout, /^ {8}Subject: C = BR, ST = SP, O = Test, CN = cli-client$/m);
    assert.match(
      r.stdout,
      /^ {12}X509v3 Extended Key Usage:\n {16}TLS Web Client Authentication$/m,
    );
    const fp = spawnSync(
      'openssl',
      ['x509', '-in', leaf.certPath, '-noout', '-fingerprint', '-sha256'],
      { encoding: 'utf8' },
    )
      .stdout.trim()
      .split('=')[1];
    assert.ok(r.stdout.includes(`SHA256 Fingerprint=${fp}`));
  });

  it('--json shows every certificate of a bundle and never a private key', () => {
    const bundle = join(dir, 'bundle.pem');
    writeFileSync(bundle, leaf.certPem + inter.certPem + leaf.keyPem);
    const r = mtls(['cert', 'show', bundle, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout) as {
      format: string;
      objects: Array<{ type: string; subject: { text: string } }>;
      skipped: Array<{ label: string }>;
    };
    assert.equal(j.format, 'pem');
    assert.deepEqual(
      j.objects.map((o) => o.subject.text),
      [
        'C = BR, ST = SP, O = Test, CN = cli-client',
        'C = BR, ST = SP, O = CLI Inter, CN = CLI Inter',
      ],
    );
    assert.deepEqual(
      j.skipped.map((s) => s.label),
      ['PRIVATE KEY'],
    );
    assert.ok(!r.stdout.includes(leaf.keyPem.split('\n')[1] as string));
  });

  it('shows DER certificates, CSRs and CRLs', async () => {
    const der = join(dir, 'leaf.der');
    writeFileSync(der, Buffer.from(leaf.certificate.rawData));
    const r1 = mtls(['cert', 'show', der]);
    assert.equal(r1.status, 0, r1.stderr);
    assert.match(r1.stdout, /CN = cli-client/);

    const keys = await generateKeyPair('ec-p256');
    const csr = await createCsr({
      subject: parseSubject('/C=BR/O=Acme/CN=req'),
      privateKey: keys.privateKey,
      subjectAltNames: [{ type: 'dns', value: 'req.example' }],
    });
    const csrFile = join(dir, 'req.csr');
    writeFileSync(csrFile, csr.pem);
    const r2 = mtls(['cert', 'show', csrFile]);
    assert.equal(r2.status, 0, r2.stderr);
    assert.match(r2.stdout, /^Certificate Request:$/m);
    assert.match(r2.stdout, /^ {20}DNS:req\.example$/m);
    assert.match(r2.stdout, /^Self-signature: OK$/m);

    const crl = await buildCrl({
      signer: { privateKey: inter.privateKey, certificate: inter.certificate },
      crlNumber: 7n,
      entries: [
        { serial: leaf.serialHex, revokedAt: new Date('2026-02-03T04:05:06Z'), reasonCode: 1 },
      ],
    });
    const crlFile = join(dir, 'ca.crl.pem');
    writeFileSync(crlFile, crl.pem);
    const r3 = mtls(['cert', 'show', crlFile, '--json']);
    assert.equal(r3.status, 0, r3.stderr);
    const j = JSON.parse(r3.stdout) as {
      objects: Array<{
        type: string;
        crlNumber: string;
        revoked: Array<{ serial: string; reason: string }>;
      }>;
    };
    const shown = at(j.objects, 0);
    assert.equal(shown.type, 'crl');
    assert.equal(shown.crlNumber, '7');
    // Serials compared as numbers: a random serial may start with a zero nibble,
    // which one hex rendering keeps and another drops.
    assert.deepEqual(
      shown.revoked.map((x) => [BigInt(`0x${x.serial.replace(/:/g, '')}`), x.reason]),
      [[BigInt(`0x${leaf.serialHex}`), 'keyCompromise']],
    );
  });

  it('shows the certificates inside a .pfx with --password-file; wrong or missing password fail', () => {
    const pfx = join(dir, 'client.pfx');
    const pw = join(dir, 'pw.txt');
    writeFileSync(pw, 'correct horse\n');
    const chain = join(dir, 'chain.pem');
    writeFileSync(chain, inter.certPem + root.certPem);
    const made = spawnSync(
      'openssl',
      [
        'pkcs12',
        '-export',
        '-inkey',
        leaf.keyPath,
        '-in',
        leaf.certPath,
        '-certfile',
        chain,
        '-passout',
        `file:${pw}`,
        '-out',
        pfx,
      ],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(made.status, 0, made.stderr);

    const r = mtls(['cert', 'show', pfx, '--password-file', pw]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^PKCS#12:$/m);
    assert.match(r.stdout, /Private key: EC P-256 \(matches the certificate; not shown\)/);
    assert.equal((r.stdout.match(/^Certificate:$/gm) ?? []).length, 3);
    assert.match(r.stdout, /# 1\/3: certificate \(leaf/);

    const wrong = join(dir, 'wrong.txt');
    writeFileSync(wrong, 'nope\n');
    const bad = mtls(['cert', 'show', pfx, '--password-file', wrong]);
    assert.equal(bad.status, 4);
    assert.match(bad.stderr, /^error\[MTLS_BAD_PASSPHRASE\]: /m);

    const none = mtls(['cert', 'show', pfx]);
    assert.equal(none.status, 3);
    assert.match(none.stderr, /^error\[MTLS_PASSPHRASE_REQUIRED\]: /m);

    const env = mtls(['cert', 'show', pfx, '--json'], { MTLS_PFX_PASSWORD: 'correct horse' });
    assert.equal(env.status, 0, env.stderr);
    assert.equal((JSON.parse(env.stdout) as { objects: unknown[] }).objects.length, 3);
  });

  it('bad input: garbage PEM, truncated DER, a missing file', () => {
    const garbage = join(dir, 'garbage.pem');
    writeFileSync(
      garbage,
      '-----BEGIN CERTIFICATE-----\n!!! not base64 !!!\n-----END CERTIFICATE-----\n',
    );
    const g = mtls(['cert', 'show', garbage]);
    assert.equal(g.status, 5);
    assert.match(g.stderr, /^error\[MTLS_PEM_INVALID\]: .*garbage\.pem/m);
    assert.match(
      g.stderr,
      /^hint: Check that the file is PEM \(-----BEGIN …-----\) or DER and that it is not truncated\.$/m,
    );
    assert.equal(g.stdout, '');

    const truncated = join(dir, 'truncated.der');
    writeFileSync(truncated, Buffer.from(leaf.certificate.rawData).subarray(0, 150));
    const t = mtls(['cert', 'show', truncated]);
    assert.equal(t.status, 5);
    assert.match(t.stderr, /^error\[MTLS_DER_INVALID\]: .*truncated/m);

    const missing = mtls(['cert', 'show', join(dir, 'nope.pem')]);
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /^error\[MTLS_FILE_NOT_FOUND\]/m);
  });
});

describe('mtls cert verify', () => {
  let dir: string;
  let cleanup: () => void;
  let root: TestCa;
  let inter: TestCa;
  let client: TestLeaf;
  let server: TestLeaf;
  before(async () => {
    ({ dir, cleanup } = tempDir());
    root = await makeCa(dir, { name: 'Verify CLI Root' });
    inter = await makeCa(dir, { name: 'Verify CLI Inter', issuer: root });
    client = await makeLeaf(dir, inter, { cn: 'cli-verify-client' });
    server = await makeLeaf(dir, inter, {
      cn: 'localhost',
      profile: 'server_cert',
      file: 'server',
    });
  });
  after(() => cleanup());

  it('exit 0 and the path for a good certificate; --json gives the result', () => {
    const r = mtls([
      'cert',
      'verify',
      client.certPath,
      '--ca-file',
      root.certPath,
      '--untrusted',
      inter.certPath,
      '--purpose',
      'client',
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /: OK for TLS client authentication/);
    assert.match(
      r.stdout,
      /^ {2}2 C=BR, ST=SP, O=Verify CLI Root, CN=Verify CLI Root \(trust anchor\)$/m,
    );
    const j = mtls([
      'cert',
      'verify',
      client.certPath,
      '--ca-file',
      root.certPath,
      '--ca-file',
      inter.certPath,
      '--purpose',
      'client',
      '--json',
    ]);
    assert.equal(j.status, 0, j.stderr);
    const res = JSON.parse(j.stdout) as { ok: boolean; path: unknown[]; purpose: string };
    assert.equal(res.ok, true);
    assert.equal(res.path.length, 3);
    // A full chain file: the leaf first, its intermediate after it.
    const full = join(dir, 'fullchain.pem');
    writeFileSync(full, client.certPem + inter.certPem);
    assert.equal(
      mtls(['cert', 'verify', full, '--ca-file', root.certPath, '--purpose', 'client']).status,
      0,
    );
  });

  it('exit 4 with MTLS_VERIFY_FAILED naming the certificate and the reason', () => {
    const r = mtls([
      'cert',
      'verify',
      server.certPath,
      '--ca-file',
      root.certPath,
      '--untrusted',
      inter.certPath,
      '--purpose',
      'client',
    ]);
    assert.equal(r.status, 4);
    assert.match(
      r.stderr,
      /^error\[MTLS_VERIFY_FAILED\]: .*server\.cert\.pem.*eku_missing.*CN=localhost/m,
    );
    assert.match(r.stdout, /\[eku_missing\] depth 0/);

    const j = mtls([
      'cert',
      'verify',
      server.certPath,
      '--ca-file',
      root.certPath,
      '--untrusted',
      inter.certPath,
      '--purpose',
      'client',
      '--json',
    ]);
    assert.equal(j.status, 4);
    const res = JSON.parse(j.stdout) as {
      ok: boolean;
      error: {
        code: string;
        details: { verification: { reason: string; certificate: { depth: number } } };
      };
    };
    assert.equal(res.ok, false);
    assert.equal(res.error.code, 'MTLS_VERIFY_FAILED');
    assert.equal(res.error.details.verification.reason, 'eku_missing');
    assert.equal(res.error.details.verification.certificate.depth, 0);

    const later = mtls([
      'cert',
      'verify',
      client.certPath,
      '--ca-file',
      root.certPath,
      '--untrusted',
      inter.certPath,
      '--purpose',
      'client',
      '--at',
      '2099-01-01',
    ]);
    assert.equal(later.status, 4);
    assert.match(later.stderr, /expired/);

    const wrongCa = mtls([
      'cert',
      'verify',
      client.certPath,
      '--ca-file',
      inter.certPath,
      '--purpose',
      'client',
    ]);
    assert.equal(wrongCa.status, 4);
    assert.match(wrongCa.stderr, /issuer_not_found/);
  });

  it('usage errors exit 2; an unreadable CA file is an I/O error', () => {
    assert.equal(
      mtls(['cert', 'verify', client.certPath, '--ca-file', root.certPath, '--purpose', 'bogus'])
        .status,
      2,
    );
    assert.equal(mtls(['cert', 'verify', client.certPath, '--ca-file', root.certPath]).status, 2);
    const at = mtls([
      'cert',
      'verify',
      client.certPath,
      '--ca-file',
      root.certPath,
      '--purpose',
      'client',
      '--at',
      'yesterday',
    ]);
    assert.equal(at.status, 2);
    assert.match(at.stderr, /^error\[MTLS_BAD_ARGUMENT\]: --at/m);
    const garbage = join(dir, 'garbage-ca.pem');
    writeFileSync(garbage, 'not a certificate\n');
    const g = mtls([
      'cert',
      'verify',
      client.certPath,
      '--ca-file',
      garbage,
      '--purpose',
      'client',
    ]);
    assert.equal(g.status, 5);
    assert.match(g.stderr, /^error\[MTLS_PEM_INVALID\]/m);
  });
});

/** One x509-limbo case, written out as the files a user would pass. */
function limboCase(dir: string, id: string): { leaf: string; args: string[] } {
  const suite = JSON.parse(
    readFileSync(new URL('../fixtures/x509-limbo/x509-limbo.json', import.meta.url), 'utf8'),
  ) as {
    testcases: Array<{
      id: string;
      peer_certificate: string;
      trusted_certs: string[];
      untrusted_intermediates: string[];
      validation_time: string | null;
    }>;
  };
  const c = suite.testcases.find((t) => t.id === id);
  assert.ok(c, id);
  const stem = join(dir, id.replace(/[^a-z0-9]+/g, '-'));
  writeFileSync(`${stem}.leaf.pem`, c.peer_certificate);
  writeFileSync(`${stem}.ca.pem`, c.trusted_certs.join(''));
  const args = ['--ca-file', `${stem}.ca.pem`, '--partial-chain', '--purpose', 'server'];
  if (c.untrusted_intermediates.length) {
    writeFileSync(`${stem}.int.pem`, c.untrusted_intermediates.join(''));
    args.push('--untrusted', `${stem}.int.pem`);
  }
  args.push('--at', c.validation_time ?? '2025-06-01T00:00:00Z');
  return { leaf: `${stem}.leaf.pem`, args };
}

describe('mtls cert verify: --name, --max-depth, repeated --crl, malformed input', () => {
  let dir: string;
  let cleanup: () => void;
  let root: TestCa;
  let inter: TestCa;
  let client: TestLeaf;
  let server: TestLeaf;
  before(async () => {
    ({ dir, cleanup } = tempDir());
    root = await makeCa(dir, { name: 'Options Root' });
    inter = await makeCa(dir, { name: 'Options Inter', issuer: root });
    client = await makeLeaf(dir, inter, { cn: 'options-client' });
    server = await makeServerLeaf(dir, inter);
  });
  after(() => cleanup());

  const verify = (cert: string, ...args: string[]): ReturnType<typeof mtls> =>
    mtls([
      'cert',
      'verify',
      cert,
      '--ca-file',
      root.certPath,
      '--untrusted',
      inter.certPath,
      ...args,
    ]);
  const reasonOf = (r: ReturnType<typeof mtls>): string =>
    (JSON.parse(r.stdout) as { error: { details: { verification: { reason: string } } } }).error
      .details.verification.reason;

  it('--name: the SAN must match the DNS name or IP address (RFC 9525); a mismatch exits 4', () => {
    for (const name of ['localhost', 'LOCALHOST', '127.0.0.1', '::1', '0:0:0:0:0:0:0:1'])
      assert.equal(verify(server.certPath, '--purpose', 'server', '--name', name).status, 0, name);
    for (const name of ['other.example', '127.0.0.2', 'sub.localhost']) {
      const r = verify(server.certPath, '--purpose', 'server', '--name', name, '--json');
      assert.equal(r.status, 4, `${name}: ${r.stderr}`);
      assert.equal(reasonOf(r), 'name_mismatch', name);
    }
    // OpenSSL agrees on a match and a mismatch.
    const ssl = (flag: string, name: string): number | null =>
      spawnSync(
        'openssl',
        [
          'verify',
          '-CAfile',
          root.certPath,
          '-untrusted',
          inter.certPath,
          flag,
          name,
          server.certPath,
        ],
        { encoding: 'utf8' },
      ).status;
    assert.equal(ssl('-verify_hostname', 'localhost'), 0);
    assert.notEqual(ssl('-verify_hostname', 'other.example'), 0);
    assert.equal(ssl('-verify_ip', '::1'), 0);
    assert.notEqual(ssl('-verify_ip', '127.0.0.2'), 0);
  });

  it('--max-depth: 0 intermediates refuses a path through one (path_too_long); out-of-range values are usage errors', () => {
    assert.equal(verify(client.certPath, '--purpose', 'client', '--max-depth', '1').status, 0);
    const r = verify(client.certPath, '--purpose', 'client', '--max-depth', '0', '--json');
    assert.equal(r.status, 4, r.stderr);
    assert.equal(reasonOf(r), 'path_too_long');
    assert.equal(verify(client.certPath, '--purpose', 'client', '--max-depth', '255').status, 0);
    for (const bad of ['-1', '256', 'two', '1.5']) {
      const u = verify(client.certPath, '--purpose', 'client', '--max-depth', bad);
      assert.equal(u.status, 2, bad);
      assert.match(u.stderr, /^error\[MTLS_BAD_ARGUMENT\]: --max-depth .* from 0 to 255/m, bad);
    }
  });

  it('--crl is repeatable: the root CRL revoking the intermediate refuses the client, as openssl -crl_check_all says', async () => {
    const signer = (
      ca: TestCa,
    ): { privateKey: TestCa['privateKey']; certificate: TestCa['certificate'] } => ({
      privateKey: ca.privateKey,
      certificate: ca.certificate,
    });
    const interCrl = join(dir, 'inter.crl.pem');
    writeFileSync(
      interCrl,
      (await buildCrl({ signer: signer(inter), crlNumber: 1n, entries: [] })).pem,
    );
    const goodRoot = join(dir, 'root-empty.crl.pem');
    writeFileSync(
      goodRoot,
      (await buildCrl({ signer: signer(root), crlNumber: 1n, entries: [] })).pem,
    );
    const badRoot = join(dir, 'root-revoking.crl.pem');
    writeFileSync(
      badRoot,
      (
        await buildCrl({
          signer: signer(root),
          crlNumber: 2n,
          entries: [
            { serial: inter.certificate.serialNumber, revokedAt: new Date(), reasonCode: 2 },
          ],
        })
      ).pem,
    );
    const ssl = (...crls: string[]): number | null =>
      spawnSync(
        'openssl',
        [
          'verify',
          '-crl_check_all',
          '-CAfile',
          root.certPath,
          '-untrusted',
          inter.certPath,
          ...crls.flatMap((c) => ['-CRLfile', c]),
          client.certPath,
        ],
        { encoding: 'utf8' },
      ).status;

    const ok = verify(client.certPath, '--purpose', 'client', '--crl', interCrl, '--crl', goodRoot);
    assert.equal(ok.status, 0, ok.stderr);
    assert.doesNotMatch(ok.stderr, /no CRL given/);
    assert.equal(ssl(interCrl, goodRoot), 0);

    const revoked = verify(
      client.certPath,
      '--purpose',
      'client',
      '--crl',
      interCrl,
      '--crl',
      badRoot,
      '--json',
    );
    assert.equal(revoked.status, 4, revoked.stderr);
    const v = (
      JSON.parse(revoked.stdout) as {
        error: {
          details: {
            verification: { reason: string; detail: string; certificate: { depth: number } };
          };
        };
      }
    ).error.details.verification;
    assert.equal(v.reason, 'revoked');
    assert.equal(v.certificate.depth, 1);
    assert.match(v.detail, /reason: cACompromise/);
    assert.notEqual(ssl(interCrl, badRoot), 0);

    // One --crl only: the intermediate's status is unknown, which is said, not taken as good or bad.
    const one = verify(client.certPath, '--purpose', 'client', '--crl', interCrl);
    assert.equal(one.status, 0, one.stderr);
    assert.match(one.stderr, /no CRL given for the issuer of "C=BR, ST=SP, O=Options Inter/);
  });

  it('a malformed certificate is a rejection (exit 4, malformed_certificate), never an unreadable file (exit 5)', () => {
    // x509-limbo rfc5280::san::malformed: a leaf whose SAN is truncated DER.
    const san = limboCase(dir, 'rfc5280::san::malformed');
    const r = mtls(['cert', 'verify', san.leaf, ...san.args, '--json']);
    assert.equal(r.status, 4, r.stderr);
    assert.equal(reasonOf(r), 'malformed_certificate');
    const text = mtls(['cert', 'verify', san.leaf, ...san.args]);
    assert.equal(text.status, 4);
    assert.match(
      text.stderr,
      /^error\[MTLS_VERIFY_FAILED\]: .*malformed_certificate.*subjectAltName/m,
    );

    // x509-limbo pathological::nc-dos-1: 4097 names against 4097 constraints. Refused within
    // the work budget, and the message stays readable (the huge subject is cut short).
    const dos = limboCase(dir, 'pathological::nc-dos-1');
    const d = mtls(['cert', 'verify', dos.leaf, ...dos.args]);
    assert.equal(d.status, 4, d.stderr.slice(0, 500));
    assert.match(d.stderr, /^error\[MTLS_VERIFY_FAILED\]: .*work_limit_exceeded/m);
    assert.match(d.stderr, /… \(\d+ more RDNs\)/);
    assert.ok(d.stderr.length < 4000, `stderr is ${d.stderr.length} characters`);

    // A truncated intermediate in --untrusted: left out (and said so), so the path ends early.
    const interDer = Buffer.from(inter.certificate.rawData);
    const broken = join(dir, 'broken-inter.pem');
    writeFileSync(
      broken,
      `-----BEGIN CERTIFICATE-----\n${interDer.subarray(0, interDer.length - 20).toString('base64')}\n-----END CERTIFICATE-----\n`,
    );
    const b = mtls([
      'cert',
      'verify',
      client.certPath,
      '--ca-file',
      root.certPath,
      '--untrusted',
      broken,
      '--purpose',
      'client',
    ]);
    assert.equal(b.status, 4, b.stderr);
    assert.match(b.stderr, /issuer_not_found/);
    assert.match(
      b.stderr,
      /untrusted certificate #1 cannot be decoded and was left out of path building/,
    );
  });

  it("OpenSSL's TRUSTED CERTIFICATE form is read, for the trust anchor and the certificate", () => {
    const trusted = (src: string, out: string): void => {
      const r = spawnSync(
        'openssl',
        ['x509', '-in', src, '-trustout', '-addtrust', 'clientAuth', '-out', out],
        {
          encoding: 'utf8',
        },
      );
      assert.equal(r.status, 0, r.stderr);
    };
    const rootT = join(dir, 'root.trusted.pem');
    const leafT = join(dir, 'client.trusted.pem');
    trusted(root.certPath, rootT);
    trusted(client.certPath, leafT);
    const r = mtls([
      'cert',
      'verify',
      leafT,
      '--ca-file',
      rootT,
      '--untrusted',
      inter.certPath,
      '--purpose',
      'client',
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /\(trust anchor\)/);
  });
});
