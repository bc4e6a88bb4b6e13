/**
 * Shared pieces of the snippet generators: the request being described, the
 * client credentials as file paths, and string quoting for each language.
 */
import { defaultContentType } from '../content-type.js';

/** Languages (and tools) `mtls snippet` writes for. */
export const SNIPPET_LANGUAGES = [
  'curl',
  'node',
  'python',
  'java',
  'go',
  'csharp',
  'postman',
] as const;
/** One of {@link SNIPPET_LANGUAGES}. */
export type SnippetLanguage = (typeof SNIPPET_LANGUAGES)[number];

/** Environment variable the generated code reads the `.pfx` password from, by default. */
export const DEFAULT_PASSWORD_ENV = 'MTLS_PFX_PASSWORD';
/** Environment variable the generated code reads an encrypted PEM key's passphrase from, by default. */
export const DEFAULT_KEY_PASSPHRASE_ENV = 'MTLS_KEY_PASSPHRASE';

/** What to generate. */
export interface SnippetOptions {
  lang: SnippetLanguage;
  /** The https:// URL to call. */
  url: string;
  /** HTTP method (default GET, or POST with a body). */
  method?: string;
  /** Request headers, in order. */
  headers?: Array<[string, string]>;
  /** Request body (text). */
  body?: string;
  /** Client credentials as a `.pfx`… */
  pfxPath?: string;
  /** …or as PEM certificate and key. */
  certPath?: string;
  keyPath?: string;
  /** True when `keyPath` is an encrypted key (the code then reads its passphrase from `keyPassphraseEnv`). */
  keyEncrypted?: boolean;
  /** CA bundle for the server's certificate; default the platform's trust store. */
  caPath?: string;
  /** Env variable for the `.pfx` password (default MTLS_PFX_PASSWORD). */
  passwordEnv?: string;
  /** Env variable for an encrypted key's passphrase (default MTLS_KEY_PASSPHRASE). */
  keyPassphraseEnv?: string;
}

/** Generated code. */
export interface SnippetResult {
  lang: SnippetLanguage;
  /** Suggested file name. */
  filename: string;
  /** The code (or, for Postman, the steps). */
  code: string;
  /** How to run it. */
  run: string;
  /** Caveats for this platform (what it cannot read, what to convert). */
  notes: string[];
}

/** The request and credentials with defaults filled in. */
export interface SnippetRequest {
  url: string;
  method: string;
  headers: Array<[string, string]>;
  body: string | undefined;
  credentials:
    | { kind: 'pfx'; pfxPath: string; passwordEnv: string }
    | { kind: 'pem'; certPath: string; keyPath: string; passphraseEnv: string | undefined }
    | { kind: 'none' };
  caPath: string | undefined;
}

/** Fills in defaults: method, Content-Type for a body (JSON when it parses, else form, like `mtls request`). */
export function normaliseRequest(o: SnippetOptions): SnippetRequest {
  const headers = [...(o.headers ?? [])];
  if (o.body !== undefined && !headers.some(([k]) => k.toLowerCase() === 'content-type')) {
    headers.push(['Content-Type', defaultContentType(o.body)]);
  }
  const credentials: SnippetRequest['credentials'] = o.pfxPath
    ? { kind: 'pfx', pfxPath: o.pfxPath, passwordEnv: o.passwordEnv ?? DEFAULT_PASSWORD_ENV }
    : o.certPath && o.keyPath
      ? {
          kind: 'pem',
          certPath: o.certPath,
          keyPath: o.keyPath,
          passphraseEnv: o.keyEncrypted
            ? (o.keyPassphraseEnv ?? DEFAULT_KEY_PASSPHRASE_ENV)
            : undefined,
        }
      : { kind: 'none' };
  return {
    url: o.url,
    method: (o.method ?? (o.body !== undefined ? 'POST' : 'GET')).toUpperCase(),
    headers,
    body: o.body,
    credentials,
    caPath: o.caPath,
  };
}

/**
 * How a language escapes a character outside the Basic Multilingual Plane
 * (such as an emoji) in a string literal: `surrogates` as a UTF-16 pair of
 * `\u` escapes (JavaScript, Java, C#), `U8` as one `\U` escape of eight hex
 * digits (Go and Python, where a surrogate escape is a compile error or a
 * string that cannot be encoded).
 */
export type NonBmpEscape = 'surrogates' | 'U8';

