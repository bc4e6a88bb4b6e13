/**
 * `mtls ca …`: init, adopt, sign, issue, revoke, crl, chain, show.
 */
import { Command, Option } from 'commander';
import { REVOCATION_REASONS, type RevocationReason } from '../../ca/index-db.js';
import { parseSanOption } from '../../ca/san-option.js';
import { MtlsError } from '../../errors/index.js';
import { assertCanWrite, readFileChecked } from '../../io/index.js';
import { resolve } from 'node:path';
import { KEY_TYPES, parseKeyType } from '../../pki/keys.js';
import { parseSubject } from '../../pki/names.js';
import { caDirAlias, caDirOption, caKeyFromCli, openCaFromCli } from '../ca-context.js';
import { info, out, outJson, style, warn, withSpinner } from '../output.js';
import { stringOption } from '../option-values.js';
import { crlNumberText, dnText } from '../format.js';
import { ENV, forceOption, jsonOption, secretFileOption } from '../shared-options.js';
import { readSecret } from '../secrets.js';
import type { IntermediateCliOptions } from './ca-init-intermediate.js';
import { keyLine, newCaSettings } from './ca-init-shared.js';
import { registerCaLifecycleCommands } from './ca-lifecycle.js';

/**
 * The CA library, loaded by the action that runs: it pulls in @peculiar/x509,
 * which `mtls ca --help` and a refused argument do not need (as
 * gateway-start.ts does with the gateway).
 */
const caLibrary = (): Promise<typeof import('../../ca/index.js')> => import('../../ca/index.js');
/** Certificate helpers (x509 too), loaded the same way. */
const certificates = (): Promise<typeof import('../../pki/certificate.js')> =>
  import('../../pki/certificate.js');

const days = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0)
    throw new MtlsError('MTLS_BAD_ARGUMENT', `--days must be a positive whole number, got "${v}"`, {
      subject: '--days',
    });
  return n;
};

/**
 * An unencrypted CA key is a deliberate choice: `--no-passphrase` alone is
 * refused, as step's `--no-password` needs `--insecure`.
 * @throws MTLS_USAGE for --no-passphrase without --insecure
 */
function assertNoPassphraseConfirmed(o: { passphrase: boolean; insecure?: boolean }): void {
  if (o.passphrase || o.insecure === true) return;
  throw new MtlsError(
    'MTLS_USAGE',
    '--no-passphrase writes the CA key unencrypted and needs --insecure to confirm it',
    {
      subject: '--no-passphrase',
      hint: 'Add --insecure to store the CA key unencrypted, or drop --no-passphrase and give --passphrase-file FILE.',
    },
  );
}

/**
 * The profile `ca sign` and `ca issue` use without --profile: client
 * certificates are what this CA is for (openssl.cnf's x509_extensions stays
 * the default of `openssl ca` itself).
 */
const DEFAULT_PROFILE = 'client';
const PROFILE_HELP =
  "extension profile: client (keyUsage + EKU clientAuth), server, usr_cert (the guide's), or any section of openssl.cnf";

const ISSUANCE_RULES = `
Issuance rules (RFC 5280):
  keyUsage follows the key: client and server profiles carry digitalSignature
  only; keyEncipherment in a profile (usr_cert) is left out, with a warning,
  for EC and Ed25519 keys and for clientAuth-only profiles.
  The signature hash follows the CA key: SHA-384 for P-384, SHA-512 for P-521,
  default_md for RSA. A certificate may not outlive its CA: a --days that
  reaches past the CA's notAfter is refused (exit 4), never shortened.
  Server profiles (serverAuth) need a subjectAltName, from the CSR or --san,
  and copy the CSR's. Subject values are held to the RFC 5280 upper bounds
  (CN, O, OU 64; L, ST 128; emailAddress 255; serialNumber 64).
`;

