/**
 * Shared CLI plumbing for commands that use a CA: open it, and get its key
 * (prompting for the passphrase only when the key is encrypted).
 */
import type { KeyObject } from 'node:crypto';
import { loadCaKey, openCa, type OpenCa } from '../ca/index.js';
import { readFileChecked } from '../io/index.js';
import { isEncryptedPrivateKey } from '../pki/keys.js';
import { readSecret } from './secrets.js';

/** `--ca DIR` default: MTLS_CA_DIR, else the current directory. */
export const defaultCaDir = (): string => process.env.MTLS_CA_DIR ?? '.';

/** Opens the CA named by `--ca`. */
export function openCaFromCli(dir: string | undefined): Promise<OpenCa> {
  return openCa(dir ?? defaultCaDir());
}

/** Loads the CA key, asking for its passphrase (file, MTLS_CA_PASSPHRASE, prompt) only if encrypted. */
export async function caKeyFromCli(ca: OpenCa, passphraseFile: string | undefined): Promise<KeyObject> {
  const data = await readFileChecked(ca.config.privateKey, 'CA private key');
  if (!isEncryptedPrivateKey(data)) return loadCaKey(ca, undefined, data);
  const passphrase = await readSecret({ file: passphraseFile, envVar: 'MTLS_CA_PASSPHRASE', prompt: 'CA key passphrase: ', what: 'CA passphrase' });
  return loadCaKey(ca, passphrase, data);
}
