/**
 * `mtls cert renew` and `mtls cert needs-renewal`. Wiring only; the work is
 * done by src/ca/renew.ts and src/ca/needs-renewal.ts.
 */
import { Option, type Command } from 'commander';
import { MtlsError } from '../../errors/index.js';
import { needsRenewal } from '../../ca/needs-renewal.js';
import { renewCertificate } from '../../ca/renew.js';
import { readFileChecked } from '../../io/index.js';
import { parseCertificate } from '../../pki/certificate.js';
import { KEY_TYPES, parseKeyType } from '../../pki/keys.js';
import { caDirAlias, caDirOption, caKeyFromCli, openCaFromCli } from '../ca-context.js';
import { jsonOption, secretFileOption } from '../shared-options.js';
import { info, out, outJson, style, warn, withSpinner } from '../output.js';
import { dnText } from '../format.js';
import { readSecret } from '../secrets.js';
import { parseDurationArg, parseTimeArg } from '../time-args.js';
import {
  FILE_READ_CODES,
  FILE_WRITE_CODES,
  USAGE_CODES,
  exitCodesLine,
  type ExitLinePart,
} from '../exit-help.js';

interface RenewOptions {
  ca?: string;
  reuseKey?: boolean;
  keyType?: string;
  profile?: string;
  days?: string;
  pfx?: boolean;
  legacy?: boolean;
  revokeOld?: boolean;
  outDir?: string;
  passwordFile?: string;
  passphraseFile?: string;
  json?: boolean;
}

/** `--within 30d` or `--within 33%`. */
function parseWithin(v: string): { withinMs: number } | { withinFraction: number } {
  const pct = /^(\d{1,2}(?:\.\d+)?)%$/.exec(v.trim());
  if (pct) return { withinFraction: Number(pct[1]) / 100 };
  return { withinMs: parseDurationArg(v, '--within') };
}

/** What `cert renew`'s exits mean. */
export const CERT_RENEW_EXITS: readonly ExitLinePart[] = [
  { outcome: 0, text: 'renewed' },
  { codes: USAGE_CODES, text: 'usage' },
  {
    codes: [
      'MTLS_RENEW_PROFILE_UNKNOWN',
      'MTLS_PROFILE_UNKNOWN',
      'MTLS_PASSPHRASE_REQUIRED',
      'MTLS_CA_NOT_FOUND',
      'MTLS_CA_CORRUPT',
      'MTLS_CONFIG_INVALID',
      'MTLS_CONFIG_UNSUPPORTED',
    ],
    text: 'configuration (no matching profile, no passphrase, a CA that cannot be opened)',
  },
  {
    codes: [
      'MTLS_ALREADY_REVOKED',
      'MTLS_NOT_FOUND',
      'MTLS_KEY_MISMATCH',
      'MTLS_BAD_PASSPHRASE',
      'MTLS_KEY_UNSUPPORTED',
      'MTLS_POLICY_FIELD_MISMATCH',
      'MTLS_POLICY_FIELD_MISSING',
      'MTLS_SAN_REQUIRED',
      'MTLS_VALIDITY_BEYOND_CA',
    ],
    text: 'denied (revoked, unknown serial, wrong key or passphrase, policy)',
  },
  { codes: [...FILE_READ_CODES, ...FILE_WRITE_CODES, 'MTLS_LOCK_TIMEOUT'], text: 'file I/O' },
];

