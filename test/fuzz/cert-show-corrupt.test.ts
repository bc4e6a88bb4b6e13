/**
 * `mtls cert show` on corrupted files, through the real CLI: a CRL with a
 * broken authorityKeyIdentifier, a certificate with a broken extension, and a
 * truncated or bit-flipped `.pfx` exit 5 with MTLS_DER_INVALID and a hint
 * that names the broken part, never MTLS_INTERNAL.
 */
import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { openssl } from '../helpers/pfx-fixtures.js';
import { tempDir } from '../helpers/pki.js';
import { PFX_PASSWORD, pfxSeeds, pkiSeeds, type PkiSeeds } from './seeds.js';
import { regressionInputs, selected } from './harness.js';

/** Replaces the first occurrence of `find` (hex) by `replace` (hex, same length). */
function patch(der: Buffer, find: string, replace: string): Buffer {
  const at = der.indexOf(Buffer.from(find, 'hex'));
  assert.ok(at >= 0, `${find} not found`);
  const out = Buffer.from(der);
  Buffer.from(replace, 'hex').copy(out, at);
  return out;
}

// In a filtered long run (`npm run fuzz -- pfx`) only when asked for: it needs a build.
describe('mtls cert show on corrupted files', { skip: !selected('cert-show') }, () => {
  let s: PkiSeeds;
  let tmp: ReturnType<typeof tempDir>;
  before(async () => {
    s = await pkiSeeds();
    tmp = tempDir('mtls-corrupt-');
  });
  after(() => {
    s.cleanup();
    tmp.cleanup();
  });

  async function show(
    name: string,
    data: Buffer,
    extra: string[] = [],
  ): Promise<{ code: number; stderr: string }> {
    const file = join(tmp.dir, name);
    writeFileSync(file, data);
    const r = await runCli(['cert', 'show', file, ...extra]);
    assert.doesNotMatch(r.stderr, /MTLS_INTERNAL| {4}at /, r.stderr);
    return r;
  }

  it('a CRL whose authorityKeyIdentifier is not a KeyIdentifier: exit 5, MTLS_DER_INVALID naming the extension', async () => {
    // AKI ::= SEQUENCE { [0] keyIdentifier }: turn [0] (0x80) into an INTEGER tag so the schema no longer matches.
    const crl = patch(s.crls[1] as Buffer, '0603551d230418301680', '0603551d230418301602');
    const r = await show('corrupted-crl.der', crl);
    assert.equal(r.code, 5, r.stderr);
    assert.match(
      r.stderr,
      /error\[MTLS_DER_INVALID\]: the authorityKeyIdentifier extension of CRL #1 in .*corrupted-crl\.der is malformed/,
    );
    assert.match(r.stderr, /hint: .*authorityKeyIdentifier extension/);
  });

  it('a certificate whose basicConstraints is broken: exit 5, MTLS_DER_INVALID naming the extension', async () => {
    const cert = Buffer.from(s.intermediate.certificate.rawData);
    // basicConstraints value: SEQUENCE { BOOLEAN TRUE, ... } -> SEQUENCE { OCTET STRING ... }.
    const at = cert.indexOf(Buffer.from('0603551d13', 'hex'));
    const seq = cert.indexOf(Buffer.from('30', 'hex'), at + 5);
    const broken = Buffer.from(cert);
    broken[seq + 2] = 0x04;
    const r = await show('corrupted-cert.der', broken);
    assert.equal(r.code, 5, r.stderr);
    assert.match(
      r.stderr,
      /error\[MTLS_DER_INVALID\]: the basicConstraints extension of certificate #1 in .*corrupted-cert\.der is malformed/,
    );
    assert.match(r.stderr, /hint: .*basicConstraints extension/);
  });

  it('a truncated .pfx: exit 5, MTLS_DER_INVALID naming the part', async () => {
    const pw = join(tmp.dir, 'pw.txt');
    writeFileSync(pw, `${PFX_PASSWORD}\n`);
    const [pfx] = pfxSeeds(s).modern as [Buffer];
    const truncated = await show('truncated.pfx', pfx.subarray(0, pfx.length - 40), [
      '--password-file',
      pw,
    ]);
    assert.equal(truncated.code, 5, truncated.stderr);
    assert.match(truncated.stderr, /error\[MTLS_DER_INVALID\]: .*truncated\.pfx/);
    assert.match(
      truncated.stderr,
      /hint: The outer ASN.1 structure of .*truncated\.pfx is broken \(truncated/,
    );
  });

  it('a bit-flipped .pfx (no MAC, certificates in clear): exit 5, MTLS_DER_INVALID naming the public key of the certificate', async () => {
    const fx = s.openssl;
    openssl([
      'pkcs12',
      '-export',
      '-inkey',
      fx.files.leafKey,
      '-in',
      fx.files.leaf,
      '-certpbe',
      'NONE',
      '-nomac',
      '-passout',
      `pass:${PFX_PASSWORD}`,
      '-out',
      fx.path('clear-certs.p12'),
    ]);
    const pfx = readFileSync(fx.path('clear-certs.p12'));
    const leaf = new X509Certificate(readFileSync(fx.files.leaf)).raw;
    const at = pfx.indexOf(leaf);
    assert.ok(at >= 0, 'the certificate is stored in clear');
    // The P-256 point in the leaf's subjectPublicKeyInfo: BIT STRING 03 42 00, then 04 (uncompressed).
    const point = pfx.indexOf(Buffer.from('03420004', 'hex'), at) + 3;
    assert.ok(point > at + 3 && point < at + leaf.length);
    const flipped = Buffer.from(pfx);
    flipped[point] = 0x05;
    const pw = join(tmp.dir, 'pw.txt');
    writeFileSync(pw, `${PFX_PASSWORD}\n`);
    const r = await show('flipped.pfx', flipped, ['--password-file', pw]);
    assert.equal(r.code, 5, r.stderr);
    assert.match(
      r.stderr,
      /error\[MTLS_DER_INVALID\]: the subjectPublicKeyInfo of .*flipped\.pfx bag \d+ certificate is malformed/,
    );
    assert.match(r.stderr, /hint: The certificate is corrupt at its public key/);
  });

  it('every regression fixture of the CRL and certificate targets fails with a catalogue error at the CLI naming the file', async () => {
    for (const [target, ext] of [
      ['crl-der', 'crl'],
      ['onboard-crl', 'crl'],
      ['cert-der', 'der'],
    ] as const) {
      for (const { input } of regressionInputs(target).slice(0, 3)) {
        const r = await show(`fixture.${ext}`, input);
        assert.ok(r.code === 0 || r.code === 5, r.stderr);
        if (r.code === 5)
          assert.match(r.stderr, /error\[MTLS_DER_INVALID\]: .*fixture\.(crl|der).*\nhint: \S/);
      }
    }
  });
});
