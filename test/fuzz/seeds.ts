/**
 * Valid inputs for the fuzz targets, made at test time: a root and an
 * intermediate CA, client and server leaves, CSRs and CRLs built with the
 * library, plus certificates, keys and `.pfx` files made by the openssl CLI
 * (its encodings differ from ours, which widens what the mutators start from).
 */
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import { buildCrl } from '../../src/pki/crl.js';
import { createCsr } from '../../src/pki/csr.js';
import { exportPrivateKeyPem, generateKeyPair } from '../../src/pki/keys.js';
import { parseSubject } from '../../src/pki/names.js';
import { buildPfx } from '../../src/pki/pkcs12/index.js';
import { encodePem } from '../../src/pki/pem.js';
import { makePfxFixture, openssl, type PfxFixture } from '../helpers/pfx-fixtures.js';
import {
  makeCa,
  makeLeaf,
  makeServerLeaf,
  tempDir,
  type TestCa,
  type TestLeaf,
} from '../helpers/pki.js';

/** The password of every `.pfx` seed (regression fixtures are replayed with it). */
export const PFX_PASSWORD = 'fuzz-pass';
/** The passphrase of every encrypted key seed. */
export const KEY_PASSPHRASE = 'fuzz-key-pass';

/** Everything the PKI targets start from. */
export interface PkiSeeds {
  root: TestCa;
  intermediate: TestCa;
  leaf: TestLeaf;
  server: TestLeaf;
  /** DER certificates: ours and OpenSSL's. */
  certificates: Buffer[];
  /** DER CSRs: with and without subjectAltNames, EC and RSA. */
  csrs: Buffer[];
  /** DER CRLs: empty, with entries and reasons, from the root and the intermediate. */
  crls: Buffer[];
  /** PEM texts: bundles of certificates, a CSR, CRLs, a TRUSTED CERTIFICATE. */
  pems: string[];
  openssl: PfxFixture;
  cleanup: () => void;
}

let cached: Promise<PkiSeeds> | undefined;

/** Builds the PKI seeds once per process. */
export function pkiSeeds(): Promise<PkiSeeds> {
  cached ??= makePkiSeeds();
  return cached;
}

