/** TLS contexts (TLS 1.2 pinned, cipher lists), client credentials, trust, and TLS wire parsing. */
export * from './versions.js';
export * from './credentials.js';
export * from './trust.js';
export * from './client-context.js';
export * from './tls-record.js';
export * from './handshake-tap.js';
export * from './hello-probe.js';
