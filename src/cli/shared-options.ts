/**
 * The CLI's shared options and environment variables, declared once: the
 * secret-file flags and the variables behind them, `--force`, `--json` and
 * `--iterations` (`--ca-dir` is in `ca-context.ts`, next to the CA it
 * opens). Every command, hint and help text takes its names and wording
 * from here.
 */
import { Option } from 'commander';
import { MtlsError } from '../errors/index.js';

/** The registry the `gateway` management commands use without `--registry` or its variable. */
export const DEFAULT_REGISTRY = './mtls-registry.db';

/** Environment variable names, one per setting. */
export const ENV = {
  /** Default CA directory for `--ca-dir`. */
  caDir: 'MTLS_CA_DIR',
  /** The CA key passphrase (`--passphrase-file`). */
  caPassphrase: 'MTLS_CA_PASSPHRASE',
  /** The parent CA's key passphrase when making an intermediate. */
  parentCaPassphrase: 'MTLS_PARENT_CA_PASSPHRASE',
  /** Any other private key's passphrase (`--key-passphrase-file`). */
  keyPassphrase: 'MTLS_KEY_PASSPHRASE',
  /** A .pfx password (`--password-file`). */
  pfxPassword: 'MTLS_PFX_PASSWORD',
  /** The new password of `pfx convert` (`--new-password-file`). */
  pfxNewPassword: 'MTLS_PFX_NEW_PASSWORD',
  /** The gateway registry, for `gateway start` and the management commands. */
  registry: 'MTLS_REGISTRY',
  /** The admin API URL the management commands talk to. */
  adminUrl: 'MTLS_ADMIN_URL',
  /** The admin bearer token file, for the admin API server and its clients. */
  adminTokenFile: 'MTLS_ADMIN_TOKEN_FILE',
} as const;

/** The kinds of secret the CLI reads, each with its one flag and one variable. */
export const SECRETS = {
  caPassphrase: { flag: '--passphrase-file', env: ENV.caPassphrase, what: 'CA passphrase' },
  parentCaPassphrase: {
    flag: '--parent-passphrase-file',
    env: ENV.parentCaPassphrase,
    what: 'parent CA passphrase',
  },
  keyPassphrase: { flag: '--key-passphrase-file', env: ENV.keyPassphrase, what: 'key passphrase' },
  pfxPassword: { flag: '--password-file', env: ENV.pfxPassword, what: '.pfx password' },
  pfxNewPassword: {
    flag: '--new-password-file',
    env: ENV.pfxNewPassword,
    what: 'new .pfx password',
  },
} as const;

/** A kind of secret. */
export type SecretKind = keyof typeof SECRETS;

/** Every variable name the CLI reads (for checks that hints name real ones). */
export const ALL_ENV_NAMES: readonly string[] = Object.values(ENV);

/** How {@link secretFileOption} words an option's help. */
export interface SecretOptionText {
  /** What the file holds (default: the kind's own name, e.g. ".pfx password"). */
  what?: string;
  /** Where the secret comes from without the flag (default: the kind's variable, else a prompt). */
  otherwise?: string;
}

/**
 * The file flag of a kind of secret (`--password-file <file>`), with help
 * naming its variable: "file holding the .pfx password, - for stdin (else
 * $MTLS_PFX_PASSWORD, else a prompt)". `readSecret` reads what it names.
 */
export function secretFileOption(kind: SecretKind, text: SecretOptionText = {}): Option {
  const { flag, env, what } = SECRETS[kind];
  const otherwise = text.otherwise ?? `$${env}, else a prompt`;
  return new Option(
    `${flag} <file>`,
    `file holding the ${text.what ?? what}, - for stdin (else ${otherwise})`,
  );
}

/** The hint for a missing secret: "Pass --password-file FILE or set MTLS_PFX_PASSWORD." */
export function secretHint(kind: SecretKind, withEnv = true): string {
  const { flag, env } = SECRETS[kind];
  return `Pass ${flag} FILE${withEnv ? ` or set ${env}` : ''}.`;
}

/**
 * `--force`: an existing output file is replaced (never without it).
 * @param target what gets replaced, e.g. `--out` or `existing files`
 */
export const forceOption = (target: string): Option =>
  new Option('--force', `replace ${target} if it exists`);

/**
 * `--json`: the command's result as one JSON document on stdout.
 * @param what what the document holds (default "the result")
 */
export const jsonOption = (what = 'the result'): Option =>
  new Option('--json', `print ${what} as JSON`);

/**
 * Parses `--iterations N`: a positive whole number.
 * @throws MTLS_BAD_ARGUMENT naming the flag and the value
 */
export function parseIterations(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `--iterations must be a positive integer, got "${value}"`,
      { subject: '--iterations' },
    );
  }
  return n;
}

/** `--iterations N`: PBKDF2 / PKCS#12 KDF and MAC iterations, with the defaults they replace. */
export const iterationsOption = (defaults: string): Option =>
  new Option('--iterations <n>', `encryption and MAC iterations (default ${defaults})`).argParser(
    parseIterations,
  );
