/**
 * The encryption AlgorithmIdentifiers found in PKCS#12 files: PBES2 (RFC 8018
 * §6.2, via ../pbes2.ts) and the PKCS#12 PBE schemes (RFC 7292 App. C).
 */
import { MtlsError } from '../../errors/index.js';
import { decodeOid, readDer, readDerChildren } from '../der.js';
import { OID as PBES2_OID, describePbes2, pbes2Decrypt } from '../pbes2.js';
import { legacyPbeDecrypt, legacyPbeScheme, parseLegacyPbeParams } from './pbe-legacy.js';

/**
 * Highest iteration count mtlskit will run when reading a file. Real files use
 * 1 to 600,000; a crafted file with 2^31 would hang the reader.
 */
export const MAX_READ_ITERATIONS = 10_000_000;

/** How one part of a PKCS#12 file (key bag or certificate safe) is encrypted. */
export interface PfxEncryption {
  /** `pbes2` (RFC 8018), `pkcs12-pbe` (RFC 7292 App. C), or `none` for plain `data` content. */
  scheme: 'pbes2' | 'pkcs12-pbe' | 'none';
  /** `PBES2` or the PKCS#12 scheme name, e.g. `pbeWithSHAAnd40BitRC2-CBC`. */
  algorithm: string;
  /** `aes-256-cbc`, `des-ede3-cbc`, `rc2-40-cbc`, … */
  cipher: string;
  /** `PBKDF2-hmacWithSHA256`, or `PKCS12-KDF-SHA1` for the PKCS#12 schemes. */
  kdf: string;
  iterations: number;
  /** One readable line, e.g. `PBES2 (PBKDF2-hmacWithSHA256, AES-256-CBC), 2048 iterations`. */
  text: string;
}

/** The `encryption` value of something stored in plain `data` content. */
export const NOT_ENCRYPTED: Readonly<PfxEncryption> = Object.freeze({
  scheme: 'none',
  algorithm: 'none',
  cipher: 'none',
  kdf: 'none',
  iterations: 0,
  text: 'not encrypted',
});

/** The two encodings of the password a PKCS#12 file uses. */
export interface PfxPasswordBytes {
  /** UTF-8, for PBES2 (as OpenSSL does; RFC 8018 §3 leaves it to the application). */
  utf8: Buffer;
  /** BMPString plus two zero bytes, for the PKCS#12 KDF (RFC 7292 App. B.1). */
  bmp: Buffer;
}

/** An AlgorithmIdentifier split into its OID and its DER parameters. */
export interface AlgorithmIdentifier {
  oid: string;
  params: Buffer | undefined;
}

/**
 * Splits a DER AlgorithmIdentifier (RFC 5280 §4.1.1.2).
 * @throws MTLS_DER_INVALID when it is not SEQUENCE { OID, params? }
 */
export function readAlgorithmIdentifier(der: Buffer, what: string): AlgorithmIdentifier {
  const seq = readDer(der, 0, what);
  const [oid, params] = readDerChildren(seq.content, what);
  if (seq.tag !== 0x30 || oid?.tag !== 0x06)
    throw new MtlsError('MTLS_DER_INVALID', `${what}: malformed AlgorithmIdentifier`);
  return { oid: decodeOid(oid.content), params: params?.raw };
}

function needParams(alg: AlgorithmIdentifier, what: string): Buffer {
  if (!alg.params)
    throw new MtlsError('MTLS_DER_INVALID', `${what}: algorithm ${alg.oid} has no parameters`);
  return alg.params;
}

function checkIterations(n: number, what: string): void {
  if (n > MAX_READ_ITERATIONS) {
    throw new MtlsError(
      'MTLS_KEY_UNSUPPORTED',
      `${what}: iteration count ${n} exceeds mtlskit's limit of ${MAX_READ_ITERATIONS}`,
      {
        hint: 'Re-export the file with a normal iteration count (2,048 to 600,000).',
      },
    );
  }
}

/**
 * Describes an encryption AlgorithmIdentifier.
 * @param what - where it was found, for error messages
 * @throws MTLS_KEY_UNSUPPORTED for an algorithm that is neither PBES2 nor a PKCS#12 PBE scheme
 * @throws MTLS_DER_INVALID when its parameters are malformed
 */
export function describeEncryption(algorithmDer: Buffer, what: string): PfxEncryption {
  const alg = readAlgorithmIdentifier(algorithmDer, what);
  if (alg.oid === PBES2_OID.pbes2) {
    const d = describePbes2(needParams(alg, what));
    checkIterations(d.iterations, what);
    const kdf = `PBKDF2-${d.prf}`;
    return {
      scheme: 'pbes2',
      algorithm: 'PBES2',
      cipher: d.cipher,
      kdf,
      iterations: d.iterations,
      text: `PBES2 (${kdf}, ${d.cipher.toUpperCase()}), ${d.iterations} iterations`,
    };
  }
  const scheme = legacyPbeScheme(alg.oid);
  if (!scheme) {
    throw new MtlsError(
      'MTLS_KEY_UNSUPPORTED',
      `${what} is encrypted with algorithm ${alg.oid}, which is neither PBES2 nor a PKCS#12 PBE scheme`,
      {
        hint: 'Re-export the file with AES (OpenSSL 3 default) or 3DES (-legacy -keypbe PBE-SHA1-3DES).',
      },
    );
  }
  const p = parseLegacyPbeParams(needParams(alg, what));
  checkIterations(p.iterations, what);
  return {
    scheme: 'pkcs12-pbe',
    algorithm: scheme.name,
    cipher: scheme.cipher,
    kdf: 'PKCS12-KDF-SHA1',
    iterations: p.iterations,
    text: `${scheme.name}, ${p.iterations} iterations`,
  };
}

/**
 * Decrypts with PBES2 or a PKCS#12 PBE scheme, choosing the password encoding
 * each one uses.
 * @throws MTLS_BAD_PASSPHRASE when the password is wrong
 * @throws MTLS_KEY_UNSUPPORTED for an unknown algorithm or an absurd iteration count
 * @throws MTLS_DER_INVALID for malformed parameters
 */
export function decryptWithAlgorithm(
  algorithmDer: Buffer,
  ciphertext: Buffer,
  passwords: PfxPasswordBytes,
  what: string,
): Buffer {
  describeEncryption(algorithmDer, what);
  const alg = readAlgorithmIdentifier(algorithmDer, what);
  const params = needParams(alg, what);
  if (alg.oid === PBES2_OID.pbes2) return pbes2Decrypt(params, ciphertext, passwords.utf8);
  return legacyPbeDecrypt(alg.oid, params, ciphertext, passwords.bmp);
}
