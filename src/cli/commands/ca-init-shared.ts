/**
 * What `ca init` does the same way for a root and for an intermediate: the
 * new CA key's passphrase and the settings passed through to the library,
 * and the line that says how the key was stored.
 */
import type { InitCaResult } from '../../ca/init-ca.js';
import { style } from '../output.js';
import { CA_PASSPHRASE_MIN, readSecret } from '../secrets.js';

/** The `ca init` options both kinds of CA read. */
export interface NewCaCliOptions {
  days?: number;
  crlUrl?: string;
  passphraseFile?: string;
  /** False with `--no-passphrase` (checked together with `--insecure` before this runs). */
  passphrase: boolean;
}

/** The library settings of a new CA: validity, CRL URL, and the key's passphrase (asked for when none is given). */
export async function newCaSettings(
  o: NewCaCliOptions,
  prompt: string,
): Promise<{ days?: number; crlUrl?: string } & ({ noPassphrase: true } | { passphrase: string })> {
  const passphrase = o.passphrase
    ? await readSecret({
        kind: 'caPassphrase',
        file: o.passphraseFile,
        prompt,
        confirm: true,
        minLength: CA_PASSPHRASE_MIN,
      })
    : undefined;
  return {
    ...(o.days ? { days: o.days } : {}),
    ...(o.crlUrl ? { crlUrl: o.crlUrl } : {}),
    ...(passphrase === undefined ? { noPassphrase: true } : { passphrase }),
  };
}

/** `  key          ec-p256, encrypted (…) → DIR/private/ca.key.pem`. */
export function keyLine(r: InitCaResult): string {
  const how = r.keyEncrypted
    ? 'encrypted (AES-256-CBC, PBKDF2-HMAC-SHA256 600000)'
    : style('yellow', 'NOT encrypted');
  return `  key          ${r.key}, ${how} → ${r.layout.caKey}`;
}
