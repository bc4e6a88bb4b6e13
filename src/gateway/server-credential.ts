/**
 * The gateway's own TLS credential: a PEM certificate chain and private key,
 * or a PKCS#12 (.pfx) file. Loaded at start and again on SIGHUP; a credential
 * that does not load keeps the previous one in service.
 */
import { createSecureContext } from 'node:tls';
import { X509Certificate, type KeyObject } from 'node:crypto';
import { MtlsError } from '../errors/index.js';
import { readFileChecked } from '../io/index.js';
import { parseCertificates, toNodeCertificate } from '../pki/certificate.js';
import { assertKeyStrength, exportPrivateKeyPem, isEncryptedPrivateKey, keysMatch, loadPrivateKey } from '../pki/keys.js';
import { encodePem } from '../pki/pem.js';
import { parsePfx } from '../pki/pkcs12/index.js';

/** Environment variable holding the PEM key passphrase when no file is given. */
export const KEY_PASSPHRASE_ENV = 'MTLS_GATEWAY_KEY_PASSPHRASE';
/** Environment variable holding the .pfx password when no file is given. */
export const PFX_PASSWORD_ENV = 'MTLS_GATEWAY_PFX_PASSWORD';

/** Where the credential comes from (the `tls` section of the configuration). */
export interface ServerCredentialSource {
  cert: string | null;
  key: string | null;
  keyPassphraseFile: string | null;
  pfx: string | null;
  pfxPasswordFile: string | null;
}

/** A loaded server credential. */
export interface ServerCredential {
  /** Unencrypted PKCS#8 PEM, held in memory only. */
  keyPem: string;
  /** Leaf first, then intermediates. */
  certPem: string;
  /** RFC 2253-style subject of the leaf, as Node prints it (for logs). */
  subject: string;
  notAfter: Date;
  /** Lower-case hex SHA-256 of the leaf. */
  fingerprint: string;
  /** The file(s) it came from. */
  source: string;
}

async function readFirstLine(path: string, what: string): Promise<string> {
  const text = (await readFileChecked(path, what)).toString('utf8');
  return text.split(/\r?\n/)[0] ?? '';
}

function finish(key: KeyObject, certs: X509Certificate[], source: string, now: Date): ServerCredential {
  const leaf = certs[0];
  if (!leaf) throw new MtlsError('MTLS_PEM_INVALID', `${source} holds no certificate`, { subject: source });
  if (!keysMatch(key, leaf.publicKey)) {
    throw new MtlsError('MTLS_KEY_MISMATCH', `the private key does not belong to the server certificate in ${source}`, { subject: source });
  }
  assertKeyStrength(key, `server key in ${source}`);
  const notAfter = new Date(leaf.validTo);
  const notBefore = new Date(leaf.validFrom);
  if (notAfter <= now || notBefore > now) {
    throw new MtlsError('MTLS_VERIFY_FAILED', `the server certificate in ${source} is not valid now (valid ${notBefore.toISOString()} to ${notAfter.toISOString()})`, {
      subject: source,
      hint: 'Renew the server certificate, then reload the gateway (SIGHUP) or start it again.',
    });
  }
  const keyPem = exportPrivateKeyPem(key);
  const certPem = certs.map((c) => encodePem('CERTIFICATE', c.raw)).join('');
  try {
    createSecureContext({ key: keyPem, cert: certPem, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' });
  } catch (e) {
    throw new MtlsError('MTLS_TLS_HANDSHAKE', `OpenSSL refuses the server credential in ${source}: ${(e as Error).message}`, { subject: source, cause: e });
  }
  return { keyPem, certPem, subject: leaf.subject.replace(/\n/g, ', '), notAfter, fingerprint: leaf.fingerprint256.replace(/:/g, '').toLowerCase(), source };
}

/**
 * Loads and checks the server credential: the key must match the leaf, be
 * RSA-2048/P-256 or stronger, and the leaf must be valid now; OpenSSL must
 * accept the pair. Passphrases come from the named file's first line, else the
 * environment ({@link KEY_PASSPHRASE_ENV}, {@link PFX_PASSWORD_ENV}); a .pfx
 * without either is tried with the empty password.
 * @throws MTLS_FILE_NOT_FOUND / MTLS_FILE_READ, MTLS_PEM_INVALID, MTLS_DER_INVALID,
 *   MTLS_PASSPHRASE_REQUIRED, MTLS_BAD_PASSPHRASE, MTLS_KEY_MISMATCH, MTLS_KEY_TOO_WEAK,
 *   MTLS_VERIFY_FAILED (not valid now), MTLS_TLS_HANDSHAKE (OpenSSL refuses it)
 */
export async function loadServerCredential(src: ServerCredentialSource, env: NodeJS.ProcessEnv = process.env, now = new Date()): Promise<ServerCredential> {
  if (src.pfx) {
    const data = await readFileChecked(src.pfx, 'server .pfx');
    const password = src.pfxPasswordFile ? await readFirstLine(src.pfxPasswordFile, '.pfx password file') : (env[PFX_PASSWORD_ENV] ?? '');
    const parsed = parsePfx(data, password, { source: src.pfx });
    if (!parsed.privateKey || !parsed.certificate) {
      throw new MtlsError('MTLS_PEM_INVALID', `${src.pfx} holds no private key with its certificate (a trust store, not a credential)`, {
        subject: src.pfx,
        hint: 'Export the server certificate together with its private key into the .pfx.',
      });
    }
    return finish(parsed.privateKey, [parsed.certificate, ...parsed.chain], src.pfx, now);
  }
  if (!src.cert || !src.key) {
    throw new MtlsError('MTLS_CONFIG_INVALID', 'no server credential: set tls.cert and tls.key, or tls.pfx', { subject: 'tls' });
  }
  const certData = await readFileChecked(src.cert, 'server certificate');
  const certs = parseCertificates(certData, src.cert).map(toNodeCertificate);
  const keyData = await readFileChecked(src.key, 'server private key');
  let passphrase: string | undefined;
  if (isEncryptedPrivateKey(keyData)) {
    if (src.keyPassphraseFile) passphrase = await readFirstLine(src.keyPassphraseFile, 'key passphrase file');
    else if (env[KEY_PASSPHRASE_ENV] !== undefined) passphrase = env[KEY_PASSPHRASE_ENV];
    else {
      throw new MtlsError('MTLS_PASSPHRASE_REQUIRED', `server private key ${src.key} is encrypted and no passphrase was given`, {
        subject: src.key,
        hint: `Set tls.keyPassphraseFile (flag --key-passphrase-file) or the environment variable ${KEY_PASSPHRASE_ENV}.`,
      });
    }
  }
  const key = loadPrivateKey(keyData, passphrase, src.key);
  return finish(key, certs, `${src.cert} + ${src.key}`, now);
}
