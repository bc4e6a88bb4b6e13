/**
 * The gateway's configuration: a YAML file, then environment variables, then
 * command-line flags (later wins), validated with zod. Every error names the
 * key, what is wrong with its value, and how to fix it.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { MtlsError } from '../errors/index.js';
import { errorCode, errorMessage, systemErrorText } from '../errors/mtls-error.js';
import { DEFAULT_IDENTITY_HEADERS, type IdentityHeaderNames } from './identity-headers.js';
import { parseCidr } from './registry/cidr.js';
import { MAX_REQUEST_RATE } from './registry/validate.js';
import {
  DEFAULT_ADMIN_LISTEN,
  DEFAULT_LISTEN,
  DEFAULT_OPS_LISTEN,
  GATEWAY_CONFIG_KEYS,
  MAX_WORKERS,
  formatListenAddress,
  type GatewayConfigKeyInfo,
  type GatewayConfigOverrides,
  type ListenAddress,
} from './config-keys.js';

export {
  DEFAULT_LISTEN,
  DEFAULT_OPS_LISTEN,
  GATEWAY_CONFIG_KEYS,
  GATEWAY_ENV,
  KEY_PASSPHRASE_ENV,
  PFX_PASSWORD_ENV,
  UPSTREAM_KEY_PASSPHRASE_ENV,
  formatListenAddress,
  type GatewayConfigKey,
  type GatewayConfigKeyInfo,
  type GatewayConfigOverrides,
  type ListenAddress,
} from './config-keys.js';

/** The validated gateway configuration (every default filled in). */
export interface GatewayConfig {
  /** mTLS listener (default 127.0.0.1:8443). */
  listen: ListenAddress;
  /** Origin (and optional base path) requests are forwarded to, `http://` or `https://`. */
  upstream: string;
  /** Registry location: a SQLite file path, `sqlite:PATH` or `postgres://…`; null when the caller supplies a Registry object. */
  registry: string | null;
  /** The server credential and handshake settings. */
  tls: {
    /** Server certificate PEM (leaf first, then intermediates). */
    cert: string | null;
    /** Server private key PEM (may be encrypted). */
    key: string | null;
    /** File whose first line is the key passphrase (else env {@link KEY_PASSPHRASE_ENV}). */
    keyPassphraseFile: string | null;
    /** Server credential as PKCS#12 instead of cert + key. */
    pfx: string | null;
    /** File whose first line is the .pfx password (else env {@link PFX_PASSWORD_ENV}). */
    pfxPasswordFile: string | null;
    /** Time allowed from TCP accept to a finished handshake (default 10 000 ms). */
    handshakeTimeoutMs: number;
  };
  /** Resource limits. */
  limits: {
    /** Largest request header block (default 16 KiB); larger gets 431. */
    maxHeaderBytes: number;
    /** Largest request body (default 10 MiB); larger gets 413. */
    maxBodyBytes: number;
    /** Concurrent TCP connections on the mTLS listener (default 10 000). */
    maxConnections: number;
    /**
     * Concurrent connections from one client address (after the PROXY
     * protocol), per gateway process; null (the default) sets no limit.
     */
    maxConnectionsPerIp: number | null;
    /**
     * Sustained requests per second per institution, per gateway instance
     * (rate-limit.ts), for every institution without its own rate in the
     * registry; null (the default) sets no limit. Over it: 429.
     */
    institutionRequestsPerSecond: number | null;
    /** Requests an idle institution may send at once (default: the rate, at least 1). */
    institutionRequestBurst: number | null;
    /** Time to receive a whole request (default 60 000 ms). */
    requestTimeoutMs: number;
    /** Idle keep-alive time between requests (default 5 000 ms). */
    keepAliveTimeoutMs: number;
  };
  /** The upstream connection pool (undici). */
  upstreamPool: {
    /** Connections per upstream origin (default 64). */
    connections: number;
    /** TCP connect timeout (default 5 000 ms); expiry answers 504. */
    connectTimeoutMs: number;
    /** Time to the upstream's response headers (default 30 000 ms); expiry answers 504. */
    responseTimeoutMs: number;
    /** Idle time allowed while the upstream body streams (default 30 000 ms). */
    bodyTimeoutMs: number;
    /** Idle keep-alive of pooled upstream connections (default 4 000 ms). */
    keepAliveTimeoutMs: number;
  };
  /**
   * TLS to an `https:` upstream (all null by default: Node's bundled public
   * roots, no client certificate, the name from the upstream URL).
   */
  upstreamTls: {
    /** PEM file of the CAs trusted for the upstream's certificate (instead of the public roots). */
    ca: string | null;
    /** PEM certificate the gateway presents to the upstream (mTLS to the upstream). */
    cert: string | null;
    /** Its private key PEM (may be encrypted). */
    key: string | null;
    /** File whose first line is that key's passphrase (else env {@link UPSTREAM_KEY_PASSPHRASE_ENV}). */
    keyPassphraseFile: string | null;
    /** The name sent as SNI and checked against the upstream's certificate (default: the URL's host). */
    servername: string | null;
  };
  /** Post-handshake policy. */
  policy: {
    /** Smallest RSA client key (default 2048, NIST SP 800-57 §5.6.1). */
    minRsaBits: number;
    /** Smallest EC client key field size (default 256). */
    minEcBits: number;
  };
  /** CRLs downloaded from registered distribution points, and CRLs past their nextUpdate. */
  crl: {
    /**
     * What a CRL past its nextUpdate means for the institution's connections
     * (RFC 5280 §6.3.3: revocation status is then undetermined).
     * `fail_closed` (default) refuses them with reason `crl_expired`, as
     * OpenSSL, nginx and Apache do with an expired CRL: a revocation published
     * after the stale CRL would otherwise be ignored silently.
     * `fail_open_with_alarm` accepts them, marking each audit record
     * `crl_expired`, counting it and logging a warning.
     */
    stale: 'fail_closed' | 'fail_open_with_alarm';
    /** Largest CRL download accepted (default 10 MiB). */
    maxBytes: number;
    /** Whole-download deadline (default 10 000 ms). */
    fetchTimeoutMs: number;
  };
  /** Names of the identity headers sent upstream. */
  identityHeaders: IdentityHeaderNames;
  /** Plain-HTTP operations listener for /healthz, /readyz and /metrics; null turns it off (default 127.0.0.1:9443). */
  ops: { listen: ListenAddress | null };
  /**
   * The admin API (REST over the registry), hosted by the gateway process. It
   * starts only when authentication is configured (`tokenFile` and/or
   * `clientCaFile`); it is never open.
   */
  admin: {
    /** Listen address (default 127.0.0.1:8444). */
    listen: ListenAddress;
    /** File whose first line is the bearer token. */
    tokenFile: string | null;
    /** CA (PEM) that admin client certificates must chain to (needs certFile + keyFile). */
    clientCaFile: string | null;
    /** Admin HTTPS server certificate (PEM). */
    certFile: string | null;
    /** Admin HTTPS server key (PEM). */
    keyFile: string | null;
  };
  /** Audit trail settings. */
  audit: {
    /** How often queued records are written to the registry (default 250 ms). */
    flushIntervalMs: number;
    /** Records kept in memory while the registry is unavailable (default 10 000); the oldest are dropped beyond it, with an error log. */
    maxQueue: number;
    /**
     * `batched` (default): a request's record is logged at once and reaches the
     * registry in the next batch. `durable`: it is committed to the registry
     * before the response is released.
     */
    durability: 'batched' | 'durable';
    /** `/readyz` reports not ready once registry writes have failed for this long (default 30 s). */
    maxFailureSeconds: number;
    /**
     * Registry audit records older than this many days are deleted, at start
     * and hourly (default null: kept forever). The JSON log lines are not
     * touched.
     */
    retentionDays: number | null;
  };
  /** pino log level (default info). */
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /**
   * Registry change polling period (default 250 ms, at most 250): a change
   * made by another process must reach new connections within 1 s, and the
   * poll, the reload and the rebuild all fit in that second. Also sets the
   * maximum staleness (10 × this, at least 5 s) after which an unreadable
   * registry makes the gateway refuse connections.
   */
  registryPollMs: number;
  /** Longest graceful drain on SIGTERM before open connections are cut (default 30 000 ms). */
  drainTimeoutMs: number;
  /**
   * Time between SIGTERM and the drain (default 0): `/readyz` answers 503 at
   * once while new connections are still accepted, so that a load balancer's
   * health checks take the instance out before it stops accepting, and no
   * client is refused meanwhile (Envoy's drain time, a Kubernetes preStop
   * sleep). Idle kept-alive connections are closed at once and busy ones
   * after their next answer, so their clients reconnect through the balancer.
   */
  drainDelayMs: number;
  /**
   * Gateway processes serving the mTLS listener (default: the number of CPUs
   * this process may use, `os.availableParallelism()`; `auto` means the same).
   * 1 runs the gateway in a single process; more runs a supervising primary
   * and that many workers (see `src/gateway/workers`).
   */
  workers: number;
  /**
   * PROXY protocol on the mTLS listener (default `off`): `required` behind an
   * L4 balancer, `optional` while switching one over (see listener.ts
   * `ProxyProtocolMode`). When on, the address in the header is the client
   * address everywhere: trust selection, policy, audit, X-Forwarded-For.
   */
  proxyProtocol: 'off' | 'optional' | 'required';
  /**
   * The balancers whose PROXY headers are believed, as canonical CIDRs
   * (default none). Required when `proxyProtocol` is on.
   */
  trustedProxies: string[];
  /** Time from TCP accept to a complete PROXY header (default 5 000 ms); slower peers are refused with `proxy_header_invalid`. */
  proxyHeaderTimeoutMs: number;
}

