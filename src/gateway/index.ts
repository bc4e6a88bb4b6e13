/** The provider side: the TLS-1.2 mTLS gateway, its registry, onboarding and admin API. */
export { startGateway, type StartGatewayOptions, type RunningGateway, type ReloadCredentialResult } from './gateway.js';
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
export { evaluateConnection, mapAuthorizationError, buildInstitutionPath, type PolicyDecision, type ConnectionEvidence, type PolicyOptions } from './policy.js';
export {
  buildUpstreamHeaders,
  identityHeaderPairs,
  isIdentityHeader,
  hasUnderscore,
  toByteSequence,
  headerSafe,
  DEFAULT_IDENTITY_HEADERS,
  type IdentityHeaderNames,
  type ClientIdentity,
} from './identity-headers.js';
export { IpMatcher, parseIp, normalizeIp, cidrContains } from './ip-match.js';
export { loadServerCredential } from './server-credential.js';
export { handleHealthRequest, startOpsServer } from './health.js';
export { GatewayMetrics } from './metrics.js';
export { createTenantServer, classifyTlsClientError, handshakeErrorRecord, type TenantServerOptions, type ClientOfSocket } from './tenant-server.js';
export { ConnectionTracker, refusalForLookup, type ConnectionState, type ConnectionTrackerOptions, type HandshakeEvidence } from './connection-state.js';
export { RequestHandler, type RequestHandlerOptions } from './request-handler.js';
export { TrustCache, TrustParseCache, buildSnapshot, updateSnapshot } from './trust-cache.js';
export { AuditSink, makeAuditRecord } from './audit.js';
export {
  startGatewayWorkers,
  type StartGatewayWorkersOptions,
  type RunningGatewayWorkers,
  type WorkerInfo,
  type WorkerReloadResult,
  type WorkersExit,
} from './workers/primary.js';
export { decideRestart, DEFAULT_RESTART_POLICY, type RestartPolicyOptions, type RestartDecision } from './workers/restart-policy.js';
export * from './registry/index.js';
export * from './onboarding.js';
export * from './admin/index.js';
