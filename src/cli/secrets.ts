/**
 * Passphrases for the CLI: from a file, an environment variable, or a no-echo
 * prompt. Never from argv, never logged.
 */
import { MtlsError } from '../errors/index.js';
import { readFileChecked } from '../io/index.js';
import { SECRETS, secretHint, type SecretKind } from './shared-options.js';
import { readAllStdin } from './stdin.js';

/** Fewest characters of a new CA key passphrase. */
export const CA_PASSPHRASE_MIN = 8;

/** Where to get one secret. */
export interface SecretSource {
  /** Which secret: decides the flag and the variable named in errors. */
  kind: SecretKind;
  /** The value of the kind's file flag. */
  file?: string | undefined;
  /** Skip the environment variable (secrets that must not be shared with another command's). */
  noEnv?: boolean;
  /** Prompt text for a terminal. */
  prompt: string;
  /** Ask twice and compare (new secrets). */
  confirm?: boolean;
  /** Fewest characters accepted (new CA passphrases: 8), checked before the confirmation. */
  minLength?: number;
}

/** Where a secret the command used came from, for advice when it turns out wrong. */
export interface SecretOrigin {
  kind: SecretKind;
  from: 'file' | 'env' | 'prompt';
  /** The file path or variable name. */
  name: string;
}

const origins: SecretOrigin[] = [];

/** The secrets this process has read so far, in order. */
export function secretOrigins(): readonly SecretOrigin[] {
  return origins;
}

/**
 * Reads a secret from the file (first line, without its newline), the env
 * variable, or a no-echo prompt when stdin is a TTY.
 * @throws MTLS_PASSPHRASE_REQUIRED when none is available (no TTY: CI, pipes)
 */
export async function readSecret(src: SecretSource): Promise<string> {
  const { flag, env, what } = SECRETS[src.kind];
  const envVar = src.noEnv ? undefined : env;
  if (src.file !== undefined) {
    // `-` is standard input, as for openssl's `-passin stdin`.
    const fromStdin = src.file === '-';
    const where = fromStdin ? 'standard input' : src.file;
    const text = (
      fromStdin ? await readAllStdin() : await readFileChecked(src.file, `${what} file`)
    ).toString('utf8');
    const first = text.split(/\r?\n/)[0] ?? '';
    if (first === '')
      throw new MtlsError('MTLS_PASSPHRASE_REQUIRED', `${what} from ${where} is empty`, {
        subject: src.file,
        hint: `Put the ${what} on the first line of ${where}.`,
      });
    assertLength(first, src, `${what} from ${where}`);
    origins.push({ kind: src.kind, from: 'file', name: where });
    return first;
  }
  const fromEnv = envVar === undefined ? undefined : process.env[envVar];
  if (envVar !== undefined && fromEnv !== undefined && fromEnv !== '') {
    assertLength(fromEnv, src, `${what} in ${envVar}`);
    origins.push({ kind: src.kind, from: 'env', name: envVar });
    return fromEnv;
  }
  if (!process.stdin.isTTY) {
    throw new MtlsError('MTLS_PASSPHRASE_REQUIRED', `no ${what} given and no terminal to ask on`, {
      subject: flag,
      hint: secretHint(src.kind, envVar !== undefined),
    });
  }
  let first = await promptHidden(src.prompt);
  // Too short: say so and ask again before the confirmation, as openssl does.
  while (first !== '' && src.minLength !== undefined && Array.from(first).length < src.minLength) {
    process.stderr.write(`The ${what} must have at least ${src.minLength} characters.\n`);
    first = await promptHidden(src.prompt);
  }
  if (src.confirm) {
    const again = await promptHidden('Verifying - ' + src.prompt);
    if (again !== first)
      throw new MtlsError('MTLS_BAD_ARGUMENT', `the two ${what} entries differ`, {
        hint: 'Type the same value twice.',
      });
  }
  if (first === '')
    throw new MtlsError('MTLS_PASSPHRASE_REQUIRED', `empty ${what}`, {
      hint: `Type the ${what}, or pass ${flag} FILE.`,
    });
  origins.push({ kind: src.kind, from: 'prompt', name: 'terminal' });
  return first;
}
/**
 * Refuses a secret shorter than `src.minLength` characters.
 * @throws MTLS_BAD_ARGUMENT naming where it came from and the minimum
 */
function assertLength(value: string, src: SecretSource, where: string): void {
  const length = Array.from(value).length;
  if (src.minLength === undefined || length >= src.minLength) return;
  throw new MtlsError(
    'MTLS_BAD_ARGUMENT',
    `the ${where} has ${length} characters; it needs at least ${src.minLength}`,
    {
      subject: SECRETS[src.kind].flag,
      hint: `Choose a ${SECRETS[src.kind].what} of at least ${src.minLength} characters.`,
    },
  );
}

/** Prompts on the terminal without echo. */
async function promptHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  stdin.setRawMode(true);
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
      stdin.setRawMode(false);
      stdin.pause();
    };
    stdin.on('data', onData);
  });
}