/** The fix hint of a key (or of its top-level key). */
const fixOf = (key: string): string =>
  GATEWAY_CONFIG_KEYS.find((k) => k.key === key)?.fix ?? 'see the documented configuration keys';

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
};

/** A byte size: an integer, or a string such as `16kb` / `10 MiB` (binary units). */
const byteSize = (min: number, max: number) =>
  z.union([z.number(), z.string()]).transform((v, ctx) => {
    let n: number;
    if (typeof v === 'number') n = v;
    else {
      const m = /^\s*(\d+)\s*([a-zA-Z]*)\s*$/.exec(v);
      const unit = SIZE_UNITS[(m?.[2] ?? '').toLowerCase()];
      if (!m || unit === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `"${v}" is not a size (use bytes, or a number with kb/mb/gb)`,
        });
        return z.NEVER;
      }
      n = Number(m[1]) * unit;
    }
    if (!Number.isInteger(n) || n < min || n > max) {
      ctx.addIssue({ code: 'custom', message: `${n} is outside ${min}..${max} bytes` });
      return z.NEVER;
    }
    return n;
  });

const ms = (min: number, max: number) => z.number().int().min(min).max(max);

const listenString = z.union([z.string(), z.number().int()]).transform((v, ctx) => {
  try {
    return parseListenAddress(String(v));
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: errorMessage(e) });
    return z.NEVER;
  }
});

