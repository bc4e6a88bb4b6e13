/**
 * Opens a CA directory: reads its openssl.cnf, its certificate, and (when
 * signing) its private key.
 */
import type { KeyObject } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import type * as x509 from '@peculiar/x509';
import { MtlsError } from '../errors/index.js';
import { pathExists, readFileChecked } from '../io/index.js';
import { certificatePublicKey, parseCertificate } from '../pki/certificate.js';
import { keysMatch, loadPrivateKey } from '../pki/keys.js';
import { PROFILE_ALIASES, type ExtensionProfile } from '../pki/profile.js';
import { loadCaConfig, type CaConfigResult } from './ca-config.js';

/** An opened CA. */
export interface OpenCa {
  config: CaConfigResult;
  certificate: x509.X509Certificate;
  certificatePem: string;
  /** The lock file serialising writers of this CA's database. */
  lockPath: string;
}

/** Options for {@link openCa}. */
export interface OpenCaOptions {
  /** openssl.cnf path (default DIR/openssl.cnf). */
  configPath?: string;
  env?: NodeJS.ProcessEnv;
  homeDir?: string;
  /** Unreadable extension sections: `skip` (default; an error only when used) or `error`. */
  badProfiles?: 'error' | 'skip';
}

/**
 * Opens the CA in `dir`.
 * @throws MTLS_CA_NOT_FOUND when DIR or its openssl.cnf is missing
 * @throws MTLS_CONFIG_INVALID / MTLS_CONFIG_UNSUPPORTED from the config reader
 */
export async function openCa(dir: string, options: OpenCaOptions = {}): Promise<OpenCa> {
  const abs = resolve(dir);
  if (!(await pathExists(abs))) {
    throw new MtlsError('MTLS_CA_NOT_FOUND', `no CA directory at ${abs}`, { subject: abs });
  }
  const config = await loadCaConfig(abs, { badProfiles: 'skip', ...options });
  let certificatePem: string;
  try {
    certificatePem = (await readFileChecked(config.certificate, 'CA certificate')).toString('utf8');
  } catch (e) {
    throw new MtlsError(
      'MTLS_CA_NOT_FOUND',
      `the CA certificate ${config.certificate} (certificate = … in ${config.configPath}) cannot be read`,
      {
        subject: config.certificate,
        cause: e,
      },
    );
  }
  const certificate = parseCertificate(certificatePem, config.certificate);
  return {
    config,
    certificate,
    certificatePem,
    lockPath: join(dirname(config.database), '.mtls.lock'),
  };
}

/**
 * Loads the CA's private key.
 * @param data - the key file's bytes, when the caller already read them
 * @throws MTLS_PASSPHRASE_REQUIRED / MTLS_BAD_PASSPHRASE / MTLS_FILE_NOT_FOUND / MTLS_KEY_MISMATCH
 */
export async function loadCaKey(
  ca: OpenCa,
  passphrase?: string,
  data?: Uint8Array,
): Promise<KeyObject> {
  const key = loadPrivateKey(
    data ?? (await readFileChecked(ca.config.privateKey, 'CA private key')),
    passphrase,
    ca.config.privateKey,
  );
  // As `openssl ca` does: never sign with a key the CA certificate does not certify.
  if (!keysMatch(key, certificatePublicKey(ca.certificate))) {
    throw new MtlsError(
      'MTLS_KEY_MISMATCH',
      `the CA key ${ca.config.privateKey} does not belong to the CA certificate ${ca.config.certificate}`,
      {
        subject: ca.config.privateKey,
        hint: 'Point private_key and certificate in openssl.cnf at the pair made together.',
      },
    );
  }
  return key;
}

/**
 * Finds a signing profile by name or alias (`client` → client_cert,
 * `server` → server_cert, `ca` → v3_ca).
 * @throws MTLS_PROFILE_UNKNOWN listing the available profiles
 */
export function findProfile(ca: OpenCa, name: string): ExtensionProfile {
  const p = ca.config.profiles[name] ?? ca.config.profiles[PROFILE_ALIASES[name] ?? ''];
  if (p) return p;
  const skipped = ca.config.skippedProfiles.find(
    (s) => s.name === name || s.name === PROFILE_ALIASES[name],
  );
  if (skipped) throw skipped.error;
  throw new MtlsError('MTLS_PROFILE_UNKNOWN', `no profile "${name}" in ${ca.config.configPath}`, {
    subject: name,
    hint: `Available profiles: ${Object.keys(ca.config.profiles).join(', ')}.`,
  });
}
