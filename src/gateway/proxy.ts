/**
 * Forwarding accepted requests to the upstream over an undici connection
 * pool (HTTP/1.1, keep-alive), streaming both bodies, with a body size limit.
 * Upstream failures answer 502 (refused, reset, malformed) or 504 (connect,
 * header or body timeout) with a short reason-code body; the details go to
 * the audit trail only.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform } from 'node:stream';
import { Pool, type Dispatcher } from 'undici';
import type { AuditReason } from './registry/types.js';
import { errorCode, errorMessage } from '../errors/mtls-error.js';
import { rawHeaderPairs } from './raw-headers.js';
import type { UpstreamTls } from './upstream-tls.js';

/** Options for {@link UpstreamProxy}. */
export interface UpstreamProxyOptions {
  /** Upstream origin with an optional base path, e.g. `http://127.0.0.1:8080/api`. */
  upstream: string;
  /** Largest request body in bytes; larger answers 413. */
  maxBodyBytes: number;
  /** Pool size (default 64). */
  connections?: number;
  /** Default 5 000 ms. */
  connectTimeoutMs?: number;
  /** Time to the upstream's response headers (default 30 000 ms). */
  responseTimeoutMs?: number;
  /** Idle time while the body streams (default 30 000 ms). */
  bodyTimeoutMs?: number;
  /** Pooled connection idle time (default 4 000 ms). */
  keepAliveTimeoutMs?: number;
  /** TLS settings for an https: upstream (default: public roots, no client certificate). */
  tls?: UpstreamTls | null;
}

/** What happened to one request. */
export interface ForwardResult {
  /** Status sent to the client (499 when the client went away first). */
  status: number;
  reason: Extract<AuditReason, 'ok' | 'upstream_error' | 'bad_request'>;
  /** Operator-only detail. */
  detail: string | null;
  /** True when {@link ForwardOptions.release} was called with this result (it is audited already). */
  released?: boolean;
}

/** Options for {@link UpstreamProxy.forward}. */
export interface ForwardOptions {
  /**
   * Called with the outcome before anything of the answer (status line,
   * error body) goes to the client; the answer waits for the promise. With
   * durable audit it commits the request's record. When it rejects, the
   * client gets 503 `{"error":"audit_unavailable"}` instead of the answer.
   */
  release?: (result: ForwardResult) => Promise<void>;
  /** The request's id: sent to the client on every answer. */
  requestId?: RequestIdHeader;
}

/**
 * A request's id and the header that carries it. It goes into the header
 * object of `writeHead` rather than through `res.setHeader` first: when a
 * response already has a header set that way, node:http's `writeHead` takes
 * its slower path and passes every other header through `setHeader` too.
 */
export interface RequestIdHeader {
  /** The header name, as configured (`X-Request-Id`). */
  header: string;
  id: string;
}

/** Response headers a proxy must not copy (RFC 9110 §7.6.1). */
const HOP_BY_HOP_RESPONSE = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authenticate',
]);

/** Request headers dropped here because node:http already acted on them. */
const CONSUMED_REQUEST = new Set(['expect']);

/** Why a request to the upstream was cut: the client went away. */
class ClientGone extends Error {
  constructor() {
    super('the client closed the connection');
  }
}

class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`request body exceeds ${limit} bytes`);
  }
}

/**
 * Answers with a short JSON reason code (and the request's id, when it has
 * one, so that a client pasting the body into a ticket names its audit
 * record) and nothing else but `extra` headers (Retry-After).
 */
export function sendReason(
  res: ServerResponse,
  status: number,
  reason: string,
  close = false,
  requestId?: RequestIdHeader,
  extra?: Record<string, string | number>,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = `${JSON.stringify(requestId === undefined ? { error: reason } : { error: reason, requestId: requestId.id })}\n`;
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  };
  if (requestId) headers[requestId.header] = requestId.id;
  if (close) headers.connection = 'close';
  if (extra) Object.assign(headers, extra);
  res.writeHead(status, headers);
  res.end(body);
}

/**
 * True when the request carries a body (a positive Content-Length, or
 * Transfer-Encoding, RFC 9112 §6.3): one that node:http reads to its end
 * before the next request on the connection.
 */
export function requestHasBody(req: Pick<IncomingMessage, 'headers'>): boolean {
  const declared = req.headers['content-length'];
  return (
    (declared !== undefined && Number(declared) > 0) ||
    req.headers['transfer-encoding'] !== undefined
  );
}

