/**
 * A public key's identity across certificates: the SHA-256 of its
 * SubjectPublicKeyInfo as node:crypto re-encodes it, so one key has one value
 * whichever encoding a certificate carries (a compressed or uncompressed EC
 * point, say).
 */
import { createHash, type X509Certificate } from 'node:crypto';

/** Lower-case hex SHA-256 of the certificate's public key, re-encoded as SPKI DER. */
export function spkiSha256(cert: X509Certificate): string {
  return createHash('sha256')
    .update(cert.publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex');
}
