/**
 * CRL distribution points (RFC 5280 §4.2.1.13): the URL a relying party
 * fetches the CA's CRL from, written into the signing profiles of
 * openssl.cnf as `crlDistributionPoints = URI:…` so that `openssl ca` and
 * mtlskit put the same extension in every certificate they issue.
 */
import { MtlsError } from '../errors/index.js';
import type { ExtensionProfile } from '../pki/profile.js';

/**
 * The profiles that carry the distribution point: every profile that issues
 * a certificate someone checks for revocation. v3_ca (a self-signed trust
 * anchor, never looked up in a CRL) and v3_req (a request profile) do not.
 */
export const CRL_DP_PROFILES: readonly string[] = [
  'usr_cert',
  'client_cert',
  'server_cert',
  'v3_intermediate_ca',
];

/**
 * Checks a CRL distribution point URL: an absolute http:// or https:// URL,
 * without user info (it is published in every certificate) or a fragment.
 * RFC 5280 §4.2.1.13 names HTTP for DER CRLs; HTTPS is accepted because
 * relying parties that fetch it (the mtlskit gateway among them) can.
 * @throws MTLS_BAD_ARGUMENT naming what is wrong
 */
export function checkCrlUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new MtlsError('MTLS_BAD_ARGUMENT', `the CRL URL "${url}" is not an absolute URL`, {
      subject: '--crl-url',
      hint: 'Write it in full, e.g. http://pki.example.com/acme-ca.crl',
    });
  }
  const why =
    u.protocol !== 'http:' && u.protocol !== 'https:'
      ? `uses ${u.protocol.replace(':', '')}; only http and https can be fetched`
      : u.username || u.password
        ? 'holds a user name or password, which every certificate would publish'
        : u.hash
          ? 'has a #fragment, which no HTTP client sends'
          : /[\s"]/.test(url)
            ? 'holds a space or a quote'
            : undefined;
  if (why) {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `the CRL URL "${u.protocol === 'http:' || u.protocol === 'https:' ? u.origin + u.pathname : `${url.split(':')[0] ?? ''}:…`}" ${why}`,
      {
        subject: '--crl-url',
        hint: 'Use a plain http:// URL where the CRL is published, e.g. http://pki.example.com/acme-ca.crl',
      },
    );
  }
  return url;
}

/**
 * Returns `profiles` with `crlDistributionPoints = URI:url` set on each of
 * {@link CRL_DP_PROFILES} present; other profiles are returned unchanged.
 * @throws MTLS_BAD_ARGUMENT for a URL {@link checkCrlUrl} refuses
 */
export function withCrlDistributionPoint(
  profiles: Readonly<Record<string, ExtensionProfile>>,
  url: string,
): Record<string, ExtensionProfile> {
  checkCrlUrl(url);
  const out: Record<string, ExtensionProfile> = {};
  for (const [name, p] of Object.entries(profiles)) {
    out[name] = CRL_DP_PROFILES.includes(name)
      ? { ...p, crlDistributionPoints: [{ type: 'uri', value: url }] }
      : p;
  }
  return out;
}
