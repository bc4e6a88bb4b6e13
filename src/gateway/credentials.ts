/**
 * The gateway's own credentials, loaded together: the server certificate and
 * key the institutions see, and the upstream TLS settings with the client
 * credential the upstream sees. With workers the primary loads them, at start
 * and on SIGHUP, and hands the result to every worker: a worker that restarts
 * gets the credential the instance is serving, not whatever the files on
 * disk hold at that moment (a rotation half done, a bad key a reload already
 * refused), so a refused reload can never take a worker, and with it the
 * instance, down later.
 */
import type { Logger } from 'pino';
import type { GatewayConfig } from './config.js';
import { loadServerCredential, type ServerCredential } from './server-credential.js';
import { loadUpstreamTls, type UpstreamTls } from './upstream-tls.js';

/** What the gateway serves with. */
export interface GatewayCredentials {
  server: ServerCredential;
  /** Null when no upstream TLS setting is configured. */
  upstreamTls: UpstreamTls | null;
}

/**
 * Loads both from the configured files. Both load before either is used, so
 * a failure leaves the ones in service untouched.
 * @throws the errors of {@link loadServerCredential} and {@link loadUpstreamTls}
 */
export async function loadGatewayCredentials(
  cfg: Pick<GatewayConfig, 'tls' | 'upstreamTls'>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<GatewayCredentials> {
  const server = await loadServerCredential(cfg.tls, env);
  const upstreamTls = await loadUpstreamTls(cfg.upstreamTls, env);
  return { server, upstreamTls };
}

/**
 * Logs what the credentials' checks found that does not stop the gateway
 * (a key file others may read, a certificate near its expiry).
 */
export function logCredentialWarnings(logger: Logger, c: GatewayCredentials): void {
  for (const w of [...c.server.warnings, ...(c.upstreamTls?.client?.warnings ?? [])])
    logger.warn({ credentialWarning: true }, w);
}

/** A credential as JSON carries it (its expiry as an ISO time). */
type WireCredential = Omit<ServerCredential, 'notAfter'> & { notAfter: string };

/** {@link GatewayCredentials} in the JSON form of the cluster IPC channel. */
export interface WireCredentials {
  server: WireCredential;
  upstreamTls: (Omit<UpstreamTls, 'client'> & { client: WireCredential | null }) | null;
}

const credentialToWire = (c: ServerCredential): WireCredential => ({
  ...c,
  notAfter: c.notAfter.toISOString(),
});
const credentialFromWire = (c: WireCredential): ServerCredential => ({
  ...c,
  notAfter: new Date(c.notAfter),
});

/**
 * The JSON form, for the IPC channel between the primary and its workers (a
 * pipe between processes of one user, which hold the key in memory anyway).
 */
export function credentialsToWire(c: GatewayCredentials): WireCredentials {
  return {
    server: credentialToWire(c.server),
    upstreamTls: c.upstreamTls && {
      ...c.upstreamTls,
      client: c.upstreamTls.client && credentialToWire(c.upstreamTls.client),
    },
  };
}

/** Back from {@link credentialsToWire}. */
export function credentialsFromWire(w: WireCredentials): GatewayCredentials {
  return {
    server: credentialFromWire(w.server),
    upstreamTls: w.upstreamTls && {
      ...w.upstreamTls,
      client: w.upstreamTls.client && credentialFromWire(w.upstreamTls.client),
    },
  };
}