/** Registers `mtls ca …`. */
export function registerCaCommands(program: Command): void {
  const ca = program
    .command('ca')
    .description('build and run a private CA compatible with `openssl ca`');

  ca.command('init')
    .description('create a CA directory: layout, openssl.cnf, encrypted key, self-signed root')
    .argument('<dir>', 'the CA directory to create (must not exist or be empty)')
    .requiredOption(
      '--subject <dn>',
      'root subject, /C=BR/ST=SP/O=Acme/CN=Acme Root CA or RFC 4514',
    )
    .addOption(
      new Option('--key-type <type>', 'CA key type').choices([...KEY_TYPES]).default('rsa4096'),
    )
    .option(
      '--days <n>',
      "validity in days (default: root 7300; intermediate 3650 or the parent's remaining life)",
      days,
    )
    .addOption(secretFileOption('caPassphrase'))
    .option('--no-passphrase', 'store the CA key unencrypted; needs --insecure as well')
    .option('--insecure', 'confirm --no-passphrase: the CA key is written unencrypted')
    .addOption(jsonOption())
    // Lifecycle: intermediates and CRL distribution points (src/cli/commands/ca-init-intermediate.ts).
    .option(
      '--crl-url <url>',
      'CRL distribution point put in every certificate this CA issues (crlDistributionPoints = URI:…)',
    )
    .option(
      '--intermediate',
      'make an intermediate CA (pathlen 0) signed by --parent, which then issues; the root can stay offline',
    )
    .option(
      '--parent <dir>',
      'with --intermediate: the root CA directory that signs it and records it in its index.txt',
    )
    .addOption(secretFileOption('parentCaPassphrase'))
    .addHelpText(
      'after',
      '\nExamples:\n  mtls ca init ./myCA --subject "/C=BR/ST=SP/O=Acme/CN=Acme Root CA" --passphrase-file ca.pass --crl-url http://pki.acme.example/root.crl\n  mtls ca init ./issuing --intermediate --parent ./myCA --subject "/C=BR/ST=SP/O=Acme/CN=Acme Issuing CA 1" \\\n      --parent-passphrase-file ca.pass --passphrase-file issuing.pass --crl-url http://pki.acme.example/issuing.crl\n',
    )
    .action(
      async (
        dir: string,
        o: {
          subject: string;
          keyType: string;
          days?: number;
          passphraseFile?: string;
          passphrase: boolean;
          insecure?: boolean;
          json?: boolean;
        } & IntermediateCliOptions,
      ) => {
        assertNoPassphraseConfirmed(o);
        if (o.intermediate || o.parent)
          return (await import('./ca-init-intermediate.js')).initIntermediateFromCli(dir, o);
        const { assertEmptyOrMissing, initCa } = await caLibrary();
        const subject = parseSubject(o.subject);
        const keyType = parseKeyType(o.keyType);
        await assertEmptyOrMissing(resolve(dir));
        const settings = await newCaSettings(o, 'New CA key passphrase: ');
        const r = await withSpinner(`generating ${keyType} CA key`, () =>
          initCa({ dir, subject, keyType, ...settings }),
        );
        if (o.json) {
          outJson('ca-init', r);
          return;
        }
        out(`${style('green', '✓')} CA created in ${r.layout.dir}`);
        out(`  subject      ${dnText(r.subject)}`);
        out(keyLine(r));
        out(`  certificate  ${r.layout.caCert} (valid until ${r.notAfter.toISOString()})`);
        out(`  SHA-256      ${r.fingerprintSha256}`);
        out(
          `  openssl.cnf  ${r.layout.config} (openssl ca -config ${r.layout.config} works as it stands)`,
        );
      },
    );

  ca.command('adopt')
    .description(
      'take over a CA built by hand with the guide (reads its openssl.cnf, checks the database)',
    )
    .argument('<dir>', 'the CA directory')
    .option('--config <file>', 'openssl.cnf (default DIR/openssl.cnf)')
    .addOption(secretFileOption('caPassphrase'))
    .option(
      '--fix',
      'apply safe repairs: create crlnumber/serial, unique_subject = no, add a missing [crl_ext] section, make a "~" dir absolute',
    )
    .addOption(jsonOption())
    .addHelpText('after', '\nExample:\n  mtls ca adopt ~/myCA --fix\n')
    .action(
      async (
        dir: string,
        o: { config?: string; passphraseFile?: string; fix?: boolean; json?: boolean },
      ) => {
        const { adoptCa } = await caLibrary();
        const passphrase =
          o.passphraseFile !== undefined || process.env[ENV.caPassphrase]
            ? await readSecret({
                kind: 'caPassphrase',
                file: o.passphraseFile,
                prompt: 'CA key passphrase: ',
              })
            : undefined;
        const r = await adoptCa({
          dir,
          ...(o.config ? { configPath: o.config } : {}),
          ...(passphrase !== undefined ? { passphrase } : {}),
          fix: o.fix ?? false,
        });
        if (o.json) {
          outJson('ca-adopt', { ...r, ca: undefined, config: r.ca.config.configPath });
          return;
        }
        for (const w of r.warnings) warn(w);
        out(`${style('green', '✓')} adopted ${r.ca.config.dir}`);
        out(`  subject      ${dnText(r.subject)}`);
        out(`  SHA-256      ${r.fingerprintSha256}`);
        out(`  policy       ${r.policy}`);
        out(`  profiles     ${r.profiles.join(', ')}`);
        out(
          `  database     ${r.certificates.valid} valid, ${r.certificates.revoked} revoked, ${r.certificates.expired} expired`,
        );
        out(
          `  key check    ${r.keyChecked ? 'key matches the certificate' : 'not checked (give --passphrase-file)'}`,
        );
        for (const rep of r.repairs)
          out(`  ${o.fix ? 'fixed' : 'to fix (run with --fix)'}: ${rep}`);
      },
    );

  ca.command('sign')
    .description('sign CSR(s) under the CA policy and record them in index.txt')
    .argument('<csr...>', 'CSR file(s), PEM or DER')
    .addOption(caDirOption())
    .addOption(caDirAlias())
    .option('--profile <name>', PROFILE_HELP, DEFAULT_PROFILE)
    .option('--days <n>', 'validity in days (default: default_days, 375)', days)
    .option('--san <list>', 'extra subjectAltName, e.g. DNS:api.example,IP:10.0.0.1')
    .option('--out <file>', 'also write the certificate here (one CSR only)')
    .addOption(forceOption('--out'))
    .addOption(secretFileOption('caPassphrase'))
    .addOption(jsonOption())
    .addHelpText(
      'after',
      '\nExamples:\n  mtls ca sign client.csr.pem --ca-dir ./myCA --profile client --out client.cert.pem\n  mtls ca sign api.csr.pem --ca-dir ./myCA --profile server --san DNS:api.example\n',
    )
    .addHelpText('after', ISSUANCE_RULES)
    .action(
      async (
        csrs: string[],
        o: {
          ca?: string;
          profile: string;
          days?: number;
          san?: string;
          out?: string;
          force?: boolean;
          passphraseFile?: string;
          json?: boolean;
        },
      ) => {
        if (o.out && csrs.length > 1)
          throw new MtlsError(
            'MTLS_USAGE',
            '--out takes one CSR; with several, certificates go to newcerts/',
          );
        const { findProfile, signCsr } = await caLibrary();
        const ca = await openCaFromCli(o.ca);
        // Read every input before asking for the CA passphrase: a typo fails fast.
        const inputs = await Promise.all(
          csrs.map(async (path) => ({ path, csr: await readFileChecked(path, 'CSR') })),
        );
        const sans = o.san ? parseSanOption(o.san) : undefined;
        findProfile(ca, o.profile);
        if (o.out) await assertCanWrite(o.out, o.force);
        const caKey = await caKeyFromCli(ca, o.passphraseFile);
        const results = [];
        for (const { path, csr } of inputs) {
          const r = await signCsr({
            ca,
            csr,
            csrSource: path,
            caKey,
            profile: o.profile,
            ...(o.days ? { days: o.days } : {}),
            ...(sans ? { subjectAltNames: sans } : {}),
            ...(o.out ? { outPath: o.out, force: o.force ?? false } : {}),
          });
          results.push(r);
          if (!o.json) {
            for (const w of r.warnings) warn(w);
            out(
              `${style('green', '✓')} signed ${path}: serial ${r.serial}, ${dnText(r.subject)}, profile ${r.profile}, valid until ${r.notAfter.toISOString()}`,
            );
            out(`  ${r.outPath ?? r.newCertPath}`);
          }
        }
        if (o.json) outJson('ca-sign', results.length === 1 ? results[0] : results);
      },
    );

  ca.command('issue')
    .description('key + CSR + signed certificate + .pfx for one client, in one step')
    .argument('<name>', 'client name: the CN and the file name stem')
    .addOption(caDirOption())
    .addOption(caDirAlias())
    .addOption(
      new Option('--key-type <type>', 'client key type').choices([...KEY_TYPES]).default('rsa2048'),
    )
    .option('--profile <name>', PROFILE_HELP, DEFAULT_PROFILE)
    .option('--days <n>', 'validity in days (default: default_days, 375)', days)
    .option('--ou <ou>', 'organizationalUnitName')
    .option('--email <address>', 'emailAddress')
    .option('--san <list>', 'subjectAltName, e.g. DNS:client.example')
    .option('--legacy', '.pfx with 3DES + SHA-1 MAC, for older Java, Windows and macOS keystores')
    .option(
      '--out-dir <dir>',
      "write all files here instead of the CA's certs/ and private/ (created 0700 if missing)",
    )
    .addOption(secretFileOption('pfxPassword'))
    .addOption(secretFileOption('caPassphrase'))
    .addOption(forceOption('each file written'))
    .addOption(jsonOption())
    .addHelpText(
      'after',
      '\nExample:\n  mtls ca issue acme-client --ca-dir ./myCA --password-file pfx.pass --passphrase-file ca.pass --out-dir ./acme\n',
    )
    .addHelpText(
      'after',
      `${ISSUANCE_RULES}
--out-dir DIR is created (mode 0700) when missing; an unusable DIR is refused
before anything is signed. If writing the files fails after signing, the new
serial is revoked (cessationOfOperation) and the error names it.
`,
    )
    .action(async (name: string, o: Record<string, string | boolean | number | undefined>) => {
      const { issueClientCertificate, planIssue } = await caLibrary();
      const { fingerprintSha256 } = await certificates();
      const ca = await openCaFromCli(stringOption(o.ca));
      const sans = o.san ? parseSanOption(String(o.san)) : undefined;
      const extra = [
        ...(o.ou ? [{ type: 'OU', value: String(o.ou) }] : []),
        ...(o.email ? [{ type: 'emailAddress', value: String(o.email) }] : []),
      ];
      await planIssue({
        ca,
        name,
        profile: String(o.profile),
        force: Boolean(o.force),
        subject: extra,
        ...(o.outDir ? { outDir: String(o.outDir) } : {}),
      });
      const caKey = await caKeyFromCli(ca, stringOption(o.passphraseFile));
      const pfxPassword = await readSecret({
        kind: 'pfxPassword',
        file: stringOption(o.passwordFile),
        prompt: '.pfx password: ',
        confirm: true,
      });
      const r = await withSpinner('generating the client key', () =>
        issueClientCertificate({
          ca,
          name,
          caKey,
          pfxPassword,
          keyType: parseKeyType(String(o.keyType)),
          profile: String(o.profile),
          pfxFlavour: o.legacy ? 'legacy' : 'modern',
          subject: extra,
          force: Boolean(o.force),
          ...(typeof o.days === 'number' ? { days: o.days } : {}),
          ...(sans ? { subjectAltNames: sans } : {}),
          ...(o.outDir ? { outDir: String(o.outDir) } : {}),
        }),
      );
      if (o.json) {
        outJson('ca-issue', r);
        return;
      }
      for (const w of r.warnings) warn(w);
      out(
        `${style('green', '✓')} issued ${dnText(r.subject)} (serial ${r.serial}, profile ${r.profile}, valid until ${r.notAfter.toISOString()})`,
      );
      out(`  private key  ${r.keyPath}  (0600, encrypted with the .pfx password)`);
      out(`  CSR          ${r.csrPath}`);
      out(`  certificate  ${r.certPath}`);
      out(`  .pfx         ${r.pfxPath}  (${o.legacy ? 'legacy 3DES/SHA-1' : 'AES-256/SHA-256'})`);
      out('');
      out(style('bold', 'Send to the provider (public, safe to e-mail):'));
      out(
        `  the CA chain: ${r.chainPath}   (or: mtls ca chain --ca-dir ${ca.config.dir} --out chain.pem)`,
      );
      out(`  SHA-256 ${fingerprintSha256(ca.certificate)}  ← confirm this out of band`);
      out(style('bold', 'Never send:'));
      out(`  ${r.keyPath}, ${r.pfxPath}, or the .pfx password.`);
    });

  ca.command('revoke')
    .description('mark a certificate revoked in index.txt (then run `mtls ca crl`)')
    .argument('[serial]', 'hex serial number')
    .addOption(caDirOption())
    .addOption(caDirAlias())
    .option('--cert <file>', 'the certificate to revoke, instead of a serial')
    .addOption(new Option('--reason <reason>', 'CRL reason').choices([...REVOCATION_REASONS]))
    .addOption(jsonOption())
    .addHelpText(
      'after',
      '\nExample:\n  mtls ca revoke 0B99EEC5224C3EE64D34E88302544A40 --ca-dir ./myCA --reason keyCompromise\n',
    )
    .action(
      async (
        serial: string | undefined,
        o: { ca?: string; cert?: string; reason?: RevocationReason; json?: boolean },
      ) => {
        const { revokeCertificate } = await caLibrary();
        const ca = await openCaFromCli(o.ca);
        const r = await revokeCertificate({
          ca,
          ...(serial ? { serial } : {}),
          ...(o.cert ? { certificate: await readFileChecked(o.cert, 'certificate') } : {}),
          ...(o.reason ? { reason: o.reason } : {}),
        });
        if (o.json) {
          outJson('ca-revoke', r);
          return;
        }
        out(
          `${style('green', '✓')} revoked serial ${r.serial} (${dnText(r.subject)}), reason ${r.reason}`,
        );
        info('run `mtls ca crl` to publish a new CRL');
      },
    );

  ca.command('crl')
    .description('generate a CRL of every revoked certificate and bump crlnumber')
    .addOption(caDirOption())
    .addOption(caDirAlias())
    .option('--days <n>', 'days until nextUpdate (default: default_crl_days)', days)
    .option('--out <file>', 'also write the CRL here')
    .option(
      '--der',
      'write --out as DER, the encoding a CRL distribution point URL must serve (RFC 5280 §4.2.1.13)',
    )
    .addOption(forceOption('--out'))
    .addOption(secretFileOption('caPassphrase'))
    .addOption(jsonOption())
    .addHelpText(
      'after',
      '\nExamples:\n  mtls ca crl --ca-dir ./myCA --out acme.crl.pem\n  mtls ca crl --ca-dir ./myCA --out /var/www/pki/ca.crl --der --force   # publish at the --crl-url\n',
    )
    .action(
      async (o: {
        ca?: string;
        days?: number;
        out?: string;
        der?: boolean;
        force?: boolean;
        passphraseFile?: string;
        json?: boolean;
      }) => {
        if (o.der && !o.out)
          throw new MtlsError('MTLS_USAGE', '--der says how to write --out; give --out FILE too');
        const { generateCrl } = await caLibrary();
        const ca = await openCaFromCli(o.ca);
        const caKey = await caKeyFromCli(ca, o.passphraseFile);
        const r = await generateCrl({
          ca,
          caKey,
          ...(o.days ? { days: o.days } : {}),
          ...(o.out
            ? { outPath: o.out, outFormat: o.der ? 'der' : 'pem', force: o.force ?? false }
            : {}),
        });
        if (o.json) {
          outJson('ca-crl', { ...r, pem: undefined });
          return;
        }
        for (const w of r.warnings) warn(w);
        out(
          `${style('green', '✓')} CRL ${crlNumberText(r.crlNumber)} with ${r.revoked} revoked certificate(s), next update ${r.nextUpdate.toISOString()}`,
        );
        out(`  ${r.path}${r.outPath ? `\n  ${r.outPath}` : ''}`);
      },
    );

  ca.command('chain')
    .description('write the PUBLIC chain to send to the provider, with SHA-256 fingerprints')
    .argument('[files...]', 'more certificate files (intermediates)')
    .addOption(caDirOption())
    .addOption(caDirAlias())
    .option('--no-ca', 'do not include a CA directory; use only the files given')
    .option('--out <file>', 'write the chain here (default: print it)')
    .addOption(forceOption('--out'))
    .addOption(jsonOption())
    .addHelpText('after', '\nExample:\n  mtls ca chain --ca-dir ./myCA --out acme-chain.pem\n')
    .action(
      async (
        files: string[],
        o: { ca?: string | boolean; out?: string; force?: boolean; json?: boolean },
      ) => {
        const { exportChain } = await caLibrary();
        const ca =
          o.ca === false
            ? undefined
            : await openCaFromCli(typeof o.ca === 'string' ? o.ca : undefined);
        const r = await exportChain({
          ...(ca ? { ca } : {}),
          files,
          ...(o.out ? { outPath: o.out, force: o.force ?? false } : {}),
        });
        if (o.json) {
          outJson('ca-chain', r);
          return;
        }
        if (!o.out) process.stdout.write(r.pem);
        const log = o.out ? out : info;
        if (o.out)
          log(
            `${style('green', '✓')} chain written to ${o.out} (certificates only, no private key)`,
          );
        for (const c of r.certificates) {
          log(`  ${dnText(c.subject)}${c.selfSigned ? ' (root)' : ''}`);
          log(`    SHA-256 ${c.fingerprintSha256}   valid until ${c.notAfter.toISOString()}`);
        }
        log('Confirm these fingerprints with the provider out of band.');
      },
    );

  ca.command('show')
    .description('summarise the CA and list the certificates in its database')
    .addOption(caDirOption())
    .addOption(caDirAlias())
    .addOption(jsonOption())
    .addHelpText('after', '\nExample:\n  mtls ca show --ca-dir ./myCA --json\n')
    .action(async (o: { ca?: string; json?: boolean }) => {
      const { readDatabase } = await caLibrary();
      const { fingerprintSha256 } = await certificates();
      const ca = await openCaFromCli(o.ca);
      const entries = await readDatabase(ca.config);
      const summary = {
        dir: ca.config.dir,
        subject: ca.certificate.subject,
        notAfter: ca.certificate.notAfter,
        fingerprintSha256: fingerprintSha256(ca.certificate),
        policy: ca.config.policy,
        profiles: Object.keys(ca.config.profiles),
        certificates: entries,
        warnings: ca.config.warnings,
      };
      if (o.json) {
        outJson('ca-show', summary);
        return;
      }
      for (const w of ca.config.warnings) warn(w);
      out(`CA ${dnText(summary.subject)}`);
      out(`  dir ${summary.dir}   valid until ${summary.notAfter.toISOString()}`);
      out(`  SHA-256 ${summary.fingerprintSha256}`);
      out(`  policy ${summary.policy}; profiles: ${summary.profiles.join(', ')}`);
      out(`  ${entries.length} certificate(s):`);
      for (const e of entries)
        out(
          `  ${e.status} ${e.serial} ${e.expiry.toISOString().slice(0, 10)} ${dnText(e.subject)}${e.reason ? ` (${e.reason})` : ''}`,
        );
    });
  registerCaLifecycleCommands(ca);
}
