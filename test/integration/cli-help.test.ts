/**
 * Every leaf command's --help lists the exit codes and shows an example, and
 * commander's usage errors print like every other error (text or JSON), exit 2.
 */
import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Command } from 'commander';
import { buildProgram, commandPath, leafCommands } from '../../src/cli/program.js';
import { EXIT_MEANINGS, exitCodesLine } from '../../src/cli/exit-help.js';
import { EXIT_LINES } from '../helpers/exit-lines.js';
import { runCli } from '../helpers/cli.js';

/** The full help text of a command, including the sections added after it. */
export function helpOf(cmd: Command): string {
  let text = '';
  cmd.configureOutput({ writeOut: (s) => (text += s) });
  cmd.outputHelp();
  return text;
}

test('every leaf command has --help with the exit-code table and at least one example', async () => {
  const program = await buildProgram(['node', 'mtls']);
  const leaves = leafCommands(program);
  assert.ok(
    leaves.length >= 38,
    `expected every command group to be registered, got ${leaves.length} leaves`,
  );
  const problems: string[] = [];
  for (const leaf of leaves) {
    const help = helpOf(leaf);
    if (!/^Exit codes/m.test(help)) problems.push(`${commandPath(leaf)}: no exit codes`);
    for (const exit of Object.keys(EXIT_MEANINGS)) {
      if (!new RegExp(`^\\s+${exit}  `, 'm').test(help))
        problems.push(`${commandPath(leaf)}: exit ${exit} missing`);
    }
    if (!/^Examples?:/m.test(help)) problems.push(`${commandPath(leaf)}: no example`);
    // The table promises JSON errors only where the command takes --json.
    const promises = /^Exit codes \(.*or JSON with --json\)/m.test(help);
    const takes = leaf.options.some((o) => o.long === '--json');
    if (promises !== takes)
      problems.push(
        `${commandPath(leaf)}: the exit table ${promises ? 'promises' : 'omits'} --json, which the command ${takes ? 'takes' : 'does not take'}`,
      );
  }
  assert.deepEqual(problems, []);
});

test("a command's `Exit codes:` prose line is the one derived from the catalogue, never written by hand", async () => {
  const program = await buildProgram(['node', 'mtls']);
  const flat = (text: string): string => text.replace(/\s+/g, ' ');
  const withLine: string[] = [];
  const problems: string[] = [];
  for (const leaf of leafCommands(program)) {
    const help = helpOf(leaf);
    const path = commandPath(leaf);
    const lines = help.match(/^Exit codes: /gm) ?? [];
    if (lines.length === 0) continue;
    withLine.push(path);
    const parts = EXIT_LINES[path];
    if (!parts) problems.push(`${path}: an Exit codes line with no declared parts`);
    else if (lines.length !== 1 || !flat(help).includes(flat(exitCodesLine(parts))))
      problems.push(`${path}: its Exit codes line is not the derived one`);
  }
  assert.deepEqual(problems, []);
  assert.deepEqual(withLine.sort(), Object.keys(EXIT_LINES).sort());
});

test('a commander usage error prints error[MTLS_USAGE] with a hint naming the command, exit 2', async () => {
  const r = await runCli(['ca', 'sign', '--bogus', 'x.csr']);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  assert.equal(
    r.stderr,
    "error[MTLS_USAGE]: unknown option '--bogus'\nhint: Run `mtls ca sign --help` for its options and examples.\n",
  );
});

test('with --json, a usage error is JSON on stdout, exit 2', async () => {
  const r = await runCli(['ca', 'sign', '--json', '--bogus', 'x.csr']);
  assert.equal(r.code, 2);
  assert.deepEqual(JSON.parse(r.stdout), {
    schema: 'mtls.error/v1',
    ok: false,
    error: {
      code: 'MTLS_USAGE',
      message: "unknown option '--bogus'",
      hint: 'Run `mtls ca sign --help` for its options and examples.',
    },
  });
});

test('an unknown flag is reported as unknown even when a required option is also missing', async () => {
  // csr new requires --key and --out; --kye is the typo.
  const r = await runCli(['csr', 'new', '--kye', 'k.pem']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^error\[MTLS_USAGE\]: unknown option '--kye'\n/);
});

test('a missing required option alone is reported as missing', async () => {
  const r = await runCli(['csr', 'new', '--out', '/tmp/never.csr']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^error\[MTLS_USAGE\]: required option '--key <file>' not specified\n/);
});

test('--help exits 0 and prints the table on stdout', async () => {
  const r = await runCli(['gateway', 'ca', 'list', '--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^\s+130 {2}interrupted \(Ctrl-C\)$/m);
});
