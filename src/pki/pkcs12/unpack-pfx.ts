/**
 * Unpacks a .pfx into PEM: the leaf certificate, the CA chain and the private
 * key — for runtimes that cannot read PKCS#12 (Python's ssl, Go's crypto/tls).
 */
import { MtlsError } from '../../errors/index.js';
import { exportPrivateKeyPem } from '../keys.js';
import { encodePem } from '../pem.js';
import { assertPfxHasMac, parsePfx } from './parse-pfx.js';

/** Options for {@link unpackPfx}. */
export interface UnpackPfxOptions {
  /**
   * Encrypts the PEM key (PBES2 AES-256-CBC, PBKDF2-HMAC-SHA256 600,000).
   * `null` writes it unencrypted (explicit opt-out, e.g. for Go's LoadX509KeyPair).
   */
  keyPassphrase: string | null;
  /** Name of the input, for messages. */
  source?: string;
  /** Accept an input without a MAC (default false: refused). */
  allowNoMac?: boolean;
}

/** Result of {@link unpackPfx}. */
export interface UnpackPfxResult {
  /**
   * The leaf followed by its intermediates (every non-self-signed CA in the
   * file): what a client must send (RFC 5246 §7.4.6), and what Python's
   * load_cert_chain and Go's LoadX509KeyPair expect in one file.
   */
  certPem: string;
  /** Every CA certificate in the file (intermediates and root), issuer first; empty when none. */
  chainPem: string;
  keyPem: string;
  keyEncrypted: boolean;
  subject: string;
}

/**
 * Reads a .pfx (any flavour mtlskit reads) and returns PEM.
 * @throws MTLS_VERIFY_FAILED (no MAC, unless allowNoMac), MTLS_BAD_PASSPHRASE, MTLS_DER_INVALID, MTLS_BAD_ARGUMENT (no key or no matching certificate)
 */
export function unpackPfx(
  data: Uint8Array,
  password: string,
  options: UnpackPfxOptions,
): UnpackPfxResult {
  const source = options.source ?? 'PKCS#12 data';
  const parsed = parsePfx(data, password, { source });
  assertPfxHasMac(parsed, source, options.allowNoMac);
  if (!parsed.privateKey || !parsed.certificate || !parsed.keyMatchesCertificate) {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `${source} holds no private key with its certificate; nothing to unpack for a client`,
      { subject: source },
    );
  }
  return {
    certPem: [parsed.certificate, ...parsed.chain.filter((c) => c.subject !== c.issuer)]
      .map((c) => encodePem('CERTIFICATE', c.raw))
      .join(''),
    chainPem: parsed.chain.map((c) => encodePem('CERTIFICATE', c.raw)).join(''),
    keyPem: exportPrivateKeyPem(
      parsed.privateKey,
      options.keyPassphrase === null ? {} : { passphrase: options.keyPassphrase },
    ),
    keyEncrypted: options.keyPassphrase !== null,
    subject: parsed.certificate.subject.replace(/\n/g, ', '),
  };
}
