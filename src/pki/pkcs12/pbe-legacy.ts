/**
 * The PKCS#12 password-based encryption schemes (RFC 7292 App. C), keyed with
 * the PKCS#12 KDF (App. B) over SHA-1: pbeWithSHAAnd3-KeyTripleDES-CBC (the
 * "legacy" flavour mtlskit writes for old Java, Windows and macOS keystores),
 * and for reading only: 2-key 3DES, RC2-128, RC2-40 and RC4.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { MtlsError } from '../../errors/index.js';
import {
  decodeUnsigned,
  derInteger,
  derOctetString,
  derOid,
  derSequence,
  readDer,
  readDerChildren,
} from '../der.js';
import { PKCS12_KDF_ID, pkcs12Kdf } from './pkcs12-kdf.js';
import { rc2CbcDecryptRaw, rc2CbcEncrypt } from './rc2.js';
import { rc4 } from './rc4.js';
import { at } from '../bytes.js';

/** OIDs of the PKCS#12 PBE schemes (RFC 7292 App. C, pkcs-12PbeIds). */
export const PKCS12_PBE_OID = {
  sha1And128BitRc4: '1.2.840.113549.1.12.1.1',
  sha1And40BitRc4: '1.2.840.113549.1.12.1.2',
  sha1And3KeyTripleDesCbc: '1.2.840.113549.1.12.1.3',
  sha1And2KeyTripleDesCbc: '1.2.840.113549.1.12.1.4',
  sha1And128BitRc2Cbc: '1.2.840.113549.1.12.1.5',
  sha1And40BitRc2Cbc: '1.2.840.113549.1.12.1.6',
} as const;

/** One PKCS#12 PBE scheme: what it is, and which implementation runs its cipher. */
export type LegacyPbeScheme = LegacyPbeSchemeBase &
  (
    | { kind: 'rc4' }
    /** RC2 with its effective key bits. */
    | { kind: 'rc2'; effectiveBits: number }
    /** A cipher node:crypto has, by its node:crypto name. */
    | { kind: 'node'; nodeCipher: string }
  );

interface LegacyPbeSchemeBase {
  oid: string;
  /** The name RFC 7292 gives it, e.g. `pbeWithSHAAnd3-KeyTripleDES-CBC`. */
  name: string;
  /** Short cipher name, e.g. `des-ede3-cbc`, `rc2-40-cbc`, `rc4-128`. */
  cipher: string;
  keyLength: number;
  ivLength: number;
}

const SCHEMES: Readonly<Record<string, LegacyPbeScheme>> = {
  [PKCS12_PBE_OID.sha1And128BitRc4]: {
    oid: PKCS12_PBE_OID.sha1And128BitRc4,
    name: 'pbeWithSHAAnd128BitRC4',
    cipher: 'rc4-128',
    keyLength: 16,
    ivLength: 0,
    kind: 'rc4',
  },
  [PKCS12_PBE_OID.sha1And40BitRc4]: {
    oid: PKCS12_PBE_OID.sha1And40BitRc4,
    name: 'pbeWithSHAAnd40BitRC4',
    cipher: 'rc4-40',
    keyLength: 5,
    ivLength: 0,
    kind: 'rc4',
  },
  [PKCS12_PBE_OID.sha1And3KeyTripleDesCbc]: {
    oid: PKCS12_PBE_OID.sha1And3KeyTripleDesCbc,
    name: 'pbeWithSHAAnd3-KeyTripleDES-CBC',
    cipher: 'des-ede3-cbc',
    keyLength: 24,
    ivLength: 8,
    kind: 'node',
    nodeCipher: 'des-ede3-cbc',
  },
  [PKCS12_PBE_OID.sha1And2KeyTripleDesCbc]: {
    oid: PKCS12_PBE_OID.sha1And2KeyTripleDesCbc,
    name: 'pbeWithSHAAnd2-KeyTripleDES-CBC',
    cipher: 'des-ede-cbc',
    keyLength: 16,
    ivLength: 8,
    kind: 'node',
    nodeCipher: 'des-ede-cbc',
  },
  [PKCS12_PBE_OID.sha1And128BitRc2Cbc]: {
    oid: PKCS12_PBE_OID.sha1And128BitRc2Cbc,
    name: 'pbeWithSHAAnd128BitRC2-CBC',
    cipher: 'rc2-128-cbc',
    keyLength: 16,
    ivLength: 8,
    kind: 'rc2',
    effectiveBits: 128,
  },
  [PKCS12_PBE_OID.sha1And40BitRc2Cbc]: {
    oid: PKCS12_PBE_OID.sha1And40BitRc2Cbc,
    name: 'pbeWithSHAAnd40BitRC2-CBC',
    cipher: 'rc2-40-cbc',
    keyLength: 5,
    ivLength: 8,
    kind: 'rc2',
    effectiveBits: 40,
  },
};

