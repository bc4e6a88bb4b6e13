/**
 * `mtls request URL`: a curl-like mTLS call. Wiring only; the work is done by
 * src/client/request.ts. Also home of the client options `mtls probe` shares.
 */
import type { Command } from 'commander';
import { MtlsError, isMtlsError, type ErrorCode } from '../../errors/index.js';
import { readFileChecked, writeFileAtomic } from '../../io/index.js';
import { isEncryptedPrivateKey } from '../../pki/keys.js';
import { loadClientCredentials, type ClientCredentials } from '../../tls/credentials.js';
import { loadCaBundle } from '../../tls/trust.js';
import { tlsVersionRange, type TlsVersionChoice } from '../../tls/versions.js';
import type { CertificateSummary } from '../../client/certificates.js';
import type { ClientCertificateReport, TlsReport } from '../../client/diagnose.js';
import {
  parseResolveEntry,
  type MtlsClientOptions,
  type ResolveEntry,
} from '../../client/dispatcher.js';
import { mtlsRequest, type MtlsRequestResult } from '../../client/request.js';
import { collect, parseHeader, readRequestBody } from '../http-args.js';
import { info, out, outJson, style, warn } from '../output.js';
import { deprecatedAlias } from '../deprecated.js';
import { jsonOption, secretFileOption, forceOption } from '../shared-options.js';
import { isOneOf } from '../option-values.js';
import { readSecret } from '../secrets.js';
import {
  FILE_READ_CODES,
  FILE_WRITE_CODES,
  USAGE_CODES,
  exitCodesLine,
  exitOf,
  type ExitLinePart,
} from '../exit-help.js';

/** The client options `request` and `probe` share. */
export interface ClientCliOptions {
  pfx?: string;
  passwordFile?: string;
  cert?: string;
  key?: string;
  keyPassphraseFile?: string;
  caFile?: string;
  tls?: string;
  resolve?: string[];
  timeout?: number;
  json?: boolean;
}

/** The `--tls` choices (tlsVersionRange checks the value first, with its own message). */
const TLS_CHOICES: readonly TlsVersionChoice[] = ['1.2', '1.3', 'auto'];

/** The TLS report a failed request carries in its error details, if any. */
function tlsReportOf(
  details: Readonly<Record<string, unknown>> | undefined,
): { tls: TlsReport; clientCertificate: ClientCertificateReport | null } | null {
  const tls = details?.tls;
  if (typeof tls !== 'object' || tls === null) return null;
  return {
    // mtlsRequest puts its own TlsReport and ClientCertificateReport in these fields (src/client/request.ts).
    tls: tls as TlsReport,
    // Same source as above: the report or null.
    clientCertificate: (details?.clientCertificate as ClientCertificateReport | null) ?? null,
  };
}

function parseSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 3600) {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `--timeout ${value} is not a number of seconds between 0 and 3600`,
      { subject: '--timeout' },
    );
  }
  return n;
}

/** Adds the credential, trust, version and resolve options to a command. */
export function addClientOptions(cmd: Command): Command {
  return cmd
    .option(
      '--pfx <file>',
      `client certificate and key as .pfx/.p12 (any flavour, RC2-40 included)`,
    )
    .addOption(secretFileOption('pfxPassword'))
    .option('--cert <file>', 'client certificate (PEM; the chain may follow the leaf)')
    .option('--key <file>', 'private key of --cert (PEM or DER PKCS#8)')
    .addOption(secretFileOption('keyPassphrase', { what: 'passphrase of an encrypted --key' }))
    .option(
      '--ca-file <file>',
      "trusted CA certificates (PEM bundle) for the server's certificate (default: the system roots)",
    )
    .addOption(deprecatedAlias('--ca <file>', '--ca-file'))
    .option('--tls <version>', 'TLS version: 1.2 (default, pinned), 1.3, or auto (1.2-1.3)', '1.2')
    .option(
      '--resolve <host:port:addr>',
      'connect to ADDR for HOST:PORT, keeping HOST for SNI and checks (curl syntax); repeatable',
      collect,
    )
    .option(
      '--timeout <seconds>',
      'give up on the handshake, and on the answer, after this long (default 15 and 30)',
      parseSeconds,
    );
}

/**
 * Reads the client options: credentials (asking for the password only when
 * needed), CA bundle, version choice, --resolve entries.
 * @throws MTLS_USAGE, MTLS_PASSPHRASE_REQUIRED, MTLS_BAD_PASSPHRASE, MTLS_KEY_MISMATCH, MTLS_BAD_ARGUMENT, file errors
 */
