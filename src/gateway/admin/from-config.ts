/**
 * The admin API as the gateway configuration describes it, for whichever
 * process hosts it (the single gateway process, or the primary of workers).
 */
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config.js';
import type { ConsoleOptions } from '../console/handler.js';
import type { Registry } from '../registry/types.js';
import {
  loadAdminSettings,
  startAdminServer,
  type AdminServerOptions,
  type RunningAdmin,
} from './server.js';

/** Options for {@link startConfiguredAdmin}. */
export interface StartConfiguredAdminOptions {
  /** The `admin` section of the gateway configuration. */
  admin: GatewayConfig['admin'];
  /** The registry the API manages (not closed by the server). */
  registry: Registry;
  /** Readiness for the admin API's /readyz. */
  ready: NonNullable<AdminServerOptions['ready']>;
  /** Receives one line per served admin request. */
  logger: Logger;
  /** Metrics and limits for CRL downloads asked for through the API. */
  crlDownload?: AdminServerOptions['crlDownload'];
  /** The gateway's health, shown on the web console's overview. */
  health?: ConsoleOptions['health'];
}

/** True when the configuration turns the admin API on (it never starts without authentication). */
export function adminConfigured(admin: GatewayConfig['admin']): boolean {
  return Boolean(admin.tokenFile || admin.clientCaFile);
}

/** The listener settings of the `admin` configuration section, as {@link loadAdminSettings} takes them. */
export function adminSettingsOf(
  a: GatewayConfig['admin'],
): Parameters<typeof loadAdminSettings>[0] {
  return {
    host: a.listen.host,
    port: a.listen.port,
    ...(a.tokenFile ? { tokenFile: a.tokenFile } : {}),
    ...(a.clientCaFile ? { clientCaFile: a.clientCaFile } : {}),
    ...(a.certFile ? { certFile: a.certFile } : {}),
    ...(a.keyFile ? { keyFile: a.keyFile } : {}),
  };
}

/**
 * Starts the admin API from the `admin` configuration section.
 * @throws the errors of {@link startAdminServer} (MTLS_CONFIG_INVALID, listen errors)
 */
export function startConfiguredAdmin(options: StartConfiguredAdminOptions): Promise<RunningAdmin> {
  return startAdminServer({
    registry: options.registry,
    ...adminSettingsOf(options.admin),
    ready: options.ready,
    ...(options.crlDownload ? { crlDownload: options.crlDownload } : {}),
    ...(options.health ? { console: { health: options.health } } : {}),
    onRequest: (entry) =>
      options.logger.info({ admin: entry }, `admin ${entry.method} ${entry.path} ${entry.status}`),
  });
}
