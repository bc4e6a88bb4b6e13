/**
 * The gateway's configuration keys as one table: each key's fix hint, and for
 * those a flag and an environment variable can set, the flag's help and the
 * variable; path keys say so. The overrides, the environment, path resolution,
 * the hints and `gateway start`'s flags all derive from it.
 *
 * Kept apart from the schema and the loader (./config.ts): declaring
 * `gateway start`'s flags needs only this table, and every `mtls gateway …`
 * command declares them, so the CLI starts without parsing zod and yaml.
 */
import { isIP } from 'node:net';

/** A host and port to listen on. */
export interface ListenAddress {
  host: string;
  port: number;
}

/** Default mTLS listen address. */
export const DEFAULT_LISTEN: ListenAddress = { host: '127.0.0.1', port: 8443 };
/** Default operations listen address. */
export const DEFAULT_OPS_LISTEN: ListenAddress = { host: '127.0.0.1', port: 9443 };

/** Environment variable holding the server key passphrase when no file is given. */
export const KEY_PASSPHRASE_ENV = 'MTLS_GATEWAY_KEY_PASSPHRASE';
/** Environment variable holding the server .pfx password when no file is given. */
export const PFX_PASSWORD_ENV = 'MTLS_GATEWAY_PFX_PASSWORD';
/** Environment variable holding the passphrase of `upstreamTls.key` when no file is given. */
export const UPSTREAM_KEY_PASSPHRASE_ENV = 'MTLS_GATEWAY_UPSTREAM_KEY_PASSPHRASE';

/** Default admin API listen address. */
export const DEFAULT_ADMIN_LISTEN: ListenAddress = { host: '127.0.0.1', port: 8444 };

/** Upper bound of `workers`: a typo such as 80 for 8 still starts, 10 000 does not. */
export const MAX_WORKERS = 1024;

/** What the configuration knows about one key besides its schema. */
interface KeyBase {
  /** How to fix a bad value, shown after the problem. */
  fix: string;
  /**
   * A file path: resolved against the configuration file's directory (from
   * the file) or the working directory (from a flag or the environment).
   * `unless-url` leaves `sqlite:…` / `postgres://…` locations alone.
   */
  file?: true | 'unless-url';
}
/** A key that a flag and an environment variable can set. */
interface OverridableKey extends KeyBase {
  /** The override's name; the `gateway start` flag is its kebab-case (`keyPassphraseFile` → `--key-passphrase-file`). */
  override: string;
  /** The flag's value placeholder in `--help` (`host:port`). */
  value: string;
  /** The flag's `--help` line. */
  help: string;
  /** The environment variable that overrides the file. */
  env: string;
  /** Its former name, still read, with a deprecation warning. */
  envAlias?: string;
}
type KeyInfo = KeyBase | OverridableKey;

/**
 * Every configuration key with its fix hint, and for those that can be set
 * outside the file, its flag and environment variable; path keys say so. The
 * overrides, the environment, path resolution and the hints all derive from
 * this table. The registry and admin token variables are the ones the
 * management commands read, so one variable serves both.
 */