export async function clientOptionsFromCli(
  opts: ClientCliOptions,
): Promise<MtlsClientOptions & { credentials?: ClientCredentials; tls: TlsVersionChoice }> {
  tlsVersionRange(opts.tls ?? '1.2');
  const resolve: ResolveEntry[] = (opts.resolve ?? []).map(parseResolveEntry);
  let credentials: ClientCredentials | undefined;
  if (opts.pfx !== undefined) {
    if (opts.cert !== undefined || opts.key !== undefined) {
      throw new MtlsError('MTLS_USAGE', 'give either --pfx or --cert/--key, not both', {
        subject: '--pfx',
      });
    }
    const password = await readSecret({
      kind: 'pfxPassword',
      file: opts.passwordFile,
      prompt: '.pfx password: ',
    });
    credentials = await loadClientCredentials({ pfxPath: opts.pfx, password });
  } else if (opts.cert !== undefined || opts.key !== undefined) {
    let keyPassphrase: string | undefined;
    if (
      opts.key !== undefined &&
      isEncryptedPrivateKey(await readFileChecked(opts.key, 'private key'))
    ) {
      keyPassphrase = await readSecret({
        kind: 'keyPassphrase',
        file: opts.keyPassphraseFile,
        prompt: 'key passphrase: ',
      });
    }
    credentials = await loadClientCredentials({
      ...(opts.cert !== undefined ? { certPath: opts.cert } : {}),
      ...(opts.key !== undefined ? { keyPath: opts.key } : {}),
      ...(keyPassphrase !== undefined ? { keyPassphrase } : {}),
    });
  }
  const ca = opts.caFile !== undefined ? await loadCaBundle(opts.caFile) : undefined;
  const tls = opts.tls ?? '1.2';
  if (!isOneOf(tls, TLS_CHOICES))
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `--tls ${tls} is not one of ${TLS_CHOICES.join(', ')}`,
      {
        subject: '--tls',
      },
    );
  return {
    ...(credentials ? { credentials } : {}),
    ...(ca ? { ca } : {}),
    tls,
    ...(resolve.length > 0 ? { resolve } : {}),
    ...(opts.timeout !== undefined ? { handshakeTimeoutMs: opts.timeout * 1000 } : {}),
  };
}

interface RequestCliOptions extends ClientCliOptions {
  request?: string;
  header?: string[];
  data?: string[];
  output?: string;
  include?: boolean;
  verbose?: boolean;
  fail?: boolean;
  force?: boolean;
}

/** `* ` lines on stderr, as curl -v writes them. */
const v = (line: string): void => info(style('dim', `* ${line}`));

function certLine(c: CertificateSummary): string {
  const when = c.expired
    ? `EXPIRED ${c.notAfter.slice(0, 10)}`
    : `expires ${c.notAfter.slice(0, 10)} (${c.daysLeft} days)`;
  return `${c.subject}  [${when}; issuer ${c.issuer}]`;
}

/** Prints the TLS report as curl -v style lines on stderr. */
export function printTlsVerbose(
  tls: TlsReport,
  clientCertificate: ClientCertificateReport | null,
): void {
  v(
    `Connected to ${tls.servername ?? tls.address ?? '?'} (${tls.address ?? '?'}) port ${tls.port}`,
  );
  v(`TLS ${tls.protocol ?? 'not negotiated'}${tls.cipher ? `, cipher ${tls.cipher}` : ''}`);
  if (tls.serverChain.length > 0) {
    v('Server certificate chain:');
    tls.serverChain.forEach((c, i) => v(`  ${i} ${certLine(c)}`));
  }
  if (tls.clientCertificateRequested === true) {
    v(
      `Server asked for a client certificate; acceptable CA names:${tls.acceptableCaNames && tls.acceptableCaNames.length > 0 ? '' : ' any (empty list)'}`,
    );
    for (const n of tls.acceptableCaNames ?? []) v(`  ${n}`);
    if (tls.issuerMatch && !tls.issuerMatch.anyCa) {
      v(
        tls.issuerMatch.listed
          ? `  our issuer is listed (${tls.issuerMatch.matched})`
          : `  our issuer ${tls.issuerMatch.ourCaNames[0] ?? '?'} is NOT listed`,
      );
    }
  } else if (tls.clientCertificateRequested === false) {
    v('Server did not ask for a client certificate');
  } else {
    v(
      `Whether the server asked for a client certificate is not visible in ${tls.protocol ?? 'this handshake'} (TLS 1.3 encrypts it)`,
    );
  }
  if (tls.clientCertificateSent) {
    if (tls.clientCertificateSent.length === 0) v('We sent no client certificate');
    else {
      v('We sent:');
      tls.clientCertificateSent.forEach((c, i) => v(`  ${i} ${certLine(c)}`));
    }
  } else if (clientCertificate) {
    v(
      `Client certificate configured (sent if the server asked; ${tls.protocol ?? 'this handshake'} hides which): ${certLine(clientCertificate.certificate)}`,
    );
  }
  for (const p of clientCertificate?.problems ?? []) v(`warning: ${p.message}`);
}

