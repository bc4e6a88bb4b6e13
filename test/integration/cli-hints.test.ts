/**
 * Hints never send the user to a flag the command lacks: library hints name
 * no flag at all, and the CLI's hint for every code and every hint text in
 * the source names only flags of the command that can print it.
 */
import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCa } from '../../src/ca/index.js';
import { ERROR_CODES, MtlsError, type ErrorCode } from '../../src/errors/index.js';
import { ALL_ENV_NAMES } from '../../src/cli/shared-options.js';
import { cliHint, flagsIn, acceptedFlags, commandPath } from '../../src/cli/hints.js';
import { buildProgram, leafCommands } from '../../src/cli/program.js';
import { runCli } from '../helpers/cli.js';

const CODES = Object.keys(ERROR_CODES) as ErrorCode[];

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await sourceFiles(p)));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Every literal hint in a file: `hint: '…'`, `hint: "…"` or `hint: \`…\`` (template parts kept as written). */
function literalHints(text: string): string[] {
  return [...text.matchAll(/hint:\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|`([^`]*)`)/g)].map(
    (m) => m[1] ?? m[2] ?? m[3] ?? '',
  );
}

test("the catalogue hints are the library's: they name no command-line flag", () => {
  const bad = CODES.filter((c) => flagsIn(ERROR_CODES[c].hint).some((f) => f !== '--help'));
  assert.deepEqual(bad, []);
});

test('hints thrown by the CA library name no command-line flag', async () => {
  const bad: string[] = [];
  for (const file of await sourceFiles('src/ca')) {
    for (const h of literalHints(await readFile(file, 'utf8')))
      if (flagsIn(h).length > 0) bad.push(`${file}: ${h}`);
  }
  assert.deepEqual(bad, []);
});

test('openCa on a directory without a CA throws a hint that makes sense without the CLI', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mtls-hint-'));
  await assert.rejects(openCa(dir), (e: unknown) => {
    assert.ok(e instanceof MtlsError);
    assert.equal(e.code, 'MTLS_CA_NOT_FOUND');
    assert.deepEqual(flagsIn(e.hint), []);
    assert.doesNotMatch(e.hint, /mtls /);
    return true;
  });
});

test('for every leaf command, every code and every hint in the source, the printed hint names only flags and variables that exist', async () => {
  const program = await buildProgram(['node', 'mtls']);
  const sourceHints = new Set<string>();
  for (const file of await sourceFiles('src'))
    for (const h of literalHints(await readFile(file, 'utf8')))
      if (flagsIn(h).length > 0) sourceHints.add(h);
  assert.ok(sourceHints.size > 10, 'the scan finds the hints that name flags');
  const knownEnv = new Set([...ALL_ENV_NAMES, ...CODES, 'MTLS_DEBUG']);
  const problems: string[] = [];
  let checked = 0;
  for (const leaf of leafCommands(program)) {
    const accepted = acceptedFlags(leaf);
    const errors = [
      ...CODES.map((c) => new MtlsError(c, 'x')),
      ...[...sourceHints].map((h) => new MtlsError('MTLS_BAD_ARGUMENT', 'x', { hint: h })),
    ];
    for (const err of errors) {
      const hint = cliHint(err, leaf);
      checked++;
      for (const f of flagsIn(hint))
        if (!accepted.has(f))
          problems.push(`${commandPath(leaf)} [${err.code}]: ${f} in "${hint}"`);
      for (const v of hint.match(/\bMTLS_[A-Z_]+/g) ?? [])
        if (!knownEnv.has(v) && !v.startsWith('MTLS_GATEWAY_'))
          problems.push(`${commandPath(leaf)}: unknown variable ${v}`);
    }
  }
  assert.ok(checked > 1000);
  assert.deepEqual(problems, []);
});

test('the CLI adds its flag to a library hint when the command has it', async () => {
  const program = await buildProgram(['node', 'mtls']);
  const find = (path: string): NonNullable<ReturnType<typeof leafCommands>[number]> => {
    const c = leafCommands(program).find((l) => commandPath(l) === path);
    assert.ok(c, path);
    return c;
  };
  const notFound = new MtlsError('MTLS_CA_NOT_FOUND', 'x');
  assert.match(cliHint(notFound, find('mtls ca sign')), /--ca-dir DIR \(or set MTLS_CA_DIR\)/);
  assert.match(cliHint(notFound, find('mtls ca adopt')), /--config FILE/);
  assert.equal(
    cliHint(new MtlsError('MTLS_FILE_EXISTS', 'x'), find('mtls pfx export')),
    'Choose another output path, or pass --force to replace the file.',
  );
});

test('csr new with an encrypted key and no passphrase names --key-passphrase-file, which it accepts', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mtls-hint-'));
  await writeFile(join(dir, 'k.pass'), 'secret-pass\n');
  const k = await runCli([
    'key',
    'new',
    join(dir, 'k.pem'),
    '--type',
    'ec-p256',
    '--key-passphrase-file',
    join(dir, 'k.pass'),
  ]);
  assert.equal(k.code, 0, k.stderr);
  const r = await runCli(
    ['csr', 'new', '--key', join(dir, 'k.pem'), '--subject', '/CN=c', '--out', join(dir, 'c.csr')],
    { env: { MTLS_KEY_PASSPHRASE: '' } },
  );
  assert.equal(r.code, 3);
  assert.equal(
    r.stderr,
    'error[MTLS_PASSPHRASE_REQUIRED]: no key passphrase given and no terminal to ask on\nhint: Pass --key-passphrase-file FILE or set MTLS_KEY_PASSPHRASE.\n',
  );
  const ok = await runCli([
    'csr',
    'new',
    '--key',
    join(dir, 'k.pem'),
    '--subject',
    '/CN=c',
    '--out',
    join(dir, 'c.csr'),
    '--key-passphrase-file',
    join(dir, 'k.pass'),
  ]);
  assert.equal(ok.code, 0, ok.stderr);
});

test('key new keeps --passphrase-file as a deprecated alias of --key-passphrase-file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mtls-hint-'));
  await writeFile(join(dir, 'k.pass'), 'secret-pass\n');
  const r = await runCli([
    'key',
    'new',
    join(dir, 'k.pem'),
    '--type',
    'ec-p256',
    '--passphrase-file',
    join(dir, 'k.pass'),
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, 'warning: --passphrase-file is deprecated; use --key-passphrase-file\n');
  assert.match(await readFile(join(dir, 'k.pem'), 'utf8'), /BEGIN ENCRYPTED PRIVATE KEY/);
  const help = await runCli(['key', 'new', '--help']);
  assert.doesNotMatch(help.stdout, /--passphrase-file/);
});

test('a wrong MTLS_PFX_PASSWORD gets a hint about the variable, a wrong password file one about its first line', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mtls-hint-'));
  const init = await runCli([
    'ca',
    'init',
    join(dir, 'ca'),
    '--subject',
    '/C=BR/ST=SP/O=Acme/CN=Acme Root',
    '--key-type',
    'ec-p256',
    '--no-passphrase',
    '--insecure',
  ]);
  assert.equal(init.code, 0, init.stderr);
  const issue = await runCli(
    [
      'ca',
      'issue',
      'cl',
      '--ca-dir',
      join(dir, 'ca'),
      '--key-type',
      'ec-p256',
      '--out-dir',
      join(dir, 'o'),
    ],
    { env: { MTLS_PFX_PASSWORD: 'right-password' } },
  );
  assert.equal(issue.code, 0, issue.stderr);
  const env = await runCli(['pfx', 'show', join(dir, 'o', 'cl.pfx')], {
    env: { MTLS_PFX_PASSWORD: 'wrong-password' },
  });
  assert.equal(env.code, 4);
  assert.match(
    env.stderr,
    /\nhint: The passphrase or password is wrong for this file\. The \.pfx password came from the environment variable MTLS_PFX_PASSWORD; check its value \(it is used exactly as set\)\.\n$/,
  );
  await writeFile(join(dir, 'wp'), 'wrong-password\n');
  const file = await runCli([
    'pfx',
    'show',
    join(dir, 'o', 'cl.pfx'),
    '--password-file',
    join(dir, 'wp'),
  ]);
  assert.equal(file.code, 4);
  assert.match(
    file.stderr,
    new RegExp(
      `\\nhint: The passphrase or password is wrong for this file\\. The \\.pfx password came from ${join(dir, 'wp').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}; only its first line is read, so check that line\\.\\n$`,
    ),
  );
});

test('ca sign on a directory without a CA names --ca-dir; the old --ca still works with a warning', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mtls-hint-'));
  const r = await runCli(['ca', 'sign', join(dir, 'x.csr'), '--ca-dir', dir]);
  assert.equal(r.code, 3);
  assert.match(
    r.stderr,
    /^error\[MTLS_CA_NOT_FOUND\]: .*\nhint: .*Give the CA directory with --ca-dir DIR \(or set MTLS_CA_DIR\)/,
  );
  const old = await runCli(['ca', 'show', '--ca', dir]);
  assert.equal(old.code, 3);
  assert.match(
    old.stderr,
    /^warning: --ca is deprecated; use --ca-dir\nerror\[MTLS_CA_NOT_FOUND\]/,
  );
});
