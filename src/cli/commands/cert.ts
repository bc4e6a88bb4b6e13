/**
 * `mtls cert show | verify`: inspect certificates, CSRs, CRLs and `.pfx`
 * files, and check a certificate against a CA chain for a TLS purpose.
 * Wiring only; the work is done by src/pki/inspect and src/pki/verify-certificate.
 */
import { basename } from 'node:path';
import { Option, type Command } from 'commander';
import { MtlsError } from '../../errors/index.js';
import { readFileChecked } from '../../io/index.js';
import { certificateDers, parseCertificates } from '../../pki/certificate.js';
import { assertPemOrDer, inspectPki, renderInspectionText } from '../../pki/inspect/index.js';
import { decodePemBlocks, isPem } from '../../pki/pem.js';
import {
  verifyCertificate,
  type VerifiedCertificate,
  type VerifyPurpose,
  type VerifyResult,
} from '../../pki/verify-certificate.js';
import { VERIFY_REASONS } from '../../pki/verify/reasons.js';
import { deprecatedAlias } from '../deprecated.js';
import { collect } from '../http-args.js';
import { parseTimeArg } from '../time-args.js';
import { shortLine } from '../short-lines.js';
import { info, out, outJson, style, warn } from '../output.js';
import { jsonOption, secretFileOption } from '../shared-options.js';
import { readSecret } from '../secrets.js';
import { registerCertRenewCommands } from './cert-renew.js';
import { FILE_READ_CODES, USAGE_CODES, exitCodesLine, type ExitLinePart } from '../exit-help.js';

/** Environment variable holding the .pfx password (shared with `mtls pfx`). */

interface ShowOptions {
  passwordFile?: string;
  json?: boolean;
  short?: boolean;
}

interface VerifyOptions {
  caFile: string[];
  untrusted?: string[];
  purpose: VerifyPurpose;
  at?: string;
  partialChain?: boolean;
  acceptAnyEku?: boolean;
  crl?: string[];
  name?: string;
  maxDepth?: string;
  json?: boolean;
}

/** Reads CRL files (PEM `X509 CRL` blocks, or one DER CRL) as DER. */
async function loadCrlFiles(files: readonly string[]): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (const file of files) {
    const data = await readFileChecked(file, 'CRL');
    if (!isPem(data)) {
      out.push(data);
      continue;
    }
    const blocks = decodePemBlocks(data.toString('latin1'), file).filter(
      (b) => b.label === 'X509 CRL',
    );
    if (blocks.length === 0)
      throw new MtlsError('MTLS_PEM_INVALID', `${file} holds no X509 CRL block`, {
        subject: file,
        hint: 'Give the CRL as PEM (-----BEGIN X509 CRL-----) or DER, e.g. from `mtls ca crl` or `openssl ca -gencrl`.',
      });
    for (const b of blocks) out.push(b.der);
  }
  return out;
}

async function runShow(file: string, opts: ShowOptions): Promise<void> {
  const data = await readFileChecked(file, 'input file');
  const result = await inspectPki({
    data,
    source: file,
    password: () =>
      readSecret({
        kind: 'pfxPassword',
        file: opts.passwordFile,
        prompt: `Password for ${basename(file)}: `,
      }),
  });
  if (opts.json) {
    outJson('cert-show', {
      file,
      format: result.format,
      objects: result.objects,
      ...(result.pkcs12 ? { pkcs12: result.pkcs12 } : {}),
      skipped: result.skipped,
    });
  } else if (opts.short) {
    for (const o of result.objects) out(shortLine(o));
  } else {
    process.stdout.write(renderInspectionText(result));
  }
  for (const w of result.pkcs12?.warnings ?? []) warn(w);
  for (const o of result.objects) {
    if (o.type === 'csr' && !o.signatureValid)
      warn(`the CSR's self-signature does not verify: it was altered or is corrupt`);
  }
}

function readCertificates(data: Buffer, source: string): ReturnType<typeof parseCertificates> {
  assertPemOrDer(data, source);
  return parseCertificates(data, source);
}

async function loadCertificateFiles(
  files: string[],
  what: string,
): Promise<ReturnType<typeof parseCertificates>> {
  const all: ReturnType<typeof parseCertificates> = [];
  for (const f of files) all.push(...readCertificates(await readFileChecked(f, what), f));
  return all;
}

/**
 * The certificates of a file under verification (the certificate and
 * --untrusted), as DER the validator decodes itself: a malformed certificate
 * there is a verification failure (malformed_certificate, exit 4), not an
 * unreadable file. Trust anchors (--ca-file) are still decoded up front,
 * since a broken trust store is a configuration problem.
 */
