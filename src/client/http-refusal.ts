/**
 * Recognising a client-certificate refusal that arrives as an HTTP answer
 * rather than a TLS alert. Front ends that finish the handshake before judging
 * the certificate answer this way: nginx with `ssl_verify_client on` (and
 * `optional` set-ups that turn `$ssl_client_verify` into 495/496), Kong's
 * mtls-auth plugin, and mtlskit's own gateway once its policy refuses a
 * certificate that OpenSSL accepted. Without this, such a call looks like an
 * ordinary HTTP error from the API, and the client's own findings (an expired
 * certificate, an issuer the server does not list) are never connected to it.
 */

/** What the server said about our certificate. */
export type CertificateRefusalKind =
  /** The server required a certificate and saw none. */
  | 'no-certificate'
  /** The server saw our certificate and refused it; `reason` may say why. */
  | 'certificate-refused';

/** A refusal recognised in an HTTP answer. */
export interface CertificateRefusal {
  kind: CertificateRefusalKind;
  /** Which front end's wording matched, for the cause line. */
  server: 'nginx' | 'kong' | 'mtlskit';
  /** The server's own words or reason code. */
  said: string;
  /**
   * A more precise reason when the server names one (mtlskit's reason codes),
   * in the client's terms.
   */
  reason?: 'expired' | 'not-yet-valid' | 'revoked' | 'wrong-purpose' | 'untrusted';
  /**
   * The id mtlskit's gateway gave the request (its audit record's), for the
   * provider's support to look the refusal up.
   */
  requestId?: string;
}

/**
 * nginx's built-in error pages for NGX_HTTPS_NO_CERT (496) and
 * NGX_HTTPS_CERT_ERROR (495). nginx sends them with status 400 unless an
 * `error_page … =495` rewrites the status, so both are matched on the text.
 */
const NGINX: ReadonlyArray<{ text: string; kind: CertificateRefusalKind; status: number }> = [
  { text: 'No required SSL certificate was sent', kind: 'no-certificate', status: 496 },
  { text: 'The SSL certificate error', kind: 'certificate-refused', status: 495 },
];

/** Kong's mtls-auth plugin answers 401 with a JSON message. */
const KONG: ReadonlyArray<{ text: string; kind: CertificateRefusalKind }> = [
  { text: 'No required TLS certificate was sent', kind: 'no-certificate' },
  { text: 'TLS certificate failed verification', kind: 'certificate-refused' },
];

/**
 * mtlskit's gateway answers 403 `{"error":"<reason code>","requestId":"<uuid>"}` for a certificate
 * its policy refused after the handshake; the codes that concern the
 * certificate are mapped to the client's words, the rest are not a
 * certificate refusal.
 */
const MTLSKIT: Readonly<
  Record<string, { kind: CertificateRefusalKind; reason?: CertificateRefusal['reason'] }>
> = {
  no_client_cert: { kind: 'no-certificate' },
  unknown_ca: { kind: 'certificate-refused', reason: 'untrusted' },
  expired: { kind: 'certificate-refused', reason: 'expired' },
  not_yet_valid: { kind: 'certificate-refused', reason: 'not-yet-valid' },
  revoked: { kind: 'certificate-refused', reason: 'revoked' },
  eku_missing: { kind: 'certificate-refused', reason: 'wrong-purpose' },
  ca_certificate: { kind: 'certificate-refused', reason: 'wrong-purpose' },
  weak_key: { kind: 'certificate-refused' },
  bad_certificate: { kind: 'certificate-refused' },
  pinned_rule_mismatch: { kind: 'certificate-refused' },
  crl_expired: { kind: 'certificate-refused' },
};

/** Largest body looked at: the refusal pages are a few hundred bytes. */
const SNIFF_BYTES = 4096;

/**
 * Reads an HTTP answer for a client-certificate refusal; undefined when it is
 * an ordinary answer.
 * @param status - the HTTP status
 * @param body - the response body (only its first 4 KiB are read)
 */
export function recognizeCertificateRefusal(
  status: number,
  body: Uint8Array | string | undefined,
): CertificateRefusal | undefined {
  if (status < 400) return undefined;
  const text =
    typeof body === 'string'
      ? body.slice(0, SNIFF_BYTES)
      : body
        ? Buffer.from(body.subarray(0, SNIFF_BYTES)).toString('utf8')
        : '';
  for (const page of NGINX) {
    if (text.includes(page.text))
      return { kind: page.kind, server: 'nginx', said: `HTTP ${status} "${page.text}"` };
  }
  // A bare 495/496 (a custom error_page that dropped nginx's text) still says it.
  const bare = NGINX.find((p) => p.status === status);
  if (bare)
    return {
      kind: bare.kind,
      server: 'nginx',
      said: `HTTP ${status} (nginx's status for "${bare.text}")`,
    };
  if (status === 401) {
    for (const m of KONG)
      if (text.includes(m.text))
        return { kind: m.kind, server: 'kong', said: `HTTP 401 "${m.text}"` };
  }
  if (status === 403 && text.startsWith('{')) {
    let code: unknown;
    let requestId: unknown;
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === 'object' && parsed !== null) {
        code = 'error' in parsed ? parsed.error : undefined;
        requestId = 'requestId' in parsed ? parsed.requestId : undefined;
      }
    } catch {
      return undefined;
    }
    if (typeof code !== 'string') return undefined;
    const known = MTLSKIT[code];
    if (!known) return undefined;
    // Only an id that looks like one is repeated: the body is the server's text.
    const id =
      typeof requestId === 'string' && /^[0-9a-fA-F-]{36}$/.test(requestId) ? requestId : undefined;
    return {
      ...known,
      server: 'mtlskit',
      said: `HTTP 403 with reason ${code}${id ? ` (request id ${id})` : ''}`,
      ...(id ? { requestId: id } : {}),
    };
  }
  return undefined;
}
