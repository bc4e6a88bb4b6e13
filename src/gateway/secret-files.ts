/**
 * The gateway's files that others than its user must not read: the ones
 * holding secrets (the admin token, passphrases, the admin HTTPS key) and the
 * SQLite registry, whose audit trail names every client. OpenSSH and
 * PostgreSQL refuse such a key file; the gateway says so and how to fix it,
 * at start and in `--check`. The credential files themselves are checked
 * where they are loaded (server-credential.ts).
 */
import type { GatewayConfig } from './config.js';
import { parseRegistryLocation } from './registry/location.js';
import { keyFileModeWarning } from './server-credential.js';

/** A warning per such file that group or others may access (see {@link keyFileModeWarning}). */
export async function secretFileModeWarnings(cfg: GatewayConfig): Promise<string[]> {
  const files: Array<[string | null, string]> = [
    [cfg.admin.tokenFile, 'admin token file (admin.tokenFile)'],
    [cfg.admin.keyFile, 'admin HTTPS private key (admin.keyFile)'],
    [cfg.tls.keyPassphraseFile, 'server key passphrase file (tls.keyPassphraseFile)'],
    [cfg.tls.pfxPasswordFile, 'server .pfx password file (tls.pfxPasswordFile)'],
    [
      cfg.upstreamTls.keyPassphraseFile,
      'upstream client key passphrase file (upstreamTls.keyPassphraseFile)',
    ],
  ];
  const registry = cfg.registry === null ? null : parseRegistryLocation(cfg.registry);
  if (registry?.kind === 'sqlite')
    files.push([registry.path, 'registry file (its audit trail names every client)']);
  const warnings = await Promise.all(
    files.flatMap(([path, what]) => (path === null ? [] : [keyFileModeWarning(path, what)])),
  );
  return warnings.filter((w): w is string => w !== null);
}
