/**
 * A POSIX shell script around curl. TLS 1.2 is pinned with `--tlsv1.2
 * --tls-max 1.2`. Secrets go to curl through a config file on stdin
 * (`--config -`), never on its command line, where `ps` would show them.
 */
import {
  banner,
  normaliseRequest,
  rc2Note,
  shQuote,
  type SnippetOptions,
  type SnippetResult,
} from './common.js';

/** Escapes a value for a double-quoted curl config string (backslash and double quote). */
const CONFIG_ESCAPE = `sed 's/[\\\\"]/\\\\&/g'`;

/** Generates the curl script. */
export function curlSnippet(options: SnippetOptions): SnippetResult {
  const r = normaliseRequest(options);
  const lines: string[] = [
    '#!/bin/sh',
    `# ${banner('curl', r.url)}`,
    '# TLS 1.2 only (--tlsv1.2 --tls-max 1.2), as the provider requires.',
    '# Exits non-zero when the call fails, including an HTTP status >= 400 (--fail-with-body, which needs curl 7.76 or later).',
  ];
  const notes: string[] = [];
  const config: string[] = [];
  const args: string[] = [
    '--silent',
    '--show-error',
    '--fail-with-body',
    '--tlsv1.2',
    '--tls-max 1.2',
  ];
  const c = r.credentials;
  if (c.kind === 'pfx') {
    lines.push(
      `# The .pfx password is read from $${c.passwordEnv} and handed to curl on stdin, never on its command line.`,
    );
    // curl splits --cert at the first unescaped colon: escape colons in the path (\\: once the config escaping is undone).
    config.push(
      `printf 'cert = "%s:%s"\\n' "$(printf '%s' ${shQuote(c.pfxPath.replace(/:/g, '\\:'))} | ${CONFIG_ESCAPE})" "$(printf '%s' "$${c.passwordEnv}" | ${CONFIG_ESCAPE})"`,
    );
    args.push('--cert-type P12', '--config -');
    notes.push(rc2Note('curl built on OpenSSL 3'));
  } else if (c.kind === 'pem') {
    args.push(`--cert ${shQuote(c.certPath.replace(/:/g, '\\:'))}`, `--key ${shQuote(c.keyPath)}`);
    if (c.passphraseEnv) {
      lines.push(
        `# The key's passphrase is read from $${c.passphraseEnv} and handed to curl on stdin, never on its command line.`,
      );
      config.push(
        `printf 'pass = "%s"\\n' "$(printf '%s' "$${c.passphraseEnv}" | ${CONFIG_ESCAPE})"`,
      );
      args.push('--config -');
    }
  }
  if (r.caPath) args.push(`--cacert ${shQuote(r.caPath)}`);
  if (r.method !== (r.body !== undefined ? 'POST' : 'GET'))
    args.push(`--request ${shQuote(r.method)}`);
  for (const [k, v] of r.headers) args.push(`--header ${shQuote(`${k}: ${v}`)}`);
  if (r.body !== undefined) args.push(`--data-binary ${shQuote(r.body)}`);
  args.push(`--write-out '\\nHTTP status: %{http_code}\\n'`, shQuote(r.url));
  lines.push('set -eu');
  if (c.kind === 'pfx')
    lines.push(`: "\${${c.passwordEnv}:?set ${c.passwordEnv} to the .pfx password}"`);
  if (c.kind === 'pem' && c.passphraseEnv)
    lines.push(`: "\${${c.passphraseEnv}:?set ${c.passphraseEnv} to the key passphrase}"`);
  const curl = `curl ${args.join(' \\\n  ')}`;
  lines.push(config.length > 0 ? `{\n  ${config.join('\n  ')}\n} | ${curl}` : curl);
  return {
    lang: 'curl',
    filename: 'mtls-call.sh',
    code: `${lines.join('\n')}\n`,
    run: c.kind === 'pfx' ? `${c.passwordEnv}=… sh mtls-call.sh` : 'sh mtls-call.sh',
    notes,
  };
}
