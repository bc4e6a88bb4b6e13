/**
 * `mtls key new` and `mtls csr new`.
 */
import { Command, Option } from 'commander';
import { createCsrFile, createKeyFile, openCa } from '../../ca/index.js';
import { parseSanOption } from '../../ca/san-option.js';
import { MtlsError } from '../../errors/index.js';
import { assertCanWrite, readFileChecked } from '../../io/index.js';
import { isEncryptedPrivateKey, KEY_TYPES, parseKeyType } from '../../pki/keys.js';
import { findAttributeType, parseSubject, type DistinguishedName } from '../../pki/names.js';
import { out, outJson, style, withSpinner } from '../output.js';
import { stringOption } from '../option-values.js';
import { dnText } from '../format.js';
import { deprecatedAlias } from '../deprecated.js';
import { caDirAlias, caDirOption } from '../ca-context.js';
import { forceOption, jsonOption, secretFileOption } from '../shared-options.js';
import { readSecret } from '../secrets.js';

/** Registers `mtls key …` and `mtls csr …`. */
export function registerKeyCommands(program: Command): void {
  const key = program.command('key').description('private keys');
  key
    .command('new')
    .description('generate a private key (PKCS#8, 0600, encrypted unless --no-passphrase)')
    .argument('<out>', 'output file')
    .addOption(new Option('--type <type>', 'key type').choices([...KEY_TYPES]).default('rsa2048'))
    .addOption(secretFileOption('keyPassphrase', { what: "new key's passphrase" }))
    .addOption(deprecatedAlias('--passphrase-file <file>', '--key-passphrase-file'))
    .option('--no-passphrase', 'write the key unencrypted')
    .addOption(forceOption('OUT'))
    .addOption(jsonOption())
    .addHelpText(
      'after',
      '\nExample:\n  mtls key new client.key.pem --type ec-p256 --key-passphrase-file key.pass\n',
    )
    .action(
      async (
        path: string,
        o: {
          type: string;
          keyPassphraseFile?: string;
          passphrase: boolean;
          force?: boolean;
          json?: boolean;
        },
      ) => {
        await assertCanWrite(path, o.force);
        const passphrase = o.passphrase
          ? await readSecret({
              kind: 'keyPassphrase',
              file: o.keyPassphraseFile,
              prompt: 'New key passphrase: ',
              confirm: true,
            })
          : undefined;
        const r = await withSpinner(`generating ${o.type} key`, () =>
          createKeyFile({
            outPath: path,
            keyType: parseKeyType(o.type),
            force: o.force ?? false,
            ...(passphrase !== undefined ? { passphrase } : {}),
          }),
        );
        if (o.json) {
          outJson('key-new', r);
          return;
        }
        out(
          `${style('green', '✓')} ${r.key} key written to ${r.path} (0600, ${r.encrypted ? 'encrypted' : 'NOT encrypted'})`,
        );
      },
    );

  const csr = program.command('csr').description('certificate signing requests');
  csr
    .command('new')
    .description("create a CSR for a key (the DN fields of the guide's [req] section)")
    .requiredOption('--key <file>', 'the private key')
    .option('--subject <dn>', 'full subject: /C=BR/ST=SP/O=Acme/CN=client or RFC 4514')
    .addOption(
      caDirOption(
        "take C/ST/L/O/OU defaults from this CA directory's openssl.cnf [req_distinguished_name]",
      ),
    )
    .addOption(caDirAlias())
    .option('--cn <name>', 'commonName (with --ca-dir)')
    .option('--ou <ou>', 'organizationalUnitName (with --ca-dir)')
    .option('--email <address>', 'emailAddress (with --ca-dir)')
    .option('--san <list>', 'subjectAltName, e.g. DNS:client.example,IP:203.0.113.7')
    .requiredOption('--out <file>', 'output file')
    .addOption(secretFileOption('keyPassphrase', { what: 'passphrase of an encrypted --key' }))
    .addOption(forceOption('--out'))
    .addOption(jsonOption())
    .addHelpText(
      'after',
      '\nExamples:\n  mtls csr new --key client.key.pem --subject "/C=BR/ST=SP/O=Acme/CN=client" --out client.csr.pem\n  mtls csr new --key client.key.pem --ca-dir ./myCA --cn client --out client.csr.pem\n',
    )
    .action(async (o: Record<string, string | boolean | undefined>) => {
      const subject = o.subject ? parseSubject(String(o.subject)) : await subjectFromCa(o);
      await assertCanWrite(String(o.out), Boolean(o.force));
      const keyData = await readFileChecked(String(o.key), 'private key');
      const keyPassphrase = isEncryptedPrivateKey(keyData)
        ? await readSecret({
            kind: 'keyPassphrase',
            file: stringOption(o.keyPassphraseFile),
            prompt: 'Key passphrase: ',
          })
        : undefined;
      const r = await createCsrFile({
        keyPath: String(o.key),
        subject,
        outPath: String(o.out),
        force: Boolean(o.force),
        ...(keyPassphrase !== undefined ? { keyPassphrase } : {}),
        ...(o.san ? { subjectAltNames: parseSanOption(String(o.san)) } : {}),
      });
      if (o.json) {
        outJson('csr-new', { path: r.path, subject: r.subject });
        return;
      }
      out(`${style('green', '✓')} CSR for ${dnText(r.subject)} written to ${r.path}`);
    });
}

async function subjectFromCa(
  o: Record<string, string | boolean | undefined>,
): Promise<DistinguishedName> {
  if (!o.ca || !o.cn)
    throw new MtlsError('MTLS_USAGE', 'give --subject, or --ca-dir DIR with --cn NAME');
  const ca = await openCa(String(o.ca));
  const dn: DistinguishedName = [];
  for (const f of ca.config.reqFields) {
    const t = findAttributeType(f.field);
    if (!t) continue;
    const value =
      t.short === 'CN'
        ? String(o.cn)
        : t.short === 'OU' && o.ou
          ? String(o.ou)
          : t.short === 'emailAddress' && o.email
            ? String(o.email)
            : (f.value ?? f.default);
    if (value) dn.push({ type: t.short, value });
  }
  if (!dn.some((a) => a.type === 'CN')) dn.push({ type: 'CN', value: String(o.cn) });
  return dn;
}
