/**
 * `mtls pfx export | show | convert` through the built CLI: exit codes,
 * output, file modes, and no output file after any error.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parsePfx } from '../../src/pki/pkcs12/index.js';
import {
  makePfxFixture,
  openssl,
  pkcs8,
  writePasswordFile,
  type PfxFixture,
} from '../helpers/pfx-fixtures.js';
import { at } from '../helpers/assert.js';
import { jsonError } from '../helpers/cli.js';

const CLI = join(process.cwd(), 'dist', 'bin', 'mtls.js');
const PASSWORD = 'cli-pfx-password-42';

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function mtls(args: string[], env: Record<string, string> = {}): Run {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NO_COLOR: '1', ...env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The parts of `mtls pfx show --json` these tests read. */
interface PfxShowJson {
  flavour: string;
  mac: { algorithm: string };
  keyEncryption: { algorithm: string };
  friendlyName: string;
  privateKey: { text: string };
  certificates: Array<{ role: string; sha256: string }>;
}

/** `flavour` of the `--json` answer of pfx export / convert. */
const flavourOf = (stdout: string): string => (JSON.parse(stdout) as { flavour: string }).flavour;

/** The exit status, the error code and the exact hint line (a hint the user can act on, not just any). */
function assertError(r: Run, code: string, exit: number, hint: RegExp): void {
  assert.equal(r.status, exit, `exit status (stderr: ${r.stderr})`);
  assert.match(r.stderr, new RegExp(`^error\\[${code}\\]: `, 'm'));
  const hintLine = r.stderr.split('\n').find((l) => l.startsWith('hint: '));
  assert.match(hintLine ?? '(no hint)', hint);
}

