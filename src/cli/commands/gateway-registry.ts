/**
 * `mtls gateway registry backup|restore`: a SQLite registry copied and put
 * back while gateways run on it, through SQLite's online backup API
 * (src/gateway/registry/sqlite-backup.ts), never a file copy.
 */
import type { Command } from 'commander';
import { MtlsError } from '../../errors/index.js';
import { parseRegistryLocation } from '../../gateway/registry/location.js';
import { confirmOrYes } from '../confirm.js';
import { out, outJson } from '../output.js';
import { DEFAULT_REGISTRY, ENV, forceOption, jsonOption } from '../shared-options.js';

/** The SQLite file a `--registry` names; PostgreSQL has its own tools. */
function sqlitePath(registry: string | undefined): string {
  const location = registry ?? process.env[ENV.registry] ?? DEFAULT_REGISTRY;
  const loc = parseRegistryLocation(location);
  if (loc.kind !== 'sqlite') {
    throw new MtlsError(
      'MTLS_CONFIG_UNSUPPORTED',
      'registry backup and restore are for a SQLite registry; a PostgreSQL registry is backed up with its own tools',
      {
        subject: '--registry',
        hint: "Use pg_dump and pg_restore on the registry's schema, or your database service's backups; the gateways reload after any change to the registry version.",
      },
    );
  }
  return loc.path;
}

const registryOption = (cmd: Command): Command =>
  cmd.option(
    '--registry <path>',
    `the SQLite registry file (default $${ENV.registry} or ${DEFAULT_REGISTRY})`,
  );

/** Registers `gateway registry …`. */
export function registerRegistry(g: Command): void {
  const reg = g
    .command('registry')
    .description('back up and restore a SQLite registry while gateways run on it');
  registryOption(
    reg
      .command('backup <file>')
      .description('write a consistent copy of the registry (mode 0600), gateways running or not')
      .addOption(forceOption('<file>'))
      .addOption(jsonOption())
      .addHelpText(
        'after',
        "\nA copy with cp can miss the latest changes (they sit in the -wal file beside it);\nthis one goes through SQLite's online backup API.\n\nExample:\n  mtls gateway registry backup /var/backups/mtls/registry-$(date +%F).db --registry /var/lib/mtls/registry.db",
      ),
  ).action(async (file: string, o: { registry?: string; force?: boolean; json?: boolean }) => {
    const { backupSqliteRegistry } = await import('../../gateway/registry/sqlite-backup.js');
    const path = sqlitePath(o.registry);
    const r = await backupSqliteRegistry(path, file, { force: o.force === true });
    if (o.json) outJson('gateway-registry-backup', { file, registry: path, ...r });
    else
      out(
        `backed up ${path} to ${file}: schema ${r.schema}, version ${r.version}, ${r.institutions} institution(s), ${r.auditRecords} audit record(s)`,
      );
  });
  registryOption(
    reg
      .command('restore <backup>')
      .description(
        'put a backup back into the registry in one step; running gateways reload it within a second',
      )
      .option('-y, --yes', 'do not ask for confirmation (needed without a terminal)')
      .addOption(jsonOption())
      .addHelpText(
        'after',
        '\nNever cp a backup over a registry in use: SQLite replays the live -wal file on top of it.\nThe restore replaces everything, the audit trail included: records written since the\nbackup are gone afterwards (export them first with `mtls gateway audit --json`).\nAsks for confirmation on a terminal; elsewhere it needs --yes.\n\nExample:\n  mtls gateway registry restore /var/backups/mtls/registry-2026-12-01.db --registry /var/lib/mtls/registry.db --yes',
      ),
  ).action(async (backup: string, o: { registry?: string; yes?: boolean; json?: boolean }) => {
    const path = sqlitePath(o.registry);
    await confirmOrYes(
      `Replace everything in ${path} (institutions, CAs, IPs, CRLs, rules and the audit trail) with ${backup}?`,
      o.yes,
    );
    const { restoreSqliteRegistry } = await import('../../gateway/registry/sqlite-backup.js');
    const r = await restoreSqliteRegistry(path, backup);
    if (o.json) outJson('gateway-registry-restore', { backup, registry: path, ...r });
    else
      out(
        `restored ${backup} into ${path}: ${r.institutions} institution(s), ${r.auditRecords} audit record(s); registry version ${r.version}, so every gateway on it reloads within its poll interval`,
      );
  });
}