function classify(e: unknown): { status: number; detail: string } {
  const cause: unknown = e instanceof Error ? e.cause : undefined;
  const code = errorCode(e) ?? errorCode(cause) ?? 'ERROR';
  const message = errorMessage(e);
  const causeMessage = cause instanceof Error ? cause.message : undefined;
  const timeout =
    code === 'UND_ERR_CONNECT_TIMEOUT' ||
    code === 'UND_ERR_HEADERS_TIMEOUT' ||
    code === 'UND_ERR_BODY_TIMEOUT' ||
    code === 'ETIMEDOUT';
  return {
    status: timeout ? 504 : 502,
    detail: `${code}: ${message}${causeMessage && causeMessage !== message ? ` (${causeMessage})` : ''}`,
  };
}

/** The upstream connection pool and the forwarding logic. */
export class UpstreamProxy {
  private pool: Pool;
  private readonly basePath: string;
  private readonly origin: string;

  constructor(private readonly options: UpstreamProxyOptions) {
    const u = new URL(options.upstream);
    this.origin = u.origin;
    this.basePath = u.pathname.replace(/\/+$/, '');
    this.pool = this.makePool(options.tls ?? null);
  }

  private makePool(tls: UpstreamTls | null): Pool {
    const o = this.options;
    return new Pool(this.origin, {
      connections: o.connections ?? 64,
      keepAliveTimeout: o.keepAliveTimeoutMs ?? 4_000,
      headersTimeout: o.responseTimeoutMs ?? 30_000,
      bodyTimeout: o.bodyTimeoutMs ?? 30_000,
      connect: {
        timeout: o.connectTimeoutMs ?? 5_000,
        // node:tls checks the upstream's certificate against servername (RFC 6125).
        ...(tls?.ca ? { ca: tls.ca } : {}),
        ...(tls?.client ? { cert: tls.client.certPem, key: tls.client.keyPem } : {}),
        ...(tls?.servername ? { servername: tls.servername } : {}),
      },
    });
  }

  /**
   * Puts new upstream TLS settings in service (SIGHUP): new requests open
   * connections with them; the old pool closes once its requests finished.
   */
  setTls(tls: UpstreamTls | null): void {
    const old = this.pool;
    this.pool = this.makePool(tls);
    void old.close().catch(() => undefined);
  }

