/**
 * TLS contexts (TLS 1.2 pinned, cipher lists), client credentials and trust.
 * The TLS wire parsers behind `mtls probe` (records, the handshake tap, the
 * raw ClientHello probe) are internals of the client and stay unexported.
 */
export * from './versions.js';
export * from './credentials.js';
export * from './trust.js';
export * from './client-context.js';
