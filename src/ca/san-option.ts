/**
 * Parses a subjectAltName given on the command line (`DNS:a.example,IP:10.0.0.1`)
 * with the same x509v3_config(5) reader that reads openssl.cnf, so both
 * accept exactly the same syntax.
 */
import type { GeneralNameSpec } from '../pki/profile.js';
import { parseOpenSslConfig } from './openssl-cnf.js';
import { parseExtensionSection } from './x509v3-config.js';
import { encodeCnfValue } from './render-cnf.js';

/**
 * Parses `DNS:…,IP:…,email:…,URI:…` into GeneralNames.
 * @throws MTLS_CONFIG_INVALID naming the bad item
 */
export function parseSanOption(text: string, source = '--san'): GeneralNameSpec[] {
  const cfg = parseOpenSslConfig(`subjectAltName = ${encodeCnfValue(text)}\n`, { path: source });
  return parseExtensionSection(cfg, 'default').subjectAltName?.value ?? [];
}
