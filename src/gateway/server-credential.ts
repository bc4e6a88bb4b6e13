/**
 * The gateway's own TLS credentials: its server credential (a PEM
 * certificate chain and private key, or a PKCS#12 .pfx file) and, for an
 * https: upstream that asks for one, the client certificate it presents
 * there. Loaded at start and again on SIGHUP; a credential that does not load
 * keeps the previous one in service.
 */
import { constants as fsConstants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { MtlsError } from '../errors/index.js';
import { readFileChecked } from '../io/index.js';
import { assertKeyStrength, isEncryptedPrivateKey } from '../pki/keys.js';
import { loadClientCredentials, type ClientCredentials } from '../tls/credentials.js';
import { errorCode, errorMessage, systemErrorText } from '../errors/mtls-error.js';
import { KEY_PASSPHRASE_ENV, PFX_PASSWORD_ENV } from './config.js';

/** Which of the gateway's credentials is loaded: it names the files and the passphrase's sources in errors. */
export interface CredentialRole {
  /** `server` or `upstream client`: "the server certificate in …". */
  name: string;
  /** The environment variable holding the key passphrase when no file is given. */
  passphraseEnv: string;
  /** The configuration key (and flag) of the passphrase file, for the hint. */
  passphraseKey: string;
  /** What the certificate is for: its extended key usage, when it has one, must allow it. */
  purpose: 'serverAuth' | 'clientAuth';
}

const SERVER_ROLE: CredentialRole = {
  name: 'server',
  passphraseEnv: KEY_PASSPHRASE_ENV,
  passphraseKey: 'tls.keyPassphraseFile (flag --key-passphrase-file)',
  purpose: 'serverAuth',
};

/** RFC 5280 §4.2.1.12 key purposes. */
const PURPOSE_OIDS = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;
const ANY_EXTENDED_KEY_USAGE = '2.5.29.37.0';
/** Names of the key purposes a certificate may carry instead (RFC 5280 §4.2.1.12). */
const PURPOSE_NAMES: Readonly<Record<string, string>> = {
  '1.3.6.1.5.5.7.3.1': 'serverAuth',
  '1.3.6.1.5.5.7.3.2': 'clientAuth',
  '1.3.6.1.5.5.7.3.3': 'codeSigning',
  '1.3.6.1.5.5.7.3.4': 'emailProtection',
  '1.3.6.1.5.5.7.3.8': 'timeStamping',
  '1.3.6.1.5.5.7.3.9': 'OCSPSigning',
};

/** Where the credential comes from (the `tls` section of the configuration). */
export interface ServerCredentialSource {
  cert: string | null;
  key: string | null;
  keyPassphraseFile: string | null;
  pfx: string | null;
  pfxPasswordFile: string | null;
}

/** A loaded server credential. */
export interface ServerCredential {
  /** Unencrypted PKCS#8 PEM, held in memory only. */
  keyPem: string;
  /** Leaf first, then intermediates (self-signed roots left out, RFC 5246 §7.4.2). */
  certPem: string;
  /** RFC 2253-style subject of the leaf, as Node prints it (for logs). */
  subject: string;
  notAfter: Date;
  /** Lower-case hex SHA-256 of the leaf. */
  fingerprint: string;
  /** The file(s) it came from. */
  source: string;
  /**
   * Problems that do not stop the gateway, for the log and `--check`: a key
   * file that others than its owner may read (OpenSSH and PostgreSQL refuse
   * such a file; the gateway says so and how to fix it), and a certificate
   * that expires within {@link EXPIRY_WARNING_DAYS} days.
   */
  warnings: string[];
}

/** A certificate of the gateway's own that expires within this many days draws a warning. */
export const EXPIRY_WARNING_DAYS = 14;

/**
 * A warning when a file holding a private key or another secret grants any
 * access to group or others (`mode & 0o077`), or null. A mode the process cannot read (the
 * file went away meanwhile) is left to the loader's own error.
 */
export async function keyFileModeWarning(path: string, what: string): Promise<string | null> {
  let mode: number;
  try {
    mode = (await stat(path)).mode & 0o777;
  } catch {
    return null;
  }
  if ((mode & 0o077) === 0) return null;
  return `${what} ${path} is accessible to group or others (mode 0${mode.toString(8)}); fix: chmod 600 ${path}`;
}

async function readFirstLine(path: string, what: string): Promise<string> {
  const text = (await readFileChecked(path, what)).toString('utf8');
  return text.split(/\r?\n/)[0] ?? '';
}

/** Fails with the server-side name of a missing file before the shared loader (which speaks of client files) runs. */
async function mustExist(path: string, what: string): Promise<void> {
  try {
    await access(path, fsConstants.R_OK);
  } catch (e) {
    const code = errorCode(e);
    if (code === 'ENOENT')
      throw new MtlsError('MTLS_FILE_NOT_FOUND', `${what} not found: ${path}`, { subject: path });
    throw new MtlsError('MTLS_FILE_READ', `cannot read ${what} ${path}: ${systemErrorText(e)}`, {
      subject: path,
    });
  }
}

/** A warning (in a list, for the credential's warnings) when `notAfter` is within {@link EXPIRY_WARNING_DAYS}. */
function expiryWarning(notAfter: Date, now: Date, what: string): string[] {
  const days = (notAfter.getTime() - now.getTime()) / 86_400_000;
  if (days >= EXPIRY_WARNING_DAYS) return [];
  return [
    `the ${what} expires on ${notAfter.toISOString()} (in ${Math.floor(days)} day${Math.floor(days) === 1 ? '' : 's'}); fix: renew it, then reload the gateway (SIGHUP)`,
  ];
}

function check(
  creds: ClientCredentials,
  source: string,
  now: Date,
  role: CredentialRole = SERVER_ROLE,
): ServerCredential {
  const leaf = creds.certificate;
  assertKeyStrength(creds.privateKey, `${role.name} key in ${source}`);
  const notAfter = new Date(leaf.validTo);
  const notBefore = new Date(leaf.validFrom);
  if (notAfter <= now || notBefore > now) {
    throw new MtlsError(
      'MTLS_VERIFY_FAILED',
      `the ${role.name} certificate in ${source} is not valid now (valid ${notBefore.toISOString()} to ${notAfter.toISOString()})`,
      {
        subject: source,
        hint: `Renew the ${role.name} certificate, then reload the gateway (SIGHUP) or start it again.`,
      },
    );
  }
  // A certificate with an extended key usage is for those purposes only
  // (RFC 5280 §4.2.1.12); OpenSSL, Java and browsers refuse it for another,
  // so every peer would fail: better said now than by each of them.
  // `keyUsage` is Node's name for the EKU OIDs; its typing leaves out that it
  // is undefined without the extension.
  const ekus = leaf.keyUsage as string[] | undefined;
  if (
    ekus &&
    !ekus.includes(PURPOSE_OIDS[role.purpose]) &&
    !ekus.includes(ANY_EXTENDED_KEY_USAGE)
  ) {
    throw new MtlsError(
      'MTLS_CONFIG_INVALID',
      `the ${role.name} certificate in ${source} is not for ${role.purpose}: its extended key usage allows only ${ekus.map((o) => PURPOSE_NAMES[o] ?? o).join(', ')}`,
      {
        subject: source,
        hint: `Issue the ${role.name} certificate with extendedKeyUsage = ${role.purpose} (or without the extension); ${role.purpose === 'serverAuth' ? 'a client certificate cannot serve as the server certificate' : 'a server certificate cannot serve as a client certificate'}.`,
      },
    );
  }
  try {
    createSecureContext({
      key: creds.keyPem,
      cert: creds.certPem,
      minVersion: 'TLSv1.2',
      maxVersion: 'TLSv1.2',
    });
  } catch (e) {
    throw new MtlsError(
      'MTLS_TLS_HANDSHAKE',
      `OpenSSL refuses the ${role.name} credential in ${source}: ${errorMessage(e)}`,
      { subject: source, cause: e },
    );
  }
  return {
    keyPem: creds.keyPem,
    certPem: creds.certPem,
    subject: leaf.subject.replace(/\n/g, ', '),
    notAfter,
    fingerprint: leaf.fingerprint256.replace(/:/g, '').toLowerCase(),
    source,
    warnings: expiryWarning(notAfter, now, `${role.name} certificate in ${source}`),
  };
}

/**
 * Loads and checks the server credential with the shared loader of
 * src/tls/credentials (every .pfx flavour, PEM bundles in any order, key
 * matched to the leaf), then: the key must be RSA-2048/P-256 or stronger, the
 * leaf valid now, and OpenSSL must accept the pair. Passphrases come from the
 * named file's first line, else the environment ({@link KEY_PASSPHRASE_ENV},
 * {@link PFX_PASSWORD_ENV}); a .pfx without either is tried with the empty password.
 * @throws MTLS_FILE_NOT_FOUND / MTLS_FILE_READ, MTLS_PEM_INVALID, MTLS_DER_INVALID,
 *   MTLS_PASSPHRASE_REQUIRED, MTLS_BAD_PASSPHRASE, MTLS_KEY_MISMATCH, MTLS_KEY_TOO_WEAK,
 *   MTLS_VERIFY_FAILED (not valid now), MTLS_TLS_HANDSHAKE (OpenSSL refuses it),
 *   MTLS_CONFIG_INVALID when neither a .pfx nor a certificate and key are configured
 */
export async function loadServerCredential(
  src: ServerCredentialSource,
  env: NodeJS.ProcessEnv = process.env,
  now = new Date(),
): Promise<ServerCredential> {
  if (src.pfx) {
    await mustExist(src.pfx, 'server .pfx');
    const password = src.pfxPasswordFile
      ? await readFirstLine(src.pfxPasswordFile, '.pfx password file')
      : (env[PFX_PASSWORD_ENV] ?? '');
    const cred = check(await loadClientCredentials({ pfxPath: src.pfx, password }), src.pfx, now);
    const modeWarning = await keyFileModeWarning(src.pfx, 'server .pfx (it holds the private key)');
    if (modeWarning) cred.warnings.push(modeWarning);
    return cred;
  }
  if (!src.cert || !src.key) {
    throw new MtlsError(
      'MTLS_CONFIG_INVALID',
      'no server credential: set tls.cert and tls.key, or tls.pfx',
      { subject: 'tls' },
    );
  }
  return loadPemCredential(
    { cert: src.cert, key: src.key, keyPassphraseFile: src.keyPassphraseFile },
    SERVER_ROLE,
    env,
    now,
  );
}

/**
 * Loads and checks a PEM certificate and private key for `role`, with the
 * same checks as {@link loadServerCredential}. The passphrase of an encrypted
 * key comes from `keyPassphraseFile`'s first line, else the role's
 * environment variable.
 * @throws as {@link loadServerCredential}
 */
export async function loadPemCredential(
  src: { cert: string; key: string; keyPassphraseFile: string | null },
  role: CredentialRole,
  env: NodeJS.ProcessEnv = process.env,
  now = new Date(),
): Promise<ServerCredential> {
  await mustExist(src.cert, `${role.name} certificate`);
  await mustExist(src.key, `${role.name} private key`);
  let keyPassphrase: string | undefined;
  if (isEncryptedPrivateKey(await readFileChecked(src.key, `${role.name} private key`))) {
    if (src.keyPassphraseFile)
      keyPassphrase = await readFirstLine(src.keyPassphraseFile, 'key passphrase file');
    else if (env[role.passphraseEnv] !== undefined) keyPassphrase = env[role.passphraseEnv];
    else {
      throw new MtlsError(
        'MTLS_PASSPHRASE_REQUIRED',
        `${role.name} private key ${src.key} is encrypted and no passphrase was given`,
        {
          subject: src.key,
          hint: `Set ${role.passphraseKey} or the environment variable ${role.passphraseEnv}.`,
        },
      );
    }
  }
  const creds = await loadClientCredentials({
    certPath: src.cert,
    keyPath: src.key,
    ...(keyPassphrase !== undefined ? { keyPassphrase } : {}),
  });
  const cred = check(creds, `${src.cert} + ${src.key}`, now, role);
  const modeWarning = await keyFileModeWarning(src.key, `${role.name} private key`);
  if (modeWarning) cred.warnings.push(modeWarning);
  return cred;
}
