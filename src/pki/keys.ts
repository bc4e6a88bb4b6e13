/**
 * Key pairs: generation (native, via node:crypto), encrypted PKCS#8 at rest,
 * loading, strength checks and WebCrypto handles for @peculiar/x509.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPair as nodeGenerateKeyPair,
  webcrypto,
  type KeyObject,
} from 'node:crypto';
import { promisify } from 'node:util';
import { MtlsError } from '../errors/index.js';
import { derOctetString, derSequence } from './der.js';
import { pbes2Encrypt, DEFAULT_KEY_ITERATIONS } from './pbes2.js';
import { decodePemBlocks, encodePem, isPem } from './pem.js';
import { errorMessage } from '../errors/mtls-error.js';

const generate = promisify(nodeGenerateKeyPair);

/** Key types mtlskit generates. */
export const KEY_TYPES = [
  'rsa2048',
  'rsa3072',
  'rsa4096',
  'ec-p256',
  'ec-p384',
  'ed25519',
] as const;
/** A key type name. */
export type KeyType = (typeof KEY_TYPES)[number];

/** A generated or loaded key pair. */
export interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

const isKeyType = (name: string): name is KeyType => KEY_TYPES.some((t) => t === name);

/**
 * Checks a key type name.
 * @throws MTLS_BAD_KEY_TYPE
 */
export function parseKeyType(name: string): KeyType {
  if (isKeyType(name)) return name;
  throw new MtlsError('MTLS_BAD_KEY_TYPE', `unknown key type "${name}"`, { subject: 'key type' });
}

/**
 * Generates a key pair natively (OpenSSL underneath). RSA uses e=65537.
 * RSA-4096 takes about a second.
 */
export async function generateKeyPair(type: KeyType): Promise<KeyPair> {
  switch (type) {
    case 'rsa2048':
    case 'rsa3072':
    case 'rsa4096':
      return generate('rsa', { modulusLength: Number(type.slice(3)), publicExponent: 0x10001 });
    case 'ec-p256':
      return generate('ec', { namedCurve: 'prime256v1' });
    case 'ec-p384':
      return generate('ec', { namedCurve: 'secp384r1' });
    case 'ed25519':
      return generate('ed25519');
  }
}

/** Options for {@link exportPrivateKeyPem}. */
export interface ExportPrivateKeyOptions {
  /** Encrypt with this passphrase; omit for an unencrypted PKCS#8 key. */
  passphrase?: string;
  /** PBKDF2 iterations for encryption (default 600,000). */
  iterations?: number;
}

/**
 * Writes a private key as PKCS#8 PEM. With a passphrase it is an
 * `ENCRYPTED PRIVATE KEY` using PBES2, PBKDF2-HMAC-SHA256 and AES-256-CBC
 * (RFC 5958 §3, RFC 8018 §6.2), which `openssl pkey` reads.
 */
export function exportPrivateKeyPem(key: KeyObject, options: ExportPrivateKeyOptions = {}): string {
  const der = key.export({ format: 'der', type: 'pkcs8' });
  if (options.passphrase === undefined) return encodePem('PRIVATE KEY', der);
  const { algorithm, ciphertext } = pbes2Encrypt(der, options.passphrase, {
    iterations: options.iterations ?? DEFAULT_KEY_ITERATIONS,
  });
  return encodePem('ENCRYPTED PRIVATE KEY', derSequence(algorithm, derOctetString(ciphertext)));
}

/** True when the PEM/DER holds an encrypted private key. */
export function isEncryptedPrivateKey(data: string | Uint8Array): boolean {
  if (!isPem(data)) return false;
  const text = typeof data === 'string' ? data : Buffer.from(data).toString('utf8');
  return /-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(text) || /Proc-Type: 4,ENCRYPTED/.test(text);
}

/**
 * Loads a private key from PEM (PKCS#8, encrypted PKCS#8, PKCS#1, SEC1) or DER.
 * @param source - file name for messages
 * @throws MTLS_PASSPHRASE_REQUIRED when encrypted and no passphrase is given
 * @throws MTLS_BAD_PASSPHRASE when the passphrase is wrong
 * @throws MTLS_PEM_INVALID when the data is no private key
 */
