/**
 * The request handler: one `http.Server` (it never listens) parses requests
 * on admitted TLS sockets, checks the connection's decision against the
 * snapshot in service, and forwards accepted requests with the identity
 * headers. Every request, refused or forwarded, becomes one audit record.
 *
 * Every request gets an id (a UUID, see request-id.ts): the upstream
 * receives it, every answer carries it in the same header (and in the body
 * of the gateway's own refusals), and the request's audit record holds it, so
 * an institution quoting it to support names exactly one record.
 *
 * What the client is told (the operator gets the reason and detail in the audit;
 * every body below also carries `"requestId"`):
 * - the connection's certificate was refused: 403 `{"error":"<reason>"}`, `Connection: close`;
 * - a malformed request: 400 (431 for oversized headers, 408 when it is not
 *   complete within `limits.requestTimeoutMs`) `{"error":"bad_request"}`, and
 *   the connection closed (see {@link replyAndClose}); among them an HTTP/1.1
 *   request without Host, a repeated singleton header and a fragment in the
 *   target (see {@link requestFault});
 * - Upgrade / CONNECT, or a transfer coding other than chunked: 501
 *   `{"error":"bad_request"}` (not proxied); `HTTP/2.0` or `HTTP/0.9` in
 *   text form: 505;
 * - over the institution's request rate (rate-limit.ts): 429
 *   `{"error":"rate_limited"}` with Retry-After, the connection kept open;
 * - upstream failure: 502/504 `{"error":"upstream_error"}`;
 * - still in flight when the drain time runs out at shutdown: the connection
 *   closed, no answer (or the rest of it) (`drain_timeout` in the audit).
 */
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { MtlsError, toMtlsError } from '../errors/index.js';
import { makeAuditRecord } from './audit.js';
import type { ConnectionState } from './connection-state.js';
import { PerObjectMemo } from './memo.js';
import { newRequestId } from './request-id.js';
import { replyAndClose } from './reply-and-close.js';
import type { RateLimiter } from './rate-limit.js';
import type { CertInfo } from './peer-cert.js';
import {
  buildUpstreamHeaders,
  identityHeaderPairs,
  type ClientIdentity,
  type IdentityHeaderNames,
} from './identity-headers.js';
import type { PolicyDecision } from './policy.js';
import {
  requestHasBody,
  sendReason,
  type ForwardOptions,
  type ForwardResult,
  type RequestIdHeader,
} from './proxy.js';
import type { AuditReason, AuditRecord, RequestRate } from './registry/types.js';

/** Optional request fields of a request audit record. */
type RequestRecordExtra = {
  requestId?: string | null;
  method?: string | null;
  path?: string | null;
  status?: number | null;
  durationMs?: number | null;
};

/**
 * A request in flight that the gateway itself cut short: its audit record
 * says this, not what the forward saw of the cut (the client connection gone,
 * 499, or the upstream pool destroyed, 502).
 */
interface RequestCut {
  reason: AuditReason;
  /** What the client got: the gateway's own answer, the upstream's status once it had started, or null for nothing. */
  status: number | null;
  detail: string;
}

/** Options for {@link RequestHandler}. */
export interface RequestHandlerOptions {
  limits: { maxHeaderBytes: number; requestTimeoutMs: number; keepAliveTimeoutMs: number };
  identityHeaders: IdentityHeaderNames;
  /** The state of an admitted socket (undefined for a socket that was never admitted: refused). */
  stateOf: (socket: object) => ConnectionState | undefined;
  /** The connection's decision against the snapshot in service now. */
  decide: (state: ConnectionState) => Promise<PolicyDecision>;
  /** Forwards an accepted request upstream with the given raw headers, answering the client. */
  forward: (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    headers: string[],
    options: ForwardOptions,
  ) => Promise<ForwardResult>;
  audit: (record: AuditRecord) => void;
  /**
   * Set for `audit.durability: durable`: commits a request's record before
   * its answer leaves (rejects when the registry cannot store it).
   */
  commit?: (record: AuditRecord) => Promise<void>;
  logger: Logger;
  /** Called when a forward starts and ends (in-flight gauge). */
  onForward?: (delta: 1 | -1) => void;
  /** Request rate limits per institution; none when absent. */
  rateLimit?: {
    limiter: RateLimiter;
    /**
     * The institution's rate: its own from the registry, else the gateway's
     * `limits.institutionRequestsPerSecond`; null when neither is set.
     */
    rateOf(institutionId: string): AppliedRate | null;
  };
}

