/**
 * Shared CLI plumbing for commands that use a CA: open it, and get its key
 * (prompting for the passphrase only when the key is encrypted).
 */
import type { KeyObject } from 'node:crypto';
import { Option } from 'commander';
import type { OpenCa } from '../ca/index.js';
import { readFileChecked } from '../io/index.js';
import { isEncryptedPrivateKey } from '../pki/keys.js';
import { deprecatedAlias } from './deprecated.js';
import { ENV } from './shared-options.js';
import { readSecret } from './secrets.js';

/** `--ca-dir DIR` default: MTLS_CA_DIR, else the current directory. */
export const defaultCaDir = (): string => process.env[ENV.caDir] ?? '.';

/**
 * `--ca-dir DIR`: a CA directory. Stored under `ca` so that the old spelling
 * `--ca DIR` (kept as a hidden, deprecated alias) and `--no-ca` share it.
 */
export function caDirOption(
  description = `CA directory (default: $${ENV.caDir} or the current directory)`,
): Option {
  const opt = new Option('--ca-dir <dir>', description);
  opt.attributeName = (): string => 'ca';
  return opt;
}

/** The deprecated `--ca DIR` spelling of {@link caDirOption}. */
export const caDirAlias = (): Option => deprecatedAlias('--ca <dir>', '--ca-dir', 'ca');

/** Opens the CA named by `--ca-dir`. */
export async function openCaFromCli(dir: string | undefined): Promise<OpenCa> {
  // Loaded here, not at the top: the options above are built for `--help`
  // too, which has no use for the CA library and its x509 dependency.
  const { openCa } = await import('../ca/index.js');
  return openCa(dir ?? defaultCaDir());
}

/** Loads the CA key, asking for its passphrase (file, MTLS_CA_PASSPHRASE, prompt) only if encrypted. */
export async function caKeyFromCli(
  ca: OpenCa,
  passphraseFile: string | undefined,
): Promise<KeyObject> {
  const { loadCaKey } = await import('../ca/index.js');
  const data = await readFileChecked(ca.config.privateKey, 'CA private key');
  if (!isEncryptedPrivateKey(data)) return loadCaKey(ca, undefined, data);
  const passphrase = await readSecret({
    kind: 'caPassphrase',
    file: passphraseFile,
    prompt: 'CA key passphrase: ',
  });
  return loadCaKey(ca, passphrase, data);
}
