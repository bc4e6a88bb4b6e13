/**
 * Step-by-step Postman settings for the same call: client certificate per
 * host, CA certificate, and TLS 1.2 as the only protocol left enabled.
 */
import { banner, normaliseRequest, type SnippetOptions, type SnippetResult } from './common.js';

/** Generates the Postman steps. */
export function postmanSnippet(options: SnippetOptions): SnippetResult {
  const r = normaliseRequest(options);
  const c = r.credentials;
  const url = new URL(r.url);
  const port = url.port || '443';
  const steps: string[] = [banner('postman', r.url), ''];
  steps.push('1. Client certificate');
  steps.push(
    '   Settings (gear icon) > Settings > Certificates > Client certificates > Add Certificate',
  );
  steps.push(`   Host: ${url.hostname}    Port: ${port}`);
  if (c.kind === 'pfx') {
    steps.push(`   PFX file: ${c.pfxPath}`);
    steps.push(
      '   Passphrase: type the .pfx password (Postman keeps it locally; never share it or put it in a collection)',
    );
  } else if (c.kind === 'pem') {
    steps.push(`   CRT file: ${c.certPath}`);
    steps.push(`   KEY file: ${c.keyPath}`);
    steps.push(
      c.passphraseEnv
        ? '   Passphrase: type the key passphrase'
        : '   Passphrase: leave empty (the key is not encrypted)',
    );
  } else {
    steps.push(
      '   (no client certificate was given to `mtls snippet`; add the .pfx or the CRT and KEY files here)',
    );
  }
  steps.push('');
  steps.push('2. Server trust');
  if (r.caPath) {
    steps.push('   Settings > Certificates > CA certificates: switch it on and select');
    steps.push(`   PEM file: ${r.caPath}`);
  } else {
    steps.push(
      '   The server certificate is checked against the system roots; leave CA certificates off.',
    );
  }
  steps.push('   Keep "SSL certificate verification" on (Settings > General).');
  steps.push('');
  steps.push('3. TLS 1.2 only, as the provider requires');
  steps.push('   In the request, open its Settings tab > "Protocols disabled during handshake"');
  steps.push('   and select TLS v1, TLS v1.1 and TLS v1.3, so that only TLS v1.2 remains.');
  steps.push('');
  steps.push('4. The request');
  steps.push(`   Method: ${r.method}`);
  steps.push(`   URL: ${r.url}`);
  if (r.headers.length > 0) {
    steps.push('   Headers:');
    for (const [k, v] of r.headers) steps.push(`     ${k}: ${v}`);
  }
  if (r.body !== undefined) {
    steps.push('   Body > raw:');
    for (const line of r.body.split('\n')) steps.push(`     ${line}`);
  }
  steps.push('');
  steps.push('5. Send');
  steps.push(
    '   The Postman Console (View > Show Postman Console) shows, under the request, the TLS protocol,',
  );
  steps.push('   the cipher and the client certificate that was sent.');
  steps.push(
    `   If the call fails, run: mtls probe ${url.hostname}:${port}${c.kind === 'pfx' ? ` --pfx ${c.pfxPath}` : c.kind === 'pem' ? ` --cert ${c.certPath} --key ${c.keyPath}` : ''}${r.caPath ? ` --ca-file ${r.caPath}` : ''}`,
  );
  steps.push('   for a diagnosis of the handshake.');
  return {
    lang: 'postman',
    filename: 'postman-steps.txt',
    code: `${steps.join('\n')}\n`,
    run: 'follow the steps in Postman',
    notes: [],
  };
}
