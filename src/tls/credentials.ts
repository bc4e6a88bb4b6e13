/**
 * Client credentials for node:tls: a `.pfx` (any flavour mtlskit reads,
 * RC2-40 included) or a PEM certificate and key, turned into the
 * `cert` / `key` pair node:tls wants, with the key checked against the
 * certificate before any connection is made.
 */
import { X509Certificate, type KeyObject } from 'node:crypto';
import { basename } from 'node:path';
import * as x509 from '@peculiar/x509';
import { MtlsError } from '../errors/index.js';
import { readFileChecked } from '../io/index.js';
import { keysMatch, loadPrivateKey } from '../pki/keys.js';
import { parsePfx } from '../pki/pkcs12/index.js';
import { loadCertificates, orderChain } from '../pki/pkcs12/certificates.js';
import { isSelfSignedCertificate } from '../pki/verify-certificate.js';

/** Where to load client credentials from: a `.pfx`, or a PEM certificate and key. */
export interface LoadClientCredentialsOptions {
  /** Path of a `.pfx` / `.p12` file. */
  pfxPath?: string;
  /** The `.pfx` password (`''` for a file without one). Required with `pfxPath`. */
  password?: string;
  /** Path of the client certificate (PEM or DER; a PEM bundle may carry the chain after the leaf). */
  certPath?: string;
  /** Path of the private key (PEM PKCS#8, PKCS#1, SEC1, or encrypted PKCS#8; or DER PKCS#8). */
  keyPath?: string;
  /** Passphrase of an encrypted `keyPath`. */
  keyPassphrase?: string;
}

/** Loaded client credentials. */
export interface ClientCredentials {
  /** The client certificate. */
  certificate: X509Certificate;
  /** Its private key (checked to belong to `certificate`). */
  privateKey: KeyObject;
  /** The other certificates that came with it, from the leaf's issuer upwards. */
  chain: X509Certificate[];
  /** For node:tls `cert`: the leaf then the intermediates, PEM (self-signed roots left out, RFC 5246 §7.4.2). */
  certPem: string;
  /** For node:tls `key`: the key as unencrypted PKCS#8 PEM, in memory only (not enumerable, like `privateKey`). */
  keyPem: string;
  /** Where they came from, for messages. */
  source: { kind: 'pfx'; path: string } | { kind: 'pem'; certPath: string; keyPath: string };
}

/**
 * Loads client credentials from a `.pfx` or from PEM files. Every `.pfx`
 * flavour that mtlskit reads works (AES/PBES2, 3DES, RC2-40, RC4), which
 * node:tls's own `pfx` option cannot promise: Node 17+ cannot decrypt RC2.
 * @throws MTLS_USAGE when neither or both of pfxPath and certPath/keyPath are given
 * @throws MTLS_BAD_ARGUMENT when the `.pfx` lacks the private key or the certificate
 * @throws MTLS_PASSPHRASE_REQUIRED when the key is encrypted and no passphrase is given
 * @throws MTLS_BAD_PASSPHRASE when the `.pfx` password or the key passphrase is wrong
 * @throws MTLS_KEY_MISMATCH when the key does not belong to the certificate
 * @throws MTLS_FILE_NOT_FOUND, MTLS_FILE_READ, MTLS_PEM_INVALID, MTLS_DER_INVALID, MTLS_KEY_UNSUPPORTED
 */
export async function loadClientCredentials(
  options: LoadClientCredentialsOptions,
): Promise<ClientCredentials> {
  const hasPem = options.certPath !== undefined || options.keyPath !== undefined;
  if (options.pfxPath !== undefined && hasPem) {
    throw new MtlsError(
      'MTLS_USAGE',
      'give either a .pfx (--pfx) or a certificate and key (--cert/--key), not both',
      { subject: '--pfx' },
    );
  }
  if (options.pfxPath !== undefined) return loadFromPfx(options.pfxPath, options.password);
  if (options.certPath === undefined || options.keyPath === undefined) {
    throw new MtlsError(
      'MTLS_USAGE',
      options.certPath === undefined ? '--key needs --cert' : '--cert needs --key',
      {
        subject: options.certPath === undefined ? '--cert' : '--key',
        hint: 'Give both --cert CERT.pem and --key KEY.pem, or --pfx FILE.pfx with --password-file.',
      },
    );
  }
  return loadFromPem(options.certPath, options.keyPath, options.keyPassphrase);
}

async function loadFromPfx(path: string, password: string | undefined): Promise<ClientCredentials> {
  if (password === undefined) {
    throw new MtlsError('MTLS_PASSPHRASE_REQUIRED', `no password given for ${path}`, {
      subject: path,
      hint: 'Give the .pfx password with --password-file FILE or the MTLS_PFX_PASSWORD environment variable.',
    });
  }
  const data = await readFileChecked(path, '.pfx file');
  const parsed = parsePfx(data, password, { source: path });
  if (!parsed.privateKey || !parsed.certificate) {
    // The same code `mtls pfx unpack` uses for a .pfx that is not a client's key and certificate: the wrong input file.
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `${path} holds no ${parsed.privateKey ? 'certificate' : 'private key'}: a client .pfx needs the private key and its certificate`,
      {
        subject: path,
        hint: 'Export the .pfx with both the key and the certificate (mtls pfx export --key KEY.pem --cert CERT.pem).',
      },
    );
  }
  if (!parsed.keyMatchesCertificate) {
    throw new MtlsError(
      'MTLS_KEY_MISMATCH',
      `${path}: the private key does not belong to the certificate ${parsed.certificate.subject.replace(/\n/g, ', ')}`,
      {
        subject: path,
      },
    );
  }
  return build(parsed.certificate, parsed.privateKey, parsed.chain, { kind: 'pfx', path });
}

async function loadFromPem(
  certPath: string,
  keyPath: string,
  passphrase: string | undefined,
): Promise<ClientCredentials> {
  const [certData, keyData] = await Promise.all([
    readFileChecked(certPath, 'client certificate'),
    readFileChecked(keyPath, 'private key'),
  ]);
  const certs = loadCertificates(certData, certPath);
  const privateKey = loadPrivateKey(keyData, passphrase, keyPath);
  const leaf = certs.find((c) => keysMatch(privateKey, c.publicKey));
  if (!leaf) {
    throw new MtlsError(
      'MTLS_KEY_MISMATCH',
      `${basename(keyPath)} does not belong to ${certs.length > 1 ? 'any certificate in ' : 'the certificate in '}${certPath}`,
      {
        subject: keyPath,
      },
    );
  }
  const others = certs.filter((c) => c !== leaf);
  return build(leaf, privateKey, orderChain(leaf, others), { kind: 'pem', certPath, keyPath });
}

function build(
  certificate: X509Certificate,
  privateKey: KeyObject,
  chain: X509Certificate[],
  source: ClientCredentials['source'],
): ClientCredentials {
  const sent = [
    certificate,
    ...chain.filter((c) => !isSelfSignedCertificate(new x509.X509Certificate(c.raw))),
  ];
  const credentials: ClientCredentials = {
    certificate,
    chain,
    certPem: sent.map((c) => c.toString()).join(''),
    source,
    privateKey,
    keyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
  };
  // The key stays out of JSON.stringify and console.log, so that logging the credentials never leaks it.
  const hidden = { enumerable: false, writable: false, configurable: false };
  Object.defineProperty(credentials, 'privateKey', hidden);
  Object.defineProperty(credentials, 'keyPem', hidden);
  return credentials;
}
