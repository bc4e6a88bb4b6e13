/**
 * `mtls request`: one HTTP call over mutual TLS, curl-like, that reports what
 * the TLS layer did and, when the call fails, why, in one line.
 */
import { STATUS_CODES } from 'node:http';
import { request as undiciRequest } from 'undici';
import { MtlsError } from '../errors/index.js';
import type { ClientCredentials } from '../tls/credentials.js';
import { tlsVersionRange } from '../tls/versions.js';
import type { ConnectionTrace } from './connection.js';
import { defaultContentType } from './content-type.js';
import {
  diagnose,
  diagnosisError,
  reportClientCertificate,
  reportTls,
  type ClientCertificateReport,
  type Diagnosis,
  type TlsReport,
} from './diagnose.js';
import { createMtlsDispatcher, type MtlsClientOptions } from './dispatcher.js';

/** Options for {@link mtlsRequest}. */
export interface MtlsRequestOptions extends MtlsClientOptions {
  /** An https:// URL. */
  url: string;
  /** HTTP method (default GET, or POST when a body is given, as curl does). */
  method?: string;
  /** Request headers, in order; repeated names are sent repeatedly. */
  headers?: Array<[string, string]>;
  /** Request body. */
  body?: string | Uint8Array;
  /**
   * Content-Type for a body when `headers` set none: default
   * `application/json` when the body parses as JSON, else
   * `application/x-www-form-urlencoded` (curl's `-d` default).
   */
  defaultContentType?: string;
  /** Give up waiting for response headers, and between body chunks, after this long (default 30 s). */
  timeoutMs?: number;
  /** Refuse bodies larger than this (default 256 MiB). */
  maxResponseBytes?: number;
}

/** A completed call. */
export interface MtlsRequestResult {
  url: string;
  method: string;
  status: number;
  /** Reason phrase for the status (from the HTTP registry; HTTP/1.1 servers may send another). */
  statusText: string;
  /** Response headers, in order, names lower-case. */
  headers: Array<[string, string]>;
  body: Buffer;
  tls: TlsReport;
  /** Our certificate as configured (null without credentials). */
  clientCertificate: ClientCertificateReport | null;
  /** `ok`, `no-client-cert-requested` or `http-error`. */
  diagnosis: Diagnosis;
}

/** The raw result of one exchange, before diagnosis. */
export interface ExchangeResult {
  url: URL;
  method: string;
  /** The trace of the connection the request went over (undefined when none was opened). */
  trace: ConnectionTrace | undefined;
  /** The response, when one came. */
  response?: { status: number; headers: Array<[string, string]>; body: Buffer };
  /** The error that ended the exchange, when no response came. */
  error?: unknown;
}

/**
 * Parses and checks the URL of an mTLS call.
 * @throws MTLS_BAD_ARGUMENT when it is not an https:// URL
 */
export function parseHttpsUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new MtlsError('MTLS_BAD_ARGUMENT', `"${value}" is not a URL`, {
      subject: 'URL',
      hint: 'Write the full URL, e.g. https://api.example.com/v1/ping',
    });
  }
  if (url.protocol !== 'https:') {
    throw new MtlsError('MTLS_BAD_ARGUMENT', `${value}: an mTLS call needs an https:// URL`, {
      subject: 'URL',
    });
  }
  return url;
}

/**
 * Makes one HTTP call over mTLS and returns what happened without judging it:
 * the response, or the error, plus the connection trace.
 * @throws MTLS_BAD_ARGUMENT for a URL that is not https://, or an unknown `tls` choice
 * @throws MTLS_NETWORK when the response body is larger than allowed or breaks off
 */