/** The request rate that applies to an institution. */
export interface AppliedRate {
  rate: RequestRate;
  /** Its own rate from the registry (else the gateway's `limits`). */
  own: boolean;
}

/** The upstream identity of an accepted decision. */
export function identityOf(decision: PolicyDecision): ClientIdentity {
  const leaf = decision.leaf;
  if (!leaf || !decision.institutionId)
    throw new MtlsError(
      'MTLS_INTERNAL',
      'an accepted connection has no certificate or institution',
    );
  return {
    institutionId: decision.institutionId,
    subject: leaf.rfc4514.subject,
    issuer: leaf.rfc4514.issuer,
    serial: leaf.serial,
    fingerprintSha256: leaf.fingerprint,
    certDer: leaf.der,
    chainDer: decision.chain.map((c) => c.der),
  };
}

/** The request path without its query (which may carry secrets), at most 2048 characters. */
export function requestPath(req: http.IncomingMessage): string | null {
  const url = req.url ?? null;
  if (url === null) return null;
  const q = url.indexOf('?');
  return (q >= 0 ? url.slice(0, q) : url).slice(0, 2048);
}

/**
 * Header fields that must occur at most once and whose repetition would let
 * the gateway and the upstream read one request two ways: which virtual host
 * it is for (Host, RFC 9112 §3.2), how its body is parsed (Content-Type) and
 * whose credentials it carries (Authorization). Repeated Content-Length and
 * Content-Length with Transfer-Encoding are refused by node:http's parser
 * already (RFC 9112 §6.3), as a parse error.
 */
const SINGLETON_HEADERS = new Set(['host', 'content-type', 'authorization']);

/** Why a request is refused before forwarding: the status to answer and the operator detail. */
export interface RequestFault {
  status: 400 | 501 | 505;
  detail: string;
}

/**
 * Why a parsed request must not be forwarded, or null when it may. Each is a
 * request the gateway and the upstream could read two ways, or one the
 * gateway cannot pass on as it came:
 * - an HTTP major version other than 1 (RFC 9110 §15.6.6: 505): node:http's
 *   parser takes `HTTP/2.0` and `HTTP/0.9` in text form (and refuses other
 *   versions itself, as a parse error: 400);
 * - an HTTP/1.1 request without Host (RFC 9112 §3.2: 400). node:http would
 *   answer it itself, before the gateway could audit it, so the parser runs
 *   with `requireHostHeader: false` and the check is here;
 * - a {@link SINGLETON_HEADERS} field sent more than once (400);
 * - a transfer coding other than chunked (RFC 9112 §6.1: 501). node:http
 *   decodes chunked only; `gzip, chunked` would reach the upstream as the
 *   gzip bytes, with no coding named, as if they were the body;
 * - a fragment in the request target (400): origin-form has none (RFC 9112
 *   §3.2.1), and a client sends it only to be misread.
 */
export function requestFault(
  req: Pick<http.IncomingMessage, 'httpVersionMajor' | 'httpVersionMinor' | 'rawHeaders' | 'url'>,
): RequestFault | null {
  if (req.httpVersionMajor !== 1) {
    return {
      status: 505,
      detail: `HTTP/${req.httpVersionMajor}.${req.httpVersionMinor} is not supported; the gateway speaks HTTP/1.1 (RFC 9110 §15.6.6)`,
    };
  }
  const raw = req.rawHeaders;
  let seen: Map<string, number> | null = null;
  let host = false;
  let codings: string[] | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] ?? '').toLowerCase();
    if (name === 'transfer-encoding') {
      codings ??= [];
      for (const c of (raw[i + 1] ?? '').split(',')) codings.push(c.trim().toLowerCase());
      continue;
    }
    if (!SINGLETON_HEADERS.has(name)) continue;
    if (name === 'host') host = true;
    seen ??= new Map();
    seen.set(name, (seen.get(name) ?? 0) + 1);
  }
  if (seen) {
    for (const [name, n] of seen)
      if (n > 1)
        return {
          status: 400,
          detail: `${n} ${name} header fields; at most one is allowed (RFC 9110 §5.3)`,
        };
  }
  if (req.httpVersionMinor >= 1 && !host)
    return {
      status: 400,
      detail: 'an HTTP/1.1 request without a Host header field (RFC 9112 §3.2)',
    };
  if (codings && (codings.length !== 1 || codings[0] !== 'chunked'))
    return {
      status: 501,
      detail: `transfer coding "${codings.join(', ')}" is not implemented; only chunked is (RFC 9112 §6.1)`,
    };
  if (req.url?.includes('#'))
    return {
      status: 400,
      detail: 'a fragment (#) in the request target; origin-form has none (RFC 9112 §3.2.1)',
    };
  return null;
}

