/**
 * The one way the CLI shows distinguished names and CRL numbers to people,
 * whichever library call produced them.
 */
import { isMtlsError } from '../errors/index.js';
import { formatDn, parseOneline } from '../pki/names.js';

/**
 * A DN in OpenSSL's oneline form (`/C=BR/ST=S\xC3\xA3o Paulo/CN=x`, as the CA
 * database stores it) shown as `C=BR, ST=São Paulo, CN=x`. A name the parser
 * cannot read is shown as stored rather than hidden.
 */
export function dnFromOneline(oneline: string): string {
  try {
    return formatDn(parseOneline(oneline));
  } catch (e) {
    if (isMtlsError(e)) return oneline;
    throw e;
  }
}

/**
 * A DN as a CA call returns it, shown the one way: the oneline form of the CA
 * database (`/C=BR/…`) is converted; a name already in display form
 * (`C=BR, O=Acme, CN=x`, from the certificate) is kept.
 */
export function dnText(name: string): string {
  return name.startsWith('/') ? dnFromOneline(name) : name;
}

/**
 * A CRL number as `openssl crl -noout -crlnumber` prints it: `0x` and
 * upper-case hex (crlNumber 4097 is `0x1001`).
 * @param n - the number, or its hex digits as the CA status report gives them
 */
export function crlNumberText(n: bigint | string): string {
  const hex = typeof n === 'bigint' ? n.toString(16) : n;
  return `0x${hex.toUpperCase()}`;
}
