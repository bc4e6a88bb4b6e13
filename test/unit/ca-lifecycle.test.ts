/**
 * The pure pieces of the CA lifecycle: pathLenConstraint when signing, CRL
 * URL checks, the renewal window, and which certificate renewed which.
 */
import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkCrlUrl, withCrlDistributionPoint } from '../../src/ca/crl-distribution.js';
import { certificateRows } from '../../src/ca/list.js';
import { needsRenewal } from '../../src/ca/needs-renewal.js';
import { assertPathLength } from '../../src/ca/path-length.js';
import type { IndexEntry } from '../../src/ca/index-db.js';
import { MtlsError } from '../../src/errors/index.js';
import { buildCertificate } from '../../src/pki/certificate.js';
import { parseSubject } from '../../src/pki/names.js';
import { BUILTIN_PROFILES, type ExtensionProfile } from '../../src/pki/profile.js';
import { makeCa, tempDir } from '../helpers/pki.js';

const DAY = 86_400_000;
const code =
  (c: string) =>
  (e: unknown): boolean =>
    e instanceof MtlsError && e.code === c;

test("assertPathLength: a pathlen-0 CA signs leaves only; a child pathlen must stay below the signer's", async () => {
  const t = tempDir();
  try {
    const root = await makeCa(t.dir, { name: 'Root' });
    const inter = await makeCa(t.dir, { name: 'Inter', issuer: root });
    const ca = BUILTIN_PROFILES.v3_intermediate_ca as ExtensionProfile;
    const leaf = BUILTIN_PROFILES.client_cert as ExtensionProfile;
    assert.doesNotThrow(() =>
      assertPathLength({ signer: root.certificate, profile: ca, signerSource: 'root' }),
    );
    assert.doesNotThrow(() =>
      assertPathLength({ signer: inter.certificate, profile: leaf, signerSource: 'inter' }),
    );
    assert.throws(
      () => assertPathLength({ signer: inter.certificate, profile: ca, signerSource: 'inter.pem' }),
      (e: unknown) =>
        code('MTLS_PATHLEN_EXCEEDED')(e) && /pathlen 0 \(inter.pem\)/.test((e as Error).message),
    );
    // A signer with pathlen 1 (built here) may sign pathlen 0 but not pathlen 1.
    const p1: ExtensionProfile = {
      ...ca,
      name: 'p1',
      basicConstraints: { critical: true, value: { ca: true, pathLen: 1 } },
    };
    const mid = await makeCa(t.dir, { name: 'Mid' });
    const built = await buildCertificate({
      subject: parseSubject('/CN=P1'),
      signer: { privateKey: mid.privateKey },
      profile: p1,
      days: 10,
    });
    assert.doesNotThrow(() =>
      assertPathLength({ signer: built.certificate, profile: ca, signerSource: 'p1' }),
    );
    assert.throws(
      () => assertPathLength({ signer: built.certificate, profile: p1, signerSource: 'p1' }),
      code('MTLS_PATHLEN_EXCEEDED'),
    );
  } finally {
    t.cleanup();
  }
});

test('checkCrlUrl: http(s) only, no credentials, no fragment; the URL goes into the signing profiles only', () => {
  assert.equal(checkCrlUrl('http://pki.example/ca.crl'), 'http://pki.example/ca.crl');
  assert.equal(checkCrlUrl('https://pki.example/ca.crl'), 'https://pki.example/ca.crl');
  for (const bad of ['ftp://x/ca.crl', 'ca.crl', 'http://u:p@x/ca.crl', 'http://x/ca.crl#a'])
    assert.throws(() => checkCrlUrl(bad), code('MTLS_BAD_ARGUMENT'), bad);
  const p = withCrlDistributionPoint(BUILTIN_PROFILES, 'http://pki.example/ca.crl');
  assert.deepEqual(p.client_cert?.crlDistributionPoints, [
    { type: 'uri', value: 'http://pki.example/ca.crl' },
  ]);
  assert.deepEqual(p.v3_intermediate_ca?.crlDistributionPoints, [
    { type: 'uri', value: 'http://pki.example/ca.crl' },
  ]);
  assert.equal(p.v3_ca?.crlDistributionPoints, undefined);
});

test('needsRenewal: a duration window, a share of the lifetime, and expiry', async () => {
  const t = tempDir();
  try {
    const now = new Date();
    const ca = await makeCa(t.dir, {
      name: 'W',
      notBefore: new Date(now.getTime() - 80 * DAY),
      notAfter: new Date(now.getTime() + 20 * DAY),
    });
    assert.equal(needsRenewal({ certificate: ca.certificate, at: now }).needsRenewal, true);
    assert.equal(
      needsRenewal({ certificate: ca.certificate, at: now, withinMs: 10 * DAY }).needsRenewal,
      false,
    );
    assert.equal(
      needsRenewal({ certificate: ca.certificate, at: now, withinFraction: 0.25 }).needsRenewal,
      true,
    );
    assert.equal(
      needsRenewal({ certificate: ca.certificate, at: now, withinFraction: 0.1 }).needsRenewal,
      false,
    );
    assert.equal(
      needsRenewal({
        certificate: ca.certificate,
        at: new Date(now.getTime() + 21 * DAY),
        withinMs: 0,
      }).expired,
      true,
    );
  } finally {
    t.cleanup();
  }
});

test('certificateRows: state at a time, and the later valid certificate with the same subject renews the earlier', () => {
  const at = new Date('2027-01-01T00:00:00Z');
  const e = (
    serial: string,
    subject: string,
    expiry: string,
    status: IndexEntry['status'] = 'V',
  ): IndexEntry => ({
    status,
    expiry: new Date(expiry),
    revokedAt: status === 'R' ? new Date('2026-12-01T00:00:00Z') : null,
    reason: status === 'R' ? 'superseded' : null,
    serial,
    file: 'unknown',
    subject,
  });
  const rows = certificateRows(
    [
      e('01', '/CN=a', '2027-01-10T00:00:00Z'),
      e('02', '/CN=a', '2028-01-10T00:00:00Z'),
      e('03', '/CN=b', '2026-12-31T00:00:00Z'),
      e('04', '/CN=b', '2028-01-01T00:00:00Z', 'R'),
    ],
    at,
  );
  assert.deepEqual(
    rows.map((r) => [r.serial, r.state, r.renewedBy ?? null]),
    [
      ['01', 'valid', '02'],
      ['02', 'valid', null],
      ['03', 'expired', null],
      ['04', 'revoked', null],
    ],
  );
  assert.equal(rows[0]?.daysLeft, 9);
});
