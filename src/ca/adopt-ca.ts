/**
 * `mtls ca adopt DIR`: takes over a CA built by hand with the guide's
 * commands. Reads its openssl.cnf (expanding `~`, which OpenSSL does not),
 * checks the database, serial and key, and reports what it found; with `fix`
 * it applies the safe repairs the guide's pitfalls call for.
 */
import { pathExists, readFileChecked, writeFileAtomic } from '../io/index.js';
import { fingerprintSha256 } from '../pki/certificate.js';
import { isEncryptedPrivateKey } from '../pki/keys.js';
import { readDatabase } from './ca-database.js';
import { loadCaKey, openCa, type OpenCa, type OpenCaOptions } from './open-ca.js';

/** Inputs for {@link adoptCa}. */
export interface AdoptCaOptions extends OpenCaOptions {
  dir: string;
  /** CA key passphrase: when given, the key is loaded and matched to the certificate. */
  passphrase?: string;
  /** Create a missing crlnumber and set `unique_subject = no` in index.txt.attr. */
  fix?: boolean;
}

/** Result of {@link adoptCa}. */
export interface AdoptCaResult {
  ca: OpenCa;
  subject: string;
  fingerprintSha256: string;
  profiles: string[];
  policy: string;
  certificates: { valid: number; revoked: number; expired: number };
  keyChecked: boolean;
  warnings: string[];
  /** Repairs applied (with `fix`) or recommended (without). */
  repairs: string[];
}

/**
 * Adopts a hand-built CA.
 * @throws MTLS_CA_NOT_FOUND, MTLS_CONFIG_INVALID, MTLS_CONFIG_UNSUPPORTED (naming file:line),
 *   MTLS_CA_CORRUPT, MTLS_BAD_PASSPHRASE, MTLS_KEY_MISMATCH
 */
export async function adoptCa(options: AdoptCaOptions): Promise<AdoptCaResult> {
  // An unsupported directive anywhere is an error naming file:line (issue 2 §4).
  const ca = await openCa(options.dir, { ...options, badProfiles: 'error' });
  const cfg = ca.config;
  const warnings = [...cfg.warnings];
  const repairs: string[] = [];
  const entries = await readDatabase(cfg);
  let keyChecked = false;
  const keyData = await readFileChecked(cfg.privateKey, 'CA private key');
  if (options.passphrase !== undefined || !isEncryptedPrivateKey(keyData)) {
    await loadCaKey(ca, options.passphrase, keyData);
    keyChecked = true;
  } else {
    warnings.push('the CA key is encrypted and no passphrase was given: the key was not checked against the certificate');
  }
  if (!(await pathExists(cfg.serialFile))) {
    repairs.push(`create ${cfg.serialFile} (1000), which openssl ca needs`);
    if (options.fix) await writeFileAtomic(cfg.serialFile, '1000\n');
  }
  if (!cfg.crlNumberFile) {
    warnings.push(`${cfg.configPath} sets no crlnumber: CRLs from openssl ca -gencrl carry no CRL number (add crlnumber = $dir/crlnumber)`);
  } else if (!(await pathExists(cfg.crlNumberFile))) {
    repairs.push(`create ${cfg.crlNumberFile} (1000): openssl ca -gencrl fails without it`);
    if (options.fix) await writeFileAtomic(cfg.crlNumberFile, '1000\n');
  }
  if (cfg.uniqueSubject) {
    const attr = `${cfg.database}.attr`;
    repairs.push(`set unique_subject = no in ${attr}: renewing a certificate with the same subject otherwise fails (TXT_DB error number 2)`);
    if (options.fix) await writeFileAtomic(attr, 'unique_subject = no\n', { force: true });
  }
  const now = new Date();
  return {
    ca,
    subject: ca.certificate.subject,
    fingerprintSha256: fingerprintSha256(ca.certificate),
    profiles: Object.keys(cfg.profiles),
    policy: cfg.policy,
    certificates: {
      valid: entries.filter((e) => e.status === 'V' && e.expiry > now).length,
      revoked: entries.filter((e) => e.status === 'R').length,
      expired: entries.filter((e) => e.status === 'E' || (e.status === 'V' && e.expiry <= now)).length,
    },
    keyChecked,
    warnings,
    repairs,
  };
}

