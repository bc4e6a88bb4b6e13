/**
 * Which server certificates a client trusts: a CA bundle given by the user
 * (`--ca`), or the system roots.
 */
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { MtlsError } from '../errors/index.js';
import { readFileChecked } from '../io/index.js';
import { containsPrivateKey, decodePemBlocks, encodePem } from '../pki/pem.js';
import { loadCertificates } from '../pki/pkcs12/certificates.js';
import { errorCode, errorMessage } from '../errors/mtls-error.js';

/**
 * Reads a CA bundle (one or more PEM certificates, or one DER certificate) and
 * returns each certificate as PEM for node:tls `ca`.
 * @throws MTLS_FILE_NOT_FOUND, MTLS_FILE_READ, MTLS_PEM_INVALID, MTLS_DER_INVALID
 * @throws MTLS_PRIVATE_KEY_IN_CHAIN when the file holds a private key: a trust bundle never should
 */
export async function loadCaBundle(path: string): Promise<string[]> {
  const data = await readFileChecked(path, 'CA bundle');
  if (containsPrivateKey(data.toString('latin1'))) {
    throw new MtlsError(
      'MTLS_PRIVATE_KEY_IN_CHAIN',
      `${path} holds a private key; a CA bundle holds certificates only`,
      {
        subject: path,
        hint: 'Give the CA certificate file (PEM), not a key; keep the key file private.',
      },
    );
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

/** The CERTIFICATE blocks of a PEM bundle, each re-encoded as PEM for node:tls `ca`. */
function bundleCertificates(text: string, source: string): string[] {
  return decodePemBlocks(text, source)
    .filter((b) => b.label === 'CERTIFICATE')
    .map((b) => encodePem('CERTIFICATE', b.der));
}

/**
 * The system roots, as curl uses them: when `SSL_CERT_FILE` is set, exactly
 * the certificates of that file and nothing else (so that a user can narrow
 * trust to one bundle); otherwise the first platform bundle that exists plus
 * the Mozilla roots compiled into Node. A platform bundle that cannot be read
 * is skipped. Read synchronously (a few hundred KB, once per client), so that
 * dispatchers can be built synchronously.
 * @throws MTLS_CONFIG_INVALID when `SSL_CERT_FILE` is set but cannot be read or holds no certificate
 */
export function systemRootCertificates(): string[] {
  const forced = process.env.SSL_CERT_FILE;
  if (forced) {
    const fail = (why: string, cause?: unknown): never => {
      throw new MtlsError('MTLS_CONFIG_INVALID', `SSL_CERT_FILE=${forced}: ${why}`, {
        subject: 'SSL_CERT_FILE',
        hint: 'Point SSL_CERT_FILE at a PEM file of CA certificates, or unset it to use the system roots (or give --ca FILE).',
        ...(cause ? { cause } : {}),
      });
    };
    let text = '';
    try {
      text = readFileSync(forced, 'utf8');
    } catch (e) {
      fail(`the file cannot be read (${errorCode(e) ?? errorMessage(e)})`, e);
    }
    let certs: string[] = [];
    try {
      certs = bundleCertificates(text, forced);
    } catch (e) {
      fail(errorMessage(e), e);
    }
    return certs.length > 0 ? certs : fail('the file holds no PEM CERTIFICATE block');
  }
  for (const path of SYSTEM_BUNDLES) {
    let certs: string[];
    try {
      certs = bundleCertificates(readFileSync(path, 'utf8'), path);
    } catch {
      continue;
    }
    if (certs.length > 0)
      return [
        ...new Set([...certs, ...rootCertificates.map((c) => (c.endsWith('\n') ? c : `${c}\n`))]),
      ];
  }
  return [...rootCertificates];
}
