/**
 * Test fixtures: throw-away CAs and leaf certificates built with the library,
 * written to a temp dir as PEM. Each test makes its own.
 */
import 'reflect-metadata';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as x509 from '@peculiar/x509';
import { buildCertificate } from '../../src/pki/certificate.js';
import { exportPrivateKeyPem, generateKeyPair, type KeyType } from '../../src/pki/keys.js';
import { parseSubject } from '../../src/pki/names.js';
import {
  BUILTIN_PROFILES,
  type ExtensionProfile,
  type GeneralNameSpec,
} from '../../src/pki/profile.js';
import type { KeyObject } from 'node:crypto';

/** A temp dir removed by the returned cleanup. */
export function tempDir(prefix = 'mtlskit-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A CA (root or intermediate) kept in memory and on disk. */
export interface TestCa {
  subject: string;
  privateKey: KeyObject;
  certificate: x509.X509Certificate;
  certPem: string;
  keyPem: string;
  certPath: string;
  keyPath: string;
}

/** A leaf certificate with its key. */
export interface TestLeaf {
  certPem: string;
  keyPem: string;
  certPath: string;
  keyPath: string;
  certificate: x509.X509Certificate;
  privateKey: KeyObject;
  serialHex: string;
}

let counter = 0;

/** Makes a CA. With `issuer` it is an intermediate signed by that CA. */
export async function makeCa(
  dir: string,
  opts: {
    name?: string;
    keyType?: KeyType;
    issuer?: TestCa;
    notBefore?: Date;
    notAfter?: Date;
    days?: number;
  } = {},
): Promise<TestCa> {
  const name = opts.name ?? `Test CA ${++counter}`;
  const subject = `/C=BR/ST=SP/O=${name}/CN=${name}`;
  const keys = await generateKeyPair(opts.keyType ?? 'ec-p256');
  const built = await buildCertificate({
    subject: parseSubject(subject),
    publicKey: keys.publicKey,
    signer: opts.issuer
      ? { privateKey: opts.issuer.privateKey, certificate: opts.issuer.certificate }
      : { privateKey: keys.privateKey },
    profile: opts.issuer
      ? (BUILTIN_PROFILES.v3_intermediate_ca as ExtensionProfile)
      : (BUILTIN_PROFILES.v3_ca as ExtensionProfile),
    days: opts.days ?? 3650,
    ...(opts.notBefore ? { notBefore: opts.notBefore } : {}),
    ...(opts.notAfter ? { notAfter: opts.notAfter } : {}),
  });
  const slug = name.replace(/[^A-Za-z0-9]+/g, '-').toLowerCase();
  const certPath = join(dir, `${slug}.cert.pem`);
  const keyPath = join(dir, `${slug}.key.pem`);
  const keyPem = exportPrivateKeyPem(keys.privateKey);
  writeFileSync(certPath, built.pem);
  writeFileSync(keyPath, keyPem, { mode: 0o600 });
  return {
    subject,
    privateKey: keys.privateKey,
    certificate: built.certificate,
    certPem: built.pem,
    keyPem,
    certPath,
    keyPath,
  };
}

/** Options for {@link makeLeaf}. */
export interface MakeLeafOptions {
  cn?: string;
  /** Profile name from BUILTIN_PROFILES (default client_cert) or a profile. */
  profile?: string | ExtensionProfile;
  keyType?: KeyType;
  notBefore?: Date;
  notAfter?: Date;
  days?: number;
  sans?: GeneralNameSpec[];
  /** File name stem (default from cn). */
  file?: string;
}

/** Issues a leaf certificate from `ca` and writes cert + key PEM. */
export async function makeLeaf(
  dir: string,
  ca: TestCa,
  opts: MakeLeafOptions = {},
): Promise<TestLeaf> {
  const cn = opts.cn ?? `leaf-${++counter}`;
  const keys = await generateKeyPair(opts.keyType ?? 'ec-p256');
  const profile =
    typeof opts.profile === 'object'
      ? opts.profile
      : (BUILTIN_PROFILES[opts.profile ?? 'client_cert'] as ExtensionProfile);
  const built = await buildCertificate({
    subject: parseSubject(`/C=BR/ST=SP/O=Test/CN=${cn}`),
    publicKey: keys.publicKey,
    signer: { privateKey: ca.privateKey, certificate: ca.certificate },
    profile,
    days: opts.days ?? 30,
    ...(opts.notBefore ? { notBefore: opts.notBefore } : {}),
    ...(opts.notAfter ? { notAfter: opts.notAfter } : {}),
    ...(opts.sans ? { extraSubjectAltNames: opts.sans } : {}),
  });
  const stem = opts.file ?? cn.replace(/[^A-Za-z0-9]+/g, '-').toLowerCase();
  const certPath = join(dir, `${stem}.cert.pem`);
  const keyPath = join(dir, `${stem}.key.pem`);
  const keyPem = exportPrivateKeyPem(keys.privateKey);
  writeFileSync(certPath, built.pem);
  writeFileSync(keyPath, keyPem, { mode: 0o600 });
  return {
    certPem: built.pem,
    keyPem,
    certPath,
    keyPath,
    certificate: built.certificate,
    privateKey: keys.privateKey,
    serialHex: built.serialHex,
  };
}

/** A server certificate for localhost/127.0.0.1 (server_cert profile with SANs). */
export function makeServerLeaf(
  dir: string,
  ca: TestCa,
  opts: MakeLeafOptions = {},
): Promise<TestLeaf> {
  return makeLeaf(dir, ca, {
    cn: 'localhost',
    profile: 'server_cert',
    sans: [
      { type: 'dns', value: 'localhost' },
      { type: 'ip', value: '127.0.0.1' },
      { type: 'ip', value: '::1' },
    ],
    file: 'server',
    ...opts,
  });
}