function bodyForJson(body: Buffer): { text: string } | { base64: string } {
  const text = body.toString('utf8');
  return Buffer.from(text, 'utf8').equals(body) && !text.includes('\u0000')
    ? { text }
    : { base64: body.toString('base64') };
}

async function runRequest(url: string, opts: RequestCliOptions): Promise<void> {
  const client = await clientOptionsFromCli(opts);
  const headers = (opts.header ?? []).map(parseHeader);
  const body = await readRequestBody(opts.data);
  let result: MtlsRequestResult;
  try {
    result = await mtlsRequest({
      ...client,
      url,
      ...(opts.request ? { method: opts.request } : {}),
      headers,
      ...(body !== undefined ? { body } : {}),
      ...(opts.timeout !== undefined ? { timeoutMs: opts.timeout * 1000 } : {}),
    });
  } catch (e) {
    const report = opts.verbose && !opts.json && isMtlsError(e) ? tlsReportOf(e.details) : null;
    if (report) printTlsVerbose(report.tls, report.clientCertificate);
    throw e;
  }
  if (opts.verbose && !opts.json) {
    printTlsVerbose(result.tls, result.clientCertificate);
    info(
      `> ${result.method} ${new URL(result.url).pathname}${new URL(result.url).search} HTTP/1.1`,
    );
    for (const [k, val] of headers) info(`> ${k}: ${val}`);
    info(`< HTTP/1.1 ${result.status} ${result.statusText}`);
    for (const [k, val] of result.headers) info(`< ${k}: ${val}`);
  }
  if (!opts.json && result.diagnosis.verdict === 'no-client-cert-requested')
    warn(result.diagnosis.hint);
  if (!opts.json && !result.clientCertificate && result.tls.clientCertificateRequested === true) {
    warn(
      'the server asked for a client certificate and none was configured, so none was sent; give --pfx FILE (or --cert and --key) for an mTLS call',
    );
  }
  if (opts.fail && result.status >= 400) {
    throw new MtlsError(
      'MTLS_HTTP_STATUS',
      `${url}: the server answered HTTP ${result.status} ${result.statusText}`,
      {
        subject: url,
        hint: `${result.diagnosis.hint} (Without --fail the body is printed and the exit code is 0.)`,
        details: { status: result.status, statusText: result.statusText },
      },
    );
  }
  if (opts.output !== undefined)
    await writeFileAtomic(opts.output, result.body, { force: opts.force ?? false });
  if (opts.json) {
    outJson('request', {
      ok: true,
      url: result.url,
      method: result.method,
      status: result.status,
      statusText: result.statusText,
      headers: result.headers,
      body:
        opts.output !== undefined
          ? { savedTo: opts.output, bytes: result.body.length }
          : bodyForJson(result.body),
      tls: result.tls,
      clientCertificate: result.clientCertificate,
      diagnosis: result.diagnosis,
    });
    return;
  }
  if (opts.include) {
    out(`HTTP/1.1 ${result.status} ${result.statusText}`);
    for (const [k, val] of result.headers) out(`${k}: ${val}`);
    out();
  }
  if (opts.output === undefined) process.stdout.write(result.body);
  else if (opts.verbose) v(`saved ${result.body.length} bytes to ${opts.output}`);
}

/**
 * What the client's credentials and trust files can go wrong with, by exit;
 * shared by `request` and `probe`, which load them the same way
 * ({@link clientOptionsFromCli}).
 */