const KEYS = {
  listen: {
    fix: 'write HOST:PORT, e.g. 127.0.0.1:8443 or [::1]:8443',
    override: 'listen',
    value: 'host:port',
    help: `mTLS listen address (default ${formatListenAddress(DEFAULT_LISTEN)})`,
    env: 'MTLS_GATEWAY_LISTEN',
  },
  upstream: {
    fix: 'write the upstream origin as a URL, e.g. http://127.0.0.1:8080',
    override: 'upstream',
    value: 'url',
    help: 'upstream origin, e.g. http://127.0.0.1:8080',
    env: 'MTLS_GATEWAY_UPSTREAM',
  },
  registry: {
    fix: 'give the registry location: a SQLite file path (e.g. /var/lib/mtls/registry.db) or postgres://user@host/db',
    override: 'registry',
    value: 'location',
    help: 'registry: SQLite file path or postgres:// URL',
    env: 'MTLS_REGISTRY',
    envAlias: 'MTLS_GATEWAY_REGISTRY',
    file: 'unless-url',
  },
  'tls.cert': {
    fix: 'give the server certificate PEM file (leaf first, then intermediates)',
    override: 'cert',
    value: 'file',
    help: 'server certificate PEM (leaf first, then intermediates)',
    env: 'MTLS_GATEWAY_CERT',
    file: true,
  },
  'tls.key': {
    fix: 'give the server private key PEM file',
    override: 'key',
    value: 'file',
    help: 'server private key PEM',
    env: 'MTLS_GATEWAY_KEY',
    file: true,
  },
  'tls.keyPassphraseFile': {
    fix: 'give a file whose first line is the key passphrase',
    override: 'keyPassphraseFile',
    value: 'file',
    help: `file holding the key passphrase (else env ${KEY_PASSPHRASE_ENV})`,
    env: 'MTLS_GATEWAY_KEY_PASSPHRASE_FILE',
    file: true,
  },
  'tls.pfx': {
    fix: 'give the server credential .pfx file, or use tls.cert + tls.key instead',
    override: 'pfx',
    value: 'file',
    help: 'server credential as .pfx instead of --cert/--key',
    env: 'MTLS_GATEWAY_PFX',
    file: true,
  },
  'tls.pfxPasswordFile': {
    fix: 'give a file whose first line is the .pfx password',
    override: 'pfxPasswordFile',
    value: 'file',
    help: `file holding the .pfx password (else env ${PFX_PASSWORD_ENV})`,
    env: 'MTLS_GATEWAY_PFX_PASSWORD_FILE',
    file: true,
  },
  'tls.handshakeTimeoutMs': { fix: 'give milliseconds between 100 and 120000, e.g. 10000' },
  'limits.maxHeaderBytes': {
    fix: 'give bytes between 1024 and 1048576, e.g. 16384 or "16kb"',
  },
  'limits.maxBodyBytes': { fix: 'give bytes, e.g. 10485760 or "10mb"' },
  'limits.maxConnections': { fix: 'give a positive integer, e.g. 10000' },
  'limits.institutionRequestsPerSecond': {
    fix: 'give requests per second per institution, e.g. 100 (0.5 is one every 2 s), or null for no limit',
  },
  'limits.institutionRequestBurst': {
    fix: 'give a positive integer, e.g. 200, or null for the rate itself',
  },
  'limits.maxConnectionsPerIp': {
    fix: 'give a positive integer, e.g. 500, or null for no limit per address',
  },
  'limits.requestTimeoutMs': { fix: 'give milliseconds, e.g. 60000' },
  'limits.keepAliveTimeoutMs': { fix: 'give milliseconds, e.g. 5000' },
  'upstreamPool.connections': { fix: 'give a positive integer, e.g. 64' },
  'upstreamPool.connectTimeoutMs': { fix: 'give milliseconds, e.g. 5000' },
  'upstreamPool.responseTimeoutMs': { fix: 'give milliseconds, e.g. 30000' },
  'upstreamPool.bodyTimeoutMs': { fix: 'give milliseconds, e.g. 30000' },
  'upstreamPool.keepAliveTimeoutMs': { fix: 'give milliseconds, e.g. 4000' },
  'upstreamTls.ca': {
    fix: "give a PEM file of the CA certificate(s) that issued the upstream's certificate",
    file: true,
  },
  'upstreamTls.cert': {
    fix: 'give the PEM certificate the gateway presents to the upstream, with upstreamTls.key',
    file: true,
  },
  'upstreamTls.key': {
    fix: 'give the private key PEM of upstreamTls.cert (mode 0600, encrypted or not)',
    file: true,
  },
  'upstreamTls.keyPassphraseFile': {
    fix: `give a file whose first line is the passphrase of upstreamTls.key (or set ${UPSTREAM_KEY_PASSPHRASE_ENV})`,
    file: true,
  },
  'upstreamTls.servername': {
    fix: "give the DNS name on the upstream's certificate, e.g. api.internal",
  },
  'policy.minRsaBits': { fix: 'give 2048 or more (NIST SP 800-57 Part 1 §5.6.1)' },
  'policy.minEcBits': { fix: 'give 256 or more' },
  'crl.stale': {
    fix: 'give fail_closed (refuse while the CRL is past nextUpdate) or fail_open_with_alarm (accept, with an audit reason, a metric and a warning)',
  },
  'crl.maxBytes': { fix: 'give bytes between 1024 and 104857600, e.g. 10485760 or "10mb"' },
  'crl.fetchTimeoutMs': { fix: 'give milliseconds between 100 and 300000, e.g. 10000' },
  identityHeaders: { fix: 'header names are tokens (RFC 9110 §5.1), e.g. X-Mtls-Subject' },
  'ops.listen': {
    fix: 'write HOST:PORT, e.g. 127.0.0.1:9443, or "off"',
    override: 'opsListen',
    value: 'host:port|off',
    help: `health and metrics listener (default ${formatListenAddress(DEFAULT_OPS_LISTEN)})`,
    env: 'MTLS_GATEWAY_OPS_LISTEN',
  },
  'admin.listen': {
    fix: 'write HOST:PORT, e.g. 127.0.0.1:8444',
    override: 'adminListen',
    value: 'host:port',
    help: `admin API listener (default ${formatListenAddress(DEFAULT_ADMIN_LISTEN)})`,
    env: 'MTLS_GATEWAY_ADMIN_LISTEN',
  },
  'admin.tokenFile': {
    fix: 'give a file whose first line is a long random token (openssl rand -hex 32 > admin.token)',
    override: 'adminTokenFile',
    value: 'file',
    help: 'bearer token file for the admin API (starts the admin API)',
    env: 'MTLS_ADMIN_TOKEN_FILE',
    envAlias: 'MTLS_GATEWAY_ADMIN_TOKEN_FILE',
    file: true,
  },
  'admin.clientCaFile': {
    fix: 'give the PEM CA that admin client certificates chain to (with admin.certFile and admin.keyFile)',
    file: true,
  },
  'admin.certFile': { fix: 'give the admin HTTPS server certificate PEM', file: true },
  'admin.keyFile': { fix: 'give the admin HTTPS server key PEM', file: true },
  'audit.flushIntervalMs': { fix: 'give milliseconds between 10 and 5000, e.g. 250' },
  'audit.maxQueue': { fix: 'give a positive integer, e.g. 10000' },
  'audit.maxFailureSeconds': { fix: 'give whole seconds between 1 and 86400, e.g. 30' },
  'audit.retentionDays': {
    fix: 'give whole days between 1 and 36500, e.g. 400 (PCI DSS 10.5.1 keeps 12 months), or null to keep every record',
  },
  'audit.durability': {
    fix: 'give batched (records reach the registry within flushIntervalMs) or durable (committed before the response)',
  },
  logLevel: {
    fix: 'use one of fatal, error, warn, info, debug, trace, silent',
    override: 'logLevel',
    value: 'level',
    help: 'fatal, error, warn, info, debug, trace or silent (default info)',
    env: 'MTLS_GATEWAY_LOG_LEVEL',
  },
  registryPollMs: {
    fix: 'give milliseconds between 50 and 250 (a change must reach new connections within 1 s, poll and rebuild included)',
  },
  drainTimeoutMs: { fix: 'give milliseconds, e.g. 30000' },
  drainDelayMs: {
    fix: "give milliseconds between 0 and 300000, e.g. 10000 (two or three of the balancer's health-check intervals)",
  },
  proxyProtocol: {
    fix: 'use off, required (every connection comes from a trusted balancer with a header) or optional',
    override: 'proxyProtocol',
    value: 'mode',
    help: 'read a PROXY protocol header first: off, required or optional (default off)',
    env: 'MTLS_GATEWAY_PROXY_PROTOCOL',
  },
  trustedProxies: {
    fix: "list the balancers' addresses or blocks, e.g. [10.0.0.5, 10.0.1.0/24] (flag --trusted-proxies 10.0.0.5,10.0.1.0/24)",
    override: 'trustedProxies',
    value: 'cidrs',
    help: 'comma-separated balancer addresses/CIDRs whose PROXY headers are believed',
    env: 'MTLS_GATEWAY_TRUSTED_PROXIES',
  },
  proxyHeaderTimeoutMs: { fix: 'give milliseconds between 100 and 60000, e.g. 5000' },
  workers: {
    fix: `give a whole number of processes from 1 to ${MAX_WORKERS}, or "auto" for one per CPU`,
    override: 'workers',
    value: 'n|auto',
    help: 'processes serving the mTLS port; 1 runs a single process (default: one per CPU)',
    env: 'MTLS_GATEWAY_WORKERS',
  },
} as const satisfies Record<string, KeyInfo>;

