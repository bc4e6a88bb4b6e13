/**
 * `mtls pfx export | show | convert | unpack`: PKCS#12 files for the client side.
 * Wiring only; the work is done by src/pki/pkcs12.
 */
import { basename, join } from 'node:path';
import type { X509Certificate } from 'node:crypto';
import type { Command } from 'commander';
import { MtlsError, isMtlsError } from '../../errors/index.js';
import {
  assertCanWrite,
  checkOutDir,
  makeOutDir,
  readFileChecked,
  writeFileAtomic,
  writeFilesAtomic,
} from '../../io/index.js';
import { describeKey, isEncryptedPrivateKey, keysMatch, loadPrivateKey } from '../../pki/keys.js';
import {
  buildPfx,
  convertPfx,
  describePfx,
  loadCertificates,
  parsePfx,
  unpackPfx,
  DEFAULT_PFX_ITERATIONS,
  LEGACY_PFX_ITERATIONS,
  type PfxDescription,
  type PfxFlavour,
} from '../../pki/pkcs12/index.js';
import { collect } from '../http-args.js';
import { info, out, outJson, style, warn } from '../output.js';
import { dnText } from '../format.js';
import {
  ENV,
  forceOption,
  iterationsOption,
  jsonOption,
  secretFileOption,
  secretHint,
} from '../shared-options.js';
import { readSecret } from '../secrets.js';
import {
  FILE_READ_CODES,
  FILE_WRITE_CODES,
  USAGE_CODES,
  exitCodesLine,
  type ExitLinePart,
} from '../exit-help.js';

/** What the pfx commands' exits mean (the full table follows in each `--help`). */
export const PFX_EXITS: readonly ExitLinePart[] = [
  { outcome: 0, text: 'ok' },
  { codes: USAGE_CODES, text: 'usage' },
  { codes: ['MTLS_PASSPHRASE_REQUIRED'], text: 'no password given' },
  {
    codes: [
      'MTLS_BAD_PASSPHRASE',
      'MTLS_KEY_MISMATCH',
      'MTLS_KEY_UNSUPPORTED',
      'MTLS_VERIFY_FAILED',
    ],
    text: 'wrong password, key/certificate mismatch, an unsupported algorithm or no MAC',
  },
  {
    codes: [...FILE_READ_CODES, ...FILE_WRITE_CODES],
    text: 'file missing, unreadable, exists, truncated or not PKCS#12',
  },
];
const EXIT_CODES = exitCodesLine(PFX_EXITS);

interface ExportOptions {
  key: string;
  cert: string;
  chain?: string[];
  out: string;
  legacy?: boolean;
  name?: string;
  passwordFile?: string;
  keyPassphraseFile?: string;
  iterations?: number;
  force?: boolean;
  json?: boolean;
}

interface ShowOptions {
  passwordFile?: string;
  json?: boolean;
}

interface ConvertOptions {
  out: string;
  legacy?: boolean;
  modern?: boolean;
  passwordFile?: string;
  newPasswordFile?: string;
  name?: string;
  iterations?: number;
  allowNoMac?: boolean;
  force?: boolean;
  json?: boolean;
}

/** Reads the .pfx password: file, env, or a no-echo prompt. */
function pfxPassword(file: string | undefined, prompt: string, confirm: boolean): Promise<string> {
  return readSecret({ kind: 'pfxPassword', file, prompt, confirm });
}

async function keyPassphrase(file: string | undefined, keyPath: string): Promise<string> {
  try {
    return await readSecret({ kind: 'keyPassphrase', file, prompt: `Passphrase for ${keyPath}: ` });
  } catch (e) {
    if (isMtlsError(e, 'MTLS_PASSPHRASE_REQUIRED') && file === undefined) {
      throw new MtlsError(
        'MTLS_PASSPHRASE_REQUIRED',
        `${keyPath} is encrypted and no passphrase was given`,
        {
          subject: keyPath,
          hint: secretHint('keyPassphrase'),
        },
      );
    }
    throw e;
  }
}

