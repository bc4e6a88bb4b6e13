/**
 * The mTLS listener: a plain TCP server that chooses trust by source IP
 * before any TLS byte is read, so the handshake trusts only the CAs of the
 * institutions registered for that address.
 *
 * 1. Accept TCP.
 * 2. Look up the institutions registered for the source address.
 * 3. None (or only suspended ones, or a registry too stale to trust): close
 *    at once, without a handshake, so strangers cost no crypto and learn
 *    nothing about the server.
 * 4. Otherwise hand the raw socket to the `tls.Server` that trusts exactly
 *    those institutions' CAs (`emit('connection')`); that server's
 *    `handshakeTimeout` bounds the handshake.
 *
 * Behind an L4 balancer (`proxyProtocol` not `off`), step 2 uses the client
 * address from the PROXY protocol header (proxy-protocol.ts) the balancer
 * writes before the ClientHello; the bytes read behind the header are put
 * back (`unshift`) and node:tls replays them into the handshake. The header
 * is believed only from a peer in `trustedProxies`: anyone else could name
 * any source address and so pick which institution's trust it is offered.
 * This module is the only place that reads a socket's peer address; the rest
 * of the gateway asks {@link MtlsListener.clientOf}.
 */
import net from 'node:net';
import { MtlsError, toMtlsError } from '../errors/index.js';
import { IpMatcher, normalizeIp } from './ip-match.js';
import {
  LocalConnectionSlots,
  type ConnectionSlot,
  type ConnectionSlots,
} from './connection-slots.js';
import { parseProxyHeader, type ProxyHeader, type ProxyParseResult } from './proxy-protocol.js';
import type { ClientOfSocket } from './tenant-server.js';
import type { TrustCache, TrustLookup } from './trust-cache.js';

/**
 * The socket a server-side TLS socket wraps. node:tls keeps it as `_parent`
 * (lib/_tls_wrap.js); the TLS socket itself forgets its peer's address once
 * the connection is gone, and a handshake error is reported just then.
 */
function wrappedSocketOf(tlsSocket: object): object | undefined {
  const parent: unknown = Reflect.get(tlsSocket, '_parent');
  return typeof parent === 'object' && parent !== null ? parent : undefined;
}

/**
 * Whether the listener reads a PROXY protocol header first:
 * - `off`: never; the TCP peer is the client.
 * - `required`: every connection must come from a trusted proxy and start
 *   with a header (a v2 LOCAL header, a balancer's health check, stands for
 *   the balancer itself).
 * - `optional`: a trusted proxy may send a header or not; any other peer is a
 *   direct client and is refused if it sends one. The specification warns
 *   against guessing whether a header is present, because guessing lets
 *   anyone spoof an address; here the guess is made only for trusted peers,
 *   and it is unambiguous because a TLS record starts with 0x16, which is
 *   neither "P" (v1) nor CR (v2). Meant for switching a balancer over.
 */
export type ProxyProtocolMode = 'off' | 'optional' | 'required';

/** The audit reasons of connections the PROXY protocol stage refuses. */
export type ProxyRefusalReason =
  'proxy_untrusted' | 'proxy_header_missing' | 'proxy_header_invalid';

/** PROXY protocol settings of {@link MtlsListener}. */
export interface ListenerProxyProtocol {
  mode: ProxyProtocolMode;
  /** Canonical CIDRs of the balancers whose headers are believed. */
  trustedProxies: readonly string[];
  /** Time from accept to a complete header (slowloris bound). */
  headerTimeoutMs: number;
}

