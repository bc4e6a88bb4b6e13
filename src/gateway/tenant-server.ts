/**
 * The per-institution TLS server: one
 * `tls.Server` per set of institutions sharing a source address, trusting
 * exactly their CAs. It never listens: the listener hands it raw sockets with
 * `emit('connection')`. A failed handshake becomes one audit record here.
 *
 * TLS settings (RFC 9325 §3.1, §4.2): TLS 1.2 only (min = max), ECDHE with
 * AEAD ciphers only, no renegotiation (RFC 5746 attacks; OpenSSL
 * SSL_OP_NO_RENEGOTIATION), no session tickets (SSL_OP_NO_TICKET; node:tls has
 * no internal session-ID cache), so every connection runs a full handshake and
 * a full chain verification against the registry as it is now.
 */
import tls from 'node:tls';
import { constants } from 'node:crypto';
import type { Logger } from 'pino';
import { toMtlsError } from '../errors/index.js';
import { TLS12_AEAD_CIPHERS } from '../tls/versions.js';
import { makeAuditRecord } from './audit.js';
import type { AuditReason, AuditRecord } from './registry/types.js';
import type { ServerCredential } from './server-credential.js';
import type { TrustLookup } from './trust-cache.js';

/** The client a TLS socket belongs to, as the listener accepted it. */
export interface ClientOfSocket {
  /** The client address (the PROXY protocol source when a trusted proxy sent one). */
  ip: string;
  /** The trust lookup made for that address, when known. */
  lookup: TrustLookup | undefined;
}

/** Options for {@link createTenantServer}. */
export interface TenantServerOptions {
  /** Tenant key (sorted institution ids), for logs. */
  key: string;
  /** The institutions' CA certificates (PEM); always an array, never absent. */
  caPems: string[];
  /** The server credential in service when the server is built. */
  credential: ServerCredential;
  /** Time from the first TLS byte to a finished handshake (node:tls `handshakeTimeout`). */
  handshakeTimeoutMs: number;
  /** Called with every completed handshake; a rejection is logged and the socket destroyed (fail closed). */
  onSecureConnection: (socket: tls.TLSSocket) => Promise<void>;
  /** The client of a socket (address and accept-time lookup), for the audit of a failed handshake. */
  clientOf: (socket: tls.TLSSocket) => ClientOfSocket;
  /** Receives the audit record of a failed handshake. */
  audit: (record: AuditRecord) => void;
  logger: Logger;
}

/**
 * Maps a failed handshake (node:tls `tlsClientError`) to a reason code and an
 * operator detail.
 */
export function classifyTlsClientError(err: Error & { code?: string }): {
  reason: AuditReason;
  detail: string;
} {
  const code = err.code ?? '';
  const message = err.message.replace(/^[0-9A-F]+:error:/, '').slice(0, 300);
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT')
    return {
      reason: 'handshake_timeout',
      detail: 'the client did not complete the TLS handshake in time',
    };
  if (
    code === 'ERR_SSL_UNSUPPORTED_PROTOCOL' ||
    code === 'ERR_SSL_VERSION_TOO_LOW' ||
    code === 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION' ||
    code === 'ERR_SSL_UNKNOWN_PROTOCOL' ||
    /protocol version|unsupported protocol/i.test(message)
  ) {
    return {
      reason: 'tls_version',
      detail: `the client does not offer TLS 1.2 (${code || message})`,
    };
  }
  if (code === 'ERR_SSL_NO_SHARED_CIPHER')
    return {
      reason: 'bad_request',
      detail: 'no shared cipher: the client offers no ECDHE+AEAD suite for TLS 1.2',
    };
  if (code === 'ERR_SSL_HTTP_REQUEST')
    return { reason: 'bad_request', detail: 'the client spoke plain HTTP to the TLS port' };
  if (code === 'ECONNRESET' || code === 'EPIPE')
    return {
      reason: 'bad_request',
      detail: 'the client closed the connection during the handshake',
    };
  return {
    reason: 'bad_request',
    detail: `handshake failed: ${code ? `${code}: ` : ''}${message}`,
  };
}

/**
 * The audit record of a failed handshake: the reason from
 * {@link classifyTlsClientError}, attributed to the institution when exactly
 * one active institution is registered for the address.
 */
export function handshakeErrorRecord(
  err: Error & { code?: string },
  client: ClientOfSocket,
): AuditRecord {
  const { reason, detail } = classifyTlsClientError(err);
  const candidates = client.lookup?.kind === 'tenant' ? client.lookup.active : [];
  return makeAuditRecord({
    kind: 'connection',
    ip: client.ip,
    reason,
    institutionId: candidates.length === 1 ? (candidates[0]?.id ?? null) : null,
    detail,
  });
}

/**
 * Builds a tenant TLS server (see the module comment for its settings).
 * Never throws for a client's fault: handshake failures are audited, and a
 * failing post-handshake evaluation closes the socket.
 */
export function createTenantServer(options: TenantServerOptions): tls.Server {
  const server = tls.createServer({
    key: options.credential.keyPem,
    cert: options.credential.certPem,
    // Always an array: an absent `ca` would make node:tls trust its bundled public roots.
    ca: options.caPems,
    requestCert: true,
    // OpenSSL still verifies the chain; we read its verdict
    // (socket.authorized / authorizationError) in the secureConnection handler
    // and evaluateConnection (policy.ts) refuses anything not authorized, so the
    // operator gets the reason in the audit instead of a silent drop.
    rejectUnauthorized: false,
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.2',
    ciphers: TLS12_AEAD_CIPHERS,
    honorCipherOrder: true,
    secureOptions: constants.SSL_OP_NO_RENEGOTIATION | constants.SSL_OP_NO_TICKET,
    handshakeTimeout: options.handshakeTimeoutMs,
  });
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    options.onSecureConnection(socket).catch((e: unknown) => {
      const err = toMtlsError(e);
      options.logger.error(
        { err: { code: err.code, message: err.message }, tenant: options.key },
        'post-handshake evaluation failed; connection closed',
      );
      socket.destroy();
    });
  });
  server.on('tlsClientError', (err: Error & { code?: string }, socket: tls.TLSSocket) => {
    // The listener knows the client by the socket object, so it is known
    // here too when the client closed before the handshake ended.
    const client = options.clientOf(socket);
    // node:tls leaves the socket open after a handshake timeout; close it.
    socket.destroy();
    options.audit(handshakeErrorRecord(err, client));
  });
  return server;
}
