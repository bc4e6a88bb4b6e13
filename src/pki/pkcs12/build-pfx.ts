/**
 * Writing PKCS#12 (RFC 7292) files in two flavours:
 *
 * - `modern`: the OpenSSL 3 default. The key bag (pkcs8ShroudedKeyBag) and the
 *   certificate SafeContents (encryptedData) use PBES2 with PBKDF2-HMAC-SHA256
 *   and AES-256-CBC (RFC 8018 §6.2; RFC 9579 §1 recommends PBES2 over the
 *   PKCS#12 schemes), and the MAC is HMAC-SHA-256.
 * - `legacy`: pbeWithSHAAnd3-KeyTripleDES-CBC for the key and the certificates
 *   (RFC 7292 App. C) and an HMAC-SHA-1 MAC, for Java before 8u301, Windows
 *   before Server 2019 and macOS keychains, which reject AES files.
 *
 * Iterations: the password guards the key, and an attacker tries passwords
 * against whichever of encryption or MAC is cheaper, so both get the same
 * count. The modern flavour defaults to 100,000 (PBKDF2-HMAC-SHA256 is native;
 * the MAC's RFC 7292 KDF runs in TypeScript, ~0.2 s at this count), fifty
 * times OpenSSL's 2048 (PKCS12_DEFAULT_ITER). The legacy flavour keeps 2048:
 * it exists for old readers, some of which cap or choke on higher counts.
 */
import { createHash, type KeyObject, type X509Certificate } from 'node:crypto';
import { MtlsError } from '../../errors/index.js';
import {
  derBmpString,
  derExplicit,
  derInteger,
  derOctetString,
  derOid,
  derSequence,
  derSet,
  tlv,
} from '../der.js';
import { keysMatch } from '../keys.js';
import { pbes2Encrypt } from '../pbes2.js';
import { subjectCommonName, toX509, type PfxCertificateInput } from './certificates.js';
import { MAX_READ_ITERATIONS } from './encryption.js';
import { buildMacData } from './mac.js';
import { ATTRIBUTE, BAG_TYPE, CERT_TYPE, CONTENT_TYPE } from './oids.js';
import { PKCS12_PBE_OID, legacyPbeEncrypt } from './pbe-legacy.js';
import { bmpPassword } from './pkcs12-kdf.js';

/** The two flavours mtlskit writes. */
export type PfxFlavour = 'modern' | 'legacy';

/** Default iterations for encryption and MAC of the modern flavour. */
export const DEFAULT_PFX_ITERATIONS = 100_000;
/** Default iterations of the legacy flavour: OpenSSL 3's PKCS12_DEFAULT_ITER. */
export const LEGACY_PFX_ITERATIONS = 2048;

/** Options for {@link buildPfx}. */
export interface BuildPfxOptions {
  /** The private key; it must belong to `certificate`. */
  privateKey: KeyObject;
  /** The leaf certificate (DER, PEM or X509Certificate). */
  certificate: PfxCertificateInput;
  /** CA certificates to include, issuer of the leaf first (default none). */
  chain?: readonly PfxCertificateInput[];
  /** The password protecting the file (may be empty, as in OpenSSL). */
  password: string;
  /** `modern` (default) or `legacy` (3DES, SHA-1 MAC). */
  flavour?: PfxFlavour;
  /** friendlyName of the key and leaf bags (default: the certificate's subject CN; `''` for none). */
  friendlyName?: string;
  /** PBKDF2 / PKCS#12 KDF iterations for encryption (default 100,000 modern, 2048 legacy). */
  iterations?: number;
  /** MAC iterations (default: `iterations`). */
  macIterations?: number;
}

function checkIterations(n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_READ_ITERATIONS) {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `${what} ${n} must be an integer between 1 and ${MAX_READ_ITERATIONS}`,
      { subject: what },
    );
  }
  return n;
}

function attribute(oid: string, value: Buffer): Buffer {
  return derSequence(derOid(oid), derSet(value));
}

function safeBag(bagType: string, value: Buffer, attributes: Buffer[]): Buffer {
  return derSequence(
    derOid(bagType),
    derExplicit(0, value),
    ...(attributes.length > 0 ? [derSet(...attributes)] : []),
  );
}

function certBag(cert: X509Certificate, attributes: Buffer[]): Buffer {
  return safeBag(
    BAG_TYPE.certBag,
    derSequence(derOid(CERT_TYPE.x509Certificate), derExplicit(0, derOctetString(cert.raw))),
    attributes,
  );
}

/** ContentInfo { data, [0] OCTET STRING } (RFC 5652 §4). */
function dataContentInfo(content: Buffer): Buffer {
  return derSequence(derOid(CONTENT_TYPE.data), derExplicit(0, derOctetString(content)));
}