/** Options for {@link MtlsListener}. */
export interface MtlsListenerOptions {
  host: string;
  port: number;
  /** Concurrent connections (net.Server maxConnections). */
  maxConnections: number;
  /**
   * Concurrent connections handed to the TLS servers from one client
   * address (after the PROXY protocol); null or absent: no limit. Counted
   * where {@link connectionSlots} counts.
   */
  maxConnectionsPerIp?: number | null;
  /**
   * Where the per-address slots are counted (default: in this process; a
   * worker asks its primary, see connection-slots.ts).
   */
  connectionSlots?: ConnectionSlots;
  /**
   * Called for a registered client's connection closed before the handshake
   * because its address had `maxConnectionsPerIp` open (for the audit).
   */
  onLimited?: (ip: string, lookup: Extract<TrustLookup, { kind: 'tenant' }>, limit: number) => void;
  trust: TrustCache;
  /** Called for a connection closed before the handshake (for the audit). */
  onRefused: (
    ip: string,
    lookup: Extract<TrustLookup, { kind: 'unregistered' | 'suspended' | 'unavailable' }>,
  ) => void;
  /** Called when a socket opens or closes (metrics). */
  onCountChange?: (open: number) => void;
  /** Called when the lookup itself fails (the socket is closed: fail closed). */
  onError?: (error: Error, ip: string) => void;
  /** PROXY protocol (default off). */
  proxyProtocol?: ListenerProxyProtocol;
  /**
   * Called for a connection the PROXY protocol stage closed before the
   * handshake, with the real TCP peer (for the audit).
   */
  onProxyRefused?: (peer: string, reason: ProxyRefusalReason, detail: string) => void;
}

/** The TCP front of the gateway. */
export class MtlsListener {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  /**
   * The client of each socket handed to a TLS server (see {@link clientOf}),
   * by the socket itself: gone with it, and found even after the connection
   * has closed, when its address no longer is.
   */
  private readonly clients = new WeakMap<object, ClientOfSocket>();
  private readonly slots: ConnectionSlots;
  private readonly proxy: ListenerProxyProtocol | null;
  private readonly trusted = new IpMatcher<true>();

  constructor(private readonly options: MtlsListenerOptions) {
    this.server = net.createServer({ pauseOnConnect: false, noDelay: true }, (socket) =>
      this.onConnection(socket),
    );
    this.server.maxConnections = options.maxConnections;
    this.slots = options.connectionSlots ?? new LocalConnectionSlots();
    this.proxy =
      options.proxyProtocol && options.proxyProtocol.mode !== 'off' ? options.proxyProtocol : null;
    for (const cidr of this.proxy?.trustedProxies ?? []) this.trusted.add(cidr, true);
  }

  private onConnection(socket: net.Socket): void {
    const peer = normalizeIp(socket.remoteAddress ?? '');
    this.sockets.add(socket);
    this.options.onCountChange?.(this.sockets.size);
    socket.once('close', () => {
      this.sockets.delete(socket);
      this.options.onCountChange?.(this.sockets.size);
    });
    socket.on('error', () => undefined);
    const proxy = this.proxy;
    if (!proxy) {
      this.admit(socket, peer);
      return;
    }
    const trusted = this.trusted.match(peer).length > 0;
    if (trusted) {
      this.readHeader(socket, peer, proxy);
      return;
    }
    if (proxy.mode === 'required') {
      // Every connection must come through the balancer: refuse at once,
      // without reading a byte, whatever the peer would have sent.
      this.refuseProxy(
        socket,
        peer,
        'proxy_untrusted',
        `${peer} is not in trustedProxies and proxyProtocol is required; closed before reading`,
      );
      return;
    }
    this.peekUntrusted(socket, peer, proxy);
  }