function printDescription(file: string, d: PfxDescription): void {
  const row = (label: string, value: string): void =>
    out(`${style('bold', `${label}:`.padEnd(17))} ${value}`);
  row('file', file);
  row('flavour', d.flavour);
  row(
    'MAC',
    d.mac
      ? `${d.mac.algorithm}, ${d.mac.iterations} iterations, ${d.mac.saltLength}-byte salt`
      : 'none',
  );
  row('key encryption', d.keyEncryption?.text ?? 'no private key in the file');
  row('cert encryption', d.certEncryption?.text ?? 'no certificates in the file');
  row('friendlyName', d.friendlyName ?? '(none)');
  row('localKeyId', d.localKeyId ?? '(none)');
  row(
    'private key',
    d.privateKey
      ? `${d.privateKey.text}${d.privateKey.matchesCertificate ? ' (matches the leaf certificate)' : ' (matches no certificate in the file)'}`
      : 'none',
  );
  if (d.keyCount > 1) row('private keys', String(d.keyCount));
  if (d.skippedBags.length > 0) row('other bags', d.skippedBags.join(', '));
  d.certificates.forEach((c, i) => {
    out();
    out(style('bold', `certificate ${i + 1} (${c.role})`));
    const sub = (label: string, value: string): void => out(`  ${`${label}:`.padEnd(15)} ${value}`);
    sub('subject', c.subject);
    sub('issuer', c.issuer);
    sub('serial', c.serial);
    sub('not before', c.notBefore);
    sub('not after', c.notAfter);
    sub('SHA-256', c.sha256);
    if (c.friendlyName !== null) sub('friendlyName', c.friendlyName);
    if (c.localKeyId !== null) sub('localKeyId', c.localKeyId);
  });
  for (const w of d.warnings) warn(w);
}

function summary(path: string, d: PfxDescription): Record<string, unknown> {
  return {
    ok: true,
    out: path,
    flavour: d.flavour,
    mac: d.mac,
    keyEncryption: d.keyEncryption?.text ?? null,
    certEncryption: d.certEncryption?.text ?? null,
    friendlyName: d.friendlyName,
    localKeyId: d.localKeyId,
    certificates: d.certificates.map((c) => ({
      role: c.role,
      subject: c.subject,
      sha256: c.sha256,
    })),
  };
}

function printWritten(path: string, d: PfxDescription): void {
  out(`${style('green', 'wrote')} ${path} (mode 0600)`);
  out(
    `  flavour:       ${d.flavour}; key: ${d.keyEncryption?.text}; MAC: ${d.mac?.algorithm}, ${d.mac?.iterations} iterations`,
  );
  out(`  friendlyName:  ${d.friendlyName ?? '(none)'}`);
  out(`  certificates:  ${d.certificates.map((c) => `${c.role} ${c.subject}`).join('; ')}`);
  info('Keep the .pfx and its password private: send the provider only the public CA chain.');
}

