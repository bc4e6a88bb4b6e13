/**
 * `mtls probe HOST:PORT`: diagnose an mTLS endpoint. Wiring only; the work
 * is done by src/client/probe.ts.
 */
import type { Command } from 'commander';
import { describeDifferences, type CertificateSummary } from '../../client/certificates.js';
import { VERDICT_ERROR_CODES } from '../../client/classify.js';
import { probeServer, type ProbeResult } from '../../client/probe.js';
import { out, outJson, style } from '../output.js';
import { jsonOption } from '../shared-options.js';
import { USAGE_CODES, exitCodesLine, exitOf, type ExitLinePart } from '../exit-help.js';
import {
  CALL_FAILURE_CODES,
  CLIENT_CREDENTIAL_EXITS,
  addClientOptions,
  clientOptionsFromCli,
  type ClientCliOptions,
} from './request.js';

interface ProbeCliOptions extends ClientCliOptions {
  path?: string;
  verbose?: boolean;
  fail?: boolean;
}

const VERSION_LABELS: Record<string, string> = {
  TLSv1: 'TLS 1.0',
  'TLSv1.1': 'TLS 1.1',
  'TLSv1.2': 'TLS 1.2',
  'TLSv1.3': 'TLS 1.3',
};

const yesNo = (b: boolean | null): string =>
  b === null ? style('yellow', 'unknown') : b ? style('green', 'yes') : style('red', 'no');

function certLine(c: CertificateSummary): string {
  const when = c.expired
    ? style('red', `EXPIRED on ${c.notAfter.slice(0, 10)}`)
    : `expires ${c.notAfter.slice(0, 10)} (${c.daysLeft} days)`;
  return `${c.subject}\n        issuer ${c.issuer}; ${when}; ${c.key}`;
}

function printReport(r: ProbeResult, verbose: boolean): void {
  const t = r.target;
  out(
    style(
      'bold',
      `mTLS probe of ${t.host}:${t.port}${t.address && t.address !== t.host ? ` (${t.address})` : ''}`,
    ),
  );
  out();
  out('1. TLS versions the server accepts');
  for (const v of r.versions)
    out(
      `   ${(VERSION_LABELS[v.version] ?? v.version).padEnd(8)} ${yesNo(v.accepted)}  ${style('dim', v.detail)}`,
    );
  out(
    `2. Client certificate requested: ${yesNo(r.clientCertificateRequested)}${r.clientCertificateRequested === null ? ' (TLS 1.3 encrypts the request; not visible)' : ''}`,
  );
  out('3. Acceptable client CA names (from the CertificateRequest)');
  if (!r.certificateRequest) out('   none seen');
  else {
    if (r.certificateRequest.acceptableCaNames.length === 0) out('   (empty list: any CA)');
    for (const n of r.certificateRequest.acceptableCaNames) out(`   ${n}`);
    if (verbose) {
      out(
        style('dim', `   certificate types: ${r.certificateRequest.certificateTypes.join(', ')}`),
      );
      out(
        style(
          'dim',
          `   signature algorithms: ${r.certificateRequest.signatureAlgorithms.join(', ')}`,
        ),
      );
    }
  }
  out('4. Our certificate');
  if (!r.clientCertificate) out('   none given (--pfx or --cert/--key)');
  else {
    out(`   ${certLine(r.clientCertificate.certificate)}`);
    const m = r.issuerMatch;
    if (m) {
      if (m.anyCa) out('   issuer listed: the server accepts any CA');
      else if (m.listed) out(`   issuer listed: ${style('green', 'yes')} (${m.matched})`);
      else {
        out(
          `   issuer listed: ${style('red', 'no')}: ${m.ourCaNames[0] ?? '?'} is not among the names above`,
        );
        if (m.closest)
          out(`   closest: ${m.closest.name} (${describeDifferences(m.closest.differences)})`);
      }
    }
    for (const p of r.clientCertificate.problems)
      out(`   ${p.fatal ? style('red', 'problem') : style('yellow', 'warning')}: ${p.message}`);
  }
  out('5. Server certificate chain');
  if (r.serverChain.length === 0) out('   not seen');
  r.serverChain.forEach((c, i) => out(`   ${i}  ${certLine(c)}`));
  const offered =
    r.exchange.offered.minVersion === r.exchange.offered.maxVersion
      ? `${r.exchange.offered.minVersion} pinned`
      : `${r.exchange.offered.minVersion}-${r.exchange.offered.maxVersion}`;
  out(`6. Full handshake and one request (${offered})`);
  out(
    `   ${r.diagnosis.outcome.detail}${r.exchange.tls?.protocol && r.exchange.tls.cipher ? style('dim', ` [${r.exchange.tls.protocol}, ${r.exchange.tls.cipher}]`) : ''}`,
  );
  if (r.diagnosis.outcome.errorCode && verbose)
    out(style('dim', `   error code: ${r.diagnosis.outcome.errorCode}`));
  out();
  out(
    `Verdict: ${r.diagnosis.ok ? style('green', r.diagnosis.verdict) : style('red', r.diagnosis.verdict)}`,
  );
  out(`Cause:   ${r.diagnosis.cause}`);
  out(`Hint:    ${r.diagnosis.hint}`);
}

