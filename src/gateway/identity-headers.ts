/**
 * The identity the gateway vouches for, sent upstream in headers a client
 * cannot forge: every incoming copy is removed before the gateway sets its own.
 *
 * - `Client-Cert` and `Client-Cert-Chain` follow RFC 9440 §2: the DER
 *   certificates as RFC 8941 §3.3.5 byte sequences (`:base64:`), the chain as
 *   a list, leaf excluded, each certificate certifying the one before it.
 * - `X-Mtls-*` carry the institution id, subject and issuer (RFC 4514 strings,
 *   non-ASCII escaped as `\XX` per RFC 4514 §2.4), serial (upper-case hex)
 *   and SHA-256 fingerprint (lower-case hex).
 * - `X-Request-Id` carries the id the gateway gave the request (a UUID,
 *   RFC 9562 §5.7), the same one the client gets back and the audit record
 *   holds. A client's own copy is replaced, as an edge proxy does, since
 *   the id must name one audit record and nothing else.
 * - Other credentials (Authorization, cookies) pass through untouched.
 * - Incoming headers whose name holds an underscore are dropped, as nginx does
 *   by default (`underscores_in_headers off`): CGI, WSGI, PHP and Rack map both
 *   `X-Mtls-Subject` and `X_Mtls_Subject` to `HTTP_X_MTLS_SUBJECT` (RFC 3875
 *   §4.1.18), so an underscore spelling would slip a forged identity past the
 *   strip list into such an upstream.
 */
import { rawHeaderPairs } from './raw-headers.js';

/**
 * Names of the identity headers (configurable). A type alias, not an
 * interface, so that its values can be listed as strings.
 */
export type IdentityHeaderNames = Record<
  | 'institution'
  | 'subject'
  | 'issuer'
  | 'serial'
  | 'fingerprint'
  | 'clientCert'
  | 'clientCertChain'
  | 'requestId',
  string
>;

/** Default identity header names. */
export const DEFAULT_IDENTITY_HEADERS: Readonly<IdentityHeaderNames> = Object.freeze({
  institution: 'X-Mtls-Institution',
  subject: 'X-Mtls-Subject',
  issuer: 'X-Mtls-Issuer',
  serial: 'X-Mtls-Serial',
  fingerprint: 'X-Mtls-Fingerprint-Sha256',
  clientCert: 'Client-Cert',
  clientCertChain: 'Client-Cert-Chain',
  requestId: 'X-Request-Id',
});

/** The verified identity of one connection. */
export interface ClientIdentity {
  institutionId: string;
  /** RFC 4514 subject. */
  subject: string;
  /** RFC 4514 issuer. */
  issuer: string;
  /** Upper-case hex serial. */
  serial: string;
  /** Lower-case hex SHA-256 of the DER certificate. */
  fingerprintSha256: string;
  /** The client certificate (DER). */
  certDer: Buffer;
  /** The validated chain above the leaf, issuer first (DER). */
  chainDer: Buffer[];
}

/** Headers dropped because the gateway is the edge and sets its own view (client IP, scheme). */
const FORWARDING_HEADERS = new Set([
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-real-ip',
]);

/** Hop-by-hop headers (RFC 9110 §7.6.1) that a proxy must not forward. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
]);

const ALWAYS_STRIPPED = new Set([
  'client-cert',
  'client-cert-chain',
  'x-forwarded-client-cert',
  'x-ssl-client-cert',
  'ssl-client-cert',
]);

/**
 * True when an incoming header could be mistaken for gateway-set identity:
 * `X-Client-*`, `X-Mtls-*`, `Client-Cert`, `Client-Cert-Chain`,
 * `X-Forwarded-Client-Cert`, and any configured identity header name.
 */
export function isIdentityHeader(
  name: string,
  names: IdentityHeaderNames = DEFAULT_IDENTITY_HEADERS,
): boolean {
  const n = name.toLowerCase();
  if (n.startsWith('x-client-') || n.startsWith('x-mtls-') || ALWAYS_STRIPPED.has(n)) return true;
  const configured: Record<keyof IdentityHeaderNames, string> = names;
  for (const c of Object.values(configured)) if (c.toLowerCase() === n) return true;
  return false;
}