  /**
   * A trusted balancer's connection: reads the header (split across segments
   * or not), then hands the socket over with the bytes behind the header put back.
   */
  private readHeader(socket: net.Socket, peer: string, proxy: ListenerProxyProtocol): void {
    this.readFirstBytes(
      socket,
      proxy.headerTimeoutMs,
      (r, buffered) => {
        if (r.kind === 'ok') {
          if (r.rest.length > 0) socket.unshift(r.rest);
          this.admit(socket, clientAddress(r.header, peer));
        } else if (r.reason !== 'no-signature') {
          this.refuseProxy(
            socket,
            peer,
            'proxy_header_invalid',
            `${r.detail} (from trusted proxy ${peer}); closed before the handshake`,
          );
        } else if (proxy.mode === 'optional') {
          socket.unshift(buffered);
          this.admit(socket, peer);
        } else {
          this.refuseProxy(
            socket,
            peer,
            'proxy_header_missing',
            `trusted proxy ${peer} sent no PROXY protocol header (the first bytes are not a signature); closed before the handshake`,
          );
        }
      },
      (why, buffered) => {
        if (buffered.length > 0) {
          this.refuseProxy(
            socket,
            peer,
            'proxy_header_invalid',
            `incomplete PROXY protocol header (${buffered.length} bytes) from trusted proxy ${peer}: ${why}; closed before the handshake`,
          );
        } else if (proxy.mode === 'optional') {
          // Nothing sent at all: as for any direct client, the TLS server's own
          // timeout and end-of-stream handling decide.
          this.admit(socket, peer);
        } else {
          this.refuseProxy(
            socket,
            peer,
            'proxy_header_missing',
            `trusted proxy ${peer} sent no PROXY protocol header: ${why}; closed before the handshake`,
          );
        }
      },
    );
  }

  /**
   * `optional` mode, a peer outside trustedProxies: a direct client. A
   * stranger is refused at once as with the protocol off; a registered peer's
   * first bytes are looked at so that a PROXY header from it (an attempt to
   * choose its own address) is refused and audited rather than replayed.
   */
  private peekUntrusted(socket: net.Socket, peer: string, proxy: ListenerProxyProtocol): void {
    const lookup = this.lookupOrClose(socket, peer);
    if (!lookup) return;
    if (lookup.kind !== 'tenant') {
      this.refuse(socket, peer, lookup);
      return;
    }
    this.readFirstBytes(
      socket,
      proxy.headerTimeoutMs,
      (r, buffered) => {
        if (r.kind === 'invalid' && r.reason === 'no-signature') {
          socket.unshift(buffered);
          this.admit(socket, peer);
          return;
        }
        this.refuseProxy(
          socket,
          peer,
          'proxy_untrusted',
          `${peer} sent a PROXY protocol header but is not in trustedProxies; closed before the handshake`,
        );
      },
      (why, buffered) => {
        if (buffered.length > 0) {
          this.refuseProxy(
            socket,
            peer,
            'proxy_untrusted',
            `${peer} began a PROXY protocol header (${why}) but is not in trustedProxies; closed before the handshake`,
          );
        } else this.admit(socket, peer);
      },
    );
  }