async function runProbe(target: string, opts: ProbeCliOptions): Promise<void> {
  const client = await clientOptionsFromCli(opts);
  const result = await probeServer({
    ...client,
    target,
    ...(opts.path ? { path: opts.path } : {}),
    ...(opts.timeout !== undefined ? { timeoutMs: opts.timeout * 1000 } : {}),
  });
  if (opts.json) outJson('probe', result);
  else printReport(result, opts.verbose ?? false);
  process.exitCode = probeExitCode(result, opts.fail ?? false);
}

/**
 * The exit code of a probe: 0 when the call works. An HTTP error status means
 * the handshake succeeded and the server answered, so the endpoint works for
 * mTLS: exit 0 (the report keeps the status and its hint), unless --fail.
 */
function probeExitCode(result: ProbeResult, fail: boolean): number {
  if (result.diagnosis.ok || (result.diagnosis.verdict === 'http-error' && !fail)) return 0;
  return exitOf(VERDICT_ERROR_CODES[result.diagnosis.verdict]);
}

/** What `probe`'s exits mean. */
export const PROBE_EXITS: readonly ExitLinePart[] = [
  {
    outcome: 0,
    text: 'the call works (the handshake succeeded and the server answered, whatever the HTTP status: a 404 on the default path / still means mTLS works)',
  },
  { codes: USAGE_CODES, text: 'usage' },
  {
    codes: [
      ...CLIENT_CREDENTIAL_EXITS.missing,
      ...CLIENT_CREDENTIAL_EXITS.refused,
      ...CLIENT_CREDENTIAL_EXITS.files,
    ],
    text: 'credential or file problems',
  },
  {
    codes: [...CALL_FAILURE_CODES, 'MTLS_HTTP_STATUS'],
    text: "the call fails (the report's verdict says why), or, with --fail, an HTTP status >= 400",
  },
];

/**
 * Registers `mtls probe HOST:PORT`.
 */
export function registerProbeCommands(program: Command): void {
  const cmd = program
    .command('probe')
    .description(
      'diagnose an mTLS endpoint: versions, CertificateRequest CA names, chains, and why a call fails',
    )
    .argument('<host:port>', 'the endpoint, e.g. api.example.com:443 (or an https:// URL)')
    .option('--path <path>', 'path of the one request (default /)')
    .option('-v, --verbose', 'also show certificate types, signature algorithms and error codes')
    .option(
      '--fail',
      'exit 6 (MTLS_HTTP_STATUS) when the request gets an HTTP status >= 400, as curl --fail',
    )
    .addOption(jsonOption('the report'));
  addClientOptions(cmd)
    .addHelpText(
      'after',
      `
Steps: 1 which of TLS 1.0-1.3 the server accepts; 2 whether it asks for a client certificate;
3 the CA names of its CertificateRequest (read off the wire, TLS 1.2); 4 whether our issuer is
among them; 5 the server chain and expiry; 6 a full handshake and one GET, classified; 7 a hint.

Examples:
  $ mtls probe api.example.com:443 --pfx client.pfx --password-file pfx.pass
  $ mtls probe 203.0.113.7:8443 --cert client.cert.pem --key client.key.pem --ca-file provider-ca.pem --json`,
    )
    .addHelpText(
      'after',
      `${exitCodesLine(PROBE_EXITS)}
  Exit code ${exitOf('MTLS_HTTP_STATUS')} is shared: with --fail, an HTTP error and a network/TLS failure both exit ${exitOf('MTLS_HTTP_STATUS')}. Tell them
  apart by the verdict (http-error) or, with --json, by exchange.status, a number only when the
  server answered over HTTP (null otherwise).`,
    )
    .action((target: string, opts: ProbeCliOptions) => runProbe(target, opts));
}
