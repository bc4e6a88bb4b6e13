/**
 * `mtls snippet`: ready-to-run code (or Postman steps) that makes the same
 * mTLS call on another platform, TLS 1.2 pinned, the client certificate
 * loaded the way that platform expects, and secrets read from the
 * environment, never written into the code.
 */
import { MtlsError } from '../../errors/index.js';
import {
  SNIPPET_LANGUAGES,
  type SnippetLanguage,
  type SnippetOptions,
  type SnippetResult,
} from './common.js';
import { csharpSnippet } from './csharp.js';
import { curlSnippet } from './curl.js';
import { goSnippet } from './go.js';
import { javaSnippet } from './java.js';
import { nodeSnippet } from './node.js';
import { postmanSnippet } from './postman.js';
import { pythonSnippet } from './python.js';

export {
  DEFAULT_KEY_PASSPHRASE_ENV,
  DEFAULT_PASSWORD_ENV,
  SNIPPET_LANGUAGES,
  type SnippetLanguage,
  type SnippetOptions,
  type SnippetResult,
} from './common.js';

const GENERATORS: Readonly<Record<SnippetLanguage, (o: SnippetOptions) => SnippetResult>> = {
  curl: curlSnippet,
  node: nodeSnippet,
  python: pythonSnippet,
  java: javaSnippet,
  go: goSnippet,
  csharp: csharpSnippet,
  postman: postmanSnippet,
};

/**
 * Generates the code for one platform.
 * @throws MTLS_BAD_ARGUMENT for an unknown language, a URL that is not
 *   https://, or a header name that is not an HTTP token
 * @throws MTLS_USAGE for a certificate without its key (or a key without its
 *   certificate), or a .pfx together with them
 */
export function generateSnippet(options: SnippetOptions): SnippetResult {
  if (!SNIPPET_LANGUAGES.includes(options.lang)) {
    throw new MtlsError('MTLS_BAD_ARGUMENT', `unknown snippet language "${options.lang}"`, {
      subject: '--lang',
      hint: `Choose one of ${SNIPPET_LANGUAGES.join(', ')}.`,
    });
  }
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new MtlsError('MTLS_BAD_ARGUMENT', `"${options.url}" is not a URL`, {
      subject: 'URL',
      hint: 'Write the full URL, e.g. https://api.example.com/v1/ping',
    });
  }
  if (url.protocol !== 'https:')
    throw new MtlsError('MTLS_BAD_ARGUMENT', `${options.url}: an mTLS call needs an https:// URL`, {
      subject: 'URL',
    });
  if (options.pfxPath && (options.certPath || options.keyPath)) {
    throw new MtlsError(
      'MTLS_USAGE',
      'give either a .pfx (--pfx) or a certificate and key (--cert/--key), not both',
      { subject: '--pfx' },
    );
  }
  if ((options.certPath === undefined) !== (options.keyPath === undefined)) {
    // The same code and text as the request/probe credential loader (src/tls/credentials.ts).
    throw new MtlsError(
      'MTLS_USAGE',
      options.certPath === undefined ? '--key needs --cert' : '--cert needs --key',
      {
        subject: options.certPath === undefined ? '--cert' : '--key',
        hint: 'Give both --cert CERT.pem and --key KEY.pem, or --pfx FILE.pfx.',
      },
    );
  }
  for (const [name, value] of options.headers ?? []) {
    // RFC 9110 §5.1 (field names are tokens) and §5.5 (no CR/LF in values).
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) || /[\r\n]/.test(value)) {
      throw new MtlsError('MTLS_BAD_ARGUMENT', `header "${name}" is not a valid HTTP header`, {
        subject: '-H',
        hint: 'Write headers as "Name: value" on one line.',
      });
    }
  }
  for (const env of [options.passwordEnv, options.keyPassphraseEnv]) {
    if (env !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(env)) {
      throw new MtlsError(
        'MTLS_BAD_ARGUMENT',
        `"${env}" is not a valid environment variable name`,
        {
          subject: '--password-env',
          hint: 'Use letters, digits and underscores, e.g. MTLS_PFX_PASSWORD.',
        },
      );
    }
  }
  return GENERATORS[options.lang](options);
}
