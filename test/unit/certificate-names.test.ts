/**
 * readCertificateNames (the TBSCertificate walk the gateway uses instead of a
 * full ASN.1 parse) against @peculiar/x509 and node:crypto on real
 * certificates: RSA and P-256, v3 with the version field and v1 without it
 * (made by `openssl x509 -req`), a multi-valued RDN with UTF-8; and its
 * refusal of truncated, padded and garbage input.
 */
import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate as NodeX509 } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { isMtlsError } from '../../src/errors/index.js';
import { readCertificateNames } from '../../src/pki/certificate-names.js';
import { parseCertInfo } from '../../src/gateway/peer-cert.js';
import { makeCa, makeLeaf, tempDir } from '../helpers/pki.js';

const pemToDer = (pem: string): Buffer =>
  Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');

/** Runs openssl with the arguments and returns the certificate it wrote (DER). */
function openssl(dir: string, file: string, args: string[]): Buffer {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  return pemToDer(readFileSync(join(dir, file), 'utf8'));
}

describe('readCertificateNames', () => {
  const tmp = tempDir('mtlskit-certnames-');
  const certs: Array<{ label: string; der: Buffer }> = [];

  before(async () => {
    const p256 = await makeCa(tmp.dir, { name: 'Names P-256 Root' });
    const rsa = await makeCa(tmp.dir, { name: 'Names RSA Root', keyType: 'rsa2048' });
    const inter = await makeCa(tmp.dir, { name: 'Names Intermediate', issuer: rsa });
    const leaf = await makeLeaf(tmp.dir, inter, { cn: 'names-client', keyType: 'rsa2048' });
    certs.push(
      { label: 'P-256 root (v3)', der: pemToDer(p256.certPem) },
      { label: 'RSA-2048 root (v3)', der: pemToDer(rsa.certPem) },
      { label: 'P-256 intermediate under RSA (issuer differs)', der: pemToDer(inter.certPem) },
      { label: 'RSA-2048 client leaf', der: pemToDer(leaf.certPem) },
    );
    // v1: no [0] version field, so the TBSCertificate starts at the serial.
    openssl(tmp.dir, 'v1.csr', [
      'req',
      '-new',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'v1.key',
      '-subj',
      '/C=BR/O=Version One/CN=v1 root',
      '-out',
      'v1.csr',
    ]);
    certs.push({
      label: 'RSA v1 (no version field)',
      der: openssl(tmp.dir, 'v1.pem', [
        'x509',
        '-req',
        '-in',
        'v1.csr',
        '-signkey',
        'v1.key',
        '-days',
        '2',
        '-out',
        'v1.pem',
      ]),
    });
    certs.push({
      label: 'P-256, multi-valued RDN, UTF-8',
      der: openssl(tmp.dir, 'mv.pem', [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        'mv.key',
        '-utf8',
        '-multivalue-rdn',
        '-subj',
        '/C=BR/O=Associação Ünïcode/OU=Ops+CN=multi value',
        '-days',
        '2',
        '-out',
        'mv.pem',
      ]),
    });
  });
  after(() => tmp.cleanup());

  it('finds the same subject and issuer Name DER as @peculiar/x509, v1 and v3, RSA and P-256', () => {
    assert.equal(certs.length, 6);
    const v1 = certs.find((c) => c.label.startsWith('RSA v1'));
    // The v1 fixture really has no version field: tbsCertificate's first child is the serial INTEGER.
    assert.equal(v1?.der.subarray(8, 9).toString('hex'), '02');
    for (const { label, der } of certs) {
      const names = readCertificateNames(der);
      const pec = new x509.X509Certificate(der);
      assert.deepEqual(
        names.subjectDer,
        Buffer.from(pec.subjectName.toArrayBuffer()),
        `${label}: subject`,
      );
      assert.deepEqual(
        names.issuerDer,
        Buffer.from(pec.issuerName.toArrayBuffer()),
        `${label}: issuer`,
      );
    }
  });

  it('agrees with node:crypto: the parsed DN reads as X509Certificate prints it', () => {
    for (const { label, der } of certs) {
      const node = new NodeX509(der);
      const info = parseCertInfo(der);
      const lines = (dn: typeof info.subjectDn): string =>
        dn.map((a) => `${a.type}=${a.value}`).join('\n');
      // Node joins the attributes of a multi-valued RDN with " + "; a
      // DistinguishedName lists them one by one, in the same order.
      const nodeLines = (text: string): string => text.replaceAll(' + ', '\n');
      assert.equal(lines(info.subjectDn), nodeLines(node.subject), `${label}: subject`);
      assert.equal(lines(info.issuerDn), nodeLines(node.issuer), `${label}: issuer`);
      assert.equal(info.selfIssued, node.subject === node.issuer, `${label}: self-issued`);
    }
  });

  it('refuses every truncation, trailing bytes, a wrong outer tag and garbage as MTLS_DER_INVALID', () => {
    const invalid = (e: unknown): boolean => isMtlsError(e, 'MTLS_DER_INVALID');
    for (const { label, der } of certs) {
      // Every prefix that stops before the subject Name ends, and the rest too:
      // a Certificate must fill the buffer exactly.
      for (let n = 0; n < der.length; n++)
        assert.throws(
          () => readCertificateNames(der.subarray(0, n)),
          invalid,
          `${label} cut at ${n}`,
        );
      assert.throws(() => readCertificateNames(Buffer.concat([der, Buffer.from([0])])), invalid);
      const wrongTag = Buffer.from(der);
      wrongTag[0] = 0x31;
      assert.throws(() => readCertificateNames(wrongTag), invalid, `${label}: SET outer tag`);
    }
    for (const garbage of [
      Buffer.alloc(0),
      Buffer.from('not a certificate'),
      Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01]),
      Buffer.from([0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x01]),
      Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff]),
    ])
      assert.throws(() => readCertificateNames(garbage), invalid, garbage.toString('hex'));
  });

  it('parseCertInfo refuses garbage as MTLS_DER_INVALID before any Name is read', () => {
    assert.throws(
      () => parseCertInfo(Buffer.from('garbage')),
      (e) => isMtlsError(e, 'MTLS_DER_INVALID'),
    );
  });
});
