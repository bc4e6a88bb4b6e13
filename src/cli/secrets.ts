/**
 * Passphrases for the CLI: from a file, an environment variable, or a no-echo
 * prompt. Never from argv, never logged.
 */
import { MtlsError } from '../errors/index.js';
import { readFileChecked } from '../io/index.js';

/** Where to get one secret. */
export interface SecretSource {
  /** `--passphrase-file` / `--password-file` value. */
  file?: string;
  /** Environment variable consulted when no file is given. */
  envVar?: string;
  /** Prompt text for a terminal. */
  prompt: string;
  /** Ask twice and compare (new secrets). */
  confirm?: boolean;
  /** What the secret protects, for error messages. */
  what: string;
}

/**
 * Reads a secret from the file (first line, without its newline), the env
 * variable, or a no-echo prompt when stdin is a TTY.
 * @throws MTLS_PASSPHRASE_REQUIRED when none is available (no TTY: CI, pipes)
 */
export async function readSecret(src: SecretSource): Promise<string> {
  if (src.file !== undefined) {
    const text = (await readFileChecked(src.file, `${src.what} file`)).toString('utf8');
    const first = text.split(/\r?\n/)[0] ?? '';
    if (first === '') throw new MtlsError('MTLS_PASSPHRASE_REQUIRED', `${src.what} file ${src.file} is empty`, { subject: src.file });
    return first;
  }
  if (src.envVar && process.env[src.envVar] !== undefined && process.env[src.envVar] !== '') {
    return process.env[src.envVar] as string;
  }
  if (!process.stdin.isTTY) {
    throw new MtlsError(
      'MTLS_PASSPHRASE_REQUIRED',
      `no ${src.what} given and no terminal to ask on`,
      { hint: `Pass --${src.what.includes('password') ? 'password' : 'passphrase'}-file FILE${src.envVar ? ` or set ${src.envVar}` : ''}.` },
    );
  }
  const first = await promptHidden(src.prompt);
  if (src.confirm) {
    const again = await promptHidden('Verifying - ' + src.prompt);
    if (again !== first) throw new MtlsError('MTLS_BAD_ARGUMENT', `the two ${src.what} entries differ`, { hint: 'Type the same value twice.' });
  }
  if (first === '') throw new MtlsError('MTLS_PASSPHRASE_REQUIRED', `empty ${src.what}`);
  return first;
}

/** Prompts on the terminal without echo. */
async function promptHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  stdin.setRawMode?.(true);
  stdin.resume();
  stdin.setEncoding('utf8');
  return new Promise<string>((resolve) => {
    let value = '';
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          cleanup();
          process.stderr.write('\n');
          resolve(value);
          return;
        }
        if (ch === '\u0003') {
          cleanup();
          process.stderr.write('\n');
          // Raw mode swallows SIGINT: exit as a shell would after Ctrl-C (128 + 2).
          process.exit(130);
        }
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    const cleanup = (): void => {
      stdin.off('data', onData);
      stdin.setRawMode?.(false);
      stdin.pause();
    };
    stdin.on('data', onData);
  });
}
