/**
 * Issuer checks and chain ordering shared by every module that handles a
 * bag of certificates (PKCS#12 files, PEM credentials, onboarding uploads,
 * the gateway's path building).
 */
import type { X509Certificate } from 'node:crypto';

/**
 * True when `issuer` issued `cert` (RFC 5280 §6.1.3 (a)(1), (a)(4)): OpenSSL's
 * `X509_check_issued` accepts the pair (issuer Name equals the issuer's subject
 * Name, the authority key identifier matches the subject key identifier when
 * both are present, and the issuer's keyUsage, if any, allows keyCertSign,
 * §4.2.1.3) and the signature verifies with the issuer's public key.
 * Never throws: an unreadable key counts as "not issued by".
 */
export function isIssuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/** The path found by {@link orderChainFrom}. */
export interface OrderedChain<T> {
  /** Issuers above the start certificate, nearest first (the start itself excluded). */
  path: T[];
  /** Certificates that are not on that path, in their original order. */
  rest: T[];
}

/**
 * Walks up from `start`: each next certificate is the issuer of the previous
 * one (by {@link isIssuedBy}). Stops at a self-issued certificate or when no
 * remaining certificate issued the current one. Each certificate is used once.
 * @param x509Of - the node:crypto view of an item
 */
export function orderChainFrom<T>(
  start: T,
  others: readonly T[],
  x509Of: (item: T) => X509Certificate,
): OrderedChain<T> {
  const rest = [...others];
  const path: T[] = [];
  let current = x509Of(start);
  for (;;) {
    if (current.subject === current.issuer) break;
    const child = current;
    const idx = rest.findIndex((c) => isIssuedBy(child, x509Of(c)));
    if (idx < 0) break;
    const [next] = rest.splice(idx, 1);
    // findIndex found it, so splice removed exactly one element.
    if (next === undefined) break;
    path.push(next);
    current = x509Of(next);
  }
  return { path, rest };
}

/**
 * Orders certificates from the leaf upwards: each next one is the issuer of
 * the previous (by name and signature). Certificates that do not fit the path
 * follow in their original order. Without a leaf the input comes back as is.
 */
export function orderChain(
  leaf: X509Certificate | undefined,
  others: readonly X509Certificate[],
): X509Certificate[] {
  if (!leaf) return [...others];
  const { path, rest } = orderChainFrom(leaf, others, (c) => c);
  return [...path, ...rest];
}