export const CLIENT_CREDENTIAL_EXITS = {
  /** No password at hand, or a trust or TLS setting that cannot be used. */
  missing: ['MTLS_PASSPHRASE_REQUIRED', 'MTLS_CONFIG_INVALID'],
  /** The material is there but refused. */
  refused: [
    'MTLS_BAD_PASSPHRASE',
    'MTLS_KEY_MISMATCH',
    'MTLS_KEY_UNSUPPORTED',
    'MTLS_KEY_TOO_WEAK',
    'MTLS_PRIVATE_KEY_IN_CHAIN',
  ],
  /** A credential or CA file that cannot be read or decoded. */
  files: FILE_READ_CODES,
} as const satisfies Record<string, readonly [ErrorCode, ...ErrorCode[]]>;

/** The failed calls: every code a failed handshake, connection or refusal is classified as. */
export const CALL_FAILURE_CODES = [
  'MTLS_NETWORK',
  'MTLS_TIMEOUT',
  'MTLS_TLS_HANDSHAKE',
  'MTLS_TLS_VERSION',
  'MTLS_TLS_SERVER_UNTRUSTED',
  'MTLS_TLS_CLIENT_REJECTED',
] as const;

/** What `request`'s exits mean. */
export const REQUEST_EXITS: readonly ExitLinePart[] = [
  { outcome: 0, text: 'the call completed (any HTTP status without --fail)' },
  { codes: USAGE_CODES, text: 'usage' },
  {
    codes: CLIENT_CREDENTIAL_EXITS.missing,
    text: 'no password given or an unusable SSL_CERT_FILE or TLS setting',
  },
  {
    codes: CLIENT_CREDENTIAL_EXITS.refused,
    text: 'wrong password, key/certificate mismatch, a key OpenSSL refuses or a private key in --ca-file',
  },
  { codes: [...CLIENT_CREDENTIAL_EXITS.files, ...FILE_WRITE_CODES], text: 'file errors' },
  {
    codes: [...CALL_FAILURE_CODES, 'MTLS_HTTP_STATUS'],
    text: `network/TLS failure (the message names the likely cause), an HTTP answer that refuses the client certificate (nginx's 400 "No required SSL certificate was sent" / "The SSL certificate error", 495, 496; Kong's 401; an mtlskit gateway's 403 reason), or HTTP status >= 400 with --fail`,
  },
];

/**
 * Registers `mtls request URL`.
 */
export function registerRequestCommands(program: Command): void {
  const cmd = program
    .command('request')
    .description('make one HTTP call over mutual TLS, like curl (TLS 1.2 pinned by default)')
    .argument('<url>', 'https:// URL')
    .option('-X, --request <method>', 'HTTP method (default GET, or POST with -d)')
    .option('-H, --header <header>', '"Name: value"; repeatable', collect)
    .option(
      '-d, --data <data>',
      'request body; @FILE reads a file as is, @- reads stdin; repeatable, joined with & (as curl)',
      collect,
    )
    .option('-o, --output <file>', 'write the body to FILE instead of stdout (atomically)')
    .addOption(forceOption('--output'))
    .option('-i, --include', 'print the status line and response headers before the body')
    .option(
      '-v, --verbose',
      'print protocol, cipher, both certificate chains and the CertificateRequest on stderr',
    )
    .option(
      '--fail',
      'exit 6 (MTLS_HTTP_STATUS) on HTTP status >= 400, without printing the body, as curl --fail (see exit codes)',
    )
    .addOption(jsonOption('status, headers, body, TLS details and the diagnosis'));
  addClientOptions(cmd)
    .addHelpText(
      'after',
      `
Without a Content-Type header, -d sends application/json when the body parses as JSON,
else application/x-www-form-urlencoded (curl's default).

Examples:
  $ mtls request https://api.example.com/v1/ping --pfx client.pfx --password-file pfx.pass --ca-file provider-ca.pem
  $ mtls request https://api.example.com/v1/pay -X POST -H "Content-Type: application/json" -d @payment.json \\
      --cert client.cert.pem --key client.key.pem -v
  $ mtls request https://api.example.com/v1/report --pfx client.pfx -o report.pdf --resolve api.example.com:443:203.0.113.7`,
    )
    .addHelpText(
      'after',
      `${exitCodesLine(REQUEST_EXITS)}
  Exit code ${exitOf('MTLS_HTTP_STATUS')} is shared: tell the cases apart by the error code (MTLS_HTTP_STATUS for a plain HTTP
  error with --fail, MTLS_TLS_CLIENT_REJECTED for a refused certificate) or, with --json, by
  error.details: only a plain HTTP error carries status without verdict.`,
    )
    .action((url: string, opts: RequestCliOptions) => runRequest(url, opts));
}
