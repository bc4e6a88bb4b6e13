/**
 * One plain-language hint per verdict: what the user should do next.
 */
import type { TlsVersionName } from '../tls/versions.js';
import type { Verdict } from './classify.js';

/** Facts that sharpen a hint. */
export interface HintFacts {
  /** HTTP status, for `http-error`. */
  status?: number;
  /** Versions the server accepts, when probed. */
  serverVersions?: Partial<Record<TlsVersionName, boolean>>;
  /** The highest version we offered. */
  offeredMax?: TlsVersionName;
  /** The CA names the server accepts (RFC 4514), when seen. */
  acceptableCas?: string[];
  /** The TLS handshake completed before the exchange ended. */
  handshakeCompleted?: boolean;
}

function versionHint(facts: HintFacts): string {
  const v = facts.serverVersions ?? {};
  const only13 = v['TLSv1.3'] === true && v['TLSv1.2'] === false;
  if (only13) {
    return 'The server speaks only TLS 1.3 and this client pins TLS 1.2 (what the provider in the guide requires): check that you are calling the right endpoint, or use --tls 1.3 if this server really is the one.';
  }
  if (facts.offeredMax === 'TLSv1.3' && v['TLSv1.2'] === true) {
    return 'The server accepts TLS 1.2 only: drop --tls 1.3 (TLS 1.2 is the default) and pin TLS 1.2 in your own code too.';
  }
  return 'Client and server share no TLS version: run `mtls probe HOST:PORT` to see which versions the server accepts, and pin TLS 1.2 as the provider requires.';
}

function statusHint(status: number | undefined): string {
  if (status === 401 || status === 403) {
    return `The mTLS handshake succeeded; the API itself refused the request (HTTP ${status}): check the API credentials or headers it expects, and ask the provider whether your certificate is linked to your institution.`;
  }
  if (status === 404)
    return 'The mTLS handshake succeeded; the path does not exist on this server (HTTP 404): check the URL against the API documentation.';
  if (status === 421)
    return 'The server says the request went to the wrong host (HTTP 421): use the host name from its certificate in the URL.';
  if (status === 429)
    return 'The mTLS handshake succeeded; the server limits how fast you may call (HTTP 429): slow down, wait the seconds its Retry-After header names before retrying, and ask the provider for a higher limit if your normal traffic needs it.';
  if (status !== undefined && status >= 500) {
    return `The mTLS handshake succeeded; the server failed to handle the request (HTTP ${status}): retry later or send the provider the time of the call.`;
  }
  return `The mTLS handshake succeeded; the server refused the request itself (HTTP ${status ?? '4xx'}): read the response body for its reason.`;
}

/**
 * The hint for a verdict: one or two sentences a user can act on.
 */
export function hintFor(verdict: Verdict, facts: HintFacts = {}): string {
  switch (verdict) {
    case 'ok':
      return 'The call works. Write it for your platform with `mtls snippet --lang curl|node|python|java|go|csharp|postman URL …`.';
    case 'no-client-cert-requested':
      return "The server did not ask for a client certificate, so this endpoint does not enforce mTLS: check that you call the provider's mTLS endpoint, not its regular one.";
    case 'http-error':
      return statusHint(facts.status);
    case 'unreachable':
      return 'Check the host name and port, and that a firewall or proxy does not block the connection.';
    case 'timeout':
      return facts.handshakeCompleted
        ? 'The TLS connection is up but the server did not answer in time: retry with a longer --timeout, and if it persists ask the provider whether the API behind their gateway is slow or down.'
        : "Nothing answered in time: check the host and port; a provider's firewall may silently drop traffic from a source IP that is not registered.";
    case 'closed-before-handshake':
      return "The server hung up before any TLS handshake, which is what the provider does for a source IP it has not registered: check that this machine's public IP (for example `curl https://ifconfig.me`) is the static IP you registered.";
    case 'not-tls':
      return 'The port does not speak TLS: check the port number and that the URL starts with https://.';
    case 'tls-version-mismatch':
      return versionHint(facts);
    case 'handshake-failure':
      return 'The server ended the handshake: compare the certificate types and signature algorithms it accepts (`mtls probe HOST:PORT`) with your key type, and check that you send the certificate it expects.';
    case 'client-cert-missing':
      return 'The server requires a client certificate: pass --pfx FILE.pfx --password-file FILE, or --cert CERT.pem --key KEY.pem.';
    case 'client-cert-untrusted':
      return facts.acceptableCas && facts.acceptableCas.length > 0
        ? `The server does not trust the CA that issued your certificate (it accepts: ${facts.acceptableCas.join('; ')}): send the provider your public CA chain (\`mtls ca chain\`) and wait until they install it, or use a certificate from a CA they already trust.`
        : 'The server does not trust the CA that issued your certificate: send the provider your public CA chain (`mtls ca chain`) and wait until they install it, or use a certificate from a CA they already trust.';
    case 'client-cert-expired':
      return 'Your certificate has expired: issue a new one from the same CA (`mtls ca issue NAME`) and use it; the provider needs nothing new as long as the CA chain is unchanged.';
    case 'client-cert-not-yet-valid':
      return "Your certificate is not valid yet: check this machine's clock (and the CA's), or wait until its notBefore date.";
    case 'client-cert-wrong-purpose':
      return 'Your certificate is not allowed for client authentication: issue a new one with the client profile (`mtls ca issue NAME`, profile client or usr_cert), which sets extendedKeyUsage = clientAuth.';
    case 'client-cert-revoked':
      return 'The server considers your certificate revoked: issue a new certificate and, if the provider keeps your CRL, send it the updated CRL.';
    case 'client-cert-rejected':
      return 'The server refused your certificate without saying why: confirm with the provider that your CA chain is installed and your source IP registered, and compare your certificate with what they expect (`mtls probe HOST:PORT --pfx …` shows both sides).';
    case 'server-untrusted':
      return "This client does not trust the server's certificate: pass the provider's CA with --ca-file FILE (or add it to the system roots); never turn verification off.";
    case 'server-name-mismatch':
      return "The server's certificate does not name the host in the URL: use a host name it names, or --resolve NAME:PORT:IP to call an address under its proper name.";
  }
}