const headerName = z
  .string()
  .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'is not a valid HTTP header name');

const nullablePath = z.string().min(1).nullable().default(null);

const schema = z.strictObject({
  listen: listenString.default({ ...DEFAULT_LISTEN }),
  upstream: z.string().transform((v, ctx) => {
    let u: URL;
    try {
      u = new URL(v);
    } catch {
      ctx.addIssue({ code: 'custom', message: `"${v}" is not a URL` });
      return z.NEVER;
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      ctx.addIssue({
        code: 'custom',
        message: `scheme ${u.protocol} is not supported (only http: and https:)`,
      });
      return z.NEVER;
    }
    if (u.search || u.hash || u.username || u.password) {
      ctx.addIssue({ code: 'custom', message: 'must not carry a query, fragment or credentials' });
      return z.NEVER;
    }
    return u.toString().replace(/\/$/, '');
  }),
  registry: nullablePath,
  tls: z
    .strictObject({
      cert: nullablePath,
      key: nullablePath,
      keyPassphraseFile: nullablePath,
      pfx: nullablePath,
      pfxPasswordFile: nullablePath,
      handshakeTimeoutMs: ms(100, 120_000).default(10_000),
    })
    .prefault({}),
  limits: z
    .strictObject({
      maxHeaderBytes: byteSize(1024, 1024 * 1024).default(16 * 1024),
      maxBodyBytes: byteSize(0, 1024 ** 3 * 4).default(10 * 1024 * 1024),
      maxConnections: z.number().int().positive().default(10_000),
      maxConnectionsPerIp: z.number().int().positive().nullable().default(null),
      institutionRequestsPerSecond: z
        .number()
        .positive()
        .max(MAX_REQUEST_RATE)
        .nullable()
        .default(null),
      institutionRequestBurst: z
        .number()
        .int()
        .positive()
        .max(MAX_REQUEST_RATE)
        .nullable()
        .default(null),
      requestTimeoutMs: ms(1000, 3_600_000).default(60_000),
      keepAliveTimeoutMs: ms(100, 600_000).default(5_000),
    })
    .prefault({}),
  upstreamPool: z
    .strictObject({
      connections: z.number().int().positive().max(10_000).default(64),
      connectTimeoutMs: ms(100, 120_000).default(5_000),
      responseTimeoutMs: ms(100, 3_600_000).default(30_000),
      bodyTimeoutMs: ms(100, 3_600_000).default(30_000),
      keepAliveTimeoutMs: ms(100, 600_000).default(4_000),
    })
    .prefault({}),
  upstreamTls: z
    .strictObject({
      ca: nullablePath,
      cert: nullablePath,
      key: nullablePath,
      keyPassphraseFile: nullablePath,
      servername: z
        .string()
        .regex(
          /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/,
          'is not a DNS name',
        )
        .nullable()
        .default(null),
    })
    .prefault({}),
  policy: z
    .strictObject({
      minRsaBits: z.number().int().min(2048).max(16384).default(2048),
      minEcBits: z.number().int().min(256).max(521).default(256),
    })
    .prefault({}),
  crl: z
    .strictObject({
      stale: z.enum(['fail_closed', 'fail_open_with_alarm']).default('fail_closed'),
      maxBytes: byteSize(1024, 100 * 1024 * 1024).default(10 * 1024 * 1024),
      fetchTimeoutMs: ms(100, 300_000).default(10_000),
    })
    .prefault({}),
  identityHeaders: z
    .strictObject({
      institution: headerName.default(DEFAULT_IDENTITY_HEADERS.institution),
      subject: headerName.default(DEFAULT_IDENTITY_HEADERS.subject),
      issuer: headerName.default(DEFAULT_IDENTITY_HEADERS.issuer),
      serial: headerName.default(DEFAULT_IDENTITY_HEADERS.serial),
      fingerprint: headerName.default(DEFAULT_IDENTITY_HEADERS.fingerprint),
      clientCert: headerName.default(DEFAULT_IDENTITY_HEADERS.clientCert),
      clientCertChain: headerName.default(DEFAULT_IDENTITY_HEADERS.clientCertChain),
      requestId: headerName.default(DEFAULT_IDENTITY_HEADERS.requestId),
    })
    .prefault({}),
  ops: z
    .strictObject({
      listen: z
        .union([z.literal('off'), z.literal(false), z.null(), listenString])
        .transform((v) => (v === 'off' || v === false || v === null ? null : v))
        .default({ ...DEFAULT_OPS_LISTEN }),
    })
    .prefault({}),
  admin: z
    .strictObject({
      listen: listenString.default({ ...DEFAULT_ADMIN_LISTEN }),
      tokenFile: nullablePath,
      clientCaFile: nullablePath,
      certFile: nullablePath,
      keyFile: nullablePath,
    })
    .prefault({}),
  audit: z
    .strictObject({
      flushIntervalMs: ms(10, 5_000).default(250),
      maxQueue: z.number().int().positive().max(1_000_000).default(10_000),
      durability: z.enum(['batched', 'durable']).default('batched'),
      maxFailureSeconds: z.number().int().min(1).max(86_400).default(30),
      retentionDays: z.number().int().min(1).max(36_500).nullable().default(null),
    })
    .prefault({}),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  registryPollMs: ms(50, 250).default(250),
  drainTimeoutMs: ms(0, 3_600_000).default(30_000),
  drainDelayMs: ms(0, 300_000).default(0),
  workers: z
    .union([z.number(), z.string()])
    .transform((v, ctx) => {
      if (typeof v === 'string' && v.trim().toLowerCase() === 'auto') return availableParallelism();
      const n = typeof v === 'number' ? v : /^\s*\d+\s*$/.test(v) ? Number(v) : Number.NaN;
      if (!Number.isInteger(n) || n < 1 || n > MAX_WORKERS) {
        ctx.addIssue({
          code: 'custom',
          message: `must be a whole number from 1 to ${MAX_WORKERS} or "auto"`,
        });
        return z.NEVER;
      }
      return n;
    })
    .default(() => availableParallelism()),
  proxyProtocol: z.enum(['off', 'optional', 'required']).default('off'),
  trustedProxies: z
    .union([z.string(), z.array(z.string())])
    .transform((v, ctx) => {
      const list = (typeof v === 'string' ? v.split(',') : v)
        .map((x) => x.trim())
        .filter((x) => x !== '');
      const out: string[] = [];
      for (const item of list) {
        try {
          // The registry's parser: canonical text, host bits refused, /0 refused.
          out.push(parseCidr(item, 'trustedProxies entry').text);
        } catch (e) {
          ctx.addIssue({ code: 'custom', message: errorMessage(e) });
          return z.NEVER;
        }
      }
      return out;
    })
    .default([]),
  proxyHeaderTimeoutMs: ms(100, 60_000).default(5_000),
});

