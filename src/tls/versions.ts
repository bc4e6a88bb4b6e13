/**
 * TLS protocol versions and cipher lists: the version pin every mTLS context
 * of mtlskit starts from, and the names used on the wire and by node:tls.
 */
import { MtlsError } from '../errors/index.js';

/** A protocol version as node:tls names it. */
export type TlsVersionName = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';

/** Every protocol version mtlskit can test for, oldest first. */
export const TLS_VERSIONS: readonly TlsVersionName[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/** The choice behind `--tls`: a pinned version, or `auto` (TLS 1.2 to 1.3). */
export type TlsVersionChoice = '1.2' | '1.3' | 'auto';

/** Wire codes of the protocol versions (RFC 5246 §6.2.1, RFC 8446 §4.2.1). */
export const TLS_VERSION_CODES: Readonly<Record<TlsVersionName, number>> = {
  TLSv1: 0x0301,
  'TLSv1.1': 0x0302,
  'TLSv1.2': 0x0303,
  'TLSv1.3': 0x0304,
};

/** The node:tls version name of a wire code, or `0x….` for an unknown one (SSL 3.0 is `SSLv3`). */
export function tlsVersionName(code: number): string {
  if (code === 0x0300) return 'SSLv3';
  for (const [name, c] of Object.entries(TLS_VERSION_CODES)) if (c === code) return name;
  return `0x${code.toString(16).padStart(4, '0')}`;
}

/** A `minVersion`/`maxVersion` pair for node:tls. */
export interface TlsVersionRange {
  minVersion: TlsVersionName;
  maxVersion: TlsVersionName;
}

/**
 * Turns `--tls 1.2|1.3|auto` into a node:tls version range. The default is
 * TLS 1.2 pinned (min = max), because the provider accepts nothing else and a
 * client that offers TLS 1.3 to a TLS-1.2-only endpoint behind some middleboxes
 * fails in ways that are hard to read. `auto` allows 1.2 and 1.3 (RFC 8996
 * deprecates 1.0 and 1.1, so they are never offered for a real call).
 * @throws MTLS_BAD_ARGUMENT for any other value
 */
export function tlsVersionRange(choice: string = '1.2'): TlsVersionRange {
  switch (choice) {
    case '1.2':
    case 'TLSv1.2':
      return { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' };
    case '1.3':
    case 'TLSv1.3':
      return { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' };
    case 'auto':
      return { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3' };
    default:
      throw new MtlsError('MTLS_BAD_ARGUMENT', `unknown TLS version "${choice}"`, {
        subject: '--tls',
        hint: 'Use --tls 1.2 (the default, what the provider accepts), --tls 1.3, or --tls auto.',
      });
  }
}

/**
 * ECDHE key exchange with AEAD ciphers only (AES-GCM, ChaCha20-Poly1305), the
 * TLS 1.2 suites RFC 9325 §4.2 recommends: forward secrecy and no CBC
 * padding oracles. This is what a server should accept; OpenSSL syntax.
 */
export const TLS12_AEAD_CIPHERS: string = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/**
 * The TLS 1.2 cipher list a client offers: the AEAD suites of
 * {@link TLS12_AEAD_CIPHERS} first, then DHE-RSA with AES-GCM, then ECDHE with
 * AES-CBC-SHA256/SHA384, which RFC 9325 §4.2 still allows, so that an older
 * provider endpoint without AEAD suites can be reached. Every suite has
 * forward secrecy; static-RSA, 3DES, RC4 and SHA-1 suites are never offered.
 */
export const TLS12_CLIENT_CIPHERS: string = [
  TLS12_AEAD_CIPHERS,
  'DHE-RSA-AES128-GCM-SHA256',
  'DHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-AES128-SHA256',
  'ECDHE-RSA-AES128-SHA256',
  'ECDHE-ECDSA-AES256-SHA384',
  'ECDHE-RSA-AES256-SHA384',
].join(':');

/** The TLS 1.3 cipher suites (RFC 8446 §9.1 mandatory and recommended ones). */
export const TLS13_CIPHERSUITES: string = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
].join(':');

/**
 * The `ciphers` string for a client context with the given version range.
 * node:tls disables TLS 1.3 when the string names no TLS 1.3 suite, so the
 * 1.3 suites are included whenever the range reaches TLS 1.3.
 */
export function clientCipherString(range: TlsVersionRange): string {
  return range.maxVersion === 'TLSv1.3'
    ? `${TLS13_CIPHERSUITES}:${TLS12_CLIENT_CIPHERS}`
    : TLS12_CLIENT_CIPHERS;
}
