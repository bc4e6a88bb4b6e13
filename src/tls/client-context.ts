/**
 * The TLS settings of an mTLS client in one place: client credentials, the
 * server trust, the version pin and the cipher list, as one node:tls
 * SecureContext that every connection of a client shares.
 */
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import { MtlsError, type ErrorCode } from '../errors/index.js';
import type { ClientCredentials } from './credentials.js';
import { systemRootCertificates } from './trust.js';
import {
  clientCipherString,
  tlsVersionRange,
  type TlsVersionChoice,
  type TlsVersionRange,
} from './versions.js';
import { errorCode, errorMessage } from '../errors/mtls-error.js';

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
}

/** Where the credentials came from, for messages. */
function describeSource(c: ClientCredentials): { subject: string; text: string } {
  return c.source.kind === 'pfx'
    ? { subject: c.source.path, text: `the client certificate and key in ${c.source.path}` }
    : {
        subject: c.source.keyPath,
        text: `the client certificate ${c.source.certPath} with the key ${c.source.keyPath}`,
      };
}

/** The catalogue code for OpenSSL's refusal of a certificate/key pair. */
function credentialErrorCode(opensslCode: string | undefined, message: string): ErrorCode {
  const text = `${opensslCode ?? ''} ${message}`;
  if (/KEY_TOO_SMALL|MD_TOO_WEAK|key too small|md too weak/i.test(text)) return 'MTLS_KEY_TOO_WEAK';
  if (/KEY_VALUES_MISMATCH|values mismatch/i.test(text)) return 'MTLS_KEY_MISMATCH';
  return 'MTLS_KEY_UNSUPPORTED';
}

/**
 * Builds the SecureContext for an mTLS client: TLS 1.2 pinned unless told
 * otherwise, forward-secret ciphers only, the client certificate and its
 * chain, and the server trust.
 * @throws MTLS_BAD_ARGUMENT for an unknown version choice
 * @throws MTLS_KEY_TOO_WEAK when OpenSSL's security level refuses the client key or its certificate's signature (e.g. RSA-512)
 * @throws MTLS_KEY_MISMATCH when the key does not belong to the certificate
 * @throws MTLS_KEY_UNSUPPORTED when OpenSSL refuses the client certificate or key for another reason
 * @throws MTLS_CONFIG_INVALID when OpenSSL refuses the other settings (trusted CAs, versions, ciphers),
 *   or `SSL_CERT_FILE` is set but unusable (see {@link systemRootCertificates})
 */
export function createClientTlsContext(settings: ClientTlsSettings = {}): ClientTlsContext {
  const range = tlsVersionRange(settings.tls ?? '1.2');
  const ciphers = clientCipherString(range);
  const base: SecureContextOptions = {
    ...range,
    ciphers,
    ca: settings.ca ?? systemRootCertificates(),
  };
  const credentials = settings.credentials;
  try {
    const secureContext = createSecureContext(
      credentials ? { ...base, cert: credentials.certPem, key: credentials.keyPem } : base,
    );
    return { secureContext, range, ciphers };
  } catch (e) {
    const message = errorMessage(e);
    // Tell the credentials apart from the rest: build the context once more without them.
    let withoutCredentials: unknown;
    try {
      if (credentials) createSecureContext(base);
    } catch (e2) {
      withoutCredentials = e2;
    }
    if (credentials && withoutCredentials === undefined) {
      const source = describeSource(credentials);
      throw new MtlsError(
        credentialErrorCode(errorCode(e), message),
        `OpenSSL refused ${source.text}: ${message}`,
        {
          subject: source.subject,
          cause: e,
        },
      );
    }
    throw new MtlsError(
      'MTLS_CONFIG_INVALID',
      `OpenSSL refused the client TLS settings (trusted CA certificates, TLS versions, ciphers): ${message}`,
      {
        subject: 'TLS settings',
        hint: 'Check the CA bundle given with --ca (or SSL_CERT_FILE): it must hold PEM CA certificates.',
        cause: e,
      },
    );
  }
}