/**
 * A complete `Connection: close` response with a JSON reason and the request
 * id (header and body), for a socket outside http.ServerResponse.
 */
function rawReply(status: number, text: string, requestId: RequestIdHeader): string {
  const body = `${JSON.stringify({ error: 'bad_request', requestId: requestId.id })}\n`;
  return `HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nCache-Control: no-store\r\n${requestId.header}: ${requestId.id}\r\nConnection: close\r\n\r\n${body}`;
}

/** Parses, checks, forwards and audits requests on admitted connections; tracks them for the drain. */
export class RequestHandler {
  /** The HTTP server (never listening) that parses requests. */
  readonly server: http.Server;
  /** The responses of the requests in flight, with each request's id. */
  private readonly active = new Map<http.ServerResponse, RequestIdHeader>();
  /** Requests in flight the gateway cut (see {@link RequestCut}). */
  private readonly cuts = new WeakMap<http.ServerResponse, RequestCut>();
  /** Connections closed after the gateway's last answer (see {@link onClientError}). */
  private readonly closing = new WeakSet<Duplex>();
  /**
   * Connections whose request was answered (the upstream's early answer, a
   * refusal) before its body had arrived: node:http goes on reading the rest,
   * and an error meanwhile (the request timeout) belongs to that request,
   * answered and audited already; a second answer on the connection would
   * be one the client never asked for.
   */
  private readonly answeredEarly = new WeakSet<Duplex>();
  private draining = false;
  private inFlightCount = 0;
  private idleWaiters: Array<() => void> = [];
  /**
   * Identity headers by client certificate, then by institution and path:
   * they are a function of those alone (the parsed certificates come from
   * the trust cache's shared cache, one object per certificate), so a client
   * that opens a connection per request has its certificates base64-encoded
   * and its names escaped once, not on every connection.
   */
  private readonly identityCache = new PerObjectMemo<CertInfo, Array<[string, string]>>();

  constructor(private readonly options: RequestHandlerOptions) {
    const limits = options.limits;
    this.server = http.createServer(
      {
        maxHeaderSize: limits.maxHeaderBytes,
        requestTimeout: limits.requestTimeoutMs,
        headersTimeout: Math.min(limits.requestTimeoutMs, 30_000),
        keepAliveTimeout: limits.keepAliveTimeoutMs,
        connectionsCheckingInterval: 1_000,
        // Checked by requestFault, so that the refusal is audited.
        requireHostHeader: false,
      },
      (req, res) => void this.onRequest(req, res),
    );
    // This server never listens (sockets arrive via emit('connection')), so its
    // request/headers timeouts and idle-connection tracking, which node:http
    // starts on 'listening', are started here explicitly.
    this.server.emit('listening');
    this.server.on('clientError', (err: Error & { code?: string }, socket: Duplex) =>
      this.onClientError(err, socket),
    );
    this.server.on('upgrade', (req: http.IncomingMessage, socket: Duplex) =>
      this.refuseUpgrade(req, socket),
    );
    this.server.on('connect', (req: http.IncomingMessage, socket: Duplex) =>
      this.refuseUpgrade(req, socket),
    );
  }

  /** Hands an admitted socket to the HTTP parser. */
  accept(socket: Duplex): void {
    this.server.emit('connection', socket);
  }

  /** Requests being handled now. */
  get inFlight(): number {
    return this.inFlightCount;
  }

  /**
   * Starts the drain: responses not yet started and every later one close
   * their connection, and idle keep-alive connections are closed (now and
   * every 100 ms until {@link closeAll}).
   */
  startDrain(): void {
    this.draining = true;
    for (const res of this.active.keys()) if (!res.headersSent) res.shouldKeepAlive = false;
    this.server.closeIdleConnections();
  }