/** ContentInfo { encryptedData, [0] EncryptedData } (RFC 5652 §8). */
function encryptedContentInfo(algorithm: Buffer, ciphertext: Buffer): Buffer {
  const eci = derSequence(derOid(CONTENT_TYPE.data), algorithm, tlv(0x80, ciphertext));
  return derSequence(
    derOid(CONTENT_TYPE.encryptedData),
    derExplicit(0, derSequence(derInteger(0), eci)),
  );
}

/** Flavours buildPfx writes, for the check of untyped callers. */
const PFX_FLAVOURS: readonly string[] = ['modern', 'legacy'];

/**
 * Builds a password-protected `.pfx` holding a private key, its certificate
 * and optionally its CA chain. friendlyName and localKeyId (SHA-1 of the
 * certificate DER, as OpenSSL writes it) go on the key bag and the leaf
 * certificate bag, which is how Windows, Java and macOS pair them.
 * @throws MTLS_KEY_MISMATCH when the private key does not belong to the certificate
 * @throws MTLS_BAD_ARGUMENT for a public key, an unknown flavour or a bad iteration count
 * @throws MTLS_PEM_INVALID, MTLS_DER_INVALID when a certificate input is not a certificate
 */
export function buildPfx(options: BuildPfxOptions): Buffer {
  const flavour = options.flavour ?? 'modern';
  // The type allows only these two; a JavaScript caller may still pass another string.
  if (!PFX_FLAVOURS.includes(flavour)) {
    throw new MtlsError('MTLS_BAD_ARGUMENT', `unknown PKCS#12 flavour "${flavour}"`, {
      hint: 'Use modern or legacy.',
    });
  }
  const iterations = checkIterations(
    options.iterations ??
      (options.flavour === 'legacy' ? LEGACY_PFX_ITERATIONS : DEFAULT_PFX_ITERATIONS),
    'iteration count',
  );
  const macIterations = checkIterations(options.macIterations ?? iterations, 'MAC iteration count');
  const { privateKey, password } = options;
  if (privateKey.type !== 'private') {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `a .pfx needs the private key, but a ${privateKey.type} key was given`,
      { subject: 'private key' },
    );
  }
  const leaf = toX509(options.certificate, 'certificate');
  if (!keysMatch(privateKey, leaf.publicKey)) {
    throw new MtlsError(
      'MTLS_KEY_MISMATCH',
      `the private key does not belong to the certificate ${leaf.subject.replace(/\n/g, ', ')}`,
      {
        subject: 'private key',
      },
    );
  }
  const seen = new Set<string>([leaf.fingerprint256]);
  const chain: X509Certificate[] = [];
  (options.chain ?? []).forEach((c, i) => {
    const x = toX509(c, `chain certificate ${i + 1}`);
    if (seen.has(x.fingerprint256)) return;
    seen.add(x.fingerprint256);
    chain.push(x);
  });

  const friendlyName = options.friendlyName ?? subjectCommonName(leaf) ?? '';
  const localKeyId = createHash('sha1').update(leaf.raw).digest();
  const attrs = [attribute(ATTRIBUTE.localKeyId, derOctetString(localKeyId))];
  if (friendlyName !== '')
    attrs.push(attribute(ATTRIBUTE.friendlyName, derBmpString(friendlyName)));

  const bmp = bmpPassword(password);
  const encrypt = (plain: Buffer): { algorithm: Buffer; ciphertext: Buffer } =>
    flavour === 'modern'
      ? pbes2Encrypt(plain, password, { iterations })
      : legacyPbeEncrypt(PKCS12_PBE_OID.sha1And3KeyTripleDesCbc, plain, bmp, { iterations });

  const keyDer = privateKey.export({ format: 'der', type: 'pkcs8' });
  const keyEnc = encrypt(keyDer);
  const keyBag = safeBag(
    BAG_TYPE.pkcs8ShroudedKeyBag,
    derSequence(keyEnc.algorithm, derOctetString(keyEnc.ciphertext)),
    attrs,
  );

  const certSafe = derSequence(certBag(leaf, attrs), ...chain.map((c) => certBag(c, [])));
  const certEnc = encrypt(certSafe);

  // Certificates first, then the key: the order OpenSSL writes.
  const authSafe = derSequence(
    encryptedContentInfo(certEnc.algorithm, certEnc.ciphertext),
    dataContentInfo(derSequence(keyBag)),
  );
  const macData = buildMacData(flavour === 'modern' ? 'sha256' : 'sha1', bmp, authSafe, {
    iterations: macIterations,
    // NIST SP 800-132 §5.1 asks for 128-bit salts; the legacy flavour keeps
    // OpenSSL's 8 bytes for the old readers it exists for.
    saltLength: flavour === 'modern' ? 16 : 8,
  });
  return derSequence(derInteger(3), dataContentInfo(authSafe), macData);
}