/**
 * Parses `HOST:PORT` (`[v6]:PORT` for IPv6; a bare `:PORT` or `PORT` means 127.0.0.1).
 * @throws MTLS_CONFIG_INVALID when the host is not an IP literal or `localhost`, or the port is not 0–65535
 */
export function parseListenAddress(text: string): ListenAddress {
  const t = text.trim();
  let host: string;
  let portText: string;
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(t);
  if (v6) {
    host = v6[1] ?? '';
    portText = v6[2] ?? '';
  } else if (/^\d+$/.test(t)) {
    host = '127.0.0.1';
    portText = t;
  } else {
    const i = t.lastIndexOf(':');
    if (i < 0)
      throw new MtlsError('MTLS_CONFIG_INVALID', `"${text}" has no port (write HOST:PORT)`, {
        subject: text,
      });
    host = t.slice(0, i) || '127.0.0.1';
    portText = t.slice(i + 1);
  }
  if (host === 'localhost') host = '127.0.0.1';
  if (isIP(host) === 0) {
    throw new MtlsError(
      'MTLS_CONFIG_INVALID',
      `"${host}" is not an IP address (listen on an address, not a host name; IPv6 as [::1]:PORT)`,
      { subject: text },
    );
  }
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) {
    throw new MtlsError('MTLS_CONFIG_INVALID', `port "${portText}" must be 0 to 65535`, {
      subject: text,
    });
  }
  return { host, port };
}

