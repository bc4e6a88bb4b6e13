/**
 * `mtls ca status` and `mtls ca list`: expiry watch and the database as a
 * table. Wiring only; the work is done by src/ca/status.ts and src/ca/list.ts.
 */
import type { Command } from 'commander';
import type { CertificateRow } from '../../ca/list.js';
import { caDirAlias, caDirOption, openCaFromCli } from '../ca-context.js';
import { jsonOption } from '../shared-options.js';
import { out, outJson, style } from '../output.js';
import { crlNumberText, dnText } from '../format.js';
import { parseDaysArg, parseDurationArg, parseTimeArg } from '../time-args.js';
import { FILE_READ_CODES, USAGE_CODES, exitCodesLine, type ExitLinePart } from '../exit-help.js';

const STATUS_HELP = `
Checks, at --at (default now):
  - the CA certificate and, for an intermediate, every issuer above it:
    expired (alarm) or expiring within --ca-warn-days (default 90);
  - the CRL (crl = … in openssl.cnf, else crl/ca.crl.pem): missing, unreadable
    or not signed by this CA (alarm); past its nextUpdate (alarm: relying
    parties that check revocation then refuse every certificate); nextUpdate
    within --crl-warn-days (default 7); older than --crl-max-age (default half
    its validity, i.e. the scheduled \`mtls ca crl\` has not run: alarm);
  - certificates revoked in index.txt but missing from the CRL (alarm);
  - certificates expiring within --warn-days (default 30), or expired in that
    window, that no newer valid certificate with the same subject replaces.

Renew the CRL on a schedule (daily, with default_crl_days = 30) and run this
check after it (deploy/mtls-crl.service and .timer are the systemd form;
this is one crontab line):
  17 3 * * *  mtls ca crl --ca-dir /srv/ca --passphrase-file /etc/mtls/ca.pass --out /var/www/pki/ca.crl --der --force && mtls ca status --ca-dir /srv/ca

Examples:
  $ mtls ca status --ca-dir ./myCA
  $ mtls ca status --ca-dir ./myCA --warn-days 60 --json
  $ mtls ca status --ca-dir ./myCA --at 2027-06-01`;

/**
 * What `ca status`'s exits mean. Its 1 is an outcome, not an error: a
 * scheduler or monitor alarms on any non-zero exit, and findings are what it
 * is run for.
 */
export const CA_STATUS_EXITS: readonly ExitLinePart[] = [
  { outcome: 0, text: 'nothing needs action' },
  {
    outcome: 1,
    text: 'something needs action (each finding is printed; with --json, "ok": false and "findings")',
  },
  { codes: USAGE_CODES, text: 'usage' },
  {
    codes: [
      'MTLS_CA_NOT_FOUND',
      'MTLS_CA_CORRUPT',
      'MTLS_CONFIG_INVALID',
      'MTLS_CONFIG_UNSUPPORTED',
    ],
    text: 'the CA cannot be opened',
  },
  { codes: FILE_READ_CODES, text: 'a file cannot be read or decoded' },
];

function row(r: CertificateRow): string[] {
  const note =
    r.state === 'revoked'
      ? `${r.reason ?? 'unspecified'} ${r.revokedAt?.toISOString().slice(0, 10) ?? ''}`
      : r.renewedBy
        ? `renewed by ${r.renewedBy}`
        : '';
  return [
    r.serial,
    r.state,
    r.notAfter.toISOString().slice(0, 10),
    r.state === 'valid' ? String(r.daysLeft) : '',
    dnText(r.subject),
    note.trim(),
  ];
}

function table(rows: string[][]): void {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  for (const r of rows)
    out(
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    );
}