/** Lone UTF-16 surrogates: no encoding can carry them. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * A double-quoted string literal valid in JavaScript, Python, Java, Go and C#:
 * JSON escapes, with every non-ASCII character escaped so that the source
 * file's encoding never matters: `\u` and four hex digits inside the BMP, and
 * outside it as `nonBmp` says (default `surrogates`). A lone surrogate becomes
 * U+FFFD, as a UTF-8 encoder would send it.
 */
export function quote(s: string, nonBmp: NonBmpEscape = 'surrogates'): string {
  let json = JSON.stringify(s.replace(LONE_SURROGATE, '\ufffd'));
  if (nonBmp === 'U8') {
    json = json.replace(
      /[\ud800-\udbff][\udc00-\udfff]/g,
      (pair) => `\\U${(pair.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(8, '0')}`,
    );
  }
  return json.replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** A POSIX shell single-quoted word. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'"'"'`)}'`;
}

/** The first line every generated file carries. */
export function banner(lang: string, url: string): string {
  return `mTLS call to ${url}, generated by mtlskit (mtls snippet --lang ${lang})`;
}

/** Where PEM files would come from for a platform that cannot read `.pfx`. */
export function pemFromPfxPaths(pfxPath: string): { certPath: string; keyPath: string } {
  const stem = pfxPath.replace(/\.(pfx|p12)$/i, '');
  return { certPath: `${stem}.cert.pem`, keyPath: `${stem}.key.pem` };
}

/** A path as one POSIX shell word: as is when it needs no quoting. */
export function shWord(path: string): string {
  return /^[\w@%+=:,./-]+$/.test(path) ? path : shQuote(path);
}

/** Options for {@link pfxToPemCommands}. */
export interface PfxToPemOptions {
  /** Write the key unencrypted (for runtimes that cannot decrypt PKCS#8, such as Go's LoadX509KeyPair); default encrypted with the `.pfx` password. */
  plainKey?: boolean;
  /** The env variable holding the `.pfx` password, which the OpenSSL commands read (default MTLS_PFX_PASSWORD). */
  passwordEnv?: string;
}

/**
 * The commands that turn a `.pfx` into the PEM files {@link pemFromPfxPaths}
 * names: `mtls pfx unpack` (which also reads RC2-40 files), and the OpenSSL
 * equivalent for users without mtlskit. Both write the certificate file as
 * the leaf followed by its CA certificates, so that the runtime sends the
 * intermediates too (RFC 5246 §7.4.6), and encrypt the key with the `.pfx`
 * password unless `plainKey`. Lines starting with `#` are shell comments;
 * every other line is one shell command.
 */
export function pfxToPemCommands(pfxPath: string, options: PfxToPemOptions = {}): string[] {
  const { certPath, keyPath } = pemFromPfxPaths(pfxPath);
  const slash = pfxPath.lastIndexOf('/');
  const dir = slash >= 0 ? pfxPath.slice(0, slash) || '/' : '.';
  const stem = certPath.slice(slash + 1).replace(/\.cert\.pem$/, '');
  const env = options.passwordEnv ?? DEFAULT_PASSWORD_ENV;
  const pfx = `openssl pkcs12 -in ${shWord(pfxPath)} -passin env:${env}`;
  return [
    `mtls pfx unpack ${shWord(pfxPath)} --out-dir ${shWord(dir)} --name ${shWord(stem)}${options.plainKey ? ' --no-key-passphrase' : ''}`,
    options.plainKey
      ? '# (the PEM key is written unencrypted, mode 0600)'
      : '# (the PEM key stays encrypted with the .pfx password)',
    `# or with OpenSSL, the password read from $${env}; the certificate file gets the leaf first, then its CA certificates`,
    '# (add -legacy to each openssl command for RC2-40 files from old exports):',
    `${pfx} -clcerts -nokeys -out ${shWord(certPath)}`,
    `${pfx} -cacerts -nokeys >> ${shWord(certPath)}`,
    options.plainKey
      ? `(umask 077 && ${pfx} -nocerts -nodes -out ${shWord(keyPath)})`
      : `${pfx} -nocerts -passout env:${env} -out ${shWord(keyPath)}`,
  ];
}

/** The note about RC2-40 files, for runtimes on OpenSSL 3 without the legacy provider. */
export function rc2Note(runtime: string): string {
  return `${runtime} cannot open .pfx files encrypted with RC2-40 (old OpenSSL and Windows exports); re-encrypt one with \`mtls pfx convert old.pfx --out new.pfx\`.`;
}
