/**
 * Fuzzes the readers of certificates, CSRs and CRLs (`mtls cert show`'s
 * inspectPki, parseCertificates, the CSR reader of `mtls ca sign`) with
 * mutants of real DER and PEM, and checks that what is built reads back the same.
 */
import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { buildCertificate, parseCertificates } from '../../src/pki/certificate.js';
import { buildCrl, parseCrls } from '../../src/pki/crl.js';
import { checkCsr } from '../../src/ca/sign-csr.js';
import { createCsr, parseCsr, verifyCsrSignature } from '../../src/pki/csr.js';
import { inspectPki, renderInspectionText } from '../../src/pki/inspect/index.js';
import { fitKeyUsageToKey } from '../../src/pki/issuance-rules.js';
import { generateKeyPair } from '../../src/pki/keys.js';
import { assertSubjectBounds, formatRfc4514, type DistinguishedName } from '../../src/pki/names.js';
import { BUILTIN_PROFILES, type ExtensionProfile } from '../../src/pki/profile.js';
import { pkiSeeds, type PkiSeeds } from './seeds.js';
import { LONG_RUN, fuzz, selected } from './harness.js';

/** What `mtls cert show FILE` does with the bytes: inspect, then render. */
async function certShow(input: Buffer, source: string): Promise<unknown> {
  const r = await inspectPki({ data: input, source, password: 'unused' });
  renderInspectionText(r);
  JSON.stringify(r);
  return r;
}

