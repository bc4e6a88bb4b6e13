/**
 * Registry locations: which store a `registry` setting names, and how to
 * show it without its password. Kept apart from the drivers, so that the
 * CLI can check a location without loading them.
 */
import { MtlsError } from '../../errors/index.js';

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
      `registry location "${withoutPassword(value)}" uses the unsupported scheme ${scheme[1]}:`,
      {
        subject: 'registry',
        hint: 'Use a SQLite file path (sqlite:PATH) or a PostgreSQL URL (postgres://user@host:5432/db).',
      },
    );
  }
  return { kind: 'sqlite', path: value };
}

/** A URL with its password replaced by `***` (unparseable: the scheme only). */
function withoutPassword(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return `${url.split(':')[0] ?? ''}://…`;
  }
}

/**
 * A registry location as output may show it: a URL with any password
 * replaced by `***`, a file path as it is.
 */
export function describeRegistryLocation(location: string): string {
  return parseRegistryLocation(location).kind === 'postgres' ? withoutPassword(location) : location;
}

/**
 * True when a PostgreSQL registry URL carries a password, which then shows
 * wherever the URL does (`ps`, unit files, shell history); libpq's
 * `PGPASSFILE` or `PGPASSWORD` keep it out.
 */
export function registryUrlHasPassword(location: string): boolean {
  const loc = parseRegistryLocation(location);
  if (loc.kind !== 'postgres') return false;
  try {
    return new URL(loc.url).password !== '';
  } catch {
    return false;
  }
}
