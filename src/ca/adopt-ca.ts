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
import { readOpenSslConfig } from './openssl-cnf.js';
import { CRL_EXTENSIONS_PROFILE, encodeCnfValue, renderExtensionSection } from './render-cnf.js';

/** Inputs for {@link adoptCa}. */
export interface AdoptCaOptions extends OpenCaOptions {
  dir: string;
  /** CA key passphrase: when given, the key is loaded and matched to the certificate. */
  passphrase?: string;
  /**
   * Apply the safe repairs: create a missing serial and crlnumber, set
   * `unique_subject = no` in index.txt.attr, add the `[crl_ext]` section the
   * guide names but never defines, and write a `~` dir as the absolute path.
   */
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
  // An unsupported directive anywhere is an error naming file:line, so nothing is silently ignored.
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
    warnings.push(
      'the CA key is encrypted and no passphrase was given: the key was not checked against the certificate',
    );
  }
  if (!(await pathExists(cfg.serialFile))) {
    repairs.push(`create ${cfg.serialFile} (1000), which openssl ca needs`);
    if (options.fix) await writeFileAtomic(cfg.serialFile, '1000\n');
  }
  if (!cfg.crlNumberFile) {
    warnings.push(
      `${cfg.configPath} sets no crlnumber: CRLs from openssl ca -gencrl carry no CRL number (add crlnumber = $dir/crlnumber)`,
    );
  } else if (!(await pathExists(cfg.crlNumberFile))) {
    repairs.push(`create ${cfg.crlNumberFile} (1000): openssl ca -gencrl fails without it`);
    if (options.fix) await writeFileAtomic(cfg.crlNumberFile, '1000\n');
  }
  if (cfg.uniqueSubject) {
    const attr = `${cfg.database}.attr`;
    repairs.push(
      `set unique_subject = no in ${attr}: renewing a certificate with the same subject otherwise fails (TXT_DB error number 2)`,
    );
    if (options.fix) await writeFileAtomic(attr, 'unique_subject = no\n', { force: true });
  }
  const edits = await configRepairs(ca);
  repairs.push(...edits.descriptions);
  let adopted = ca;
  if (options.fix && edits.text !== undefined) {
    await writeFileAtomic(cfg.configPath, edits.text, {
      force: true,
      keepBackupAs: `${cfg.configPath}.old`,
    });
    adopted = await openCa(options.dir, { ...options, badProfiles: 'error' });
  }
  const now = new Date();
  return {
    ca: adopted,
    subject: ca.certificate.subject,
    fingerprintSha256: fingerprintSha256(ca.certificate),
    profiles: Object.keys(adopted.config.profiles),
    policy: cfg.policy,
    certificates: {
      valid: entries.filter((e) => e.status === 'V' && e.expiry > now).length,
      revoked: entries.filter((e) => e.status === 'R').length,
      expired: entries.filter((e) => e.status === 'E' || (e.status === 'V' && e.expiry <= now))
        .length,
    },
    keyChecked,
    warnings,
    repairs,
  };
}

/**
 * The repairs of openssl.cnf itself, as the new file text (undefined when
 * none is needed): the guide's `crl_extensions = crl_ext` names a section it
 * never defines, so `openssl ca -gencrl` fails until `[ crl_ext ]` exists
 * (written with authorityKeyIdentifier, which RFC 5280 §5.2.1 requires in
 * CRLs); and `dir = ~/myCA` means nothing to OpenSSL, which never expands `~`.
 * Only lines of the main file are touched; the old file is kept as `.old`.
 */
async function configRepairs(ca: OpenCa): Promise<{ text?: string; descriptions: string[] }> {
  const cfg = ca.config;
  const parsed = readOpenSslConfig(cfg.configPath);
  const descriptions: string[] = [];
  const lines = (await readFileChecked(cfg.configPath, 'openssl.cnf')).toString('utf8').split('\n');
  let changed = false;
  const dirEntry = parsed.get(cfg.caSection, 'dir');
  if (
    dirEntry &&
    dirEntry.file === parsed.path &&
    dirEntry.value.trim().startsWith('~') &&
    lines[dirEntry.line - 1] !== undefined
  ) {
    descriptions.push(
      `write dir = ${cfg.dir} in ${cfg.configPath}:${dirEntry.line}: OpenSSL does not expand "~"`,
    );
    lines[dirEntry.line - 1] = `dir = ${encodeCnfValue(cfg.dir)}`;
    changed = true;
  }
  const crlExt = parsed.lookup(cfg.caSection, 'crl_extensions');
  if (crlExt && !parsed.section(crlExt.value)) {
    descriptions.push(
      `add the [ ${crlExt.value} ] section (authorityKeyIdentifier = keyid:always) to ${cfg.configPath}: openssl ca -gencrl fails without it`,
    );
    if (lines.length && lines[lines.length - 1] !== '') lines.push('');
    lines.push(
      ...renderExtensionSection({ ...CRL_EXTENSIONS_PROFILE, name: crlExt.value }).split('\n'),
    );
    changed = true;
  }
  return changed ? { text: lines.join('\n'), descriptions } : { descriptions };
}