  /**
   * Waits until no request is in flight, at most `timeoutMs`, closing idle
   * connections as they become idle.
   * @returns true when every request finished in time
   */
  async waitIdle(timeoutMs: number): Promise<boolean> {
    if (this.inFlightCount === 0) return true;
    const sweep = setInterval(() => this.server.closeIdleConnections(), 100);
    try {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, timeoutMs);
        this.idleWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    } finally {
      clearInterval(sweep);
    }
    return this.inFlightCount === 0;
  }

  /**
   * Cuts every connection still open and closes the server. A request still
   * in flight (the drain time ran out) gets one audit record, `drain_timeout`,
   * once its forward has ended (see {@link RequestCut}).
   * @param drainTimeoutMs - the drain time that ran out, for that record's detail
   */
  closeAll(drainTimeoutMs?: number): void {
    const waited = drainTimeoutMs === undefined ? '' : ` (${drainTimeoutMs} ms)`;
    for (const res of this.active.keys()) {
      this.cuts.set(res, {
        reason: 'drain_timeout',
        status: res.headersSent ? res.statusCode : null,
        detail: `still in flight when the drain time${waited} ran out at shutdown: the gateway closed the connection ${res.headersSent ? 'during the response' : 'before the upstream answered'} and aborted the upstream request`,
      });
      // Sets res.destroyed at once (the socket's 'close' comes a turn later),
      // so that a forward failing because the upstream pool is destroyed next
      // reads it as the connection gone, never as an upstream failure to
      // answer 502 or to commit as upstream_error.
      res.destroy();
    }
    this.server.closeAllConnections();
    this.server.close(() => undefined);
  }

  /** A new request id with the header that carries it (`identityHeaders.requestId`). */
  private requestIdHeader(): RequestIdHeader {
    return { header: this.options.identityHeaders.requestId, id: newRequestId() };
  }

  /** The identity headers of an accepted decision (see {@link identityCache}). */
  private identityPairs(decision: PolicyDecision): Array<[string, string]> {
    // identityOf throws for a decision without a certificate or institution.
    const identity = identityOf(decision);
    const leaf = decision.leaf;
    if (!leaf) throw new MtlsError('MTLS_INTERNAL', 'an accepted connection has no certificate');
    const key = `${identity.institutionId}\n${decision.chain.map((c) => c.fingerprint).join(',')}`;
    return this.identityCache.get(leaf, key, () =>
      identityHeaderPairs(identity, this.options.identityHeaders),
    );
  }

  /** Audits one request-stage event on an established connection. */
  private auditRequest(
    state: ConnectionState,
    reason: AuditReason,
    detail: string | null,
    extra: RequestRecordExtra = {},
  ): void {
    this.options.audit(this.requestRecord(state, reason, detail, extra));
  }

  /** The audit record of one request-stage event on an established connection. */
  private requestRecord(
    state: ConnectionState,
    reason: AuditReason,
    detail: string | null,
    extra: RequestRecordExtra = {},
  ): AuditRecord {
    return makeAuditRecord({
      kind: 'request',
      ip: state.ip,
      reason,
      institutionId: state.decision.institutionId,
      cert: state.decision.leaf,
      tlsVersion: state.tlsVersion,
      cipher: state.cipher,
      detail,
      ...extra,
    });
  }

  private async onRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = performance.now();
    const idHeader = this.requestIdHeader();
    const requestId = idHeader.id;
    const state = this.options.stateOf(req.socket);
    if (!state) {
      sendReason(res, 403, 'bad_request', true, idHeader);
      return;
    }
    const record = (
      reason: AuditReason,
      status: number | null,
      detail: string | null,
    ): AuditRecord =>
      this.requestRecord(state, reason, detail, {
        requestId,
        method: req.method ?? null,
        path: requestPath(req),
        status,
        durationMs: Math.round(performance.now() - started),
      });
    /** Audits the request as the gateway cut it, if it did (see {@link RequestCut}). */
    const recordCut = (): boolean => {
      const cut = this.cuts.get(res);
      if (cut) this.options.audit(record(cut.reason, cut.status, cut.detail));
      return cut !== undefined;
    };
    /** Audits the request; as the gateway cut it, when it did. */
    const recordRequest = (reason: AuditReason, status: number, detail: string | null): void => {
      if (!recordCut()) this.options.audit(record(reason, status, detail));
    };
    const commit = this.options.commit;
    /**
     * Answers `{"error":"<reason>"}` and closes (unless `keepAlive`). Durable:
     * the record is committed before the refusal leaves; a refusal goes out
     * even if the commit fails (the record stays queued).
     */
    const refuse = async (
      reason: AuditReason,
      status: number,
      detail: string | null,
      keepAlive = false,
      extra?: Record<string, string | number>,
    ): Promise<void> => {
      if (commit) await commit(record(reason, status, detail)).catch(() => undefined);
      sendReason(res, status, reason, !keepAlive, idHeader, extra);
      if (!commit) recordRequest(reason, status, detail);
    };
    this.inFlightCount++;
    this.active.set(res, idHeader);
    try {
      if (this.draining) res.shouldKeepAlive = false;
      const decision = await this.options.decide(state);
      if (decision.outcome !== 'accepted') {
        await refuse(decision.reason, 403, decision.detail);
        return;
      }
      const fault = requestFault(req);
      if (fault) {
        await refuse('bad_request', fault.status, fault.detail);
        return;
      }
      const limit = this.options.rateLimit;
      const id = decision.institutionId;
      const applied = id === null || !limit ? null : limit.rateOf(id);
      if (limit && id !== null && applied) {
        let rate = limit.limiter.take(id, applied.rate);
        // Awaited only when a worker is asking its primary for tokens: no
        // extra turn for the requests a held lease (or no limit) decides.
        if (rate instanceof Promise) rate = await rate;
        if (!rate.allowed) {
          // The connection stays open for the institution's next (slower)
          // request, so a retry storm does not turn into a handshake storm;
          // unless a body was sent, which node:http would otherwise read to
          // its end before that next request.
          const which = applied.own
            ? "the institution's own request rate"
            : 'limits.institutionRequestsPerSecond';
          await refuse(
            'rate_limited',
            429,
            `over ${which} (${applied.rate.requestsPerSecond}/s, burst ${applied.rate.burst}); retry after ${rate.retryAfterSeconds} s`,
            !requestHasBody(req),
            { 'retry-after': rate.retryAfterSeconds },
          );
          return;
        }
      }
      const headers = buildUpstreamHeaders({
        rawHeaders: req.rawHeaders,
        identity: identityOf(decision),
        identityPairs: this.identityPairs(decision),
        names: this.options.identityHeaders,
        clientIp: state.ip,
        requestId,
      });
      // Cut while it waited for its decision or its rate: nothing to forward.
      if (recordCut()) return;
      this.options.onForward?.(1);
      try {
        const result = await this.options.forward(
          req,
          res,
          headers,
          commit
            ? {
                requestId: idHeader,
                release: (r) => commit(record(r.reason, r.status, r.detail)),
              }
            : { requestId: idHeader },
        );
        // A released result is audited already: a cut after it is a second event.
        if (!recordCut() && !result.released)
          this.options.audit(record(result.reason, result.status, result.detail));
      } finally {
        this.options.onForward?.(-1);
      }
    } catch (e) {
      const err = toMtlsError(e);
      this.options.logger.error(
        { err: { code: err.code, message: err.message } },
        'request handling failed',
      );
      sendReason(res, 502, 'upstream_error', true, idHeader);
      recordRequest('upstream_error', 502, `gateway error: ${err.message}`);
    } finally {
      this.active.delete(res);
      if (!req.complete) {
        const socket = req.socket;
        this.answeredEarly.add(socket);
        req.once('end', () => this.answeredEarly.delete(socket));
      }
      this.inFlightCount--;
      if (this.inFlightCount === 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const w of waiters) w();
      }
    }
  }

  /** What node:http's request or headers timeout means, in the configuration's terms. */
  private timeoutText(): string {
    const { requestTimeout, headersTimeout } = this.server;
    return `the request was not received in full within limits.requestTimeoutMs (${requestTimeout} ms${headersTimeout < requestTimeout ? `; its headers within ${headersTimeout} ms` : ''})`;
  }

  /**
   * What a client error on `socket` is about: the request in flight whose
   * body is still arriving there (its headers were parsed, so it is in
   * {@link onRequest}), if any; and whether a response has started on the
   * connection, so that no answer of the gateway's may be written into it.
   * Walks the requests in flight, on this rare path only.
   */
  private requestsOn(socket: Duplex): {
    receiving: http.ServerResponse | null;
    responding: boolean;
  } {
    let receiving: http.ServerResponse | null = null;
    let responding = false;
    for (const res of this.active.keys()) {
      if (res.req.socket !== socket) continue;
      if (!res.req.complete) receiving = res;
      if (res.headersSent) responding = true;
    }
    return { receiving, responding };
  }

  /**
   * node:http's `clientError`: a parse error, the request or headers timeout
   * (ERR_HTTP_REQUEST_TIMEOUT), or the connection failing. With this listener
   * in place node:http does nothing else: its own handling (answer, then
   * destroy the socket) is skipped, so closing the connection is up to this
   * method.
   *
   * The request timeout fires while a request is still arriving, so for a
   * slow body the request is already in {@link onRequest} and its body piped
   * into the upstream request (proxy.ts). Ending only the gateway's side
   * (`socket.end(answer)`) left the socket readable: the parser kept feeding
   * every new body byte through `req` into the upstream request, the
   * response never emitted `close` (on which the proxy aborts the upstream
   * request), so the connection, its in-flight count and an upstream pool
   * connection were held as long as the client kept sending, and the
   * client's eventual close added a 499 record to the 408 one. So the answer
   * goes out with {@link replyAndClose}, which destroys the socket right
   * after: the response closes, the proxy aborts the upstream request and
   * destroys its body, and the request's one audit record is the cut set
   * here.
   */
  private onClientError(err: Error & { code?: string }, socket: Duplex): void {
    if (this.closing.has(socket) || this.answeredEarly.has(socket)) {
      // The client's reaction to the gateway's last answer (its FIN in the
      // middle of a body), or the rest of an answered request's body not
      // arriving in time: part of an event audited already.
      socket.destroy();
      return;
    }
    const state = this.options.stateOf(socket);
    const code = err.code ?? '';
    const { receiving, responding } = this.requestsOn(socket);
    if (code === 'ECONNRESET' || !socket.writable) {
      // Nothing can be sent back, but the operator still learns that a request
      // (or a connection) ended abnormally and why.
      socket.destroy();
      const detail =
        `${code || 'socket not writable'}: the client ${code === 'ECONNRESET' ? 'reset the connection' : 'closed its side'} before a complete request could be answered (${err.message})`.slice(
          0,
          300,
        );
      if (receiving) this.cuts.set(receiving, { reason: 'bad_request', status: 499, detail });
      else if (state)
        this.auditRequest(state, 'bad_request', detail, { requestId: newRequestId() });
      return;
    }
    const status =
      code === 'HPE_HEADER_OVERFLOW' ? 431 : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const text =
      status === 431
        ? 'Request Header Fields Too Large'
        : status === 408
          ? 'Request Timeout'
          : 'Bad Request';
    const detail = `${
      code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? `${code}: ${this.timeoutText()}`
        : `${code || 'parse error'}: ${err.message}`
    }${responding ? '; a response had started on the connection, so it was closed without this answer' : ''}`.slice(
      0,
      300,
    );
    // What the client got: this answer, or what had started instead.
    const got = !responding ? status : receiving?.headersSent ? receiving.statusCode : null;
    const requestId = (receiving && this.active.get(receiving)) ?? this.requestIdHeader();
    this.closing.add(socket);
    if (responding) socket.destroy();
    else replyAndClose(socket, rawReply(status, text, requestId));
    if (receiving) this.cuts.set(receiving, { reason: 'bad_request', status: got, detail });
    else if (state)
      this.auditRequest(state, 'bad_request', detail, { status: got, requestId: requestId.id });
  }

  private refuseUpgrade(req: http.IncomingMessage, socket: Duplex): void {
    const state = this.options.stateOf(socket);
    const requestId = this.requestIdHeader();
    // node:http no longer reads this socket; only closing it ends the connection.
    replyAndClose(socket, rawReply(501, 'Not Implemented', requestId));
    if (state) {
      this.auditRequest(
        state,
        'bad_request',
        `${req.method} with ${req.headers.upgrade ? `Upgrade: ${req.headers.upgrade}` : 'CONNECT'} is not proxied`,
        {
          requestId: requestId.id,
          method: req.method ?? null,
          path: requestPath(req),
          status: 501,
        },
      );
    }
  }
}
