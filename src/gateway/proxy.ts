/**
 * Forwarding accepted requests to the upstream over an undici connection
 * pool (HTTP/1.1, keep-alive), streaming both bodies, with a body size limit.
 * Upstream failures answer 502 (refused, reset, malformed) or 504 (connect,
 * header or body timeout) with a short reason-code body; the details go to
 * the audit trail only.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform } from 'node:stream';
import { pipeline as pipelineAsync } from 'node:stream/promises';
import { Pool } from 'undici';
import type { AuditReason } from './registry/types.js';

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
}

/** What happened to one request. */
export interface ForwardResult {
  /** Status sent to the client (499 when the client went away first). */
  status: number;
  reason: Extract<AuditReason, 'ok' | 'upstream_error' | 'bad_request'>;
  /** Operator-only detail. */
  detail: string | null;
}

/** Response headers a proxy must not copy (RFC 9110 §7.6.1). */
const HOP_BY_HOP_RESPONSE = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authenticate']);

/** Request headers dropped here because node:http already acted on them. */
const CONSUMED_REQUEST = new Set(['expect']);

class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`request body exceeds ${limit} bytes`);
  }
}

/** Answers with a short JSON reason code and nothing else. */
export function sendReason(res: ServerResponse, status: number, reason: string, close = false): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = `${JSON.stringify({ error: reason })}\n`;
  const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' };
  if (close) headers.connection = 'close';
  res.writeHead(status, headers);
  res.end(body);
}

function classify(e: unknown): { status: number; detail: string } {
  const err = e as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = err.code ?? err.cause?.code ?? 'ERROR';
  const message = err.message ?? String(e);
  const timeout = code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'ETIMEDOUT';
  return { status: timeout ? 504 : 502, detail: `${code}: ${message}${err.cause?.message && err.cause.message !== message ? ` (${err.cause.message})` : ''}` };
}

/** The upstream connection pool and the forwarding logic. */
export class UpstreamProxy {
  private readonly pool: Pool;
  private readonly basePath: string;
  private readonly origin: string;

  constructor(private readonly options: UpstreamProxyOptions) {
    const u = new URL(options.upstream);
    this.origin = u.origin;
    this.basePath = u.pathname.replace(/\/+$/, '');
    this.pool = new Pool(this.origin, {
      connections: options.connections ?? 64,
      keepAliveTimeout: options.keepAliveTimeoutMs ?? 4_000,
      headersTimeout: options.responseTimeoutMs ?? 30_000,
      bodyTimeout: options.bodyTimeoutMs ?? 30_000,
      connect: { timeout: options.connectTimeoutMs ?? 5_000 },
    });
  }

  /**
   * Forwards one request and streams the answer back. Never throws: every
   * failure becomes a status and a reason code.
   * @param headers - the upstream request headers as a flat name/value list
   */
  async forward(req: IncomingMessage, res: ServerResponse, headers: string[]): Promise<ForwardResult> {
    const url = req.url ?? '';
    if (!url.startsWith('/')) {
      sendReason(res, 400, 'bad_request');
      return { status: 400, reason: 'bad_request', detail: `request target "${url.slice(0, 100)}" is not in origin form (RFC 9112 §3.2.1)` };
    }
    const limit = this.options.maxBodyBytes;
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > limit) {
      sendReason(res, 413, 'bad_request', true);
      return { status: 413, reason: 'bad_request', detail: `Content-Length ${declared} exceeds the ${limit}-byte body limit` };
    }
    const forwardHeaders: string[] = [];
    for (let i = 0; i + 1 < headers.length; i += 2) {
      if (!CONSUMED_REQUEST.has((headers[i] as string).toLowerCase())) forwardHeaders.push(headers[i] as string, headers[i + 1] as string);
    }
    const hasBody = (declared !== undefined && Number(declared) > 0) || req.headers['transfer-encoding'] !== undefined;
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
    const abort = new AbortController();
    const onClose = (): void => {
      if (!res.writableFinished) abort.abort();
    };
    res.once('close', onClose);
    try {
      const up = await this.pool.request({
        path: this.basePath + url,
        method: req.method as 'GET',
        headers: forwardHeaders,
        body,
        signal: abort.signal,
      });
      const out: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(up.headers)) {
        if (v === undefined || HOP_BY_HOP_RESPONSE.has(k)) continue;
        out[k] = v;
      }
      res.writeHead(up.statusCode, out);
      try {
        await pipelineAsync(up.body, res);
      } catch (e) {
        if (abort.signal.aborted || res.destroyed) return { status: 499, reason: 'bad_request', detail: 'the client closed the connection during the response' };
        const c = classify(e);
        res.destroy();
        return { status: up.statusCode, reason: 'upstream_error', detail: `upstream response body failed: ${c.detail}` };
      }
      return { status: up.statusCode, reason: 'ok', detail: null };
    } catch (e) {
      if (tooLarge) {
        sendReason(res, 413, 'bad_request', true);
        return { status: 413, reason: 'bad_request', detail: (tooLarge as BodyTooLarge).message };
      }
      if (abort.signal.aborted) return { status: 499, reason: 'bad_request', detail: 'the client closed the connection before the upstream answered' };
      const c = classify(e);
      sendReason(res, c.status, 'upstream_error', hasBody);
      return { status: c.status, reason: 'upstream_error', detail: `${this.origin}: ${c.detail}` };
    } finally {
      res.off('close', onClose);
    }
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
