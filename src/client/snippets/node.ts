/**
 * A Node.js ES module using node:https, with minVersion = maxVersion =
 * 'TLSv1.2'.
 */
import {
  banner,
  normaliseRequest,
  quote,
  rc2Note,
  type SnippetOptions,
  type SnippetResult,
} from './common.js';

/** Generates the Node.js snippet. */
export function nodeSnippet(options: SnippetOptions): SnippetResult {
  const r = normaliseRequest(options);
  const c = r.credentials;
  const notes: string[] = [];
  const head = [
    `// ${banner('node', r.url)}`,
    "// Node.js 18 or later. TLS 1.2 only (minVersion = maxVersion = 'TLSv1.2'), as the provider requires.",
  ];
  const setup: string[] = [];
  const tls: string[] = [];
  if (c.kind === 'pfx') {
    head.push(
      `// The .pfx password comes from the environment variable ${c.passwordEnv}; never write it into the code.`,
    );
    setup.push(
      `const password = process.env.${c.passwordEnv};`,
      `if (!password) {`,
      `  console.error('Set ${c.passwordEnv} to the .pfx password.');`,
      '  process.exit(2);',
      '}',
    );
    tls.push(`  pfx: readFileSync(${quote(c.pfxPath)}),`, '  passphrase: password,');
    notes.push(rc2Note('Node.js 17 and later'));
  } else if (c.kind === 'pem') {
    tls.push(
      `  cert: readFileSync(${quote(c.certPath)}),`,
      `  key: readFileSync(${quote(c.keyPath)}),`,
    );
    if (c.passphraseEnv) {
      head.push(`// The key's passphrase comes from the environment variable ${c.passphraseEnv}.`);
      tls.push(`  passphrase: process.env.${c.passphraseEnv},`);
    }
  }
  if (r.caPath) tls.push(`  ca: readFileSync(${quote(r.caPath)}),`);
  tls.push("  minVersion: 'TLSv1.2',", "  maxVersion: 'TLSv1.2',");
  const headers = r.headers.map(([k, v]) => `    [${quote(k)}]: ${quote(v)},`);
  if (r.body !== undefined) {
    setup.push(`const body = ${quote(r.body)};`);
    headers.push("    'Content-Length': Buffer.byteLength(body),");
  }
  const code = [
    ...head,
    "import { readFileSync } from 'node:fs';",
    "import https from 'node:https';",
    '',
    ...setup,
    '',
    `const request = https.request(${quote(r.url)}, {`,
    `  method: ${quote(r.method)},`,
    '  headers: {',
    ...headers,
    '  },',
    ...tls,
    '  timeout: 30000,',
    '}, (response) => {',
    '  const chunks = [];',
    "  response.on('data', (chunk) => chunks.push(chunk));",
    "  response.on('end', () => {",
    '    console.log(`HTTP status: ${response.statusCode}`);',
    "    console.log(Buffer.concat(chunks).toString('utf8'));",
    '    process.exitCode = response.statusCode >= 400 ? 1 : 0;',
    '  });',
    '});',
    "request.on('timeout', () => request.destroy(new Error('no answer within 30 s')));",
    "request.on('error', (error) => {",
    "  console.error(`mTLS call failed: ${error.code ?? ''} ${error.message}`);",
    '  process.exitCode = 1;',
    '});',
    r.body !== undefined ? 'request.end(body);' : 'request.end();',
    '',
  ].join('\n');
  return {
    lang: 'node',
    filename: 'mtls-call.mjs',
    code,
    run: c.kind === 'pfx' ? `${c.passwordEnv}=… node mtls-call.mjs` : 'node mtls-call.mjs',
    notes,
  };
}