  /**
   * Forwards one request and streams the answer back. Never throws: every
   * failure becomes a status and a reason code.
   * @param headers - the upstream request headers as a flat name/value list
   */
  forward(
    req: IncomingMessage,
    res: ServerResponse,
    headers: string[],
    options: ForwardOptions = {},
  ): Promise<ForwardResult> {
    const { release, requestId } = options;
    const idKey = requestId?.header.toLowerCase();
    const url = req.url ?? '';
    if (!url.startsWith('/')) {
      sendReason(res, 400, 'bad_request', false, requestId);
      return Promise.resolve({
        status: 400,
        reason: 'bad_request',
        detail: `request target "${url.slice(0, 100)}" is not in origin form (RFC 9112 §3.2.1); the gateway fronts one upstream and takes no absolute-form target, whose host could disagree with Host`,
      });
    }
    const limit = this.options.maxBodyBytes;
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > limit) {
      sendReason(res, 413, 'bad_request', true, requestId);
      return Promise.resolve({
        status: 413,
        reason: 'bad_request',
        detail: `Content-Length ${declared} exceeds the ${limit}-byte body limit`,
      });
    }
    const forwardHeaders: string[] = [];
    for (const [name, value] of rawHeaderPairs(headers)) {
      if (!CONSUMED_REQUEST.has(name.toLowerCase())) forwardHeaders.push(name, value);
    }
    const hasBody = requestHasBody(req);
    let tooLarge: BodyTooLarge | null = null;
    let body: Transform | null = null;
    if (hasBody) {
      let seen = 0;
      body = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          seen += chunk.length;
          if (seen > limit) {
            tooLarge = new BodyTooLarge(limit);
            cb(tooLarge);
            return;
          }
          cb(null, chunk);
        },
      });
      const stream = body;
      req.pipe(stream);
      req.once('error', (e) => stream.destroy(e));
      // When undici gives up on the body (upstream error, size limit), stop
      // feeding it and discard the rest, so the client still gets its answer.
      stream.once('error', () => {
        req.unpipe(stream);
        req.resume();
      });
    }
    return new Promise<ForwardResult>((resolve) => {
      // The request goes through undici's dispatcher with a handler that
      // writes straight into `res`: no AbortController, no response Readable,
      // no stream pipeline per request. Back-pressure is kept by hand: a full
      // client socket pauses the upstream read until it drains.
      let controller: Dispatcher.DispatchController | null = null;
      let status = 0;
      let clientGone = false;
      let settled = false;
      // With a release hook, everything that reaches the client waits for it.
      let gate: Promise<boolean> | null = null;
      const afterGate = (fn: () => void): void => {
        if (gate) void gate.then((ok) => ok && !clientGone && fn());
        else fn();
      };
      const passGate = (result: ForwardResult): void => {
        if (!release) return;
        result.released = true;
        gate = release(result).then(
          () => true,
          () => {
            if (!clientGone) sendReason(res, 503, 'audit_unavailable', true, requestId);
            settle({ ...result, released: true });
            return false;
          },
        );
      };
      const settle = (result: ForwardResult): void => {
        if (settled) return;
        settled = true;
        res.off('close', onClose);
        res.off('drain', onDrain);
        resolve(result);
      };
      const onDrain = (): void => controller?.resume();
      // The response's 'close' (its socket destroyed) is what aborts the
      // upstream request and its body for the client's side: a connection
      // that is only half-closed, or still being read, keeps them going.
      const onClose = (): void => {
        if (res.writableFinished) return;
        clientGone = true;
        controller?.abort(new ClientGone());
        settle({
          status: 499,
          reason: 'bad_request',
          detail: status
            ? 'the client closed the connection during the response'
            : 'the client closed the connection before the upstream answered',
        });
      };
      res.once('close', onClose);
      res.on('drain', onDrain);
      const handler: Dispatcher.DispatchHandler = {
        onRequestStart: (c) => {
          controller = c;
          if (clientGone) c.abort(new ClientGone());
        },
        onResponseStart: (_c, statusCode, upstreamHeaders) => {
          // 1xx informational answers are the upstream's business with us.
          if (statusCode < 200) return;
          const out: Record<string, string | string[]> = {};
          for (const k in upstreamHeaders) {
            const v = upstreamHeaders[k];
            // The request id is the gateway's: an upstream copy gives way.
            if (v === undefined || HOP_BY_HOP_RESPONSE.has(k) || k === idKey) continue;
            out[k] = v;
          }
          if (requestId) out[requestId.header] = requestId.id;
          status = statusCode;
          if (release) {
            _c.pause();
            passGate({ status, reason: 'ok', detail: null });
          }
          afterGate(() => {
            res.writeHead(statusCode, out);
            if (release) _c.resume();
          });
        },
        onResponseData: (c, chunk) => {
          afterGate(() => {
            if (!res.write(chunk)) c.pause();
          });
        },
        onResponseEnd: () => {
          // Settled once the last byte is handed to the socket, as a drain
          // must not cut a response that is still being written.
          afterGate(() =>
            res.end(() => settle({ status, reason: 'ok', detail: null, released: !!release })),
          );
        },
        onResponseError: (_c, e) => {
          if (clientGone || res.destroyed) {
            onClose();
            return;
          }
          const c = classify(e);
          if (status) {
            // Headers are out (or released): a second record tells the failure.
            afterGate(() => {
              res.destroy();
              settle({
                status,
                reason: 'upstream_error',
                detail: `upstream response body failed: ${c.detail}`,
              });
            });
            return;
          }
          const result: ForwardResult = tooLarge
            ? { status: 413, reason: 'bad_request', detail: tooLarge.message }
            : { status: c.status, reason: 'upstream_error', detail: `${this.origin}: ${c.detail}` };
          passGate(result);
          afterGate(() => {
            sendReason(
              res,
              result.status,
              result.reason === 'bad_request' ? 'bad_request' : 'upstream_error',
              tooLarge !== null || hasBody,
              requestId,
            );
            settle(result);
          });
        },
      };
      this.pool.dispatch(
        {
          path: this.basePath + url,
          // node:http sets the method on every request it parsed.
          method: req.method ?? 'GET',
          headers: forwardHeaders,
          body,
        },
        handler,
      );
    });
  }

  /** Closes the pool (waits for requests in flight). */
  async close(): Promise<void> {
    await this.pool.close();
  }

  /** Destroys the pool at once. */
  async destroy(): Promise<void> {
    await this.pool.destroy();
  }
}