async function runExport(opts: ExportOptions): Promise<void> {
  await assertCanWrite(opts.out, opts.force);
  const keyData = await readFileChecked(opts.key, 'private key');
  const passphrase = isEncryptedPrivateKey(keyData)
    ? await keyPassphrase(opts.keyPassphraseFile, opts.key)
    : undefined;
  const privateKey = loadPrivateKey(keyData, passphrase, opts.key);
  const certs = loadCertificates(await readFileChecked(opts.cert, 'certificate'), opts.cert);
  const leaf = certs.find((c) => keysMatch(privateKey, c.publicKey));
  if (!leaf) {
    throw new MtlsError(
      'MTLS_KEY_MISMATCH',
      `the private key ${opts.key} (${describeKey(privateKey).text}) does not belong to the certificate in ${opts.cert} (${certs[0]?.subject.replace(/\n/g, ', ') ?? 'no certificate'})`,
      { subject: opts.key },
    );
  }
  const chain: X509Certificate[] = certs.filter((c) => c !== leaf);
  for (const f of opts.chain ?? [])
    chain.push(...loadCertificates(await readFileChecked(f, 'chain file'), f));
  const password = await pfxPassword(
    opts.passwordFile,
    `Password for ${basename(opts.out)}: `,
    true,
  );
  const flavour: PfxFlavour = opts.legacy ? 'legacy' : 'modern';
  const pfx = buildPfx({
    privateKey,
    certificate: leaf,
    chain,
    password,
    flavour,
    ...(opts.name !== undefined ? { friendlyName: opts.name } : {}),
    ...(opts.iterations !== undefined ? { iterations: opts.iterations } : {}),
  });
  const d = describePfx(parsePfx(pfx, password, { source: opts.out }));
  await writeFileAtomic(opts.out, pfx, { mode: 0o600, force: opts.force ?? false });
  if (opts.json) outJson('pfx-export', summary(opts.out, d));
  else printWritten(opts.out, d);
}

async function runShow(file: string, opts: ShowOptions): Promise<void> {
  const data = await readFileChecked(file, '.pfx file');
  const password = await pfxPassword(opts.passwordFile, `Password for ${basename(file)}: `, false);
  const d = describePfx(parsePfx(data, password, { source: file }));
  if (opts.json) outJson('pfx-show', { file, ...d });
  else printDescription(file, d);
}

async function runConvert(input: string, opts: ConvertOptions): Promise<void> {
  if (opts.legacy && opts.modern)
    throw new MtlsError('MTLS_USAGE', '--legacy and --modern exclude each other', {
      hint: 'Pass --legacy for older Java, Windows and macOS keystores, --modern (the default) otherwise, not both.',
    });
  await assertCanWrite(opts.out, opts.force);
  const data = await readFileChecked(input, '.pfx file');
  const password = await pfxPassword(opts.passwordFile, `Password for ${basename(input)}: `, false);
  let newPassword = password;
  if (opts.newPasswordFile !== undefined) {
    newPassword = await readSecret({
      kind: 'pfxNewPassword',
      file: opts.newPasswordFile,
      noEnv: true,
      prompt: '',
    });
  } else {
    const fromEnv = process.env[ENV.pfxNewPassword];
    if (fromEnv) newPassword = fromEnv;
  }
  const flavour: PfxFlavour = opts.legacy ? 'legacy' : 'modern';
  const pfx = convertPfx(data, password, {
    flavour,
    newPassword,
    source: input,
    allowNoMac: opts.allowNoMac ?? false,
    ...(opts.name !== undefined ? { friendlyName: opts.name } : {}),
    ...(opts.iterations !== undefined ? { iterations: opts.iterations } : {}),
  });
  const d = describePfx(parsePfx(pfx, newPassword, { source: opts.out }));
  await writeFileAtomic(opts.out, pfx, { mode: 0o600, force: opts.force ?? false });
  if (opts.json) outJson('pfx-convert', { ...summary(opts.out, d), from: input });
  else printWritten(opts.out, d);
}

interface UnpackOptions {
  outDir: string;
  name?: string;
  passwordFile?: string;
  keyPassphraseFile?: string;
  keyPassphrase: boolean;
  allowNoMac?: boolean;
  force?: boolean;
  json?: boolean;
}

