/**
 * One mTLS connection with everything a diagnosis needs recorded on the way:
 * TCP connect, the plaintext handshake (through a byte tap), what node:tls
 * negotiated, errors and when the peer closed.
 */
import { connect as netConnect, isIP } from 'node:net';
import { connect as tlsConnect, type PeerCertificate, type TLSSocket } from 'node:tls';
import { HandshakeObserver, tapSocket, type HandshakeTranscript } from '../tls/handshake-tap.js';
import type { ClientTlsContext } from '../tls/client-context.js';

/** Where to connect. */
export interface ConnectTarget {
  /** Host name or IP from the URL: used for SNI and for checking the server's name. */
  host: string;
  port: number;
  /** Address to open the TCP connection to instead of resolving `host` (curl's --resolve). */
  address?: string;
}

/** An error seen on the connection, and when. */
export interface TraceError {
  /** `ECONNRESET`, `ERR_SSL_TLSV1_ALERT_UNKNOWN_CA`, `UNABLE_TO_VERIFY_LEAF_SIGNATURE`, … */
  code: string | undefined;
  message: string;
  /** Before TCP connected, during the handshake, or after it completed. */
  phase: 'connect' | 'handshake' | 'after-handshake';
}

/** What happened on one connection. */
export interface ConnectionTrace {
  host: string;
  port: number;
  /** The address the TCP connection went to (after --resolve / DNS), once known. */
  address: string | undefined;
  /** SNI sent (undefined for IP addresses, RFC 6066 §3). */
  servername: string | undefined;
  tcpConnected: boolean;
  /** node:tls completed the handshake and accepted the server. */
  secureConnected: boolean;
  /** The plaintext part of the handshake, read off the wire. */
  transcript: HandshakeTranscript;
  /** Negotiated protocol (`TLSv1.2`) and cipher, once the handshake completed. */
  protocol: string | undefined;
  cipher: string | undefined;
  /** The server's chain as node:tls saw it (DER, leaf first), once the handshake completed. */
  peerCertificates: Buffer[] | undefined;
  /** Every error, in order. */
  errors: TraceError[];
  /**
   * The server closed the connection (TCP FIN or reset) before we did. False
   * when we gave up first (a timeout) or are still connected: only then may an
   * outcome say that the server closed.
   */
  peerClosed: boolean;
}

/** Options for {@link openConnection}. */
export interface OpenConnectionOptions {
  /** Give up on TCP connect plus handshake after this long (default 15 s). */
  handshakeTimeoutMs?: number;
  /** ALPN protocols to offer (default `http/1.1`). */
  alpnProtocols?: string[];
}

/**
 * Opens a TLS connection with the given client context and records a trace.
 * The returned socket emits `secureConnect` or `error` as a node:tls socket does.
 */
export function openConnection(
  target: ConnectTarget,
  context: ClientTlsContext,
  options: OpenConnectionOptions = {},
): { socket: TLSSocket; trace: ConnectionTrace } {
  const host = target.host.startsWith('[') ? target.host.slice(1, -1) : target.host;
  const servername = isIP(host) === 0 ? host : undefined;
  const observer = new HandshakeObserver();
  const trace: ConnectionTrace = {
    host,
    port: target.port,
    address: target.address,
    servername,
    tcpConnected: false,
    secureConnected: false,
    transcript: observer.transcript,
    protocol: undefined,
    cipher: undefined,
    peerCertificates: undefined,
    errors: [],
    peerClosed: false,
  };
  const raw = netConnect({ host: target.address ?? host, port: target.port });
  raw.once('connect', () => {
    trace.tcpConnected = true;
    trace.address = raw.remoteAddress ?? trace.address;
  });
  raw.once('end', () => {
    trace.peerClosed = true;
  });
  raw.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'ECONNRESET' || e.code === 'EPIPE') trace.peerClosed = true;
  });
  const socket = tlsConnect({
    socket: tapSocket(raw, observer),
    host,
    ...(servername ? { servername } : {}),
    secureContext: context.secureContext,
    ALPNProtocols: options.alpnProtocols ?? ['http/1.1'],
    rejectUnauthorized: true,
  });
  const timer = setTimeout(() => {
    const err = Object.assign(
      new Error(
        `no TLS handshake with ${host}:${target.port} within ${options.handshakeTimeoutMs ?? 15000} ms`,
      ),
      { code: 'ETIMEDOUT' },
    );
    socket.destroy(err);
  }, options.handshakeTimeoutMs ?? 15000);
  socket.once('secureConnect', () => {
    clearTimeout(timer);
    trace.secureConnected = true;
    trace.protocol = socket.getProtocol() ?? undefined;
    trace.cipher = socket.getCipher().name;
    trace.peerCertificates = peerChain(socket.getPeerCertificate(true));
  });
  socket.on('error', (e: NodeJS.ErrnoException) => {
    const phase = trace.secureConnected
      ? 'after-handshake'
      : trace.tcpConnected
        ? 'handshake'
        : 'connect';
    trace.errors.push({ code: e.code, message: e.message, phase });
  });
  socket.once('close', () => clearTimeout(timer));
  return { socket, trace };
}

/** The DER chain of a detailed peer certificate, leaf first. */
function peerChain(cert: PeerCertificate & { issuerCertificate?: PeerCertificate }): Buffer[] {
  const out: Buffer[] = [];
  let cur: (PeerCertificate & { issuerCertificate?: PeerCertificate }) | undefined = cert;
  while (cur?.raw) {
    const raw = cur.raw;
    // A self-signed root is its own issuer: stop at the first repeat.
    if (out.some((d) => d.equals(raw))) break;
    out.push(raw);
    cur = cur.issuerCertificate;
  }
  return out;
}
