/**
 * Opens the registry named by a URL or path: `sqlite:PATH` or a plain path for
 * the embedded SQLite file, `postgres://…` / `postgresql://…` for PostgreSQL.
 */
import { MtlsError } from '../../errors/index.js';
import { openPostgresRegistry, type PostgresRegistryOptions } from './postgres-registry.js';
import { openSqliteRegistry, type SqliteRegistryOptions } from './sqlite-registry.js';
import type { Registry } from './types.js';

export * from './types.js';
export {
  openSqliteRegistry,
  SqliteRegistry,
  type SqliteRegistryOptions,
} from './sqlite-registry.js';
export {
  openPostgresRegistry,
  PostgresRegistry,
  type PostgresRegistryOptions,
} from './postgres-registry.js';
export { normaliseCidr, parseCidr, parseIpBytes, formatIpBytes, type ParsedCidr } from './cidr.js';
export {
  LATEST_SCHEMA_VERSION,
  MIGRATIONS,
  newerSchemaWarning,
  type Migration,
} from './migrations.js';

/** Options for {@link openRegistry}; each applies to its own store kind. */
export interface OpenRegistryOptions {
  sqlite?: SqliteRegistryOptions;
  postgres?: PostgresRegistryOptions;
}

/** Which store a registry location names. */
export type RegistryLocation = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

/**
 * Parses a registry location: `sqlite:PATH`, `sqlite://PATH`, a plain path,
 * or `postgres://` / `postgresql://` URL.
 * @throws MTLS_CONFIG_INVALID for an empty value or an unknown URL scheme
 */
export function parseRegistryLocation(location: string): RegistryLocation {
  const value = location.trim();
  if (value === '') {
    throw new MtlsError('MTLS_CONFIG_INVALID', 'the registry location is empty', {
      subject: 'registry',
      hint: 'Give a file path (./mtls-registry.db), sqlite:PATH or postgres://user@host/db.',
    });
  }
  if (/^postgres(ql)?:\/\//i.test(value)) return { kind: 'postgres', url: value };
  if (/^sqlite:/i.test(value)) {
    const path = value.replace(/^sqlite:(\/\/)?/i, '');
    if (path === '')
      throw new MtlsError('MTLS_CONFIG_INVALID', `registry location "${value}" has no file path`, {
        subject: 'registry',
        hint: 'Write sqlite:/var/lib/mtls/registry.db.',
      });
    return { kind: 'sqlite', path };
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(value);
  if (scheme) {
    throw new MtlsError(
      'MTLS_CONFIG_UNSUPPORTED',
      `registry location "${value}" uses the unsupported scheme ${scheme[1]}:`,
      {
        subject: 'registry',
        hint: 'Use a SQLite file path (sqlite:PATH) or a PostgreSQL URL (postgres://user@host:5432/db).',
      },
    );
  }
  return { kind: 'sqlite', path: value };
}

/**
 * Opens and migrates the registry at a location (see {@link parseRegistryLocation}).
 * @throws MTLS_CONFIG_INVALID / MTLS_CONFIG_UNSUPPORTED naming the location and the fix
 * @throws MTLS_NETWORK when PostgreSQL cannot be reached
 */
export async function openRegistry(
  location: string,
  options: OpenRegistryOptions = {},
): Promise<Registry> {
  const loc = parseRegistryLocation(location);
  if (loc.kind === 'postgres') return openPostgresRegistry(loc.url, options.postgres);
  return openSqliteRegistry(loc.path, options.sqlite);
}
