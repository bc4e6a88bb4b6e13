/**
 * The admin side of the gateway: the admin API server, its client, and the
 * registry management operations both share.
 */
export {
  startAdminServer,
  DEFAULT_ADMIN_PORT,
  DEFAULT_ADMIN_BODY_LIMIT,
  type AdminServerOptions,
  type RunningAdmin,
  type AdminRequestLog,
} from './server.js';
export { AdminClient, createAdminClient, type AdminClientOptions } from './client.js';
export {
  createLocalAdmin,
  type RegistryAdmin,
  type InstitutionSummary,
  type AddCaChainResult,
  type PutCrlsResult,
  type LocalAdminOptions,
} from './operations.js';
export { parseSince } from './since.js';
