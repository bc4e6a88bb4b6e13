import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MtlsError } from '../../src/errors/index.js';
import {
  onboardCaChain,
  onboardCrls,
  validateCaChain,
  validateCrls,
  type OnboardCheck,
} from '../../src/gateway/onboarding.js';
import Database from 'better-sqlite3';
import {
  openSqliteRegistry,
  type SqliteRegistry,
} from '../../src/gateway/registry/sqlite-registry.js';
import { buildCertificate } from '../../src/pki/certificate.js';
import { buildCrl } from '../../src/pki/crl.js';
import { publicKeyOf } from '../../src/pki/keys.js';
import { parseSubject } from '../../src/pki/names.js';
import { decodePemBlocks } from '../../src/pki/pem.js';
import { BUILTIN_PROFILES, type ExtensionProfile } from '../../src/pki/profile.js';
import { makeCa, makeLeaf, tempDir, type TestCa } from '../helpers/pki.js';
import { at, defined } from '../helpers/assert.js';

const DAY = 86_400_000;

/** Asserts an MTLS_ONBOARD_REJECTED with the given check whose message matches. */
function rejected(check: OnboardCheck, re: RegExp) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof MtlsError, `expected MtlsError, got ${String(e)}`);
    assert.equal(e.code, 'MTLS_ONBOARD_REJECTED', e.message);
    assert.equal(e.details?.check, check, e.message);
    assert.match(e.message, re);
    return true;
  };
}

/** Makes a self-signed CA certificate with the system openssl (the oracle for weak material). */
function opensslCa(
  dir: string,
  name: string,
  keyArgs: string[],
  digest: string,
  ext = 'keyUsage = critical,keyCertSign,cRLSign',
): string {
  const cnf = join(dir, `${name}.cnf`);
  writeFileSync(
    cnf,
    `[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nO = ${name}\nCN = ${name}\n[v3]\nbasicConstraints = critical,CA:TRUE\n${ext}\nsubjectKeyIdentifier = hash\n`,
  );
  const out = join(dir, `${name}.pem`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      ...keyArgs,
      '-nodes',
      '-keyout',
      join(dir, `${name}.key`),
      '-out',
      out,
      '-days',
      '30',
      '-config',
      cnf,
      '-extensions',
      'v3',
      `-${digest}`,
    ],
    {
      stdio: 'pipe',
    },
  );
  return readFileSync(out, 'utf8');
}