  /**
   * Reads the socket's first bytes through {@link parseProxyHeader} until it
   * decides (`onDecided` with the verdict and every byte read), or the peer
   * ends the stream or `timeoutMs` passes (`onGiveUp`). Either is called once,
   * with the socket paused and no longer watched, so later bytes stay queued
   * for the TLS server.
   */
  private readFirstBytes(
    socket: net.Socket,
    timeoutMs: number,
    onDecided: (result: Exclude<ProxyParseResult, { kind: 'need-more' }>, buffered: Buffer) => void,
    onGiveUp: (why: string, buffered: Buffer) => void,
  ): void {
    let buffered: Buffer = Buffer.alloc(0);
    let done = false;
    const stop = (): boolean => {
      if (done) return false;
      done = true;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onClose);
      socket.pause();
      return true;
    };
    const onData = (chunk: Buffer): void => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      const r = parseProxyHeader(buffered);
      if (r.kind !== 'need-more' && stop()) onDecided(r, buffered);
    };
    const giveUp = (why: string): void => {
      if (stop()) onGiveUp(why, buffered);
    };
    const onEnd = (): void => giveUp('the peer closed the connection');
    const onClose = (): void => void stop();
    const timer = setTimeout(() => giveUp(`not complete within ${timeoutMs} ms`), timeoutMs);
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onClose);
  }

  private lookupOrClose(socket: net.Socket, ip: string): TrustLookup | null {
    try {
      return this.options.trust.lookup(ip);
    } catch (e) {
      this.options.onError?.(toMtlsError(e), ip);
      socket.destroy();
      return null;
    }
  }

  /** Looks the client address up and hands the socket to its tenant TLS server, or refuses it. */
  private admit(socket: net.Socket, ip: string): void {
    if (socket.destroyed) return;
    const lookup = this.lookupOrClose(socket, ip);
    if (!lookup) return;
    if (lookup.kind !== 'tenant') {
      this.refuse(socket, ip, lookup);
      return;
    }
    // Strangers were refused above whatever their count; a registered
    // address is held to its share, so that one institution cannot take
    // every slot of maxConnections from the others.
    const limit = this.options.maxConnectionsPerIp ?? null;
    if (limit === null) {
      this.handOver(socket, ip, lookup);
      return;
    }
    const slot = this.slots.acquire(ip, limit);
    if (!(slot instanceof Promise)) {
      this.withSlot(socket, ip, lookup, limit, slot);
      return;
    }
    // Bytes that arrive meanwhile wait in the socket's buffer; node:tls
    // reads them when it wraps the socket, as after a PROXY header.
    slot.then(
      (taken) => this.withSlot(socket, ip, lookup, limit, taken),
      (e: unknown) => {
        this.options.onError?.(toMtlsError(e), ip);
        socket.destroy();
      },
    );
  }

  /** Hands over a connection that got its address's slot, or refuses one that did not. */
  private withSlot(
    socket: net.Socket,
    ip: string,
    lookup: Extract<TrustLookup, { kind: 'tenant' }>,
    limit: number,
    slot: ConnectionSlot | null,
  ): void {
    if (!slot) {
      this.options.onLimited?.(ip, lookup, limit);
      reset(socket);
      return;
    }
    if (socket.destroyed) {
      slot.release();
      return;
    }
    socket.once('close', () => slot.release());
    this.handOver(socket, ip, lookup);
  }

  private handOver(
    socket: net.Socket,
    ip: string,
    lookup: Extract<TrustLookup, { kind: 'tenant' }>,
  ): void {
    this.clients.set(socket, { ip, lookup });
    lookup.tenant.server.emit('connection', socket);
  }

  private refuse(
    socket: net.Socket,
    ip: string,
    lookup: Extract<TrustLookup, { kind: 'unregistered' | 'suspended' | 'unavailable' }>,
  ): void {
    this.options.onRefused(ip, lookup);
    reset(socket);
  }

  private refuseProxy(
    socket: net.Socket,
    peer: string,
    reason: ProxyRefusalReason,
    detail: string,
  ): void {
    this.options.onProxyRefused?.(peer, reason, detail);
    reset(socket);
  }

  /**
   * The client of a TLS socket over a socket this listener handed over (its
   * address, after the PROXY protocol, and the lookup made for it), or of
   * that socket itself; undefined for any other. It is known for as long as
   * the socket object lives: a client that closes during the handshake is
   * still audited with its address.
   */
  clientOf(socket: object): ClientOfSocket | undefined {
    return this.clients.get(wrappedSocketOf(socket) ?? socket);
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
    const address = this.server.address();
    // A TCP server bound to host:port: never a pipe name, null only before listen().
    if (address === null || typeof address === 'string')
      throw new MtlsError('MTLS_INTERNAL', 'the mTLS listener is not bound to a TCP port');
    return address;
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

/** The client address a header names, or the real peer when it names none (LOCAL, UNKNOWN, UNSPEC, AF_UNIX). */
function clientAddress(header: ProxyHeader, peer: string): string {
  return header.source ? normalizeIp(header.source.address) : peer;
}

/** RST rather than FIN: no handshake, no TIME_WAIT kept for a refused peer. */
function reset(socket: net.Socket): void {
  if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
  else socket.destroy();
}