async function runUnpack(input: string, opts: UnpackOptions): Promise<void> {
  const stem = opts.name ?? basename(input).replace(/\.(pfx|p12)$/i, '');
  const paths = {
    cert: join(opts.outDir, `${stem}.cert.pem`),
    chain: join(opts.outDir, `${stem}.chain.pem`),
    key: join(opts.outDir, `${stem}.key.pem`),
  };
  await checkOutDir(opts.outDir);
  for (const p of Object.values(paths)) await assertCanWrite(p, opts.force);
  const data = await readFileChecked(input, '.pfx file');
  const password = await pfxPassword(opts.passwordFile, `Password for ${basename(input)}: `, false);
  // The PEM key is encrypted by default: with its own passphrase, else the .pfx password.
  const keyPassphrase = !opts.keyPassphrase
    ? null
    : opts.keyPassphraseFile !== undefined
      ? await readSecret({
          kind: 'keyPassphrase',
          file: opts.keyPassphraseFile,
          noEnv: true,
          prompt: '',
        })
      : password;
  const r = unpackPfx(data, password, {
    keyPassphrase,
    source: input,
    allowNoMac: opts.allowNoMac ?? false,
  });
  await makeOutDir(opts.outDir);
  await writeFilesAtomic(
    [
      { path: paths.cert, data: r.certPem, mode: 0o644 },
      ...(r.chainPem ? [{ path: paths.chain, data: r.chainPem, mode: 0o644 }] : []),
      { path: paths.key, data: r.keyPem, mode: 0o600 },
    ],
    { force: opts.force ?? false },
  );
  const written = {
    cert: paths.cert,
    chain: r.chainPem ? paths.chain : null,
    key: paths.key,
    keyEncrypted: r.keyEncrypted,
    subject: r.subject,
  };
  if (opts.json) {
    outJson('pfx-unpack', written);
    return;
  }
  out(`${style('green', 'wrote')} ${paths.cert} (${dnText(r.subject)})`);
  if (written.chain) out(`${style('green', 'wrote')} ${written.chain}`);
  out(
    `${style('green', 'wrote')} ${paths.key} (mode 0600, ${r.keyEncrypted ? `encrypted with ${opts.keyPassphraseFile ? 'the given passphrase' : 'the .pfx password'}` : 'NOT encrypted'})`,
  );
}

/** The `--iterations` defaults, by flavour. */
const ITERATION_DEFAULTS = `${DEFAULT_PFX_ITERATIONS} modern, ${LEGACY_PFX_ITERATIONS} legacy`;

/**
 * Registers `mtls pfx export`, `mtls pfx show` and `mtls pfx convert`.
 * Passwords come from --password-file, MTLS_PFX_PASSWORD, or a no-echo prompt.
 */