export async function performExchange(options: MtlsRequestOptions): Promise<ExchangeResult> {
  const url = parseHttpsUrl(options.url);
  let trace: ConnectionTrace | undefined;
  const dispatcher = createMtlsDispatcher({
    ...options,
    onConnection: (t) => {
      trace = t;
      options.onConnection?.(t);
    },
  });
  const method = (options.method ?? (options.body !== undefined ? 'POST' : 'GET')).toUpperCase();
  const headers: string[] = [];
  for (const [k, v] of options.headers ?? []) headers.push(k, v);
  if (
    options.body !== undefined &&
    !(options.headers ?? []).some(([k]) => k.toLowerCase() === 'content-type')
  ) {
    const text =
      typeof options.body === 'string' ? options.body : Buffer.from(options.body).toString('utf8');
    headers.push('content-type', options.defaultContentType ?? defaultContentType(text));
  }
  const timeout = options.timeoutMs ?? 30_000;
  const limit = options.maxResponseBytes ?? 256 * 1024 * 1024;
  const target = `${url.hostname}:${url.port || 443}`;
  try {
    let response: Awaited<ReturnType<typeof undiciRequest>>;
    try {
      response = await undiciRequest(url, {
        // undici sends any method token; its type names only the common verbs.
        method: method as 'GET',
        headers,
        ...(options.body !== undefined
          ? { body: typeof options.body === 'string' ? options.body : Buffer.from(options.body) }
          : {}),
        dispatcher,
        headersTimeout: timeout,
        bodyTimeout: timeout,
      });
    } catch (e) {
      if (e instanceof MtlsError) throw e;
      return { url, method, trace, error: e };
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of response.body) {
        const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
        size += bytes.length;
        if (size > limit) {
          response.body.destroy();
          throw new MtlsError(
            'MTLS_NETWORK',
            `${target}: the response body exceeds ${limit} bytes`,
            { subject: target, hint: 'Raise maxResponseBytes, or fetch the resource in parts.' },
          );
        }
        chunks.push(bytes);
      }
    } catch (e) {
      if (e instanceof MtlsError) throw e;
      throw new MtlsError(
        'MTLS_NETWORK',
        `${target}: the response body broke off after ${size} bytes (${e instanceof Error ? e.message : String(e)})`,
        {
          subject: target,
          hint: 'Retry; if it keeps happening, the server or a proxy cuts long responses.',
          cause: e,
        },
      );
    }
    const responseHeaders: Array<[string, string]> = [];
    for (const [k, v] of Object.entries(response.headers)) {
      if (Array.isArray(v)) for (const item of v) responseHeaders.push([k, item]);
      else if (v !== undefined) responseHeaders.push([k, v]);
    }
    return {
      url,
      method,
      trace,
      response: {
        status: response.statusCode,
        headers: responseHeaders,
        body: Buffer.concat(chunks),
      },
    };
  } finally {
    await dispatcher.destroy().catch(() => undefined);
  }
}

/**
 * Makes one HTTP call over mTLS. An HTTP error status is a result, not an
 * exception (check `status`, or `diagnosis.verdict === 'http-error'`), except
 * an HTTP answer that refuses the client certificate (nginx's 400/495/496
 * pages, Kong's 401, mtlskit's 403 reason codes): that is the mTLS failure it
 * names, thrown like a TLS alert would be.
 * @throws MTLS_BAD_ARGUMENT for a URL that is not https://, or an unknown `tls` choice
 * @throws MTLS_TLS_CLIENT_REJECTED, MTLS_TLS_VERSION, MTLS_TLS_SERVER_UNTRUSTED, MTLS_TLS_HANDSHAKE,
 *   MTLS_NETWORK, MTLS_TIMEOUT when the call fails: the message names the likely cause, the hint what
 *   to do, and `details` carries the verdict, the outcome and the TLS report
 */
export async function mtlsRequest(options: MtlsRequestOptions): Promise<MtlsRequestResult> {
  const range = tlsVersionRange(options.tls ?? '1.2');
  const credentials: ClientCredentials | undefined = options.credentials;
  const clientCertificate = credentials ? reportClientCertificate(credentials) : null;
  const result = await performExchange(options);
  const target = `${result.url.hostname}:${result.url.port || 443}`;
  const tls = result.trace ? reportTls(result.trace, credentials) : undefined;
  const diagnosis = diagnose(
    {
      trace: result.trace,
      ...(result.response
        ? { status: result.response.status, body: result.response.body }
        : { error: result.error }),
    },
    {
      credentials,
      ...(clientCertificate ? { clientProblems: clientCertificate.problems } : {}),
      tls,
      offered: range,
    },
  );
  if (!result.response || !tls) throw diagnosisError(diagnosis, target, { tls, clientCertificate });
  // A front end that refused our certificate over HTTP (nginx's 400 "No required SSL
  // certificate was sent") failed the mTLS call as surely as a TLS alert would.
  if (diagnosis.outcome.refusal)
    throw diagnosisError(diagnosis, target, {
      tls,
      clientCertificate,
      status: result.response.status,
    });
  return {
    url: result.url.toString(),
    method: result.method,
    status: result.response.status,
    statusText: STATUS_CODES[result.response.status] ?? '',
    headers: result.response.headers,
    body: result.response.body,
    tls,
    clientCertificate,
    diagnosis,
  };
}