describe('mtls pfx (CLI)', () => {
  let fx: PfxFixture;
  let pw: string;
  before(() => {
    assert.ok(
      existsSync(CLI),
      `build the CLI first (npx tsc -p tsconfig.build.json): ${CLI} is missing`,
    );
    fx = makePfxFixture('ec');
    pw = writePasswordFile(fx, 'pw.txt', PASSWORD);
  });
  after(() => fx.cleanup());

  const exportArgs = (out: string, extra: string[] = []): string[] => [
    'pfx',
    'export',
    '--key',
    fx.files.leafKey,
    '--cert',
    fx.files.leaf,
    '--chain',
    fx.files.chain,
    '--out',
    out,
    '--password-file',
    pw,
    ...extra,
  ];

  it('export writes a modern .pfx with mode 0600 that openssl reads without -legacy', () => {
    const out = fx.path('client.pfx');
    const r = mtls(exportArgs(out));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /wrote .*client\.pfx/);
    assert.match(r.stdout, /flavour: +modern/);
    assert.equal(statSync(out).mode & 0o777, 0o600);
    assert.ok(!r.stdout.includes(PASSWORD) && !r.stderr.includes(PASSWORD));
    const certs = openssl(['pkcs12', '-in', out, '-passin', `file:${pw}`, '-nokeys']);
    assert.equal(certs.match(/BEGIN CERTIFICATE/g)?.length, 3);
  });

  it('export --legacy --name with the password from MTLS_PFX_PASSWORD; show --json describes it', () => {
    const out = fx.path('client-legacy.pfx');
    const r = mtls(
      [
        'pfx',
        'export',
        '--key',
        fx.files.leafKey,
        '--cert',
        fx.files.leaf,
        '--chain',
        fx.files.chain,
        '--out',
        out,
        '--legacy',
        '--name',
        'Legacy Box',
        '--json',
      ],
      { MTLS_PFX_PASSWORD: PASSWORD },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(flavourOf(r.stdout), 'legacy-3des');
    const show = mtls(['pfx', 'show', out, '--json'], { MTLS_PFX_PASSWORD: PASSWORD });
    assert.equal(show.status, 0, show.stderr);
    const d = JSON.parse(show.stdout) as PfxShowJson;
    assert.equal(d.flavour, 'legacy-3des');
    assert.equal(d.mac.algorithm, 'sha1');
    assert.equal(d.keyEncryption.algorithm, 'pbeWithSHAAnd3-KeyTripleDES-CBC');
    assert.equal(d.friendlyName, 'Legacy Box');
    assert.equal(d.privateKey.text, 'EC P-256');
    assert.deepEqual(
      d.certificates.map((c) => c.role),
      ['leaf', 'chain', 'chain'],
    );
    assert.equal(at(d.certificates, 0).sha256, fx.leafCert.fingerprint256);
  });

  it('show prints algorithms, names and certificates but never key material', () => {
    const out = fx.path('for-show.pfx');
    assert.equal(mtls(exportArgs(out)).status, 0);
    const r = mtls(['pfx', 'show', out, '--password-file', pw]);
    assert.equal(r.status, 0, r.stderr);
    for (const s of [
      /flavour: +modern/,
      /MAC: +sha256, 100000 iterations/,
      /key encryption: +PBES2 \(PBKDF2-hmacWithSHA256, AES-256-CBC\)/,
      /friendlyName: +ACME Client 01/,
      /private key: +EC P-256 \(matches the leaf certificate\)/,
      /certificate 1 \(leaf\)/,
      /SHA-256: +[0-9A-F:]{95}/,
    ]) {
      assert.match(r.stdout, s);
    }
    const keyB64 = pkcs8(fx.leafKey).toString('base64').slice(0, 40);
    assert.ok(
      !r.stdout.includes('PRIVATE KEY') &&
        !r.stdout.includes(keyB64) &&
        !r.stdout.includes(PASSWORD),
    );
  });

  it('export reads an encrypted key with --key-passphrase-file, and refuses it without or with a wrong one (no output file)', () => {
    const encKey = fx.path('leaf-enc.key');
    openssl([
      'pkcs8',
      '-topk8',
      '-v2',
      'aes-256-cbc',
      '-in',
      fx.files.leafKey,
      '-out',
      encKey,
      '-passout',
      'pass:key-pass',
    ]);
    const keyPw = writePasswordFile(fx, 'keypw.txt', 'key-pass');
    const args = (out: string, extra: string[]): string[] => [
      'pfx',
      'export',
      '--key',
      encKey,
      '--cert',
      fx.files.leaf,
      '--out',
      out,
      '--password-file',
      pw,
      ...extra,
    ];
    const good = fx.path('from-enc.pfx');
    assert.equal(mtls(args(good, ['--key-passphrase-file', keyPw])).status, 0);
    assert.deepEqual(
      pkcs8(parsePfx(readFileSync(good), PASSWORD).privateKey as never),
      pkcs8(fx.leafKey),
    );
    const missing = fx.path('no-key-pass.pfx');
    const r1 = mtls(args(missing, []));
    assertError(
      r1,
      'MTLS_PASSPHRASE_REQUIRED',
      3,
      /^hint: Pass --key-passphrase-file FILE or set MTLS_KEY_PASSPHRASE\.$/,
    );
    assert.match(r1.stderr, /--key-passphrase-file/);
    assert.ok(!existsSync(missing));
    const wrong = fx.path('wrong-key-pass.pfx');
    assertError(
      mtls(args(wrong, []), { MTLS_KEY_PASSPHRASE: 'nope' }),
      'MTLS_BAD_PASSPHRASE',
      4,
      /^hint: The passphrase or password is wrong for this file\. The key passphrase came from the environment variable MTLS_KEY_PASSPHRASE; check its value \(it is used exactly as set\)\.$/,
    );
    assert.ok(!existsSync(wrong));
  });

  it('export refuses a key that does not match the certificate: MTLS_KEY_MISMATCH, exit 4, no file', () => {
    const out = fx.path('mismatch.pfx');
    const r = mtls([
      'pfx',
      'export',
      '--key',
      fx.files.otherKey,
      '--cert',
      fx.files.leaf,
      '--out',
      out,
      '--password-file',
      pw,
    ]);
    assertError(
      r,
      'MTLS_KEY_MISMATCH',
      4,
      /^hint: Use the private key that was generated together with this certificate's CSR\.$/,
    );
    assert.ok(!existsSync(out));
  });

  it('export refuses to overwrite without --force (MTLS_FILE_EXISTS, exit 5, file untouched) and replaces with --force', () => {
    const out = fx.path('exists.pfx');
    writeFileSync(out, 'precious');
    assertError(
      mtls(exportArgs(out)),
      'MTLS_FILE_EXISTS',
      5,
      /^hint: Choose another output path, or pass --force to replace the file\.$/,
    );
    assert.equal(readFileSync(out, 'utf8'), 'precious');
    assert.equal(mtls(exportArgs(out, ['--force'])).status, 0);
    assert.ok(parsePfx(readFileSync(out), PASSWORD).privateKey);
  });

  it('export with garbage PEM as the certificate: MTLS_PEM_INVALID, exit 5, no file', () => {
    const garbage = fx.path('garbage.pem');
    writeFileSync(
      garbage,
      '-----BEGIN CERTIFICATE-----\nnot base64 at all!!\n-----END CERTIFICATE-----\n',
    );
    const out = fx.path('garbage.pfx');
    assertError(
      mtls([
        'pfx',
        'export',
        '--key',
        fx.files.leafKey,
        '--cert',
        garbage,
        '--out',
        out,
        '--password-file',
        pw,
      ]),
      'MTLS_PEM_INVALID',
      5,
      /^hint: Check that the file is PEM \(-----BEGIN …-----\) or DER and that it is not truncated\.$/,
    );
    assert.ok(!existsSync(out));
  });

  it('export without any password source and no terminal: MTLS_PASSPHRASE_REQUIRED, exit 3, no file', () => {
    const out = fx.path('nopw.pfx');
    assertError(
      mtls(['pfx', 'export', '--key', fx.files.leafKey, '--cert', fx.files.leaf, '--out', out]),
      'MTLS_PASSPHRASE_REQUIRED',
      3,
      /^hint: Pass --password-file FILE or set MTLS_PFX_PASSWORD\.$/,
    );
    assert.ok(!existsSync(out));
  });

  it('show and convert an openssl -legacy (RC2-40) file; openssl reads the converted file without -legacy', () => {
    const rc2 = fx.path('openssl-legacy.p12');
    openssl([
      'pkcs12',
      '-export',
      '-legacy',
      '-inkey',
      fx.files.leafKey,
      '-in',
      fx.files.leaf,
      '-certfile',
      fx.files.chain,
      '-out',
      rc2,
      '-passout',
      `file:${pw}`,
    ]);
    const show = mtls(['pfx', 'show', rc2, '--password-file', pw]);
    assert.equal(show.status, 0, show.stderr);
    assert.match(show.stdout, /flavour: +legacy-rc2/);
    assert.match(show.stdout, /cert encryption: +pbeWithSHAAnd40BitRC2-CBC, 2048 iterations/);
    assert.match(show.stderr, /warning: .*RC2/);

    const newPw = writePasswordFile(fx, 'newpw.txt', 'brand-new-pw');
    const modern = fx.path('converted-modern.pfx');
    const r = mtls([
      'pfx',
      'convert',
      rc2,
      '--out',
      modern,
      '--password-file',
      pw,
      '--new-password-file',
      newPw,
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(statSync(modern).mode & 0o777, 0o600);
    const keyPem = openssl([
      'pkcs12',
      '-in',
      modern,
      '-passin',
      `file:${newPw}`,
      '-nocerts',
      '-nodes',
    ]);
    assert.match(keyPem, /BEGIN PRIVATE KEY/);
    assert.equal(parsePfx(readFileSync(modern), 'brand-new-pw').algorithms.flavour, 'modern');

    const legacy = fx.path('converted-legacy.pfx');
    const j = mtls(['pfx', 'convert', rc2, '--out', legacy, '--legacy', '--json'], {
      MTLS_PFX_PASSWORD: PASSWORD,
    });
    assert.equal(j.status, 0, j.stderr);
    assert.equal(flavourOf(j.stdout), 'legacy-3des');
    assert.match(
      openssl(['pkcs12', '-in', legacy, '-passin', `file:${pw}`, '-nokeys']),
      /BEGIN CERTIFICATE/,
    );
  });

  it('show and convert refuse a wrong password, truncated DER and garbage with clear codes and no output', () => {
    const good = fx.path('good.pfx');
    assert.equal(mtls(exportArgs(good)).status, 0);
    const wrongPw = writePasswordFile(fx, 'wrong.txt', 'not the password');
    const wrongHint = new RegExp(
      `^hint: The passphrase or password is wrong for this file\\. The \\.pfx password came from ${wrongPw}; only its first line is read, so check that line\\.$`,
    );
    assertError(
      mtls(['pfx', 'show', good, '--password-file', wrongPw]),
      'MTLS_BAD_PASSPHRASE',
      4,
      wrongHint,
    );
    const out = fx.path('never.pfx');
    assertError(
      mtls(['pfx', 'convert', good, '--out', out, '--password-file', wrongPw]),
      'MTLS_BAD_PASSPHRASE',
      4,
      wrongHint,
    );
    assert.ok(!existsSync(out));

    const truncated = fx.path('truncated.pfx');
    writeFileSync(truncated, readFileSync(good).subarray(0, 300));
    const truncatedHint = new RegExp(
      `^hint: The outer ASN\\.1 structure of ${truncated} is broken \\(truncated: element needs \\d+ bytes, \\d+ remain\\): the file is truncated or damaged; copy or export the \\.pfx again from its source\\.$`,
    );
    assertError(
      mtls(['pfx', 'show', truncated, '--password-file', pw]),
      'MTLS_DER_INVALID',
      5,
      truncatedHint,
    );
    assertError(
      mtls(['pfx', 'convert', truncated, '--out', out, '--password-file', pw]),
      'MTLS_DER_INVALID',
      5,
      truncatedHint,
    );
    assert.ok(!existsSync(out));

    const json = mtls(['pfx', 'show', fx.files.leaf, '--password-file', pw, '--json']);
    assert.equal(json.status, 5);
    assert.equal(jsonError(json.stdout).code, 'MTLS_PEM_INVALID');

    assertError(
      mtls(['pfx', 'show', fx.path('missing.pfx'), '--password-file', pw]),
      'MTLS_FILE_NOT_FOUND',
      5,
      /^hint: Check the path\.$/,
    );
  });

  it('convert rejects --legacy together with --modern (exit 2)', () => {
    const out = fx.path('both.pfx');
    assertError(
      mtls([
        'pfx',
        'convert',
        fx.files.leaf,
        '--out',
        out,
        '--legacy',
        '--modern',
        '--password-file',
        pw,
      ]),
      'MTLS_USAGE',
      2,
      /^hint: Pass --legacy for older Java, Windows and macOS keystores, --modern \(the default\) otherwise, not both\.$/,
    );
    assert.ok(!existsSync(out));
  });

  it('--help of each subcommand shows an example', () => {
    for (const sub of ['export', 'show', 'convert']) {
      const r = mtls(['pfx', sub, '--help']);
      assert.equal(r.status, 0);
      assert.match(r.stdout, new RegExp(`Examples:\\n  \\$ mtls pfx ${sub} `));
    }
  });
});
