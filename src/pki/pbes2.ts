/**
 * PBES2 (RFC 8018 §6.2) with PBKDF2 (§5.2): encryption for PKCS#8 keys and
 * PKCS#12 bags. Node's own KeyObject.export fixes PBKDF2 at 2048 iterations,
 * too few for a CA key (NIST SP 800-132, OWASP 2023: 600,000 for HMAC-SHA256).
 */
import { createCipheriv, createDecipheriv, pbkdf2Sync, randomBytes } from 'node:crypto';
import { MtlsError } from '../errors/index.js';
import {
  decodeOid,
  decodeUnsigned,
  derInteger,
  derNull,
  derOctetString,
  derOid,
  derSequence,
  readDer,
  readDerChildren,
} from './der.js';

/** OIDs used by PBES2. */
export const OID = {
  pbes2: '1.2.840.113549.1.5.13',
  pbkdf2: '1.2.840.113549.1.5.12',
  hmacWithSHA1: '1.2.840.113549.2.7',
  hmacWithSHA256: '1.2.840.113549.2.9',
  hmacWithSHA384: '1.2.840.113549.2.10',
  hmacWithSHA512: '1.2.840.113549.2.11',
  aes128cbc: '2.16.840.1.101.3.4.1.2',
  aes192cbc: '2.16.840.1.101.3.4.1.22',
  aes256cbc: '2.16.840.1.101.3.4.1.42',
  desEde3cbc: '1.2.840.113549.3.7',
} as const;

const PRF: Record<string, string> = {
  [OID.hmacWithSHA1]: 'sha1',
  [OID.hmacWithSHA256]: 'sha256',
  [OID.hmacWithSHA384]: 'sha384',
  [OID.hmacWithSHA512]: 'sha512',
};
const CIPHER: Record<string, { name: string; keyLen: number }> = {
  [OID.aes128cbc]: { name: 'aes-128-cbc', keyLen: 16 },
  [OID.aes192cbc]: { name: 'aes-192-cbc', keyLen: 24 },
  [OID.aes256cbc]: { name: 'aes-256-cbc', keyLen: 32 },
  [OID.desEde3cbc]: { name: 'des-ede3-cbc', keyLen: 24 },
};

/** Default PBKDF2 iteration count for keys at rest. */
export const DEFAULT_KEY_ITERATIONS = 600_000;

/** Options for {@link pbes2Encrypt}. */
export interface Pbes2EncryptOptions {
  /** PBKDF2 iterations (default 600,000). */
  iterations?: number;
  /** Salt (default 16 random bytes). */
  salt?: Buffer;
}

/** Result of {@link pbes2Encrypt}. */
export interface Pbes2EncryptResult {
  /** DER AlgorithmIdentifier { pbes2, PBES2-params }. */
  algorithm: Buffer;
  /** The AES-256-CBC ciphertext. */
  ciphertext: Buffer;
}

/**
 * Encrypts with PBES2: PBKDF2-HMAC-SHA256 and AES-256-CBC. The password is
 * used as UTF-8 bytes, as OpenSSL does for PBES2 (RFC 8018 §3 leaves it to the
 * application).
 */
export function pbes2Encrypt(
  plaintext: Uint8Array,
  password: string,
  options: Pbes2EncryptOptions = {},
): Pbes2EncryptResult {
  const iterations = options.iterations ?? DEFAULT_KEY_ITERATIONS;
  const salt = options.salt ?? randomBytes(16);
  const iv = randomBytes(16);
  const key = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256');
  const cipher = createCipheriv('aes-256-cbc', key, iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const kdf = derSequence(
    derOid(OID.pbkdf2),
    derSequence(
      derOctetString(salt),
      derInteger(iterations),
      derSequence(derOid(OID.hmacWithSHA256), derNull()),
    ),
  );
  const enc = derSequence(derOid(OID.aes256cbc), derOctetString(iv));
  const algorithm = derSequence(derOid(OID.pbes2), derSequence(kdf, enc));
  return { algorithm, ciphertext };
}

/** Describes a PBES2 parameter set, for `pfx show`. */
export interface Pbes2Description {
  prf: string;
  cipher: string;
  iterations: number;
}

function parseParams(params: Buffer): {
  salt: Buffer;
  iterations: number;
  prf: string;
  cipher: string;
  keyLen: number;
  iv: Buffer;
} {
  const what = 'PBES2 parameters';
  const [kdfAlg, encAlg] = readDerChildren(readDer(params, 0, what).content, what);
  if (!kdfAlg || !encAlg) throw new MtlsError('MTLS_DER_INVALID', `${what}: missing KDF or cipher`);
  const [kdfOid, kdfParams] = readDerChildren(kdfAlg.content, what);
  if (!kdfOid || decodeOid(kdfOid.content) !== OID.pbkdf2 || !kdfParams) {
    throw new MtlsError(
      'MTLS_KEY_UNSUPPORTED',
      'PBES2 with a key derivation other than PBKDF2 is not supported',
    );
  }
  const kp = readDerChildren(kdfParams.content, what);
  const salt = kp[0]?.content;
  const iterations = Number(decodeUnsigned(kp[1]?.content ?? Buffer.alloc(0)));
  let prf = 'sha1';
  for (const el of kp.slice(2)) {
    if (el.tag === 0x30) {
      const prfOid = decodeOid(readDerChildren(el.content, what)[0]?.content ?? Buffer.alloc(1));
      const p = PRF[prfOid];
      if (!p) throw new MtlsError('MTLS_KEY_UNSUPPORTED', `PBKDF2 PRF ${prfOid} is not supported`);
      prf = p;
    }
  }
  const [encOid, ivEl] = readDerChildren(encAlg.content, what);
  const cipherOid = decodeOid(encOid?.content ?? Buffer.alloc(1));
  const cipher = CIPHER[cipherOid];
  if (!cipher || !ivEl || !salt)
    throw new MtlsError('MTLS_KEY_UNSUPPORTED', `PBES2 cipher ${cipherOid} is not supported`);
  return { salt, iterations, prf, cipher: cipher.name, keyLen: cipher.keyLen, iv: ivEl.content };
}

/** Reads the PBES2 parameters (the content after the pbes2 OID) for display. */
export function describePbes2(params: Buffer): Pbes2Description {
  const p = parseParams(params);
  return { prf: `hmacWith${p.prf.toUpperCase()}`, cipher: p.cipher, iterations: p.iterations };
}

/**
 * Decrypts PBES2 ciphertext.
 * @param params - the DER PBES2-params (the SEQUENCE after the pbes2 OID)
 * @param passwordBytes - the password as the caller's encoding (UTF-8 for PBES2)
 * @throws MTLS_BAD_PASSPHRASE when the padding check fails (wrong password)
 */
export function pbes2Decrypt(params: Buffer, ciphertext: Buffer, passwordBytes: Buffer): Buffer {
  const p = parseParams(params);
  const key = pbkdf2Sync(passwordBytes, p.salt, p.iterations, p.keyLen, p.prf);
  try {
    const d = createDecipheriv(p.cipher, key, p.iv);
    return Buffer.concat([d.update(ciphertext), d.final()]);
  } catch (e) {
    throw new MtlsError(
      'MTLS_BAD_PASSPHRASE',
      'decryption failed: the password is wrong or the data is corrupt',
      { cause: e },
    );
  }
}
