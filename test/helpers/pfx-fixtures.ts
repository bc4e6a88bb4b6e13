/**
 * Test fixtures for the PKCS#12 tests, made with the openssl CLI in a temp
 * dir: a root CA, an intermediate CA, a client leaf (EC P-256 or RSA-2048), a
 * server certificate for loopback handshakes, and an unrelated key.
 */
import { execFileSync, type ExecFileSyncOptions } from 'node:child_process';
import { createPrivateKey, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Runs openssl and returns stdout; throws with stderr on failure. */
export function openssl(args: string[], options: ExecFileSyncOptions = {}): string {
  return execFileSync('openssl', args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    ...options,
  }) as string;
}

/** A generated PKI in a temp dir. */
export interface PfxFixture {
  dir: string;
  path: (name: string) => string;
  rootCert: X509Certificate;
  intermediateCert: X509Certificate;
  leafKey: KeyObject;
  leafCert: X509Certificate;
  otherKey: KeyObject;
  /** Files: root.pem, int.pem, leaf.key, leaf.pem, chain.pem (int + root), server.key, server.pem, other.key. */
  files: Record<
    'root' | 'intermediate' | 'leafKey' | 'leaf' | 'chain' | 'serverKey' | 'server' | 'otherKey',
    string
  >;
  cleanup: () => void;
}

const EXTENSIONS = `
[v3_int]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[v3_client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[v3_server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
const RSA = ['-newkey', 'rsa:2048'];

/**
 * Makes the fixture PKI. `leafType` picks the client key (EC P-256 default).
 * @param leafCn - the client certificate's CN (the default friendlyName)
 */
export function makePfxFixture(
  leafType: 'ec' | 'rsa' = 'ec',
  leafCn = 'ACME Client 01',
): PfxFixture {
  const dir = mkdtempSync(join(tmpdir(), 'mtls-pfx-'));
  const path = (name: string): string => join(dir, name);
  writeFileSync(path('ext.cnf'), EXTENSIONS);
  const days = ['-days', '30'];
  openssl([
    'req',
    '-x509',
    ...EC,
    '-nodes',
    '-keyout',
    path('root.key'),
    '-out',
    path('root.pem'),
    ...days,
    '-subj',
    '/C=BR/O=ACME Test/CN=ACME Test Root',
  ]);
  const sign = (name: string, subj: string, newkey: string[], ca: string, ext: string): void => {
    openssl([
      'req',
      '-new',
      ...newkey,
      '-nodes',
      '-keyout',
      path(`${name}.key`),
      '-out',
      path(`${name}.csr`),
      '-subj',
      subj,
    ]);
    openssl([
      'x509',
      '-req',
      '-in',
      path(`${name}.csr`),
      '-CA',
      path(`${ca}.pem`),
      '-CAkey',
      path(`${ca}.key`),
      '-set_serial',
      `0x${randomBytes(9).toString('hex')}`,
      '-out',
      path(`${name}.pem`),
      ...days,
      '-extfile',
      path('ext.cnf'),
      '-extensions',
      ext,
      '-sha256',
    ]);
  };
  sign('int', '/C=BR/O=ACME Test/CN=ACME Test Issuing CA', EC, 'root', 'v3_int');
  sign('leaf', `/C=BR/O=ACME Test/CN=${leafCn}`, leafType === 'ec' ? EC : RSA, 'int', 'v3_client');
  sign('server', '/C=BR/O=ACME Test/CN=localhost', EC, 'int', 'v3_server');
  openssl([
    'genpkey',
    '-algorithm',
    'EC',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-out',
    path('other.key'),
  ]);
  writeFileSync(
    path('chain.pem'),
    readFileSync(path('int.pem'), 'utf8') + readFileSync(path('root.pem'), 'utf8'),
  );
  writeFileSync(
    path('server-chain.pem'),
    readFileSync(path('server.pem'), 'utf8') + readFileSync(path('int.pem'), 'utf8'),
  );
  const cert = (f: string): X509Certificate => new X509Certificate(readFileSync(path(f)));
  const key = (f: string): KeyObject => createPrivateKey(readFileSync(path(f)));
  return {
    dir,
    path,
    rootCert: cert('root.pem'),
    intermediateCert: cert('int.pem'),
    leafKey: key('leaf.key'),
    leafCert: cert('leaf.pem'),
    otherKey: key('other.key'),
    files: {
      root: path('root.pem'),
      intermediate: path('int.pem'),
      leafKey: path('leaf.key'),
      leaf: path('leaf.pem'),
      chain: path('chain.pem'),
      serverKey: path('server.key'),
      server: path('server-chain.pem'),
      otherKey: path('other.key'),
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Writes a password file (one line, with a trailing newline as editors write it). */
export function writePasswordFile(fx: PfxFixture, name: string, password: string): string {
  const p = fx.path(name);
  writeFileSync(p, `${password}\n`, { mode: 0o600 });
  return p;
}

/** PKCS#8 DER of a key, for equality checks. */
export function pkcs8(key: KeyObject): Buffer {
  return key.export({ format: 'der', type: 'pkcs8' });
}
