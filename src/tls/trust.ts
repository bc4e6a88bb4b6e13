/**
 * Which server certificates a client trusts: a CA bundle given by the user
 * (`--ca`), or the system roots.
 */
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { MtlsError } from '../errors/index.js';
import { readFileChecked } from '../io/index.js';
import { containsPrivateKey } from '../pki/pem.js';
import { loadCertificates } from '../pki/pkcs12/certificates.js';

/**
 * Reads a CA bundle (one or more PEM certificates, or one DER certificate) and
 * returns each certificate as PEM for node:tls `ca`.
 * @throws MTLS_FILE_NOT_FOUND, MTLS_FILE_READ, MTLS_PEM_INVALID, MTLS_DER_INVALID
 * @throws MTLS_PRIVATE_KEY_IN_CHAIN when the file holds a private key: a trust bundle never should
 */
export async function loadCaBundle(path: string): Promise<string[]> {
  const data = await readFileChecked(path, 'CA bundle');
  if (containsPrivateKey(data.toString('latin1'))) {
    throw new MtlsError('MTLS_PRIVATE_KEY_IN_CHAIN', `${path} holds a private key; a CA bundle holds certificates only`, {
      subject: path,
      hint: 'Give the CA certificate file (PEM), not a key; keep the key file private.',
    });
  }
  return loadCertificates(data, path).map((c) => c.toString());
}

/** The system CA bundle files, as curl and OpenSSL find them on common platforms. */
const SYSTEM_BUNDLES = [
  '/etc/ssl/certs/ca-certificates.crt', // Debian, Ubuntu, Alpine
  '/etc/pki/tls/certs/ca-bundle.crt', // RHEL, Fedora
  '/etc/ssl/ca-bundle.pem', // SUSE
  '/etc/ssl/cert.pem', // macOS, BSD
];

/**
 * The system roots: the bundle named by `SSL_CERT_FILE`, else the first
 * platform bundle that exists (as curl uses them), plus the Mozilla roots
 * compiled into Node. A bundle that cannot be read is skipped. Read
 * synchronously (a few hundred KB, once per client), so that dispatchers
 * can be built synchronously.
 */
export function systemRootCertificates(): string[] {
  const candidates = process.env.SSL_CERT_FILE ? [process.env.SSL_CERT_FILE, ...SYSTEM_BUNDLES] : SYSTEM_BUNDLES;
  for (const path of candidates) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      continue;
    }
    const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g);
    if (blocks && blocks.length > 0) return [...new Set([...blocks.map((b) => (b.endsWith('\n') ? b : `${b}\n`)), ...rootCertificates])];
  }
  return [...rootCertificates];
}