/** Registers `mtls cert renew` and `mtls cert needs-renewal` on the `cert` command. */
export function registerCertRenewCommands(cert: Command): void {
  cert
    .command('renew')
    .description(
      'issue a successor: same subject, subjectAltNames and profile; new key unless --reuse-key; the old one stays valid unless --revoke-old',
    )
    .argument('<cert|serial>', 'the certificate file, or its hex serial in the CA database')
    .addOption(caDirOption())
    .addOption(caDirAlias())
    .option(
      '--reuse-key',
      'keep the old key pair (read from the old key file or .pfx with --password-file)',
    )
    .addOption(
      new Option('--key-type <type>', "new key type (default: the old key's)").choices([
        ...KEY_TYPES,
      ]),
    )
    .option(
      '--profile <name>',
      'profile (default: the one whose extensions the old certificate carries)',
    )
    .option('--days <n>', "validity in days (default: the old certificate's lifetime)")
    .option('--pfx', 'write a .pfx even if the old certificate had none')
    .option('--legacy', '.pfx with 3DES + SHA-1 MAC, for older Java, Windows and macOS keystores')
    .option(
      '--revoke-old',
      'revoke the old certificate (reason superseded) once the new one is written; then run `mtls ca crl`',
    )
    .option('--out-dir <dir>', 'write the new files here and leave the old ones untouched')
    .addOption(secretFileOption('pfxPassword', { what: '.pfx/key password' }))
    .addOption(secretFileOption('caPassphrase'))
    .addOption(jsonOption())
    .addHelpText(
      'after',
      `
The new certificate goes where the old one was (certs/NAME.cert.pem, NAME.pfx,
private/NAME.key.pem, as \`mtls ca issue\` lays them out); the replaced files
are kept as NAME.OLDSERIAL.cert.pem, .pfx and .key.pem. Both certificates are
valid side by side (unique_subject = no), so clients switch over at their pace.

Examples:
  $ mtls cert renew myCA/certs/acme-client.cert.pem --ca-dir myCA --password-file pfx.pass
  $ mtls cert renew 3F2A…9C --ca-dir myCA --reuse-key --password-file pfx.pass
  $ mtls cert renew myCA/certs/acme-client.cert.pem --ca-dir myCA --revoke-old && mtls ca crl --ca-dir myCA`,
    )
    .addHelpText('after', exitCodesLine(CERT_RENEW_EXITS))
    .action(async (arg: string, o: RenewOptions) => {
      const ca = await openCaFromCli(o.ca);
      const days = o.days === undefined ? undefined : Number(o.days);
      if (days !== undefined && (!Number.isInteger(days) || days <= 0)) {
        throw new MtlsError(
          'MTLS_BAD_ARGUMENT',
          `--days must be a positive whole number, got "${o.days}"`,
          { subject: '--days' },
        );
      }
      const isSerial = /^(0x)?[0-9A-Fa-f:]+$/.test(arg) && !arg.includes('/') && !arg.includes('.');
      const caKey = await caKeyFromCli(ca, o.passphraseFile);
      const pfxPassword = await readSecret({
        kind: 'pfxPassword',
        file: o.passwordFile,
        prompt: '.pfx/key password: ',
      });
      const r = await withSpinner('renewing', () =>
        renewCertificate({
          ca,
          ...(isSerial ? { serial: arg } : { certificatePath: arg }),
          caKey,
          pfxPassword,
          reuseKey: o.reuseKey ?? false,
          ...(o.keyType ? { keyType: parseKeyType(o.keyType) } : {}),
          ...(o.profile ? { profile: o.profile } : {}),
          ...(days ? { days } : {}),
          pfx: o.pfx ?? false,
          pfxFlavour: o.legacy ? 'legacy' : 'modern',
          revokeOld: o.revokeOld ?? false,
          ...(o.outDir ? { outDir: o.outDir } : {}),
        }),
      );
      if (o.json) {
        outJson('cert-renew', { ...r, pem: undefined });
        return;
      }
      for (const w of r.warnings) warn(w);
      out(
        `${style('green', '✓')} renewed serial ${r.oldSerial} → ${r.serial}: ${dnText(r.subject)}, profile ${r.profile}, valid until ${r.notAfter.toISOString()}`,
      );
      out(`  certificate  ${r.certPath}`);
      if (r.keyPath)
        out(
          `  private key  ${r.keyPath}  (${r.keyReused ? 'the old key' : 'a new key'}, encrypted with the .pfx password)`,
        );
      if (r.pfxPath) out(`  .pfx         ${r.pfxPath}`);
      for (const a of r.archived) out(`  kept         ${a}`);
      if (r.oldRevoked)
        info(`serial ${r.oldSerial} revoked (superseded); run \`mtls ca crl\` to publish it`);
      else
        info(
          `serial ${r.oldSerial} stays valid until it expires; revoke it once clients use the new one: mtls ca revoke ${r.oldSerial} --reason superseded`,
        );
    });

  cert
    .command('needs-renewal')
    .description(
      'exit 0 if the certificate is within its renewal window (or expired), 1 if not: for scripts',
    )
    .argument('<cert>', 'certificate file (PEM or DER; the first certificate is checked)')
    .option(
      '--within <window>',
      'renewal window before notAfter: a duration (30d, 12h) or a share of the lifetime (33%)',
      '30d',
    )
    .option('--at <time>', 'decide as of this time instead of now (ISO 8601)', (v) =>
      parseTimeArg(v, '--at'),
    )
    .addOption(jsonOption())
    .addHelpText(
      'after',
      `
Follows \`step certificate needs-renewal\`: exit 0 means "renew now", 1 means
"not yet". Errors use mtlskit's codes: 2 usage, 5 missing or unreadable file.

Examples:
  $ mtls cert needs-renewal client.cert.pem && mtls cert renew client.cert.pem --ca-dir myCA
  $ mtls cert needs-renewal client.cert.pem --within 33%`,
    )
    .action(async (file: string, o: { within: string; at?: Date; json?: boolean }) => {
      const certificate = parseCertificate(await readFileChecked(file, 'certificate'), file);
      const r = needsRenewal({
        certificate,
        ...parseWithin(o.within),
        ...(o.at ? { at: o.at } : {}),
      });
      process.exitCode = r.needsRenewal ? 0 : 1;
      if (o.json) {
        outJson('cert-needs-renewal', { file, ...r });
        return;
      }
      const days = Math.floor(r.remainingMs / 86_400_000);
      if (r.expired) out(`${file}: expired on ${r.notAfter.toISOString()}; renew it`);
      else if (r.needsRenewal)
        out(`${file}: expires on ${r.notAfter.toISOString()}, in ${days} day(s); renew it`);
      else
        out(
          `${file}: valid until ${r.notAfter.toISOString()} (${days} day(s)); no renewal needed yet`,
        );
    });
}
