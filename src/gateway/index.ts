/**
 * The provider side: the TLS-1.2 mTLS gateway (one process or supervised
 * workers), its configuration, the registry of institutions, onboarding
 * checks and the admin API. The parts the gateway is wired from (tenant TLS
 * servers, connection state, the request handler, the trust cache, the audit
 * sink, metrics) are internals: their shape changes with the implementation.
 *
 * This entry loads the native SQLite module; `pg` loads only when a
 * `postgres://` registry is opened.
 */
import 'reflect-metadata';

export {
  startGateway,
  type StartGatewayOptions,
  type RunningGateway,
  type ReloadCredentialResult,
} from './gateway.js';
export {
  startGatewayWorkers,
  type StartGatewayWorkersOptions,
  type RunningGatewayWorkers,
  type WorkerInfo,
  type WorkerReloadResult,
  type WorkersExit,
} from './workers/primary.js';
export {
  loadGatewayConfig,
  parseListenAddress,
  formatListenAddress,
  GATEWAY_ENV,
  DEFAULT_LISTEN,
  DEFAULT_OPS_LISTEN,
  type GatewayConfig,
  type GatewayConfigOverrides,
  type LoadGatewayConfigOptions,
  type ListenAddress,
} from './config.js';
export {
  evaluateConnection,
  type PolicyDecision,
  type ConnectionEvidence,
  type PolicyOptions,
} from './policy.js';
export {
  DEFAULT_IDENTITY_HEADERS,
  type IdentityHeaderNames,
  type ClientIdentity,
} from './identity-headers.js';
export * from './registry/types.js';
export {
  openRegistry,
  parseRegistryLocation,
  type OpenRegistryOptions,
  type RegistryLocation,
} from './registry/index.js';
export {
  openSqliteRegistry,
  SqliteRegistry,
  type SqliteRegistryOptions,
} from './registry/sqlite-registry.js';
export {
  openPostgresRegistry,
  PostgresRegistry,
  type PostgresRegistryOptions,
} from './registry/postgres-registry.js';
export {
  assertNoPrivateKey,
  validateCaChain,
  onboardCaChain,
  validateCrls,
  onboardCrls,
  type OnboardCheck,
  type ValidateCaChainOptions,
  type ChainCertificateInfo,
  type ValidatedChain,
  type OnboardCaChainOptions,
  type OnboardCaChainResult,
  type ValidateCrlOptions,
  type ValidatedCrl,
  type OnboardCrlResult,
} from './onboarding.js';
export * from './admin/index.js';
