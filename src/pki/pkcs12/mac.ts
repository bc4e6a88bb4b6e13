/**
 * The PKCS#12 integrity MAC (RFC 7292 §4, App. B): an HMAC over the
 * AuthenticatedSafe octets, keyed with the PKCS#12 KDF (ID 3) over the
 * BMPString password. OpenSSL derives the key with the MAC's own digest, so a
 * SHA-256 MAC uses a SHA-256 KDF with a 32-byte key.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { MtlsError } from '../../errors/index.js';
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
} from '../der.js';
import { MAX_READ_ITERATIONS } from './encryption.js';
import { DIGEST, DIGEST_OID, PBMAC1, type MacDigest } from './oids.js';
import { PKCS12_KDF_ID, digestSize, pkcs12Kdf } from './pkcs12-kdf.js';

/** The parsed MacData of a PFX. */
export interface MacData {
  digest: MacDigest;
  mac: Buffer;
  salt: Buffer;
  /** Defaults to 1 when absent (RFC 7292 §4). */
  iterations: number;
}

/**
 * Reads MacData ::= SEQUENCE { mac DigestInfo, macSalt OCTET STRING, iterations INTEGER DEFAULT 1 }.
 * @throws MTLS_DER_INVALID when malformed
 * @throws MTLS_KEY_UNSUPPORTED for an unknown digest, PBMAC1 (RFC 9579) or an absurd iteration count
 */
export function parseMacData(der: Buffer): MacData {
  const what = 'PKCS#12 MacData';
  const bad: (why: string) => never = (why) => {
    throw new MtlsError('MTLS_DER_INVALID', `${what} is malformed: ${why}`);
  };
  const [digestInfo, salt, iter] = readDerChildren(readDer(der, 0, what).content, what);
  if (!digestInfo || digestInfo.tag !== 0x30 || !salt || salt.tag !== 0x04)
    bad('expected SEQUENCE { DigestInfo, OCTET STRING, INTEGER }');
  const [algId, mac] = readDerChildren(digestInfo.content, what);
  if (!algId || algId.tag !== 0x30 || !mac || mac.tag !== 0x04)
    bad('DigestInfo is not SEQUENCE { AlgorithmIdentifier, OCTET STRING }');
  const oidEl = readDerChildren(algId.content, what)[0];
  if (!oidEl || oidEl.tag !== 0x06) bad('the digest algorithm has no OID');
  const oid = decodeOid(oidEl.content);
  if (oid === PBMAC1) {
    throw new MtlsError(
      'MTLS_KEY_UNSUPPORTED',
      'the file is protected with PBMAC1 (RFC 9579), which mtlskit does not read yet',
      {
        hint: 'Re-export it with a SHA-256 HMAC (OpenSSL 3 default: openssl pkcs12 -export without -pbmac1_pbkdf2).',
      },
    );
  }
  const digest = DIGEST[oid];
  if (!digest)
    throw new MtlsError(
      'MTLS_KEY_UNSUPPORTED',
      `the PKCS#12 MAC uses digest ${oid}, which mtlskit does not support`,
    );
  let iterations = 1;
  if (iter) {
    if (iter.tag !== 0x02 || iter.content.length > 6) bad('iterations is not a small INTEGER');
    iterations = Number(decodeUnsigned(iter.content));
    if (iterations < 1) bad(`iteration count ${iterations} is not positive`);
  }
  if (iterations > MAX_READ_ITERATIONS) {
    throw new MtlsError(
      'MTLS_KEY_UNSUPPORTED',
      `${what}: iteration count ${iterations} exceeds mtlskit's limit of ${MAX_READ_ITERATIONS}`,
    );
  }
  return { digest, mac: mac.content, salt: salt.content, iterations };
}

/** Computes the PKCS#12 HMAC over `data` (RFC 7292 App. B.4 keying). */
export function computeMac(
  digest: MacDigest,
  passwordBmp: Buffer,
  salt: Buffer,
  iterations: number,
  data: Buffer,
): Buffer {
  const key = pkcs12Kdf(
    digest,
    passwordBmp,
    salt,
    PKCS12_KDF_ID.mac,
    iterations,
    digestSize(digest),
  );
  return createHmac(digest, key).update(data).digest();
}

/**
 * Returns the first password encoding whose MAC matches, or undefined when
 * none does (a wrong password or a tampered file). The comparison is constant-time.
 */
export function verifyMac(
  mac: MacData,
  candidates: readonly Buffer[],
  data: Buffer,
): Buffer | undefined {
  for (const pw of candidates) {
    const got = computeMac(mac.digest, pw, mac.salt, mac.iterations, data);
    if (got.length === mac.mac.length && timingSafeEqual(got, mac.mac)) return pw;
  }
  return undefined;
}

/** Options for {@link buildMacData}. */
export interface BuildMacDataOptions {
  iterations: number;
  /** Salt length in bytes (random salt). */
  saltLength: number;
}

/** Builds the DER MacData over `data`. */
export function buildMacData(
  digest: MacDigest,
  passwordBmp: Buffer,
  data: Buffer,
  options: BuildMacDataOptions,
): Buffer {
  const salt = randomBytes(options.saltLength);
  const mac = computeMac(digest, passwordBmp, salt, options.iterations, data);
  return derSequence(
    derSequence(derSequence(derOid(DIGEST_OID[digest]), derNull()), derOctetString(mac)),
    derOctetString(salt),
    derInteger(options.iterations),
  );
}