describe('CA chain onboarding', () => {
  let dir: string;
  let cleanup: () => void;
  let root: TestCa;
  let inter: TestCa;
  let other: TestCa;
  before(async () => {
    ({ dir, cleanup } = tempDir('mtlskit-onboard-'));
    root = await makeCa(dir, { name: 'Onb Root' });
    [inter, other] = await Promise.all([
      makeCa(dir, { name: 'Onb Issuing', issuer: root }),
      makeCa(dir, { name: 'Onb Other' }),
    ]);
  });
  after(() => cleanup());

  it('accepts a root, and a chain in any order, returning it issuing-CA first', () => {
    const single = validateCaChain(root.certPem, { source: 'ca.cert.pem' });
    assert.equal(single.certificates.length, 1);
    assert.equal(at(single.certificates, 0).selfSigned, true);
    assert.equal(single.subject, 'C=BR, ST=SP, O=Onb Root, CN=Onb Root');
    assert.deepEqual(single.warnings, []);
    for (const text of [inter.certPem + root.certPem, root.certPem + inter.certPem]) {
      const v = validateCaChain(text);
      assert.deepEqual(
        v.certificates.map((c) => c.subject.split(', ').pop()),
        ['CN=Onb Issuing', 'CN=Onb Root'],
      );
      assert.equal(v.fingerprints.length, 2);
      assert.match(at(v.fingerprints, 0), /^[0-9a-f]{64}$/);
      assert.equal(decodePemBlocks(v.pem).length, 2);
      assert.equal(at(v.certificates, 0).key, 'EC P-256');
      assert.equal(at(v.certificates, 0).signatureAlgorithm, 'ecdsa-with-SHA256');
    }
    // DER is accepted too.
    const der = at(decodePemBlocks(root.certPem), 0).der;
    assert.equal(validateCaChain(der).certificates.length, 1);
  });

  it('refuses any PRIVATE KEY block, loudly, naming the block', () => {
    assert.throws(
      () => validateCaChain(root.certPem + root.keyPem, { source: 'chain.pem' }),
      (e: unknown) => {
        rejected(
          'private_key',
          /chain\.pem: block #2 is a PRIVATE KEY block\. A private key must NEVER be sent/,
        )(e);
        assert.match((e as MtlsError).hint, /never private\/ca\.key\.pem/);
        assert.ok(
          !(e as MtlsError).message.includes(at(root.keyPem.split('\n'), 1)),
          'the key material is not echoed',
        );
        return true;
      },
    );
    const rsaLabel =
      root.certPem + '-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n';
    assert.throws(() => validateCaChain(rsaLabel), rejected('private_key', /RSA PRIVATE KEY/));
    const derKey = root.privateKey.export({ format: 'der', type: 'pkcs8' });
    assert.throws(
      () => validateCaChain(derKey, { source: 'key.der' }),
      rejected('private_key', /key\.der is a DER private key/),
    );
  });

  it('refuses uploads that are not certificates', () => {
    assert.throws(
      () => validateCaChain(Buffer.from('hello world'), { source: 'notes.txt' }),
      rejected('not_a_certificate', /notes\.txt is neither PEM nor a DER X\.509 certificate/),
    );
    const csrLike =
      root.certPem +
      '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n';
    assert.throws(
      () => validateCaChain(csrLike),
      rejected('not_a_certificate', /block #2 is a CERTIFICATE REQUEST, not a CERTIFICATE/),
    );
  });

  it('refuses a non-CA certificate and a CA without keyCertSign', async () => {
    const leaf = await makeLeaf(dir, root, { cn: 'onb-client' });
    assert.throws(
      () => validateCaChain(leaf.certPem + root.certPem, { source: 'chain.pem' }),
      rejected(
        'not_ca',
        /certificate #1 of 2 in chain\.pem \(C=BR, ST=SP, O=Test, CN=onb-client\) is not a CA certificate: basicConstraints CA:TRUE is missing/,
      ),
    );
    const noSign = opensslCa(
      dir,
      'NoSign CA',
      ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
      'sha256',
      'keyUsage = critical,digitalSignature',
    );
    assert.throws(
      () => validateCaChain(noSign),
      rejected('not_ca', /CN=NoSign CA.*lacks keyCertSign/),
    );
  });

  it('refuses expired and not-yet-valid certificates', async () => {
    const expired = await makeCa(dir, {
      name: 'Onb Expired',
      notBefore: new Date(Date.now() - 400 * DAY),
      notAfter: new Date(Date.now() - DAY),
    });
    assert.throws(
      () => validateCaChain(expired.certPem),
      rejected('expired', /CN=Onb Expired.*expired on/),
    );
    const future = await makeCa(dir, {
      name: 'Onb Future',
      notBefore: new Date(Date.now() + 10 * DAY),
      notAfter: new Date(Date.now() + 400 * DAY),
    });
    assert.throws(
      () => validateCaChain(future.certPem),
      rejected('not_yet_valid', /CN=Onb Future.*not valid yet/),
    );
  });

  it('refuses RSA-1024, P-224 and secp256k1 keys', () => {
    const rsa1024 = opensslCa(dir, 'RSA1024 CA', ['-newkey', 'rsa:1024'], 'sha256');
    assert.throws(
      () => validateCaChain(rsa1024),
      rejected('weak_key', /CN=RSA1024 CA.*RSA 1024 is weaker than RSA-2048/),
    );
    const p224 = opensslCa(
      dir,
      'P224 CA',
      ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-224'],
      'sha256',
    );
    assert.throws(
      () => validateCaChain(p224),
      rejected('weak_key', /CN=P224 CA.*EC P-224 is not allowed/),
    );
    const k1 = opensslCa(
      dir,
      'K1 CA',
      ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp256k1'],
      'sha256',
    );
    assert.throws(() => validateCaChain(k1), rejected('weak_key', /secp256k1 is not allowed/));
  });

  it('refuses SHA-1 signatures (made with openssl req -x509 -sha1)', () => {
    const sha1 = opensslCa(
      dir,
      'SHA1 CA',
      ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
      'sha1',
    );
    assert.throws(
      () => validateCaChain(sha1, { source: 'sha1.pem' }),
      rejected(
        'weak_signature',
        /certificate #1 of 1 in sha1\.pem \(O=SHA1 CA, CN=SHA1 CA\) is signed with ecdsa-with-SHA1 \(SHA-1\)/,
      ),
    );
    const rsaSha1 = opensslCa(dir, 'RSA SHA1 CA', ['-newkey', 'rsa:2048'], 'sha1');
    assert.throws(
      () => validateCaChain(rsaSha1),
      rejected('weak_signature', /sha1WithRSAEncryption/),
    );
  });

  it('refuses a chain longer than 4 and a repeated certificate', async () => {
    const five = [
      inter,
      root,
      other,
      await makeCa(dir, { name: 'Onb Five A' }),
      await makeCa(dir, { name: 'Onb Five B' }),
    ]
      .map((c) => c.certPem)
      .join('');
    assert.throws(
      () => validateCaChain(five, { source: 'long.pem' }),
      rejected('too_long', /long\.pem holds 5 certificates; a chain may have at most 4/),
    );
    assert.throws(
      () => validateCaChain(root.certPem + root.certPem),
      rejected('duplicate', /#2 .* is the same certificate as #1/),
    );
  });

  it('refuses certificates that do not chain, naming the break', async () => {
    // Two unrelated CAs in one file.
    assert.throws(
      () => validateCaChain(inter.certPem + other.certPem, { source: 'mixed.pem' }),
      rejected(
        'broken_chain',
        /mixed\.pem does not form one chain: certificate #\d .* and certificate #\d .* are not linked/,
      ),
    );
    // An intermediate without its root.
    assert.throws(
      () => validateCaChain(inter.certPem, { source: 'int.pem' }),
      rejected(
        'incomplete_chain',
        /certificate #1 of 1 in int\.pem \(C=BR, ST=SP, O=Onb Issuing, CN=Onb Issuing\) is issued by C=BR, ST=SP, O=Onb Root, CN=Onb Root, which is neither in int\.pem nor registered/,
      ),
    );
    // ... accepted when the root is already registered for the institution.
    assert.equal(
      validateCaChain(inter.certPem, { knownIssuers: [root.certPem] }).certificates.length,
      1,
    );
    // A path length the chain violates: the issuing CA (pathlen 0) has a CA below it.
    const sub = await makeCa(dir, { name: 'Onb Sub', issuer: inter });
    assert.throws(
      () => validateCaChain(sub.certPem + inter.certPem + root.certPem),
      rejected('broken_chain', /CN=Onb Issuing.*pathLenConstraint 0 but 1 CA/),
    );
  });

  it('warns when a CA expires within 30 days', async () => {
    const soon = await makeCa(dir, {
      name: 'Onb Soon',
      notBefore: new Date(Date.now() - DAY),
      notAfter: new Date(Date.now() + 10 * DAY),
    });
    const v = validateCaChain(soon.certPem, { source: 'soon.pem' });
    assert.equal(v.warnings.length, 1);
    assert.match(
      at(v.warnings, 0),
      /certificate #1 of 1 in soon\.pem \(C=BR, ST=SP, O=Onb Soon, CN=Onb Soon\) expires on .* \(in (9|10) days\)/,
    );
  });

  describe('against a registry', () => {
    let reg: SqliteRegistry;
    before(async () => {
      reg = await openSqliteRegistry(join(dir, 'onboard.db'));
      await reg.createInstitution({ id: 'acme', name: 'Acme' });
      await reg.createInstitution({ id: 'beta', name: 'Beta' });
    });
    after(() => reg.close());

    it('stores a chain and refuses duplicates for this and for another institution', async () => {
      const r = await onboardCaChain(reg, 'acme', root.certPem, { source: 'root.pem' });
      assert.equal(r.chain.institutionId, 'acme');
      assert.deepEqual(r.warnings, []);
      await assert.rejects(
        onboardCaChain(reg, 'acme', root.certPem, { source: 'root.pem' }),
        rejected(
          'duplicate',
          /certificate #1 in root\.pem \(C=BR, ST=SP, O=Onb Root, CN=Onb Root\) is already registered to "acme" as chain \d+/,
        ),
      );
      await assert.rejects(
        onboardCaChain(reg, 'beta', inter.certPem + root.certPem, { source: 'b.pem' }),
        rejected('duplicate', /already registered to institution "acme"/),
      );
      // The intermediate alone chains to acme's registered root: a rotation upload.
      const rot = await onboardCaChain(reg, 'acme', inter.certPem, { source: 'int.pem' });
      assert.equal(rot.chain.fingerprints.length, 1);
      await assert.rejects(
        onboardCaChain(reg, 'beta', inter.certPem),
        rejected('incomplete_chain', /neither in chain nor registered/),
      );
      await assert.rejects(
        onboardCaChain(reg, 'nobody', other.certPem),
        (e: unknown) => e instanceof MtlsError && e.code === 'MTLS_NOT_FOUND',
      );
      assert.equal(
        defined(
          (await reg.loadTrust()).find((t) => t.institution.id === 'beta'),
          '(await reg.loadTrust()).find((t) => t.instituti...',
        ).chains.length,
        0,
      );
    });

    it('accepts a CRL signed by a registered CA and refuses the rest', async () => {
      const crl = await buildCrl({
        signer: { privateKey: root.privateKey, certificate: root.certificate },
        entries: [{ serial: '0A', revokedAt: new Date() }],
        crlNumber: 5n,
      });
      const r = await onboardCrls(reg, 'acme', crl.pem, { source: 'ca.crl.pem' });
      assert.equal(r.crls.length, 1);
      assert.equal(at(r.validated, 0).crlNumber, '5');
      assert.equal(at(r.validated, 0).revoked, 1);
      assert.match(at(r.crls, 0).pem, /-----BEGIN X509 CRL-----/);
      assert.equal(r.unchanged, 0);
      // DER works; re-putting the same CRL stores nothing (no registry change); an older one is refused.
      const version = await reg.version();
      const again = await onboardCrls(reg, 'acme', crl.der);
      assert.equal(again.unchanged, 1);
      assert.equal(at(again.crls, 0).id, at(r.crls, 0).id);
      assert.equal(await reg.version(), version, 'a byte-identical CRL is not stored again');
      const older = await buildCrl({
        signer: { privateKey: root.privateKey, certificate: root.certificate },
        entries: [],
        crlNumber: 4n,
        thisUpdate: new Date(Date.now() - 3600_000),
      });
      await assert.rejects(
        onboardCrls(reg, 'acme', older.pem),
        rejected('crl_older', /older than the registered one \(crlNumber 4 vs 5/),
      );
      // Another CA's CRL.
      const foreign = await buildCrl({
        signer: { privateKey: other.privateKey, certificate: other.certificate },
        entries: [],
        crlNumber: 1n,
      });
      await assert.rejects(
        onboardCrls(reg, 'acme', foreign.pem),
        rejected('crl_issuer_unknown', /CN=Onb Other.*not issued by any CA registered/),
      );
      // Same issuer name, different key: the signature check catches it.
      const impostor = await makeCa(dir, { name: 'Onb Root' });
      const forged = await buildCrl({
        signer: { privateKey: impostor.privateKey, certificate: impostor.certificate },
        entries: [],
        crlNumber: 9n,
      });
      await assert.rejects(
        onboardCrls(reg, 'acme', forged.pem),
        rejected('crl_signature', /signature does not verify/),
      );
      // Out of date.
      const stale = await buildCrl({
        signer: { privateKey: root.privateKey, certificate: root.certificate },
        entries: [],
        crlNumber: 6n,
        thisUpdate: new Date(Date.now() - 40 * DAY),
        nextUpdate: new Date(Date.now() - 10 * DAY),
      });
      await assert.rejects(
        validateCrls(stale.pem, [root.certPem]),
        rejected('crl_stale', /out of date: nextUpdate was/),
      );
      await assert.rejects(
        onboardCrls(reg, 'acme', crl.pem + root.keyPem),
        rejected('private_key', /PRIVATE KEY/),
      );
      await assert.rejects(
        onboardCrls(reg, 'acme', root.certPem),
        rejected('not_a_crl', /not a CRL/),
      );
      const stored = defined(
        (await reg.loadTrust()).find((t) => t.institution.id === 'acme'),
        '(await reg.loadTrust()).find((t) => t.instituti...',
      ).crls;
      assert.equal(stored.length, 1);
      assert.equal(at(stored, 0).pem, crl.pem);
    });

    it("refuses a re-issued copy of another institution's CA (same key, new certificate); the owner may re-issue its own", async () => {
      const reissue = async (ca: TestCa) =>
        (
          await buildCertificate({
            subject: parseSubject(ca.subject),
            publicKey: publicKeyOf(ca.privateKey),
            signer: { privateKey: ca.privateKey },
            profile: BUILTIN_PROFILES.v3_ca as ExtensionProfile,
            days: 365,
          })
        ).pem;
      const copy = await reissue(root);
      await assert.rejects(
        onboardCaChain(reg, 'beta', copy, { source: 'copy.pem' }),
        rejected(
          'duplicate',
          /certificate #1 in copy\.pem \(C=BR, ST=SP, O=Onb Root, CN=Onb Root\) has the same public key \(SPKI SHA-256 [0-9a-f]{64}\) as a CA certificate registered to institution "acme"/,
        ),
      );
      assert.equal(at(await reg.loadTrust('beta'), 0).chains.length, 0);
      const renewed = await onboardCaChain(reg, 'acme', copy, { source: 'renewed.pem' });
      assert.equal(renewed.chain.institutionId, 'acme');
    });

    it('two CAs sharing a subject (rotation) keep one CRL each; one upload may carry both', async () => {
      await reg.createInstitution({ id: 'rot', name: 'Rotation' });
      const oldCa = await makeCa(dir, { name: 'Onb Rotating' });
      const newCa = await makeCa(dir, { name: 'Onb Rotating' });
      await onboardCaChain(reg, 'rot', oldCa.certPem, { source: 'old.pem' });
      await onboardCaChain(reg, 'rot', newCa.certPem, { source: 'new.pem' });
      const crlOf = (ca: TestCa, serials: string[], crlNumber: bigint) =>
        buildCrl({
          signer: { privateKey: ca.privateKey, certificate: ca.certificate },
          entries: serials.map((serial) => ({ serial, revokedAt: new Date() })),
          crlNumber,
        });
      const oldCrl = await crlOf(oldCa, ['0B'], 5n);
      await onboardCrls(reg, 'rot', oldCrl.pem, { source: 'old.crl.pem' });
      // The new CA's first CRL (number 1) is not "older" than the old CA's number 5, and does not replace it.
      const newCrl = await crlOf(newCa, [], 1n);
      await onboardCrls(reg, 'rot', newCrl.pem, { source: 'new.crl.pem' });
      let stored = at(await reg.loadTrust('rot'), 0).crls;
      assert.equal(stored.length, 2, 'each CA keeps its own CRL');
      assert.ok(
        stored.some((c) => c.pem === oldCrl.pem),
        "the old CA's revocations still apply",
      );
      assert.equal(new Set(stored.map((c) => c.issuerFingerprint)).size, 2);
      // Both CAs' next CRLs in one file replace one each.
      const both =
        (await crlOf(oldCa, ['0B', '0C'], 6n)).pem + (await crlOf(newCa, ['0D'], 2n)).pem;
      const r = await onboardCrls(reg, 'rot', both, { source: 'both.crl.pem' });
      assert.equal(r.crls.length, 2);
      stored = at(await reg.loadTrust('rot'), 0).crls;
      assert.deepEqual(stored.map((c) => c.id).sort(), r.crls.map((c) => c.id).sort());
      // Going back is still refused per CA, and two CRLs of one CA in one file are refused.
      await assert.rejects(
        onboardCrls(reg, 'rot', oldCrl.pem),
        rejected('crl_older', /crlNumber 5 vs 6/),
      );
      const twice = (await crlOf(newCa, [], 7n)).pem + (await crlOf(newCa, [], 8n)).pem;
      await assert.rejects(
        onboardCrls(reg, 'rot', twice, { source: 'twice.pem' }),
        rejected('duplicate', /twice\.pem holds two CRLs signed by the same CA/),
      );
    });

    it('a CRL stored before schema 2 (no signer recorded) is replaced by its own CA, not by a namesake', async () => {
      await reg.createInstitution({ id: 'legacy', name: 'Legacy' });
      const a = await makeCa(dir, { name: 'Onb Legacy' });
      const b = await makeCa(dir, { name: 'Onb Legacy' });
      await onboardCaChain(reg, 'legacy', a.certPem);
      await onboardCaChain(reg, 'legacy', b.certPem);
      const old = await buildCrl({
        signer: { privateKey: a.privateKey, certificate: a.certificate },
        entries: [{ serial: '0E', revokedAt: new Date() }],
        crlNumber: 3n,
      });
      const db = new Database(join(dir, 'onboard.db'));
      try {
        db.prepare(
          `INSERT INTO crls (institution_id, issuer, issuer_fingerprint, pem, this_update, next_update, created_at) VALUES ('legacy', 'x', NULL, ?, ?, NULL, ?)`,
        ).run(old.pem, new Date().toISOString(), new Date().toISOString());
      } finally {
        db.close();
      }
      await onboardCrls(
        reg,
        'legacy',
        (
          await buildCrl({
            signer: { privateKey: b.privateKey, certificate: b.certificate },
            entries: [],
            crlNumber: 1n,
          })
        ).pem,
      );
      assert.equal(
        at(await reg.loadTrust('legacy'), 0).crls.length,
        2,
        "the namesake's CRL does not replace it",
      );
      await assert.rejects(
        onboardCrls(
          reg,
          'legacy',
          (
            await buildCrl({
              signer: { privateKey: a.privateKey, certificate: a.certificate },
              entries: [],
              crlNumber: 2n,
            })
          ).pem,
        ),
        rejected('crl_older', /crlNumber 2 vs 3/),
      );
      await onboardCrls(
        reg,
        'legacy',
        (
          await buildCrl({
            signer: { privateKey: a.privateKey, certificate: a.certificate },
            entries: [],
            crlNumber: 4n,
          })
        ).pem,
      );
      const crls = at(await reg.loadTrust('legacy'), 0).crls;
      assert.equal(crls.length, 2, 'its own CA replaced it');
      assert.ok(crls.every((c) => c.issuerFingerprint !== null));
    });
  });
});
