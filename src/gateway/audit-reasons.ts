/**
 * Every audit reason code in plain words: what happened, and what the
 * institution (or the provider's operator) should do about it. The one place
 * these texts live (the console shows them next to each record); the
 * meanings follow the TSDoc of `AUDIT_REASONS` and the README's tables.
 */
import type { AuditReason } from './registry/types.js';

/** The explanation of one reason code. */
export interface AuditReasonText {
  /** What happened, for an onboarding analyst. */
  meaning: string;
  /** What to do about it (usually the institution's side). */
  fix: string;
}

/** Explanations keyed by reason code (complete: the type requires every code). */
export const AUDIT_REASON_TEXTS: Readonly<Record<AuditReason, AuditReasonText>> = {
  ok: {
    meaning: 'The call was accepted.',
    fix: 'Nothing to do.',
  },
  ip_not_registered: {
    meaning:
      'The call came from an address no active institution has registered; the gateway closed the connection before the handshake.',
    fix: 'The institution calls only from the static IPs it gave you; register the new address (or CIDR) on its page if it is really theirs.',
  },
  institution_suspended: {
    meaning:
      'The institution is suspended, so its calls are refused whatever certificate they carry.',
    fix: 'Activate the institution once the reason for the suspension is settled.',
  },
  tls_version: {
    meaning: 'The client offered no TLS 1.2; the gateway speaks TLS 1.2 only.',
    fix: 'The institution must allow TLS 1.2 in its client (e.g. minVersion/maxVersion TLSv1.2).',
  },
  no_client_cert: {
    meaning: 'The client finished the handshake without sending a certificate.',
    fix: 'The institution must configure its client with the certificate and key (the .pfx) issued by its registered CA.',
  },
  unknown_ca: {
    meaning:
      'The client certificate was not issued by any CA registered for the institution calling from this address.',
    fix: 'The institution must use a certificate from its registered CA, or send you the chain of the CA it now uses to register.',
  },
  expired: {
    meaning: 'The client certificate (or a CA in its chain) is past its notAfter date.',
    fix: 'The institution must renew the certificate and install the new one.',
  },
  not_yet_valid: {
    meaning: 'The client certificate is not valid yet (notBefore is in the future).',
    fix: 'Check the clocks on both sides, or wait until the certificate becomes valid.',
  },
  revoked: {
    meaning: "The client certificate is listed on the institution's CRL.",
    fix: 'The institution must issue and install a new certificate.',
  },
  eku_missing: {
    meaning: 'The client certificate lacks the clientAuth extended key usage.',
    fix: 'The institution must issue a client certificate with extendedKeyUsage clientAuth.',
  },
  pinned_rule_mismatch: {
    meaning:
      "The certificate chains to the institution's CA but matches none of its pinned rules (subject CN, O or fingerprint).",
    fix: 'The institution must use the pinned certificate, or you update the pinned rules on its page.',
  },
  handshake_timeout: {
    meaning: 'The client opened a connection but did not complete the TLS handshake in time.',
    fix: "Check the institution's network path and that it speaks TLS to this port.",
  },
  bad_request: {
    meaning:
      'The HTTP request after the handshake was malformed, did not arrive in full within limits.requestTimeoutMs (status 408), or the client went away before its answer (status 499).',
    fix: 'The institution must send a well-formed HTTP/1.1 request, all of it without stalling, and wait for the answer.',
  },
  upstream_error: {
    meaning: 'The call was accepted but the API behind the gateway failed or did not answer.',
    fix: "Nothing on the institution's side; the provider's API team should look at the upstream.",
  },
  bad_certificate: {
    meaning:
      "The certificate chains to the institution's CA but fails the gateway's certificate policy (unparseable, weak digest, bad signature).",
    fix: 'The institution must issue a new certificate with a SHA-256 (or stronger) signature.',
  },
  ca_certificate: {
    meaning: 'A CA certificate was presented as the client certificate.',
    fix: 'The institution must issue a leaf client certificate from its CA and call with that, never with the CA itself.',
  },
  weak_key: {
    meaning: "A key in the client's chain is under the gateway's minimum size.",
    fix: 'The institution must issue a certificate with at least RSA-2048 or EC P-256.',
  },
  registry_unavailable: {
    meaning:
      'The gateway could not read its registry for too long, so it refused every call (fail closed).',
    fix: "Nothing on the institution's side; the provider's operator must restore the registry.",
  },
  proxy_untrusted: {
    meaning:
      'A PROXY protocol header came from a peer outside trustedProxies (or, with required, any connection from such a peer).',
    fix: "The provider's operator must list the balancer in trustedProxies, or the peer must not send PROXY headers.",
  },
  proxy_header_missing: {
    meaning:
      "PROXY protocol is required and a trusted balancer's connection did not start with a header.",
    fix: "The provider's operator must turn send-proxy on at the balancer.",
  },
  proxy_header_invalid: {
    meaning: "A trusted balancer's PROXY header was malformed, oversized, or not complete in time.",
    fix: "The provider's operator must check the balancer's PROXY protocol settings.",
  },
  crl_expired: {
    meaning:
      "The institution's CRL is past its nextUpdate and no fresh one has arrived, so revocation status is unknown.",
    fix: 'The institution must publish a fresh CRL (or you upload it), and check the CRL URL the gateway downloads from.',
  },
  connection_limit: {
    meaning:
      'The address already had as many connections open as limits.maxConnectionsPerIp allows; the gateway closed this one before the handshake.',
    fix: 'The institution must reuse its connections (keep-alive) or close the ones it leaks; raise the limit only if it really needs that many at once.',
  },
  rate_limited: {
    meaning:
      'The institution sent requests faster than its request rate allows (its own, or else limits.institutionRequestsPerSecond); this one got 429 and did not reach the API.',
    fix: 'The institution must slow down and honour Retry-After (back off, do not retry at once); if its contract allows more, give it its own rate with `mtls gateway institution rate`.',
  },
  drain_timeout: {
    meaning:
      'The gateway was shutting down and the call was still in flight when its drain time (drainTimeoutMs) ran out, so the gateway closed the connection: the client got no answer (or only part of one), and the API may or may not have acted on the call.',
    fix: "Nothing on the institution's side but to repeat the call if that is safe; if it recurs, the provider's operator gives the drain more time than the API's slowest calls take (drainTimeoutMs).",
  },
};