async function loadCertificateDers(file: string, what: string): Promise<Buffer[]> {
  const data = await readFileChecked(file, what);
  assertPemOrDer(data, file);
  return certificateDers(data, file);
}

function pathLine(c: VerifiedCertificate, anchorDepth: number | undefined): string {
  const anchor =
    c.depth === anchorDepth && c.trusted ? ' (trust anchor)' : c.trusted ? ' (trusted)' : '';
  return `  ${c.depth} ${c.subject}${anchor}\n      serial ${c.serialNumber}, valid ${c.notBefore} to ${c.notAfter}`;
}

function printResult(file: string, r: VerifyResult): void {
  const last = r.path.length - 1;
  if (r.ok)
    out(
      `${file}: ${style('green', 'OK')} for TLS ${r.purpose} authentication (checked at ${r.at})`,
    );
  else
    out(
      `${file}: ${style('red', 'FAILED')} for TLS ${r.purpose} authentication (checked at ${r.at})`,
    );
  out('path:');
  for (const c of r.path) out(pathLine(c, r.ok ? last : undefined));
  if (!r.ok) {
    out('failures:');
    for (const f of r.failures) out(`  [${f.reason}] depth ${f.certificate.depth}: ${f.detail}`);
  }
  for (const w of r.warnings) warn(w.message);
}

function parseMaxDepth(value: string): number {
  const n = Number(value);
  // 255: the largest depth pyca/cryptography takes (a u8); the path search has its own work budget.
  if (!Number.isInteger(n) || n < 0 || n > 255) {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `--max-depth ${value} is not a whole number from 0 to 255`,
      {
        subject: '--max-depth',
        hint: 'Give the largest number of intermediate CAs allowed between the certificate and the root, e.g. --max-depth 2.',
      },
    );
  }
  return n;
}

async function runVerify(file: string, opts: VerifyOptions): Promise<void> {
  const at = opts.at !== undefined ? parseTimeArg(opts.at, '--at') : undefined;
  const [certificate, ...bundled] = await loadCertificateDers(file, 'certificate');
  if (!certificate)
    throw new MtlsError('MTLS_PEM_INVALID', `${file} holds no certificate`, { subject: file });
  if (bundled.length && !opts.json)
    info(
      `${file}: using the first certificate; the other ${bundled.length} are used as untrusted intermediates`,
    );
  const chain = await loadCertificateFiles(opts.caFile, 'CA file');
  const untrusted = [...bundled];
  for (const f of opts.untrusted ?? [])
    untrusted.push(...(await loadCertificateDers(f, 'untrusted file')));
  const result = verifyCertificate({
    certificate,
    chain,
    untrusted,
    purpose: opts.purpose,
    ...(at ? { at } : {}),
    partialChain: opts.partialChain ?? false,
    acceptAnyExtendedKeyUsage: opts.acceptAnyEku ?? false,
    crls: await loadCrlFiles(opts.crl ?? []),
    ...(opts.name !== undefined ? { name: opts.name } : {}),
    ...(opts.maxDepth !== undefined ? { maxDepth: parseMaxDepth(opts.maxDepth) } : {}),
  });
  if (!opts.json) printResult(file, result);
  if (!result.ok) {
    throw new MtlsError(
      'MTLS_VERIFY_FAILED',
      `${file} is not valid for TLS ${result.purpose} authentication: ${result.reason} at depth ${result.certificate.depth}: ${result.detail}`,
      { subject: file, details: { verification: result } },
    );
  }
  if (opts.json) outJson('cert-verify', result);
}

/** What `cert show`'s exits mean. */
export const CERT_SHOW_EXITS: readonly ExitLinePart[] = [
  { outcome: 0, text: 'shown' },
  { codes: USAGE_CODES, text: 'usage' },
  { codes: ['MTLS_PASSPHRASE_REQUIRED'], text: 'password required' },
  {
    codes: ['MTLS_BAD_PASSPHRASE', 'MTLS_KEY_UNSUPPORTED'],
    text: 'wrong password or an unsupported PKCS#12 algorithm',
  },
  { codes: FILE_READ_CODES, text: 'unreadable or malformed file' },
];

/** What `cert verify`'s exits mean. */
export const CERT_VERIFY_EXITS: readonly ExitLinePart[] = [
  { outcome: 0, text: 'valid' },
  { codes: USAGE_CODES, text: 'usage' },
  {
    codes: ['MTLS_VERIFY_FAILED'],
    text: 'verification failed (error[MTLS_VERIFY_FAILED] names the certificate and the reason; a certificate that cannot be decoded is malformed_certificate)',
  },
  {
    codes: FILE_READ_CODES,
    text: 'a file that cannot be read or holds no certificate or CRL, or a --ca-file that cannot be decoded',
  },
];

