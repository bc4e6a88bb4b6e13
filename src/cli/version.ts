/**
 * `mtls --version`: mtlskit's version from its package.json, and the Node and
 * OpenSSL versions it runs on (the TLS and crypto behaviour depends on both).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../io/package-root.js';

/** The `version` field of mtlskit's package.json. */
export function packageVersion(): string {
  const text = readFileSync(join(packageRoot(), 'package.json'), 'utf8');
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed === 'object' && parsed !== null && 'version' in parsed) {
    const { version } = parsed;
    if (typeof version === 'string') return version;
  }
  return 'unknown';
}

/** The three lines `mtls --version` prints. */
export function versionText(): string {
  return [
    `mtlskit ${packageVersion()}`,
    `node ${process.versions.node}`,
    `openssl ${process.versions.openssl}`,
  ].join('\n');
}