/** Edit distance, case-insensitive (for "did you mean" on unknown keys). */
function levenshtein(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const row = [i];
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1;
      row.push(Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost));
    }
    prev = row;
  }
  return prev[y.length] ?? 0;
}

function knownKeys(path: PropertyKey[]): string[] {
  let s: z.ZodType = schema;
  for (const p of path) {
    const inner = unwrap(s);
    if (!(inner instanceof z.ZodObject)) return [];
    const next: unknown = inner.shape[String(p)];
    if (!(next instanceof z.ZodType)) return [];
    s = next;
  }
  const obj = unwrap(s);
  return obj instanceof z.ZodObject ? Object.keys(obj.shape) : [];
}

function unwrap(s: z.ZodType): z.ZodType {
  let cur: z.ZodType = s;
  for (let i = 0; i < 5; i++) {
    const inner: unknown =
      cur instanceof z.ZodDefault ||
      cur instanceof z.ZodPrefault ||
      cur instanceof z.ZodOptional ||
      cur instanceof z.ZodNullable
        ? cur.unwrap()
        : undefined;
    if (!(inner instanceof z.ZodType)) break;
    cur = inner;
  }
  return cur;
}

function describeIssue(issue: z.core.$ZodIssue, data: unknown): { key: string; text: string } {
  const path = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    const parent = path.join('.');
    const known = knownKeys(issue.path);
    const parts = issue.keys.map((k) => {
      const best = known.map((c) => ({ c, d: levenshtein(k, c) })).sort((x, y) => x.d - y.d)[0];
      const full = parent ? `${parent}.${k}` : k;
      return best && best.d <= Math.max(2, Math.floor(k.length / 3))
        ? `unknown key \`${full}\`; did you mean \`${parent ? `${parent}.` : ''}${best.c}\`?`
        : `unknown key \`${full}\`; known keys here: ${known.join(', ')}`;
    });
    return {
      key: parent ? `${parent}.${issue.keys[0]}` : String(issue.keys[0]),
      text: parts.join('; '),
    };
  }
  const key = path.join('.');
  let value: unknown = data;
  for (const p of path)
    value =
      value !== null && typeof value === 'object'
        ? new Map(Object.entries(value)).get(p)
        : undefined;
  const shown = value === undefined ? 'nothing' : JSON.stringify(value);
  const fix = fixOf(GATEWAY_CONFIG_KEYS.some((k) => k.key === key) ? key : (path[0] ?? ''));
  const msg = issue.message.replace(/^Invalid input: /, '');
  return { key, text: `key \`${key}\`: ${msg} (got ${shown}); fix: ${fix}` };
}