export function registerPfxCommands(program: Command): void {
  const pfx = program
    .command('pfx')
    .description(
      'PKCS#12 (.pfx/.p12) files: bundle a key and certificate, inspect, convert between flavours',
    )
    .addHelpText(
      'after',
      `
Flavours:
  modern  PBES2 AES-256-CBC + PBKDF2-HMAC-SHA256, SHA-256 MAC (OpenSSL 3 default)
  legacy  pbeWithSHAAnd3-KeyTripleDES-CBC, SHA-1 MAC (older Java, Windows, macOS)

Passwords: --password-file FILE (first line), ${ENV.pfxPassword}, or a no-echo prompt.`,
    );

  pfx
    .command('export')
    .description(
      'bundle a private key, its certificate and the CA chain into a .pfx (written 0600)',
    )
    .requiredOption(
      '--key <file>',
      'private key (PEM or DER; encrypted keys need their passphrase)',
    )
    .requiredOption(
      '--cert <file>',
      'certificate (PEM or DER); further certificates in the file join the chain',
    )
    .option('--chain <file>', 'CA certificates to include (PEM bundle); repeatable', collect)
    .requiredOption('--out <file>', 'the .pfx to write')
    .option('--legacy', 'write the 3DES / SHA-1 flavour for old keystores')
    .option('--name <friendlyName>', 'friendlyName (default: the certificate CN)')
    .addOption(secretFileOption('pfxPassword'))
    .addOption(secretFileOption('keyPassphrase', { what: "key's passphrase" }))
    .addOption(iterationsOption(ITERATION_DEFAULTS))
    .addOption(forceOption('--out'))
    .addOption(jsonOption())
    .addHelpText(
      'after',
      `
Examples:
  $ mtls pfx export --key client.key.pem --cert client.cert.pem --chain ca-chain.pem --out client.pfx
  $ ${ENV.pfxPassword}=… mtls pfx export --key k.pem --cert c.pem --out client-legacy.pfx --legacy --name "ACME client"`,
    )
    .addHelpText('after', EXIT_CODES)
    .action((opts: ExportOptions) => runExport(opts));

  pfx
    .command('show')
    .description(
      'show the algorithms, names and certificates of a .pfx (never the key or the password)',
    )
    .argument('<file>', 'the .pfx / .p12 file')
    .addOption(secretFileOption('pfxPassword'))
    .addOption(jsonOption('the description'))
    .addHelpText(
      'after',
      `
Reads modern (AES), 3DES, RC2-40/RC2-128 (openssl -legacy), RC4 and unencrypted files.

Examples:
  $ mtls pfx show client.pfx
  $ mtls pfx show old.p12 --password-file pw.txt --json`,
    )
    .addHelpText('after', EXIT_CODES)
    .action((file: string, opts: ShowOptions) => runShow(file, opts));

  pfx
    .command('convert')
    .description('rewrite a .pfx in the modern (default) or legacy flavour')
    .argument('<in>', 'the .pfx / .p12 to read (any supported flavour)')
    .requiredOption('--out <file>', 'the .pfx to write')
    .option('--legacy', 'write the 3DES / SHA-1 flavour')
    .option('--modern', 'write the AES / SHA-256 flavour (the default)')
    .addOption(secretFileOption('pfxPassword', { what: 'input password' }))
    .addOption(
      secretFileOption('pfxNewPassword', {
        what: 'output password',
        otherwise: `$${ENV.pfxNewPassword}, else the input password`,
      }),
    )
    .option('--name <friendlyName>', "friendlyName (default: the input file's)")
    .option('--allow-no-mac', 'accept an input without an integrity MAC (refused by default)')
    .addOption(iterationsOption(ITERATION_DEFAULTS))
    .addOption(forceOption('--out'))
    .addOption(jsonOption())
    .addHelpText(
      'after',
      `
Examples:
  $ mtls pfx convert old-rc2.p12 --out client.pfx
  $ mtls pfx convert client.pfx --out client-legacy.pfx --legacy --new-password-file new-pw.txt`,
    )
    .addHelpText('after', EXIT_CODES)
    .action((input: string, opts: ConvertOptions) => runConvert(input, opts));

  pfx
    .command('unpack')
    .description('write a .pfx out as PEM files (certificate, chain, key) for Python, Go or curl')
    .argument('<in>', 'the .pfx / .p12 to read (any supported flavour, RC2 included)')
    .requiredOption(
      '--out-dir <dir>',
      'directory for NAME.cert.pem, NAME.chain.pem and NAME.key.pem (created 0700 if missing)',
    )
    .option('--name <stem>', 'file name stem (default: the input name without .pfx)')
    .addOption(secretFileOption('pfxPassword'))
    .addOption(
      secretFileOption('keyPassphrase', {
        what: 'passphrase that encrypts the PEM key',
        otherwise: 'the .pfx password',
      }),
    )
    .option('--allow-no-mac', 'accept an input without an integrity MAC (refused by default)')
    .option(
      '--no-key-passphrase',
      "write the PEM key unencrypted (Go's LoadX509KeyPair needs this); keep it 0600",
    )
    .addOption(forceOption('each file written'))
    .addOption(jsonOption())
    .addHelpText(
      'after',
      `
Examples:
  $ mtls pfx unpack client.pfx --out-dir ./pem
  $ mtls pfx unpack client.pfx --out-dir ./pem --no-key-passphrase   # for Go`,
    )
    .addHelpText('after', EXIT_CODES)
    .action((input: string, opts: UnpackOptions) => runUnpack(input, opts));
}