/** The PKCS#12 PBE scheme with this OID, or undefined when it is not one. */
export function legacyPbeScheme(oid: string): LegacyPbeScheme | undefined {
  return SCHEMES[oid];
}

/** The salt and iteration count of pkcs-12PbeParams (RFC 7292 App. C). */
export interface LegacyPbeParams {
  salt: Buffer;
  iterations: number;
}

/**
 * Reads pkcs-12PbeParams ::= SEQUENCE { salt OCTET STRING, iterations INTEGER }.
 * @throws MTLS_DER_INVALID when the parameters are malformed
 */
export function parseLegacyPbeParams(params: Buffer): LegacyPbeParams {
  const what = 'PKCS#12 PBE parameters';
  const seq = readDer(params, 0, what);
  const [salt, iter] = readDerChildren(seq.content, what);
  if (seq.tag !== 0x30 || salt?.tag !== 0x04 || iter?.tag !== 0x02 || iter.content.length > 6) {
    throw new MtlsError(
      'MTLS_DER_INVALID',
      `${what} are malformed (expected SEQUENCE { salt OCTET STRING, iterations INTEGER })`,
    );
  }
  const iterations = Number(decodeUnsigned(iter.content));
  if (iterations < 1)
    throw new MtlsError(
      'MTLS_DER_INVALID',
      `${what}: iteration count ${iterations} is not positive`,
    );
  return { salt: salt.content, iterations };
}

function deriveKeyIv(
  scheme: LegacyPbeScheme,
  passwordBmp: Buffer,
  p: LegacyPbeParams,
): { key: Buffer; iv: Buffer } {
  const key = pkcs12Kdf(
    'sha1',
    passwordBmp,
    p.salt,
    PKCS12_KDF_ID.key,
    p.iterations,
    scheme.keyLength,
  );
  const iv =
    scheme.ivLength > 0
      ? pkcs12Kdf('sha1', passwordBmp, p.salt, PKCS12_KDF_ID.iv, p.iterations, scheme.ivLength)
      : Buffer.alloc(0);
  return { key, iv };
}

/** Checks and removes PKCS#7 padding (RFC 8018 §6.1.1); undefined when it is wrong. */
function stripPadding(buf: Buffer, blockSize: number): Buffer | undefined {
  if (buf.length === 0 || buf.length % blockSize !== 0) return undefined;
  const pad = at(buf, buf.length - 1);
  if (pad < 1 || pad > blockSize) return undefined;
  for (let i = buf.length - pad; i < buf.length; i++) if (buf[i] !== pad) return undefined;
  return buf.subarray(0, buf.length - pad);
}

function unknown(oid: string): never {
  throw new MtlsError(
    'MTLS_KEY_UNSUPPORTED',
    `${oid} is not a PKCS#12 password-based encryption scheme`,
  );
}