async function makePkiSeeds(): Promise<PkiSeeds> {
  const tmp = tempDir('mtls-fuzz-');
  const root = await makeCa(tmp.dir, { name: 'Fuzz Root' });
  const intermediate = await makeCa(tmp.dir, { name: 'Fuzz Issuing CA', issuer: root });
  const leaf = await makeLeaf(tmp.dir, intermediate, {
    cn: 'fuzz-client',
    sans: [
      { type: 'email', value: 'ops@example.com' },
      { type: 'uri', value: 'https://example.com/x' },
    ],
  });
  const server = await makeServerLeaf(tmp.dir, intermediate);
  const ec = await generateKeyPair('ec-p256');
  const csrPlain = await createCsr({
    subject: parseSubject('/C=BR/ST=SP/O=Fuzz/CN=plain'),
    privateKey: ec.privateKey,
  });
  const csrSans = await createCsr({
    subject: parseSubject('/C=BR/O=Fuzz/OU=Ops/CN=with-sans/emailAddress=a@example.com'),
    privateKey: ec.privateKey,
    subjectAltNames: [
      { type: 'dns', value: 'a.example.com' },
      { type: 'ip', value: '192.0.2.7' },
      { type: 'ip', value: '2001:db8::1' },
    ],
  });
  const now = new Date();
  const crlOf = (ca: TestCa, entries: { serial: string; reasonCode?: number }[]): Promise<Buffer> =>
    buildCrl({
      signer: { privateKey: ca.privateKey, certificate: ca.certificate },
      entries: entries.map((e) => ({ ...e, revokedAt: new Date(now.getTime() - 3_600_000) })),
      crlNumber: BigInt(entries.length + 1),
      thisUpdate: new Date(now.getTime() - 60_000),
    }).then((r) => r.der);
  const crls = [
    await crlOf(root, []),
    await crlOf(intermediate, [
      { serial: leaf.serialHex, reasonCode: 1 },
      { serial: '0A1B2C', reasonCode: 4 },
      { serial: '7F' },
    ]),
  ];
  const fx = makePfxFixture('ec', 'Fuzz OpenSSL Client');
  // OpenSSL's own CSR and CRL encodings (an RSA key, the guide's v1 CRL path).
  openssl([
    'req',
    '-new',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    fx.path('rsa.key'),
    '-out',
    fx.path('rsa.csr'),
    '-outform',
    'DER',
    '-subj',
    '/C=BR/O=Fuzz/CN=rsa-csr',
    '-addext',
    'subjectAltName=DNS:rsa.example.com',
  ]);
  const certificates = [
    Buffer.from(root.certificate.rawData),
    Buffer.from(intermediate.certificate.rawData),
    Buffer.from(leaf.certificate.rawData),
    Buffer.from(server.certificate.rawData),
    fx.leafCert.raw,
    fx.intermediateCert.raw,
  ];
  const trusted = openssl(['x509', '-in', fx.files.root, '-addtrust', 'clientAuth', '-trustout']);
  const pems = [
    root.certPem + intermediate.certPem,
    exportPrivateKeyPem(ec.privateKey) + leaf.certPem,
    csrSans.pem,
    encodePem('X509 CRL', crls[1] as Buffer) + encodePem('CRL', crls[0] as Buffer),
    trusted,
  ];
  return {
    root,
    intermediate,
    leaf,
    server,
    certificates,
    csrs: [csrPlain.der, csrSans.der, readFileSync(fx.path('rsa.csr'))],
    crls,
    pems,
    openssl: fx,
    cleanup: () => {
      tmp.cleanup();
      fx.cleanup();
    },
  };
}

/** `.pfx` files in every flavour, with low iteration counts so each case stays cheap. */
export interface PfxSeeds {
  modern: Buffer[];
  legacy3des: Buffer[];
  rc2: Buffer[];
}

/** Builds the `.pfx` seeds: ours (modern, legacy) and OpenSSL's (AES, 3DES, RC2-40, no MAC). */
export function pfxSeeds(s: PkiSeeds): PfxSeeds {
  const fx = s.openssl;
  const ours = (
    flavour: 'modern' | 'legacy',
    key: KeyObject,
    cert: Buffer,
    chain: Buffer[],
  ): Buffer =>
    buildPfx({
      privateKey: key,
      certificate: cert,
      chain,
      password: PFX_PASSWORD,
      flavour,
      iterations: 1,
      macIterations: 1,
    });
  const viaOpenssl = (name: string, extra: string[]): Buffer => {
    openssl([
      'pkcs12',
      '-export',
      '-inkey',
      fx.files.leafKey,
      '-in',
      fx.files.leaf,
      '-certfile',
      fx.files.chain,
      '-passout',
      `pass:${PFX_PASSWORD}`,
      '-out',
      fx.path(name),
      '-iter',
      '1',
      ...extra,
    ]);
    return readFileSync(fx.path(name));
  };
  const leafKey = s.leaf.privateKey;
  const leafDer = Buffer.from(s.leaf.certificate.rawData);
  const chain = [
    Buffer.from(s.intermediate.certificate.rawData),
    Buffer.from(s.root.certificate.rawData),
  ];
  return {
    modern: [
      ours('modern', leafKey, leafDer, chain),
      viaOpenssl('aes.p12', []),
      viaOpenssl('aes-nomac.p12', ['-nomac']),
    ],
    legacy3des: [ours('legacy', leafKey, leafDer, chain), viaOpenssl('3des.p12', ['-legacy'])],
    rc2: [
      viaOpenssl('rc2.p12', ['-legacy', '-certpbe', 'PBE-SHA1-RC2-40', '-keypbe', 'PBE-SHA1-3DES']),
    ],
  };
}
