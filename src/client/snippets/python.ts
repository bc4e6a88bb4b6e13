/**
 * A Python 3 script: ssl.SSLContext(PROTOCOL_TLS_CLIENT) with
 * load_cert_chain and minimum_version = maximum_version = TLSv1_2, and
 * urllib.request (standard library only). Python's ssl module reads PEM
 * only, so a `.pfx` is converted to PEM first.
 */
import { DEFAULT_KEY_PASSPHRASE_ENV, banner, normaliseRequest, pemFromPfxPaths, pfxToPemCommands, quote, type SnippetOptions, type SnippetResult } from './common.js';

/** Generates the Python snippet. */
export function pythonSnippet(options: SnippetOptions): SnippetResult {
  const r = normaliseRequest(options);
  const c = r.credentials;
  const notes: string[] = [];
  const doc = [`"""${banner('python', r.url)}.`, '', 'Python 3.7 or later. TLS 1.2 only (minimum_version = maximum_version = TLSv1_2), as the provider requires.'];
  let chain = '';
  if (c.kind === 'pfx') {
    const pem = pemFromPfxPaths(c.pfxPath);
    const env = options.keyPassphraseEnv ?? DEFAULT_KEY_PASSPHRASE_ENV;
    doc.push(
      '',
      "Python's ssl module cannot read a .pfx; make PEM files from it once:",
      ...pfxToPemCommands(c.pfxPath).map((l) => `    ${l}`),
      `The key's pass phrase is then read from the environment variable ${env}.`,
    );
    notes.push(`Python's ssl module reads PEM only: the script uses ${pem.certPath} and ${pem.keyPath}, made from the .pfx with openssl (commands in the script).`);
    chain = `context.load_cert_chain(certfile=${quote(pem.certPath)}, keyfile=${quote(pem.keyPath)}, password=os.environ.get(${quote(env)}))`;
  } else if (c.kind === 'pem') {
    if (c.passphraseEnv) doc.push(`The key's passphrase is read from the environment variable ${c.passphraseEnv}.`);
    chain = `context.load_cert_chain(certfile=${quote(c.certPath)}, keyfile=${quote(c.keyPath)}${c.passphraseEnv ? `, password=os.environ.get(${quote(c.passphraseEnv)})` : ''})`;
  }
  doc.push('"""');
  const headers = r.headers.map(([k, v]) => `    ${quote(k)}: ${quote(v)},`);
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
    r.caPath ? `context.load_verify_locations(cafile=${quote(r.caPath)})` : 'context.load_default_certs()',
    ...(chain ? [chain] : []),
    '',
    'headers = {',
    ...headers,
    '}',
    `body = ${r.body !== undefined ? `${quote(r.body)}.encode("utf-8")` : 'None'}`,
    `request = urllib.request.Request(${quote(r.url)}, data=body, headers=headers, method=${quote(r.method)})`,
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