export function loadPrivateKey(
  data: string | Uint8Array,
  passphrase?: string,
  source = 'private key',
): KeyObject {
  const encrypted = isEncryptedPrivateKey(data);
  if (encrypted && passphrase === undefined) {
    throw new MtlsError(
      'MTLS_PASSPHRASE_REQUIRED',
      `${source} is encrypted and no passphrase was given`,
      { subject: source },
    );
  }
  try {
    if (isPem(data)) {
      const text = typeof data === 'string' ? data : Buffer.from(data).toString('utf8');
      const blocks = decodePemBlocks(text, source).filter((b) => b.label.endsWith('PRIVATE KEY'));
      if (blocks.length === 0) {
        throw new MtlsError('MTLS_PEM_INVALID', `${source}: no PRIVATE KEY block found`, {
          subject: source,
        });
      }
      return createPrivateKey({
        key: text,
        format: 'pem',
        ...(passphrase !== undefined ? { passphrase } : {}),
      });
    }
    const der = Buffer.from(data);
    try {
      return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    } catch {
      if (passphrase === undefined) throw new Error('not an unencrypted PKCS#8 key');
      return createPrivateKey({ key: der, format: 'der', type: 'pkcs8', passphrase });
    }
  } catch (e) {
    if (e instanceof MtlsError) throw e;
    const msg = errorMessage(e);
    if (encrypted && /bad decrypt|wrong|decrypt|unable to|unsupported/i.test(msg)) {
      throw new MtlsError(
        'MTLS_BAD_PASSPHRASE',
        `cannot decrypt ${source}: the passphrase is wrong`,
        { subject: source },
      );
    }
    throw new MtlsError('MTLS_PEM_INVALID', `${source} is not a readable private key (${msg})`, {
      subject: source,
      cause: e,
    });
  }
}

/** A short description of a key: algorithm and size. */
export interface KeyDescription {
  /** `rsa`, `ec`, `ed25519`, … */
  algorithm: string;
  /** Modulus bits for RSA, field bits for EC, 256 for Ed25519. */
  bits: number;
  /** EC curve (NIST name) when EC. */
  curve?: string;
  /** Human text, e.g. `RSA 4096`, `EC P-256`, `Ed25519`. */
  text: string;
}

const CURVES: Record<string, { name: string; bits: number }> = {
  prime256v1: { name: 'P-256', bits: 256 },
  secp384r1: { name: 'P-384', bits: 384 },
  secp521r1: { name: 'P-521', bits: 521 },
  secp256k1: { name: 'secp256k1', bits: 256 },
  secp224r1: { name: 'P-224', bits: 224 },
  prime192v1: { name: 'P-192', bits: 192 },
};

/** Describes a public or private key. */
export function describeKey(key: KeyObject): KeyDescription {
  const d = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa':
    case 'rsa-pss':
      return {
        algorithm: key.asymmetricKeyType,
        bits: d.modulusLength ?? 0,
        text: `RSA ${d.modulusLength ?? '?'}`,
      };
    case 'ec': {
      const c = CURVES[d.namedCurve ?? ''] ?? { name: d.namedCurve ?? 'unknown', bits: 0 };
      return { algorithm: 'ec', bits: c.bits, curve: c.name, text: `EC ${c.name}` };
    }
    case 'ed25519':
      return { algorithm: 'ed25519', bits: 256, text: 'Ed25519' };
    case 'ed448':
      return { algorithm: 'ed448', bits: 456, text: 'Ed448' };
    default:
      return {
        algorithm: key.asymmetricKeyType ?? 'unknown',
        bits: 0,
        text: key.asymmetricKeyType ?? 'unknown',
      };
  }
}

/** Minimum key strength (the gateway and the CA use the same floor). */
export interface KeyStrengthPolicy {
  /** Minimum RSA modulus bits (default 2048). */
  minRsaBits?: number;
  /** Minimum EC field bits (default 256). */
  minEcBits?: number;
}

/**
 * Refuses keys weaker than RSA-2048 or P-256 (NIST SP 800-57 Part 1 §5.6.1:
 * 112-bit security floor).
 * @throws MTLS_KEY_TOO_WEAK
 * @throws MTLS_KEY_UNSUPPORTED for algorithms outside RSA, EC and EdDSA
 */