/** Registers `mtls ca status` and `mtls ca list` on the `ca` command. */
export function registerCaLifecycleCommands(ca: Command): void {
  ca.command('status')
    .description(
      'what needs action: CA expiry, CRL freshness, unpublished revocations, certificates expiring (exit 1 if anything)',
    )
    .addOption(caDirOption())
    .addOption(caDirAlias())
    .option(
      '--warn-days <n>',
      'certificates expiring within this many days need action',
      (v) => parseDaysArg(v, '--warn-days'),
      30,
    )
    .option(
      '--ca-warn-days <n>',
      'the CA chain expiring within this many days needs action',
      (v) => parseDaysArg(v, '--ca-warn-days'),
      90,
    )
    .option(
      '--crl-warn-days <n>',
      'a CRL this close to nextUpdate needs action',
      (v) => parseDaysArg(v, '--crl-warn-days'),
      7,
    )
    .option(
      '--crl-max-age <duration>',
      'a CRL older than this missed its renewal (default: half its validity), e.g. 2d',
      (v) => parseDurationArg(v, '--crl-max-age'),
    )
    .option('--at <time>', 'check as of this time instead of now (ISO 8601)', (v) =>
      parseTimeArg(v, '--at'),
    )
    .addOption(jsonOption())
    .addHelpText('after', STATUS_HELP)
    .addHelpText('after', exitCodesLine(CA_STATUS_EXITS))
    .action(
      async (o: {
        ca?: string;
        warnDays: number;
        caWarnDays: number;
        crlWarnDays: number;
        crlMaxAge?: number;
        at?: Date;
        json?: boolean;
      }) => {
        // Loaded by the action (x509), as the other `ca` commands do.
        const { caStatus } = await import('../../ca/status.js');
        const r = await caStatus({
          ca: await openCaFromCli(o.ca),
          warnDays: o.warnDays,
          caWarnDays: o.caWarnDays,
          crlWarnDays: o.crlWarnDays,
          ...(o.crlMaxAge !== undefined ? { crlMaxAgeMs: o.crlMaxAge } : {}),
          ...(o.at ? { at: o.at } : {}),
        });
        if (!r.ok) process.exitCode = 1;
        if (o.json) {
          outJson('ca-status', r);
          return;
        }
        out(
          `CA ${dnText(r.ca.subject)}: valid until ${r.ca.notAfter.toISOString()} (${r.ca.daysLeft} days)`,
        );
        out(
          r.crl.present
            ? `CRL ${r.crl.crlNumber !== undefined ? crlNumberText(r.crl.crlNumber) : '(no number)'} ${r.crl.path}: ${r.crl.entries} entries, issued ${r.crl.thisUpdate?.toISOString()}, next update ${r.crl.nextUpdate?.toISOString() ?? 'none'}`
            : `CRL ${r.crl.path}: none`,
        );
        const c = r.counts;
        out(
          `certificates: ${c.valid} valid (${c.expiring} expiring within ${o.warnDays} days, ${c.renewed} renewed), ${c.revoked} revoked, ${c.expired} expired`,
        );
        for (const f of r.findings)
          out(
            `${f.severity === 'alarm' ? style('red', 'ALARM') : style('yellow', 'WARNING')} [${f.kind}] ${f.message}`,
          );
        out(
          r.ok
            ? `${style('green', 'OK')}: nothing needs action`
            : `${r.findings.length} finding(s) need action`,
        );
      },
    );

  ca.command('list')
    .description('the CA database as a table: serial, state, expiry, days left, subject, reason')
    .addOption(caDirOption())
    .addOption(caDirAlias())
    .option(
      '--expiring <duration>',
      'only valid certificates expiring within this window, e.g. 30d',
      (v) => parseDurationArg(v, '--expiring'),
    )
    .option('--revoked', 'only revoked certificates')
    .option('--at <time>', 'states as of this time instead of now (ISO 8601)', (v) =>
      parseTimeArg(v, '--at'),
    )
    .addOption(jsonOption())
    .addHelpText(
      'after',
      "\nStates are computed at --at from each expiry date, whatever index.txt's letter says.\n\nExamples:\n  $ mtls ca list --ca-dir ./myCA\n  $ mtls ca list --ca-dir ./myCA --expiring 30d --json\n  $ mtls ca list --ca-dir ./myCA --revoked\n",
    )
    .action(
      async (o: {
        ca?: string;
        expiring?: number;
        revoked?: boolean;
        at?: Date;
        json?: boolean;
      }) => {
        const { listCertificates } = await import('../../ca/list.js');
        const r = await listCertificates({
          ca: await openCaFromCli(o.ca),
          ...(o.at ? { at: o.at } : {}),
          ...(o.expiring !== undefined ? { expiringWithinMs: o.expiring } : {}),
          ...(o.revoked ? { revokedOnly: true } : {}),
        });
        if (o.json) {
          outJson('ca-list', r.certificates);
          return;
        }
        if (r.certificates.length === 0) {
          out('no certificates match');
          return;
        }
        table([
          ['SERIAL', 'STATE', 'EXPIRES', 'DAYS', 'SUBJECT', 'REASON/NOTE'],
          ...r.certificates.map(row),
        ]);
      },
    );
}
