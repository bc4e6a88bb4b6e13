/**
 * TLS from the gateway to an `https:` upstream (`upstreamTls`): which CAs may
 * issue the upstream's certificate, the name it must carry, and the client
 * certificate the gateway presents when the upstream asks for one (mTLS on
 * the second hop, as Envoy's upstream TLS context). Verification is never
 * turned off: without `ca`, Node's bundled public roots decide; with it, only
 * those CAs do (RFC 9110 §4.3.4: the upstream's identity is checked against
 * the name, RFC 6125 rules via node:tls).
 */
import { X509Certificate } from 'node:crypto';
import { MtlsError } from '../errors/index.js';
import { readFileChecked } from '../io/index.js';
import { UPSTREAM_KEY_PASSPHRASE_ENV, type GatewayConfig } from './config.js';
import { loadPemCredential, type ServerCredential } from './server-credential.js';

/** The loaded settings, as the upstream pool's TLS connect options. */
export interface UpstreamTls {
  /** Trusted CA certificates (PEM), or null for Node's bundled roots. */
  ca: string[] | null;
  /** The client credential presented to the upstream, or null. */
  client: ServerCredential | null;
  /** SNI and the name checked on the upstream's certificate, or null for the URL's host. */
  servername: string | null;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * Loads `upstreamTls`. Null when nothing is configured (an http: upstream, or
 * an https: one checked against the public roots under its own name).
 * @throws MTLS_FILE_NOT_FOUND / MTLS_FILE_READ, MTLS_PEM_INVALID (a CA file
 *   without a readable certificate), and the client credential's errors from
 *   {@link loadPemCredential} (MTLS_PASSPHRASE_REQUIRED, MTLS_KEY_MISMATCH, …)
 */
export async function loadUpstreamTls(
  src: GatewayConfig['upstreamTls'],
  env: NodeJS.ProcessEnv = process.env,
  now = new Date(),
): Promise<UpstreamTls | null> {
  if (!src.ca && !src.cert && !src.key && !src.servername) return null;
  let ca: string[] | null = null;
  if (src.ca) {
    const text = (await readFileChecked(src.ca, 'upstream CA file')).toString('utf8');
    ca = text.match(PEM_CERT) ?? [];
    if (ca.length === 0)
      throw new MtlsError(
        'MTLS_PEM_INVALID',
        `upstream CA file ${src.ca} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
        { subject: src.ca, hint: "Give the PEM of the CA that issued the upstream's certificate." },
      );
    for (const [i, pem] of ca.entries()) {
      try {
        new X509Certificate(pem);
      } catch (e) {
        throw new MtlsError(
          'MTLS_PEM_INVALID',
          `certificate ${i + 1} in upstream CA file ${src.ca} does not parse`,
          { subject: src.ca, cause: e },
        );
      }
    }
  }
  const client =
    src.cert && src.key
      ? await loadPemCredential(
          { cert: src.cert, key: src.key, keyPassphraseFile: src.keyPassphraseFile },
          {
            name: 'upstream client',
            passphraseEnv: UPSTREAM_KEY_PASSPHRASE_ENV,
            passphraseKey: 'upstreamTls.keyPassphraseFile',
            purpose: 'clientAuth',
          },
          env,
          now,
        )
      : null;
  return { ca, client, servername: src.servername };
}