export function assertKeyStrength(
  key: KeyObject,
  subject: string,
  policy: KeyStrengthPolicy = {},
): void {
  const d = describeKey(key);
  const minRsa = policy.minRsaBits ?? 2048;
  const minEc = policy.minEcBits ?? 256;
  if (d.algorithm === 'rsa' || d.algorithm === 'rsa-pss') {
    if (d.bits < minRsa)
      throw new MtlsError(
        'MTLS_KEY_TOO_WEAK',
        `${subject}: ${d.text} is weaker than RSA-${minRsa}`,
        { subject },
      );
    return;
  }
  if (d.algorithm === 'ec') {
    if (d.bits < minEc || d.curve === 'secp256k1') {
      throw new MtlsError(
        'MTLS_KEY_TOO_WEAK',
        `${subject}: ${d.text} is not allowed; use P-256 or stronger`,
        { subject },
      );
    }
    return;
  }
  if (d.algorithm === 'ed25519' || d.algorithm === 'ed448') return;
  throw new MtlsError(
    'MTLS_KEY_UNSUPPORTED',
    `${subject}: key algorithm ${d.algorithm} is not supported`,
    { subject },
  );
}

/** True when the private key belongs to the public key (compares SPKI DER). */
export function keysMatch(privateKey: KeyObject, publicKey: KeyObject): boolean {
  const a = publicKeyOf(privateKey).export({ format: 'der', type: 'spki' });
  const b = publicKey.export({ format: 'der', type: 'spki' });
  return Buffer.compare(a, b) === 0;
}

/** WebCrypto signature algorithm used with a key (SHA-256 except P-384 → SHA-384, P-521 → SHA-512). */
export type SigningAlgorithm =
  | { name: 'RSASSA-PKCS1-v1_5'; hash: string }
  | { name: 'ECDSA'; hash: string }
  | { name: 'Ed25519' };

/**
 * The signature algorithm mtlskit uses for a signing key: sha256WithRSAEncryption,
 * ecdsa-with-SHA256 (P-256), ecdsa-with-SHA384 (P-384), ecdsa-with-SHA512 (P-521), or Ed25519.
 * @param hash - override the digest for RSA/ECDSA (e.g. `SHA-256` from default_md)
 */
export function signingAlgorithmFor(key: KeyObject, hash?: string): SigningAlgorithm {
  const d = describeKey(key);
  if (d.algorithm === 'rsa') return { name: 'RSASSA-PKCS1-v1_5', hash: hash ?? 'SHA-256' };
  // RFC 5480 §4: the digest matches the curve (P-256 SHA-256, P-384 SHA-384, P-521 SHA-512).
  if (d.algorithm === 'ec')
    return {
      name: 'ECDSA',
      hash: hash ?? (d.bits > 384 ? 'SHA-512' : d.bits > 256 ? 'SHA-384' : 'SHA-256'),
    };
  if (d.algorithm === 'ed25519') return { name: 'Ed25519' };
  throw new MtlsError('MTLS_KEY_UNSUPPORTED', `cannot sign with a ${d.text} key`);
}

function importAlgorithm(
  key: KeyObject,
  hash = 'SHA-256',
): webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams | webcrypto.Algorithm {
  const d = describeKey(key);
  if (d.algorithm === 'rsa') return { name: 'RSASSA-PKCS1-v1_5', hash };
  if (d.algorithm === 'ec') return { name: 'ECDSA', namedCurve: d.curve ?? 'P-256' };
  if (d.algorithm === 'ed25519') return { name: 'Ed25519' };
  throw new MtlsError('MTLS_KEY_UNSUPPORTED', `${d.text} keys cannot be used for signing here`);
}

/**
 * WebCrypto handles for a key pair, for @peculiar/x509. Node 20 has no
 * KeyObject.toCryptoKey, so the key goes through PKCS#8/SPKI DER.
 * @param hash - digest to bind into RSA keys (default SHA-256)
 */
export async function toCryptoKeyPair(
  privateKey: KeyObject,
  hash = 'SHA-256',
): Promise<webcrypto.CryptoKeyPair> {
  const alg = importAlgorithm(privateKey, hash);
  const publicKey = publicKeyOf(privateKey);
  const [priv, pub] = await Promise.all([
    webcrypto.subtle.importKey(
      'pkcs8',
      privateKey.export({ format: 'der', type: 'pkcs8' }),
      alg,
      false,
      ['sign'],
    ),
    webcrypto.subtle.importKey(
      'spki',
      publicKey.export({ format: 'der', type: 'spki' }),
      alg,
      true,
      ['verify'],
    ),
  ]);
  return { privateKey: priv, publicKey: pub };
}

/** The public half of a key (a public KeyObject passes through). */
export function publicKeyOf(key: KeyObject): KeyObject {
  return key.type === 'public' ? key : createPublicKey(key);
}
