/**
 * The environment variables and secret flags of the CLI, declared once.
 * Every command, hint and help text takes its names from here.
 */

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