/**
 * Decrypts data protected by a PKCS#12 PBE scheme.
 * @param params - DER pkcs-12PbeParams
 * @param passwordBmp - the password as {@link bmpPassword} formats it
 * @throws MTLS_BAD_PASSPHRASE when the padding is wrong (a wrong password)
 * @throws MTLS_DER_INVALID when the ciphertext length cannot be right
 * @throws MTLS_KEY_UNSUPPORTED for an OID that is not a PKCS#12 PBE scheme
 */
export function legacyPbeDecrypt(
  oid: string,
  params: Buffer,
  ciphertext: Buffer,
  passwordBmp: Buffer,
): Buffer {
  const scheme = SCHEMES[oid] ?? unknown(oid);
  const p = parseLegacyPbeParams(params);
  const { key, iv } = deriveKeyIv(scheme, passwordBmp, p);
  if (scheme.kind === 'rc4') return rc4(key, ciphertext);
  if (ciphertext.length === 0 || ciphertext.length % 8 !== 0) {
    throw new MtlsError(
      'MTLS_DER_INVALID',
      `${scheme.name} ciphertext of ${ciphertext.length} bytes is not a whole number of 8-byte blocks`,
    );
  }
  let padded: Buffer;
  if (scheme.kind === 'rc2') {
    padded = rc2CbcDecryptRaw(key, scheme.effectiveBits, iv, ciphertext);
  } else {
    const d = createDecipheriv(scheme.nodeCipher, key, iv);
    d.setAutoPadding(false);
    padded = Buffer.concat([d.update(ciphertext), d.final()]);
  }
  const plain = stripPadding(padded, 8);
  if (!plain)
    throw new MtlsError(
      'MTLS_BAD_PASSPHRASE',
      `${scheme.name} decryption failed: the password is wrong or the data is corrupt`,
    );
  return plain;
}

/** Options for {@link legacyPbeEncrypt}. */
export interface LegacyPbeEncryptOptions {
  /** KDF iterations (default 2048, OpenSSL's PKCS12_DEFAULT_ITER). */
  iterations?: number;
  /** Salt (default 8 random bytes, OpenSSL's PKCS12_SALT_LEN, for old readers). */
  salt?: Buffer;
}

/** Result of {@link legacyPbeEncrypt}. */
export interface LegacyPbeEncryptResult {
  /** DER AlgorithmIdentifier { oid, pkcs-12PbeParams }. */
  algorithm: Buffer;
  ciphertext: Buffer;
}

/**
 * Encrypts with a PKCS#12 PBE scheme. mtlskit's legacy flavour uses
 * pbeWithSHAAnd3-KeyTripleDES-CBC; the weaker schemes exist here for tests
 * that need files in those formats.
 * @param passwordBmp - the password as {@link bmpPassword} formats it
 * @throws MTLS_KEY_UNSUPPORTED for an OID that is not a PKCS#12 PBE scheme
 */
export function legacyPbeEncrypt(
  oid: string,
  plaintext: Uint8Array,
  passwordBmp: Buffer,
  options: LegacyPbeEncryptOptions = {},
): LegacyPbeEncryptResult {
  const scheme = SCHEMES[oid] ?? unknown(oid);
  const p: LegacyPbeParams = {
    salt: options.salt ?? randomBytes(8),
    iterations: options.iterations ?? 2048,
  };
  const { key, iv } = deriveKeyIv(scheme, passwordBmp, p);
  let ciphertext: Buffer;
  if (scheme.kind === 'rc4') ciphertext = rc4(key, plaintext);
  else if (scheme.kind === 'rc2')
    ciphertext = rc2CbcEncrypt(key, scheme.effectiveBits, iv, plaintext);
  else {
    const c = createCipheriv(scheme.nodeCipher, key, iv);
    ciphertext = Buffer.concat([c.update(plaintext), c.final()]);
  }
  const algorithm = derSequence(
    derOid(oid),
    derSequence(derOctetString(p.salt), derInteger(p.iterations)),
  );
  return { algorithm, ciphertext };
}
