/**
 * The TLS settings of an mTLS client in one place: client credentials, the
 * server trust, the version pin and the cipher list, as one node:tls
 * SecureContext that every connection of a client shares.
 */
import { createSecureContext, type SecureContext } from 'node:tls';
import { MtlsError } from '../errors/index.js';
import type { ClientCredentials } from './credentials.js';
import { systemRootCertificates } from './trust.js';
import { clientCipherString, tlsVersionRange, type TlsVersionChoice, type TlsVersionRange } from './versions.js';

/** TLS settings of an mTLS client. */
export interface ClientTlsSettings {
  /** The client certificate and key; omit to connect without one (the server may then refuse). */
  credentials?: ClientCredentials;
  /** Trusted CA certificates (PEM) for the server's chain; default the system roots ({@link systemRootCertificates}). */
  ca?: string[];
  /** Version choice (default `1.2`: TLS 1.2 pinned). */
  tls?: TlsVersionChoice;
}

/** A ready client context. */
export interface ClientTlsContext {
  secureContext: SecureContext;
  range: TlsVersionRange;
  /** The `ciphers` string in force. */
  ciphers: string;
  /** `custom` when `ca` was given, `system` for the system roots. */
  trust: 'custom' | 'system';
}

/**
 * Builds the SecureContext for an mTLS client: TLS 1.2 pinned unless told
 * otherwise, forward-secret ciphers only, the client certificate and its
 * chain, and the server trust.
 * @throws MTLS_BAD_ARGUMENT for an unknown version choice
 * @throws MTLS_TLS_HANDSHAKE when OpenSSL refuses the material (for example a key type it cannot use)
 */
export function createClientTlsContext(settings: ClientTlsSettings = {}): ClientTlsContext {
  const range = tlsVersionRange(settings.tls ?? '1.2');
  const ciphers = clientCipherString(range);
  const ca = settings.ca ?? systemRootCertificates();
  try {
    const secureContext = createSecureContext({
      ...range,
      ciphers,
      ca,
      ...(settings.credentials ? { cert: settings.credentials.certPem, key: settings.credentials.keyPem } : {}),
    });
    return { secureContext, range, ciphers, trust: settings.ca ? 'custom' : 'system' };
  } catch (e) {
    throw new MtlsError('MTLS_TLS_HANDSHAKE', `OpenSSL refused the client TLS settings: ${(e as Error).message}`, { cause: e });
  }
}
