/**
 * Downloading an institution's CRL from its distribution point (RFC 5280
 * §4.2.1.13) over HTTP or HTTPS, bounded in time and size. The bytes are not
 * trusted here: the caller validates them with `validateCrls` (signature by a
 * registered CA, freshness, no rollback) before anything is stored, so a
 * hostile or broken server can waste at most one bounded download.
 */
import { MtlsError } from '../errors/index.js';
import { errorCode, errorMessage } from '../errors/mtls-error.js';
import { isCertificateVerifyCode } from '../tls/verify-codes.js';

/** Options for {@link fetchCrl}. */
export interface FetchCrlOptions {
  /** `http://` or `https://` URL of the CRL (DER or PEM). */
  url: string;
  /** Whole-download deadline in ms: connect, headers and body (default 10,000). */
  timeoutMs?: number;
  /** Largest body accepted, in bytes (default 10 MiB). */
  maxBytes?: number;
  /** Redirects followed, http(s) only (default 3). */
  maxRedirects?: number;
  /** Injected for tests; default the global `fetch`. */
  fetchImpl?: typeof fetch;
}

/** What {@link fetchCrl} downloaded. */
export interface FetchCrlResult {
  /** The body as received (DER, or PEM text as bytes). */
  body: Buffer;
  /** The URL that answered, after redirects. */
  finalUrl: string;
  /** The `Content-Type` header, if any. */
  contentType: string | null;
}

/** Default size limit: far above any real institution CRL (a 500-entry CRL is ~20 KB). */
export const DEFAULT_CRL_MAX_BYTES = 10 * 1024 * 1024;
/** Default whole-download deadline. */
export const DEFAULT_CRL_TIMEOUT_MS = 10_000;

/**
 * Checks that `url` is an absolute http(s) URL; CRL distribution points in
 * other schemes (ldap:, file:) are not fetched by the gateway.
 * @throws MTLS_BAD_ARGUMENT
 */
export function parseCrlUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `CRL URL ${JSON.stringify(url)} is not an absolute URL`,
      {
        subject: 'url',
        hint: "Give the distribution point as http://host/path/ca.crl (the URI in the certificate's crlDistributionPoints).",
      },
    );
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `CRL URL ${url} uses ${parsed.protocol.replace(/:$/, '')}; only http and https are fetched`,
      {
        subject: 'url',
        hint: 'Publish the CRL over HTTP (RFC 5280 §4.2.1.13: the CRL is signed, so plain HTTP is the usual transport).',
      },
    );
  }
  if (parsed.username || parsed.password) {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `CRL URL ${parsed.host}${parsed.pathname} carries credentials`,
      {
        subject: 'url',
        hint: 'Remove user:password@ from the URL; CRLs are public documents.',
      },
    );
  }
  return parsed;
}

/**
 * Downloads one CRL. Redirects are followed by hand so that each hop is
 * checked to stay on http(s); the body is read as a stream and abandoned as
 * soon as it passes `maxBytes`, whatever Content-Length claims.
 * @throws MTLS_BAD_ARGUMENT for a URL that is not http(s)
 * @throws MTLS_TIMEOUT when the deadline passes
 * @throws MTLS_NETWORK when the server cannot be reached
 * @throws MTLS_HTTP_STATUS for a non-2xx answer, too many redirects, or a body over the limit
 */
export async function fetchCrl(options: FetchCrlOptions): Promise<FetchCrlResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_CRL_TIMEOUT_MS;
  const maxBytes = options.maxBytes ?? DEFAULT_CRL_MAX_BYTES;
  const maxRedirects = options.maxRedirects ?? 3;
  const doFetch = options.fetchImpl ?? fetch;
  const signal = AbortSignal.timeout(timeoutMs);
  let url = parseCrlUrl(options.url);
  try {
    for (let hop = 0; ; hop++) {
      const res = await doFetch(url, {
        redirect: 'manual',
        signal,
        headers: { accept: 'application/pkix-crl, application/x-pkcs7-crl, */*' },
      });
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        await res.body?.cancel();
        if (hop >= maxRedirects) {
          throw new MtlsError(
            'MTLS_HTTP_STATUS',
            `CRL download from ${options.url} was redirected more than ${maxRedirects} times`,
            {
              hint: 'Point the CRL URL at the final location.',
            },
          );
        }
        url = parseCrlUrl(new URL(location, url).toString());
        continue;
      }
      if (res.status < 200 || res.status > 299) {
        await res.body?.cancel();
        throw new MtlsError(
          'MTLS_HTTP_STATUS',
          `CRL download from ${url.href} answered HTTP ${res.status}`,
          {
            hint: 'Check the URL, and that the institution publishes its CRL there.',
            details: { status: res.status },
          },
        );
      }
      const declared = Number(res.headers.get('content-length'));
      if (Number.isFinite(declared) && declared > maxBytes) {
        await res.body?.cancel();
        throw tooLarge(url, maxBytes);
      }
      const body = await readLimited(res, maxBytes, url);
      return { body, finalUrl: url.toString(), contentType: res.headers.get('content-type') };
    }
  } catch (e) {
    if (e instanceof MtlsError) throw e;
    if (signal.aborted) {
      throw new MtlsError(
        'MTLS_TIMEOUT',
        `CRL download from ${url.href} did not finish within ${timeoutMs} ms`,
        {
          hint: 'Check that the CRL server answers, or raise the timeout.',
        },
      );
    }
    // fetch() wraps the socket error (ECONNREFUSED, ENOTFOUND, …) as its cause.
    const cause: unknown = e instanceof Error ? e.cause : undefined;
    const code = errorCode(cause);
    if (isCertificateVerifyCode(code)) {
      throw new MtlsError(
        'MTLS_NETWORK',
        `CRL download from ${url.href} failed: the server's TLS certificate does not verify (${code})`,
        {
          hint: "Publish the CRL over plain http (it is signed, RFC 5280 §4.2.1.13), or start the gateway with the CRL host's CA in NODE_EXTRA_CA_CERTS.",
        },
      );
    }
    const why = code ?? (cause instanceof Error ? cause.message : errorMessage(e));
    throw new MtlsError('MTLS_NETWORK', `CRL download from ${url.href} failed: ${why}`, {
      hint: 'Check the host name, the port and that the CRL server is reachable from the gateway.',
    });
  }
}

function tooLarge(url: URL, maxBytes: number): MtlsError {
  return new MtlsError(
    'MTLS_HTTP_STATUS',
    `CRL download from ${url.href} is larger than the ${maxBytes}-byte limit`,
    {
      hint: "Check the URL points at a CRL; raise the size limit only if the institution's CRL really is that large.",
    },
  );
}

async function readLimited(res: Response, maxBytes: number, url: URL): Promise<Buffer> {
  if (!res.body) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = res.body.getReader();
  for (;;) {
    const chunk: { done: boolean; value?: unknown } = await reader.read();
    if (chunk.done) break;
    const value = chunk.value;
    // A fetch() body stream yields bytes; anything else is not a download.
    if (!(value instanceof Uint8Array))
      throw new MtlsError(
        'MTLS_INTERNAL',
        `CRL download from ${url.href} yielded a non-byte chunk`,
      );
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw tooLarge(url, maxBytes);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, total);
}