/** A configuration key path (`tls.cert`). */
export type GatewayConfigKey = keyof typeof KEYS;

/** The name of an override (a `gateway start` flag's attribute). */
type OverrideName = {
  [K in GatewayConfigKey]: (typeof KEYS)[K] extends { override: infer O extends string }
    ? O
    : never;
}[GatewayConfigKey];

/** Flags (and their env twins) that override the file; comma-separated CIDRs for `trustedProxies`. */
export type GatewayConfigOverrides = { [K in OverrideName]?: string };

/** One row of {@link GATEWAY_CONFIG_KEYS}. */
export interface GatewayConfigKeyInfo {
  /** The key's path in the file, dotted. */
  key: string;
  /** How to fix a bad value. */
  fix: string;
  /** The override (flag attribute) name, the flag, its help and the environment variable, when it has them. */
  override?: {
    name: OverrideName;
    flag: string;
    /** `--flag <value>`, as `gateway start` declares it. */
    flags: string;
    help: string;
    env: string;
    envAlias?: string;
  };
  /** Resolved as a file path (`unless-url`: not a `scheme:` location). */
  file?: true | 'unless-url';
}

const kebab = (name: string): string => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** The configuration keys: fix hint, flag, environment variable, whether a file path. */
export const GATEWAY_CONFIG_KEYS: readonly GatewayConfigKeyInfo[] = Object.entries(KEYS).map(
  ([key, info]: [string, KeyBase | (OverridableKey & { override: OverrideName })]) => ({
    key,
    fix: info.fix,
    ...('override' in info
      ? {
          override: {
            name: info.override,
            flag: `--${kebab(info.override)}`,
            flags: `--${kebab(info.override)} <${info.value}>`,
            help: info.help,
            env: info.env,
            ...(info.envAlias === undefined ? {} : { envAlias: info.envAlias }),
          },
        }
      : {}),
    ...(info.file === undefined ? {} : { file: info.file }),
  }),
);

/** Environment variables read by {@link loadGatewayConfig}, by override name. */
export const GATEWAY_ENV: Readonly<Record<OverrideName, string>> = Object.fromEntries(
  GATEWAY_CONFIG_KEYS.flatMap((k) => (k.override ? [[k.override.name, k.override.env]] : [])),
) as Record<OverrideName, string>; // an OverridableKey row always has both, so every name is present

/** Formats a listen address as `HOST:PORT` (`[v6]:PORT`). */
export function formatListenAddress(a: ListenAddress): string {
  return isIP(a.host) === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
