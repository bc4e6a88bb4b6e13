/**
 * Unpacks a .pfx into PEM: the leaf certificate, the CA chain and the private
 * key — for runtimes that cannot read PKCS#12 (Python's ssl, Go's crypto/tls).
 */
import { MtlsError } from '../../errors/index.js';
import { exportPrivateKeyPem } from '../keys.js';
import { encodePem } from '../pem.js';
import { parsePfx } from './parse-pfx.js';

/** Options for {@link unpackPfx}. */
export interface UnpackPfxOptions {
  /**
   * Encrypts the PEM key (PBES2 AES-256-CBC, PBKDF2-HMAC-SHA256 600,000).
   * `null` writes it unencrypted (explicit opt-out, e.g. for Go's LoadX509KeyPair).
   */
  keyPassphrase: string | null;
  /** Name of the input, for messages. */
  source?: string;
}

/** Result of {@link unpackPfx}. */
export interface UnpackPfxResult {
  certPem: string;
  /** CA certificates, issuer first; empty string when the file holds none. */
  chainPem: string;
  keyPem: string;
  keyEncrypted: boolean;
  subject: string;
}

/**
 * Reads a .pfx (any flavour mtlskit reads) and returns PEM.
 * @throws MTLS_BAD_PASSPHRASE, MTLS_DER_INVALID, MTLS_BAD_ARGUMENT (no key or no matching certificate)
 */
export function unpackPfx(data: Uint8Array, password: string, options: UnpackPfxOptions): UnpackPfxResult {
  const source = options.source ?? 'PKCS#12 data';
  const parsed = parsePfx(data, password, { source });
  if (!parsed.privateKey || !parsed.certificate || !parsed.keyMatchesCertificate) {
    throw new MtlsError('MTLS_BAD_ARGUMENT', `${source} holds no private key with its certificate; nothing to unpack for a client`, { subject: source });
  }
  return {
    certPem: encodePem('CERTIFICATE', parsed.certificate.raw),
    chainPem: parsed.chain.map((c) => encodePem('CERTIFICATE', c.raw)).join(''),
    keyPem: exportPrivateKeyPem(parsed.privateKey, options.keyPassphrase === null ? {} : { passphrase: options.keyPassphrase }),
    keyEncrypted: options.keyPassphrase !== null,
    subject: parsed.certificate.subject.replace(/\n/g, ', '),
  };
}