/**
 * Registers `mtls cert show` and `mtls cert verify`.
 * `.pfx` passwords come from --password-file, MTLS_PFX_PASSWORD, or a no-echo prompt.
 */
export function registerCertCommands(program: Command): void {
  const cert = program
    .command('cert')
    .description(
      'inspect certificates, CSRs, CRLs and .pfx files; verify a certificate against a CA chain',
    )
    .addHelpText(
      'after',
      `
Examples:
  $ mtls cert show client.cert.pem
  $ mtls cert verify client.cert.pem --ca-file ca-chain.pem --purpose client`,
    );

  cert
    .command('show')
    .description(
      'show a certificate (every one in a PEM bundle), CSR, CRL or .pfx as `openssl x509|req|crl -text` would',
    )
    .argument('<file>', 'PEM or DER certificate(s), CSR or CRL, or a .pfx/.p12')
    .addOption(secretFileOption('pfxPassword', { what: '.pfx password (PKCS#12 only)' }))
    .addOption(jsonOption('every field'))
    .option(
      '--short',
      'one line per certificate, CSR or CRL: name, issuer, serial, validity, key, SHA-256',
    )
    .addHelpText(
      'after',
      `
Private keys are never shown; a PEM block holding one is listed as skipped.

Examples:
  $ mtls cert show client.cert.pem
  $ mtls cert show ca/crl/ca.crl.pem --json
  $ mtls cert show ca-chain.pem --short
  $ mtls cert show client.pfx --password-file pw.txt`,
    )
    .addHelpText('after', exitCodesLine(CERT_SHOW_EXITS))
    .action((file: string, opts: ShowOptions) => runShow(file, opts));

  cert
    .command('verify')
    .description(
      'check signatures, validity, basicConstraints, keyUsage and EKU along the path to a trusted root',
    )
    .argument(
      '<cert>',
      'the certificate to check (PEM or DER; further certificates in the file are used as intermediates)',
    )
    .requiredOption(
      '--ca-file <file>',
      'trusted CA certificate(s), PEM bundle or DER; repeatable',
      collect,
    )
    .addOption(deprecatedAlias('--ca <file>', '--ca-file', 'caFile', collect))
    .option(
      '--untrusted <file>',
      'intermediate certificates used to build the path but not trusted; repeatable',
      collect,
    )
    .addOption(
      new Option('--purpose <purpose>', 'what the certificate is for')
        .choices(['client', 'server', 'any'])
        .makeOptionMandatory(),
    )
    .option(
      '--at <iso-date>',
      'check validity at this time instead of now (e.g. 2027-01-31T00:00:00Z)',
    )
    .option(
      '--partial-chain',
      'accept a path ending at a trusted certificate that is not self-signed (openssl -partial_chain)',
    )
    .option('--crl <file>', 'CRL (PEM or DER) to check revocation against; repeatable', collect)
    .option(
      '--name <name>',
      'DNS name, IP address or email address the certificate must be for (RFC 9525)',
    )
    .option('--max-depth <n>', 'largest number of intermediate CAs in the path (default 8)')
    .option(
      '--accept-any-eku',
      'accept anyExtendedKeyUsage in place of clientAuth/serverAuth (OpenSSL refuses it)',
    )
    .addOption(jsonOption('the verification result'))
    .addHelpText(
      'after',
      `
An RFC 5280 §6 path validator: builds the path with backtracking over every
candidate issuer (cross-signs, bundles out of order), then checks on every
certificate the signature, validity, basicConstraints and pathLenConstraint,
keyUsage and extendedKeyUsage for the purpose, name constraints, the RFC 5280
structure rules (duplicate or unknown critical extensions, AKI/SKI, SAN rules,
encodings), key strength and, with --crl, revocation (CRL signature, scope and
freshness). Certificate policies are not evaluated (a warning says so).

Reason codes (closed set): ${VERIFY_REASONS.join(', ')}.

Examples:
  $ mtls cert verify client.cert.pem --ca-file ca-chain.pem --purpose client
  $ mtls cert verify server.pem --ca-file root.pem --untrusted intermediate.pem --purpose server --at 2027-01-01
  $ mtls cert verify client.cert.pem --ca-file ca-chain.pem --purpose client --json`,
    )
    .addHelpText('after', exitCodesLine(CERT_VERIFY_EXITS))
    .action((file: string, opts: VerifyOptions) => runVerify(file, opts));

  registerCertRenewCommands(cert);
}
