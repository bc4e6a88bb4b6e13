/**
 * The mTLS listener: a plain TCP server that chooses trust by source IP
 * before any TLS byte is read (DESIGN "The gateway's core idea").
 *
 * 1. Accept TCP.
 * 2. Look up the institutions registered for the source address.
 * 3. None (or only suspended ones, or a registry too stale to trust): close
 *    at once, without a handshake, so strangers cost no crypto and learn
 *    nothing about the server.
 * 4. Otherwise hand the raw socket to the `tls.Server` that trusts exactly
 *    those institutions' CAs (`emit('connection')`); that server's
 *    `handshakeTimeout` bounds the handshake.
 */
import net from 'node:net';
import { normalizeIp } from './ip-match.js';
import type { TrustCache, TrustLookup } from './trust-cache.js';

/** Options for {@link MtlsListener}. */
export interface MtlsListenerOptions {
  host: string;
  port: number;
  /** Concurrent connections (net.Server maxConnections). */
  maxConnections: number;
  trust: TrustCache;
  /** Called for a connection closed before the handshake (for the audit). */
  onRefused: (ip: string, lookup: Extract<TrustLookup, { kind: 'unregistered' | 'suspended' | 'unavailable' }>) => void;
  /** Called when a socket opens or closes (metrics). */
  onCountChange?: (open: number) => void;
  /** Called when the lookup itself fails (the socket is closed: fail closed). */
  onError?: (error: Error, ip: string) => void;
}

/** The TCP front of the gateway. */
export class MtlsListener {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  /** The lookup made on accept, by `address|port`, until the socket closes (see {@link acceptLookup}). */
  private readonly lookups = new Map<string, TrustLookup>();

  constructor(private readonly options: MtlsListenerOptions) {
    this.server = net.createServer({ pauseOnConnect: false, noDelay: true }, (socket) => this.onConnection(socket));
    this.server.maxConnections = options.maxConnections;
  }

  private onConnection(socket: net.Socket): void {
    const ip = normalizeIp(socket.remoteAddress ?? '');
    this.sockets.add(socket);
    this.options.onCountChange?.(this.sockets.size);
    socket.once('close', () => {
      this.sockets.delete(socket);
      this.options.onCountChange?.(this.sockets.size);
    });
    socket.on('error', () => undefined);
    let lookup: TrustLookup;
    try {
      lookup = this.options.trust.lookup(ip);
    } catch (e) {
      this.options.onError?.(e as Error, ip);
      socket.destroy();
      return;
    }
    if (lookup.kind === 'tenant') {
      const key = `${socket.remoteAddress ?? ''}|${socket.remotePort ?? ''}`;
      this.lookups.set(key, lookup);
      socket.once('close', () => this.lookups.delete(key));
    }
    if (lookup.kind !== 'tenant') {
      this.options.onRefused(ip, lookup);
      // RST rather than FIN: no handshake, no TIME_WAIT kept for a stranger.
      if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
      else socket.destroy();
      return;
    }
    lookup.tenant.server.emit('connection', socket);
  }

  /**
   * The trust lookup made when the connection from this peer address and
   * port was accepted (it stays until that TCP connection closes), so the
   * post-handshake path need not look the address up again.
   */
  acceptLookup(remoteAddress: string | undefined, remotePort: number | undefined): TrustLookup | undefined {
    return this.lookups.get(`${remoteAddress ?? ''}|${remotePort ?? ''}`);
  }

  /**
   * Binds the port.
   * @throws the listen error (EADDRINUSE, EACCES, EADDRNOTAVAIL) as a Node error
   */
  start(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      // Not `exclusive`: in a cluster worker the listening socket is the one
      // the primary bound and shares with every worker (see workers/primary.ts);
      // in a single process the flag changes nothing.
      this.server.listen({ host: this.options.host, port: this.options.port }, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  /** The bound address. */
  address(): net.AddressInfo {
    return this.server.address() as net.AddressInfo;
  }

  /** True while the port is bound. */
  get listening(): boolean {
    return this.server.listening;
  }

  /** Stops accepting new connections; open ones continue. */
  stopAccepting(): void {
    if (this.server.listening) this.server.close();
  }

  /** Open TCP connections. */
  get openConnections(): number {
    return this.sockets.size;
  }

  /** Destroys every open connection. */
  destroyAll(): void {
    for (const s of this.sockets) s.destroy();
  }
}