describe('fuzz: certificates, CSRs and CRLs', () => {
  let s: PkiSeeds;
  before(async () => {
    s = await pkiSeeds();
  });
  after(() => s.cleanup());

  const target = (name: string, run: () => Promise<unknown>): void => {
    it(name, { skip: !selected(name) }, async () => {
      await run();
    });
  };

  target('cert-der', () =>
    fuzz({
      name: 'cert-der',
      seeds: s.certificates,
      parse: (b) => certShow(b, 'cert.der'),
      runs: 1000,
    }),
  );
  target('csr-der', () =>
    fuzz({ name: 'csr-der', seeds: s.csrs, parse: (b) => certShow(b, 'request.der'), runs: 1000 }),
  );
  target('crl-der', () =>
    fuzz({ name: 'crl-der', seeds: s.crls, parse: (b) => certShow(b, 'list.crl'), runs: 2000 }),
  );
  target('pem', () =>
    fuzz({
      name: 'pem',
      seeds: s.pems.map((p) => Buffer.from(p)),
      parse: (b) => certShow(b, 'bundle.pem'),
      runs: 2000,
    }),
  );
  target('parse-certificates', () =>
    fuzz({
      name: 'parse-certificates',
      seeds: [...s.certificates, ...s.pems.map((p) => Buffer.from(p))],
      parse: (b) =>
        parseCertificates(b, 'chain.pem').map((c) => [
          c.subject,
          c.issuer,
          c.serialNumber,
          c.notAfter,
          c.extensions.length,
        ]),
    }),
  );
  target('parse-crls', () =>
    fuzz({
      name: 'parse-crls',
      seeds: s.crls,
      parse: (b) =>
        parseCrls(b, 'list.crl').map((c) => [
          c.issuer,
          c.thisUpdate,
          c.nextUpdate,
          c.entries.map((e) => [e.serialNumber, e.reason, e.revocationDate]),
        ]),
    }),
  );
  // What `mtls ca sign` does with a CSR short of the CA's files: parse, proof of
  // possession and key strength (checkCsr), keyUsage fitted to the key, subject
  // bounds, then a certificate built with the CSR's key and subjectAltNames.
  target('ca-sign-csr', () =>
    fuzz({
      name: 'ca-sign-csr',
      seeds: s.csrs,
      runs: 2000,
      parse: async (b) => {
        const csr = parseCsr(b, 'request.csr');
        await checkCsr(csr, 'client_cert', false, 'request.csr');
        const { profile } = fitKeyUsageToKey({
          profile: BUILTIN_PROFILES.client_cert as ExtensionProfile,
          publicKey: csr.publicKey,
        });
        assertSubjectBounds(csr.subject, 'request.csr');
        const built = await buildCertificate({
          subject: csr.subject,
          publicKey: csr.publicKey,
          signer: {
            privateKey: s.intermediate.privateKey,
            certificate: s.intermediate.certificate,
          },
          days: 1,
          profile,
          extraSubjectAltNames: csr.subjectAltNames,
        });
        return [formatRfc4514(csr.subject), built.serialHex];
      },
    }),
  );

  // Round trips: what is built reads back as built (values from the RFC 4514 / slash grammar).
  const rdnValue = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9 .'-]{0,30}[A-Za-z0-9]$/);
  const dnArb: fc.Arbitrary<DistinguishedName> = fc
    .record({
      c: fc.constantFrom('BR', 'US', 'DE'),
      o: rdnValue,
      ou: fc.option(rdnValue, { nil: undefined }),
      cn: rdnValue,
    })
    .map(({ c, o, ou, cn }) => [
      { type: 'C', value: c },
      { type: 'O', value: o },
      ...(ou ? [{ type: 'OU', value: ou }] : []),
      { type: 'CN', value: cn },
    ]);
  const roundTripRuns = LONG_RUN ? 2000 : 60;

  it(
    'round trip: a built certificate reads back with its subject, serial, validity and SANs',
    { skip: !selected('roundtrip') },
    async () => {
      const key = await generateKeyPair('ec-p256');
      await fc.assert(
        fc.asyncProperty(
          dnArb,
          fc.uint8Array({ minLength: 1, maxLength: 19 }).map((b) =>
            Buffer.concat([Buffer.from([0x01 | ((b[0] as number) & 0x7f)]), b.subarray(1)])
              .toString('hex')
              .toUpperCase(),
          ),
          fc.integer({ min: 1, max: 3650 }),
          fc.array(fc.domain(), { maxLength: 3 }),
          async (subject, serial, days, dns) => {
            const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000);
            const built = await buildCertificate({
              subject,
              publicKey: key.publicKey,
              signer: {
                privateKey: s.intermediate.privateKey,
                certificate: s.intermediate.certificate,
              },
              serialNumber: serial,
              notBefore,
              days,
              profile: BUILTIN_PROFILES.client_cert as ExtensionProfile,
              extraSubjectAltNames: dns.map((value) => ({ type: 'dns' as const, value })),
            });
            const [d] = (await inspectPki({ data: built.der, source: 'built.der' })).objects;
            assert.ok(d?.type === 'certificate');
            assert.equal(d.subject.rfc4514, formatRfc4514(subject));
            assert.equal(d.serialNumber, serial.replace(/^(00)+/, ''));
            assert.equal(d.notBefore, notBefore.toISOString().replace('.000Z', 'Z'));
            assert.equal(Date.parse(d.notAfter) - Date.parse(d.notBefore), days * 86_400_000);
            const san = d.extensions.find((e) => e.kind === 'subjectAltName');
            assert.deepEqual(
              san?.kind === 'subjectAltName'
                ? san.names.filter((n) => n.type === 'dns').map((n) => n.value)
                : [],
              dns,
            );
          },
        ),
        { seed: 0x13f022, numRuns: roundTripRuns },
      );
    },
  );

  it(
    'round trip: a built CSR and CRL read back as built',
    { skip: !selected('roundtrip') },
    async () => {
      const key = await generateKeyPair('ec-p256');
      await fc.assert(
        fc.asyncProperty(
          dnArb,
          fc.uniqueArray(fc.bigInt({ min: 1n, max: (1n << 150n) - 1n }), { maxLength: 5 }),
          fc.array(
            fc.integer({ min: 0, max: 10 }).filter((r) => r !== 7),
            { minLength: 5, maxLength: 5 },
          ),
          fc.bigInt({ min: 0n, max: (1n << 100n) - 1n }),
          async (subject, serials, reasons, crlNumber) => {
            const csr = await createCsr({ subject, privateKey: key.privateKey });
            const reread = parseCsr(csr.pem, 'built.csr');
            await verifyCsrSignature(reread);
            assert.equal(formatRfc4514(reread.subject), formatRfc4514(subject));
            const crl = await buildCrl({
              signer: {
                privateKey: s.intermediate.privateKey,
                certificate: s.intermediate.certificate,
              },
              entries: serials.map((n, i) => ({
                serial: n.toString(16).toUpperCase(),
                revokedAt: new Date(1_700_000_000_000 + i * 1000),
                reasonCode: reasons[i] as number,
              })),
              crlNumber,
            });
            const [d] = (await inspectPki({ data: Buffer.from(crl.pem), source: 'built.crl' }))
              .objects;
            assert.ok(d?.type === 'crl');
            assert.equal(d.crlNumber, crlNumber.toString());
            assert.deepEqual(
              d.revoked.map((r) => BigInt(`0x${r.serialNumber}`)),
              serials,
            );
          },
        ),
        { seed: 0x13f022, numRuns: roundTripRuns },
      );
    },
  );
});
