/**
 * A Python 3 script: ssl.SSLContext(PROTOCOL_TLS_CLIENT) with
 * load_cert_chain and minimum_version = maximum_version = TLSv1_2, and
 * urllib.request (standard library only). Python's ssl module reads PEM
 * only, so a `.pfx` is converted to PEM first.
 */
import {
  banner,
  normaliseRequest,
  pemFromPfxPaths,
  pfxToPemCommands,
  quote,
  type SnippetOptions,
  type SnippetResult,
} from './common.js';

/** A Python string literal: characters outside the BMP as `\\U` escapes. */
const q = (s: string): string => quote(s, 'U8');

/** Generates the Python snippet. */
export function pythonSnippet(options: SnippetOptions): SnippetResult {
  const r = normaliseRequest(options);
  const c = r.credentials;
  const notes: string[] = [];
  const doc = [
    `r"""${banner('python', r.url)}.`,
    '',
    'Python 3.7 or later. TLS 1.2 only (minimum_version = maximum_version = TLSv1_2), as the provider requires.',
  ];
  let chain = '';
  if (c.kind === 'pfx') {
    const pem = pemFromPfxPaths(c.pfxPath);
    doc.push(
      '',
      "Python's ssl module cannot read a .pfx; make PEM files from it once:",
      ...pfxToPemCommands(c.pfxPath, { passwordEnv: c.passwordEnv }).map((l) => `    ${l}`),
      `Both encrypt the key with the .pfx password, which the script reads from the environment variable ${c.passwordEnv}.`,
    );
    notes.push(
      `Python's ssl module reads PEM only: the script uses ${pem.certPath} (the leaf, then its intermediates) and ${pem.keyPath}, made from the .pfx once (commands in the script).`,
    );
    chain = `context.load_cert_chain(certfile=${q(pem.certPath)}, keyfile=${q(pem.keyPath)}, password=os.environ.get(${q(c.passwordEnv)}))`;
  } else if (c.kind === 'pem') {
    doc.push(
      '',
      `${c.certPath} holds the client certificate first, then any intermediate CA certificates the server needs.`,
    );
    if (c.passphraseEnv)
      doc.push(`The key's passphrase is read from the environment variable ${c.passphraseEnv}.`);
    chain = `context.load_cert_chain(certfile=${q(c.certPath)}, keyfile=${q(c.keyPath)}${c.passphraseEnv ? `, password=os.environ.get(${q(c.passphraseEnv)})` : ''})`;
  }
  doc.push('"""');
  const headers = r.headers.map(([k, v]) => `    ${q(k)}: ${q(v)},`);
  const code = [
    '#!/usr/bin/env python3',
    ...doc,
    'import os',
    'import ssl',
    'import sys',
    'import urllib.error',
    'import urllib.request',
    '',
    '# PROTOCOL_TLS_CLIENT verifies the server certificate and host name.',
    'context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)',
    'context.minimum_version = ssl.TLSVersion.TLSv1_2',
    'context.maximum_version = ssl.TLSVersion.TLSv1_2',
    r.caPath
      ? `context.load_verify_locations(cafile=${q(r.caPath)})`
      : 'context.load_default_certs()',
    ...(chain ? [chain] : []),
    '',
    'headers = {',
    ...headers,
    '}',
    `body = ${r.body !== undefined ? `${q(r.body)}.encode("utf-8")` : 'None'}`,
    `request = urllib.request.Request(${q(r.url)}, data=body, headers=headers, method=${q(r.method)})`,
    'try:',
    '    with urllib.request.urlopen(request, context=context, timeout=30) as response:',
    '        print(f"HTTP status: {response.status}")',
    '        print(response.read().decode("utf-8", "replace"))',
    'except urllib.error.HTTPError as error:',
    '    print(f"HTTP status: {error.code}")',
    '    print(error.read().decode("utf-8", "replace"))',
    '    sys.exit(1)',
    'except (urllib.error.URLError, ssl.SSLError, OSError) as error:',
    '    print(f"mTLS call failed: {error}", file=sys.stderr)',
    '    sys.exit(1)',
    '',
  ].join('\n');
  return { lang: 'python', filename: 'mtls_call.py', code, run: 'python3 mtls_call.py', notes };
}
