/**
 * The CLI's side of hints. Library errors carry hints that name no flag; here
 * each code gets the flag advice of the command that is running, and any hint
 * that names a flag the command does not accept is replaced by the
 * catalogue's, so following a hint never leads to an "unknown option".
 */
import type { Command } from 'commander';
import { ERROR_CODES, MtlsError, type ErrorCode } from '../errors/index.js';
import { ENV, SECRETS, secretHint } from './shared-options.js';
import { secretOrigins } from './secrets.js';

/** Flag advice for one code, used when the command accepts every flag in `flags`. */
interface FlagAdvice {
  readonly code: ErrorCode;
  readonly flags: readonly string[];
  /** Appended to the library's hint (or replaces it with `replace`). */
  readonly text: string;
  readonly replace?: boolean;
}

/** In order of preference: the first entry whose flags the command has wins. */
export const FLAG_ADVICE: readonly FlagAdvice[] = [
  {
    code: 'MTLS_CA_NOT_FOUND',
    flags: ['--ca-dir'],
    text: `Give the CA directory with --ca-dir DIR (or set ${ENV.caDir}); create one with \`mtls ca init DIR\` or adopt one with \`mtls ca adopt DIR\`.`,
  },
  {
    code: 'MTLS_CA_NOT_FOUND',
    flags: ['--config'],
    text: 'Give the openssl.cnf with --config FILE.',
  },
  {
    code: 'MTLS_CA_NOT_FOUND',
    flags: [],
    text: 'Create a CA with `mtls ca init DIR`, or adopt one with `mtls ca adopt DIR`.',
  },
  {
    code: 'MTLS_FILE_EXISTS',
    flags: ['--force'],
    text: 'Choose another output path, or pass --force to replace the file.',
    replace: true,
  },
  {
    code: 'MTLS_RENEW_PROFILE_UNKNOWN',
    flags: ['--profile'],
    text: 'Pass it with --profile NAME.',
  },
  {
    code: 'MTLS_PROFILE_UNKNOWN',
    flags: ['--profile'],
    text: 'Pick one with --profile NAME (`mtls ca show` lists them).',
  },
  { code: 'MTLS_KEY_UNSUPPORTED', flags: ['--key-type'], text: 'Pass it with --key-type TYPE.' },
  { code: 'MTLS_VALIDITY_BEYOND_CA', flags: ['--days'], text: 'Lower --days.' },
  {
    code: 'MTLS_SAN_REQUIRED',
    flags: ['--san'],
    text: 'Pass them with --san DNS:api.example,IP:203.0.113.7, or make the CSR with `mtls csr new --san …`.',
  },
  {
    code: 'MTLS_PATHLEN_EXCEEDED',
    flags: [],
    text: 'For a new intermediate: `mtls ca init DIR --intermediate --parent ROOTDIR`.',
  },
  {
    code: 'MTLS_TLS_SERVER_UNTRUSTED',
    flags: ['--ca-file'],
    text: 'Pass that CA with --ca-file FILE.',
  },
  // A missing secret: the flag and variable of each kind a command may read.
  ...(['pfxPassword', 'caPassphrase', 'keyPassphrase'] as const).map((kind): FlagAdvice => ({
    code: 'MTLS_PASSPHRASE_REQUIRED',
    flags: [SECRETS[kind].flag],
    text: secretHint(kind),
  })),
];

/** Long flags named in a text (`--key-passphrase-file`), without `=value`. */
export function flagsIn(text: string): string[] {
  return [...text.matchAll(/(?<![\w-])--[a-z][a-z0-9-]*/g)].map((m) => m[0]);
}

/** `mtls ca sign` for the `sign` command under `ca`. */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** The long flags a command accepts, its own and its ancestors' (`--help` and `--version` included). */
export function acceptedFlags(cmd: Command): Set<string> {
  const flags = new Set<string>(['--help']);
  for (let c: Command | null = cmd; c; c = c.parent) {
    for (const o of c.options) {
      if (!o.long) continue;
      flags.add(o.long);
      // `--no-ca` declared alone still lets `--ca` through only when both exist; name what is declared.
    }
    if (!c.parent) flags.add('--version');
  }
  return flags;
}

/** Advice for a wrong secret, from where the command read it. */
function badSecretAdvice(): string | undefined {
  const last = secretOrigins().at(-1);
  if (!last) return undefined;
  const { what } = SECRETS[last.kind];
  if (last.from === 'env')
    return `The ${what} came from the environment variable ${last.name}; check its value (it is used exactly as set).`;
  if (last.from === 'file')
    return `The ${what} came from ${last.name}; only its first line is read, so check that line.`;
  return `Type the ${what} again.`;
}

/**
 * The hint to print for `err` when `cmd` is running (or none known): the
 * library's hint with the command's flag advice, never naming a flag the
 * command lacks.
 */
export function cliHint(err: MtlsError, cmd: Command | undefined): string {
  let hint = err.hint;
  if (err.code === 'MTLS_BAD_PASSPHRASE')
    hint = `${ERROR_CODES.MTLS_BAD_PASSPHRASE.hint} ${badSecretAdvice() ?? ''}`.trim();
  if (!cmd) return hint;
  const accepted = acceptedFlags(cmd);
  // A hint that already names flags was written by the CLI for this very case
  // (a missing secret names the one flag it was reading): advice for the code
  // in general would only add flags that are beside the point.
  const advice =
    flagsIn(hint).length > 0
      ? undefined
      : FLAG_ADVICE.find(
          (a) =>
            a.code === err.code && a.flags.every((f) => accepted.has(f)) && !hint.includes(a.text),
        );
  if (advice) hint = advice.replace ? advice.text : `${hint} ${advice.text}`;
  if (flagsIn(hint).every((f) => accepted.has(f))) return hint;
  return `${ERROR_CODES[err.code].hint} Run \`${commandPath(cmd)} --help\` for its options.`;
}
