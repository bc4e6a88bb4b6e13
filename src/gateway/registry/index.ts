/**
 * Opens the registry named by a URL or path: `sqlite:PATH` or a plain path for
 * the embedded SQLite file, `postgres://…` / `postgresql://…` for PostgreSQL.
 */
import { openPostgresRegistry, type PostgresRegistryOptions } from './postgres-registry.js';
import { openSqliteRegistry, type SqliteRegistryOptions } from './sqlite-registry.js';
import { parseRegistryLocation } from './location.js';
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
  describeRegistryLocation,
  parseRegistryLocation,
  registryUrlHasPassword,
  type RegistryLocation,
} from './location.js';
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
