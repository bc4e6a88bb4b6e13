/**
 * `mtls snippet --lang … URL`: write the same mTLS call for another platform.
 * Wiring only; the work is done by src/client/snippets.
 */
import { forceOption, jsonOption } from '../shared-options.js';
import type { Command } from 'commander';
import { MtlsError } from '../../errors/index.js';
import { readFileChecked, writeFileAtomic } from '../../io/index.js';
import { isEncryptedPrivateKey } from '../../pki/keys.js';
import {
  DEFAULT_KEY_PASSPHRASE_ENV,
  DEFAULT_PASSWORD_ENV,
  SNIPPET_LANGUAGES,
  generateSnippet,
} from '../../client/snippets/index.js';
import { deprecatedAlias } from '../deprecated.js';
import { collect, parseHeader, readRequestBody } from '../http-args.js';
import { info, out, outJson } from '../output.js';
import { isOneOf } from '../option-values.js';
import { FILE_WRITE_CODES, USAGE_CODES, exitCodesLine, type ExitLinePart } from '../exit-help.js';

interface SnippetCliOptions {
  lang: string;
  pfx?: string;
  cert?: string;
  key?: string;
  caFile?: string;
  request?: string;
  header?: string[];
  data?: string[];
  passwordEnv?: string;
  keyPassphraseEnv?: string;
  out?: string;
  force?: boolean;
  json?: boolean;
}

async function runSnippet(url: string, opts: SnippetCliOptions): Promise<void> {
  const lang = opts.lang;
  if (!isOneOf(lang, SNIPPET_LANGUAGES)) {
    throw new MtlsError('MTLS_BAD_ARGUMENT', `unknown language "${opts.lang}"`, {
      subject: '--lang',
      hint: `Choose one of ${SNIPPET_LANGUAGES.join(', ')}.`,
    });
  }
  const body = (await readRequestBody(opts.data))?.toString('utf8');
  const keyEncrypted =
    opts.key !== undefined
      ? isEncryptedPrivateKey(await readFileChecked(opts.key, 'private key'))
      : false;
  const snippet = generateSnippet({
    lang,
    url,
    ...(opts.request ? { method: opts.request } : {}),
    headers: (opts.header ?? []).map(parseHeader),
    ...(body !== undefined ? { body } : {}),
    ...(opts.pfx ? { pfxPath: opts.pfx } : {}),
    ...(opts.cert ? { certPath: opts.cert } : {}),
    ...(opts.key ? { keyPath: opts.key, keyEncrypted } : {}),
    ...(opts.caFile ? { caPath: opts.caFile } : {}),
    ...(opts.passwordEnv ? { passwordEnv: opts.passwordEnv } : {}),
    ...(opts.keyPassphraseEnv ? { keyPassphraseEnv: opts.keyPassphraseEnv } : {}),
  });
  if (opts.out !== undefined) {
    await writeFileAtomic(opts.out, snippet.code, {
      force: opts.force ?? false,
      mode: snippet.lang === 'curl' ? 0o755 : 0o644,
    });
  }
  if (opts.json) {
    outJson('snippet', { ...snippet, ...(opts.out !== undefined ? { savedTo: opts.out } : {}) });
    return;
  }
  if (opts.out === undefined) process.stdout.write(snippet.code);
  else out(`wrote ${opts.out}; run: ${snippet.run.replace(snippet.filename, opts.out)}`);
  for (const n of snippet.notes) info(`note: ${n}`);
}

/** What `snippet`'s exits mean. */
export const SNIPPET_EXITS: readonly ExitLinePart[] = [
  { outcome: 0, text: 'ok' },
  { codes: USAGE_CODES, text: 'usage (unknown language, bad URL or header)' },
  {
    codes: ['MTLS_FILE_NOT_FOUND', 'MTLS_FILE_READ', ...FILE_WRITE_CODES],
    text: 'file errors (an input that cannot be read, or --out exists without --force)',
  },
];

/**
 * Registers `mtls snippet`.
 */
export function registerSnippetCommands(program: Command): void {
  program
    .command('snippet')
    .description(
      'write ready-to-run code (or Postman steps) for the same mTLS call, TLS 1.2 pinned',
    )
    .argument('<url>', 'https:// URL to call')
    .requiredOption('--lang <lang>', `one of ${SNIPPET_LANGUAGES.join(', ')}`)
    .option('--pfx <file>', 'client .pfx the code loads (its password comes from an env variable)')
    .option('--cert <file>', 'client certificate (PEM) the code loads')
    .option('--key <file>', 'private key (PEM) the code loads')
    .option(
      '--ca-file <file>',
      "trusted CA certificates (PEM bundle) for the server's certificate (default: the platform's trust store)",
    )
    .addOption(deprecatedAlias('--ca <file>', '--ca-file'))
    .option('-X, --request <method>', 'HTTP method (default GET, or POST with -d)')
    .option('-H, --header <header>', '"Name: value"; repeatable', collect)
    .option(
      '-d, --data <data>',
      'request body; @FILE reads a file, @- reads stdin; repeatable, joined with & (as curl)',
      collect,
    )
    .option(
      '--password-env <name>',
      `env variable the code reads the .pfx password from (default ${DEFAULT_PASSWORD_ENV})`,
    )
    .option(
      '--key-passphrase-env <name>',
      `env variable for an encrypted key's passphrase (default ${DEFAULT_KEY_PASSPHRASE_ENV})`,
    )
    .option('--out <file>', 'write the code to FILE instead of stdout')
    .addOption(forceOption('--out'))
    .addOption(jsonOption('{ lang, filename, code, run, notes }'))
    .addHelpText(
      'after',
      `
Passwords are never written into the code: it reads them from environment variables.
python and go read PEM only; with --pfx their code names PEM files and the openssl commands to make them.

Examples:
  $ mtls snippet --lang java https://api.example.com/v1/ping --pfx client.pfx --ca-file provider-ca.pem --out MtlsCall.java
  $ mtls snippet --lang python https://api.example.com/v1/pay -d @payment.json --cert client.cert.pem --key client.key.pem
  $ mtls snippet --lang postman https://api.example.com/v1/ping --pfx client.pfx`,
    )
    .addHelpText('after', exitCodesLine(SNIPPET_EXITS))
    .action((url: string, opts: SnippetCliOptions) => runSnippet(url, opts));
}
