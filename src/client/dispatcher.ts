/**
 * mTLS for Node applications: an undici dispatcher and an `https.Agent`
 * carrying the same client certificate, server trust and TLS 1.2 pin that
 * `mtls request` uses.
 */
import { Agent as HttpsAgent, type AgentOptions as HttpsAgentOptions } from 'node:https';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { Agent, type buildConnector } from 'undici';
import { MtlsError } from '../errors/index.js';
import {
  createClientTlsContext,
  type ClientTlsContext,
  type ClientTlsSettings,
} from '../tls/client-context.js';
import { openConnection, type ConnectionTrace } from './connection.js';

/** One `--resolve host:port:address` entry. */
export interface ResolveEntry {
  host: string;
  port: number;
  address: string;
}

/** Options shared by {@link createMtlsDispatcher} and {@link createMtlsAgent}. */
export interface MtlsClientOptions extends ClientTlsSettings {
  /** Connect to these addresses for these host:port pairs, keeping the host name for SNI and verification (curl's --resolve). */
  resolve?: ResolveEntry[];
  /** Give up on TCP connect plus TLS handshake after this long (default 15 s). */
  handshakeTimeoutMs?: number;
  /** Called with the live trace of every new connection (for diagnostics). */
  onConnection?: (trace: ConnectionTrace) => void;
}

/**
 * Parses curl's `--resolve host:port:address` (IPv6 addresses may be in brackets).
 * @throws MTLS_BAD_ARGUMENT when it has not that form
 */
export function parseResolveEntry(value: string): ResolveEntry {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5}):(.+)$/.exec(value.trim());
  const address = (m?.[3] ?? '').replace(/^\[(.*)\]$/, '$1');
  const port = m ? Number(m[2]) : 0;
  if (!m || isIP(address) === 0 || port < 1 || port > 65535) {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `--resolve "${value}" is not HOST:PORT:ADDRESS with an IP address`,
      {
        subject: '--resolve',
        hint: 'Write it as curl does, e.g. --resolve api.example.com:443:203.0.113.7',
      },
    );
  }
  return { host: (m[1] ?? '').replace(/^\[(.*)\]$/, '$1').toLowerCase(), port, address };
}

/**
 * The address `--resolve` gives for a host and port (host matched without
 * IPv6 brackets, case-insensitively), or undefined when none applies.
 */
export function addressFor(
  resolve: readonly ResolveEntry[] | undefined,
  host: string,
  port: number,
): string | undefined {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return resolve?.find((r) => r.host === h && r.port === port)?.address;
}

/**
 * Builds an undici connector that opens each connection through
 * {@link openConnection} with one shared client context.
 */
function mtlsConnector(
  context: ClientTlsContext,
  options: MtlsClientOptions,
): buildConnector.connector {
  return (opts, callback) => {
    if (opts.protocol !== 'https:') {
      callback(
        new MtlsError(
          'MTLS_BAD_ARGUMENT',
          `an mTLS call needs an https:// URL, not ${opts.protocol}//${opts.hostname}`,
          { subject: 'URL' },
        ),
        null,
      );
      return;
    }
    const port = Number(opts.port) || 443;
    const { socket, trace } = openConnection(
      { host: opts.hostname, port, address: addressFor(options.resolve, opts.hostname, port) },
      context,
      options.handshakeTimeoutMs === undefined
        ? {}
        : { handshakeTimeoutMs: options.handshakeTimeoutMs },
    );
    options.onConnection?.(trace);
    const onError = (err: Error): void => {
      socket.off('secureConnect', onSecure);
      callback(err, null);
    };
    const onSecure = (): void => {
      socket.off('error', onError);
      callback(null, socket);
    };
    socket.once('error', onError);
    socket.once('secureConnect', onSecure);
  };
}

/**
 * Creates an undici dispatcher (an `Agent`) for mTLS calls: client
 * certificate, server trust (default the system roots), TLS 1.2 pinned
 * (default), forward-secret ciphers, HTTP/1.1.
 *
 * @example
 * ```ts
 * const credentials = await loadClientCredentials({ pfxPath: 'client.pfx', password });
 * const dispatcher = createMtlsDispatcher({ credentials, ca: await loadCaBundle('provider-ca.pem') });
 * const res = await request('https://api.example.com/v1/ping', { dispatcher });
 * ```
 * @throws MTLS_BAD_ARGUMENT for an unknown `tls` choice
 * @throws MTLS_KEY_TOO_WEAK, MTLS_KEY_MISMATCH, MTLS_KEY_UNSUPPORTED, MTLS_CONFIG_INVALID when OpenSSL refuses the TLS material ({@link createClientTlsContext})
 */
export function createMtlsDispatcher(options: MtlsClientOptions = {}): Agent {
  const context = createClientTlsContext(options);
  return new Agent({ connect: mtlsConnector(context, options) });
}

/** Options for {@link createMtlsAgent}. */
export interface MtlsAgentOptions extends MtlsClientOptions {
  /** Keep connections open for reuse (default true). */
  keepAlive?: boolean;
  /** Maximum sockets per origin (default Infinity, as https.Agent). */
  maxSockets?: number;
}

/**
 * An `https.Agent` with the same mTLS setup as {@link createMtlsDispatcher},
 * for `https.request`, axios, node-fetch and other clients built on node:https.
 * @throws MTLS_BAD_ARGUMENT for an unknown `tls` choice
 * @throws MTLS_KEY_TOO_WEAK, MTLS_KEY_MISMATCH, MTLS_KEY_UNSUPPORTED, MTLS_CONFIG_INVALID when OpenSSL refuses the TLS material ({@link createClientTlsContext})
 */
export function createMtlsAgent(options: MtlsAgentOptions = {}): HttpsAgent {
  const context = createClientTlsContext(options);
  const agentOptions: HttpsAgentOptions = {
    keepAlive: options.keepAlive ?? true,
    ...(options.maxSockets ? { maxSockets: options.maxSockets } : {}),
  };
  return new MtlsHttpsAgent(agentOptions, context, options);
}

/** https.Agent whose sockets come from {@link openConnection}. */
class MtlsHttpsAgent extends HttpsAgent {
  constructor(
    agentOptions: HttpsAgentOptions,
    private readonly context: ClientTlsContext,
    private readonly mtls: MtlsClientOptions,
  ) {
    super(agentOptions);
  }

  /** Opens the TLS connection for one request (called by http.Agent). */
  override createConnection(options: {
    host?: string | null;
    hostname?: string | null;
    port?: number | string | null;
  }): Duplex {
    const host = options.hostname ?? options.host ?? 'localhost';
    const port = Number(options.port) || 443;
    const { socket, trace } = openConnection(
      { host, port, address: addressFor(this.mtls.resolve, host, port) },
      this.context,
      this.mtls.handshakeTimeoutMs === undefined
        ? {}
        : { handshakeTimeoutMs: this.mtls.handshakeTimeoutMs },
    );
    this.mtls.onConnection?.(trace);
    return socket;
  }
}