/** RFC 8941 §3.3.5 byte sequence: `:base64:`. */
export function toByteSequence(der: Uint8Array): string {
  return `:${Buffer.from(der).toString('base64')}:`;
}

/**
 * Makes a header-safe string: printable ASCII passes; any other character
 * becomes `\XX` per UTF-8 byte (the RFC 4514 §2.4 hex-pair escape).
 */
export function headerSafe(text: string): string {
  let out = '';
  for (const ch of text) {
    // `for … of` a string yields whole code points, never an empty one.
    const c = ch.codePointAt(0) ?? 0;
    if (c >= 0x20 && c < 0x7f) out += ch;
    else
      for (const b of Buffer.from(ch, 'utf8'))
        out += `\\${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The identity as header pairs `[name, value]`. */
export function identityHeaderPairs(
  identity: ClientIdentity,
  names: IdentityHeaderNames = DEFAULT_IDENTITY_HEADERS,
): Array<[string, string]> {
  const pairs: Array<[string, string]> = [
    [names.institution, headerSafe(identity.institutionId)],
    [names.subject, headerSafe(identity.subject)],
    [names.issuer, headerSafe(identity.issuer)],
    [names.serial, identity.serial],
    [names.fingerprint, identity.fingerprintSha256],
    [names.clientCert, toByteSequence(identity.certDer)],
  ];
  if (identity.chainDer.length > 0)
    pairs.push([names.clientCertChain, identity.chainDer.map(toByteSequence).join(', ')]);
  return pairs;
}

/** Inputs for {@link buildUpstreamHeaders}. */
export interface BuildUpstreamHeadersOptions {
  /** `req.rawHeaders`: the incoming headers as a flat name/value list. */
  rawHeaders: readonly string[];
  identity: ClientIdentity;
  /**
   * `identityHeaderPairs(identity, names)` computed before: they depend only
   * on the connection's decision, so a kept-alive connection computes them
   * (base64 of the certificates, escaping) once, not per request.
   */
  identityPairs?: ReadonlyArray<readonly [string, string]>;
  names?: IdentityHeaderNames;
  /** Client IP for X-Forwarded-For (the PROXY protocol source when a trusted balancer sent one). */
  clientIp: string;
  /** The request's id, sent as the `requestId` header. */
  requestId: string;
}

/**
 * True when an incoming header name holds an underscore: dropped on the way
 * upstream, because CGI-style gateways fold `_` and `-` into one (RFC 3875
 * §4.1.18), so `X_Mtls_Institution` would reach the application as the
 * gateway's own `X-Mtls-Institution`.
 */
export function hasUnderscore(name: string): boolean {
  return name.includes('_');
}

/**
 * The headers to send upstream, as a flat name/value list: incoming headers
 * minus hop-by-hop headers (and those the Connection header names), minus every
 * spoofable identity or forwarding header, minus every header whose name holds
 * an underscore (see {@link hasUnderscore}); plus the gateway's identity headers,
 * the request id, `X-Forwarded-For` (the client address: the TCP peer, or the
 * PROXY protocol source when a trusted balancer sent one) and
 * `X-Forwarded-Proto: https`.
 */
export function buildUpstreamHeaders(options: BuildUpstreamHeadersOptions): string[] {
  const names = options.names ?? DEFAULT_IDENTITY_HEADERS;
  const connectionTokens = new Set<string>();
  const pairs = rawHeaderPairs(options.rawHeaders);
  for (const [name, value] of pairs) {
    if (name.toLowerCase() === 'connection') {
      for (const t of value.split(',')) connectionTokens.add(t.trim().toLowerCase());
    }
  }
  const out: string[] = [];
  for (const [name, value] of pairs) {
    const lower = name.toLowerCase();
    if (
      hasUnderscore(lower) ||
      HOP_BY_HOP.has(lower) ||
      connectionTokens.has(lower) ||
      FORWARDING_HEADERS.has(lower) ||
      isIdentityHeader(lower, names)
    )
      continue;
    out.push(name, value);
  }
  for (const [n, v] of options.identityPairs ?? identityHeaderPairs(options.identity, names))
    out.push(n, v);
  out.push(names.requestId, options.requestId);
  out.push('X-Forwarded-For', options.clientIp, 'X-Forwarded-Proto', 'https');
  return out;
}