/** The object holding a dotted key's last segment, created on the way when `create`. */
function parentOf(
  target: Record<string, unknown>,
  key: string,
  create: boolean,
): { obj: Record<string, unknown>; last: string } | undefined {
  const parts = key.split('.');
  const last = parts.pop() ?? key;
  let cur = target;
  for (const p of parts) {
    const next = cur[p];
    if (isRecord(next)) cur = next;
    else if (create) cur = cur[p] = {};
    else return undefined;
  }
  return { obj: cur, last };
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

const getPath = (target: Record<string, unknown>, key: string): unknown => {
  const at = parentOf(target, key, false);
  return at?.obj[at.last];
};

function setPath(target: Record<string, unknown>, key: string, value: unknown): void {
  const at = parentOf(target, key, true);
  if (at) at.obj[at.last] = value;
}

/** A path key's value resolved against `base`; other keys, and registry URLs, unchanged. */
const resolvePath = (k: GatewayConfigKeyInfo, value: string, base: string): string =>
  k.file === true || (k.file === 'unless-url' && !hasScheme(value)) ? resolve(base, value) : value;

/** An environment variable, else its former name (with a deprecation warning); empty counts as unset. */
function readEnv(
  env: NodeJS.ProcessEnv,
  name: string,
  alias: string | undefined,
  onDeprecated: (message: string) => void = (m) => process.emitWarning(m, 'DeprecationWarning'),
): string | undefined {
  const v = env[name];
  if (v !== undefined && v !== '') return v;
  const old = alias === undefined ? undefined : env[alias];
  if (alias === undefined || old === undefined || old === '') return undefined;
  onDeprecated(`${alias} is deprecated; set ${name} instead`);
  return old;
}

/** "flag --x, env Y" for a key settable outside the file. */
const whereElse = (key: string): string => {
  const o = GATEWAY_CONFIG_KEYS.find((k) => k.key === key)?.override;
  return o ? `flag ${o.flag}, env ${o.env}` : 'set it in the configuration file';
};

/** True for `sqlite:…` / `postgres://…` registry locations, which are not resolved as paths. */
function hasScheme(location: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(location) && !/^[a-z]:[\\/]/i.test(location);
}

/** Inputs for {@link loadGatewayConfig}. */
export interface LoadGatewayConfigOptions {
  /** YAML file; relative paths inside it resolve against its directory. */
  file?: string;
  /** Already-parsed file content (tests, library callers); `file` wins when both are given. */
  values?: Record<string, unknown>;
  /** Command-line flags (relative paths resolve against the working directory). */
  overrides?: GatewayConfigOverrides;
  /** Environment (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Require `registry` (default true; false when the caller passes a Registry object). */
  requireRegistry?: boolean;
  /**
   * Told when a variable is read under its former name (default: a Node
   * `DeprecationWarning`); the CLI prints it as a warning.
   */
  onDeprecated?: (message: string) => void;
}

/**
 * Reads, merges and validates the configuration. Precedence: flags, then
 * environment variables ({@link GATEWAY_ENV}), then the file, then defaults.
 * @throws MTLS_CONFIG_INVALID naming the key, the bad value and the fix
 * @throws MTLS_FILE_NOT_FOUND / MTLS_FILE_READ when the file cannot be read
 */
export function loadGatewayConfig(options: LoadGatewayConfigOptions = {}): GatewayConfig {
  const env = options.env ?? process.env;
  let raw: Record<string, unknown> = {};
  const source = options.file ?? 'configuration';
  const baseDir = options.file ? dirname(resolve(options.file)) : process.cwd();
  if (options.file) {
    let text: string;
    try {
      text = readFileSync(options.file, 'utf8');
    } catch (e) {
      const code = errorCode(e);
      if (code === 'ENOENT')
        throw new MtlsError(
          'MTLS_FILE_NOT_FOUND',
          `configuration file not found: ${options.file}`,
          { subject: options.file },
        );
      throw new MtlsError(
        'MTLS_FILE_READ',
        `cannot read configuration file ${options.file}: ${systemErrorText(e)}`,
        { subject: options.file },
      );
    }
    let parsed: unknown;
    try {
      parsed = parseYaml(text, { prettyErrors: true });
    } catch (e) {
      throw new MtlsError(
        'MTLS_CONFIG_INVALID',
        `${options.file} is not valid YAML: ${errorMessage(e).split('\n')[0] ?? ''}`,
        {
          subject: options.file,
          hint: 'Fix the YAML syntax at the line shown (indentation with spaces, `key: value`).',
        },
      );
    }
    if (parsed === null || parsed === undefined) parsed = {};
    if (!isRecord(parsed)) {
      throw new MtlsError(
        'MTLS_CONFIG_INVALID',
        `${options.file} must hold a mapping of keys (listen:, upstream:, …) at the top level`,
        { subject: options.file },
      );
    }
    raw = structuredClone(parsed);
    for (const k of GATEWAY_CONFIG_KEYS) {
      const value = getPath(raw, k.key);
      if (typeof value === 'string') setPath(raw, k.key, resolvePath(k, value, baseDir));
    }
  } else if (options.values) {
    raw = structuredClone(options.values);
  }
  // Where each overridden key's value came from: a bad one is blamed on the
  // flag or variable that set it, not on a file that may be right.
  const setBy = new Map<string, string>();
  for (const k of GATEWAY_CONFIG_KEYS) {
    if (!k.override) continue;
    const { name, flag, env: envName, envAlias } = k.override;
    const fromFlag = options.overrides?.[name];
    const v = fromFlag ?? readEnv(env, envName, envAlias, options.onDeprecated);
    if (v === undefined) continue;
    setPath(raw, k.key, resolvePath(k, v, process.cwd()));
    setBy.set(
      k.key,
      fromFlag !== undefined ? `the flag ${flag}` : `the environment variable ${envName}`,
    );
  }
  const requireRegistry = options.requireRegistry ?? true;
  const absent = (v: unknown): boolean => v === undefined || v === null || v === '';
  const missing: Array<{ key: string; text: string }> = [];
  if (absent(raw.upstream)) {
    missing.push({
      key: 'upstream',
      text: `key \`upstream\` is missing; fix: ${fixOf('upstream')} (${whereElse('upstream')})`,
    });
  }
  if (requireRegistry && absent(raw.registry)) {
    missing.push({
      key: 'registry',
      text: `key \`registry\` is missing; fix: ${fixOf('registry')} (${whereElse('registry')})`,
    });
  }
  const result = schema.safeParse(raw);
  const zodIssues = result.success
    ? []
    : result.error.issues.filter(
        (i) => !(i.path.length === 1 && missing.some((m) => m.key === i.path[0])),
      );
  // Unknown keys first: a misspelt key is usually why another one looks missing.
  const unknown = zodIssues
    .filter((i) => i.code === 'unrecognized_keys')
    .map((i) => describeIssue(i, raw));
  const other = zodIssues
    .filter((i) => i.code !== 'unrecognized_keys')
    .map((i) => describeIssue(i, raw));
  const problems = [...unknown, ...missing, ...other].map(
    (p): { key: string; text: string; by?: string } => {
      const by = setBy.get(p.key);
      return by ? { ...p, text: `${p.text} (the value comes from ${by})`, by } : p;
    },
  );
  if (problems.length > 0 || !result.success) {
    const first = problems[0] ?? { key: 'configuration', text: 'invalid configuration' };
    const fromOverrides = problems.length > 0 && problems.every((p) => p.by !== undefined);
    throw new MtlsError(
      'MTLS_CONFIG_INVALID',
      `${fromOverrides ? 'flags and environment' : source}: ${problems.map((i) => i.text).join('; ')}`,
      {
        subject: first.key,
        details: { keys: problems.map((i) => i.key) },
        ...(first.by === undefined ? {} : { hint: `Fix ${first.by}.` }),
      },
    );
  }
  const cfg: GatewayConfig = result.data;
  const t = cfg.tls;
  if (t.pfx && (t.cert || t.key)) {
    throw new MtlsError(
      'MTLS_CONFIG_INVALID',
      `${source}: keys \`tls.pfx\` and \`tls.cert\`/\`tls.key\` are both set; fix: use either a .pfx or a PEM certificate and key, not both`,
      { subject: 'tls.pfx' },
    );
  }
  if (!t.pfx && !(t.cert && t.key)) {
    const missing = !t.cert && !t.key ? 'tls.cert and tls.key' : !t.cert ? 'tls.cert' : 'tls.key';
    throw new MtlsError(
      'MTLS_CONFIG_INVALID',
      `${source}: no server credential: key \`${missing}\` is missing; fix: set tls.cert and tls.key (PEM), or tls.pfx (flags --cert/--key or --pfx)`,
      {
        subject: missing.split(' ')[0] ?? missing,
      },
    );
  }
  const ut = cfg.upstreamTls;
  if ((ut.ca || ut.cert || ut.key || ut.servername) && !cfg.upstream.startsWith('https:')) {
    throw new MtlsError(
      'MTLS_CONFIG_INVALID',
      `${source}: key \`upstreamTls\` is set but \`upstream\` (${cfg.upstream}) is not https:, so it would never be used; fix: make the upstream an https:// URL, or remove upstreamTls`,
      { subject: 'upstreamTls' },
    );
  }
  if (Boolean(ut.cert) !== Boolean(ut.key)) {
    const missing = ut.cert ? 'upstreamTls.key' : 'upstreamTls.cert';
    throw new MtlsError(
      'MTLS_CONFIG_INVALID',
      `${source}: key \`${missing}\` is missing; fix: ${fixOf(missing)}`,
      { subject: missing },
    );
  }
  if (
    cfg.ops.listen &&
    cfg.ops.listen.port !== 0 &&
    cfg.ops.listen.port === cfg.listen.port &&
    cfg.ops.listen.host === cfg.listen.host
  ) {
    throw new MtlsError(
      'MTLS_CONFIG_INVALID',
      `${source}: key \`ops.listen\` uses the same address as \`listen\` (${formatListenAddress(cfg.listen)}); fix: ${fixOf('ops.listen')}`,
      { subject: 'ops.listen' },
    );
  }
  const adminOn = Boolean(cfg.admin.tokenFile || cfg.admin.clientCaFile);
  if (adminOn && cfg.admin.listen.port !== 0) {
    for (const [key, other] of [
      ['listen', cfg.listen],
      ['ops.listen', cfg.ops.listen],
    ] as const) {
      if (other && other.port === cfg.admin.listen.port && other.host === cfg.admin.listen.host) {
        throw new MtlsError(
          'MTLS_CONFIG_INVALID',
          `${source}: key \`admin.listen\` uses the same address as \`${key}\` (${formatListenAddress(other)}); fix: ${fixOf('admin.listen')} on another port`,
          { subject: 'admin.listen' },
        );
      }
    }
  }
  if (cfg.proxyProtocol !== 'off' && cfg.trustedProxies.length === 0) {
    throw new MtlsError(
      'MTLS_CONFIG_INVALID',
      `${source}: key \`proxyProtocol\` is ${cfg.proxyProtocol} but \`trustedProxies\` is empty, so no PROXY header would ever be believed; fix: ${fixOf('trustedProxies')}`,
      {
        subject: 'trustedProxies',
      },
    );
  }
  const names = Object.values(cfg.identityHeaders).map((n) => n.toLowerCase());
  if (new Set(names).size !== names.length) {
    throw new MtlsError(
      'MTLS_CONFIG_INVALID',
      `${source}: key \`identityHeaders\` names the same header twice; fix: give each identity header its own name`,
      { subject: 'identityHeaders' },
    );
  }
  return cfg;
}
