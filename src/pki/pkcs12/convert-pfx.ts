/**
 * Re-encoding a `.pfx` in another flavour: read any supported file (AES, 3DES,
 * RC2, RC4, unencrypted), write modern or legacy.
 */
import { MtlsError } from '../../errors/index.js';
import { buildPfx, type PfxFlavour } from './build-pfx.js';
import { assertPfxHasMac, parsePfx } from './parse-pfx.js';

/** Options for {@link convertPfx}. */
export interface ConvertPfxOptions {
  /** Flavour to write (default `modern`). */
  flavour?: PfxFlavour;
  /** Password of the new file (default: the old one). */
  newPassword?: string;
  /** friendlyName of the new file (default: the old file's, else the certificate CN). */
  friendlyName?: string;
  /** Encryption and MAC iterations (default: the flavour's, see buildPfx). */
  iterations?: number;
  /** Accept an input without a MAC (default false: refused). */
  allowNoMac?: boolean;
  /** File name used in messages. */
  source?: string;
}

/**
 * Reads a `.pfx` and writes its key, leaf certificate and chain again in the
 * requested flavour. localKeyId is recomputed (SHA-1 of the certificate).
 * @throws MTLS_BAD_PASSPHRASE, MTLS_DER_INVALID, MTLS_PEM_INVALID, MTLS_KEY_UNSUPPORTED from {@link parsePfx}
 * @throws MTLS_VERIFY_FAILED when the input has no MAC and `allowNoMac` is not set
 * @throws MTLS_BAD_ARGUMENT when the file holds no private key (a trust store)
 * @throws MTLS_KEY_MISMATCH when no certificate in the file belongs to its key
 */
export function convertPfx(
  data: Uint8Array,
  password: string,
  options: ConvertPfxOptions = {},
): Buffer {
  const source = options.source ?? 'PKCS#12 data';
  const parsed = parsePfx(data, password, { source });
  assertPfxHasMac(parsed, source, options.allowNoMac);
  if (!parsed.privateKey) {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `${source} holds no private key, only certificates; there is nothing to convert into a client .pfx`,
      {
        subject: source,
        hint: 'Export the certificates with `openssl pkcs12 -nokeys` if you need them as PEM.',
      },
    );
  }
  if (!parsed.certificate || !parsed.keyMatchesCertificate) {
    throw new MtlsError(
      'MTLS_KEY_MISMATCH',
      `${source}: no certificate in the file belongs to its private key`,
      { subject: source },
    );
  }
  const friendlyName = options.friendlyName ?? parsed.friendlyName;
  return buildPfx({
    privateKey: parsed.privateKey,
    certificate: parsed.certificate,
    chain: parsed.chain,
    password: options.newPassword ?? password,
    flavour: options.flavour ?? 'modern',
    ...(friendlyName !== undefined ? { friendlyName } : {}),
    ...(options.iterations !== undefined ? { iterations: options.iterations } : {}),
  });
}
